//! Figures read for `/metrics` at each scrape (what waits, and for how long: each one
//! indexed count, cheap enough to read every few seconds) and for the console's overview
//! (one mode's payments, refunds and disputes of a period: one grouped query each, over the
//! `(mode, created_at)` indexes).

use chrono::{DateTime, Utc};
use payhub_core::{Currency, Mode};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::opt_time;
use crate::{Database, StoreError, millis};

/// Statuses of a payment whose buyer paid (a refunded payment was paid first).
const PAID: &str = "status IN ('succeeded', 'refunded')";
/// A payment the provider refused.
const FAILED: &str = "status = 'failed'";
/// Milliseconds in an hour: `created_at / HOUR_MS` numbers the hour a row was created in.
const HOUR_MS: i64 = 3_600_000;

/// One currency's payments created in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFigures {
    pub currency: Currency,
    pub created: i64,
    /// Paid by the buyer (succeeded, or refunded since).
    pub paid: i64,
    pub failed: i64,
    /// What the paid ones captured, in minor units.
    pub captured: i64,
}

/// One currency's refunds created in a period that have not failed (made or under way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFigures {
    pub currency: Currency,
    pub count: i64,
    pub amount: i64,
}

/// The payments created in one hour that were paid, and that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourFigures {
    pub hour: DateTime<Utc>,
    pub paid: i64,
    pub failed: i64,
}

fn currency(row: &AnyRow) -> Result<Currency, StoreError> {
    let code: String = row.try_get("currency")?;
    Currency::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))
}

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
        let row =
            self.read_aside_one("SELECT MIN(received_at) AS oldest FROM inbox WHERE status = 'pending'", &[]).await?;
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
        let row = self.read_aside_one(&sql, &[millis(now).into(), millis(late_since).into()]).await?;
        Ok(ChecksDue { due: row.try_get("due")?, late: row.try_get("late")? })
    }

    /// The rows of `sql`, a query of one mode's (`$1`) rows created since a time (`$2`).
    async fn rows_of_period(&self, sql: &str, mode: Mode, since: DateTime<Utc>) -> Result<Vec<AnyRow>, StoreError> {
        self.read_aside(sql, &[mode.as_str().into(), millis(since).into()]).await
    }

    /// One mode's payments created since `since`, by currency (in code order).
    pub async fn payment_figures(&self, mode: Mode, since: DateTime<Utc>) -> Result<Vec<PaymentFigures>, StoreError> {
        // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back to read an i64 on both stores.
        let sql = format!(
            "SELECT currency, COUNT(*) AS created, \
             CAST(SUM(CASE WHEN {PAID} THEN 1 ELSE 0 END) AS BIGINT) AS paid, \
             CAST(SUM(CASE WHEN {FAILED} THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
             CAST(SUM(CASE WHEN {PAID} THEN amount_captured ELSE 0 END) AS BIGINT) AS captured \
             FROM payments WHERE mode = $1 AND created_at >= $2 GROUP BY currency ORDER BY currency"
        );
        let rows = self.rows_of_period(&sql, mode, since).await?;
        rows.iter()
            .map(|r| {
                Ok(PaymentFigures {
                    currency: currency(r)?,
                    created: r.try_get("created")?,
                    paid: r.try_get("paid")?,
                    failed: r.try_get("failed")?,
                    captured: r.try_get("captured")?,
                })
            })
            .collect()
    }

    /// One mode's refunds created since `since` that have not failed, by currency.
    pub async fn refund_figures(&self, mode: Mode, since: DateTime<Utc>) -> Result<Vec<RefundFigures>, StoreError> {
        let sql = "SELECT currency, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS amount FROM refunds \
                   WHERE mode = $1 AND created_at >= $2 AND status <> 'failed' GROUP BY currency ORDER BY currency";
        let rows = self.rows_of_period(sql, mode, since).await?;
        rows.iter()
            .map(|r| Ok(RefundFigures { currency: currency(r)?, count: r.try_get("n")?, amount: r.try_get("amount")? }))
            .collect()
    }

    /// One mode's payments created since `since`, paid and failed, by the hour they were
    /// created in (hours without any are left out), oldest first.
    pub async fn payments_by_hour(&self, mode: Mode, since: DateTime<Utc>) -> Result<Vec<HourFigures>, StoreError> {
        let sql = format!(
            "SELECT created_at / {HOUR_MS} AS hour, \
             CAST(SUM(CASE WHEN {PAID} THEN 1 ELSE 0 END) AS BIGINT) AS paid, \
             CAST(SUM(CASE WHEN {FAILED} THEN 1 ELSE 0 END) AS BIGINT) AS failed \
             FROM payments WHERE mode = $1 AND created_at >= $2 GROUP BY created_at / {HOUR_MS} ORDER BY hour"
        );
        let rows = self.rows_of_period(&sql, mode, since).await?;
        rows.iter()
            .map(|r| {
                let hour: i64 = r.try_get("hour")?;
                let hour = DateTime::from_timestamp_millis(hour * HOUR_MS)
                    .ok_or_else(|| StoreError::Corrupt(format!("hour {hour} is out of range")))?;
                Ok(HourFigures { hour, paid: r.try_get("paid")?, failed: r.try_get("failed")? })
            })
            .collect()
    }

    /// How many of one mode's disputes are not settled yet (not won, lost or accepted).
    pub async fn open_disputes(&self, mode: Mode) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM disputes WHERE mode = $1 AND status NOT IN ('won', 'lost', 'accepted')";
        let row = self.read_aside_one(sql, &[mode.as_str().into()]).await?;
        Ok(row.try_get("n")?)
    }

    /// How many of one mode's endpoints are failing: disabled, or refused a delivery attempt
    /// since `since`. One count however many endpoints there are (a list of them is capped).
    pub async fn failing_endpoints(&self, mode: Mode, since: DateTime<Utc>) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM webhook_endpoints e WHERE e.mode = $1 AND (e.status = 'disabled' \
                   OR EXISTS (SELECT 1 FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id \
                   WHERE d.endpoint_id = e.id AND a.attempted_at >= $2 AND a.error IS NOT NULL))";
        let row = self.read_aside_one(sql, &[mode.as_str().into(), millis(since).into()]).await?;
        Ok(row.try_get("n")?)
    }

    /// How many of one mode's disputes wait for the merchant's response, and when the soonest
    /// of those responses is due: all of them, however many (a list of them is capped).
    pub async fn disputes_awaiting_response(&self, mode: Mode) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        let sql = "SELECT COUNT(*) AS n, MIN(response_due_at) AS due FROM disputes \
                   WHERE mode = $1 AND status = 'needs_response'";
        let row = self.read_aside_one(sql, &[mode.as_str().into()]).await?;
        Ok((row.try_get("n")?, opt_time(&row, "due")?))
    }
}
