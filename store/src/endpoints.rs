use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::id::WebhookEndpointId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, parsed, time, to_json, trusted};
use crate::{Database, Page, StoreError, millis, page};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    Enabled,
    /// Turned off after failing for days; its deliveries stop until it is re-enabled.
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
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub mode: Mode,
    pub url: String,
    pub secret: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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

const COLUMNS: &str =
    "id, mode, url, secret, event_types, description, status, disabled_reason, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<WebhookEndpoint, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        event_types: json(row, "event_types")?,
        description: row.try_get("description")?,
        status: parsed(row, "status", EndpointStatus::parse)?,
        disabled_reason: row.try_get("disabled_reason")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
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
            event_types: new.event_types,
            description: new.description,
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin().await?;
        let sql = format!("INSERT INTO webhook_endpoints ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        sqlx::query(trusted(sql))
            .bind(endpoint.id.as_str())
            .bind(endpoint.mode.as_str())
            .bind(&endpoint.url)
            .bind(&endpoint.secret)
            .bind(to_json(&endpoint.event_types))
            .bind(&endpoint.description)
            .bind(endpoint.status.as_str())
            .bind(&endpoint.disabled_reason)
            .bind(millis(now))
            .bind(millis(now))
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    pub async fn endpoint(&self, mode: Mode, id: &WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND mode = $2");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).bind(mode.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn endpoint_by_id(&self, id: &WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_endpoints(
        &self,
        mode: Mode,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_endpoints WHERE mode = $1 AND ($2 = '' OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(starting_after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.reader())
            .await?;
        page(rows, limit, from_row)
    }

    /// Deletes an endpoint and abandons its undelivered events. Returns whether it existed.
    pub async fn delete_endpoint(
        &self,
        mode: Mode,
        id: &WebhookEndpointId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND mode = $2")
            .bind(id.as_str())
            .bind(mode.as_str())
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1;
        if deleted {
            sqlx::query(
                "UPDATE deliveries SET status = 'failed', last_error = 'endpoint deleted', \
                 locked_until = NULL, next_attempt_at = $2 WHERE endpoint_id = $1 AND status = 'pending'",
            )
            .bind(id.as_str())
            .bind(millis(now))
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    pub async fn set_endpoint_status(
        &self,
        id: &WebhookEndpointId,
        status: EndpointStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE webhook_endpoints SET status = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4")
            .bind(status.as_str())
            .bind(reason)
            .bind(millis(now))
            .bind(id.as_str())
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
