//! Prefixed, time-ordered resource ids (`pay_01j…`, `re_01j…`).
//!
//! The suffix is a lower-case ULID: sorting ids sorts by creation time, which is what cursor
//! pagination needs, and the prefix tells a support engineer at a glance what an id names.

use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {kind} id (expected `{prefix}_` followed by 26 letters and digits)")]
pub struct InvalidId {
    pub value: String,
    pub kind: &'static str,
    pub prefix: &'static str,
}

/// Within one process, ids made in the same millisecond still sort in creation order (the
/// generator increments the random part), so "newest first" lists are exact.
fn new_suffix(now: DateTime<Utc>) -> String {
    static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);
    let at =
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(now.timestamp_millis()).unwrap_or(0));
    let mut generator = GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let ulid = generator
        .get_or_insert_with(ulid::Generator::new)
        .generate_from_datetime(at)
        // The random part overflowed within one millisecond (2^80 ids): fall back to a fresh one.
        .unwrap_or_else(|_| ulid::Ulid::from_parts(now.timestamp_millis() as u64, rand::random()));
    ulid.to_string().to_ascii_lowercase()
}

fn is_valid_suffix(suffix: &str) -> bool {
    suffix.len() == 26 && ulid::Ulid::from_string(&suffix.to_ascii_uppercase()).is_ok()
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(now: DateTime<Utc>) -> Self {
                Self(format!("{}_{}", $prefix, new_suffix(now)))
            }

            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                match value.strip_prefix(concat!($prefix, "_")) {
                    Some(suffix) if is_valid_suffix(suffix) => Ok(Self(value.to_ascii_lowercase())),
                    _ => Err(InvalidId { value: value.to_owned(), kind: $kind, prefix: $prefix }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

prefixed_id!(
    /// A payment taken through any provider.
    PaymentId, "pay", "payment"
);
prefixed_id!(
    /// A refund of (part of) a payment.
    RefundId, "re", "refund"
);
prefixed_id!(
    /// A normalized event in the merchant's stream.
    EventId, "evt", "event"
);
prefixed_id!(
    /// A merchant endpoint that receives events.
    WebhookEndpointId, "we", "webhook endpoint"
);
prefixed_id!(
    /// One delivery of one event to one endpoint.
    DeliveryId, "dlv", "delivery"
);
prefixed_id!(
    /// An API key (the id, never the secret).
    ApiKeyId, "key", "API key"
);
prefixed_id!(
    /// A subscription plan.
    PlanId, "plan", "plan"
);
prefixed_id!(
    /// A customer's subscription to a plan.
    SubscriptionId, "sub", "subscription"
);
prefixed_id!(
    /// What a customer may use, and until when.
    EntitlementId, "ent", "entitlement"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_creation_time() {
        let earlier = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let later = DateTime::from_timestamp(1_700_000_001, 0).unwrap();
        let a = PaymentId::generate(earlier);
        let b = PaymentId::generate(later);
        assert!(a.as_str().starts_with("pay_"));
        assert_eq!(PaymentId::parse(a.as_str()).unwrap(), a);
        assert!(a < b);
    }

    #[test]
    fn ids_of_another_kind_or_shape_are_refused() {
        let refund = RefundId::generate(Utc::now());
        let err = PaymentId::parse(refund.as_str()).unwrap_err();
        assert_eq!(err.kind, "payment");
        assert!(PaymentId::parse("pay_").is_err());
        assert!(PaymentId::parse("pay_../../etc/passwd").is_err());
        assert!(PaymentId::parse("pay_01j0000000000000000000000!").is_err());
    }
}
