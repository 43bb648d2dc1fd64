//! Prefixed, time-ordered resource ids (`pay_01j…`, `re_01j…`).
//!
//! The suffix is a lower-case ULID: sorting ids sorts by creation time, which is what cursor
//! pagination needs, and the prefix tells a support engineer at a glance what an id names.
//!
//! Core only formats, parses and orders ids. The randomness in a new id comes from outside
//! through [`IdGenerator`]: the hub seeds one from the operating system, while tests and the
//! sandbox can seed one with a number so that a run can be replayed id for id.

use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {kind} id (expected `{prefix}_` followed by 26 letters and digits)")]
pub struct InvalidId {
    pub value: String,
    pub kind: &'static str,
    pub prefix: &'static str,
}

/// Random bits for new ids (only the low 80 are used).
type Entropy = Box<dyn FnMut() -> u128 + Send>;

/// The source of new ids: a ULID sequence that never goes backwards. Within one generator, ids
/// made in the same millisecond (or while the clock stands still or steps back) still sort in
/// creation order, because the next one increments the last instead of drawing fresh bits; so
/// "newest first" lists and cursors are exact. One generator serves a whole hub instance.
pub struct IdGenerator {
    sequence: Mutex<Sequence>,
}

struct Sequence {
    last: Option<Ulid>,
    entropy: Entropy,
}

impl IdGenerator {
    /// A generator drawing fresh bits from `entropy` whenever time has moved on.
    pub fn new(entropy: impl FnMut() -> u128 + Send + 'static) -> Self {
        Self { sequence: Mutex::new(Sequence { last: None, entropy: Box::new(entropy) }) }
    }

    /// A reproducible generator: the same seed and the same clock readings give the same ids.
    /// Its bits are predictable, so it is for tests and simulations, never for a hub that
    /// serves merchants.
    pub fn seeded(seed: u64) -> Self {
        let mut state = seed;
        Self::new(move || (u128::from(splitmix64(&mut state)) << 64) | u128::from(splitmix64(&mut state)))
    }

    fn next_ulid(&self, now: DateTime<Utc>) -> Ulid {
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        // A panic while holding the lock cannot leave the sequence half-updated (it is one
        // assignment), so a poisoned lock is safe to keep using.
        let mut sequence = self.sequence.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let next = match sequence.last {
            Some(last) if last.timestamp_ms() >= now_ms => match last.increment() {
                Some(next) => next,
                // 2^80 ids in one millisecond: borrow the next millisecond rather than break order.
                None => Ulid::from_parts(last.timestamp_ms() + 1, (sequence.entropy)()),
            },
            _ => Ulid::from_parts(now_ms, (sequence.entropy)()),
        };
        sequence.last = Some(next);
        next
    }

    fn next_suffix(&self, now: DateTime<Utc>) -> String {
        let mut buffer = [0; ulid::ULID_LEN];
        self.next_ulid(now).array_to_str(&mut buffer).to_ascii_lowercase()
    }
}

impl fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdGenerator").finish_non_exhaustive()
    }
}

/// Steele, Lea and Flood's SplitMix64: a few arithmetic steps, enough to spread a seed over
/// id suffixes. Not a source of secrets.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn is_valid_suffix(suffix: &str) -> bool {
    suffix.len() == 26 && Ulid::from_string(&suffix.to_ascii_uppercase()).is_ok()
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            /// What the id names, in words (`"payment"`, `"webhook endpoint"`).
            pub const KIND: &'static str = $kind;

            /// A new id for a resource created at `now`.
            pub fn generate(ids: &IdGenerator, now: DateTime<Utc>) -> Self {
                Self(format!("{}_{}", $prefix, ids.next_suffix(now)))
            }

            /// The id of the resource `request` creates: it shares the request's suffix, so a
            /// retry of the request after a crash names the same resource.
            pub fn created_by(request: &RequestId) -> Self {
                Self(format!("{}_{}", $prefix, request.suffix()))
            }

            /// The part after the prefix.
            pub fn suffix(&self) -> &str {
                &self.0[$prefix.len() + 1..]
            }

            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                match value.strip_prefix(concat!($prefix, "_")) {
                    Some(suffix) if is_valid_suffix(suffix) => Ok(Self(value.to_ascii_lowercase())),
                    _ => Err(InvalidId { value: value.to_owned(), kind: Self::KIND, prefix: $prefix }),
                }
            }

            /// `value` only if it is this kind of id spelled as payhub writes it (lower case).
            /// Ids are stored in that spelling, so a caller's id in any other spelling names
            /// nothing; lookups by a caller's id use this rather than [`Self::parse`].
            pub fn parse_exact(value: &str) -> Option<Self> {
                Self::parse(value).ok().filter(|id| id.0 == value)
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
    /// One running hub process.
    InstanceId, "ins", "hub instance"
);
prefixed_id!(
    /// One API request that may create a resource, kept with its Idempotency-Key.
    RequestId, "req", "API request"
);
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
prefixed_id!(
    /// A buyer's case against a payment, opened at the provider.
    DisputeId, "dp", "dispute"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(millis).unwrap()
    }

    #[test]
    fn generated_ids_parse_and_sort_by_creation_time() {
        let ids = IdGenerator::seeded(1);
        let a = PaymentId::generate(&ids, at(1_700_000_000_000));
        let b = PaymentId::generate(&ids, at(1_700_000_001_000));
        assert!(a.as_str().starts_with("pay_"));
        assert_eq!(PaymentId::parse(a.as_str()).unwrap(), a);
        assert!(a < b);
    }

    #[test]
    fn the_same_seed_and_clock_give_the_same_ids() {
        let run = |seed| {
            let ids = IdGenerator::seeded(seed);
            (0..5).map(|n| RefundId::generate(&ids, at(1_700_000_000_000 + n / 2)).to_string()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn ids_made_in_one_millisecond_or_while_the_clock_steps_back_keep_creation_order() {
        let ids = IdGenerator::seeded(7);
        let now = at(1_700_000_000_000);
        let first = PaymentId::generate(&ids, now);
        let same_millisecond = PaymentId::generate(&ids, now);
        let clock_stepped_back = PaymentId::generate(&ids, at(1_699_999_999_000));
        assert!(first < same_millisecond);
        assert!(same_millisecond < clock_stepped_back);
    }

    #[test]
    fn a_millisecond_that_runs_out_of_ids_borrows_the_next_one() {
        let ids = IdGenerator::new(|| u128::MAX);
        let now = at(1_700_000_000_000);
        let last_of_millisecond = PaymentId::generate(&ids, now);
        let next = PaymentId::generate(&ids, now);
        assert!(last_of_millisecond < next);
        assert_eq!(next.as_str(), PaymentId::generate(&IdGenerator::new(|| u128::MAX), at(1_700_000_000_001)).as_str());
    }

    #[test]
    fn ids_of_another_kind_or_shape_are_refused() {
        let refund = RefundId::generate(&IdGenerator::seeded(3), at(1_700_000_000_000));
        let err = PaymentId::parse(refund.as_str()).unwrap_err();
        assert_eq!(err.kind, "payment");
        assert!(PaymentId::parse("pay_").is_err());
        assert!(PaymentId::parse("pay_../../etc/passwd").is_err());
        assert!(PaymentId::parse("pay_01j0000000000000000000000!").is_err());
    }

    #[test]
    fn only_the_stored_spelling_of_an_id_names_a_resource() {
        let id = PaymentId::generate(&IdGenerator::seeded(4), at(1_700_000_000_000));
        assert_eq!(PaymentId::parse_exact(id.as_str()), Some(id.clone()));
        let shouted = id.as_str().to_ascii_uppercase().replacen("PAY_", "pay_", 1);
        assert_eq!(PaymentId::parse(&shouted), Ok(id));
        assert_eq!(PaymentId::parse_exact(&shouted), None);
        assert_eq!(RefundId::parse_exact("pay_01j0000000000000000000000z"), None);
    }

    #[test]
    fn a_resource_made_by_a_request_shares_its_suffix() {
        let request = RequestId::generate(&IdGenerator::seeded(5), at(1_700_000_000_000));
        let payment = PaymentId::created_by(&request);
        assert_eq!(payment.suffix(), request.suffix());
        assert_eq!(PaymentId::parse_exact(payment.as_str()), Some(payment.clone()));
        assert_eq!(RefundId::created_by(&request).as_str(), format!("re_{}", request.suffix()));
    }
}
