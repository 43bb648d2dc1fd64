//! SQLite's connections, run on the calling thread: the writer's, and the readers' (see
//! `crate::read`).
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands every statement to
//! it and back: two thread wake-ups, 40 µs on these machines, for statements that take 5 to
//! 20 µs to run (see BENCHMARKS.md, "Apply on SQLite"). The writer runs every write transaction
//! in turn, so those hand-offs were the ceiling of every write path. Here its statements run
//! where they are called, under the writer's lock, from a cache of prepared statements; only
//! COMMIT, which waits for the disk, goes to a blocking thread so that the runtime's threads go
//! on answering meanwhile. Rows are handed back as sqlx's `AnyRow`, and errors as a
//! `sqlx::Error::Database`, so that every reader of rows and errors serves both databases alike.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Statement};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx_core::any::{AnyColumn, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind};
use sqlx_core::ext::ustr::UStr;

use crate::StoreError;
use crate::param::Param;

/// Statements kept prepared: every statement the write paths send, with room to spare.
const PREPARED_STATEMENTS: usize = 256;

/// A connection. Cloning it shares the connection. The writer's lock (see `crate::writer`)
/// decides who uses the writer's, so its mutex is only ever waited on by a statement that
/// follows a COMMIT its caller stopped waiting for; a reader's is taken by whichever read finds
/// it free (`crate::read`).
#[derive(Clone)]
pub(crate) struct SqliteConn {
    conn: Arc<Mutex<Connection>>,
}

/// What a statement answered: its rows, and how many rows it changed.
pub(crate) struct Answer {
    pub(crate) rows: Vec<AnyRow>,
    pub(crate) changed: u64,
}

/// Whether a statement is kept prepared for the next time it is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prepared {
    Cached,
    /// A statement whose text differs almost every time (a batch of many rows): caching it
    /// would only push out the ones that repeat.
    Once,
}

impl SqliteConn {
    /// Opens (creating if missing) the file at `path` and applies `pragmas`.
    pub(crate) fn open(path: &str, pragmas: &str) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(failure)?;
        conn.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
        conn.execute_batch(pragmas).map_err(failure)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs one statement with `params` bound to its placeholders: `$k` takes the k-th value,
    /// an anonymous `?` the value in its place.
    pub(crate) fn run(&self, sql: &str, params: &[Param<'_>], prepared: Prepared) -> Result<Answer, StoreError> {
        statement(&self.lock(), sql, params, prepared)
    }

    /// Runs one statement as [`run`](Self::run) does if no other thread is using the
    /// connection; `None` if one is.
    pub(crate) fn try_run(
        &self,
        sql: &str,
        params: &[Param<'_>],
        prepared: Prepared,
    ) -> Option<Result<Answer, StoreError>> {
        let conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(statement(&conn, sql, params, prepared))
    }

    /// Begins a transaction. One left open by a failure that its own ROLLBACK could not end
    /// (none is known; this keeps the writer from refusing every transaction after one) is
    /// rolled back first.
    pub(crate) fn begin(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        if !conn.is_autocommit() {
            tracing::warn!("the SQLite writer found a transaction left open and rolled it back");
            conn.execute_batch("ROLLBACK").map_err(failure)?;
        }
        conn.execute_batch("BEGIN").map_err(failure)
    }

    /// Runs statements without values (transaction control).
    pub(crate) fn control(&self, sql: &str) -> Result<(), StoreError> {
        self.lock().execute_batch(sql).map_err(failure)
    }

    /// Runs `work` on a blocking thread: for a COMMIT, which waits for the disk. Should its
    /// caller stop waiting, `work` runs to its end all the same, and the connection is not used
    /// by anything else before.
    pub(crate) async fn in_background(&self, work: impl FnOnce(&SqliteConn) + Send + 'static) {
        let conn = self.clone();
        // A panic in `work` is the only way for this to fail; its caller's outcome channels
        // then close, which the callers hear as a failed commit.
        let _ = tokio::task::spawn_blocking(move || work(&conn)).await;
    }

    /// Keeps the connection busy for as long as the guard lives, as another thread's statement
    /// would.
    #[cfg(test)]
    pub(crate) fn hold(&self) -> MutexGuard<'_, Connection> {
        self.lock()
    }

    /// The connection; a statement that panicked with it held left SQLite consistent (its own
    /// state is transactional), so the poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn statement(conn: &Connection, sql: &str, params: &[Param<'_>], prepared: Prepared) -> Result<Answer, StoreError> {
    let rows = match prepared {
        Prepared::Cached => rows(&mut *conn.prepare_cached(sql).map_err(failure)?, params),
        Prepared::Once => rows(&mut conn.prepare(sql).map_err(failure)?, params),
    }?;
    Ok(Answer { rows, changed: conn.changes() })
}

fn rows(statement: &mut Statement<'_>, params: &[Param<'_>]) -> Result<Vec<AnyRow>, StoreError> {
    for index in 1..=statement.parameter_count() {
        // sqlx numbered the values the same way: `$k` (or `?k`) by its number, `?` by its place.
        let position = statement
            .parameter_name(index)
            .and_then(|name| name.get(1..))
            .and_then(|number| number.parse::<usize>().ok())
            .unwrap_or(index);
        let value = params.get(position - 1).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Protocol(format!("no value for placeholder {position}")))
        })?;
        match value {
            Param::Text(text) => statement.raw_bind_parameter(index, text.as_deref()),
            Param::Int(number) => statement.raw_bind_parameter(index, number),
            Param::Bytes(bytes) => statement.raw_bind_parameter(index, bytes.as_ref()),
        }
        .map_err(failure)?;
    }
    let columns = columns(statement);
    let mut rows = statement.raw_query();
    let mut answer = Vec::new();
    while let Some(row) = rows.next().map_err(failure)? {
        let values = (0..columns.list.len())
            .map(|i| row.get_ref(i).map(any_value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(failure)?;
        answer.push(AnyRow { column_names: columns.names.clone(), columns: columns.list.clone(), values });
    }
    Ok(answer)
}

/// A statement's columns, as sqlx's rows carry them.
struct Columns {
    names: Arc<sqlx_core::HashMap<UStr, usize>>,
    list: Vec<AnyColumn>,
}

fn columns(statement: &Statement<'_>) -> Columns {
    let names: Vec<&str> = statement.column_names();
    let list = names
        .iter()
        .enumerate()
        // Typed by each value, as sqlx's SQLite driver does: SQLite's columns have no type.
        .map(|(ordinal, name)| AnyColumn {
            ordinal,
            name: UStr::new(name),
            type_info: AnyTypeInfo { kind: AnyTypeInfoKind::Null },
        })
        .collect();
    let names = names.iter().enumerate().map(|(i, name)| (UStr::new(name), i)).collect();
    Columns { names: Arc::new(names), list }
}

/// A value as sqlx's `Any` driver carries it, by its storage class.
fn any_value(value: ValueRef<'_>) -> AnyValue {
    let kind = match value {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(number) => AnyValueKind::BigInt(number),
        ValueRef::Real(number) => AnyValueKind::Double(number),
        ValueRef::Text(text) => AnyValueKind::Text(Arc::new(String::from_utf8_lossy(text).into_owned())),
        ValueRef::Blob(bytes) => AnyValueKind::Blob(Arc::new(bytes.to_vec())),
    };
    AnyValue { kind }
}

/// SQLite's refusal as the error sqlx's own SQLite driver would have given, so that the
/// constraint and transient-error checks of `crate::error` read both alike.
fn failure(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            let message = message.unwrap_or_else(|| code.to_string());
            StoreError::from(sqlx::Error::Database(Box::new(SqliteFailure { code: code.extended_code, message })))
        }
        other => StoreError::Database(sqlx::Error::Protocol(other.to_string())),
    }
}

#[derive(Debug)]
struct SqliteFailure {
    /// SQLite's extended result code.
    code: i32,
    message: String,
}

impl fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqliteFailure {}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
            2067 | 1555 => ErrorKind::UniqueViolation,
            // SQLITE_CONSTRAINT_FOREIGNKEY
            787 => ErrorKind::ForeignKeyViolation,
            // SQLITE_CONSTRAINT_NOTNULL
            1299 => ErrorKind::NotNullViolation,
            // SQLITE_CONSTRAINT_CHECK
            275 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::ConstraintKind;

    const INSERT: &str = "INSERT INTO t (id, name) VALUES ($1, $2)";

    fn open() -> (tempfile::TempDir, SqliteConn) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = SqliteConn::open(path.to_str().unwrap(), "PRAGMA journal_mode = WAL;").unwrap();
        conn.control("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, body BLOB, score REAL)")
            .unwrap();
        (dir, conn)
    }

    #[test]
    fn numbered_placeholders_take_their_value_by_number_and_anonymous_ones_by_place() {
        let (_dir, conn) = open();
        let params = [7_i64.into(), "seven".into(), "copy".into()];
        let inserted =
            conn.run("INSERT INTO t (name, id) VALUES ($2, $1), ($3 || '-' || $2, $1 + 1)", &params, Prepared::Cached);
        assert_eq!(inserted.unwrap().changed, 2);
        let params = [9_i64.into(), "nine".into(), b"\x00\x01".as_slice().into()];
        conn.run("INSERT INTO t (id, name, body, score) VALUES (?, ?, ?, 0.5)", &params, Prepared::Once).unwrap();

        let rows = conn.run("SELECT id, name, body, score FROM t ORDER BY id", &[], Prepared::Cached).unwrap().rows;
        let ids: Vec<i64> = rows.iter().map(|row| row.try_get("id").unwrap()).collect();
        assert_eq!(ids, [7, 8, 9]);
        assert_eq!(rows[0].try_get::<String, _>("name").unwrap(), "seven");
        assert_eq!(rows[1].try_get::<String, _>("name").unwrap(), "copy-seven");
        assert_eq!(rows[0].try_get::<Option<Vec<u8>>, _>("body").unwrap(), None);
        assert_eq!(rows[2].try_get::<Vec<u8>, _>("body").unwrap(), [0, 1]);
        assert_eq!(rows[2].try_get::<f64, _>("score").unwrap(), 0.5);
    }

    #[test]
    fn a_refused_write_is_the_constraint_error_sqlx_gave() {
        let (_dir, conn) = open();
        conn.run(INSERT, &[1_i64.into(), "one".into()], Prepared::Cached).unwrap();
        let taken = conn.run(INSERT, &[2_i64.into(), "one".into()], Prepared::Cached).err().unwrap();
        assert!(taken.is_unique_violation(), "{taken:?}");
        let missing = conn.run(INSERT, &[3_i64.into(), Option::<&str>::None.into()], Prepared::Cached).err().unwrap();
        assert!(
            matches!(&missing, StoreError::Constraint { constraint, .. } if constraint.kind == ConstraintKind::NotNull),
            "{missing:?}"
        );
        let rows = conn.run("SELECT COUNT(*) AS n FROM t", &[], Prepared::Cached).unwrap().rows;
        assert_eq!(rows[0].try_get::<i64, _>("n").unwrap(), 1, "the refused rows are not written");
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error() {
        let (_dir, conn) = open();
        let error = conn.run("SELECT $2 AS x", &[1_i64.into()], Prepared::Cached).err().unwrap();
        assert!(matches!(error, StoreError::Database(sqlx::Error::Protocol(_))), "{error:?}");
    }

    #[tokio::test]
    async fn a_commit_in_the_background_is_kept_and_a_transaction_left_open_is_rolled_back_as_the_next_begins() {
        let (_dir, conn) = open();
        conn.begin().unwrap();
        conn.run(INSERT, &[1_i64.into(), "one".into()], Prepared::Cached).unwrap();
        let (told, heard) = std::sync::mpsc::channel();
        conn.in_background(move |conn| told.send(conn.control("COMMIT")).unwrap()).await;
        heard.recv().unwrap().expect("committed");
        // A transaction left open is rolled back as the next one begins.
        conn.control("BEGIN").unwrap();
        conn.run(INSERT, &[2_i64.into(), "two".into()], Prepared::Cached).unwrap();
        conn.begin().expect("begins after rolling back the one left open");
        let rows = conn.run("SELECT id FROM t", &[], Prepared::Cached).unwrap().rows;
        assert_eq!(rows.len(), 1, "the committed row alone");
    }
}
