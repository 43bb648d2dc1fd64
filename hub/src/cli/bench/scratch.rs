//! A fresh database per target, so one target's rows never slow another's queries.

use anyhow::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        })
    }
}

/// A database made for one target and removed when the target is done.
pub(crate) struct Scratch {
    pub url: String,
    place: Place,
}

enum Place {
    File(std::path::PathBuf),
    Postgres { server_url: String, name: String },
}

impl Scratch {
    pub async fn create(store: Store, server_url: Option<&str>) -> anyhow::Result<Self> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("payhub_bench_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        match store {
            Store::Sqlite => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let url = format!("sqlite://{}", dir.join("bench.db").display());
                Ok(Self { url, place: Place::File(dir) })
            }
            Store::Postgres => {
                use sqlx::Connection;
                let server_url = server_url.context("the PostgreSQL targets need --database-url")?;
                sqlx::any::install_default_drivers();
                let mut admin =
                    sqlx::AnyConnection::connect(server_url).await.context("cannot connect to --database-url")?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
                let mut url = url::Url::parse(server_url)?;
                url.set_path(&format!("/{name}"));
                Ok(Self { url: url.to_string(), place: Place::Postgres { server_url: server_url.to_owned(), name } })
            }
        }
    }

    pub async fn remove(self) {
        match self.place {
            Place::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Postgres { server_url, name } => {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::AnyConnection::connect(&server_url).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await;
                }
            }
        }
    }
}
