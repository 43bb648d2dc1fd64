//! Background work, all coordinated through the database so any number of instances can run
//! it side by side: the inbox, key claim and payment unit writers (group commit), the inbox processor, the outbox dispatcher,
//! the mailer ([`crate::notifications`]) and the reconciler.

pub mod claim_writer;
pub mod dispatcher;
pub mod inbox_writer;
pub mod processor;
pub mod reconciler;
pub mod unit_writer;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::Hub;

/// Tells workers to stop after their current step.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (sender, receiver) = watch::channel(false);
        (sender, Self(receiver))
    }

    /// Whether shutdown has been requested, for work that checks between steps.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when shutdown is requested (immediately if it already was).
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Starts the processor, the dispatcher, the mailer and the reconciler.
pub fn spawn_all(hub: &Hub, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(processor::run(hub.clone(), shutdown.clone())),
        tokio::spawn(dispatcher::run(hub.clone(), shutdown.clone())),
        tokio::spawn(crate::notifications::mailer::run(hub.clone(), shutdown.clone())),
        tokio::spawn(reconciler::run(hub.clone(), shutdown.clone())),
    ]
}

/// When to try again after `attempt` failed attempts, with ±10% jitter so a recovering
/// endpoint is not hit by every retry at once; `None` when the schedule is exhausted.
pub(crate) fn retry_at(schedule: &[std::time::Duration], attempt: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
    let delay = Duration::from_std(*schedule.get(index)?).ok()?;
    let jitter = rand::rng().random_range(0.9..1.1);
    let millis = (delay.num_milliseconds() as f64 * jitter) as i64;
    Some(now + Duration::milliseconds(millis))
}
