//! The task manager: the one place where task state changes.
//!
//! Every binding (JSON-RPC, HTTP+JSON, 0.3) calls these methods with the
//! 1.0 model; every agent acts through a [`TaskContext`] whose actions come
//! back here. (Skeleton: bodies land in the next commit.)

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;

use crate::error::A2aError;
use crate::model::{
    CancelTaskRequest, GetTaskRequest, ListTaskPushConfigsRequest, ListTaskPushConfigsResponse,
    ListTasksRequest, ListTasksResponse, SendMessageRequest, SendMessageResponse, StreamResponse,
    SubscribeToTaskRequest, Task, TaskPushConfigRef, TaskPushNotificationConfig,
};
use crate::registry::AgentRegistry;
use crate::store::Store;

/// Settings of the task manager.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// How long a blocking SendMessage waits for a terminal or interrupted
    /// state before it returns the task as it is.
    pub blocking_timeout: Duration,
    /// How long a canceled agent may keep running before it is stopped.
    pub cancel_grace: Duration,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            blocking_timeout: Duration::from_secs(60),
            cancel_grace: Duration::from_secs(2),
        }
    }
}

/// One event of a task stream, with its sequence number in the task's
/// event log (the SSE `id:`). A direct-message reply has no sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct SequencedEvent {
    pub seq: Option<u64>,
    pub event: StreamResponse,
}

/// The events of one stream. It ends after the event that puts the task in
/// a terminal or interrupted state, or after a direct message.
pub type EventStream = Pin<Box<dyn Stream<Item = SequencedEvent> + Send + 'static>>;

/// Runs tasks against the agents of a registry and keeps them in a store.
/// Cheap to clone.
#[derive(Clone)]
pub struct TaskManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    registry: AgentRegistry,
    config: ManagerConfig,
}

impl TaskManager {
    pub fn new(store: Arc<dyn Store>, registry: AgentRegistry, config: ManagerConfig) -> Self {
        TaskManager {
            inner: Arc::new(Inner {
                store,
                registry,
                config,
            }),
        }
    }

    pub fn registry(&self) -> &AgentRegistry {
        &self.inner.registry
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn config(&self) -> &ManagerConfig {
        &self.inner.config
    }

    /// SendMessage: create a task (or continue one by `message.taskId`) and,
    /// unless `returnImmediately`, wait for a terminal or interrupted state.
    pub async fn send_message(
        &self,
        agent: &str,
        req: SendMessageRequest,
    ) -> Result<SendMessageResponse, A2aError> {
        let _ = (agent, req);
        Err(A2aError::Internal("not yet implemented".into()))
    }

    /// SendStreamingMessage: like `send_message`, but returns the task's
    /// events as they happen, the first being the task itself.
    pub async fn send_streaming_message(
        &self,
        agent: &str,
        req: SendMessageRequest,
    ) -> Result<EventStream, A2aError> {
        let _ = (agent, req);
        Err(A2aError::Internal("not yet implemented".into()))
    }

    pub async fn get_task(&self, agent: &str, req: GetTaskRequest) -> Result<Task, A2aError> {
        let _ = (agent, req);
        Err(A2aError::Internal("not yet implemented".into()))
    }

    pub async fn list_tasks(
        &self,
        agent: &str,
        req: ListTasksRequest,
    ) -> Result<ListTasksResponse, A2aError> {
        let _ = (agent, req);
        Err(A2aError::Internal("not yet implemented".into()))
    }

    pub async fn cancel_task(&self, agent: &str, req: CancelTaskRequest) -> Result<Task, A2aError> {
        let _ = (agent, req);
        Err(A2aError::Internal("not yet implemented".into()))
    }

    /// SubscribeToTask. With `last_event_id`, first replays the logged
    /// events after it; otherwise starts with the current task snapshot.
    pub async fn subscribe(
        &self,
        agent: &str,
        req: SubscribeToTaskRequest,
        last_event_id: Option<u64>,
    ) -> Result<EventStream, A2aError> {
        let _ = (agent, req, last_event_id);
        Err(A2aError::Internal("not yet implemented".into()))
    }

    pub async fn create_push_config(
        &self,
        agent: &str,
        config: TaskPushNotificationConfig,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        let _ = (agent, config);
        Err(A2aError::PushNotificationNotSupported)
    }

    pub async fn get_push_config(
        &self,
        agent: &str,
        req: TaskPushConfigRef,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        let _ = (agent, req);
        Err(A2aError::PushNotificationNotSupported)
    }

    pub async fn list_push_configs(
        &self,
        agent: &str,
        req: ListTaskPushConfigsRequest,
    ) -> Result<ListTaskPushConfigsResponse, A2aError> {
        let _ = (agent, req);
        Err(A2aError::PushNotificationNotSupported)
    }

    pub async fn delete_push_config(
        &self,
        agent: &str,
        req: TaskPushConfigRef,
    ) -> Result<(), A2aError> {
        let _ = (agent, req);
        Err(A2aError::PushNotificationNotSupported)
    }

    /// Stop accepting new tasks and wait (up to `timeout`) for running
    /// turns to finish.
    pub async fn drain(&self, timeout: Duration) {
        let _ = timeout;
    }
}
