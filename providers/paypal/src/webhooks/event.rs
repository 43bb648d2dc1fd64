//! The notification body.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A webhook event envelope. `resource` stays raw JSON: its shape depends on `event_type` and
/// `resource_version` (a v2 capture for `PAYMENT.CAPTURE.*`, a v1 sale for `PAYMENT.SALE.*`, …).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// `WH-…`; the same across redeliveries of one event, so it is the deduplication key.
    pub id: String,
    pub event_type: String,
    pub resource_type: Option<String>,
    pub event_version: Option<String>,
    pub resource_version: Option<String>,
    pub summary: Option<String>,
    pub create_time: Option<String>,
    #[serde(default)]
    pub resource: serde_json::Value,
}

impl WebhookEvent {
    /// Decodes `resource` as a typed object, e.g. [`crate::Capture`] for `PAYMENT.CAPTURE.*`.
    pub fn resource_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.resource)
    }
}

/// Parses a notification body. Parse only after the signature is verified, and keep the raw
/// bytes: the signature covers them, not any re-serialization.
pub fn parse_webhook_event(body: &[u8]) -> Result<WebhookEvent, serde_json::Error> {
    serde_json::from_slice(body)
}
