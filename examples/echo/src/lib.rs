//! `echo`: completes every task with the text the user sent.
use a2a_guest::prelude::*;

struct Echo;

impl Agent for Echo {
    fn card() -> Card {
        Card::new("echo", "Repeats what you say").skill(
            Skill::new("echo", "Echo", "Completes the task with the text you sent")
                .tag("demo")
                .example("hello"),
        )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        Ok(ctx.complete_text(ctx.text())?)
    }
}

a2a_guest::export_agent!(Echo);
