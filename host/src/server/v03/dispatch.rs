//! A2A 0.3 over JSON-RPC: the 0.3 method names and shapes, on the same URL
//! as 1.0, for requests whose `A2A-Version` is missing, empty or `0.3`.
//!
//! Each method reads its params in the 0.3 JSON-RPC form
//! ([`super::json`]), calls the task manager with the 1.0 model, and
//! answers the bare 0.3 object:
//!
//! | 0.3 method | 1.0 operation | result |
//! |---|---|---|
//! | `message/send` | SendMessage | the Task (`kind: "task"`) or Message (`kind: "message"`) |
//! | `message/stream` | SendStreamingMessage | SSE of bare events; the status update that ends the stream says `final: true` |
//! | `tasks/get` `{id, historyLength}` | GetTask | the Task |
//! | `tasks/cancel` `{id}` | CancelTask | the Task |
//! | `tasks/resubscribe` `{id}` | SubscribeToTask | SSE as for `message/stream` |
//! | `tasks/pushNotificationConfig/set` `{taskId, pushNotificationConfig}` | CreateTaskPushNotificationConfig | the config, nested |
//! | `tasks/pushNotificationConfig/get` `{id, pushNotificationConfigId?}` | GetTaskPushNotificationConfig | the config |
//! | `tasks/pushNotificationConfig/list` `{id}` | ListTaskPushNotificationConfigs | an array of configs |
//! | `tasks/pushNotificationConfig/delete` `{id, pushNotificationConfigId}` | DeleteTaskPushNotificationConfig | `null` |
//! | `agent/getAuthenticatedExtendedCard` | GetExtendedAgentCard | -32007 (no extended card is configured) |
//!
//! Errors keep their codes; `error.data` is the same ErrorInfo list as in
//! 1.0 (0.3 lets `data` be anything). A 1.0 method name is -32601 with a
//! message that says to send `A2A-Version: 1.0`.

use axum::http::HeaderMap;
use serde_json::Value;

use super::{json, parse};
use crate::error::A2aError;
use crate::model::{
    CancelTaskRequest, GetTaskRequest, ListTaskPushConfigsRequest, SubscribeToTaskRequest,
    TaskPushConfigRef,
};
use crate::server::jsonrpc::{self, Outcome, RpcRequest, value};
use crate::server::sse::Wire;
use crate::server::{ApiError, App, Target, http_util};

/// The 0.3 JSON-RPC method names.
pub const METHODS: [&str; 10] = [
    "message/send",
    "message/stream",
    "tasks/get",
    "tasks/cancel",
    "tasks/resubscribe",
    "tasks/pushNotificationConfig/set",
    "tasks/pushNotificationConfig/get",
    "tasks/pushNotificationConfig/list",
    "tasks/pushNotificationConfig/delete",
    "agent/getAuthenticatedExtendedCard",
];

/// Runs one 0.3 JSON-RPC request.
pub(in crate::server) async fn dispatch_rpc(
    app: &App,
    target: &Target,
    headers: &HeaderMap,
    rpc: RpcRequest,
) -> Result<Outcome, ApiError> {
    let m = &app.manager;
    let agent = target.name.as_str();
    let params = rpc.params_value()?;
    match rpc.method.as_str() {
        "message/send" => {
            let req = json::parse_send_params(params_object(params)?)?;
            let res = m.send_message(agent, req).await?;
            value(Ok(json::Event::from_send_response(&res)))
        }
        "message/stream" => {
            let req = json::parse_send_params(params_object(params)?)?;
            target.require_streaming()?;
            let stream = m.send_streaming_message(agent, req).await?;
            Ok(Outcome::Stream(stream, Wire::V03Json))
        }
        "tasks/get" => {
            let p: json::TaskQueryParams = parse(params_object(params)?, "")?;
            let req = GetTaskRequest {
                id: p.id,
                history_length: p.history_length,
                tenant: None,
            };
            let task = m.get_task(agent, req).await?;
            value(Ok(json::Task::from_v1(&task)))
        }
        "tasks/cancel" => {
            let p: json::TaskIdParams = parse(params_object(params)?, "")?;
            let req = CancelTaskRequest {
                id: p.id,
                metadata: p.metadata,
                tenant: None,
            };
            let task = m.cancel_task(agent, req).await?;
            value(Ok(json::Task::from_v1(&task)))
        }
        "tasks/resubscribe" => {
            let p: json::TaskIdParams = parse(params_object(params)?, "")?;
            target.require_streaming()?;
            let last = http_util::last_event_id(headers)?;
            let req = SubscribeToTaskRequest {
                id: p.id,
                tenant: None,
            };
            Ok(Outcome::Stream(
                m.subscribe(agent, req, last).await?,
                Wire::V03Json,
            ))
        }
        "tasks/pushNotificationConfig/set" => {
            let v = params_object(params)?;
            json::check_push_config(&v)?;
            let p: json::TaskPushNotificationConfig = parse(v, "")?;
            if p.task_id.is_empty() {
                return Err(A2aError::invalid_field("taskId", "`taskId` is empty").into());
            }
            let created = m.create_push_config(agent, p.into_v1()).await?;
            value(Ok(json::TaskPushNotificationConfig::from_v1(&created)))
        }
        "tasks/pushNotificationConfig/get" => {
            let v = params_object(params)?;
            json::check_push_config_ref(&v)?;
            let p: json::PushConfigParams = parse(v, "")?;
            // Without a config id, the config named after the task.
            let id = p
                .push_notification_config_id
                .unwrap_or_else(|| p.id.clone());
            let req = TaskPushConfigRef {
                task_id: p.id,
                id,
                tenant: None,
            };
            let config = m.get_push_config(agent, req).await?;
            value(Ok(json::TaskPushNotificationConfig::from_v1(&config)))
        }
        "tasks/pushNotificationConfig/list" => {
            let p: json::TaskIdParams = parse(params_object(params)?, "")?;
            let req = ListTaskPushConfigsRequest {
                task_id: p.id,
                page_size: None,
                page_token: None,
                tenant: None,
            };
            let list = m.list_push_configs(agent, req).await?;
            let configs: Vec<_> = list
                .configs
                .iter()
                .map(json::TaskPushNotificationConfig::from_v1)
                .collect();
            value(Ok(configs))
        }
        "tasks/pushNotificationConfig/delete" => {
            let v = params_object(params)?;
            json::check_push_config_ref(&v)?;
            let p: json::PushConfigParams = parse(v, "")?;
            let Some(id) = p.push_notification_config_id else {
                return Err(A2aError::invalid_field(
                    "pushNotificationConfigId",
                    "invalid params: `pushNotificationConfigId` is required",
                )
                .into());
            };
            let req = TaskPushConfigRef {
                task_id: p.id,
                id,
                tenant: None,
            };
            m.delete_push_config(agent, req).await?;
            value(Ok(Value::Null))
        }
        "agent/getAuthenticatedExtendedCard" => {
            // 0.3 defines no params; still refuse malformed ones.
            if let Some(p) = params
                && !p.is_null()
                && !p.is_object()
            {
                return Err(A2aError::invalid("`params` must be a JSON object").into());
            }
            Err(extended_card_not_configured())
        }
        other if jsonrpc::METHODS.contains(&other) => Err(ApiError::new(A2aError::MethodNotFound(
            other.to_string(),
        ))
        .with_message(format!(
            "`{other}` is an A2A 1.0 method, but this request speaks A2A 0.3 (it sent no \
             `A2A-Version`, or 0.3); send `A2A-Version: 1.0` to use it, or call the 0.3 \
             methods: {}",
            METHODS.join(", ")
        ))),
        other => Err(
            ApiError::new(A2aError::MethodNotFound(other.to_string())).with_message(format!(
                "method `{other}` is not part of A2A 0.3; the methods are: {}",
                METHODS.join(", ")
            )),
        ),
    }
}

/// The answer to the 0.3 extended card operations while no agent offers
/// one: AuthenticatedExtendedCardNotConfiguredError (-32007).
pub(in crate::server) fn extended_card_not_configured() -> ApiError {
    ApiError::new(A2aError::ExtendedCardNotConfigured).with_message(
        "this agent has no authenticated extended card \
         (supportsAuthenticatedExtendedCard is false)",
    )
}

/// The params, which must be a JSON object.
fn params_object(params: Option<Value>) -> Result<Value, ApiError> {
    match params {
        None | Some(Value::Null) => Err(ApiError::new(A2aError::invalid(
            "`params` is required for this method",
        ))),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(ApiError::new(A2aError::invalid(
            "`params` must be a JSON object (by-name parameters)",
        ))),
    }
}
