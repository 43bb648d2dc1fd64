//! Provider-agnostic webhook delivery: chaos decides each delivery's fate, the scheduler runs the
//! attempts on the test clock, and failures (non-2xx, connection errors, timeouts) are retried on
//! the provider's schedule. The provider supplies the target: where to POST and how to sign.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::chaos::Chaos;
use crate::scheduler::Scheduler;

/// No provider documents how long it waits for a receiver; a hung receiver holds the queue for at
/// most this long before the attempt counts as failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One transmission's headers, produced by the provider for the exact body sent.
pub struct SignedTransmission {
    pub transmission_id: String,
    pub headers: Vec<(String, String)>,
}

/// A provider's subscription: the current URL (the subscriber may change it between retries, or
/// delete the subscription, which ends the retries) and its signing scheme.
pub trait WebhookTarget: Send + Sync + 'static {
    fn provider(&self) -> &'static str;
    fn subscription_id(&self) -> &str;
    fn url(&self) -> Option<String>;
    fn sign(&self, body: &[u8], at: DateTime<Utc>) -> SignedTransmission;

    fn content_type(&self) -> &'static str {
        "application/json"
    }

    /// Whether an answer with `status` ends the retries.
    fn accepted(&self, status: u16) -> bool {
        (200..300).contains(&status)
    }
}

/// One event for one subscription. `body` is sent byte for byte on every attempt.
pub struct OutgoingWebhook {
    pub event_id: String,
    pub event_type: String,
    pub body: Bytes,
    pub target: Arc<dyn WebhookTarget>,
    /// Wait after each failed attempt; its length is the number of retries.
    pub retry_delays: &'static [Duration],
}

/// A line of the delivery log (`GET /sandbox/paypal/deliveries`).
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub provider: &'static str,
    pub event_id: String,
    pub event_type: String,
    pub subscription_id: String,
    pub url: Option<String>,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
    pub dropped: bool,
    pub duplicate: bool,
    pub transmission_id: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

pub struct Dispatcher {
    me: Weak<Dispatcher>,
    scheduler: Arc<Scheduler>,
    chaos: Arc<Chaos>,
    http: reqwest::Client,
    log: Mutex<Vec<DeliveryRecord>>,
}

struct Attempt {
    hook: Arc<OutgoingWebhook>,
    number: u32,
    duplicate: bool,
}

impl Dispatcher {
    pub fn new(scheduler: Arc<Scheduler>, chaos: Arc<Chaos>) -> anyhow::Result<Arc<Self>> {
        let http =
            reqwest::Client::builder().timeout(ATTEMPT_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Arc::new_cyclic(|me| Self { me: me.clone(), scheduler, chaos, http, log: Mutex::new(Vec::new()) }))
    }

    /// Hands a delivery to chaos and, unless it is lost, queues its first attempt(s).
    pub fn enqueue(&self, hook: OutgoingWebhook) {
        let plan = self.chaos.plan();
        let hook = Arc::new(hook);
        if plan.dropped {
            self.record(DeliveryRecord { dropped: true, ..self.blank_record(&hook, 1, false) });
            return;
        }
        for (index, delay) in plan.copies.into_iter().enumerate() {
            let attempt = Attempt { hook: hook.clone(), number: 1, duplicate: index > 0 };
            let at = self.scheduler.now() + chrono_duration(delay);
            self.schedule(attempt, at);
        }
    }

    pub fn log(&self) -> Vec<DeliveryRecord> {
        self.lock_log().clone()
    }

    /// One provider's delivery attempts, oldest first.
    pub fn log_of(&self, provider: &str) -> Vec<DeliveryRecord> {
        self.lock_log().iter().filter(|record| record.provider == provider).cloned().collect()
    }

    fn schedule(&self, attempt: Attempt, at: DateTime<Utc>) {
        let me = self.me.clone();
        let label = format!(
            "{} webhook {} to {} (attempt {})",
            attempt.hook.target.provider(),
            attempt.hook.event_id,
            attempt.hook.target.subscription_id(),
            attempt.number
        );
        self.scheduler.schedule_at(at, label, move || async move {
            if let Some(dispatcher) = me.upgrade() {
                dispatcher.attempt(attempt).await;
            }
        });
    }

    async fn attempt(&self, attempt: Attempt) {
        let hook = &attempt.hook;
        let Some(url) = hook.target.url() else {
            // The subscription was deleted: nothing left to deliver to.
            return;
        };
        let at = self.scheduler.now();
        let signed = hook.target.sign(&hook.body, at);
        let mut request =
            self.http.post(&url).header("content-type", hook.target.content_type()).body(hook.body.clone());
        for (name, value) in &signed.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let (status_code, error) = match request.send().await {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(error) => (None, Some(error.without_url().to_string())),
        };
        let delivered = status_code.is_some_and(|code| hook.target.accepted(code));
        let retry_delay = hook.retry_delays.get(attempt.number as usize - 1).copied();
        let next_attempt_at = match (delivered, retry_delay) {
            (false, Some(delay)) => Some(self.scheduler.now() + chrono_duration(delay)),
            _ => None,
        };
        self.record(DeliveryRecord {
            url: Some(url),
            at,
            status_code,
            error,
            delivered,
            transmission_id: Some(signed.transmission_id),
            next_attempt_at,
            ..self.blank_record(hook, attempt.number, attempt.duplicate)
        });
        if let Some(at) = next_attempt_at {
            let next = Attempt { number: attempt.number + 1, ..attempt };
            self.schedule(next, at);
        }
    }

    fn blank_record(&self, hook: &OutgoingWebhook, attempt: u32, duplicate: bool) -> DeliveryRecord {
        DeliveryRecord {
            provider: hook.target.provider(),
            event_id: hook.event_id.clone(),
            event_type: hook.event_type.clone(),
            subscription_id: hook.target.subscription_id().to_owned(),
            url: hook.target.url(),
            attempt,
            at: self.scheduler.now(),
            status_code: None,
            error: None,
            delivered: false,
            dropped: false,
            duplicate,
            transmission_id: None,
            next_attempt_at: None,
        }
    }

    fn record(&self, record: DeliveryRecord) {
        tracing::debug!(
            event = %record.event_id,
            attempt = record.attempt,
            status = ?record.status_code,
            dropped = record.dropped,
            "webhook delivery"
        );
        self.lock_log().push(record);
    }

    fn lock_log(&self) -> MutexGuard<'_, Vec<DeliveryRecord>> {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn chrono_duration(delay: Duration) -> chrono::Duration {
    // Delays come from constants and chaos settings in milliseconds; a century caps the absurd.
    chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::weeks(52 * 100))
}
