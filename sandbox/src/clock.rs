//! The sandbox's movable clock. It reads the wall clock, so it lives here with the IO and not in
//! `payhub-core`, which only defines the [`Clock`] trait.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use payhub_core::Clock;
use payhub_core::clock::to_millis;

/// Wall-clock time plus an offset that only grows. Time keeps flowing (so timeouts and retry
/// delays behave as in production) and can jump forward on request; it never goes back,
/// because nothing in payments is ready for time running backwards.
#[derive(Debug, Default)]
pub struct TestClock {
    offset_millis: AtomicI64,
}

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves the clock forward; a negative or zero step is ignored.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let step = by.num_milliseconds().max(0);
        self.offset_millis.fetch_add(step, Ordering::SeqCst);
        self.now()
    }

    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_millis.load(Ordering::SeqCst))
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        to_millis(Utc::now() + self.offset())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_forward_and_never_back() {
        let clock = TestClock::new();
        let before = clock.now();
        clock.advance(Duration::days(30));
        assert!(clock.now() - before >= Duration::days(30));
        clock.advance(Duration::days(-10));
        assert!(clock.offset() >= Duration::days(30));
    }
}
