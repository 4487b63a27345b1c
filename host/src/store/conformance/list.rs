//! Conformance checks of ListTasks (order, filters, pages, page sizes and
//! tokens) and of `tasks_in_states`.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::helpers::*;
use crate::model::{Task, TaskState, TaskStatus};
use crate::store::{Store, StoreError, TaskQuery, encode_page_token};

/// ListTasks: newest status first, ties by id descending, tasks without a
/// timestamp last; filters by context, state and (inclusive) status time;
/// only the agent's own tasks; the latest snapshot counts.
pub async fn list_orders_and_filters(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let (c1, c2) = (fresh("ctx1"), fresh("ctx2"));
    let p = fresh("t");
    let t1 = task(&format!("{p}-1"), &c1, TaskState::Working, Some(at(100)));
    let t2 = task(&format!("{p}-2"), &c1, TaskState::Completed, Some(at(300)));
    let t3 = task(&format!("{p}-3"), &c2, TaskState::Working, Some(at(300)));
    let t4 = task(&format!("{p}-4"), &c2, TaskState::Submitted, Some(at(200)));
    let t5 = task(&format!("{p}-5"), &c1, TaskState::Working, None);
    for t in [&t1, &t2, &t3, &t4, &t5] {
        create(store, &agent, t).await;
    }
    // Another agent's task in the same context never shows up.
    let other = task(&fresh("other"), &c1, TaskState::Working, Some(at(400)));
    create(store, &fresh("agent"), &other).await;

    let check = |q: TaskQuery, want: Vec<String>| async move {
        let page = store.list_tasks(&q).await.unwrap();
        let got: Vec<String> = page.tasks.iter().map(|t| t.id.clone()).collect();
        assert_eq!(got, want, "ids of {q:?}");
        assert_eq!(page.total_size, want.len() as u64, "total_size of {q:?}");
        assert_eq!(page.next_page_token, "", "token of a single page");
        page
    };

    let page = check(query(&agent, 100), ids(&[&t3, &t2, &t4, &t1, &t5])).await;
    assert_eq!(page.tasks[0], t3, "list returns full snapshots");

    let by_ctx = |c: &str| TaskQuery {
        context_id: Some(c.to_string()),
        ..query(&agent, 100)
    };
    check(by_ctx(&c1), ids(&[&t2, &t1, &t5])).await;
    check(by_ctx(&c2), ids(&[&t3, &t4])).await;
    check(by_ctx(&fresh("ctx")), vec![]).await;

    let by_state = |s: TaskState| TaskQuery {
        state: Some(s),
        ..query(&agent, 100)
    };
    check(by_state(TaskState::Working), ids(&[&t3, &t1, &t5])).await;
    check(by_state(TaskState::Submitted), ids(&[&t4])).await;
    check(by_state(TaskState::Failed), vec![]).await;
    check(
        TaskQuery {
            context_id: Some(c1.clone()),
            ..by_state(TaskState::Working)
        },
        ids(&[&t1, &t5]),
    )
    .await;

    let after = |ms: i64| TaskQuery {
        status_after: Some(at(ms)),
        ..query(&agent, 100)
    };
    check(after(200), ids(&[&t3, &t2, &t4])).await;
    check(after(300), ids(&[&t3, &t2])).await;
    check(after(301), vec![]).await;
    check(
        TaskQuery {
            state: Some(TaskState::Working),
            ..after(100)
        },
        ids(&[&t3, &t1]),
    )
    .await;

    check(query(&fresh("agent"), 100), vec![]).await;

    // Moving t1's status time makes it the newest.
    let mut t1b = t1.clone();
    t1b.status = TaskStatus {
        state: TaskState::Completed,
        message: None,
        timestamp: Some(at(500)),
    };
    store
        .write_task(write(&agent, &t1b, 1, &[status_event(&t1b)], None))
        .await
        .expect("update t1");
    let page = check(query(&agent, 100), ids(&[&t1b, &t3, &t2, &t4, &t5])).await;
    assert_eq!(page.tasks[0], t1b);
    check(by_state(TaskState::Working), ids(&[&t3, &t5])).await;
    check(by_state(TaskState::Completed), ids(&[&t1b, &t2])).await;
}

/// Paging through every page, at many page sizes and with filters, yields
/// each matching task exactly once, in order.
pub async fn list_paginates_through_all_pages(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let ctx = fresh("ctx");
    let p = fresh("t");
    // Seven tasks; pairs share a status time so the cursor must use ids.
    let mut tasks = Vec::new();
    for i in 0..7i64 {
        let state = if i % 2 == 0 {
            TaskState::Working
        } else {
            TaskState::Completed
        };
        let t = task(&format!("{p}-{i}"), &ctx, state, Some(at(i / 2 * 10)));
        create(store, &agent, &t).await;
        tasks.push(t);
    }
    let mut order: Vec<&Task> = tasks.iter().collect();
    order.sort_by(|a, b| (b.status.timestamp, &b.id).cmp(&(a.status.timestamp, &a.id)));
    let all = ids(&order);

    for size in [1, 2, 3, 6, 7, 8, 100] {
        let got = walk_pages(store, &query(&agent, size), 7).await;
        assert_eq!(got, all, "page size {size}");
    }

    let working: Vec<String> = order
        .iter()
        .filter(|t| t.status.state == TaskState::Working)
        .map(|t| t.id.clone())
        .collect();
    let q = TaskQuery {
        state: Some(TaskState::Working),
        context_id: Some(ctx.clone()),
        ..query(&agent, 2)
    };
    assert_eq!(walk_pages(store, &q, 4).await, working);

    // An empty token is the first page.
    let q = TaskQuery {
        page_token: Some(String::new()),
        ..query(&agent, 3)
    };
    let (first, token, _) = page_ids(store, &q).await;
    assert_eq!(first, all[..3].to_vec());
    assert!(!token.is_empty());

    // A valid cursor need not name an existing task.
    let last = order[6];
    let q = TaskQuery {
        page_token: Some(encode_page_token(
            last.status.timestamp.unwrap().unix_millis(),
            "",
        )),
        ..query(&agent, 100)
    };
    let (ids_after, token, total) = page_ids(store, &q).await;
    assert!(ids_after.is_empty(), "nothing sorts after the smallest id");
    assert_eq!((token.as_str(), total), ("", 7));
    let q = TaskQuery {
        page_token: Some(encode_page_token(i64::MAX, "")),
        ..query(&agent, 100)
    };
    assert_eq!(page_ids(store, &q).await.0, all);
}

/// A page size of 0 acts as 1 and one above 100 as 100.
pub async fn list_page_size_is_clamped(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let ctx = fresh("ctx");
    for i in 0..101 {
        let t = task(&fresh("t"), &ctx, TaskState::Completed, Some(at(i)));
        let committed = store
            .write_task(write(&agent, &t, 0, &[], None))
            .await
            .expect("create");
        assert_eq!(committed.version, 1);
    }
    let (ids, token, total) = page_ids(store, &query(&agent, 0)).await;
    assert_eq!((ids.len(), total), (1, 101));
    assert!(!token.is_empty());
    let (ids, token, total) = page_ids(store, &query(&agent, 1000)).await;
    assert_eq!((ids.len(), total), (100, 101));
    assert!(!token.is_empty());
    let (ids, token, _) = page_ids(store, &query(&agent, 100)).await;
    assert_eq!(ids.len(), 100);
    let rest = TaskQuery {
        page_token: Some(token),
        ..query(&agent, 100)
    };
    let (ids, token, _) = page_ids(store, &rest).await;
    assert_eq!((ids.len(), token.as_str()), (1, ""));
}

/// A token the store did not issue is an error naming the token.
pub async fn list_rejects_invalid_page_token(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;
    use base64::Engine as _;
    let no_colon = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("12345");
    let bad_number = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x:task");
    for token in [
        "not a token!",
        "%%%",
        no_colon.as_str(),
        bad_number.as_str(),
    ] {
        let q = TaskQuery {
            page_token: Some(token.to_string()),
            ..query(&agent, 10)
        };
        match store.list_tasks(&q).await {
            Err(StoreError::Other(message)) => assert!(
                message.contains("page token"),
                "the error for token {token:?} should mention the page token: {message}"
            ),
            other => panic!("token {token:?} should be rejected, got {other:?}"),
        }
    }
}

/// `tasks_in_states` finds exactly the tasks currently in the given states.
pub async fn tasks_in_states_filters_by_agent_and_state(store: &Arc<dyn Store>) {
    let (a, b) = (fresh("agent-a"), fresh("agent-b"));
    let ctx = fresh("ctx");
    let mk = |state| task(&fresh("task"), &ctx, state, Some(at(0)));
    let a1 = mk(TaskState::Working);
    let a2 = mk(TaskState::Submitted);
    let a3 = mk(TaskState::Completed);
    let a4 = mk(TaskState::InputRequired);
    let b1 = mk(TaskState::Working);
    let b2 = mk(TaskState::Completed);
    for t in [&a1, &a2, &a3, &a4] {
        create(store, &a, t).await;
    }
    for t in [&b1, &b2] {
        create(store, &b, t).await;
    }
    let active = [TaskState::Submitted, TaskState::Working];
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    let got = store.tasks_in_states(Some(&a), &active).await.unwrap();
    assert_eq!(got, sorted(ids(&[&a1, &a2])));
    let got = store
        .tasks_in_states(Some(&b), &[TaskState::Working])
        .await
        .unwrap();
    assert_eq!(got, ids(&[&b1]));
    assert!(
        store
            .tasks_in_states(Some(&a), &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .tasks_in_states(Some(&fresh("agent")), &active)
            .await
            .unwrap()
            .is_empty()
    );

    let everyone: BTreeSet<String> = store
        .tasks_in_states(None, &active)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for t in [&a1, &a2, &b1] {
        assert!(everyone.contains(&t.id), "{} is active", t.id);
    }
    for t in [&a3, &a4, &b2] {
        assert!(!everyone.contains(&t.id), "{} is not active", t.id);
    }

    let mut done = a1.clone();
    done.status.state = TaskState::Completed;
    store
        .write_task(write(&a, &done, 1, &[status_event(&done)], None))
        .await
        .expect("complete a1");
    let got = store
        .tasks_in_states(Some(&a), &[TaskState::Working])
        .await
        .unwrap();
    assert!(got.is_empty(), "a1 left the working state: {got:?}");
    let got = store
        .tasks_in_states(Some(&a), &[TaskState::Completed, TaskState::InputRequired])
        .await
        .unwrap();
    assert_eq!(got, sorted(ids(&[&a1, &a3, &a4])));
}
