//! A component that exports functions named `card` and `handle` but imports
//! an interface (`test:odd/gadget`) that no host provides.

wit_bindgen::generate!({
    inline: "
        package test:odd;
        interface gadget {
            poke: func() -> u32;
        }
        world odd {
            import gadget;
            export card: func() -> u32;
            export handle: func() -> u32;
        }
    ",
});

struct Odd;

impl Guest for Odd {
    fn card() -> u32 {
        test::odd::gadget::poke()
    }
    fn handle() -> u32 {
        test::odd::gadget::poke()
    }
}

export!(Odd);
