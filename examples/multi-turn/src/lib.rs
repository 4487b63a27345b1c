//! `multi-turn`: needs two facts, a name and a city, and asks for whichever
//! is missing (`input-required`) until it has both; then it completes with a
//! greeting.
//!
//! Facts come from any user message of the task:
//! - lines such as `name: Ada` or `city = Paris` (case-insensitive keys),
//! - a data part such as `{"name": "Ada", "city": "Paris"}`,
//! - or a bare reply to the agent's question: after "What is your name?",
//!   the whole reply is the name.
//!
//! The agent keeps no state of its own: on every turn it replays the task's
//! user messages (history plus the new one) in order, so it works the same
//! whether or not the host includes the agent's own questions in history.
use a2a_guest::prelude::*;

struct MultiTurn;

/// The longest value kept for a fact, in characters.
const MAX_VALUE_CHARS: usize = 100;

/// A fact the agent needs, in the order it asks for them.
#[derive(Clone, Copy)]
enum Field {
    Name,
    City,
}

impl Field {
    const ALL: [Field; 2] = [Field::Name, Field::City];

    fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::City => "city",
        }
    }

    fn question(self) -> &'static str {
        match self {
            Field::Name => "What is your name?",
            Field::City => "Which city are you in?",
        }
    }

    fn parse(key: &str) -> Option<Field> {
        let key = key.trim();
        Field::ALL
            .into_iter()
            .find(|f| key.eq_ignore_ascii_case(f.key()))
    }
}

#[derive(Default)]
struct Facts {
    name: Option<String>,
    city: Option<String>,
}

impl Facts {
    /// The first fact still missing.
    fn missing(&self) -> Option<Field> {
        match (&self.name, &self.city) {
            (None, _) => Some(Field::Name),
            (_, None) => Some(Field::City),
            _ => None,
        }
    }

    fn set(&mut self, field: Field, value: &str) {
        let value: String = value.trim().chars().take(MAX_VALUE_CHARS).collect();
        if value.is_empty() {
            return;
        }
        match field {
            Field::Name => self.name = Some(value),
            Field::City => self.city = Some(value),
        }
    }

    /// Take in one user message. Returns whether it named a fact explicitly.
    fn learn(&mut self, message: &Message) -> bool {
        let mut explicit = false;
        for line in message.text().lines() {
            if let Some((key, value)) = line.split_once([':', '='])
                && let Some(field) = Field::parse(key)
            {
                self.set(field, value);
                explicit = true;
            }
        }
        for data in message.data() {
            for field in Field::ALL {
                if let Some(value) = data.get(field.key()).and_then(Value::as_str) {
                    self.set(field, value);
                    explicit = true;
                }
            }
        }
        explicit
    }
}

impl Agent for MultiTurn {
    fn card() -> Card {
        Card::new(
            "multi-turn",
            "Asks for your name and city, one question at a time",
        )
        .input_mode("text/plain")
        .input_mode("application/json")
        .skill(
            Skill::new(
                "greet",
                "Personal greeting",
                "Collects a name and a city over several turns, then greets you",
            )
            .tag("demo")
            .tag("input-required")
            .example("hello")
            .example("name: Ada\ncity: Paris"),
        )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let mut messages: Vec<Message> =
            ctx.history().into_iter().filter(Message::is_user).collect();
        messages.push(ctx.message());

        let mut facts = Facts::default();
        for (turn, message) in messages.iter().enumerate() {
            let asked = facts.missing();
            let explicit = facts.learn(message);
            // The first message opens the conversation; each later one
            // answers the question asked after the message before it.
            if turn > 0
                && !explicit
                && let Some(field) = asked
            {
                facts.set(field, &message.text());
            }
        }

        match facts {
            Facts {
                name: Some(name),
                city: Some(city),
            } => {
                ctx.complete_text(format!("Nice to meet you, {name} from {city}!"))?;
            }
            _ => {
                let field = facts.missing().unwrap_or(Field::Name);
                ctx.request_input(field.question())?;
            }
        }
        Ok(())
    }
}

a2a_guest::export_agent!(MultiTurn);

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Message {
        Message {
            message_id: "m".into(),
            role: a2a_guest::Role::User,
            parts: vec![Part::text(text)],
            metadata: None,
        }
    }

    #[test]
    fn learns_explicit_fields() {
        let mut facts = Facts::default();
        assert!(facts.learn(&user("Name: Ada\ncity = Paris")));
        assert_eq!(facts.name.as_deref(), Some("Ada"));
        assert_eq!(facts.city.as_deref(), Some("Paris"));
        assert!(facts.missing().is_none());
    }

    #[test]
    fn learns_from_data_parts() {
        let mut facts = Facts::default();
        let message = Message {
            parts: vec![Part::data(json!({"city": "Oslo"}))],
            ..user("")
        };
        assert!(facts.learn(&message));
        assert_eq!(facts.city.as_deref(), Some("Oslo"));
        assert!(matches!(facts.missing(), Some(Field::Name)));
    }

    #[test]
    fn plain_text_is_not_a_fact() {
        let mut facts = Facts::default();
        assert!(!facts.learn(&user("hello: how are you")));
        facts.set(Field::Name, "   ");
        assert!(facts.name.is_none());
    }
}
