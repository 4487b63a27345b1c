//! Conformance checks under load: racing writers, and payloads of a
//! megabyte.

use std::sync::Arc;

use serde_json::json;

use super::helpers::*;
use crate::model::{
    Artifact, Bytes, Part, PartContent, StreamResponse, TaskArtifactUpdateEvent, TaskState,
};
use crate::store::{Committed, Store, StoreError};

/// Many tokio tasks racing: exactly one write per version wins, and a
/// read-modify-write loop that retries on conflict loses no update.
pub async fn concurrent_conflicting_updates_lose_nothing(store: &Arc<dyn Store>) {
    const RACERS: usize = 16;
    const WORKERS: u64 = 8;
    const INCREMENTS: u64 = 10;

    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;

    // Round 1: everyone writes on top of version 1 at once.
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut racers = Vec::new();
    for i in 0..RACERS {
        let (store, barrier, agent) = (store.clone(), barrier.clone(), agent.clone());
        let mut mine = t.clone();
        mine.metadata = Some(json!({"writer": i}).as_object().unwrap().clone());
        racers.push(tokio::spawn(async move {
            let events = [text_event(&mine, &format!("writer {i}"))];
            barrier.wait().await;
            let result = store
                .write_task(write(&agent, &mine, 1, &events, None))
                .await;
            (i, result)
        }));
    }
    let mut winners = Vec::new();
    for racer in racers {
        let (i, result) = racer.await.expect("racer panicked");
        match result {
            Ok(committed) => {
                assert_eq!(
                    committed,
                    Committed {
                        version: 2,
                        first_seq: 2,
                        pushes_queued: 0,
                    }
                );
                winners.push(i);
            }
            Err(e) => assert_eq!(
                e,
                StoreError::Conflict {
                    task_id: t.id.clone(),
                    expected: 1,
                    actual: 2
                }
            ),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer must win: {winners:?}");
    let winner = winners[0];
    let stored = must_get(store, &t.id).await;
    assert_eq!((stored.version, stored.last_seq), (2, 2));
    assert_eq!(stored.task.metadata.unwrap()["writer"], json!(winner));
    let log = all_events(store, &t.id).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].1, text_event(&t, &format!("writer {winner}")));

    // Round 2: increment a counter with optimistic retries.
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (store, agent, id) = (store.clone(), agent.clone(), t.id.clone());
        workers.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS {
                loop {
                    let current = store.get_task(&id).await.unwrap().unwrap();
                    let mut next = current.task.clone();
                    let count = next
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get("count"))
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0)
                        + 1;
                    next.metadata = Some(json!({"count": count}).as_object().unwrap().clone());
                    let events = [text_event(&next, &format!("count {count} by {w}"))];
                    // Let the other workers read the same version.
                    tokio::task::yield_now().await;
                    match store
                        .write_task(write(&agent, &next, current.version, &events, None))
                        .await
                    {
                        Ok(c) => {
                            assert_eq!(c.version, current.version + 1);
                            assert_eq!(c.first_seq, current.last_seq + 1);
                            break;
                        }
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("worker {w}: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for worker in workers {
        worker.await.expect("worker panicked");
    }
    let total = WORKERS * INCREMENTS;
    let stored = must_get(store, &t.id).await;
    assert_eq!(stored.task.metadata.unwrap()["count"], json!(total));
    assert_eq!(stored.version, 2 + total);
    assert_eq!(stored.last_seq, 2 + total);
    let log = all_events(store, &t.id).await;
    let seqs: Vec<u64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=2 + total).collect::<Vec<_>>());
    for (count, (_, event)) in (1..=total).zip(&log[2..]) {
        let StreamResponse::ArtifactUpdate(e) = event else {
            panic!("unexpected event {event:?}");
        };
        let text = e.artifact.parts[0].as_text().unwrap();
        assert!(
            text.starts_with(&format!("count {count} by ")),
            "event {count} is {text:?}"
        );
    }
}

/// A 1 MiB artifact survives the snapshot, the event log and context state.
pub async fn large_payloads_round_trip(store: &Arc<dyn Store>) {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let blob: Vec<u8> = (0..1 << 20)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let agent = fresh("agent");
    let mut t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;

    let artifact = Artifact {
        artifact_id: "big".into(),
        parts: vec![
            Part::from_content(PartContent::Raw(Bytes(blob.clone()))),
            Part::text("x".repeat(1 << 20)),
        ],
        ..Default::default()
    };
    t.artifacts.push(artifact.clone());
    t.status.state = TaskState::Completed;
    let events = [
        StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
            task_id: t.id.clone(),
            context_id: t.context_id.clone(),
            artifact,
            append: false,
            last_chunk: true,
            metadata: None,
        }),
        status_event(&t),
    ];
    store
        .write_task(write(&agent, &t, 1, &events, None))
        .await
        .expect("write a large artifact");
    let stored = must_get(store, &t.id).await;
    assert!(stored.task == t, "the large snapshot changed in the store");
    let log = store.events_after(&t.id, 1).await.unwrap();
    assert!(
        log == vec![(2, events[0].clone()), (3, events[1].clone())],
        "the large events changed in the store"
    );

    store
        .set_state(&agent, &t.context_id, "blob", Some(&blob))
        .await
        .unwrap();
    let back = store
        .get_state(&agent, &t.context_id, "blob")
        .await
        .unwrap();
    assert!(
        back.as_deref() == Some(&blob[..]),
        "the large value changed"
    );
}
