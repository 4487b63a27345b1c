//! Conformance checks of per-context agent state.

use std::sync::Arc;

use super::helpers::*;
use crate::store::Store;

/// Context values round-trip, can be overwritten and deleted, and are
/// isolated per agent, context and key.
pub async fn context_state_round_trips_and_is_isolated(store: &Arc<dyn Store>) {
    let (x, y) = (fresh("agent-x"), fresh("agent-y"));
    let (c1, c2) = (fresh("ctx1"), fresh("ctx2"));
    let get = |agent: &str, ctx: &str, key: &str| {
        let (agent, ctx, key) = (agent.to_string(), ctx.to_string(), key.to_string());
        async move { store.get_state(&agent, &ctx, &key).await.unwrap() }
    };

    assert_eq!(get(&x, &c1, "k").await, None);
    store.set_state(&x, &c1, "k", Some(b"v1")).await.unwrap();
    assert_eq!(get(&x, &c1, "k").await, Some(b"v1".to_vec()));
    assert_eq!(get(&x, &c2, "k").await, None);
    assert_eq!(get(&y, &c1, "k").await, None);
    assert_eq!(get(&x, &c1, "k2").await, None);

    store.set_state(&y, &c1, "k", Some(b"other")).await.unwrap();
    store
        .set_state(&x, &c2, "k", Some(b"second"))
        .await
        .unwrap();
    store.set_state(&x, &c1, "k", Some(b"v2")).await.unwrap();
    assert_eq!(get(&x, &c1, "k").await, Some(b"v2".to_vec()));
    assert_eq!(get(&y, &c1, "k").await, Some(b"other".to_vec()));
    assert_eq!(get(&x, &c2, "k").await, Some(b"second".to_vec()));

    let binary = [0u8, 255, 0, 1, 0xfe, b'\n', 0];
    store
        .set_state(&x, &c1, "bin", Some(&binary))
        .await
        .unwrap();
    assert_eq!(get(&x, &c1, "bin").await, Some(binary.to_vec()));
    store.set_state(&x, &c1, "empty", Some(&[])).await.unwrap();
    assert_eq!(get(&x, &c1, "empty").await, Some(Vec::new()));

    store.set_state(&x, &c1, "k", None).await.unwrap();
    assert_eq!(get(&x, &c1, "k").await, None);
    store.set_state(&x, &c1, "k", None).await.unwrap();
    store
        .set_state(&fresh("agent"), &c1, "never-set", None)
        .await
        .unwrap();
    assert_eq!(get(&y, &c1, "k").await, Some(b"other".to_vec()));
    assert_eq!(get(&x, &c2, "k").await, Some(b"second".to_vec()));
    assert_eq!(get(&x, &c1, "bin").await, Some(binary.to_vec()));
}
