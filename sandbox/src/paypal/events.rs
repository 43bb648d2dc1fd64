//! Webhook events as PayPal raises them: the envelope, the event log, and delivery to every
//! subscription of the app whose `event_types` match, signed as PayPal signs.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::signing::signed_string;
use super::state::{EventRecord, Transmission};
use super::{PaypalSimulator, paypal_time};
use crate::delivery::{OutgoingWebhook, SignedTransmission, WebhookTarget};
use crate::ids;

const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// PayPal: "Any non-2xx status code will cause PayPal to reattempt delivery up to 25 times over
/// the course of 3 days". The intervals are not published. This schedule makes those 25
/// reattempts, close together first (after 1, 2, 4, 8, 15 and 30 minutes, then 1 and 2 hours:
/// 4 hours in all) and then every 4 hours, the last one 72 hours after the first attempt. After
/// that the delivery is failed for good; `POST /v1/notifications/webhooks-events/{id}/resend`
/// sends it again, as in PayPal's dashboard.
pub const RETRY_DELAYS: [Duration; 25] = [
    minutes(1),
    minutes(2),
    minutes(4),
    minutes(8),
    minutes(15),
    minutes(30),
    minutes(60),
    minutes(120),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
    minutes(240),
];

/// An event about to be raised for one app.
pub(crate) struct NewEvent {
    pub client_id: String,
    pub event_type: &'static str,
    pub resource_type: &'static str,
    pub summary: String,
    pub resource: Value,
}

impl PaypalSimulator {
    /// Records the event and hands one delivery per matching subscription to the dispatcher.
    pub(crate) fn emit(&self, event: NewEvent) {
        self.emit_versioned(event, "2.0");
    }

    /// Like [`Self::emit`] for an event whose resource is a v1 object (a sale or a sale refund,
    /// `resource_version` `1.0`).
    pub(crate) fn emit_versioned(&self, event: NewEvent, resource_version: &'static str) {
        let now = self.now();
        let id = format!("WH-{}-{}", ids::upper_alphanumeric(17), ids::upper_alphanumeric(17));
        let event_url = format!("{}/v1/notifications/webhooks-events/{id}", self.base_url());
        let envelope = json!({
            "id": id,
            "event_version": "1.0",
            "create_time": now.to_rfc3339_opts(SecondsFormat::Millis, true),
            "resource_type": event.resource_type,
            "resource_version": resource_version,
            "event_type": event.event_type,
            "summary": event.summary,
            "resource": event.resource,
            "links": [
                { "href": event_url, "rel": "self", "method": "GET" },
                { "href": format!("{event_url}/resend"), "rel": "resend", "method": "POST" },
            ],
        });
        let body = Bytes::from(envelope.to_string());
        let webhook_ids: Vec<String> = {
            let mut state = self.state();
            let targets = state
                .webhooks
                .iter()
                .filter(|webhook| webhook.client_id == event.client_id && webhook.wants(event.event_type))
                .map(|webhook| webhook.id.clone())
                .collect();
            state.events.push(EventRecord {
                id: id.clone(),
                client_id: event.client_id,
                event_type: event.event_type.to_owned(),
                create_time: now,
                body: body.clone(),
                json: envelope,
            });
            targets
        };
        for webhook_id in webhook_ids {
            self.deliver(&id, event.event_type, body.clone(), webhook_id);
        }
    }

    /// Queues one delivery of an event's exact bytes to one subscription.
    pub(crate) fn deliver(&self, event_id: &str, event_type: &str, body: Bytes, webhook_id: String) {
        let target = PaypalTarget {
            simulator: self.me.clone(),
            webhook_id,
            event_id: event_id.to_owned(),
            cert_url: self.cert_url(),
        };
        self.sandbox.dispatcher().enqueue(OutgoingWebhook {
            event_id: event_id.to_owned(),
            event_type: event_type.to_owned(),
            body,
            target: Arc::new(target),
            retry_delays: &RETRY_DELAYS,
        });
    }
}

struct PaypalTarget {
    simulator: Weak<PaypalSimulator>,
    webhook_id: String,
    event_id: String,
    cert_url: String,
}

impl WebhookTarget for PaypalTarget {
    fn provider(&self) -> &'static str {
        "paypal"
    }

    fn subscription_id(&self) -> &str {
        &self.webhook_id
    }

    fn url(&self) -> Option<String> {
        let simulator = self.simulator.upgrade()?;
        let state = simulator.state();
        state.webhooks.iter().find(|webhook| webhook.id == self.webhook_id).map(|webhook| webhook.url.clone())
    }

    fn sign(&self, body: &[u8], at: DateTime<Utc>) -> SignedTransmission {
        let transmission_id = ids::uuid();
        let transmission_time = paypal_time(at);
        let message = signed_string(&transmission_id, &transmission_time, &self.webhook_id, body);
        let signature = match self.simulator.upgrade() {
            Some(simulator) => {
                let signature = simulator.key.sign(message.as_bytes()).unwrap_or_else(|error| {
                    tracing::error!(%error, "cannot sign a webhook transmission; sending it unsigned");
                    String::new()
                });
                simulator.state().transmissions.insert(
                    transmission_id.clone(),
                    Transmission {
                        webhook_id: self.webhook_id.clone(),
                        event_id: self.event_id.clone(),
                        transmission_time: transmission_time.clone(),
                        signature: signature.clone(),
                        body: Bytes::copy_from_slice(body),
                    },
                );
                signature
            }
            None => String::new(),
        };
        let headers = vec![
            ("paypal-transmission-id".to_owned(), transmission_id.clone()),
            ("paypal-transmission-time".to_owned(), transmission_time),
            ("paypal-transmission-sig".to_owned(), signature),
            ("paypal-cert-url".to_owned(), self.cert_url.clone()),
            ("paypal-auth-algo".to_owned(), "SHA256withRSA".to_owned()),
            ("user-agent".to_owned(), "PayPal/AUHD-214.0 (payhub sandbox)".to_owned()),
        ];
        SignedTransmission { transmission_id, headers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule_spans_three_days_in_25_reattempts() {
        let total: Duration = RETRY_DELAYS.iter().sum();
        assert_eq!(RETRY_DELAYS.len(), 25);
        assert_eq!(total, Duration::from_secs(72 * 3600));
        assert!(RETRY_DELAYS.windows(2).all(|pair| pair[0] <= pair[1]), "waits never shrink");
    }
}
