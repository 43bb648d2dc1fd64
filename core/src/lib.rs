//! payhub's domain, free of IO: money, ids, the clock abstraction, the Payment and Refund state
//! machines and the normalized events they emit. Everything here is deterministic and is where
//! the property tests live; the hub's store, providers and HTTP layers are built around it.

pub mod clock;
pub mod entitlement;
pub mod event;
pub mod id;
pub mod mode;
pub mod money;
pub mod options;
pub mod payment;
pub mod refund;
pub mod schedule;
pub mod stored;
pub mod subscription;
pub mod transition;

pub use clock::{Clock, SharedClock, SystemClock, TestClock};
pub use event::{Event, EventType};
pub use mode::{Mode, ProviderName};
pub use money::{Currency, Money, MoneyError};
