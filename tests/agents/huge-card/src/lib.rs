//! An agent whose card lists five thousand skills. The host must refuse to
//! load it (the skill limit) without disturbing anything else.

use a2a_guest::prelude::*;

struct HugeCard;

impl Agent for HugeCard {
    fn card() -> Card {
        let mut card = Card::new("huge-card", "Lists far too many skills");
        for i in 0..5_000 {
            card = card.skill(
                Skill::new(
                    format!("skill-{i}"),
                    format!("Skill number {i}"),
                    "A skill nobody needs, repeated until the card is enormous",
                )
                .tag("filler")
                .example("do the thing"),
            );
        }
        card
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        ctx.complete_text("a huge card should never get this far")?;
        Ok(())
    }
}

a2a_guest::export_agent!(HugeCard);
