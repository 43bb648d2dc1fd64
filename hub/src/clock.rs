//! The wall clock. `payhub-core` only defines [`Clock`]; reading the time is IO and lives here.
//! In sandbox mode the hub reads the sandbox's movable `TestClock` instead.

use chrono::{DateTime, Utc};
use payhub_core::Clock;
use payhub_core::clock::to_millis;

/// Wall-clock time, to the millisecond.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_millis(Utc::now())
    }
}
