//! Conversions between [`ActionError`], [`AgentError`] and common error
//! types, so `?` works inside [`Agent::handle`](crate::Agent::handle).

use crate::{ActionError, AgentError};

impl ActionError {
    /// A sentence that says what went wrong, for logs and failure reasons.
    ///
    /// ```
    /// use a2a_guest::ActionError;
    /// let err = ActionError::LimitExceeded("artifact bytes".into());
    /// assert_eq!(err.reason(), "limit exceeded: artifact bytes");
    /// assert_eq!(ActionError::Canceled.reason(), "the task was canceled");
    /// ```
    pub fn reason(&self) -> String {
        match self {
            ActionError::TaskFinished(m) => format!("the task turn is already finished: {m}"),
            ActionError::Canceled => "the task was canceled".to_string(),
            ActionError::InvalidArgument(m) => format!("invalid argument: {m}"),
            ActionError::LimitExceeded(m) => format!("limit exceeded: {m}"),
            ActionError::Internal(m) => format!("host error: {m}"),
        }
    }

    /// Whether the client canceled the task; an agent usually just returns
    /// `Ok(())` then.
    ///
    /// ```
    /// use a2a_guest::ActionError;
    /// assert!(ActionError::Canceled.is_canceled());
    /// assert!(!ActionError::Internal("disk".into()).is_canceled());
    /// ```
    pub fn is_canceled(&self) -> bool {
        matches!(self, ActionError::Canceled)
    }
}

impl AgentError {
    /// The reason text, whichever the variant.
    ///
    /// ```
    /// use a2a_guest::AgentError;
    /// assert_eq!(AgentError::Rejected("no".into()).reason(), "no");
    /// ```
    pub fn reason(&self) -> &str {
        match self {
            AgentError::Failed(m) | AgentError::Rejected(m) => m,
        }
    }
}

/// A refused action fails the task with the action's reason.
///
/// ```
/// use a2a_guest::{ActionError, AgentError};
/// let err: AgentError = ActionError::InvalidArgument("empty parts".into()).into();
/// assert_eq!(err, AgentError::Failed("invalid argument: empty parts".into()));
/// ```
impl From<ActionError> for AgentError {
    fn from(err: ActionError) -> Self {
        AgentError::Failed(err.reason())
    }
}

/// A plain message fails the task with that message.
///
/// ```
/// use a2a_guest::AgentError;
/// let err: AgentError = String::from("no luck").into();
/// assert_eq!(err.reason(), "no luck");
/// ```
impl From<String> for AgentError {
    fn from(reason: String) -> Self {
        AgentError::Failed(reason)
    }
}

/// A plain message fails the task with that message.
///
/// ```
/// use a2a_guest::AgentError;
/// fn parse(n: &str) -> Result<u32, AgentError> {
///     n.parse().map_err(|_| "not a number".into())
/// }
/// assert_eq!(parse("x").unwrap_err().reason(), "not a number");
/// ```
impl From<&str> for AgentError {
    fn from(reason: &str) -> Self {
        AgentError::Failed(reason.to_string())
    }
}

/// Bad JSON fails the task, saying where the JSON was wrong.
///
/// ```
/// use a2a_guest::AgentError;
/// let err: AgentError = serde_json::from_str::<u8>("x").unwrap_err().into();
/// assert!(err.reason().starts_with("invalid JSON: "));
/// ```
impl From<serde_json::Error> for AgentError {
    fn from(err: serde_json::Error) -> Self {
        AgentError::Failed(format!("invalid JSON: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_converts_action_errors() {
        fn turn() -> Result<(), AgentError> {
            Err(ActionError::TaskFinished("completed".into()))?;
            Ok(())
        }
        assert_eq!(
            turn(),
            Err(AgentError::Failed(
                "the task turn is already finished: completed".into()
            ))
        );
    }

    #[test]
    fn every_action_error_has_a_reason() {
        for err in [
            ActionError::TaskFinished("x".into()),
            ActionError::Canceled,
            ActionError::InvalidArgument("x".into()),
            ActionError::LimitExceeded("x".into()),
            ActionError::Internal("x".into()),
        ] {
            assert!(!err.reason().is_empty());
        }
    }
}
