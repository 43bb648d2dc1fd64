use chrono::{DateTime, Utc};
use payhub_core::ProviderName;
use sqlx::Row;

use crate::codec::{time, to_json};
use crate::{Database, StoreError, millis};

/// Bodies of rejected notifications are kept only up to this size: enough to investigate a
/// forgery, not enough for an attacker to fill the disk.
const KEPT_BODY_BYTES: usize = 64 * 1024;

/// A notification that failed verification or could not be read; recorded, never applied.
#[derive(Debug, Clone)]
pub struct RejectedNotification {
    pub provider: ProviderName,
    /// Stable code, e.g. `bad_signature`, `cert_url_not_allowed`, `malformed_body`.
    pub reason: String,
    pub detail: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Keep the body whole, not only its first [`KEPT_BODY_BYTES`]: for a notification that
    /// passed verification but could not be stored, this record is the only copy.
    pub whole_body: bool,
    pub received_at: DateTime<Utc>,
}

impl Database {
    pub async fn record_rejected(&self, rejected: &RejectedNotification) -> Result<(), StoreError> {
        let kept = if rejected.whole_body { rejected.body.len() } else { rejected.body.len().min(KEPT_BODY_BYTES) };
        let body = &rejected.body[..kept];
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO rejected_notifications (provider, reason, detail, headers, body, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(rejected.provider.as_str())
        .bind(&rejected.reason)
        .bind(&rejected.detail)
        .bind(to_json(&rejected.headers))
        .bind(body)
        .bind(millis(rejected.received_at))
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// The most recent rejections, newest first: (reason, detail, received_at).
    pub async fn recent_rejections(
        &self,
        provider: ProviderName,
        limit: u32,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT reason, detail, received_at FROM rejected_notifications WHERE provider = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(provider.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("reason")?, r.try_get("detail")?, time(r, "received_at")?))).collect()
    }
}
