//! ListTasks in SQL: the count and the page, read in index order.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::json_column;
use crate::store::paging::{Cursor, ListConditions, PageBuilder, SqlArg};
use crate::store::{StoreError, TaskPage, TaskQuery};

/// The SQL of one ListTasks query: a count over the filters and the page
/// (one row more than asked, to learn whether another page follows).
pub(super) struct ListSql {
    count: String,
    page: String,
    /// Parameters of `page`; `count` takes the first `filter_args`.
    args: Vec<SqlValue>,
    filter_args: usize,
    page_size: usize,
}

impl ListSql {
    pub(super) fn new(query: &TaskQuery, cursor: Option<Cursor>) -> Self {
        let list = ListConditions::new(query, cursor, '?');
        let count = format!("SELECT count(*) FROM tasks WHERE {}", list.filter);
        let page = format!(
            "SELECT status_ms, id, snapshot FROM tasks WHERE {} \
             ORDER BY status_ms DESC, id DESC LIMIT {}",
            list.page, list.limit
        );
        let args = list
            .args
            .into_iter()
            .map(|arg| match arg {
                SqlArg::Text(text) => SqlValue::Text(text),
                SqlArg::Int(n) => SqlValue::Integer(n),
            })
            .collect();
        ListSql {
            count,
            page,
            args,
            filter_args: list.filter_args,
            page_size: list.page_size,
        }
    }
}

pub(super) fn list_tasks_blocking(
    conn: &mut Connection,
    sql: ListSql,
) -> Result<TaskPage, StoreError> {
    // One read transaction, so the count and the page agree.
    let tx = conn.transaction()?;
    let total_size: i64 = tx
        .prepare_cached(&sql.count)?
        .query_row(params_from_iter(&sql.args[..sql.filter_args]), |r| r.get(0))?;
    let mut stmt = tx.prepare_cached(&sql.page)?;
    let mut rows = stmt.query(params_from_iter(&sql.args))?;
    let mut page = PageBuilder::new(sql.page_size);
    while let Some(row) = rows.next()? {
        if !page.has_room() {
            break;
        }
        let ms: i64 = row.get(0)?;
        let id: String = row.get(1)?;
        let task = json_column(row, 2, || format!("the snapshot of task `{id}`"))?;
        page.push(ms, id, task);
    }
    Ok(page.finish(total_size as u64))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::SqliteStore;
    use super::*;
    use crate::model::TaskState;

    /// ListTasks reads rows in index order: no full scan, no sort.
    #[test]
    fn list_queries_use_the_indexes() {
        let store_dir = tempfile::tempdir().unwrap();
        let path = store_dir.path().join("tasks.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let base = TaskQuery {
            agent: "echo".into(),
            page_size: 10,
            ..Default::default()
        };
        let cases = [
            (base.clone(), None, "tasks_by_time"),
            (base.clone(), Some((5, "x".to_string())), "tasks_by_time"),
            (
                TaskQuery {
                    context_id: Some("c".into()),
                    ..base.clone()
                },
                Some((5, "x".to_string())),
                "tasks_by_context",
            ),
            (
                TaskQuery {
                    state: Some(TaskState::Working),
                    ..base.clone()
                },
                None,
                "tasks_by_state",
            ),
        ];
        for (query, cursor, index) in cases {
            let sql = ListSql::new(&query, cursor);
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.page))
                .unwrap();
            let plan: Vec<String> = stmt
                .query_map(params_from_iter(&sql.args), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains(index), "{}: {plan}", sql.page);
            assert!(!plan.contains("TEMP B-TREE"), "{}: {plan}", sql.page);
        }
    }
}
