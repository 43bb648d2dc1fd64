//! The sandbox's queue of due actions: webhook deliveries and their retries, order expiry,
//! anything a simulator must do "later". Actions are keyed by (due time, sequence number) and run
//! one at a time in that order once the test clock has passed their time, so a test that moves
//! the clock forward a month sees the month's actions happen in the order they would have.
//!
//! Two things drive the queue: a background tick (real time keeps flowing on the test clock) and
//! [`Scheduler::advance`], which moves the clock and runs everything that became due before it
//! returns, so a caller can assert on the outcome right after.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use payhub_core::Clock;
use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::clock::TestClock;

/// How often the background task looks for due actions when nothing woke it earlier.
pub const TICK: StdDuration = StdDuration::from_millis(50);

pub type ActionFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Action = Box<dyn FnOnce() -> ActionFuture + Send>;

struct Entry {
    label: String,
    action: Action,
}

/// One queued action, as shown to operators and tests.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PendingAction {
    pub at: DateTime<Utc>,
    pub sequence: u64,
    pub label: String,
}

pub struct Scheduler {
    clock: Arc<TestClock>,
    queue: Mutex<BTreeMap<(DateTime<Utc>, u64), Entry>>,
    next_sequence: AtomicU64,
    // Held while actions run, so the tick and an explicit advance never interleave and the
    // (time, sequence) order holds across both.
    runner: tokio::sync::Mutex<()>,
    wake: Notify,
}

impl Scheduler {
    pub fn new(clock: Arc<TestClock>) -> Arc<Self> {
        Arc::new(Self {
            clock,
            queue: Mutex::new(BTreeMap::new()),
            next_sequence: AtomicU64::new(0),
            runner: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Queues `action` to run once the clock reaches `at`; returns its sequence number.
    pub fn schedule_at<F, Fut>(&self, at: DateTime<Utc>, label: impl Into<String>, action: F) -> u64
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let sequence = self.next_sequence.fetch_add(1, Ordering::SeqCst);
        let entry = Entry { label: label.into(), action: Box::new(move || Box::pin(action()) as ActionFuture) };
        self.queue().insert((at, sequence), entry);
        if at <= self.now() {
            self.wake.notify_one();
        }
        sequence
    }

    pub fn schedule_after<F, Fut>(&self, delay: Duration, label: impl Into<String>, action: F) -> u64
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let at = self.now() + delay;
        self.schedule_at(at, label, action)
    }

    pub fn pending(&self) -> Vec<PendingAction> {
        self.queue()
            .iter()
            .map(|((at, sequence), entry)| PendingAction { at: *at, sequence: *sequence, label: entry.label.clone() })
            .collect()
    }

    /// Runs every action whose time has come, earliest first, including actions that the
    /// running ones queue for a time already past. Returns how many ran.
    pub async fn run_due(&self) -> usize {
        let _running = self.runner.lock().await;
        let mut ran = 0;
        while let Some(entry) = self.pop_due() {
            tracing::debug!(label = %entry.label, "running scheduled action");
            (entry.action)().await;
            ran += 1;
        }
        ran
    }

    /// Moves the shared test clock forward and runs what became due before returning.
    pub async fn advance(&self, by: Duration) -> (DateTime<Utc>, usize) {
        let now = self.clock.advance(by);
        let ran = self.run_due().await;
        (now, ran)
    }

    /// Runs due actions as real time passes, until `shutdown` turns true.
    pub async fn run_in_background(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = self.wake.notified() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
            }
            self.run_due().await;
        }
    }

    fn pop_due(&self) -> Option<Entry> {
        let now = self.now();
        let mut queue = self.queue();
        let key = *queue.keys().next()?;
        if key.0 > now {
            return None;
        }
        queue.remove(&key)
    }

    fn queue(&self) -> MutexGuard<'_, BTreeMap<(DateTime<Utc>, u64), Entry>> {
        // A panic inside an action never happens while this lock is held, so a poisoned
        // queue still holds consistent data.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> (Arc<Mutex<Vec<&'static str>>>, impl Fn(&'static str) -> ActionFuture) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let record = move |name: &'static str| {
            let sink = sink.clone();
            Box::pin(async move { sink.lock().unwrap().push(name) }) as ActionFuture
        };
        (log, record)
    }

    #[tokio::test]
    async fn due_actions_run_in_time_then_sequence_order() {
        let clock = TestClock::new();
        let scheduler = Scheduler::new(clock.clone());
        let (log, record) = recorder();
        let start = clock.now();
        for (offset, name) in [(120, "two hours"), (30, "half hour"), (60, "one hour, first"), (60, "one hour, second")]
        {
            let action = record(name);
            scheduler.schedule_at(start + Duration::minutes(offset), name, move || action);
        }
        let later = record("next week");
        scheduler.schedule_at(start + Duration::weeks(1), "next week", move || later);

        let (_, ran) = scheduler.advance(Duration::hours(3)).await;

        assert_eq!(ran, 4);
        assert_eq!(*log.lock().unwrap(), vec!["half hour", "one hour, first", "one hour, second", "two hours"]);
        assert_eq!(scheduler.pending().len(), 1, "the action a week away waits");
    }

    #[tokio::test]
    async fn an_action_queued_for_the_past_by_a_running_action_runs_in_the_same_pass() {
        let clock = TestClock::new();
        let scheduler = Scheduler::new(clock.clone());
        let (log, record) = recorder();
        let inner = scheduler.clone();
        let first = record("first");
        let follow_up = record("follow-up");
        scheduler.schedule_after(Duration::minutes(5), "first", move || {
            inner.schedule_after(Duration::zero(), "follow-up", move || follow_up);
            first
        });

        let (_, ran) = scheduler.advance(Duration::minutes(10)).await;

        assert_eq!(ran, 2);
        assert_eq!(*log.lock().unwrap(), vec!["first", "follow-up"]);
    }

    #[tokio::test]
    async fn nothing_runs_before_its_time() {
        let clock = TestClock::new();
        let scheduler = Scheduler::new(clock);
        let (log, record) = recorder();
        let action = record("tomorrow");
        scheduler.schedule_after(Duration::days(1), "tomorrow", move || action);

        assert_eq!(scheduler.run_due().await, 0);
        assert!(log.lock().unwrap().is_empty());
    }
}
