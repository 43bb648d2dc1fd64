//! The outbox dispatcher: delivers normalized events to merchant endpoints, signed with the
//! Standard Webhooks scheme, retried with backoff, every attempt recorded.
//!
//! Deliveries are claimed in batches under a lease: up to [`CLAIM`]`.limit` per round trip, at
//! most [`CLAIM`]`.per_group` for one endpoint, so an endpoint with a large backlog leaves room
//! for the others. An endpoint that sent its last full share without a failure, fast enough to
//! send a whole batch in a quarter of the lease, may also take what a batch has left: a claim
//! costs a round trip and a commit whatever it takes, and was most of a drain to one endpoint
//! (see BENCHMARKS.md, "Delivery on PostgreSQL"). The batch's events are read by one query,
//! and the endpoints of the batch and of the deliveries still waiting here by another. A crash
//! after sending and before recording means the lease runs out and the event goes again with
//! the same `webhook-id`, which receivers deduplicate — at-least-once, by design.
//!
//! One endpoint's trouble is its own: each endpoint has a budget of deliveries in flight, the
//! rest of its claimed deliveries wait their turn in this instance, and an endpoint holding
//! [`ENDPOINT_FULL`] deliveries is left out of the next claims. A delivery that has not started
//! when half its lease has gone is given back (only if the lease is still this claim's), so it
//! never goes out on a lease about to run out. Every attempt is bounded: a short connect
//! timeout, a deadline for the whole exchange, and a cap on how much of the answer is read.
//! Events are independent: a slow delivery never holds back a later event of the same resource.
//!
//! Finished attempts are recorded by one task, all those that finished while it was writing
//! the last ones in one transaction: a commit per batch, not per delivery.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use payhub_core::id::WebhookEndpointId;
use payhub_core::{Event, Mode};
use payhub_store::{
    ClaimedDelivery, ClaimingFor, DeliveryAttempt, DeliveryOutcome, EndpointStatus, RecordedAttempt, Shares,
    WebhookEndpoint,
};
use tokio::sync::mpsc;
use tokio::task::{self, JoinSet};
use tracing::{info, warn};

use crate::app::{Hub, HubSettings};
use crate::services::ServiceError;
use crate::services::endpoints::DeliverySigner;
use crate::workers::{Shutdown, retry_at};

/// One claim: deliveries per round trip, and per endpoint.
const CLAIM: Shares = Shares { limit: 256, per_group: 64 };
/// An endpoint holding this many deliveries in this instance (waiting or in flight) is left
/// out of claims until it has sent some: it holds at most `ENDPOINT_FULL - 1 + CLAIM.per_group`,
/// or `ENDPOINT_FULL - 1 + CLAIM.limit` while it keeps up.
const ENDPOINT_FULL: usize = CLAIM.per_group as usize / 2;
/// Deliveries in flight from this instance, all endpoints together.
const MAX_IN_FLIGHT: usize = 64;
/// Deliveries this instance holds (waiting or in flight), all endpoints together.
const MAX_HELD: usize = 1024;
/// Finished attempts recorded by one transaction at most.
const RECORD_BATCH: usize = 256;
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
    let (attempts, finished) = mpsc::channel(RECORD_BATCH * 4);
    let recorder = tokio::spawn(record(hub.clone(), finished));
    let mut dispatcher = Dispatcher {
        hub: hub.clone(),
        http,
        attempts,
        in_flight: JoinSet::new(),
        tasks: HashMap::new(),
        endpoints: HashMap::new(),
        claim_due: true,
    };
    loop {
        dispatcher.step().await;
        if dispatcher.worth_claiming() {
            continue;
        }
        tokio::select! {
            Some(finished) = dispatcher.in_flight.join_next_with_id(), if !dispatcher.in_flight.is_empty() => {
                dispatcher.finished(finished);
            }
            _ = hub.signals.outbox.notified() => dispatcher.claim_due = true,
            _ = tokio::time::sleep(hub.settings.workers.poll_interval) => dispatcher.claim_due = true,
            _ = shutdown.requested() => break,
        }
    }
    // Deliveries under way finish (each within the delivery timeout) and are recorded; those
    // still waiting are given back for the next instance.
    while let Some(finished) = dispatcher.in_flight.join_next_with_id().await {
        dispatcher.finished(finished);
    }
    let waiting: Vec<ClaimedDelivery> =
        dispatcher.endpoints.values_mut().flat_map(|held| held.waiting.drain(..)).map(|w| w.delivery).collect();
    if let Err(e) = hub.db.release_deliveries(&waiting).await {
        warn!(error = %e, "could not give back waiting deliveries; their leases will run out");
    }
    drop(dispatcher);
    let _ = recorder.await;
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

/// The deliveries this instance holds: claimed and waiting for their endpoint's turn, or in
/// flight.
struct Dispatcher {
    hub: Hub,
    http: DeliveryClients,
    /// Where finished attempts go to be recorded.
    attempts: mpsc::Sender<Finished>,
    /// Each delivery says whether it was delivered.
    in_flight: JoinSet<bool>,
    /// The endpoint of each delivery in flight.
    tasks: HashMap<task::Id, WebhookEndpointId>,
    endpoints: HashMap<WebhookEndpointId, Held>,
    /// Whether a claim may find due deliveries: the last one filled its batch, or something
    /// (a new event, the poll interval, an endpoint with more due getting room) says so.
    claim_due: bool,
}

/// One endpoint's deliveries in this instance.
#[derive(Default)]
struct Held {
    /// Claimed, in the order claimed, waiting for room in the endpoint's budget.
    waiting: VecDeque<Waiting>,
    in_flight: usize,
    /// The endpoint was left out of a claim or used its whole share of one: more of its
    /// deliveries may be due once it has room.
    more_due: bool,
    /// When the endpoint last got a full share, and how many it then held; forgotten when an
    /// attempt fails, so a failing endpoint does not keep up.
    full_share: Option<(Instant, usize)>,
    /// It sent its last full share without a failure, fast enough to send a whole batch within
    /// a quarter of the lease: the next claim may give it what the batch has left.
    keeps_up: bool,
}

impl Held {
    fn count(&self) -> usize {
        self.waiting.len() + self.in_flight
    }
}

/// An attempt made, and whether its endpoint should be checked if it gave up (not when the
/// endpoint no longer exists or was disabled).
type Finished = (RecordedAttempt, bool);

/// A claimed delivery with what sending it needs, read with its batch.
struct Waiting {
    delivery: ClaimedDelivery,
    endpoint: Option<Arc<WebhookEndpoint>>,
    event: Option<Arc<Event>>,
    claimed_at: DateTime<Utc>,
    /// Half-way through the lease: a delivery not started by then is given back.
    give_back_at: DateTime<Utc>,
}

impl Dispatcher {
    /// Gives back what waited too long, claims more if it is worth it, and starts what the
    /// budgets allow.
    async fn step(&mut self) {
        while let Some(finished) = self.in_flight.try_join_next_with_id() {
            self.finished(finished);
        }
        let now = self.hub.clock.now();
        if let Err(e) = self.give_back_overdue(now).await {
            warn!(error = %e, "could not give back deliveries that waited too long; their leases will run out");
        }
        if self.worth_claiming()
            && let Err(e) = self.claim(now).await
        {
            // Tried again at the next poll, not at once.
            self.claim_due = false;
            warn!(error = %e, "dispatcher could not claim deliveries");
        }
        self.start_waiting(now);
    }

    /// A claim is worth a round trip when deliveries may be due and this instance has room: it
    /// holds fewer than [`MAX_HELD`] and what it holds cannot fill its [`MAX_IN_FLIGHT`].
    fn worth_claiming(&self) -> bool {
        let budget = self.hub.settings.delivery.per_endpoint_concurrency;
        let held: usize = self.endpoints.values().map(Held::count).sum();
        let startable: usize =
            self.endpoints.values().map(|e| e.waiting.len().min(budget.saturating_sub(e.in_flight))).sum();
        self.claim_due && held < MAX_HELD && self.in_flight.len() + startable < MAX_IN_FLIGHT
    }

    /// Claims a batch (leaving out full endpoints) with its events, and reads the endpoints of
    /// the new deliveries and of those already waiting here in one query (see
    /// [`Dispatcher::refresh_waiting`]).
    async fn claim(&mut self, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let lease = Duration::from_std(self.hub.settings.workers.lease).unwrap_or(Duration::minutes(1));
        let (mut full, mut keeping_up) = (Vec::new(), Vec::new());
        for (id, held) in self.endpoints.iter_mut() {
            if held.count() >= ENDPOINT_FULL {
                held.more_due = true;
                full.push(id);
            } else if held.keeps_up {
                keeping_up.push(id);
            }
        }
        let endpoints = ClaimingFor { busy: &full, keeping_up: &keeping_up };
        let claimed = self.hub.db.claim_due_deliveries(now, now + lease, CLAIM, endpoints).await?;
        self.claim_due = claimed.len() == CLAIM.limit as usize;
        let mut endpoint_ids: HashSet<WebhookEndpointId> =
            self.endpoints.iter().filter(|(_, held)| !held.waiting.is_empty()).map(|(id, _)| id.clone()).collect();
        endpoint_ids.extend(claimed.iter().map(|d| d.endpoint_id.clone()));
        if endpoint_ids.is_empty() {
            return Ok(());
        }
        let event_ids: Vec<_> = claimed.iter().map(|d| &d.event_id).collect::<HashSet<_>>().into_iter().collect();
        let endpoint_ids: Vec<_> = endpoint_ids.iter().collect();
        let read = tokio::try_join!(self.hub.db.find_events(&event_ids), self.hub.db.endpoints_by_ids(&endpoint_ids));
        let (events, endpoints) = match read {
            Ok(read) => read,
            Err(e) => {
                // Given back rather than left to wait out the lease.
                let _ = self.hub.db.release_deliveries(&claimed).await;
                return Err(e.into());
            }
        };
        let events: HashMap<_, _> = events.into_iter().map(|e| (e.id.clone(), Arc::new(e))).collect();
        let endpoints: HashMap<_, _> = endpoints.into_iter().map(|e| (e.id.clone(), Arc::new(e))).collect();
        let give_back_at = now + lease / 2;
        let mut shares: HashMap<WebhookEndpointId, usize> = HashMap::new();
        for delivery in claimed {
            *shares.entry(delivery.endpoint_id.clone()).or_default() += 1;
            let waiting = Waiting {
                endpoint: None,
                event: events.get(&delivery.event_id).cloned(),
                claimed_at: now,
                give_back_at,
                delivery,
            };
            self.endpoints.entry(waiting.delivery.endpoint_id.clone()).or_default().waiting.push_back(waiting);
        }
        for (id, share) in shares {
            if share >= CLAIM.per_group as usize {
                let held = self.endpoints.entry(id).or_default();
                held.more_due = true;
                held.full_share = Some((Instant::now(), held.count()));
            }
        }
        self.refresh_waiting(&endpoints, lease).await
    }

    /// Gives every waiting delivery its endpoint as `fresh` has it now (its URL and secrets),
    /// read after the claim: those of an endpoint disabled or deleted since they were claimed
    /// are dropped unsent (disabling and deleting marked them failed). Without this, a delivery
    /// waiting its turn would go out to a disabled endpoint until its lease was half gone.
    ///
    /// An endpoint enabled now may have been disabled and enabled again since a claim, which
    /// failed the deliveries it held: when its status changed in the lease before a delivery was
    /// claimed or since (a lease of margin for other instances' clocks), the store says whether
    /// the delivery is still pending under this claim's lease, and it is dropped if not.
    /// Endpoints are rarely disabled, so this costs a query only around such a change; a new
    /// endpoint, never disabled, needs none (nor does one whose URL or secret changed, which
    /// fails no delivery).
    ///
    /// A delivery's `attempts` counts its claims, which bounds how often one that crashes the
    /// process is tried; a dropped delivery made no attempt, so its claim is taken back and the
    /// count still agrees with the attempts recorded.
    async fn refresh_waiting(
        &mut self,
        fresh: &HashMap<WebhookEndpointId, Arc<WebhookEndpoint>>,
        lease: Duration,
    ) -> Result<(), ServiceError> {
        let mut dropped = Vec::new();
        let mut unsure = Vec::new();
        for (id, held) in self.endpoints.iter_mut().filter(|(_, held)| !held.waiting.is_empty()) {
            match fresh.get(id) {
                Some(endpoint) if endpoint.status == EndpointStatus::Enabled => {
                    for waiting in held.waiting.iter_mut() {
                        waiting.endpoint = Some(endpoint.clone());
                        if endpoint.status_changed_at.is_some_and(|changed| changed + lease >= waiting.claimed_at) {
                            unsure.push(waiting.delivery.clone());
                        }
                    }
                }
                _ => {
                    info!(endpoint = %id, dropped = held.waiting.len(), "not sending the deliveries held for an endpoint disabled or deleted meanwhile");
                    dropped.extend(held.waiting.drain(..).map(|w| w.delivery));
                }
            }
        }
        let checked =
            if unsure.is_empty() { Ok(HashSet::new()) } else { self.hub.db.deliveries_still_claimed(&unsure).await };
        let unsure: HashSet<_> = unsure.into_iter().map(|d| d.id).collect();
        // When the store cannot say, the unsure ones are not sent either: their leases run out
        // and they go again if they are still pending.
        let still = checked.as_ref().ok();
        for held in self.endpoints.values_mut() {
            let mut kept = VecDeque::with_capacity(held.waiting.len());
            for waiting in held.waiting.drain(..) {
                let id = &waiting.delivery.id;
                if !unsure.contains(id) || still.is_some_and(|still| still.contains(id)) {
                    kept.push_back(waiting);
                } else if still.is_some() {
                    info!(delivery = %id, "not sending a delivery failed or taken back since it was claimed");
                    dropped.push(waiting.delivery);
                }
            }
            held.waiting = kept;
        }
        self.forget_idle();
        if let Err(e) = self.hub.db.return_unsent_claims(&dropped).await {
            warn!(error = %e, dropped = dropped.len(), "could not take back the claims of deliveries dropped unsent");
        }
        checked.map(|_| ()).map_err(Into::into)
    }

    /// Gives back the deliveries that did not start before half their lease had gone (while the
    /// lease is still theirs): due again at once, for whichever instance has room first.
    async fn give_back_overdue(&mut self, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let mut overdue = Vec::new();
        for held in self.endpoints.values_mut() {
            while held.waiting.front().is_some_and(|w| w.give_back_at <= now) {
                overdue.extend(held.waiting.pop_front().map(|w| w.delivery));
            }
        }
        self.forget_idle();
        if overdue.is_empty() {
            return Ok(());
        }
        self.claim_due = true;
        Ok(self.hub.db.release_deliveries(&overdue).await?)
    }

    /// Starts waiting deliveries while the budgets allow, the endpoint with the fewest in
    /// flight first, so every endpoint gets its turn at the instance's budget.
    fn start_waiting(&mut self, now: DateTime<Utc>) {
        let budget = self.hub.settings.delivery.per_endpoint_concurrency;
        while self.in_flight.len() < MAX_IN_FLIGHT {
            let next = self
                .endpoints
                .iter_mut()
                .filter(|(_, held)| {
                    held.in_flight < budget && held.waiting.front().is_some_and(|w| w.give_back_at > now)
                })
                .min_by_key(|(_, held)| held.in_flight);
            let Some((endpoint_id, held)) = next else { break };
            let Some(waiting) = held.waiting.pop_front() else { break };
            held.in_flight += 1;
            let endpoint_id = endpoint_id.clone();
            let (hub, http, attempts) = (self.hub.clone(), self.http.clone(), self.attempts.clone());
            let handle = self.in_flight.spawn(async move {
                let recorded = deliver(&hub, &http, waiting).await;
                let delivered = recorded.0.outcome == DeliveryOutcome::Delivered;
                // The recorder is gone only when the process stops: the lease runs out and the
                // delivery goes again.
                let _ = attempts.send(recorded).await;
                delivered
            });
            self.tasks.insert(handle.id(), endpoint_id);
        }
    }

    fn finished(&mut self, result: Result<(task::Id, bool), task::JoinError>) {
        let (id, delivered) = match result {
            Ok(finished) => finished,
            Err(e) => {
                warn!(error = %e, "a delivery stopped unexpectedly; its lease will run out and it goes again");
                (e.id(), false)
            }
        };
        let Some(endpoint_id) = self.tasks.remove(&id) else { return };
        let lease = self.hub.settings.workers.lease;
        if let Some(held) = self.endpoints.get_mut(&endpoint_id) {
            held.in_flight = held.in_flight.saturating_sub(1);
            if !delivered {
                held.full_share = None;
                held.keeps_up = false;
            }
            if held.more_due && held.count() < ENDPOINT_FULL {
                held.more_due = false;
                held.keeps_up = held.full_share.is_some_and(|share| sends_a_batch_in_time(share, held.count(), lease));
                self.claim_due = true;
            }
        }
        self.forget_idle();
    }

    /// Endpoints holding nothing are forgotten; one left out of a claim has asked for the next.
    fn forget_idle(&mut self) {
        let mut more_due = false;
        self.endpoints.retain(|_, held| {
            let idle = held.count() == 0;
            more_due |= idle && held.more_due;
            !idle
        });
        self.claim_due |= more_due;
    }
}

/// Whether an endpoint that held `held_then` deliveries at `since` and holds `held_now` sends
/// at a pace that gets a whole claim out within a quarter of the lease, well before a delivery
/// waiting its turn would be given back (half the lease).
fn sends_a_batch_in_time((since, held_then): (Instant, usize), held_now: usize, lease: std::time::Duration) -> bool {
    let sent = held_then.saturating_sub(held_now) as f64;
    sent > 0.0 && since.elapsed().as_secs_f64() * f64::from(CLAIM.limit) <= sent * lease.as_secs_f64() / 4.0
}

/// Records finished attempts, all those that finished while the last batch was being written
/// in one transaction. A batch that cannot be recorded is sent again when its leases run out.
async fn record(hub: Hub, mut finished: mpsc::Receiver<Finished>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while finished.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let attempts: Vec<RecordedAttempt> = batch.iter().map(|(recorded, _)| recorded.clone()).collect();
        match hub.db.record_delivery_attempts(&attempts).await {
            Ok(()) => {
                let gave_up = batch.iter().filter(|(r, check)| *check && r.outcome == DeliveryOutcome::GaveUp);
                for (recorded, _) in gave_up {
                    if let Err(e) = disable_if_dead(&hub, &recorded.delivery.endpoint_id, recorded.attempt.at).await {
                        warn!(endpoint = %recorded.delivery.endpoint_id, error = %e, "could not check a failing endpoint");
                    }
                }
            }
            Err(e) => {
                warn!(attempts = batch.len(), error = %e, "could not record delivery attempts; they go again when their leases run out");
            }
        }
        batch.clear();
    }
}

/// Sends one claimed delivery; returns the attempt to record.
async fn deliver(hub: &Hub, http: &DeliveryClients, waiting: Waiting) -> Finished {
    let Waiting { delivery, endpoint, event, .. } = waiting;
    let (Some(endpoint), Some(event)) = (endpoint, event) else {
        return not_sent(hub, delivery, "the endpoint or the event no longer exists");
    };
    // Claimed before the endpoint was disabled: nothing more goes to it.
    if endpoint.status == EndpointStatus::Disabled {
        return not_sent(hub, delivery, "not sent: the endpoint is disabled");
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
    crate::metrics::delivery_attempt(endpoint.id.as_str(), outcome_label(outcome), started.elapsed());
    let attempt = DeliveryAttempt { at: sent_at, status_code, error, duration_ms };
    (RecordedAttempt { delivery, attempt, outcome }, true)
}

/// A delivery given up without sending anything, with the reason recorded as its attempt's error.
fn not_sent(hub: &Hub, delivery: ClaimedDelivery, reason: &str) -> Finished {
    let attempt =
        DeliveryAttempt { at: hub.clock.now(), status_code: None, error: Some(reason.into()), duration_ms: 0 };
    (RecordedAttempt { delivery, attempt, outcome: DeliveryOutcome::GaveUp }, false)
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
    // Counted from the last accepted delivery or, for an endpoint that never accepted one, from
    // its creation: a new endpoint's first failures are an outage to ride out, not a verdict.
    let accepting_since = match hub.db.last_successful_delivery(endpoint_id).await? {
        Some(at) => at,
        None => match hub.db.endpoints_by_ids(&[endpoint_id]).await?.first() {
            Some(endpoint) => endpoint.created_at,
            None => return Ok(()),
        },
    };
    if now - accepting_since > Duration::days(DISABLE_AFTER_DAYS) {
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
    fn an_endpoint_keeps_up_when_it_would_send_a_whole_batch_in_a_quarter_of_the_lease() {
        let lease = std::time::Duration::from_secs(60);
        let ago = |millis| Instant::now().checked_sub(std::time::Duration::from_millis(millis)).unwrap();
        // 33 sent in 0.1 s: 256 take under a second, far within 15 s.
        assert!(sends_a_batch_in_time((ago(100), 64), 31, lease));
        // 33 sent in 10 s: 256 would take 78 s.
        assert!(!sends_a_batch_in_time((ago(10_000), 64), 31, lease));
        // 33 sent in 2 s: 256 take 15.5 s, just over a quarter of the lease.
        assert!(!sends_a_batch_in_time((ago(2_000), 64), 31, lease));
        assert!(!sends_a_batch_in_time((ago(1), 64), 64, lease), "nothing sent says nothing");
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
