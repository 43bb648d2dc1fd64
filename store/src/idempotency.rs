//! Idempotency keys: the same key and the same request give the same response, once; the same
//! key with a different request is refused rather than silently answered with the old result.

use chrono::{DateTime, Utc};
use payhub_core::Mode;
use sqlx::Row;

use crate::{Database, StoreError, millis};

/// No API request runs this long; an older `in_progress` key belongs to a crashed process.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use of the key: run the request, then [`Database::complete_idempotency_key`].
    New,
    /// The same request is still running (a client retried too early).
    InProgress,
    /// The key was used for a different request.
    Mismatch,
    Completed(StoredResponse),
}

impl Database {
    pub async fn claim_idempotency_key(
        &self,
        mode: Mode,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (mode, key, request_fingerprint, status, created_at) \
             VALUES ($1, $2, $3, 'in_progress', $4) ON CONFLICT (mode, key) DO NOTHING",
        )
        .bind(mode.as_str())
        .bind(key)
        .bind(fingerprint)
        .bind(millis(now))
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        let claim = if inserted {
            IdempotencyClaim::New
        } else {
            let row = sqlx::query(
                "SELECT request_fingerprint, status, response_status, response_content_type, response_body \
                 FROM idempotency_keys WHERE mode = $1 AND key = $2",
            )
            .bind(mode.as_str())
            .bind(key)
            .fetch_one(tx.conn())
            .await?;
            let stored_fingerprint: String = row.try_get("request_fingerprint")?;
            let status: String = row.try_get("status")?;
            if stored_fingerprint != fingerprint {
                IdempotencyClaim::Mismatch
            } else if status == "in_progress" {
                // A request that has been "in progress" for minutes died with its process; the
                // retry takes the key over rather than being refused forever.
                let taken_over = sqlx::query(
                    "UPDATE idempotency_keys SET created_at = $1 WHERE mode = $2 AND key = $3 \
                     AND status = 'in_progress' AND created_at < $4",
                )
                .bind(millis(now))
                .bind(mode.as_str())
                .bind(key)
                .bind(millis(now - ABANDONED_AFTER))
                .execute(tx.conn())
                .await?
                .rows_affected()
                    == 1;
                if taken_over { IdempotencyClaim::New } else { IdempotencyClaim::InProgress }
            } else {
                let code: Option<i64> = row.try_get("response_status")?;
                IdempotencyClaim::Completed(StoredResponse {
                    status: code.and_then(|c| u16::try_from(c).ok()).unwrap_or(500),
                    content_type: row.try_get::<Option<String>, _>("response_content_type")?.unwrap_or_default(),
                    body: row.try_get::<Option<Vec<u8>>, _>("response_body")?.unwrap_or_default(),
                })
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    pub async fn complete_idempotency_key(
        &self,
        mode: Mode,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE idempotency_keys SET status = 'completed', response_status = $1, \
             response_content_type = $2, response_body = $3 WHERE mode = $4 AND key = $5",
        )
        .bind(i64::from(response.status))
        .bind(&response.content_type)
        .bind(&response.body)
        .bind(mode.as_str())
        .bind(key)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// Forgets a key whose request did not run to a result worth replaying (it was refused before
    /// doing anything), so the client may retry with the same key.
    pub async fn release_idempotency_key(&self, mode: Mode, key: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE mode = $1 AND key = $2 AND status = 'in_progress'")
            .bind(mode.as_str())
            .bind(key)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Drops keys older than `before` (clients retry within hours, not weeks).
    pub async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(millis(before))
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
