//! The agent card and its parts: interfaces, provider, extensions, capabilities and skills.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Metadata, is_false};

/// One way to reach the agent: a URL, a binding and a protocol version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentInterface {
    /// The absolute URL the binding is served at.
    pub url: String,
    /// The transport: `JSONRPC`, `GRPC`, `HTTP+JSON`, or a custom URI.
    #[serde(alias = "protocol_binding")]
    pub protocol_binding: String,
    /// The tenant to name in requests sent through this interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The A2A version served there, e.g. `1.0`.
    #[serde(alias = "protocol_version")]
    pub protocol_version: String,
}

/// The organisation behind the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentProvider {
    /// The provider's website.
    pub url: String,
    /// The provider's name.
    pub organization: String,
}

/// A protocol extension the agent supports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentExtension {
    /// The URI that identifies the extension.
    pub uri: String,
    /// How the agent uses the extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether clients must support the extension to use the agent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Extension-specific settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Metadata>,
}

/// Optional protocol features the agent supports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentCapabilities {
    /// Whether the agent supports SendStreamingMessage and SubscribeToTask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    /// Whether the agent supports push notification configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "push_notifications")]
    pub push_notifications: Option<bool>,
    /// Protocol extensions the agent supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<AgentExtension>,
    /// Whether GetExtendedAgentCard gives authenticated clients a fuller
    /// card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "extended_agent_card")]
    pub extended_agent_card: Option<bool>,
}

/// A capability of the agent, described for people and planners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentSkill {
    /// Unique id of the skill within the agent.
    pub id: String,
    /// Human-readable name of the skill.
    pub name: String,
    /// What the skill does.
    pub description: String,
    /// Keywords that describe the skill.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Example requests the skill handles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Media types the skill accepts, if they differ from the card's
    /// defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "input_modes")]
    pub input_modes: Vec<String>,
    /// Media types the skill produces, if they differ from the card's
    /// defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "output_modes")]
    pub output_modes: Vec<String>,
    /// Security requirements for using this skill, as raw JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "security_requirements")]
    pub security_requirements: Vec<Value>,
}

/// The self-description every A2A agent publishes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    /// Human-readable name of the agent.
    pub name: String,
    /// What the agent does.
    pub description: String,
    /// The ways to reach the agent, in order of preference.
    #[serde(default)]
    #[serde(alias = "supported_interfaces")]
    pub supported_interfaces: Vec<AgentInterface>,
    /// The organisation that provides the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<AgentProvider>,
    /// The agent's own version (not the protocol version).
    pub version: String,
    /// Where the agent's documentation is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "documentation_url")]
    pub documentation_url: Option<String>,
    /// The optional protocol features the agent supports.
    #[serde(default)]
    pub capabilities: AgentCapabilities,
    /// The authentication schemes clients may use, by name, as raw JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "security_schemes")]
    pub security_schemes: Option<Metadata>,
    /// The security schemes a request must satisfy, as raw JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "security_requirements")]
    pub security_requirements: Vec<Value>,
    /// Media types the agent accepts by default.
    #[serde(default)]
    #[serde(alias = "default_input_modes")]
    pub default_input_modes: Vec<String>,
    /// Media types the agent produces by default.
    #[serde(default)]
    #[serde(alias = "default_output_modes")]
    pub default_output_modes: Vec<String>,
    /// What the agent can do.
    #[serde(default)]
    pub skills: Vec<AgentSkill>,
    /// JWS signatures of the card, as raw JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Value>,
    /// URL of an icon for the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "icon_url")]
    pub icon_url: Option<String>,
}
