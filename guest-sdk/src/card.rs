//! Builders for the agent's [`Card`] and its [`Skill`]s.

use crate::{Card, Skill};

impl Card {
    /// A card with a name and a description; everything else at its default.
    ///
    /// Defaults: no skills, `text/plain` in and out (empty mode lists),
    /// streaming on (the host can stream any agent, at least its status
    /// changes), and an empty version, which [`export_agent!`](crate::export_agent)
    /// replaces with the agent crate's version.
    ///
    /// ```
    /// use a2a_guest::Card;
    /// let card = Card::new("echo", "Repeats what you say");
    /// assert_eq!(card.name, "echo");
    /// assert!(card.streaming);
    /// ```
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Card {
        Card {
            name: name.into(),
            description: description.into(),
            version: String::new(),
            skills: Vec::new(),
            input_modes: Vec::new(),
            output_modes: Vec::new(),
            streaming: true,
        }
    }

    /// Set the version shown on the A2A card.
    ///
    /// ```
    /// use a2a_guest::Card;
    /// assert_eq!(Card::new("a", "b").version("2.0.0").version, "2.0.0");
    /// ```
    pub fn version(mut self, version: impl Into<String>) -> Card {
        self.version = version.into();
        self
    }

    /// Add a skill.
    ///
    /// ```
    /// use a2a_guest::{Card, Skill};
    /// let card = Card::new("calc", "Does sums").skill(Skill::new("add", "Add", "Adds numbers"));
    /// assert_eq!(card.skills.len(), 1);
    /// ```
    pub fn skill(mut self, skill: Skill) -> Card {
        self.skills.push(skill);
        self
    }

    /// Add an accepted input media type, e.g. `application/json`. The host
    /// rejects messages whose parts have a media type the card does not list.
    ///
    /// ```
    /// use a2a_guest::Card;
    /// let card = Card::new("a", "b").input_mode("text/plain").input_mode("application/json");
    /// assert_eq!(card.input_modes, ["text/plain", "application/json"]);
    /// ```
    pub fn input_mode(mut self, media_type: impl Into<String>) -> Card {
        self.input_modes.push(media_type.into());
        self
    }

    /// Add a produced output media type.
    ///
    /// ```
    /// use a2a_guest::Card;
    /// let card = Card::new("a", "b").output_mode("image/png");
    /// assert_eq!(card.output_modes, ["image/png"]);
    /// ```
    pub fn output_mode(mut self, media_type: impl Into<String>) -> Card {
        self.output_modes.push(media_type.into());
        self
    }

    /// Say whether the agent streams (sends updates before the task ends).
    ///
    /// ```
    /// use a2a_guest::Card;
    /// assert!(!Card::new("a", "b").streaming(false).streaming);
    /// ```
    pub fn streaming(mut self, streaming: bool) -> Card {
        self.streaming = streaming;
        self
    }
}

impl Skill {
    /// A skill with an id, a human-readable name and a description.
    ///
    /// ```
    /// use a2a_guest::Skill;
    /// let skill = Skill::new("translate", "Translate", "Translates text to French");
    /// assert_eq!(skill.id, "translate");
    /// assert!(skill.tags.is_empty());
    /// ```
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        description: impl Into<String>,
    ) -> Skill {
        Skill {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            tags: Vec::new(),
            examples: Vec::new(),
            input_modes: Vec::new(),
            output_modes: Vec::new(),
        }
    }

    /// Add a tag (a keyword clients can search for).
    ///
    /// ```
    /// use a2a_guest::Skill;
    /// assert_eq!(Skill::new("a", "A", "a").tag("demo").tags, ["demo"]);
    /// ```
    pub fn tag(mut self, tag: impl Into<String>) -> Skill {
        self.tags.push(tag.into());
        self
    }

    /// Add an example prompt.
    ///
    /// ```
    /// use a2a_guest::Skill;
    /// assert_eq!(Skill::new("a", "A", "a").example("count to 3").examples, ["count to 3"]);
    /// ```
    pub fn example(mut self, example: impl Into<String>) -> Skill {
        self.examples.push(example.into());
        self
    }

    /// Add an input media type for this skill (overrides the card's list).
    ///
    /// ```
    /// use a2a_guest::Skill;
    /// assert_eq!(Skill::new("a", "A", "a").input_mode("text/csv").input_modes, ["text/csv"]);
    /// ```
    pub fn input_mode(mut self, media_type: impl Into<String>) -> Skill {
        self.input_modes.push(media_type.into());
        self
    }

    /// Add an output media type for this skill (overrides the card's list).
    ///
    /// ```
    /// use a2a_guest::Skill;
    /// assert_eq!(Skill::new("a", "A", "a").output_mode("image/png").output_modes, ["image/png"]);
    /// ```
    pub fn output_mode(mut self, media_type: impl Into<String>) -> Skill {
        self.output_modes.push(media_type.into());
        self
    }
}
