//! Request parameters and results of the A2A operations, push notification configs included.

use serde::{Deserialize, Serialize};

use super::{Message, Metadata, Task, TaskState, Timestamp, is_false};

/// Parameters of SendMessage and SendStreamingMessage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The message to send.
    pub message: Message,
    /// Optional settings for this send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<SendMessageConfiguration>,
    /// Optional request metadata, passed to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// How SendMessage should behave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageConfiguration {
    /// Media types the client accepts in the response (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "accepted_output_modes")]
    pub accepted_output_modes: Vec<String>,
    /// A webhook to notify of the task's updates (its `taskId` left empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_push_notification_config")]
    pub task_push_notification_config: Option<TaskPushNotificationConfig>,
    /// How many of the most recent history messages the returned task
    /// carries (`0`: none; unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// Return as soon as the task exists instead of waiting until it is
    /// terminal or interrupted.
    #[serde(default, skip_serializing_if = "is_false")]
    #[serde(alias = "return_immediately")]
    pub return_immediately: bool,
}

/// The result of SendMessage: a task, or a direct message.
///
/// The task is shared: a blocking send answers with the snapshot the
/// host keeps (the memory store holds the same one), serialized without
/// a copy. `Arc::unwrap_or_clone` gives an owned [`Task`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SendMessageResponse {
    /// The task the message created or continued.
    Task(std::sync::Arc<Task>),
    /// A direct message from the agent, with no task.
    Message(Message),
}

/// Parameters of GetTask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GetTaskRequest {
    /// The id of the task.
    pub id: String,
    /// How many of the most recent history messages to return (`0`: none;
    /// unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Parameters of ListTasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksRequest {
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only tasks in this context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "context_id")]
    pub context_id: Option<String>,
    /// Only tasks in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskState>,
    /// Tasks per page, 1 to 100 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_size")]
    pub page_size: Option<i32>,
    /// The `nextPageToken` of the previous page; unset for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_token")]
    pub page_token: Option<String>,
    /// How many of the most recent history messages each task carries
    /// (`0`: none; unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// Only tasks whose status timestamp is at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "status_timestamp_after")]
    pub status_timestamp_after: Option<Timestamp>,
    /// Whether the tasks carry their artifacts (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "include_artifacts")]
    pub include_artifacts: Option<bool>,
}

/// The result of ListTasks. All four fields are always present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksResponse {
    /// The tasks of this page, most recent status first.
    pub tasks: Vec<Task>,
    /// The token for the next page; empty on the last page.
    #[serde(alias = "next_page_token")]
    pub next_page_token: String,
    /// The page size that was applied.
    #[serde(alias = "page_size")]
    pub page_size: i32,
    /// How many tasks match the filters, across all pages.
    #[serde(alias = "total_size")]
    pub total_size: i32,
}

/// Parameters of CancelTask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CancelTaskRequest {
    /// The id of the task to cancel.
    pub id: String,
    /// Optional metadata for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Parameters of SubscribeToTask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeToTaskRequest {
    /// The id of the task to follow.
    pub id: String,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// How the host authenticates to a push webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// The HTTP authentication scheme, e.g. `Bearer`.
    pub scheme: String,
    /// The credentials to send with the scheme, e.g. a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// A webhook that receives a task's events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskPushNotificationConfig {
    /// The tenant the config belongs to, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Id of this config, unique within its task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The id of the task whose updates are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_id")]
    pub task_id: Option<String>,
    /// The webhook URL that notifications are posted to.
    pub url: String,
    /// An optional token sent with every notification, for the webhook to
    /// check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How to authenticate to the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationInfo>,
}

/// Parameters of GetTaskPushNotificationConfig and its Delete twin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskPushConfigRef {
    /// The id of the task.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The id of the push notification config within the task.
    pub id: String,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Parameters of ListTaskPushNotificationConfigs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTaskPushConfigsRequest {
    /// The id of the task whose configs to list.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The largest number of configs to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_size")]
    pub page_size: Option<i32>,
    /// The `nextPageToken` of the previous page; unset for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_token")]
    pub page_token: Option<String>,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The result of ListTaskPushNotificationConfigs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTaskPushConfigsResponse {
    /// The configs of this page.
    pub configs: Vec<TaskPushNotificationConfig>,
    /// The token for the next page; empty on the last page.
    #[serde(alias = "next_page_token")]
    pub next_page_token: String,
}
