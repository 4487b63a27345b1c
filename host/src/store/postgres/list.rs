//! ListTasks in SQL: the count and the page in one statement, read in
//! index order.

use tokio_postgres::types::ToSql;

use super::{PostgresStore, db, json_column, unsigned};
use crate::store::paging::{self, Cursor, ListConditions, PageBuilder, SqlArg};
use crate::store::{StoreError, TaskPage, TaskQuery};

type Param = Box<dyn ToSql + Sync + Send>;

fn param_refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The one statement of a ListTasks page: the count over the filters, and
/// up to `page_size + 1` rows after the cursor (the extra row says whether
/// another page follows).
struct ListSql {
    sql: String,
    params: Vec<Param>,
    page_size: usize,
}

impl ListSql {
    fn new(query: &TaskQuery, cursor: Option<Cursor>) -> Self {
        let list = ListConditions::new(query, cursor, '$');
        let sql = format!(
            "SELECT c.total, p.status_ms, p.id, p.snapshot \
             FROM (SELECT count(*) AS total FROM tasks WHERE {}) AS c \
             LEFT JOIN LATERAL (\
                 SELECT status_ms, id, snapshot FROM tasks WHERE {} \
                 ORDER BY status_ms DESC, id DESC LIMIT {}\
             ) AS p ON true \
             ORDER BY p.status_ms DESC, p.id DESC",
            list.filter, list.page, list.limit
        );
        let params = list
            .args
            .into_iter()
            .map(|arg| -> Param {
                match arg {
                    SqlArg::Text(text) => Box::new(text),
                    SqlArg::Int(n) => Box::new(n),
                }
            })
            .collect();
        ListSql {
            sql,
            params,
            page_size: list.page_size,
        }
    }
}

impl PostgresStore {
    /// [`Store::list_tasks`](crate::store::Store::list_tasks).
    pub(super) async fn list_page(&self, query: &TaskQuery) -> Result<TaskPage, StoreError> {
        let cursor = paging::cursor(query)?;
        let list = ListSql::new(query, cursor);
        let client = self.client().await?;
        let stmt = client.prepare_cached(&list.sql).await.map_err(db)?;
        let rows = client
            .query(&stmt, &param_refs(&list.params))
            .await
            .map_err(db)?;
        let mut total_size = 0;
        let mut page = PageBuilder::new(list.page_size);
        for row in &rows {
            total_size = unsigned(row.get(0), "a count")?;
            let Some(id) = row.get::<_, Option<String>>(2) else {
                continue;
            };
            if !page.has_room() {
                break;
            }
            let ms: i64 = row.get(1);
            let task = json_column(row, 3, || format!("the snapshot of task `{id}`"))?;
            page.push(ms, id, task);
        }
        Ok(page.finish(total_size))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{TestSchema, bulk_insert};
    use super::*;
    use crate::model::TaskState;
    use crate::store::Store as _;

    /// Every ListTasks shape reads the matching index in order: no table
    /// scan, no sort of the table.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn list_queries_use_the_indexes() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        drop(schema.connect().await);
        let raw = schema.raw_client().await;
        // Other agents own most of the table, as in a shared deployment.
        raw.batch_execute(
            "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, last_seq, \
             created_ms, updated_ms, snapshot) \
             SELECT 'other-' || i, 'agent' || (i % 10), 'ctx', 'TASK_STATE_WORKING', i, 1, 0, \
                    0, 0, '{}' \
             FROM generate_series(1, 60000) AS i",
        )
        .await
        .unwrap();
        bulk_insert(
            &raw,
            20_000,
            "CASE WHEN i % 10 = 0 THEN 'TASK_STATE_WORKING' ELSE 'TASK_STATE_COMPLETED' END",
        )
        .await;
        raw.batch_execute("VACUUM (ANALYZE) tasks").await.unwrap();
        let base = TaskQuery {
            agent: "echo".into(),
            page_size: 50,
            ..Default::default()
        };
        let cursor = Some((1_010_000, "bulk-9000".to_string()));
        let cases = [
            (base.clone(), None, "tasks_by_time"),
            (base.clone(), cursor.clone(), "tasks_by_time"),
            (
                TaskQuery {
                    context_id: Some("ctx7".into()),
                    ..base.clone()
                },
                cursor.clone(),
                "tasks_by_context",
            ),
            (
                TaskQuery {
                    state: Some(TaskState::Working),
                    ..base.clone()
                },
                cursor.clone(),
                "tasks_by_state",
            ),
        ];
        for (query, cursor, index) in cases {
            let list = ListSql::new(&query, cursor);
            let rows = raw
                .query(&format!("EXPLAIN {}", list.sql), &param_refs(&list.params))
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let plan = plan.join("\n");
            // The page: the first rows of the index, in its order.
            assert!(
                plan.contains(&format!("Index Scan Backward using {index}")),
                "{}\n{plan}",
                list.sql
            );
            // The count: from an index too. (The only sort is the final one
            // of the page's at most 101 rows.)
            assert!(!plan.contains("Seq Scan"), "{}\n{plan}", list.sql);
        }
        // The totals come from the same statement.
        let store = schema.connect().await;
        let page = store
            .list_tasks(&TaskQuery {
                context_id: Some("ctx7".into()),
                ..base.clone()
            })
            .await
            .unwrap();
        assert_eq!((page.tasks.len(), page.total_size), (50, 200));
        assert_eq!(page.tasks[0].id, "bulk-19907");
    }
}
