//! What the console's timeline of a resource reads beyond its transitions and events: the
//! provider notifications that moved it and each attempt to deliver its events.

use chrono::{DateTime, Utc};
use payhub_core::id::EventId;
use sqlx::Row;

use crate::codec::{opt_time, time};
use crate::{Database, StoreError};

/// One stored provider notification, as a timeline shows it.
#[derive(Debug, Clone)]
pub struct NotificationSummary {
    pub provider: String,
    pub provider_event_id: String,
    pub event_type: String,
    /// `pending`, `processed` or `failed`.
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub endpoint_id: String,
    pub attempt: i64,
    pub at: DateTime<Utc>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl Database {
    /// A stored notification by its inbox row.
    pub async fn inbox_notification(&self, inbox_id: i64) -> Result<Option<NotificationSummary>, StoreError> {
        let sql = "SELECT provider, provider_event_id, event_type, status, received_at, processed_at, last_error \
                   FROM inbox WHERE id = $1";
        let row = self.read_optional(sql, &[inbox_id.into()]).await?;
        row.map(|r| {
            Ok(NotificationSummary {
                provider: r.try_get("provider")?,
                provider_event_id: r.try_get("provider_event_id")?,
                event_type: r.try_get("event_type")?,
                status: r.try_get("status")?,
                received_at: time(&r, "received_at")?,
                processed_at: opt_time(&r, "processed_at")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .transpose()
    }

    /// Every attempt to deliver an event, to every endpoint, oldest first.
    pub async fn delivery_attempts_of_event(&self, event_id: &EventId) -> Result<Vec<AttemptRecord>, StoreError> {
        let sql = "SELECT d.endpoint_id, a.attempt, a.attempted_at, a.status_code, a.error, a.duration_ms \
                   FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
                   WHERE d.event_id = $1 ORDER BY a.id";
        let rows = self.read_all(sql, &[event_id.as_str().into()]).await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRecord {
                    endpoint_id: r.try_get("endpoint_id")?,
                    attempt: r.try_get("attempt")?,
                    at: time(r, "attempted_at")?,
                    status_code: r.try_get("status_code")?,
                    error: r.try_get("error")?,
                    duration_ms: r.try_get("duration_ms")?,
                })
            })
            .collect()
    }
}
