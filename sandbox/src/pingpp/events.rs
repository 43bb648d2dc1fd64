//! Events as Ping++ raises them (`{id: "evt_…", object: "event", created, livemode, type,
//! data: {object}, pending_webhooks, request}`), `GET /v1/events/{id}`, and their delivery: a
//! POST of the JSON to every webhook URL of the app, signed with `X-Pingplusplus-Signature`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::state::EventRecord;
use super::{NewEvent, PingppSimulator, answer, ids};
use crate::delivery::{OutgoingWebhook, SignedTransmission, WebhookTarget};

const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// Ping++ sends a notification up to 8 times within about 24 hours until the receiver answers
/// 2xx (seed 001); it does not publish the intervals. This schedule makes the 7 resends after
/// 2, 10 and 30 minutes, then 1, 2, 6 and 14 hours: the eighth and last send comes 23 h 42 min
/// after the first. After that the merchant has to query (`GET /v1/events/{id}`, the charge or
/// the refund), as Ping++ advises.
pub const RETRY_DELAYS: [Duration; 7] =
    [minutes(2), minutes(10), minutes(30), minutes(60), minutes(120), minutes(360), minutes(840)];

pub fn routes() -> Router<Arc<PingppSimulator>> {
    Router::new().route("/v1/events/{id}", get(show_event))
}

async fn show_event(State(simulator): State<Arc<PingppSimulator>>, Path(id): Path<String>) -> Response {
    let state = simulator.state();
    answer(state.event(&id).map(|event| event.json.clone()))
}

impl PingppSimulator {
    /// Records the event and hands one delivery per webhook URL of its app to the dispatcher.
    pub(crate) fn emit(&self, event: NewEvent) {
        let id = ids::event();
        let (endpoint_ids, body) = {
            let mut state = self.state();
            let endpoints: Vec<String> = state
                .webhooks
                .iter()
                .filter(|endpoint| endpoint.app == event.app)
                .map(|endpoint| endpoint.id.clone())
                .collect();
            let envelope = json!({
                "id": id,
                "object": "event",
                "created": self.now().timestamp(),
                "livemode": false,
                "type": event.event_type,
                "data": { "object": event.object },
                "pending_webhooks": endpoints.len(),
                "request": event.request,
            });
            let body = Bytes::from(envelope.to_string());
            state.insert_event(EventRecord { id: id.clone(), json: envelope });
            (endpoints, body)
        };
        for endpoint_id in endpoint_ids {
            let target = PingppTarget { simulator: self.me.clone(), endpoint_id };
            self.sandbox.dispatcher().enqueue(OutgoingWebhook {
                event_id: id.clone(),
                event_type: event.event_type.to_owned(),
                body: body.clone(),
                target: Arc::new(target),
                retry_delays: &RETRY_DELAYS,
            });
        }
    }
}

struct PingppTarget {
    simulator: Weak<PingppSimulator>,
    endpoint_id: String,
}

impl WebhookTarget for PingppTarget {
    fn provider(&self) -> &'static str {
        "pingpp"
    }

    fn subscription_id(&self) -> &str {
        &self.endpoint_id
    }

    /// The URL as configured now; a removed endpoint ends the retries.
    fn url(&self) -> Option<String> {
        let simulator = self.simulator.upgrade()?;
        let state = simulator.state();
        state.webhooks.iter().find(|endpoint| endpoint.id == self.endpoint_id).map(|endpoint| endpoint.url.clone())
    }

    fn sign(&self, body: &[u8], _at: DateTime<Utc>) -> SignedTransmission {
        let signature = self
            .simulator
            .upgrade()
            .and_then(|simulator| match simulator.key.sign(body) {
                Ok(signature) => Some(signature),
                Err(error) => {
                    tracing::error!(%error, "cannot sign a Ping++ webhook; sending it unsigned");
                    None
                }
            })
            .unwrap_or_default();
        SignedTransmission {
            transmission_id: crate::ids::uuid(),
            headers: vec![("x-pingplusplus-signature".to_owned(), signature)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_sends_span_about_a_day() {
        let total: Duration = RETRY_DELAYS.iter().sum();
        assert_eq!(RETRY_DELAYS.len() + 1, 8);
        assert!(total > Duration::from_secs(23 * 3600) && total <= Duration::from_secs(24 * 3600));
        assert!(RETRY_DELAYS.windows(2).all(|pair| pair[0] <= pair[1]));
    }
}
