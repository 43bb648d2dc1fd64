use std::fmt;

use sqlx::error::{DatabaseError, ErrorKind};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The database refused a write that breaks one of its rules. Retrying the same write gives
    /// the same answer, unless a competing writer changes the data first.
    #[error("{constraint} ({detail})")]
    Constraint { constraint: Constraint, detail: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL `{0}`: use a file path, sqlite://path or postgres://user@host/db")]
    UnsupportedUrl(String),
    /// A row changed between read and write; the caller retries with fresh data.
    #[error("{0} was changed concurrently")]
    Conflict(String),
    /// The shared transaction holding this one's writes failed to commit (SQLite's group commit
    /// tells every part of it), and was rolled back; trying again can succeed.
    #[error("the commit failed: {0}")]
    CommitFailed(String),
    /// A stored value could not be read back (a bug or a manual edit of the database).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// Which kind of rule a refused write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
    Check,
    NotNull,
}

/// A rule of the schema, named the same on both databases: PostgreSQL names the constraint,
/// SQLite names the columns or the check's expression, and both are mapped to one meaning here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub kind: ConstraintKind,
    /// What the rule protects, in the payments domain (`the provider's payment id is already
    /// recorded`), for the caller's error message.
    pub meaning: &'static str,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.meaning)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(e) => match constraint_of(e.as_ref()) {
                Some(constraint) => StoreError::Constraint { constraint, detail: e.message().to_owned() },
                None => StoreError::Database(error),
            },
            _ => StoreError::Database(error),
        }
    }
}

impl StoreError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Constraint { constraint, .. } if constraint.kind == ConstraintKind::Unique)
    }

    /// Whether retrying the same operation later can succeed: connection loss, pool timeout or
    /// shutdown, lock contention and serialization failures. A broken rule, a bug or bad data
    /// fails the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::BeginFailed => true,
                sqlx::Error::Database(e) => is_transient_database_error(e.as_ref()),
                _ => false,
            },
            StoreError::Conflict(_) | StoreError::CommitFailed(_) => true,
            StoreError::Constraint { .. }
            | StoreError::Migrate(_)
            | StoreError::UnsupportedUrl(_)
            | StoreError::Corrupt(_) => false,
        }
    }
}

impl StoreError {
    /// Whether the database refused these values themselves (a broken constraint, a value it
    /// cannot hold), as opposed to failing whatever was written (a lost connection, a missing
    /// table, a full disk, a read-only failover). Only the first kind is worth isolating row by
    /// row: retrying other rows cannot help with the second.
    pub fn refuses_the_values(&self) -> bool {
        match self {
            StoreError::Constraint { .. } => true,
            StoreError::Database(sqlx::Error::Database(e)) => match error_code(e.as_ref()) {
                // SQLITE_TOOBIG, SQLITE_MISMATCH.
                Some(ErrorCode::Sqlite(code)) => matches!(code & 0xff, 18 | 20),
                // Class 22, data exception: a string PostgreSQL cannot hold, a number out of range.
                Some(ErrorCode::Sqlstate(state)) => state.starts_with("22"),
                None => false,
            },
            _ => false,
        }
    }
}

/// The error code as each database reports it: SQLite's extended result code (a number),
/// PostgreSQL's SQLSTATE (five characters, often all digits). sqlx's `Any` driver passes the
/// driver's own error through, which says which of the two it is.
enum ErrorCode {
    Sqlite(i32),
    Sqlstate(String),
}

fn error_code(e: &dyn DatabaseError) -> Option<ErrorCode> {
    let code = e.code()?;
    if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
        return Some(ErrorCode::Sqlstate(code.into_owned()));
    }
    code.parse().ok().map(ErrorCode::Sqlite)
}

fn is_transient_database_error(e: &dyn DatabaseError) -> bool {
    match error_code(e) {
        // SQLITE_BUSY and SQLITE_LOCKED (with their extended codes): another connection holds the lock.
        Some(ErrorCode::Sqlite(code)) => matches!(code & 0xff, 5 | 6),
        Some(ErrorCode::Sqlstate(state)) => {
            matches!(
                state.as_str(),
                // serialization_failure, deadlock_detected, lock_not_available
                "40001" | "40P01" | "55P03"
                // too_many_connections, admin/crash shutdown, cannot_connect_now: a restart or failover
                | "53300" | "57P01" | "57P02" | "57P03"
            ) || state.starts_with("08") // connection_exception
        }
        None => false,
    }
}

fn constraint_of(e: &dyn DatabaseError) -> Option<Constraint> {
    let kind = match e.kind() {
        ErrorKind::UniqueViolation => ConstraintKind::Unique,
        ErrorKind::ForeignKeyViolation => ConstraintKind::ForeignKey,
        ErrorKind::NotNullViolation => ConstraintKind::NotNull,
        ErrorKind::CheckViolation => ConstraintKind::Check,
        _ => return None,
    };
    // PostgreSQL names the constraint; SQLite puts the columns or the expression in its message.
    let named = e.constraint().unwrap_or_else(|| e.message());
    Some(Constraint { kind, meaning: meaning(kind, named) })
}

/// What each rule of the schema protects. The checks are unnamed in the migrations, so
/// PostgreSQL's generated names (`payments_amount_check`, `payments_check1`) and SQLite's messages
/// (`CHECK constraint failed: amount > 0`, `UNIQUE constraint failed: inbox.provider, …`) are
/// both recognised.
fn meaning(kind: ConstraintKind, named: &str) -> &'static str {
    let has = |needle: &str| named.contains(needle);
    match kind {
        ConstraintKind::Unique if has("provider_payment") => {
            "the provider's payment is already recorded for another payment"
        }
        ConstraintKind::Unique if has("provider_refund") => {
            "the provider's refund is already recorded for another refund"
        }
        ConstraintKind::Unique if has("provider_event_id") || has("inbox") => "this notification is already stored",
        ConstraintKind::Unique if has("idempotency") => "this Idempotency-Key is already in use",
        ConstraintKind::Unique if has("secret_hash") => "an API key with this secret already exists",
        ConstraintKind::Unique if has("event_id") && has("endpoint_id") => {
            "this event is already queued for this endpoint"
        }
        ConstraintKind::Unique => "a record with this identity already exists",
        ConstraintKind::Check if has("<= amount_captured") || named == "payments_check1" => {
            "refunds cannot exceed the captured amount"
        }
        ConstraintKind::Check if has("amount_refunded >= 0") || named == "payments_check" => {
            "refunded amounts cannot be negative"
        }
        ConstraintKind::Check if has("amount") => "amounts must be positive",
        ConstraintKind::Check => "a value is outside what payhub can store",
        ConstraintKind::ForeignKey => "the record it refers to does not exist",
        ConstraintKind::NotNull => "a required value is missing",
    }
}
