use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL `{0}`: use a file path, sqlite://path or postgres://user@host/db")]
    UnsupportedUrl(String),
    /// A row changed between read and write; the caller retries with fresh data.
    #[error("{0} was changed concurrently")]
    Conflict(String),
    /// A stored value could not be read back (a bug or a manual edit of the database).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// Whether retrying the same operation later can succeed (connection loss, pool timeout, lock
    /// contention), as opposed to a bug or bad data.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Database(_)
            ),
            StoreError::Conflict(_) => true,
            _ => false,
        }
    }
}
