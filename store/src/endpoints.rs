use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::id::WebhookEndpointId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, parsed, time, to_json};
use crate::table::Table;
use crate::{Database, Page, StoreError, millis};

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

#[rustfmt::skip]
const ENDPOINTS: Table<WebhookEndpoint, 10> = Table {
    name: "webhook_endpoints",
    resource: "webhook endpoint",
    columns: [
        "id", "mode", "url", "secret", "event_types", "description", "status", "disabled_reason", "created_at",
        "updated_at",
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
