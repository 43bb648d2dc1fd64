use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::id::WebhookEndpointId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_time, parsed, time, to_json};
use crate::table::Table;
use crate::{Database, Page, StoreError, millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    Enabled,
    /// Turned off, by payhub after failing for days or by an operator; nothing is sent to it,
    /// retries included, until it is enabled again.
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "enabled" => Some(EndpointStatus::Enabled),
            "disabled" => Some(EndpointStatus::Disabled),
            _ => None,
        }
    }
}

/// A merchant URL that receives the event stream, signed with its own secret.
///
/// Secrets are kept as the hub hands them over (encrypted when it encrypts them at rest).
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub mode: Mode,
    pub url: String,
    pub secret: String,
    /// The secret the last rotation replaced, still signing until it expires.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// The request whose rotation set the current secret.
    pub secret_rotated_by: Option<String>,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was last disabled or enabled; never, for an endpoint enabled since it was made.
    pub status_changed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub id: WebhookEndpointId,
    pub mode: Mode,
    pub url: String,
    pub secret: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

#[rustfmt::skip]
const ENDPOINTS: Table<WebhookEndpoint, 14> = Table {
    name: "webhook_endpoints",
    resource: "webhook endpoint",
    columns: [
        "id", "mode", "url", "secret", "event_types", "description", "status", "disabled_reason", "created_at",
        "updated_at", "previous_secret", "previous_secret_expires_at", "secret_rotated_by", "status_changed_at",
    ],
    decode: from_row,
};

fn from_row(row: &AnyRow) -> Result<WebhookEndpoint, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        previous_secret: row.try_get("previous_secret")?,
        previous_secret_expires_at: opt_time(row, "previous_secret_expires_at")?,
        secret_rotated_by: row.try_get("secret_rotated_by")?,
        event_types: json(row, "event_types")?,
        description: row.try_get("description")?,
        status: parsed(row, "status", EndpointStatus::parse)?,
        disabled_reason: row.try_get("disabled_reason")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        status_changed_at: opt_time(row, "status_changed_at")?,
    })
}

impl Database {
    pub async fn create_endpoint(
        &self,
        new: NewWebhookEndpoint,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, StoreError> {
        let endpoint = WebhookEndpoint {
            id: new.id,
            mode: new.mode,
            url: new.url,
            secret: new.secret,
            previous_secret: None,
            previous_secret_expires_at: None,
            secret_rotated_by: None,
            event_types: new.event_types,
            description: new.description,
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
            status_changed_at: None,
        };
        let mut tx = self.begin().await?;
        let values = [
            endpoint.id.as_str().into(),
            endpoint.mode.as_str().into(),
            (&endpoint.url).into(),
            (&endpoint.secret).into(),
            to_json(&endpoint.event_types).into(),
            (&endpoint.description).into(),
            endpoint.status.as_str().into(),
            (&endpoint.disabled_reason).into(),
            millis(now).into(),
            millis(now).into(),
            None::<String>.into(),
            None::<i64>.into(),
            None::<String>.into(),
            None::<i64>.into(),
        ];
        tx.insert(&ENDPOINTS, values).await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    pub async fn endpoint(&self, mode: Mode, id: &WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.find_in_mode(&ENDPOINTS, mode, id.as_str()).await
    }

    pub async fn endpoint_by_id(&self, id: &WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.find_by_id(&ENDPOINTS, id.as_str()).await
    }

    /// The endpoints with one of `ids`, whatever their mode, in one query (ids not found are
    /// left out).
    pub async fn endpoints_by_ids(&self, ids: &[&WebhookEndpointId]) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        self.find_by_ids(&ENDPOINTS, &ids).await
    }

    pub async fn list_endpoints(
        &self,
        mode: Mode,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        self.list_newest_first(&ENDPOINTS, mode, &[], starting_after, limit).await
    }

    /// Deletes an endpoint and abandons its undelivered events. Returns whether it existed.
    pub async fn delete_endpoint(
        &self,
        mode: Mode,
        id: &WebhookEndpointId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let deleted = tx
            .execute_count(
                "DELETE FROM webhook_endpoints WHERE id = $1 AND mode = $2",
                vec![id.as_str().into(), mode.as_str().into()],
            )
            .await?
            == 1;
        if deleted {
            tx.execute(
                "UPDATE deliveries SET status = 'failed', last_error = 'endpoint deleted', \
                 locked_until = NULL, next_attempt_at = $2 WHERE endpoint_id = $1 AND status = 'pending'",
                vec![id.as_str().into(), millis(now).into()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Enables or disables an endpoint. Disabling it stops its deliveries in the same
    /// transaction: those waiting for a retry are marked failed (kept, so a replay after
    /// re-enabling sends them again). A delivery under way at that moment is not retried
    /// either (see `record_delivery_attempts`). Returns whether an endpoint has that id.
    pub async fn set_endpoint_status(
        &self,
        id: &WebhookEndpointId,
        status: EndpointStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let sql = "UPDATE webhook_endpoints SET status = $1, disabled_reason = $2, updated_at = $3, \
                   status_changed_at = $3 WHERE id = $4";
        let params = vec![status.as_str().into(), reason.into(), millis(now).into(), id.as_str().into()];
        let found = tx.execute_count(sql, params).await? == 1;
        if found && status == EndpointStatus::Disabled {
            tx.execute(
                "UPDATE deliveries SET status = 'failed', last_error = 'endpoint disabled', \
                 locked_until = NULL, next_attempt_at = $2 WHERE endpoint_id = $1 AND status = 'pending'",
                vec![id.as_str().into(), millis(now).into()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(found)
    }

    /// Replaces an endpoint's secrets if its current secret is still `expected` (a concurrent
    /// rotation or re-encryption wins otherwise, and the caller reads the endpoint again).
    /// Returns whether it replaced them.
    pub async fn replace_endpoint_secrets(
        &self,
        id: &WebhookEndpointId,
        expected: &str,
        secrets: &EndpointSecrets,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE webhook_endpoints SET secret = $1, previous_secret = $2, previous_secret_expires_at = $3, \
                   secret_rotated_by = $4, updated_at = $5 WHERE id = $6 AND secret = $7";
        let params = [
            (&secrets.secret).into(),
            (&secrets.previous_secret).into(),
            secrets.previous_secret_expires_at.map(millis).into(),
            (&secrets.rotated_by).into(),
            millis(now).into(),
            id.as_str().into(),
            expected.into(),
        ];
        Ok(self.write(sql, &params).await? == 1)
    }

    /// Every endpoint of both modes, oldest first (to re-encrypt their secrets).
    pub async fn all_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = self.read_all("SELECT * FROM webhook_endpoints ORDER BY id", &[]).await?;
        rows.iter().map(from_row).collect()
    }

    /// The check value recorded for `purpose`, if any.
    pub async fn key_check(&self, purpose: &str) -> Result<Option<String>, StoreError> {
        let row =
            self.read_optional("SELECT check_value FROM key_checks WHERE purpose = $1", &[purpose.into()]).await?;
        Ok(row.map(|row| row.try_get("check_value")).transpose()?)
    }

    /// Records the check value for `purpose` unless one is recorded already (by another
    /// instance starting at the same moment); returns the one recorded.
    pub async fn record_key_check(
        &self,
        purpose: &str,
        check_value: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let sql = "INSERT INTO key_checks (purpose, check_value, created_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (purpose) DO NOTHING";
        self.write(sql, &[purpose.into(), check_value.into(), millis(now).into()]).await?;
        let recorded = self.key_check(purpose).await?;
        recorded
            .ok_or_else(|| StoreError::Corrupt(format!("the key check for {purpose} vanished after it was recorded")))
    }
}

/// An endpoint's signing secrets, as one rotation or re-encryption writes them.
#[derive(Debug, Clone)]
pub struct EndpointSecrets {
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub rotated_by: Option<String>,
}
