//! The outbox dispatcher: delivers normalized events to merchant endpoints, signed with the
//! Standard Webhooks scheme, retried with backoff, every attempt recorded.
//!
//! Deliveries are claimed with a lease. A crash after sending and before recording means the
//! lease runs out and the event goes again with the same `webhook-id`, which receivers
//! deduplicate — at-least-once, by design.
//!
//! One endpoint's trouble is its own: each endpoint has a budget of deliveries in flight, and
//! an endpoint using all of it is left out of the next claims, so its backlog neither holds
//! leases while it waits nor delays other endpoints. Every attempt is bounded: a short connect
//! timeout, a deadline for the whole exchange, and a cap on how much of the answer is read.
//! Events are independent: a slow delivery never holds back a later event of the same resource.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use payhub_core::id::WebhookEndpointId;
use payhub_core::{Event, Mode};
use payhub_store::{ClaimedDelivery, DeliveryAttempt, DeliveryOutcome, EndpointStatus, WebhookEndpoint};
use tokio::task::{self, JoinSet};
use tracing::{info, warn};

use crate::app::{Hub, HubSettings};
use crate::services::ServiceError;
use crate::services::endpoints::DeliverySigner;
use crate::workers::{Shutdown, retry_at};

const BATCH: usize = 32;
/// Deliveries in flight from this instance, all endpoints together.
const MAX_IN_FLIGHT: usize = 64;
/// How much of an endpoint's answer is read: enough for an error message, never an endless body.
const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// How much of a refusing endpoint's answer is kept with the attempt.
const ANSWER_EXCERPT_CHARS: usize = 200;
/// An endpoint that has accepted nothing for this long when a delivery gives up is disabled.
const DISABLE_AFTER_DAYS: i64 = 5;

pub async fn run(hub: Hub, mut shutdown: Shutdown) {
    let http = match DeliveryClients::new(&hub.settings) {
        Ok(client) => client,
        Err(e) => {
            warn!(error = %e, "cannot build the webhook delivery client; deliveries stay queued");
            return;
        }
    };
    let mut dispatcher = Dispatcher { hub: hub.clone(), http, in_flight: JoinSet::new(), endpoints: HashMap::new() };
    loop {
        match dispatcher.start_due().await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => warn!(error = %e, "dispatcher could not claim deliveries"),
        }
        tokio::select! {
            Some(finished) = dispatcher.in_flight.join_next_with_id(), if !dispatcher.in_flight.is_empty() => {
                dispatcher.finished(finished);
            }
            _ = hub.signals.outbox.notified() => {}
            _ = tokio::time::sleep(hub.settings.workers.poll_interval) => {}
            _ = shutdown.requested() => {
                // Deliveries under way finish (each within the delivery timeout) and are recorded.
                while let Some(finished) = dispatcher.in_flight.join_next_with_id().await {
                    dispatcher.finished(finished);
                }
                return;
            }
        }
    }
}

/// One HTTP client per mode, each connecting only where the egress policy lets endpoints of
/// that mode be.
#[derive(Clone)]
pub struct DeliveryClients {
    live: reqwest::Client,
    test: reqwest::Client,
}

impl DeliveryClients {
    pub fn new(settings: &HubSettings) -> reqwest::Result<Self> {
        let client = |mode| {
            reqwest::Client::builder()
                .connect_timeout(settings.delivery.connect_timeout)
                .timeout(settings.delivery.timeout)
                .dns_resolver(settings.egress.resolver(mode))
                // A proxy would resolve and connect past the policy's checks.
                .no_proxy()
                // A merchant endpoint answering with a redirect is misconfigured; following it
                // could send signed events somewhere else, internal addresses included.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("payhub/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Ok(Self { live: client(Mode::Live)?, test: client(Mode::Test)? })
    }

    pub fn of(&self, mode: Mode) -> &reqwest::Client {
        match mode {
            Mode::Live => &self.live,
            Mode::Test => &self.test,
        }
    }
}

/// The deliveries this instance has in flight, and how many go to each endpoint.
struct Dispatcher {
    hub: Hub,
    http: DeliveryClients,
    in_flight: JoinSet<()>,
    endpoints: HashMap<WebhookEndpointId, InFlight>,
}

/// An endpoint's deliveries in flight, by task.
#[derive(Default)]
struct InFlight {
    tasks: Vec<task::Id>,
}

impl Dispatcher {
    /// Claims due deliveries for endpoints with room in their budget and starts them; says
    /// whether more may be due at once.
    async fn start_due(&mut self) -> Result<bool, ServiceError> {
        while let Some(finished) = self.in_flight.try_join_next_with_id() {
            self.finished(finished);
        }
        let room = MAX_IN_FLIGHT.saturating_sub(self.in_flight.len()).min(BATCH);
        if room == 0 {
            return Ok(false);
        }
        let budget = self.hub.settings.delivery.per_endpoint_concurrency;
        let busy: Vec<&WebhookEndpointId> =
            self.endpoints.iter().filter(|(_, flight)| flight.tasks.len() >= budget).map(|(id, _)| id).collect();
        let now = self.hub.clock.now();
        let lease = Duration::from_std(self.hub.settings.workers.lease).unwrap_or(Duration::minutes(1));
        let limit = u32::try_from(room).unwrap_or(u32::MAX);
        let claimed = self.hub.db.claim_due_deliveries(now, now + lease, limit, &busy).await?;
        let more = claimed.len() == room;
        let mut over_budget = Vec::new();
        for delivery in claimed {
            let flight = self.endpoints.entry(delivery.endpoint_id.clone()).or_default();
            if flight.tasks.len() >= budget {
                over_budget.push(delivery);
                continue;
            }
            let (hub, http) = (self.hub.clone(), self.http.clone());
            let handle = self.in_flight.spawn(async move {
                if let Err(e) = deliver(&hub, &http, &delivery).await {
                    warn!(delivery = %delivery.id, error = %e, "could not record a delivery attempt");
                }
            });
            flight.tasks.push(handle.id());
        }
        self.hub.db.release_deliveries(&over_budget).await?;
        Ok(more)
    }

    fn finished(&mut self, result: Result<(task::Id, ()), task::JoinError>) {
        let id = match result {
            Ok((id, ())) => id,
            Err(e) => {
                warn!(error = %e, "a delivery stopped unexpectedly; its lease will run out and it goes again");
                e.id()
            }
        };
        self.endpoints.retain(|_, flight| {
            flight.tasks.retain(|task| *task != id);
            !flight.tasks.is_empty()
        });
    }
}

async fn deliver(hub: &Hub, http: &DeliveryClients, delivery: &ClaimedDelivery) -> Result<(), ServiceError> {
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
    // Claimed before the endpoint was disabled: nothing more goes to it.
    if endpoint.status == EndpointStatus::Disabled {
        let attempt = DeliveryAttempt {
            at: hub.clock.now(),
            status_code: None,
            error: Some("not sent: the endpoint is disabled".into()),
            duration_ms: 0,
        };
        return Ok(hub.db.record_delivery_attempt(delivery, &attempt, DeliveryOutcome::GaveUp).await?);
    }
    let sent_at = hub.clock.now();
    let started = Instant::now();
    let (status_code, error) =
        match (checked_url(hub, &endpoint), DeliverySigner::of(&hub.settings.secrets, &endpoint, sent_at)) {
            (Ok(url), Ok(signer)) => send(http.of(endpoint.mode), url, &signer, &event, sent_at).await,
            (Err(refused), _) => (None, Some(format!("refused: {refused}"))),
            (_, Err(unreadable)) => (None, Some(format!("the endpoint's signing secret cannot be read: {unreadable}"))),
        };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let outcome = match (&error, retry_at(&hub.settings.delivery.schedule, delivery.attempt, sent_at)) {
        (None, _) => DeliveryOutcome::Delivered,
        (Some(_), Some(at)) => DeliveryOutcome::RetryAt(at),
        (Some(_), None) => DeliveryOutcome::GaveUp,
    };
    let attempt = DeliveryAttempt { at: sent_at, status_code, error, duration_ms };
    hub.db.record_delivery_attempt(delivery, &attempt, outcome).await?;
    crate::metrics::delivery_attempt(endpoint.id.as_str(), outcome_label(outcome), started.elapsed());
    if outcome == DeliveryOutcome::GaveUp {
        disable_if_dead(hub, &endpoint.id, sent_at).await?;
    }
    Ok(())
}

/// The endpoint's URL, if the egress policy lets payhub connect to the address it names (names
/// are checked by the client's resolver when it connects).
fn checked_url(hub: &Hub, endpoint: &WebhookEndpoint) -> Result<url::Url, String> {
    let url = url::Url::parse(&endpoint.url).map_err(|e| format!("the endpoint URL is not a URL: {e}"))?;
    hub.settings.egress.check_literal(endpoint.mode, &url).map_err(|refused| refused.to_string())?;
    Ok(url)
}

/// Sends one signed event; returns the endpoint's status code, if it answered, and what went
/// wrong, if anything.
async fn send(
    http: &reqwest::Client,
    url: url::Url,
    signer: &DeliverySigner,
    event: &Event,
    sent_at: DateTime<Utc>,
) -> (Option<u16>, Option<String>) {
    let body = serde_json::to_vec(event).unwrap_or_default();
    let timestamp = sent_at.timestamp().to_string();
    let signature = signer.signature_header(event.id.as_str(), &timestamp, &body);
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", event.id.as_str())
        .header("webhook-timestamp", &timestamp)
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => {
            let status = r.status().as_u16();
            // Read (a bounded part of) the answer so the connection can serve the next delivery.
            let _ = read_capped(r).await;
            (Some(status), None)
        }
        Ok(r) => {
            let status = r.status();
            let excerpt = read_capped(r).await.map(|body| excerpt(&body)).unwrap_or_default();
            let said = if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") };
            (Some(status.as_u16()), Some(format!("endpoint answered {status}{said}")))
        }
        Err(e) if e.is_timeout() => (None, Some("endpoint did not answer in time".to_owned())),
        Err(e) => (None, Some(format!("could not reach the endpoint: {}", with_causes(&e)))),
    }
}

/// An error with what caused it (reqwest keeps the resolver's refusal among the causes).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text = format!("{text}: {e}");
        cause = e.source();
    }
    text
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer (within the request's deadline).
async fn read_capped(mut response: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER_BYTES {
        let Some(chunk) = response.chunk().await? else { break };
        let take = chunk.len().min(MAX_ANSWER_BYTES - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(body)
}

/// The start of an answer, as one line of text for the attempt's record.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(ANSWER_EXCERPT_CHARS).collect();
    line.trim().to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_then_give_up() {
        let schedule = [std::time::Duration::from_secs(10), std::time::Duration::from_secs(100)];
        let now = Utc::now();
        let first = retry_at(&schedule, 1, now).unwrap();
        assert!(first >= now + Duration::seconds(9) && first <= now + Duration::seconds(11));
        assert!(retry_at(&schedule, 2, now).unwrap() >= now + Duration::seconds(90));
        assert_eq!(retry_at(&schedule, 3, now), None);
    }

    /// A receiver on 127.0.0.1 that answers every request with 204; returns its port and how
    /// many connections it took.
    async fn local_receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
            }
        });
        (port, accepted)
    }

    fn clients(egress: crate::egress::EgressPolicy) -> DeliveryClients {
        crate::app::install_crypto_provider();
        let mut settings = HubSettings::from_config(&crate::config::Config::default());
        settings.egress = egress;
        DeliveryClients::new(&settings).unwrap()
    }

    #[tokio::test]
    async fn a_name_resolving_to_an_internal_address_is_refused_when_connecting() {
        let (port, accepted) = local_receiver().await;
        let clients = clients(crate::egress::EgressPolicy::default().with_loopback_in_test_mode());
        let refused = clients.of(Mode::Live).post(format!("http://localhost:{port}/hook")).send().await.unwrap_err();
        let message = with_causes(&refused);
        assert!(message.contains("localhost is a loopback address"), "{message}");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection was made");
        let test_mode = clients.of(Mode::Test).post(format!("http://localhost:{port}/hook")).send().await.unwrap();
        assert_eq!(test_mode.status(), 204, "test mode may reach local receivers");
    }

    #[tokio::test]
    async fn the_operators_allowlist_lets_deliveries_reach_internal_receivers() {
        let (port, accepted) = local_receiver().await;
        let allowed = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let clients = clients(crate::egress::EgressPolicy::new(allowed));
        let answer = clients.of(Mode::Live).post(format!("http://localhost:{port}/hook")).send().await.unwrap();
        assert_eq!(answer.status(), 204);
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
