//! The 0.3 members of an agent card, served beside the 1.0 ones so that a
//! 0.3 client can read the same card document.

use serde_json::{Map, Value};

use crate::model;

/// The `protocolVersion` a 0.3 card states.
pub const V03_PROTOCOL_VERSION: &str = "0.3.0";

/// The 0.3 members of an agent card, to merge into the 1.0 card document:
/// `protocolVersion` (`0.3.0`), `url` (the JSON-RPC URL),
/// `preferredTransport` (`JSONRPC`), `additionalInterfaces` (JSON-RPC at
/// `jsonrpc_url`, HTTP+JSON at `rest_url`, the base a 0.3 REST client
/// appends `/v1/…` to), `supportsAuthenticatedExtendedCard`, and
/// `capabilities.stateTransitionHistory`.
pub fn card_v03_members(
    card: &model::AgentCard,
    jsonrpc_url: &str,
    rest_url: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("protocolVersion".into(), V03_PROTOCOL_VERSION.into());
    m.insert("url".into(), jsonrpc_url.into());
    m.insert("preferredTransport".into(), "JSONRPC".into());
    m.insert(
        "additionalInterfaces".into(),
        serde_json::json!([
            {"url": jsonrpc_url, "transport": "JSONRPC"},
            {"url": rest_url, "transport": "HTTP+JSON"},
        ]),
    );
    m.insert(
        "supportsAuthenticatedExtendedCard".into(),
        Value::Bool(card.capabilities.extended_agent_card.unwrap_or(false)),
    );
    m
}

/// The 1.0 card document with the 0.3 members beside the 1.0 ones (see
/// [`card_v03_members`]); 1.0 members win where both name one.
pub fn dual_card(card: &model::AgentCard, jsonrpc_url: &str, rest_url: &str) -> Value {
    let mut v = serde_json::to_value(card).unwrap_or_else(|_| Value::Object(Map::new()));
    if let Value::Object(obj) = &mut v {
        for (k, val) in card_v03_members(card, jsonrpc_url, rest_url) {
            obj.entry(k).or_insert(val);
        }
        if let Some(Value::Object(caps)) = obj.get_mut("capabilities") {
            caps.entry("stateTransitionHistory")
                .or_insert(Value::Bool(false));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_cards_keep_v1_members_and_add_v03_ones() {
        let card = model::AgentCard {
            name: "echo".into(),
            description: "Echoes".into(),
            version: "1.0.0".into(),
            capabilities: model::AgentCapabilities {
                streaming: Some(true),
                ..Default::default()
            },
            default_input_modes: vec!["text/plain".into()],
            default_output_modes: vec!["text/plain".into()],
            ..Default::default()
        };
        let v = dual_card(&card, "http://h/agents/echo", "http://h/agents/echo");
        assert_eq!(v["url"], "http://h/agents/echo");
        assert_eq!(v["preferredTransport"], "JSONRPC");
        assert_eq!(v["protocolVersion"], "0.3.0");
        assert_eq!(v["additionalInterfaces"][1]["transport"], "HTTP+JSON");
        assert_eq!(v["capabilities"]["streaming"], true);
        assert_eq!(v["capabilities"]["stateTransitionHistory"], false);
        // The 0.3 required members are all present.
        for k in [
            "name",
            "description",
            "url",
            "version",
            "capabilities",
            "defaultInputModes",
            "defaultOutputModes",
            "skills",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        // The 1.0 members are unchanged.
        let mut only_v1 = v.clone();
        for k in card_v03_members(&card, "", "").keys() {
            only_v1.as_object_mut().unwrap().remove(k);
        }
        only_v1["capabilities"]
            .as_object_mut()
            .unwrap()
            .remove("stateTransitionHistory");
        assert_eq!(only_v1, serde_json::to_value(&card).unwrap());
    }
}
