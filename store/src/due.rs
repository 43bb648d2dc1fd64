//! What the reconciler checks next. Due objects are claimed, not just read: their next check
//! is pushed to the end of a lease in the same statement, so several instances never ask the
//! provider about (and act on) the same object at once. A crashed instance's claims come due
//! again when the lease ends.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use crate::codec::trusted;
use crate::{Database, StoreError, millis};

impl Database {
    /// Claims up to `limit` rows of `table` whose next check is due at `now`, returning `columns`.
    pub(crate) async fn claim_due(
        &self,
        table: &'static str,
        columns: &'static str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "UPDATE {table} SET next_check_at = $1 WHERE id IN (SELECT id FROM {table} \
             WHERE next_check_at IS NOT NULL AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3{}) \
             RETURNING {columns}",
            tx.dialect().skip_locked()
        );
        let rows = sqlx::query(trusted(sql))
            .bind(millis(lease_until))
            .bind(millis(now))
            .bind(i64::from(limit))
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(rows)
    }
}
