//! Constructors and accessors for [`Part`] and [`Message`], and the
//! [`IntoParts`] conversion most [`Context`](crate::Context) methods take.

use serde_json::Value;

use crate::{Message, Part, PartContent, Role};

impl Part {
    /// A plain-text part.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// assert_eq!(Part::text("hi").as_text(), Some("hi"));
    /// ```
    pub fn text(text: impl Into<String>) -> Part {
        Part::from_content(PartContent::Text(text.into()))
    }

    /// A structured-data part holding any JSON value.
    ///
    /// ```
    /// use a2a_guest::{Part, serde_json::json};
    /// let part = Part::data(json!({"count": 42}));
    /// assert_eq!(part.as_data(), Some(json!({"count": 42})));
    /// ```
    pub fn data(value: Value) -> Part {
        Part::from_content(PartContent::Data(value.to_string()))
    }

    /// Raw bytes with their media type, e.g. an image. A2A clients receive
    /// them base64-encoded.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// let part = Part::raw(vec![0x89, b'P', b'N', b'G'], "image/png");
    /// assert_eq!(part.media_type.as_deref(), Some("image/png"));
    /// assert_eq!(part.as_raw(), Some(&[0x89, b'P', b'N', b'G'][..]));
    /// ```
    pub fn raw(bytes: impl Into<Vec<u8>>, media_type: impl Into<String>) -> Part {
        Part::from_content(PartContent::Raw(bytes.into())).with_media_type(media_type)
    }

    /// A file: raw bytes with a media type and a file name.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// let part = Part::file("a,b\n1,2\n", "text/csv", "table.csv");
    /// assert_eq!(part.filename.as_deref(), Some("table.csv"));
    /// ```
    pub fn file(
        bytes: impl Into<Vec<u8>>,
        media_type: impl Into<String>,
        filename: impl Into<String>,
    ) -> Part {
        Part::raw(bytes, media_type).with_filename(filename)
    }

    /// A part that points at content by URL.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// let part = Part::url("https://example.com/report.pdf")
    ///     .with_media_type("application/pdf")
    ///     .with_filename("report.pdf");
    /// assert_eq!(part.as_url(), Some("https://example.com/report.pdf"));
    /// ```
    pub fn url(url: impl Into<String>) -> Part {
        Part::from_content(PartContent::Url(url.into()))
    }

    /// A part with the given content and no media type, file name or
    /// metadata.
    ///
    /// ```
    /// use a2a_guest::{Part, PartContent};
    /// let part = Part::from_content(PartContent::Text("hi".into()));
    /// assert_eq!(part, Part::text("hi"));
    /// ```
    pub fn from_content(content: PartContent) -> Part {
        Part {
            content,
            media_type: None,
            filename: None,
            metadata: None,
        }
    }

    /// Set the media type (MIME type).
    ///
    /// ```
    /// use a2a_guest::Part;
    /// let part = Part::text("# Title").with_media_type("text/markdown");
    /// assert_eq!(part.media_type.as_deref(), Some("text/markdown"));
    /// ```
    pub fn with_media_type(mut self, media_type: impl Into<String>) -> Part {
        self.media_type = Some(media_type.into());
        self
    }

    /// Set the file name.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// let part = Part::url("https://example.com/a.txt").with_filename("a.txt");
    /// assert_eq!(part.filename.as_deref(), Some("a.txt"));
    /// ```
    pub fn with_filename(mut self, filename: impl Into<String>) -> Part {
        self.filename = Some(filename.into());
        self
    }

    /// Attach a metadata object. The host refuses metadata that is not a
    /// JSON object.
    ///
    /// ```
    /// use a2a_guest::{Part, serde_json::json};
    /// let part = Part::text("hi").with_metadata(json!({"lang": "en"}));
    /// assert_eq!(part.metadata_json(), json!({"lang": "en"}));
    /// ```
    pub fn with_metadata(mut self, metadata: Value) -> Part {
        self.metadata = Some(metadata.to_string());
        self
    }

    /// The text, if this is a text part.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// assert_eq!(Part::text("hi").as_text(), Some("hi"));
    /// assert_eq!(Part::url("https://example.com").as_text(), None);
    /// ```
    pub fn as_text(&self) -> Option<&str> {
        match &self.content {
            PartContent::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The parsed JSON value, if this is a data part holding valid JSON.
    ///
    /// ```
    /// use a2a_guest::{Part, serde_json::json};
    /// assert_eq!(Part::data(json!([1, 2])).as_data(), Some(json!([1, 2])));
    /// assert_eq!(Part::text("[1, 2]").as_data(), None);
    /// ```
    pub fn as_data(&self) -> Option<Value> {
        match &self.content {
            PartContent::Data(json) => serde_json::from_str(json).ok(),
            _ => None,
        }
    }

    /// The bytes, if this is a raw part.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// assert_eq!(Part::raw(*b"tck", "text/plain").as_raw(), Some(&b"tck"[..]));
    /// ```
    pub fn as_raw(&self) -> Option<&[u8]> {
        match &self.content {
            PartContent::Raw(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The URL, if this is a URL part.
    ///
    /// ```
    /// use a2a_guest::Part;
    /// assert_eq!(Part::url("https://example.com").as_url(), Some("https://example.com"));
    /// ```
    pub fn as_url(&self) -> Option<&str> {
        match &self.content {
            PartContent::Url(url) => Some(url),
            _ => None,
        }
    }

    /// The metadata object, or `Value::Null` when there is none.
    ///
    /// ```
    /// use a2a_guest::{Part, serde_json::Value};
    /// assert_eq!(Part::text("hi").metadata_json(), Value::Null);
    /// ```
    pub fn metadata_json(&self) -> Value {
        parse_json_or_null(self.metadata.as_deref())
    }
}

impl Message {
    /// All text parts joined by newlines; other parts are skipped.
    ///
    /// ```
    /// use a2a_guest::{Message, Part, Role};
    /// let msg = Message {
    ///     message_id: "m1".into(),
    ///     role: Role::User,
    ///     parts: vec![Part::text("a"), Part::url("https://example.com"), Part::text("b")],
    ///     metadata: None,
    /// };
    /// assert_eq!(msg.text(), "a\nb");
    /// ```
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.parts.iter().filter_map(Part::as_text).collect();
        texts.join("\n")
    }

    /// The parsed data parts, in order.
    ///
    /// ```
    /// use a2a_guest::{Message, Part, Role, serde_json::json};
    /// let msg = Message {
    ///     message_id: "m1".into(),
    ///     role: Role::User,
    ///     parts: vec![Part::text("see data"), Part::data(json!({"x": 1}))],
    ///     metadata: None,
    /// };
    /// assert_eq!(msg.data(), vec![json!({"x": 1})]);
    /// ```
    pub fn data(&self) -> Vec<Value> {
        self.parts.iter().filter_map(Part::as_data).collect()
    }

    /// Whether the user (not the agent) wrote this message.
    ///
    /// ```
    /// use a2a_guest::{Message, Role};
    /// let msg = Message { message_id: "m".into(), role: Role::Agent, parts: vec![], metadata: None };
    /// assert!(!msg.is_user());
    /// ```
    pub fn is_user(&self) -> bool {
        self.role == Role::User
    }

    /// The metadata object, or `Value::Null` when there is none.
    ///
    /// ```
    /// use a2a_guest::{Message, Role, serde_json::Value};
    /// let msg = Message { message_id: "m".into(), role: Role::User, parts: vec![], metadata: None };
    /// assert_eq!(msg.metadata_json(), Value::Null);
    /// ```
    pub fn metadata_json(&self) -> Value {
        parse_json_or_null(self.metadata.as_deref())
    }
}

/// Parse optional JSON text; absent or invalid JSON (which the host never
/// sends) becomes `Value::Null`.
pub(crate) fn parse_json_or_null(json: Option<&str>) -> Value {
    json.and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// Anything that can become the parts of a message or artifact.
///
/// Lets [`Context`](crate::Context) methods take what is at hand: a `&str` or
/// `String` (one text part), a [`Part`], a `Vec<Part>` or an array of parts,
/// or `()` for no parts at all.
///
/// ```
/// use a2a_guest::{IntoParts, Part};
///
/// assert_eq!("hi".into_parts(), vec![Part::text("hi")]);
/// assert_eq!(Part::url("https://example.com").into_parts().len(), 1);
/// assert_eq!([Part::text("a"), Part::text("b")].into_parts().len(), 2);
/// assert!(().into_parts().is_empty());
/// ```
pub trait IntoParts {
    /// Convert into a list of parts.
    fn into_parts(self) -> Vec<Part>;
}

impl IntoParts for Part {
    fn into_parts(self) -> Vec<Part> {
        vec![self]
    }
}

impl IntoParts for Vec<Part> {
    fn into_parts(self) -> Vec<Part> {
        self
    }
}

impl IntoParts for &[Part] {
    fn into_parts(self) -> Vec<Part> {
        self.to_vec()
    }
}

impl<const N: usize> IntoParts for [Part; N] {
    fn into_parts(self) -> Vec<Part> {
        self.into()
    }
}

impl IntoParts for &str {
    fn into_parts(self) -> Vec<Part> {
        vec![Part::text(self)]
    }
}

impl IntoParts for String {
    fn into_parts(self) -> Vec<Part> {
        vec![Part::text(self)]
    }
}

impl IntoParts for &String {
    fn into_parts(self) -> Vec<Part> {
        vec![Part::text(self.as_str())]
    }
}

impl IntoParts for () {
    fn into_parts(self) -> Vec<Part> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_parts_round_trip_json() {
        let value = json!({"key": "value", "count": 42, "nested": [1, null, "x"]});
        let part = Part::data(value.clone());
        assert_eq!(part.as_data(), Some(value));
        assert_eq!(part.as_text(), None);
    }

    #[test]
    fn file_part_carries_media_type_and_filename() {
        let part = Part::file(*b"tck", "text/plain", "output.txt");
        assert_eq!(part.as_raw(), Some(&b"tck"[..]));
        assert_eq!(part.media_type.as_deref(), Some("text/plain"));
        assert_eq!(part.filename.as_deref(), Some("output.txt"));
        assert!(part.metadata.is_none());
    }

    #[test]
    fn invalid_or_missing_metadata_reads_as_null() {
        let mut part = Part::text("x");
        assert_eq!(part.metadata_json(), Value::Null);
        part.metadata = Some("{not json".into());
        assert_eq!(part.metadata_json(), Value::Null);
        part.metadata = Some(r#"{"a":1}"#.into());
        assert_eq!(part.metadata_json(), json!({"a": 1}));
    }

    #[test]
    fn message_text_joins_only_text_parts() {
        let msg = Message {
            message_id: "m".into(),
            role: Role::User,
            parts: vec![
                Part::text("one"),
                Part::data(json!(1)),
                Part::raw(vec![1], "application/octet-stream"),
                Part::text("two"),
            ],
            metadata: None,
        };
        assert_eq!(msg.text(), "one\ntwo");
        assert_eq!(msg.data(), vec![json!(1)]);
        let empty = Message {
            parts: vec![],
            ..msg
        };
        assert_eq!(empty.text(), "");
    }

    #[test]
    fn into_parts_conversions() {
        assert_eq!(String::from("s").into_parts(), vec![Part::text("s")]);
        let owned = String::from("r");
        assert_eq!((&owned).into_parts(), vec![Part::text("r")]);
        let slice: &[Part] = &[Part::text("a")];
        assert_eq!(slice.into_parts(), vec![Part::text("a")]);
        assert_eq!(
            IntoParts::into_parts(vec![Part::text("v")]),
            vec![Part::text("v")]
        );
    }
}
