//! Messages and their content: roles, parts and the bytes they carry.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::Metadata;

/// Who sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Role {
    /// Unset; not a valid role for a message.
    #[default]
    #[serde(rename = "ROLE_UNSPECIFIED")]
    Unspecified,
    /// Sent by the client.
    #[serde(rename = "ROLE_USER")]
    User,
    /// Sent by the agent.
    #[serde(rename = "ROLE_AGENT")]
    Agent,
}

/// Raw bytes, written as standard base64 in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let s = String::deserialize(d)?;
        // ProtoJSON accepts standard and URL-safe alphabets, padded or not.
        let trimmed = s.trim_end_matches('=');
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
            .map(Bytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// The content of a part: exactly one of these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PartContent {
    /// Plain text (`text`).
    Text(String),
    /// Inline file content (`raw`), base64 on the wire.
    Raw(Bytes),
    /// A URL where the file content can be fetched (`url`).
    Url(String),
    /// Structured data (`data`): any JSON value.
    Data(Value),
}

/// One piece of message or artifact content.
///
/// On the wire its content is one member beside the others
/// (`{"text": "hi", "mediaType": "text/plain"}`). Its serde forms are
/// written by hand rather than with `#[serde(flatten)]`, which buffers
/// every member of every part before reading it (the request's parts and
/// every answer's go through here); they also refuse a part with two
/// contents, as the protobuf `oneof` behind it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What the part carries.
    pub content: PartContent,
    /// Optional metadata for this part.
    pub metadata: Option<Metadata>,
    /// An optional file name for the content.
    pub filename: Option<String>,
    /// The media type of the content, e.g. `text/plain` or `image/png`.
    pub media_type: Option<String>,
}

impl Serialize for Part {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let members = 1
            + usize::from(self.metadata.is_some())
            + usize::from(self.filename.is_some())
            + usize::from(self.media_type.is_some());
        let mut st = s.serialize_struct("Part", members)?;
        match &self.content {
            PartContent::Text(t) => st.serialize_field("text", t)?,
            PartContent::Raw(b) => st.serialize_field("raw", b)?,
            PartContent::Url(u) => st.serialize_field("url", u)?,
            PartContent::Data(v) => st.serialize_field("data", v)?,
        }
        if let Some(m) = &self.metadata {
            st.serialize_field("metadata", m)?;
        }
        if let Some(f) = &self.filename {
            st.serialize_field("filename", f)?;
        }
        if let Some(t) = &self.media_type {
            st.serialize_field("mediaType", t)?;
        }
        st.end()
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PartVisitor)
    }
}

/// The members of a part; others are ignored.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum PartMember {
    Text,
    Raw,
    Url,
    Data,
    Metadata,
    Filename,
    #[serde(alias = "media_type")]
    MediaType,
    #[serde(other)]
    Other,
}

const PART_CONTENTS: &str = "`text`, `raw`, `url` or `data`";

struct PartVisitor;

impl<'de> serde::de::Visitor<'de> for PartVisitor {
    type Value = Part;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a part: an object with one of {PART_CONTENTS}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Part, A::Error> {
        use serde::de::Error as _;
        fn once<T, E: serde::de::Error>(
            slot: &mut Option<T>,
            name: &'static str,
            value: T,
        ) -> Result<(), E> {
            match slot.replace(value) {
                None => Ok(()),
                Some(_) => Err(E::duplicate_field(name)),
            }
        }
        let mut content: Option<(&'static str, PartContent)> = None;
        let (mut metadata, mut filename, mut media_type) = (None, None, None);
        while let Some(member) = map.next_key::<PartMember>()? {
            let (name, value) = match member {
                PartMember::Text => ("text", PartContent::Text(map.next_value()?)),
                PartMember::Raw => ("raw", PartContent::Raw(map.next_value()?)),
                PartMember::Url => ("url", PartContent::Url(map.next_value()?)),
                PartMember::Data => ("data", PartContent::Data(map.next_value()?)),
                PartMember::Metadata => {
                    once(&mut metadata, "metadata", map.next_value::<Option<_>>()?)?;
                    continue;
                }
                PartMember::Filename => {
                    once(&mut filename, "filename", map.next_value::<Option<_>>()?)?;
                    continue;
                }
                PartMember::MediaType => {
                    once(&mut media_type, "mediaType", map.next_value::<Option<_>>()?)?;
                    continue;
                }
                PartMember::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            if let Some((first, _)) = &content {
                return Err(A::Error::custom(format!(
                    "a part has exactly one of {PART_CONTENTS}; this one has `{first}` and `{name}`"
                )));
            }
            content = Some((name, value));
        }
        let Some((_, content)) = content else {
            return Err(A::Error::custom(format!(
                "a part needs one of {PART_CONTENTS}"
            )));
        };
        Ok(Part {
            content,
            metadata: metadata.flatten(),
            filename: filename.flatten(),
            media_type: media_type.flatten(),
        })
    }
}

impl Part {
    /// A text part.
    pub fn text(s: impl Into<String>) -> Self {
        Part::from_content(PartContent::Text(s.into()))
    }

    /// A structured-data part.
    pub fn data(v: Value) -> Self {
        Part::from_content(PartContent::Data(v))
    }

    /// A part with the given content and no extras.
    pub fn from_content(content: PartContent) -> Self {
        Part {
            content,
            metadata: None,
            filename: None,
            media_type: None,
        }
    }

    /// The text, if this is a text part.
    pub fn as_text(&self) -> Option<&str> {
        match &self.content {
            PartContent::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Unique id of the message, created by its sender.
    #[serde(alias = "message_id")]
    pub message_id: String,
    /// The id of the context (conversation) the message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "context_id")]
    pub context_id: Option<String>,
    /// The id of the task the message belongs to. On a client message it
    /// continues that existing task; unset, the message starts a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_id")]
    pub task_id: Option<String>,
    /// Who sent the message.
    #[serde(default)]
    pub role: Role,
    /// The content of the message; at least one part.
    #[serde(default)]
    pub parts: Vec<Part>,
    /// Optional metadata for the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// URIs of the extensions that apply to this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Ids of related tasks, as hints for the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "reference_task_ids")]
    pub reference_task_ids: Vec<String>,
}

impl Message {
    /// An agent message with a fresh id and the given parts.
    pub fn agent(parts: Vec<Part>) -> Self {
        Message {
            message_id: uuid::Uuid::new_v4().to_string(),
            role: Role::Agent,
            parts,
            ..Default::default()
        }
    }

    /// A user message with a fresh id and one text part.
    pub fn user_text(text: impl Into<String>) -> Self {
        Message {
            message_id: uuid::Uuid::new_v4().to_string(),
            role: Role::User,
            parts: vec![Part::text(text)],
            ..Default::default()
        }
    }

    /// All text parts joined by newlines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for t in self.parts.iter().filter_map(Part::as_text) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(t);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_round_trip_in_protojson_form() {
        let parts = json!([
            {"text": "hi"},
            {"raw": "dGNr", "filename": "a.png", "mediaType": "image/png"},
            {"url": "https://example.com/o.txt", "filename": "o.txt"},
            {"data": {"k": 1}, "mediaType": "application/json"}
        ]);
        let parsed: Vec<Part> = serde_json::from_value(parts.clone()).unwrap();
        assert_eq!(parsed[1].content, PartContent::Raw(Bytes(b"tck".to_vec())));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), parts);
    }

    #[test]
    fn parts_are_read_from_text_and_values_alike() {
        let text = r#"{"metadata": null, "media_type": "text/plain", "zzz": [1, {"a": 2}],
                       "text": "hi", "filename": "n.txt", "metadata": {"k": "v"}}"#;
        let e = serde_json::from_str::<Part>(text).unwrap_err();
        assert!(e.to_string().contains("duplicate field `metadata`"), "{e}");
        let text = r#"{"media_type": "text/plain", "zzz": [1, {"a": 2}], "text": "hi",
                       "filename": "n.txt", "metadata": {"k": "v"}}"#;
        let from_text: Part = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(Part::deserialize(&value).unwrap(), from_text);
        assert_eq!(from_text.as_text(), Some("hi"));
        assert_eq!(from_text.media_type.as_deref(), Some("text/plain"));
        assert_eq!(from_text.filename.as_deref(), Some("n.txt"));
        assert_eq!(
            from_text.metadata,
            Some(json!({"k": "v"}).as_object().unwrap().clone())
        );
        // Null extras are absent.
        let p: Part = serde_json::from_str(r#"{"text": "x", "mediaType": null}"#).unwrap();
        assert_eq!(p, Part::text("x"));
    }

    #[test]
    fn a_part_has_exactly_one_content() {
        for (bad, says) in [
            (json!({}), "needs one of `text`, `raw`, `url` or `data`"),
            (json!({"mediaType": "text/plain"}), "needs one of"),
            (
                json!({"text": "a", "url": "https://x"}),
                "this one has `text` and `url`",
            ),
            (
                json!({"data": 1, "text": "a"}),
                "this one has `data` and `text`",
            ),
            (json!({"text": null}), "invalid type: null"),
            (json!({"raw": "***"}), "invalid base64"),
            (json!(["text", "hi"]), "a part: an object"),
        ] {
            let e = serde_json::from_value::<Part>(bad.clone()).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
            let e = serde_json::from_str::<Part>(&bad.to_string()).unwrap_err();
            assert!(e.to_string().contains(says), "{bad} as text: {e}");
        }
    }
}
