//! A well-formed component that is not an agent: it exports `run`, not
//! `card` and `handle`.

wit_bindgen::generate!({
    inline: "
        package test:wrong;
        world other {
            export run: func() -> string;
        }
    ",
});

struct Other;

impl Guest for Other {
    fn run() -> String {
        "not an agent".into()
    }
}

export!(Other);
