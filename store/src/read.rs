//! Reads of committed data, outside any transaction.
//!
//! On PostgreSQL they take a connection of the shared pool. On SQLite they run on the calling
//! thread, on a connection of their own (WAL lets readers and the writer work at once), like the
//! writer's statements and for the same reason (`crate::sqlite`): a read that an index bounds
//! takes a few microseconds, and handing it to sqlx's worker thread and back cost more than
//! that, once or twice per API request (its key, and for a read the resource). A read whose
//! cost grows with the data (an aggregate for the console or the metrics) instead runs on a
//! blocking thread ([`Database::read_aside`]), so that it never holds up a runtime thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sqlx::AnyPool;
use sqlx::any::AnyRow;

use crate::param::{Param, query};
use crate::sqlite::{Answer, Prepared, SqliteConn};
use crate::{Database, StoreError};

/// Where reads go.
#[derive(Clone, Debug)]
pub(crate) enum ReadSide {
    /// PostgreSQL: the shared pool.
    Pool(AnyPool),
    Sqlite(Arc<SqliteReaders>),
}

/// SQLite's read connections: some for reads on the calling thread, tried in turn until one
/// is free, and one for the reads run aside.
pub(crate) struct SqliteReaders {
    inline: Vec<SqliteConn>,
    next: AtomicUsize,
    aside: SqliteConn,
    closed: AtomicBool,
}

impl std::fmt::Debug for SqliteReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReaders").field("inline", &self.inline.len()).finish_non_exhaustive()
    }
}

impl SqliteReaders {
    /// Opens `inline` connections (at least one) and the one for reads aside.
    pub(crate) fn open(path: &str, pragmas: &str, inline: usize) -> Result<Self, StoreError> {
        Ok(Self {
            inline: (0..inline.max(1)).map(|_| SqliteConn::open(path, pragmas)).collect::<Result<_, _>>()?,
            next: AtomicUsize::new(0),
            aside: SqliteConn::open(path, pragmas)?,
            closed: AtomicBool::new(false),
        })
    }

    /// Runs `sql` on a free connection. Only runtime threads run reads here, each for
    /// microseconds, so with a connection per runtime thread one is always free; with fewer,
    /// the read waits those microseconds for one.
    fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<Answer, StoreError> {
        self.still_open()?;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.inline.len();
        (0..count)
            .find_map(|k| self.inline[(start + k) % count].try_run(sql, params, Prepared::Cached))
            .unwrap_or_else(|| self.inline[start % count].run(sql, params, Prepared::Cached))
    }

    fn still_open(&self) -> Result<(), StoreError> {
        match self.closed.load(Ordering::Relaxed) {
            true => Err(StoreError::Database(sqlx::Error::PoolClosed)),
            false => Ok(()),
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

impl Database {
    /// The rows of `sql`: a read that an index bounds.
    pub(crate) async fn read_all(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<AnyRow>, StoreError> {
        Ok(match self.reads() {
            ReadSide::Pool(pool) => query(sql.to_owned(), params).fetch_all(pool).await?,
            ReadSide::Sqlite(readers) => readers.run(sql, params)?.rows,
        })
    }

    /// The first row of `sql`, if any.
    pub(crate) async fn read_optional(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<AnyRow>, StoreError> {
        Ok(match self.reads() {
            ReadSide::Pool(pool) => query(sql.to_owned(), params).fetch_optional(pool).await?,
            ReadSide::Sqlite(readers) => readers.run(sql, params)?.rows.into_iter().next(),
        })
    }

    /// The one row of `sql`; none is an error.
    pub(crate) async fn read_one(&self, sql: &str, params: &[Param<'_>]) -> Result<AnyRow, StoreError> {
        self.read_optional(sql, params).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// The rows of `sql`, a read whose cost grows with the data (an aggregate over a table): on
    /// SQLite it runs on a blocking thread, one such read at a time.
    pub(crate) async fn read_aside(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<AnyRow>, StoreError> {
        let readers = match self.reads() {
            ReadSide::Pool(pool) => return Ok(query(sql.to_owned(), params).fetch_all(pool).await?),
            ReadSide::Sqlite(readers) => readers.clone(),
        };
        readers.still_open()?;
        let sql = sql.to_owned();
        let params: Vec<Param<'static>> = params.iter().cloned().map(Param::into_owned).collect();
        let read = tokio::task::spawn_blocking(move || readers.aside.run(&sql, &params, Prepared::Cached));
        let answer = read.await.map_err(|e| StoreError::Database(sqlx::Error::Protocol(e.to_string())))??;
        Ok(answer.rows)
    }

    /// The one row of an aggregate read aside (see [`read_aside`](Self::read_aside)).
    pub(crate) async fn read_aside_one(&self, sql: &str, params: &[Param<'_>]) -> Result<AnyRow, StoreError> {
        let rows = self.read_aside(sql, params).await?;
        rows.into_iter().next().ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Row;

    use super::*;
    use crate::testing::{Backend, TestDatabase};

    const COUNT: &str = "SELECT COUNT(*) AS n FROM key_checks";

    fn n(row: &AnyRow) -> i64 {
        row.try_get("n").unwrap()
    }

    #[tokio::test]
    async fn reads_inline_and_aside_see_committed_data_only() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let Some(t) = TestDatabase::fresh(backend).await else { continue };
            let mut tx = t.db.begin().await.unwrap();
            let insert = "INSERT INTO key_checks (purpose, check_value, created_at) VALUES ($1, $2, $3)";
            tx.execute(insert, vec!["test".into(), "check".into(), 1_i64.into()]).await.unwrap();
            assert_eq!(n(&t.db.read_one(COUNT, &[]).await.unwrap()), 0, "{backend:?}: not committed yet");
            assert_eq!(n(&t.db.read_aside_one(COUNT, &[]).await.unwrap()), 0, "{backend:?}: not committed yet");
            tx.commit().await.unwrap();
            assert_eq!(n(&t.db.read_one(COUNT, &[]).await.unwrap()), 1, "{backend:?}");
            assert_eq!(n(&t.db.read_aside_one(COUNT, &[]).await.unwrap()), 1, "{backend:?}");
            let sql = "SELECT check_value FROM key_checks WHERE purpose = $1";
            let found = t.db.read_optional(sql, &["test".into()]).await.unwrap();
            assert_eq!(found.unwrap().try_get::<String, _>("check_value").unwrap(), "check");
            assert!(t.db.read_optional(sql, &["other".into()]).await.unwrap().is_none(), "{backend:?}");
        }
    }

    #[tokio::test]
    async fn a_read_takes_whichever_connection_is_free() {
        let t = TestDatabase::sqlite().await;
        let ReadSide::Sqlite(readers) = t.db.reads().clone() else { unreachable!("a SQLite database") };
        assert!(readers.inline.len() >= 2, "{readers:?}");
        let (told, heard) = std::sync::mpsc::channel();
        // Each of these reads starts at the next connection in turn, the busy one among them.
        std::thread::scope(|scope| {
            let readers = &readers;
            // Held in here so that a failed check lets it go (and the reader thread end).
            let busy = readers.inline[0].hold();
            scope.spawn(move || {
                for _ in 0..readers.inline.len() {
                    told.send(readers.run(COUNT, &[]).map(|answer| n(&answer.rows[0]))).unwrap();
                }
            });
            for _ in 0..readers.inline.len() {
                let answer = heard.recv_timeout(Duration::from_secs(10)).expect("answered beside the busy connection");
                assert_eq!(answer.unwrap(), 0);
            }
            drop(busy);
        });
    }

    #[tokio::test]
    async fn no_read_is_answered_once_the_database_is_closed() {
        let t = TestDatabase::sqlite().await;
        t.db.close().await;
        for closed in [t.db.read_one(COUNT, &[]).await.map(drop), t.db.read_aside_one(COUNT, &[]).await.map(drop)] {
            assert!(matches!(closed, Err(StoreError::Database(sqlx::Error::PoolClosed))), "{closed:?}");
        }
    }
}
