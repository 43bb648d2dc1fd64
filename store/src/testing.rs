//! Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL database created on
//! the server named by `PAYHUB_TEST_DATABASE_URL` and dropped when the test ends.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyConnection;
use sqlx::Connection;

use crate::{Database, StoreError};

pub const POSTGRES_URL_VAR: &str = "PAYHUB_TEST_DATABASE_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that lives as long as this value.
pub struct TestDatabase {
    pub db: Database,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    DropPostgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh database on `backend`, or `None` (after saying why) when PostgreSQL is not
    /// configured on this machine.
    pub async fn fresh(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("payhub.db").display());
        let db = Database::connect(&url).await.expect("open SQLite");
        db.migrate().await.expect("migrate SQLite");
        Self { db, url, cleanup: Cleanup::Directory(dir) }
    }

    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            eprintln!("{POSTGRES_URL_VAR} is not set: skipping the PostgreSQL variant of this test");
            return None;
        };
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name =
            format!("payhub_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), rand_suffix());
        sqlx::any::install_default_drivers();
        let mut admin = AnyConnection::connect(&admin_url).await.expect("connect to PAYHUB_TEST_DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let url = replace_database(&admin_url, &name);
        let db = Database::connect_with(&url, 8).await.expect("connect to the test database");
        db.migrate().await.expect("migrate PostgreSQL");
        Some(Self { db, url, cleanup: Cleanup::DropPostgres { admin_url, name } })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::DropPostgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot block on itself: use a thread
            // with its own small runtime. FORCE ends the pool connections still open.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                runtime.block_on(async {
                    if let Ok(mut admin) = AnyConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

impl Database {
    /// The `n` of a `SELECT COUNT(*) AS n …` a test wrote, for checking what is left in the
    /// queues (pending notifications, deliveries, requests in progress) after a run.
    pub async fn count_rows(&self, sql: &'static str) -> Result<i64, StoreError> {
        use sqlx::Row;
        let row = self.read_one(sql, &[]).await?;
        Ok(row.try_get("n")?)
    }
}

fn rand_suffix() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

/// `postgres://u@h:5432/postgres?x=y` with the database part replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_and_path = &base[scheme_end..];
    let host = host_and_path.split('/').next().unwrap_or(host_and_path);
    let mut out = format!("{}{}/{}", &base[..scheme_end], host, name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(replace_database("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(replace_database("postgres://u@h/db?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
    }
}
