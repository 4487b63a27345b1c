//! An agent whose card carries megabytes of text in a few fields. The host
//! must refuse to load it (the card size limit) without disturbing anything
//! else.

use a2a_guest::prelude::*;

struct FatCard;

impl Agent for FatCard {
    fn card() -> Card {
        let blob = "all work and no play ".repeat(200_000); // ~4 MiB
        Card::new("fat-card", blob.clone())
            .version(blob.clone())
            .skill(Skill::new("fat", blob.clone(), blob).tag("x".repeat(1 << 20)))
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        ctx.complete_text("a fat card should never get this far")?;
        Ok(())
    }
}

a2a_guest::export_agent!(FatCard);
