//! The one clock. Hub and sandbox read time only through [`Clock`], so the sandbox's test clock
//! can move both forward together and a year of billing passes in seconds.
//!
//! Core never reads the time itself: the wall-clock implementations live with the IO (the hub's
//! `SystemClock`, the sandbox's `TestClock`) and every function here takes `now` as an argument.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

/// Times are kept to the millisecond, the precision every store and provider API keeps, so a
/// value read back equals the value written. Implementations return [`to_millis`] of their
/// reading.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// `at` truncated to the millisecond, the precision a [`Clock`] promises.
pub fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

pub type SharedClock = Arc<dyn Clock>;
