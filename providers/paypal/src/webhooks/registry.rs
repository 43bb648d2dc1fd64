//! Webhook management (`/v1/notifications/webhooks`) and PayPal's remote signature check.

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::webhooks::headers::WebhookHeaders;

/// A webhook registered at PayPal. Its `id` is the `webhook_id` of the signed string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub event_types: Vec<EventTypeName>,
}

/// An event type subscription; `*` subscribes to all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTypeName {
    pub name: String,
}

/// The body of `POST /v1/notifications/verify-webhook-signature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyWebhookSignatureRequest {
    pub auth_algo: String,
    pub cert_url: String,
    pub transmission_id: String,
    pub transmission_sig: String,
    pub transmission_time: String,
    pub webhook_id: String,
    pub webhook_event: serde_json::Value,
}

#[derive(Serialize)]
struct CreateWebhook<'a> {
    url: &'a str,
    event_types: Vec<EventTypeName>,
}

#[derive(Deserialize)]
struct WebhookList {
    #[serde(default)]
    webhooks: Vec<Webhook>,
}

/// The remote check with the event passed through byte for byte.
#[derive(Serialize)]
struct VerifyRawEvent<'a> {
    auth_algo: &'a str,
    cert_url: &'a str,
    transmission_id: &'a str,
    transmission_sig: &'a str,
    transmission_time: &'a str,
    webhook_id: &'a str,
    webhook_event: &'a RawValue,
}

#[derive(Deserialize)]
struct VerificationAnswer {
    verification_status: String,
}

impl PaypalClient {
    /// `POST /v1/notifications/webhooks`: subscribes `url` to `event_types` (`["*"]` for all).
    pub async fn create_webhook(&self, url: &str, event_types: &[&str]) -> Result<Webhook, PaypalError> {
        let body = CreateWebhook {
            url,
            event_types: event_types.iter().map(|name| EventTypeName { name: (*name).to_owned() }).collect(),
        };
        self.api.post(&["v1", "notifications", "webhooks"], &fresh_request_id()?, &body).await
    }

    /// `GET /v1/notifications/webhooks`.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, PaypalError> {
        let list: WebhookList = self.api.get(&["v1", "notifications", "webhooks"]).await?;
        Ok(list.webhooks)
    }

    /// `POST /v1/notifications/verify-webhook-signature`: true iff PayPal answers `SUCCESS`.
    ///
    /// PayPal checks the signature against the event as it receives it here, so an event that
    /// was parsed and re-serialized (keys reordered, numbers reformatted) fails. Prefer
    /// [`PaypalClient::verify_webhook_notification`], which passes the raw body through.
    pub async fn verify_webhook_signature(&self, req: &VerifyWebhookSignatureRequest) -> Result<bool, PaypalError> {
        let answer: VerificationAnswer =
            self.api.post(&["v1", "notifications", "verify-webhook-signature"], &fresh_request_id()?, req).await?;
        Ok(answer.verification_status == "SUCCESS")
    }

    /// The remote check of a notification as received: `body` is sent verbatim as
    /// `webhook_event`. A body that is not JSON is a [`PaypalError::Decode`].
    pub async fn verify_webhook_notification(
        &self,
        headers: &WebhookHeaders,
        webhook_id: &str,
        body: &[u8],
    ) -> Result<bool, PaypalError> {
        let event = std::str::from_utf8(body)
            .ok()
            .and_then(|text| serde_json::from_str::<&RawValue>(text).ok())
            .ok_or_else(|| PaypalError::Decode("the notification body is not JSON".into()))?;
        let request = VerifyRawEvent {
            auth_algo: &headers.auth_algo,
            cert_url: &headers.cert_url,
            transmission_id: &headers.transmission_id,
            transmission_sig: &headers.transmission_sig,
            transmission_time: &headers.transmission_time,
            webhook_id,
            webhook_event: event,
        };
        let answer: VerificationAnswer =
            self.api.post(&["v1", "notifications", "verify-webhook-signature"], &fresh_request_id()?, &request).await?;
        Ok(answer.verification_status == "SUCCESS")
    }
}

/// A request id for calls whose signature takes none: each call is its own request.
fn fresh_request_id() -> Result<String, PaypalError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PaypalError::Transport("the system random generator failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
