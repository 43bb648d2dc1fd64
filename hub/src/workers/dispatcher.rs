//! The outbox dispatcher: delivers normalized events to merchant endpoints, signed with the
//! Standard Webhooks scheme, retried with backoff, every attempt recorded.
//!
//! Deliveries are claimed with a lease. A crash after sending and before recording means the
//! lease runs out and the event goes again with the same `webhook-id`, which receivers
//! deduplicate — at-least-once, by design.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use payhub_core::id::WebhookEndpointId;
use payhub_store::{ClaimedDelivery, DeliveryAttempt, DeliveryOutcome, EndpointStatus};
use rand::Rng;
use ring::hmac;
use tracing::{info, warn};

use crate::app::Hub;
use crate::services::ServiceError;
use crate::workers::Shutdown;

const BATCH: u32 = 32;
const CONCURRENCY: usize = 8;
/// An endpoint that has accepted nothing for this long when a delivery gives up is disabled.
const DISABLE_AFTER_DAYS: i64 = 5;

pub async fn run(hub: Hub, mut shutdown: Shutdown) {
    let http = match delivery_client(&hub) {
        Ok(client) => client,
        Err(e) => {
            warn!(error = %e, "cannot build the webhook delivery client; deliveries stay queued");
            return;
        }
    };
    loop {
        match dispatch_due(&hub, &http).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => warn!(error = %e, "dispatcher could not claim deliveries"),
        }
        tokio::select! {
            _ = hub.signals.outbox.notified() => {}
            _ = tokio::time::sleep(hub.settings.workers.poll_interval) => {}
            _ = shutdown.requested() => return,
        }
    }
}

pub fn delivery_client(hub: &Hub) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(hub.settings.delivery.timeout)
        // A merchant endpoint answering with a redirect is misconfigured; following it could
        // send signed events somewhere else.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("payhub/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends one batch of due deliveries; returns how many were attempted.
pub async fn dispatch_due(hub: &Hub, http: &reqwest::Client) -> Result<usize, ServiceError> {
    let now = hub.clock.now();
    let lease = Duration::from_std(hub.settings.workers.lease).unwrap_or(Duration::minutes(1));
    let claimed = hub.db.claim_due_deliveries(now, now + lease, BATCH).await?;
    let count = claimed.len();
    futures::stream::iter(claimed)
        .for_each_concurrent(CONCURRENCY, |delivery| async move {
            if let Err(e) = deliver(hub, http, &delivery).await {
                warn!(delivery = %delivery.id, error = %e, "could not record a delivery attempt");
            }
        })
        .await;
    Ok(count)
}

async fn deliver(hub: &Hub, http: &reqwest::Client, delivery: &ClaimedDelivery) -> Result<(), ServiceError> {
    let endpoint = hub.db.endpoint_by_id(&delivery.endpoint_id).await?;
    let event = hub.db.find_event(&delivery.event_id).await?;
    let (Some(endpoint), Some(event)) = (endpoint, event) else {
        let attempt = DeliveryAttempt {
            at: hub.clock.now(),
            status_code: None,
            error: Some("the endpoint or the event no longer exists".into()),
            duration_ms: 0,
        };
        return Ok(hub.db.record_delivery_attempt(delivery, &attempt, DeliveryOutcome::GaveUp).await?);
    };
    let body = serde_json::to_vec(&event).unwrap_or_default();
    let sent_at = hub.clock.now();
    let timestamp = sent_at.timestamp().to_string();
    let signature = sign(&endpoint.secret, event.id.as_str(), &timestamp, &body);
    let started = Instant::now();
    let response = http
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", event.id.as_str())
        .header("webhook-timestamp", &timestamp)
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match &response {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (Some(r.status().as_u16()), Some(format!("endpoint answered {}", r.status()))),
        Err(e) if e.is_timeout() => (None, Some("endpoint did not answer in time".to_owned())),
        Err(e) => (None, Some(format!("could not reach the endpoint: {e}"))),
    };
    let outcome = match (&error, retry_at(&hub.settings.delivery.schedule, delivery.attempt, sent_at)) {
        (None, _) => DeliveryOutcome::Delivered,
        (Some(_), Some(at)) => DeliveryOutcome::RetryAt(at),
        (Some(_), None) => DeliveryOutcome::GaveUp,
    };
    let attempt = DeliveryAttempt { at: sent_at, status_code, error, duration_ms };
    hub.db.record_delivery_attempt(delivery, &attempt, outcome).await?;
    metrics::counter!("payhub_webhook_deliveries_total", "outcome" => outcome_label(outcome)).increment(1);
    if outcome == DeliveryOutcome::GaveUp {
        disable_if_dead(hub, &endpoint.id, sent_at).await?;
    }
    Ok(())
}

fn outcome_label(outcome: DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::RetryAt(_) => "retry",
        DeliveryOutcome::GaveUp => "gave_up",
    }
}

async fn disable_if_dead(hub: &Hub, endpoint_id: &WebhookEndpointId, now: DateTime<Utc>) -> Result<(), ServiceError> {
    let last_success = hub.db.last_successful_delivery(endpoint_id).await?;
    let dead = last_success.is_none_or(|at| now - at > Duration::days(DISABLE_AFTER_DAYS));
    if dead {
        let reason = format!("no delivery accepted for {DISABLE_AFTER_DAYS} days; re-enable after fixing the endpoint");
        hub.db.set_endpoint_status(endpoint_id, EndpointStatus::Disabled, Some(&reason), now).await?;
        info!(endpoint = %endpoint_id, "disabled a webhook endpoint that has been failing for days");
    }
    Ok(())
}

/// When to try again after `attempt` failed attempts, with ±10% jitter so a recovering
/// endpoint is not hit by every retry at once; `None` when the schedule is exhausted.
fn retry_at(schedule: &[std::time::Duration], attempt: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
    let delay = Duration::from_std(*schedule.get(index)?).ok()?;
    let jitter = rand::rng().random_range(0.9..1.1);
    let millis = (delay.num_milliseconds() as f64 * jitter) as i64;
    Some(now + Duration::milliseconds(millis))
}

/// Standard Webhooks: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the
/// key is the base64 part of the `whsec_` secret.
pub fn sign(secret: &str, message_id: &str, timestamp: &str, body: &[u8]) -> String {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key_bytes = STANDARD.decode(encoded).unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
    let mut context = hmac::Context::with_key(&key);
    context.update(message_id.as_bytes());
    context.update(b".");
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification.
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn retries_follow_the_schedule_then_give_up() {
        let schedule = [std::time::Duration::from_secs(10), std::time::Duration::from_secs(100)];
        let now = Utc::now();
        let first = retry_at(&schedule, 1, now).unwrap();
        assert!(first >= now + Duration::seconds(9) && first <= now + Duration::seconds(11));
        assert!(retry_at(&schedule, 2, now).unwrap() >= now + Duration::seconds(90));
        assert_eq!(retry_at(&schedule, 3, now), None);
    }
}
