//! payhub's domain, free of IO: money, ids, the clock abstraction, the Payment and Refund state
//! machines and the normalized events they emit. Everything here is deterministic and is where
//! the property tests live; the hub's store, providers and HTTP layers are built around it.

pub mod clock;
pub mod dispute;
pub mod entitlement;
pub mod event;
pub mod id;
pub mod merchant;
pub mod mode;
pub mod money;
pub mod options;
pub mod payment;
pub mod refund;
pub mod schedule;
pub mod stored;
pub mod subscription;
pub mod transition;

pub use clock::{Clock, SharedClock};
pub use event::{Event, EventType};
pub use id::IdGenerator;
pub use mode::{Mode, ProviderName};
pub use money::{Currency, Money, MoneyError, PaymentAmount, PositiveAmount};

/// Fixed inputs for core's own tests: core never reads the wall clock, not even in tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::{DateTime, Utc};

    use crate::IdGenerator;

    pub fn now() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_767_225_600_000).expect("a valid time")
    }

    pub fn ids() -> IdGenerator {
        IdGenerator::seeded(0)
    }
}
