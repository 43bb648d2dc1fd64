//! Figures read for `/metrics` at each scrape: what waits, and for how long. Each is one
//! indexed count, cheap enough to read every few seconds.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::codec::opt_time;
use crate::{Database, StoreError, millis};

/// The tables whose rows carry the time of their next check by the reconciler.
pub const CHECKED_KINDS: &[&str] = &["payments", "refunds", "subscriptions", "disputes"];

/// How many of one kind are due for a check, and how many of those were due before `late_since`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksDue {
    pub due: i64,
    pub late: i64,
}

impl Database {
    /// When the oldest notification still waiting to be applied arrived.
    pub async fn oldest_pending_notification(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query("SELECT MIN(received_at) AS oldest FROM inbox WHERE status = 'pending'")
            .fetch_one(self.reader())
            .await?;
        opt_time(&row, "oldest")
    }

    /// The checks of `kind` (one of [`CHECKED_KINDS`]) due at `now`, and those due since before
    /// `late_since`.
    pub async fn checks_due(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        late_since: DateTime<Utc>,
    ) -> Result<ChecksDue, StoreError> {
        let Some(table) = CHECKED_KINDS.iter().find(|k| **k == kind) else {
            return Err(StoreError::Corrupt(format!("`{kind}` has no scheduled checks")));
        };
        let sql = format!(
            "SELECT COUNT(*) AS due, COALESCE(SUM(CASE WHEN next_check_at <= $2 THEN 1 ELSE 0 END), 0) AS late \
             FROM {table} WHERE next_check_at IS NOT NULL AND next_check_at <= $1"
        );
        let row = sqlx::query(crate::codec::trusted(sql))
            .bind(millis(now))
            .bind(millis(late_since))
            .fetch_one(self.reader())
            .await?;
        Ok(ChecksDue { due: row.try_get("due")?, late: row.try_get("late")? })
    }
}
