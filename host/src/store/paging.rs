//! ListTasks paging, the same for every store: the sort key, page tokens
//! (keyset cursors), page sizes, the SQL conditions of a query, and the
//! assembly of a page from rows read in ListTasks order.
//!
//! ListTasks order is newest status timestamp first (milliseconds, a task
//! without one counts as 0), ties broken by task id descending. A page
//! token is the sort key of the page's last task; the next page starts
//! strictly after it, so a page costs the same at any depth and never
//! skips or repeats a task that did not change meanwhile.

use super::{StoreError, TaskPage, TaskQuery};
use crate::model::Task;

/// The largest page: a ListTasks query asks for `1..=MAX_PAGE_SIZE` tasks.
pub const MAX_PAGE_SIZE: usize = 100;

/// Where a page starts: the sort key (status time in milliseconds, task
/// id) of the previous page's last task.
pub(crate) type Cursor = (i64, String);

/// Encodes a ListTasks cursor: the last row's status time and id.
pub fn encode_page_token(status_millis: i64, task_id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{status_millis}:{task_id}"))
}

/// Decodes a token from [`encode_page_token`].
pub fn decode_page_token(token: &str) -> Option<(i64, String)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (ms, id) = raw.split_once(':')?;
    Some((ms.parse().ok()?, id.to_string()))
}

/// The status timestamp of a task in milliseconds (0 if unset), the sort key
/// of ListTasks.
pub fn status_millis(task: &Task) -> i64 {
    task.status.timestamp.map(|t| t.unix_millis()).unwrap_or(0)
}

/// The cursor of a query's page token; `None` (the first page) without a
/// token or with an empty one. A token that does not decode is an error
/// that names it.
pub(crate) fn cursor(query: &TaskQuery) -> Result<Option<Cursor>, StoreError> {
    match query.page_token.as_deref() {
        None | Some("") => Ok(None),
        Some(token) => decode_page_token(token)
            .map(Some)
            .ok_or_else(|| StoreError::Other(format!("invalid page token `{token}`"))),
    }
}

/// A query's page size, clamped to `1..=MAX_PAGE_SIZE`.
pub(crate) fn page_size(query: &TaskQuery) -> usize {
    query.page_size.clamp(1, MAX_PAGE_SIZE)
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// A value bound to a parameter of a ListTasks statement.
pub(crate) enum SqlArg {
    Text(String),
    Int(i64),
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The conditions of a ListTasks query in SQL, for the SQL stores (whose
/// `tasks` tables have the same columns): their text with numbered
/// placeholders (`?1` for SQLite, `$1` for PostgreSQL) and the values to
/// bind, in placeholder order.
pub(crate) struct ListConditions {
    /// The filters alone: what `total_size` counts. Its placeholders are
    /// the first `filter_args` of `args`.
    pub(crate) filter: String,
    /// (SQLite counts with the filters alone; PostgreSQL counts in the
    /// page's statement.)
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) filter_args: usize,
    /// The filters and the cursor: the rows of this page and after.
    pub(crate) page: String,
    /// The placeholder of the page's row limit, the last of `args`: one
    /// more than the page size, to learn whether another page follows.
    pub(crate) limit: String,
    pub(crate) args: Vec<SqlArg>,
    pub(crate) page_size: usize,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl ListConditions {
    /// The conditions of `query` from `cursor` on; `sigil` starts a
    /// placeholder (`?` or `$`).
    pub(crate) fn new(query: &TaskQuery, cursor: Option<Cursor>, sigil: char) -> Self {
        use std::fmt::Write as _;
        let page_size = page_size(query);
        let mut args = vec![SqlArg::Text(query.agent.clone())];
        let mut filter = format!("agent = {sigil}1");
        if let Some(context_id) = &query.context_id {
            args.push(SqlArg::Text(context_id.clone()));
            write!(filter, " AND context_id = {sigil}{}", args.len()).expect("String");
        }
        if let Some(state) = query.state {
            args.push(SqlArg::Text(state.as_proto_str().into()));
            write!(filter, " AND state = {sigil}{}", args.len()).expect("String");
        }
        if let Some(after) = query.status_after {
            args.push(SqlArg::Int(after.unix_millis()));
            write!(filter, " AND status_ms >= {sigil}{}", args.len()).expect("String");
        }
        let filter_args = args.len();
        let mut page = filter.clone();
        if let Some((ms, id)) = cursor {
            args.push(SqlArg::Int(ms));
            args.push(SqlArg::Text(id));
            write!(
                page,
                " AND (status_ms, id) < ({sigil}{}, {sigil}{})",
                args.len() - 1,
                args.len()
            )
            .expect("String");
        }
        args.push(SqlArg::Int(page_size as i64 + 1));
        let limit = format!("{sigil}{}", args.len());
        ListConditions {
            filter,
            filter_args,
            page,
            limit,
            args,
            page_size,
        }
    }
}

/// One page of tasks, built from rows read in ListTasks order from the
/// page's start: up to the page size of them, and one more if there is
/// one, which only says that another page follows.
pub(crate) struct PageBuilder {
    page_size: usize,
    tasks: Vec<Task>,
    /// The sort key of the last task on the page.
    last: Option<(i64, String)>,
    /// Whether a row came after a full page.
    more: bool,
}

impl PageBuilder {
    pub(crate) fn new(page_size: usize) -> Self {
        PageBuilder {
            page_size,
            tasks: Vec::with_capacity(page_size.min(16)),
            last: None,
            more: false,
        }
    }

    /// Whether the next row read belongs on the page. Once the page is
    /// full, a next row means that another page follows: this notes it and
    /// answers `false`, and the caller stops reading.
    pub(crate) fn has_room(&mut self) -> bool {
        if self.tasks.len() == self.page_size {
            self.more = true;
            return false;
        }
        true
    }

    /// Puts the next task on the page, with its sort key.
    pub(crate) fn push(&mut self, status_ms: i64, task_id: String, task: Task) {
        self.tasks.push(task);
        self.last = Some((status_ms, task_id));
    }

    /// The page, with `total_size` matching tasks in all.
    pub(crate) fn finish(self, total_size: u64) -> TaskPage {
        let next_page_token = match self.last {
            Some((ms, id)) if self.more => encode_page_token(ms, &id),
            _ => String::new(),
        };
        TaskPage {
            tasks: self.tasks,
            next_page_token,
            total_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TaskState, Timestamp};

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let token = encode_page_token(-5, "a:b");
        assert_eq!(decode_page_token(&token), Some((-5, "a:b".to_string())));
        for bad in ["not a token!", "%%%", "MTIzNDU"] {
            assert_eq!(decode_page_token(bad), None, "{bad}");
        }
        let query = |token: Option<&str>| TaskQuery {
            page_token: token.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(cursor(&query(None)).unwrap(), None);
        assert_eq!(cursor(&query(Some(""))).unwrap(), None);
        assert_eq!(
            cursor(&query(Some(&token))).unwrap(),
            Some((-5, "a:b".into()))
        );
        let Err(StoreError::Other(message)) = cursor(&query(Some("%%%"))) else {
            panic!("a bad token must fail");
        };
        assert!(message.contains("page token `%%%`"), "{message}");
    }

    #[test]
    fn conditions_number_their_placeholders() {
        let query = TaskQuery {
            agent: "echo".into(),
            context_id: Some("c".into()),
            state: Some(TaskState::Working),
            status_after: Timestamp::from_unix_millis(7),
            page_size: 500,
            page_token: None,
        };
        let c = ListConditions::new(&query, Some((5, "x".into())), '$');
        assert_eq!(
            c.filter,
            "agent = $1 AND context_id = $2 AND state = $3 AND status_ms >= $4"
        );
        assert_eq!(c.filter_args, 4);
        assert_eq!(
            c.page,
            format!("{} AND (status_ms, id) < ($5, $6)", c.filter)
        );
        assert_eq!((c.limit.as_str(), c.args.len()), ("$7", 7));
        assert!(matches!(c.args[6], SqlArg::Int(101)));
        assert_eq!(c.page_size, MAX_PAGE_SIZE);

        let plain = TaskQuery {
            agent: "echo".into(),
            ..Default::default()
        };
        let c = ListConditions::new(&plain, None, '?');
        assert_eq!(
            (c.filter.as_str(), c.page.as_str()),
            ("agent = ?1", "agent = ?1")
        );
        assert_eq!((c.limit.as_str(), c.page_size), ("?2", 1));
    }

    #[test]
    fn a_row_past_a_full_page_makes_the_token() {
        let task = |id: &str| Task {
            id: id.into(),
            ..Default::default()
        };
        let mut page = PageBuilder::new(2);
        for (ms, id) in [(3, "c"), (2, "b"), (1, "a")] {
            if !page.has_room() {
                break;
            }
            page.push(ms, id.into(), task(id));
        }
        let page = page.finish(9);
        assert_eq!(page.tasks.len(), 2);
        assert_eq!(page.total_size, 9);
        assert_eq!(
            decode_page_token(&page.next_page_token),
            Some((2, "b".into()))
        );

        let mut last = PageBuilder::new(2);
        assert!(last.has_room());
        last.push(1, "a".into(), task("a"));
        assert_eq!(last.finish(1).next_page_token, "");
    }
}
