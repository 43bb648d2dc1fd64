//! Events: what webhooks deliver, also readable by id.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::charge::Charge;
use crate::client::PingppClient;
use crate::error::PingppError;
use crate::order::Order;
use crate::refund::Refund;
use crate::types::null_as_default;

/// A Ping++ event (`evt_…`). `event_type` is e.g. `charge.succeeded`, `refund.succeeded`,
/// `order.succeeded`, `order.refunded`, `account.summary.available`; the object it is about
/// is in `data.object`, left as JSON because its shape depends on the type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub livemode: bool,
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: EventData,
    /// Deliveries still outstanding when this copy was sent.
    #[serde(default, deserialize_with = "null_as_default")]
    pub pending_webhooks: i64,
    /// The API request (`iar_…`) that caused the event, if one did.
    #[serde(default)]
    pub request: Option<String>,
}

/// `{"object": …}`: the object an event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    pub object: Value,
}

impl EventData {
    /// The object's own `object` field: `charge`, `refund`, `order`, `account_daily_summary`, …
    pub fn object_kind(&self) -> Option<&str> {
        self.object.get("object")?.as_str()
    }

    /// The object decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.object)
    }
}

impl Event {
    /// The charge of a `charge.*` event.
    pub fn charge(&self) -> Option<Result<Charge, serde_json::Error>> {
        self.object_of_kind("charge")
    }

    /// The refund of a `refund.*` event.
    pub fn refund(&self) -> Option<Result<Refund, serde_json::Error>> {
        self.object_of_kind("refund")
    }

    /// The order of an `order.*` event.
    pub fn order(&self) -> Option<Result<Order, serde_json::Error>> {
        self.object_of_kind("order")
    }

    fn object_of_kind<T: DeserializeOwned>(&self, kind: &str) -> Option<Result<T, serde_json::Error>> {
        (self.data.object_kind() == Some(kind)).then(|| self.data.decode())
    }
}

/// Decodes a webhook body. Verify the signature over the same bytes first
/// ([`crate::WebhookVerifier::verify`]).
pub fn parse_event(body: &[u8]) -> Result<Event, serde_json::Error> {
    serde_json::from_slice(body)
}

impl PingppClient {
    /// `GET /v1/events/{id}`: the event as Ping++ keeps it, e.g. to confirm a webhook.
    pub async fn get_event(&self, id: &str) -> Result<Event, PingppError> {
        self.api.get(&["events", id], &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_accessors_answer_only_for_their_own_kind() {
        let event = parse_event(
            br#"{"id":"evt_1","type":"refund.succeeded","data":{"object":{"id":"re_1","object":"refund","status":"succeeded","amount":10}},"object":"event"}"#,
        )
        .expect("event");
        assert!(event.charge().is_none());
        assert!(event.order().is_none());
        let refund = event.refund().expect("a refund event").expect("refund");
        assert_eq!(refund.amount, 10);
    }

    #[test]
    fn an_event_without_type_or_data_is_refused() {
        assert!(parse_event(br#"{"id":"evt_1","data":{"object":{}}}"#).is_err());
        assert!(parse_event(br#"{"id":"evt_1","type":"charge.succeeded"}"#).is_err());
        assert!(parse_event(b"not json").is_err());
    }
}
