//! The HTTP+JSON binding (A2A spec §11): routes under `/agents/NAME/`, at
//! the root for the default agent, and under an optional `/{tenant}/`.
//!
//! | Operation | Route |
//! |---|---|
//! | SendMessage | `POST /message:send` |
//! | SendStreamingMessage | `POST /message:stream` (SSE) |
//! | ListTasks | `GET /tasks?contextId=&status=&pageSize=&pageToken=&historyLength=&statusTimestampAfter=&includeArtifacts=` |
//! | GetTask | `GET /tasks/{id}?historyLength=` |
//! | CancelTask | `POST /tasks/{id}:cancel` (body `{metadata?}`, may be empty) |
//! | SubscribeToTask | `GET` or `POST /tasks/{id}:subscribe` (SSE; `Last-Event-ID`) |
//! | Create/List push configs | `POST` / `GET /tasks/{id}/pushNotificationConfigs` |
//! | Get/Delete push config | `GET` / `DELETE /tasks/{id}/pushNotificationConfigs/{configId}` |
//! | GetExtendedAgentCard | `GET /extendedAgentCard` |
//!
//! ## A2A 0.3
//!
//! A request whose `A2A-Version` is missing, empty or `0.3`, and every
//! request under the 0.3 routes `/v1/…` (`v03_routes`: `POST
//! /v1/message:send`, `POST /v1/message:stream`, `GET /v1/tasks/{id}`, `POST
//! /v1/tasks/{id}:cancel`, `GET|POST /v1/tasks/{id}:subscribe`,
//! `/v1/tasks/{id}/pushNotificationConfigs[/{configId}]`, `GET /v1/tasks`,
//! `GET /v1/card`) speaks A2A 0.3 HTTP+JSON: the protobuf JSON of the 0.3
//! `a2a.proto` ([`v03::proto`]). A send answers `{task}` or
//! `{message}`, a stream sends `{task}|{message}|{statusUpdate}|
//! {artifactUpdate}` events (a status update that ends the stream says
//! `final: true`), GetTask and CancelTask answer the Task, push configs are
//! `{name: "tasks/T/pushNotificationConfigs/C", pushNotificationConfig}`,
//! `GET /v1/tasks` answers a bare array of tasks (the first page), and the
//! extended card is -32007 (not configured). Error bodies are the same
//! google.rpc.Status objects as in 1.0.
//!
//! Checks, in order: agent (404/503), `A2A-Version` (400
//! VERSION_NOT_SUPPORTED, except on `/v1/…`), request `Content-Type` for a body (415
//! CONTENT_TYPE_NOT_SUPPORTED; an empty optional body needs none), body size
//! (413), JSON (400), fields and query parameters (400 INVALID_PARAMS naming
//! the field or parameter). Responses are `application/json`, or
//! `application/a2a+json` when `Accept` prefers it; errors are
//! google.rpc.Status bodies (`{"error":{code,status,message,details}}`).
//! Streams send the bare `StreamResponse` per event, with `id:` lines. A
//! body in the other version's shape (a 1.0 request with `kind` parts, a
//! 0.3 one with `parts` instead of `content`, …) is 400 INVALID_PARAMS
//! naming the field.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, request::Parts};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::http_util::{self, rest_error};
use super::jsonrpc::{deserialize_value, extended_card_unsupported, v1_object, v1_value};
use super::sse::{self, Framing, Wire};
use super::v03::{self, extended_card_not_configured, proto};
use super::version::{self, RequestMeta, Version};
use super::{ApiError, App, PathArgs, Target, add};
use crate::error::A2aError;
use crate::model::{
    CancelTaskRequest, GetTaskRequest, ListTaskPushConfigsRequest, ListTasksRequest, Metadata,
    SendMessageRequest, SubscribeToTaskRequest, TaskPushConfigRef, TaskPushNotificationConfig,
    TaskState, Timestamp,
};

/// Marks the 0.3 `/v1/…` routes, which speak 0.3 whatever the header says.
#[derive(Clone, Copy, Debug)]
struct V03Route;

/// Adds the HTTP+JSON routes under `prefix` (`""` for the root).
pub(crate) fn routes(r: Router<App>, prefix: &str) -> Router<App> {
    let r = common_routes(r, prefix, |m| m);
    add(
        r,
        &format!("{prefix}/extendedAgentCard"),
        get(extended_agent_card),
    )
}

/// Adds the A2A 0.3 HTTP+JSON routes under `prefix` (which ends in `/v1`).
pub(crate) fn v03_routes(r: Router<App>, prefix: &str) -> Router<App> {
    let mark = |m: MethodRouter<App>| m.layer(Extension(V03Route));
    let r = common_routes(r, prefix, mark);
    add(r, &format!("{prefix}/card"), mark(get(extended_agent_card)))
}

fn common_routes(
    r: Router<App>,
    prefix: &str,
    mark: impl Fn(MethodRouter<App>) -> MethodRouter<App>,
) -> Router<App> {
    let p = |s: &str| format!("{prefix}{s}");
    let mut r = add(r, &p("/message:send"), mark(post(send_message)));
    r = add(r, &p("/message:stream"), mark(post(send_streaming_message)));
    r = add(r, &p("/tasks"), mark(get(list_tasks)));
    r = add(
        r,
        &p("/tasks/{id}"),
        mark(get(get_task_or_subscribe).post(task_action)),
    );
    r = add(
        r,
        &p("/tasks/{id}/pushNotificationConfigs"),
        mark(get(list_push_configs).post(create_push_config)),
    );
    add(
        r,
        &p("/tasks/{id}/pushNotificationConfigs/{config}"),
        mark(get(get_push_config).delete(delete_push_config)),
    )
}

/// What every handler knows after the common checks.
struct Ctx {
    app: App,
    target: Target,
    /// The protocol version the request speaks (0.3 on the `/v1` routes).
    version: Version,
    /// `A2A-Extensions`; kept for when the manager takes them (`None` when
    /// a `/v1` route carried an unreadable version).
    #[allow(dead_code)]
    meta: Option<RequestMeta>,
    parts: Parts,
    tenant: Option<String>,
    query: Query,
}

impl Ctx {
    /// Agent, then version.
    fn new(app: App, path: &PathArgs, parts: Parts) -> Result<Ctx, ApiError> {
        let target = app.resolve(path)?;
        let (version, meta) = if parts.extensions.get::<V03Route>().is_some() {
            // The 0.3 routes speak 0.3, whatever the header says.
            let meta = RequestMeta::from_parts(&parts.headers, parts.uri.query()).ok();
            (Version::V0_3, meta)
        } else {
            let meta = version::request_meta(&parts.headers, parts.uri.query())?;
            (meta.version, Some(meta))
        };
        let query = Query::parse(parts.uri.query());
        Ok(Ctx {
            app,
            target,
            version,
            meta,
            tenant: path.get("tenant").map(str::to_string),
            query,
            parts,
        })
    }

    fn agent(&self) -> &str {
        &self.target.name
    }

    fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The JSON body, which must be present and an object.
    async fn body_value(&self, body: Body) -> Result<Value, ApiError> {
        json_object(&self.json_body(body).await?)
    }

    /// The body of a request that must carry JSON, unparsed.
    async fn json_body(&self, body: Body) -> Result<Bytes, ApiError> {
        if !http_util::is_json_content_type(self.headers()) {
            return Err(http_util::content_type_error(self.headers()));
        }
        http_util::read_body(self.headers(), body, self.app.config.max_body_bytes).await
    }

    /// The JSON body, which may be empty (then `None`, whatever the
    /// `Content-Type`).
    async fn optional_body<T: DeserializeOwned>(&self, body: Body) -> Result<Option<T>, ApiError> {
        let bytes =
            http_util::read_body(self.headers(), body, self.app.config.max_body_bytes).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !http_util::is_json_content_type(self.headers()) {
            return Err(http_util::content_type_error(self.headers()));
        }
        deserialize_value(json_object(&bytes)?).map(Some)
    }

    /// The 1.0 body of operation `method` (a 1.0 method name), refusing
    /// 0.3 shapes.
    async fn v1_body<T: DeserializeOwned>(&self, method: &str, body: Body) -> Result<T, ApiError> {
        let bytes = self.json_body(body).await?;
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.trim_ascii_start().starts_with('{') => v1_object(method, text),
            // Not an object, or not UTF-8: the value's reading says which.
            _ => v1_value(method, json_object(&bytes)?),
        }
    }

    /// A 200 answer with `v` as the body.
    fn json<T: serde::Serialize>(&self, v: &T) -> Response {
        http_util::json_response(
            StatusCode::OK,
            http_util::response_media_type(self.headers()),
            v,
        )
    }

    /// The stream form of this request's version.
    fn wire(&self) -> Wire {
        match self.version {
            Version::V1_0 => Wire::V1,
            Version::V0_3 => Wire::V03Proto,
        }
    }

    fn ok<T: serde::Serialize>(&self, result: Result<T, A2aError>) -> Response {
        match result {
            Ok(v) => self.json(&v),
            Err(e) => self.error(e.into()),
        }
    }

    fn error(&self, e: ApiError) -> Response {
        rest_error(self.headers(), &e)
    }
}

/// Runs the common checks, then `f`; any error becomes a REST error body.
macro_rules! rest_handler {
    ($app:expr, $path:expr, $req:expr, |$ctx:ident, $body:ident| $f:expr) => {{
        let (parts, $body) = $req.into_parts();
        let headers = parts.headers.clone();
        match Ctx::new($app, &$path, parts) {
            Ok($ctx) => {
                let r: Result<Response, ApiError> = async { $f }.await;
                r.unwrap_or_else(|e| rest_error(&headers, &e))
            }
            Err(e) => rest_error(&headers, &e),
        }
    }};
}

fn json_object(bytes: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(A2aError::Parse(format!(
            "request body is not valid JSON: {e}"
        )))
    })?;
    if !v.is_object() {
        return Err(ApiError::new(A2aError::invalid(
            "the request body must be a JSON object",
        )));
    }
    Ok(v)
}

/// Sets `tenant` from the path when the route has one.
fn with_tenant(from_path: &Option<String>, field: &mut Option<String>) {
    if let Some(t) = from_path {
        *field = Some(t.clone());
    }
}

// ---------------------------------------------------------------------------
// Handlers

/// The SendMessage body in the request's version, as the 1.0 request.
async fn send_request(ctx: &Ctx, method: &str, body: Body) -> Result<SendMessageRequest, ApiError> {
    let mut r = match ctx.version {
        Version::V1_0 => ctx.v1_body(method, body).await?,
        Version::V0_3 => proto::parse_send_request(ctx.body_value(body).await?)?,
    };
    with_tenant(&ctx.tenant, &mut r.tenant);
    Ok(r)
}

async fn send_message(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, body| {
        let r = send_request(&ctx, "SendMessage", body).await?;
        let res = ctx.app.manager.send_message(ctx.agent(), r).await?;
        Ok(match ctx.version {
            Version::V1_0 => ctx.json(&res),
            Version::V0_3 => ctx.json(&proto::SendMessageResponse::from_v1(&res)),
        })
    })
}

async fn send_streaming_message(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, body| {
        let r = send_request(&ctx, "SendStreamingMessage", body).await?;
        ctx.target.require_streaming()?;
        let stream = ctx
            .app
            .manager
            .send_streaming_message(ctx.agent(), r)
            .await?;
        Ok(sse::response(stream, Framing::Rest(ctx.wire()), &ctx.app.config).await)
    })
}

async fn list_tasks(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, _body| {
        let q = &ctx.query;
        let v1 = ctx.version == Version::V1_0;
        let mut r = ListTasksRequest {
            tenant: None,
            context_id: q.string("contextId"),
            status: if v1 { q.state("status")? } else { None },
            page_size: q.int("pageSize")?,
            page_token: q.string("pageToken"),
            history_length: q.int("historyLength")?,
            status_timestamp_after: if v1 {
                q.timestamp("statusTimestampAfter")?
            } else {
                None
            },
            include_artifacts: if v1 {
                q.boolean("includeArtifacts")?
            } else {
                Some(true)
            },
        };
        with_tenant(&ctx.tenant, &mut r.tenant);
        let res = ctx.app.manager.list_tasks(ctx.agent(), r).await?;
        Ok(match ctx.version {
            Version::V1_0 => ctx.json(&res),
            // 0.3: a bare array of tasks.
            Version::V0_3 => {
                let tasks: Vec<_> = res.tasks.iter().map(proto::Task::from_v1).collect();
                ctx.json(&tasks)
            }
        })
    })
}

/// `GET /tasks/{id}` (GetTask) and `GET /tasks/{id}:subscribe`.
async fn get_task_or_subscribe(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, _body| {
        match task_ref(&path)? {
            (id, None) => {
                let mut r = GetTaskRequest {
                    id,
                    history_length: ctx.query.int("historyLength")?,
                    tenant: None,
                };
                with_tenant(&ctx.tenant, &mut r.tenant);
                let task = ctx.app.manager.get_task(ctx.agent(), r).await?;
                Ok(match ctx.version {
                    Version::V1_0 => ctx.json(&task),
                    Version::V0_3 => ctx.json(&proto::Task::from_v1(&task)),
                })
            }
            (id, Some(TaskAction::Subscribe)) => subscribe(&ctx, id).await,
            (_, Some(TaskAction::Cancel)) => Err(wrong_verb("GET", "cancel", "POST")),
        }
    })
}

/// `POST /tasks/{id}:cancel` and `POST /tasks/{id}:subscribe`.
async fn task_action(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, body| {
        match task_ref(&path)? {
            (id, Some(TaskAction::Cancel)) => {
                /// 1.0: `{metadata?}`; 0.3: the protobuf `{name: "tasks/ID"}`.
                #[derive(Deserialize, Default)]
                struct CancelBody {
                    #[serde(default)]
                    metadata: Option<Metadata>,
                    #[serde(default)]
                    name: Option<String>,
                }
                let b: CancelBody = ctx.optional_body(body).await?.unwrap_or_default();
                if ctx.version == Version::V0_3
                    && let Some(name) = b.name.filter(|n| !n.is_empty())
                    && name != format!("tasks/{id}")
                {
                    return Err(ApiError::new(A2aError::invalid_field(
                        "name",
                        format!("`name` `{name}` does not name task `{id}` of the path"),
                    )));
                }
                let mut r = CancelTaskRequest {
                    id,
                    metadata: b.metadata,
                    tenant: None,
                };
                with_tenant(&ctx.tenant, &mut r.tenant);
                let task = ctx.app.manager.cancel_task(ctx.agent(), r).await?;
                Ok(match ctx.version {
                    Version::V1_0 => ctx.json(&task),
                    Version::V0_3 => ctx.json(&proto::Task::from_v1(&task)),
                })
            }
            (id, Some(TaskAction::Subscribe)) => {
                // A body, if any, must still be well-formed JSON.
                let _: Option<Map<String, Value>> = ctx.optional_body(body).await?;
                subscribe(&ctx, id).await
            }
            (_, None) => Err(ApiError::new(A2aError::MethodNotFound(
                "POST /tasks/{id}".into(),
            ))
            .with_message(
                "POST on a task needs an action: `/tasks/{id}:cancel` or `/tasks/{id}:subscribe`",
            )),
        }
    })
}

async fn subscribe(ctx: &Ctx, id: String) -> Result<Response, ApiError> {
    ctx.target.require_streaming()?;
    let last = http_util::last_event_id(ctx.headers())?;
    let mut r = SubscribeToTaskRequest { id, tenant: None };
    with_tenant(&ctx.tenant, &mut r.tenant);
    let stream = ctx.app.manager.subscribe(ctx.agent(), r, last).await?;
    Ok(sse::response(stream, Framing::Rest(ctx.wire()), &ctx.app.config).await)
}

async fn create_push_config(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, body| {
        let task_id = plain_task_id(&path)?;
        if ctx.version == Version::V0_3 {
            let v = ctx.body_value(body).await?;
            let r: proto::CreateTaskPushNotificationConfigRequest =
                if v.get("config").is_none() && v.get("pushNotificationConfig").is_some() {
                    // The bare `TaskPushNotificationConfig` the 0.3 text shows.
                    proto::CreateTaskPushNotificationConfigRequest {
                        config: Some(v03::parse(v, "")?),
                        ..Default::default()
                    }
                } else {
                    v03::parse(v, "")?
                };
            let mut c = r.into_v1(&task_id)?;
            with_tenant(&ctx.tenant, &mut c.tenant);
            let created = ctx.app.manager.create_push_config(ctx.agent(), c).await?;
            return Ok(ctx.json(&proto::TaskPushNotificationConfig::from_v1(&created)));
        }
        let mut r: TaskPushNotificationConfig = ctx
            .v1_body("CreateTaskPushNotificationConfig", body)
            .await?;
        match &r.task_id {
            Some(t) if !t.is_empty() && *t != task_id => {
                return Err(ApiError::new(A2aError::invalid_field(
                    "taskId",
                    format!(
                        "`taskId` `{t}` in the body does not match task `{task_id}` in the path"
                    ),
                )));
            }
            _ => r.task_id = Some(task_id),
        }
        with_tenant(&ctx.tenant, &mut r.tenant);
        Ok(ctx.ok(ctx.app.manager.create_push_config(ctx.agent(), r).await))
    })
}

async fn list_push_configs(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, _body| {
        let mut r = ListTaskPushConfigsRequest {
            task_id: plain_task_id(&path)?,
            page_size: ctx.query.int("pageSize")?,
            page_token: ctx.query.string("pageToken"),
            tenant: None,
        };
        with_tenant(&ctx.tenant, &mut r.tenant);
        let res = ctx.app.manager.list_push_configs(ctx.agent(), r).await?;
        Ok(match ctx.version {
            Version::V1_0 => ctx.json(&res),
            Version::V0_3 => ctx.json(&proto::ListTaskPushNotificationConfigResponse {
                configs: res
                    .configs
                    .iter()
                    .map(proto::TaskPushNotificationConfig::from_v1)
                    .collect(),
                next_page_token: res.next_page_token,
            }),
        })
    })
}

async fn get_push_config(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, _body| {
        let r = push_ref(&ctx, &path)?;
        let c = ctx.app.manager.get_push_config(ctx.agent(), r).await?;
        Ok(match ctx.version {
            Version::V1_0 => ctx.json(&c),
            Version::V0_3 => ctx.json(&proto::TaskPushNotificationConfig::from_v1(&c)),
        })
    })
}

async fn delete_push_config(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, _body| {
        let r = push_ref(&ctx, &path)?;
        let res = ctx.app.manager.delete_push_config(ctx.agent(), r).await;
        Ok(ctx.ok(res.map(|()| Map::new())))
    })
}

/// 1.0 `GET /extendedAgentCard`; 0.3 `GET /v1/card`.
async fn extended_agent_card(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    rest_handler!(app, path, req, |ctx, _body| {
        Err::<Response, _>(match ctx.version {
            Version::V1_0 => extended_card_unsupported(),
            Version::V0_3 => extended_card_not_configured(),
        })
    })
}

// ---------------------------------------------------------------------------
// Path and query parameters

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskAction {
    Cancel,
    Subscribe,
}

/// Splits the `{id}` segment into the task id and its `:action`, if any.
fn task_ref(path: &PathArgs) -> Result<(String, Option<TaskAction>), ApiError> {
    let raw = path.get("id").unwrap_or_default();
    let (id, action) = match raw.rsplit_once(':') {
        Some((id, "cancel")) => (id, Some(TaskAction::Cancel)),
        Some((id, "subscribe")) => (id, Some(TaskAction::Subscribe)),
        Some((_, other)) if !other.is_empty() && action_like(other) => {
            return Err(
                ApiError::new(A2aError::MethodNotFound(format!("tasks/{{id}}:{other}")))
                    .with_message(format!(
                        "unknown task action `:{other}`; the actions are `:cancel` and `:subscribe`"
                    )),
            );
        }
        _ => (raw, None),
    };
    if id.is_empty() {
        return Err(ApiError::new(A2aError::invalid_field(
            "id",
            "the task id in the path is empty",
        )));
    }
    Ok((id.to_string(), action))
}

/// Whether `s` looks like an action name (a lowercase word) rather than part
/// of a task id.
fn action_like(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_lowercase())
}

fn plain_task_id(path: &PathArgs) -> Result<String, ApiError> {
    let id = path.get("id").unwrap_or_default();
    if id.is_empty() {
        return Err(ApiError::new(A2aError::invalid_field(
            "taskId",
            "the task id in the path is empty",
        )));
    }
    Ok(id.to_string())
}

fn push_ref(ctx: &Ctx, path: &PathArgs) -> Result<TaskPushConfigRef, ApiError> {
    let mut r = TaskPushConfigRef {
        task_id: plain_task_id(path)?,
        id: path.get("config").unwrap_or_default().to_string(),
        tenant: None,
    };
    if r.id.is_empty() {
        return Err(ApiError::new(A2aError::invalid_field(
            "id",
            "the push config id in the path is empty",
        )));
    }
    with_tenant(&ctx.tenant, &mut r.tenant);
    Ok(r)
}

fn wrong_verb(used: &str, action: &str, want: &str) -> ApiError {
    ApiError::new(A2aError::MethodNotFound(format!(
        "{used} tasks/{{id}}:{action}"
    )))
    .with_message(format!("`:{action}` takes {want}, not {used}"))
}

/// Query parameters, decoded. A repeated parameter keeps its last value;
/// an empty value counts as absent; unknown parameters are ignored.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Query {
        Query(
            q.map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    fn int(&self, name: &str) -> Result<Option<i32>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<i32>()
                    .map_err(|_| bad_param(name, format!("must be an integer, got `{v}`")))
            })
            .transpose()
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(bad_param(
                    name,
                    format!("must be `true` or `false`, got `{v}`"),
                )),
            })
            .transpose()
    }

    fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(name)
            .map(|v| Timestamp::parse(v).map_err(|e| bad_param(name, e)))
            .transpose()
    }

    /// A task state by proto name (`TASK_STATE_WORKING`) or number;
    /// `TASK_STATE_UNSPECIFIED` (0) means no filter.
    fn state(&self, name: &str) -> Result<Option<TaskState>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let state = TaskState::from_proto_str(v).or_else(|| {
            v.parse::<usize>()
                .ok()
                .and_then(|n| TaskState::ALL.get(n).copied())
        });
        match state {
            Some(TaskState::Unspecified) => Ok(None),
            Some(s) => Ok(Some(s)),
            None => Err(bad_param(
                name,
                format!("`{v}` is not a task state (e.g. TASK_STATE_WORKING)"),
            )),
        }
    }
}

fn bad_param(name: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(A2aError::invalid_field(
        name,
        format!("query parameter `{name}` {why}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn path(id: &str) -> PathArgs {
        PathArgs(HashMap::from([("id".to_string(), id.to_string())]))
    }

    #[test]
    fn task_segments_split_on_the_action() {
        assert_eq!(task_ref(&path("t1")).unwrap(), ("t1".into(), None));
        assert_eq!(
            task_ref(&path("t1:cancel")).unwrap(),
            ("t1".into(), Some(TaskAction::Cancel))
        );
        assert_eq!(
            task_ref(&path("a:b:subscribe")).unwrap(),
            ("a:b".into(), Some(TaskAction::Subscribe))
        );
        assert_eq!(task_ref(&path("urn:X1")).unwrap(), ("urn:X1".into(), None));
        assert_eq!(
            task_ref(&path("t1:frobnicate")).unwrap_err().error.code(),
            -32601
        );
        assert_eq!(task_ref(&path(":cancel")).unwrap_err().error.code(), -32602);
    }

    #[test]
    fn query_parameters_are_typed_and_named_in_errors() {
        let q = Query::parse(Some(
            "status=TASK_STATE_WORKING&pageSize=10&includeArtifacts=true&contextId=&\
             statusTimestampAfter=2026-01-01T00:00:00Z&pageSize=20",
        ));
        assert_eq!(q.state("status").unwrap(), Some(TaskState::Working));
        assert_eq!(q.int("pageSize").unwrap(), Some(20));
        assert_eq!(q.boolean("includeArtifacts").unwrap(), Some(true));
        assert_eq!(q.string("contextId"), None);
        assert!(q.timestamp("statusTimestampAfter").unwrap().is_some());

        let q = Query::parse(Some(
            "status=DONE&pageSize=x&includeArtifacts=yes&statusTimestampAfter=yesterday",
        ));
        for name in [
            "status",
            "pageSize",
            "includeArtifacts",
            "statusTimestampAfter",
        ] {
            let e = match name {
                "status" => q.state(name).unwrap_err(),
                "pageSize" => q.int(name).unwrap_err(),
                "includeArtifacts" => q.boolean(name).unwrap_err(),
                _ => q.timestamp(name).unwrap_err(),
            };
            assert!(
                matches!(&e.error, A2aError::InvalidParams { field: Some(f), .. } if f == name),
                "{e:?}"
            );
        }
        let q = Query::parse(Some("status=3"));
        assert_eq!(q.state("status").unwrap(), Some(TaskState::Completed));
        let q = Query::parse(Some("status=TASK_STATE_UNSPECIFIED"));
        assert_eq!(q.state("status").unwrap(), None);
    }
}
