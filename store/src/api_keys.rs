use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::id::ApiKeyId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{opt_time, parsed, time};
use crate::{Database, StoreError, millis};

/// An API key as stored: only a hash of the secret, and its last characters to recognise it.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub mode: Mode,
    pub name: String,
    pub secret_hint: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub mode: Mode,
    pub name: String,
    pub secret_hash: String,
    pub secret_hint: String,
}

const COLUMNS: &str = "id, mode, name, secret_hint, created_at, revoked_at";

fn from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(ApiKeyRecord {
        id: ApiKeyId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        name: row.try_get("name")?,
        secret_hint: row.try_get("secret_hint")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

impl Database {
    pub async fn create_api_key(&self, new: NewApiKey, now: DateTime<Utc>) -> Result<ApiKeyRecord, StoreError> {
        let NewApiKey { id, mode, name, secret_hash, secret_hint } = new;
        let mut tx = self.begin().await?;
        tx.execute(
            "INSERT INTO api_keys (id, mode, name, secret_hash, secret_hint, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                id.as_str().into(),
                mode.as_str().into(),
                (&name).into(),
                (&secret_hash).into(),
                (&secret_hint).into(),
                millis(now).into(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(ApiKeyRecord { id, mode, name, secret_hint, created_at: now, revoked_at: None })
    }

    /// The unrevoked key whose secret hashes to `secret_hash`.
    pub async fn active_api_key(&self, secret_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL");
        let row = self.read_optional(&sql, &[secret_hash.into()]).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY id");
        let rows = self.read_all(&sql, &[]).await?;
        rows.iter().map(from_row).collect()
    }

    /// Revokes a key; returns false when no active key has that id.
    pub async fn revoke_api_key(&self, id: &ApiKeyId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        Ok(self.write(sql, &[millis(now).into(), id.as_str().into()]).await? == 1)
    }
}
