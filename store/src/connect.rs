use std::sync::Arc;
use std::time::Duration;

use sqlx::any::install_default_drivers;
use sqlx::pool::PoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, PgPool, Row};

use crate::mail::RecipientsCache;
use crate::param::Param;
use crate::read::{ReadSide, SqliteReaders};
use crate::writer::Writer;
use crate::{StoreError, Tx};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Row lock for read-modify-write inside a transaction. SQLite needs none: its single writer
    /// connection already serializes those transactions.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Lets several instances claim disjoint batches of work without waiting on each other.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The database handle: cheap to clone, shared by every request and worker.
#[derive(Debug, Clone)]
pub struct Database {
    writer: WriteSide,
    reads: ReadSide,
    dialect: Dialect,
    /// PostgreSQL only: connections of the native driver for the inbox's batches, whose
    /// columns travel as binary arrays (the `Any` driver binds no arrays).
    inbox_batches: Option<PgPool>,
    /// Who is mailed about which events, as this process last read or wrote it.
    pub(crate) mail_recipients: Arc<RecipientsCache>,
}

/// Durability is the product: with WAL and `synchronous=FULL` a commit is on disk (the WAL is
/// fsynced) before it returns, so an acknowledged notification survives power loss. NORMAL would
/// be 5x faster per commit and could lose the last transactions; group commit recovers the
/// throughput instead.
const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";
const SQLITE_READER_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;";

/// Where write transactions begin.
#[derive(Clone)]
enum WriteSide {
    /// PostgreSQL: a transaction per connection of the shared pool.
    Pool(AnyPool),
    /// SQLite: parts of transactions on its one writer connection (group commit).
    Sqlite(Arc<Writer>),
}

impl std::fmt::Debug for WriteSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteSide::Pool(_) => "WriteSide::Pool",
            WriteSide::Sqlite(_) => "WriteSide::Sqlite",
        })
    }
}

const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL connection idle in the pool for this long is pinged before it is handed out:
/// the server, or a proxy in between, may have closed it meanwhile. One idle for less was
/// pinged as it went back to the pool (sqlx always does that) a moment ago; pinging it again
/// would cost every transaction and every read a second round trip for nothing.
const POSTGRES_PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Inbox batches committing at once on PostgreSQL, each on its own connection of the inbox's
/// pool. More would take connections from the rest of the server for little: the commits
/// already share the server's WAL flushes.
pub const POSTGRES_INBOX_BATCHES_IN_FLIGHT: usize = 4;

/// How every PostgreSQL pool of the store hands out connections.
fn postgres_pool<DB: sqlx::Database>(max_connections: u32) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(max_connections)
        // While the server is down, a request waits this long for a connection before it is
        // answered 503: short enough to answer a provider before it gives up on the delivery
        // (none documents how long it waits), long enough to ride out a busy pool.
        .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= POSTGRES_PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

impl Database {
    /// Opens `url`: a file path or `sqlite://path` for SQLite (created if missing), or a
    /// `postgres://` URL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, 16).await
    }

    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = postgres_pool(max_connections.max(2)).connect(url).await?;
            let inbox_batches = postgres_pool(POSTGRES_INBOX_BATCHES_IN_FLIGHT as u32).connect_lazy(url)?;
            return Ok(Self {
                writer: WriteSide::Pool(pool.clone()),
                reads: ReadSide::Pool(pool),
                dialect: Dialect::Postgres,
                inbox_batches: Some(inbox_batches),
                mail_recipients: Default::default(),
            });
        }
        let path = sqlite_path(url)?;
        let writer = Writer::connect(path, SQLITE_WRITER_PRAGMAS)?;
        // Reads run on the runtime's threads (one per core), each holding a connection for a few
        // microseconds: one connection per core leaves one free for each, and no more copies of
        // the page cache than that.
        let cores = std::thread::available_parallelism().map_or(2, usize::from).clamp(2, 8);
        let readers = SqliteReaders::open(path, SQLITE_READER_PRAGMAS, cores.min(max_connections.max(1) as usize))?;
        Ok(Self {
            writer: WriteSide::Sqlite(writer),
            reads: ReadSide::Sqlite(Arc::new(readers)),
            dialect: Dialect::Sqlite,
            inbox_batches: None,
            mail_recipients: Default::default(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Brings the schema up to date; safe to run from several instances at once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.writer {
            // On a connection of sqlx's, which keeps the migrations' record, while the writer
            // holds no transaction open.
            WriteSide::Sqlite(writer) => {
                let url = format!("sqlite://{}?mode=rw", writer.path());
                writer
                    .exclusive(async || {
                        let mut conn = AnyConnection::connect(&url).await?;
                        conn.execute(SQLITE_WRITER_PRAGMAS).await?;
                        let migrated = SQLITE_MIGRATIONS.run(&mut conn).await;
                        let _ = conn.close().await;
                        migrated.map_err(StoreError::from)
                    })
                    .await??
            }
            WriteSide::Pool(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The migrations this build knows that the database has not applied, by version.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        let rows = self.read_all("SELECT version FROM _sqlx_migrations", &[]).await?;
        let applied: Vec<i64> = rows.iter().map(|row| row.try_get("version")).collect::<Result<_, _>>()?;
        Ok(migrator.iter().map(|m| m.version).filter(|version| !applied.contains(version)).collect())
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.writer {
            WriteSide::Pool(pool) => Tx::pooled(pool.begin().await?, self.dialect, self.mail_recipients.clone()),
            WriteSide::Sqlite(writer) => {
                Tx::on_writer(writer.begin().await?, self.dialect, self.mail_recipients.clone())
            }
        })
    }

    /// One write statement committed on its own; how many rows it touched.
    pub(crate) async fn write(&self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let touched = tx.execute_count(sql, params.to_vec()).await?;
        tx.commit().await?;
        Ok(touched)
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read_one("SELECT 1", &[]).await?;
        Ok(())
    }

    pub(crate) fn reads(&self) -> &ReadSide {
        &self.reads
    }

    pub(crate) fn inbox_batches(&self) -> Option<&PgPool> {
        self.inbox_batches.as_ref()
    }

    pub async fn close(&self) {
        match &self.writer {
            WriteSide::Pool(pool) => pool.close().await,
            WriteSide::Sqlite(writer) => writer.close().await,
        }
        match &self.reads {
            ReadSide::Pool(pool) => pool.close().await,
            ReadSide::Sqlite(readers) => readers.close(),
        }
        if let Some(pool) = &self.inbox_batches {
            pool.close().await;
        }
    }
}

fn sqlite_path(url: &str) -> Result<&str, StoreError> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.contains("://") {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_and_plain_paths_name_a_file() {
        assert_eq!(sqlite_path("payhub.db").unwrap(), "payhub.db");
        assert_eq!(sqlite_path("sqlite://data/payhub.db?mode=rwc").unwrap(), "data/payhub.db");
        assert_eq!(sqlite_path("sqlite:/var/lib/payhub.db").unwrap(), "/var/lib/payhub.db");
        assert!(matches!(sqlite_path("mysql://x"), Err(StoreError::UnsupportedUrl(_))));
        assert!(matches!(sqlite_path(""), Err(StoreError::UnsupportedUrl(_))));
    }

    #[tokio::test]
    async fn a_postgres_connection_closed_by_the_server_while_idle_is_replaced_before_use() {
        let Some(t) = crate::testing::TestDatabase::fresh(crate::testing::Backend::Postgres).await else {
            return;
        };
        // Every connection the pool has is idle, then ended by the server.
        t.db.ping().await.unwrap();
        let mut admin = sqlx::AnyConnection::connect(&t.url).await.unwrap();
        let ended = sqlx::query(
            "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert!(ended.try_get::<i64, _>("n").unwrap() >= 1, "the pool's connection was ended");
        tokio::time::sleep(POSTGRES_PING_IF_IDLE_FOR + Duration::from_millis(100)).await;
        t.db.ping().await.expect("a live connection in place of the ended one");
    }
}
