//! Conformance checks of push-notification configs.

use std::sync::Arc;

use super::helpers::*;
use crate::model::{TaskPushNotificationConfig, TaskState};
use crate::store::{Store, StoreError};

/// Push configs: put, get, list (oldest first), replace in place, delete.
pub async fn push_configs_round_trip(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    let t2 = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;
    create(store, &agent, &t2).await;

    let c1 = push_config(&t.id, "c1", "https://hooks.example/1");
    let c2 = push_config(&t.id, "c2", "https://hooks.example/2");
    let c3 = TaskPushNotificationConfig {
        token: None,
        authentication: None,
        ..push_config(&t.id, "c3", "https://hooks.example/3")
    };
    for c in [&c1, &c2, &c3] {
        store.put_push_config(c).await.expect("put");
    }
    assert_eq!(
        store.get_push_config(&t.id, "c2").await.unwrap(),
        Some(c2.clone())
    );
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![c1.clone(), c2.clone(), c3.clone()]
    );

    let c1b = push_config(&t.id, "c1", "https://hooks.example/replaced");
    store.put_push_config(&c1b).await.expect("replace");
    assert_eq!(
        store.get_push_config(&t.id, "c1").await.unwrap(),
        Some(c1b.clone())
    );
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![c1b.clone(), c2.clone(), c3.clone()],
        "a replaced config keeps its place"
    );

    assert!(store.delete_push_config(&t.id, "c2").await.unwrap());
    assert!(!store.delete_push_config(&t.id, "c2").await.unwrap());
    assert_eq!(store.get_push_config(&t.id, "c2").await.unwrap(), None);
    store.put_push_config(&c2).await.expect("put c2 again");
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![c1b.clone(), c3.clone(), c2.clone()]
    );

    // Configs belong to one task.
    assert!(store.list_push_configs(&t2.id).await.unwrap().is_empty());
    assert_eq!(store.get_push_config(&t2.id, "c1").await.unwrap(), None);
    assert!(!store.delete_push_config(&t2.id, "c1").await.unwrap());
    let missing = fresh("missing");
    assert!(!store.delete_push_config(&missing, "c1").await.unwrap());
    assert!(store.list_push_configs(&missing).await.unwrap().is_empty());

    let err = store
        .put_push_config(&push_config(&missing, "c1", "https://hooks.example/x"))
        .await
        .expect_err("a config of a missing task");
    assert_eq!(err, StoreError::NotFound(missing.clone()));
    for bad in [
        TaskPushNotificationConfig {
            id: None,
            ..c1.clone()
        },
        TaskPushNotificationConfig {
            id: Some(String::new()),
            ..c1.clone()
        },
        TaskPushNotificationConfig {
            task_id: None,
            ..c1.clone()
        },
    ] {
        let result = store.put_push_config(&bad).await;
        assert!(
            matches!(result, Err(StoreError::Other(_))),
            "{bad:?} must be rejected, got {result:?}"
        );
    }
    assert_eq!(store.list_push_configs(&t.id).await.unwrap().len(), 3);
}
