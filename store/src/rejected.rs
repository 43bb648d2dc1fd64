//! Refused notifications, for the on-call engineer, in bounded space. Every refusal is counted
//! by provider, reason and source network; only a sample of them is kept with (the start of)
//! its body, and samples and counts older than the retention, or samples beyond the most recent
//! `max_samples`, are deleted. So a flood of forgeries costs a few rows, not the disk — except
//! a verified notification the inbox could not store: that record is the only copy, and is kept
//! whole and never pruned.

use chrono::{DateTime, Utc};
use payhub_core::ProviderName;
use sqlx::Row;

use crate::codec::{time, to_json};
use crate::{Database, StoreError, millis};

/// A sampled body is kept up to this size: enough to see what a forgery looks like.
const SAMPLE_BODY_BYTES: usize = 4 * 1024;
/// Every refusal from a new (provider, reason, source) is sampled up to this count; after it,
/// only the 2^n-th, so one persistent sender leaves a handful of samples however long it goes on.
const SAMPLED_FIRST: i64 = 10;
/// The reason of a verified notification that could not be stored.
const UNSTORABLE: &str = "unstorable";

/// What is kept of a refusal besides its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Headers and the whole body: the refused notification was genuine.
    Whole,
    /// Headers and the start of the body, if the refusal falls in the sample.
    Sample,
    /// Nothing: obviously not a notification (too large, not JSON).
    CountOnly,
}

/// A notification that failed verification or could not be read; recorded, never applied.
#[derive(Debug, Clone)]
pub struct RejectedNotification {
    pub provider: ProviderName,
    /// Stable code, e.g. `bad_signature`, `cert_url_not_allowed`, `malformed_body`.
    pub reason: String,
    pub detail: String,
    /// Where it came from: the sender's network (`203.0.113.0/24`), or `unknown`.
    pub source: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub kept: Kept,
    pub received_at: DateTime<Utc>,
}

/// How much of the record of refusals is kept.
#[derive(Debug, Clone, Copy)]
pub struct RejectionRetention {
    pub max_age: chrono::Duration,
    pub max_samples: u32,
}

/// Refusals counted for one provider, reason and source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionCount {
    pub reason: String,
    pub source: String,
    pub count: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

impl Database {
    /// Counts a refusal and keeps what `rejected.kept` says, within `retention`.
    pub async fn record_rejected(
        &self,
        rejected: &RejectedNotification,
        retention: RejectionRetention,
    ) -> Result<(), StoreError> {
        let at = millis(rejected.received_at);
        let mut tx = self.begin().await?;
        let row = tx
            .fetch_one(
                "INSERT INTO rejection_counts (provider, reason, source, count, first_at, last_at) \
             VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (provider, reason, source) \
             DO UPDATE SET count = rejection_counts.count + 1, last_at = $4 RETURNING count",
                vec![
                    rejected.provider.as_str().into(),
                    (&rejected.reason).into(),
                    (&rejected.source).into(),
                    at.into(),
                ],
            )
            .await?;
        let count: i64 = row.try_get("count")?;
        let body = match rejected.kept {
            Kept::Whole => Some(&rejected.body[..]),
            Kept::Sample if count <= SAMPLED_FIRST || count.count_ones() == 1 => {
                Some(&rejected.body[..rejected.body.len().min(SAMPLE_BODY_BYTES)])
            }
            Kept::Sample | Kept::CountOnly => None,
        };
        if let Some(body) = body {
            tx.execute(
                "INSERT INTO rejected_notifications (provider, reason, detail, headers, body, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    rejected.provider.as_str().into(),
                    (&rejected.reason).into(),
                    (&rejected.detail).into(),
                    to_json(&rejected.headers).into(),
                    body.into(),
                    at.into(),
                ],
            )
            .await?;
            // Pruned when a sample is added, so the work stays proportional to what is kept.
            let oldest_kept = millis(rejected.received_at - retention.max_age);
            tx.execute(
                "DELETE FROM rejected_notifications WHERE reason <> $1 AND received_at < $2",
                vec![UNSTORABLE.into(), oldest_kept.into()],
            )
            .await?;
            tx.execute(
                "DELETE FROM rejected_notifications WHERE reason <> $1 AND id <= (SELECT id FROM \
                 rejected_notifications WHERE reason <> $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                vec![UNSTORABLE.into(), i64::from(retention.max_samples).into()],
            )
            .await?;
            tx.execute("DELETE FROM rejection_counts WHERE last_at < $1", vec![oldest_kept.into()]).await?;
        }
        tx.commit().await
    }

    /// The most recent kept refusals, newest first: (reason, detail, received_at).
    pub async fn recent_rejections(
        &self,
        provider: ProviderName,
        limit: u32,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let sql = "SELECT reason, detail, received_at FROM rejected_notifications WHERE provider = $1 \
                   ORDER BY id DESC LIMIT $2";
        let rows = self.read_all(sql, &[provider.as_str().into(), i64::from(limit).into()]).await?;
        rows.iter().map(|r| Ok((r.try_get("reason")?, r.try_get("detail")?, time(r, "received_at")?))).collect()
    }

    /// Refusals counted for `provider`, by reason and source, the largest first.
    pub async fn rejection_counts(&self, provider: ProviderName) -> Result<Vec<RejectionCount>, StoreError> {
        let sql = "SELECT reason, source, count, first_at, last_at FROM rejection_counts WHERE provider = $1 \
                   ORDER BY count DESC, reason, source";
        let rows = self.read_all(sql, &[provider.as_str().into()]).await?;
        rows.iter()
            .map(|r| {
                Ok(RejectionCount {
                    reason: r.try_get("reason")?,
                    source: r.try_get("source")?,
                    count: r.try_get("count")?,
                    first_at: time(r, "first_at")?,
                    last_at: time(r, "last_at")?,
                })
            })
            .collect()
    }
}
