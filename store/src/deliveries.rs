use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use payhub_core::id::{DeliveryId, EventId, WebhookEndpointId};
use payhub_core::{EventType, IdGenerator, Mode};
use sqlx::Row;

use crate::codec::parsed;
use crate::lease::{Groups, LeaseClaim, Shares};
use crate::param::Param;
use crate::{Database, StoreError, millis};

/// A delivery claimed by this instance until its lease ends.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub endpoint_id: WebhookEndpointId,
    /// Attempts so far, including this one.
    pub attempt: i64,
    /// When the lease ends; giving the delivery back only works while the lease is still this
    /// claim's.
    pub leased_until: DateTime<Utc>,
}

/// An attempt to record, with the claim it was made under.
#[derive(Debug, Clone)]
pub struct RecordedAttempt {
    pub delivery: ClaimedDelivery,
    pub attempt: DeliveryAttempt,
    pub outcome: DeliveryOutcome,
}

/// What happened when an event was sent to an endpoint.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// `($1, …, $6), ($7, …, $12), …`: the placeholders of `rows` rows of six values.
fn six_column_rows(rows: usize) -> String {
    let row = |k: usize| format!("(${}, ${}, ${}, ${}, ${}, ${})", k + 1, k + 2, k + 3, k + 4, k + 5, k + 6);
    (0..rows).map(|n| row(6 * n)).collect::<Vec<_>>().join(", ")
}

/// `sql` (ending in a condition's `AND`) narrowed to the deliveries of `chunk` still under the
/// lease they were claimed with, their ids and leases bound from `$1` on.
/// The `id IN (…)` list repeats what the pairs say: it lets both databases find the rows by
/// their primary key alone (PostgreSQL otherwise ORs one index scan per pair, and its planner
/// weighs every pair each time).
fn under_their_leases<'a>(sql: &str, chunk: &'a [ClaimedDelivery]) -> (String, Vec<Param<'a>>) {
    let ids: Vec<String> = (0..chunk.len()).map(|n| format!("${}", 2 * n + 1)).collect();
    let held: Vec<String> =
        (0..chunk.len()).map(|n| format!("(id = ${} AND locked_until = ${})", 2 * n + 1, 2 * n + 2)).collect();
    let sql = format!("{sql} id IN ({}) AND ({})", ids.join(", "), held.join(" OR "));
    let params = chunk.iter().flat_map(|delivery| [delivery.id.as_str().into(), millis(delivery.leased_until).into()]);
    (sql, params.collect())
}

/// The attempt whose outcome each delivery of `attempts` keeps, in the order they came: one
/// statement updates a row once, where recording them one by one let a later attempt of the same
/// delivery (its lease ran out and it was claimed again) replace an earlier one only while that
/// one had left the delivery pending.
fn last_outcomes(attempts: &[RecordedAttempt]) -> Vec<&RecordedAttempt> {
    let mut kept: Vec<&RecordedAttempt> = Vec::with_capacity(attempts.len());
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(attempts.len());
    for recorded in attempts {
        match at.entry(recorded.delivery.id.as_str()) {
            Entry::Vacant(new) => {
                new.insert(kept.len());
                kept.push(recorded);
            }
            Entry::Occupied(seen) => {
                if matches!(kept[*seen.get()].outcome, DeliveryOutcome::RetryAt(_)) {
                    kept[*seen.get()] = recorded;
                }
            }
        }
    }
    kept
}

/// An event's delivery to one endpoint, as the merchant's on-call engineer wants to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub endpoint_id: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
}

/// Which events a replay sends again.
#[derive(Debug, Clone, Copy)]
pub enum ReplayedEvents<'a> {
    One(&'a EventId),
    /// Every event created at or after `from`, and before `until` if it is set.
    Between {
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    },
}

/// What a replay queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Events sent again to at least one endpoint.
    pub events: u64,
    /// Deliveries queued (an event counts once per endpoint).
    pub deliveries: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// The retry schedule is exhausted (or the endpoint is gone); kept for replay.
    GaveUp,
}

/// What a delivery claim knows of the endpoints (see [`Database::claim_due_deliveries`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaimingFor<'a> {
    /// Endpoints holding as many deliveries as they may: left out.
    pub busy: &'a [&'a WebhookEndpointId],
    /// Endpoints sending as fast as they are claimed for: they may take the rest of the batch.
    pub keeping_up: &'a [&'a WebhookEndpointId],
}

/// Rows written by one statement when a batch is recorded or given back: well within both
/// databases' limits on bound parameters.
const RECORD_CHUNK: usize = 256;

/// The longest-waiting deliveries go first.
pub(crate) const DELIVERIES_DUE: LeaseClaim = LeaseClaim::attempts(
    "deliveries",
    "next_attempt_at",
    &["id", "event_id", "endpoint_id", "attempts", "locked_until"],
);

impl Database {
    /// Claims a batch of due deliveries until `lease_until`: up to `shares.limit`, the longest
    /// waiting first, at most `shares.per_group` for any one endpoint, so an endpoint with a
    /// large backlog leaves room in the batch for the others. A crash after sending and before
    /// recording means the lease runs out and the event is sent again with the same id, which
    /// receivers deduplicate.
    /// Deliveries to `endpoints.busy` (which hold as many as they may) are left for a later
    /// claim, so they neither wait under a lease nor crowd out other endpoints' work. The
    /// endpoints in `endpoints.keeping_up` (sending as fast as they are claimed for) may take
    /// what the batch has left after every endpoint's share, the longest waiting first.
    pub async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        shares: Shares,
        endpoints: ClaimingFor<'_>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let busy: Vec<&str> = endpoints.busy.iter().map(|id| id.as_str()).collect();
        let keeping_up: Vec<&str> = endpoints.keeping_up.iter().map(|id| id.as_str()).collect();
        let groups = Groups { column: "endpoint_id", left_out: &busy, may_fill: &keeping_up };
        let rows = self.claim_leased_shared(&DELIVERIES_DUE, &groups, shares, now, lease_until).await?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedDelivery {
                    id: parsed(row, "id", |s| DeliveryId::parse(s).ok())?,
                    event_id: parsed(row, "event_id", |s| EventId::parse(s).ok())?,
                    endpoint_id: parsed(row, "endpoint_id", |s| WebhookEndpointId::parse(s).ok())?,
                    attempt: row.try_get("attempts")?,
                    leased_until: crate::codec::time(row, "locked_until")?,
                })
            })
            .collect()
    }

    /// Gives back claimed deliveries that were not sent: they are due again at once, and the
    /// claim does not count as an attempt. A delivery whose lease has run out and been taken by
    /// another claim is that claim's, and is left alone.
    pub async fn release_deliveries(&self, deliveries: &[ClaimedDelivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for chunk in deliveries.chunks(RECORD_CHUNK) {
            let sql = "UPDATE deliveries SET locked_until = NULL, attempts = attempts - 1 WHERE status = 'pending' AND";
            let (sql, params) = under_their_leases(sql, chunk);
            tx.execute(&sql, params).await?;
        }
        tx.commit().await
    }

    /// Of `deliveries`, those still pending under the lease they were claimed with: a delivery
    /// failed since (disabling its endpoint fails it, and clears its lease, even if the endpoint
    /// is enabled again at once) or re-armed by a replay is no longer this claim's to send.
    pub async fn deliveries_still_claimed(
        &self,
        deliveries: &[ClaimedDelivery],
    ) -> Result<HashSet<DeliveryId>, StoreError> {
        let mut still = HashSet::with_capacity(deliveries.len());
        for chunk in deliveries.chunks(RECORD_CHUNK) {
            let sql = "SELECT id FROM deliveries WHERE status = 'pending' AND";
            let (sql, params) = under_their_leases(sql, chunk);
            for row in self.read_all(&sql, &params).await? {
                still.insert(parsed(&row, "id", |s| DeliveryId::parse(s).ok())?);
            }
        }
        Ok(still)
    }

    /// Takes back the attempt each of `deliveries`' claims counted, for deliveries dropped
    /// unsent (their endpoint was disabled or deleted since, which failed them): `attempts`
    /// counts the attempts made, as the recorded ones show. The claim's count is in the row
    /// whatever happened to it since (a later claim adds its own), so it is taken back once,
    /// by id alone; the lease may be gone already.
    pub async fn return_unsent_claims(&self, deliveries: &[ClaimedDelivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for chunk in deliveries.chunks(RECORD_CHUNK) {
            let sql = format!(
                "UPDATE deliveries SET attempts = attempts - 1 WHERE attempts > 0 AND id IN ({})",
                placeholders(1, chunk.len())
            );
            tx.execute(&sql, chunk.iter().map(|d| d.id.as_str().into()).collect()).await?;
        }
        tx.commit().await
    }

    /// Records attempts and their outcomes in one transaction (one commit for a batch),
    /// releasing their leases. A delivery no longer pending (its endpoint was deleted or
    /// disabled meanwhile: disabling fails its pending deliveries, those under way included)
    /// keeps its status, so no retry is scheduled; the attempt is recorded all the same.
    pub async fn record_delivery_attempts(&self, attempts: &[RecordedAttempt]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for chunk in attempts.chunks(RECORD_CHUNK) {
            let sql = format!(
                "INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, status_code, error, duration_ms) \
                 VALUES {}",
                six_column_rows(chunk.len())
            );
            let mut values: Vec<Param<'_>> = Vec::with_capacity(6 * chunk.len());
            for RecordedAttempt { delivery, attempt, .. } in chunk {
                values.extend([
                    delivery.id.as_str().into(),
                    delivery.attempt.into(),
                    millis(attempt.at).into(),
                    attempt.status_code.map(i64::from).into(),
                    attempt.error.as_deref().into(),
                    attempt.duration_ms.into(),
                ]);
            }
            tx.execute(&sql, values).await?;
        }
        let outcomes = last_outcomes(attempts);
        for chunk in outcomes.chunks(RECORD_CHUNK) {
            // One statement for the chunk (on PostgreSQL one round trip, not one per delivery);
            // `UPDATE … FROM` and a named CTE read the same on both databases.
            let sql = format!(
                "WITH recorded (id, status, next_attempt_at, delivered_at, last_status_code, last_error) \
                 AS (VALUES {}) \
                 UPDATE deliveries SET status = recorded.status, next_attempt_at = recorded.next_attempt_at, \
                 delivered_at = recorded.delivered_at, locked_until = NULL, \
                 last_status_code = recorded.last_status_code, last_error = recorded.last_error \
                 FROM recorded WHERE deliveries.id = recorded.id AND deliveries.status = 'pending'",
                six_column_rows(chunk.len())
            );
            let mut values: Vec<Param<'_>> = Vec::with_capacity(6 * chunk.len());
            for RecordedAttempt { delivery, attempt, outcome } in chunk {
                let (status, next_attempt_at, delivered_at) = match outcome {
                    DeliveryOutcome::Delivered => ("delivered", attempt.at, Some(millis(attempt.at))),
                    DeliveryOutcome::RetryAt(at) => ("pending", *at, None),
                    DeliveryOutcome::GaveUp => ("failed", attempt.at, None),
                };
                values.extend([
                    delivery.id.as_str().into(),
                    status.into(),
                    millis(next_attempt_at).into(),
                    delivered_at.into(),
                    attempt.status_code.map(i64::from).into(),
                    attempt.error.as_deref().into(),
                ]);
            }
            tx.execute(&sql, values).await?;
        }
        tx.commit().await
    }

    /// Queues an event again for every endpoint it went to that is still enabled (replay),
    /// whatever happened before. Returns how many deliveries were re-armed.
    pub async fn redeliver_event(&self, event_id: &EventId, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let rearmed = tx
            .execute_count(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, locked_until = NULL \
                 WHERE event_id = $2 AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = 'enabled')",
                vec![millis(now).into(), event_id.as_str().into()],
            )
            .await?;
        tx.commit().await?;
        Ok(rearmed)
    }

    /// Sends events again (replay): each event `events` selects goes once more to every enabled
    /// endpoint of `mode` whose filter selects it (or to `endpoint` alone), whether it was sent
    /// there before or not — an endpoint registered after the event gets it too. One delivery
    /// per event and endpoint: a delivery already pending is only made due now.
    pub async fn replay_events(
        &self,
        mode: Mode,
        events: ReplayedEvents<'_>,
        endpoint: Option<&WebhookEndpointId>,
        ids: &IdGenerator,
        now: DateTime<Utc>,
    ) -> Result<Replayed, StoreError> {
        let mut tx = self.begin().await?;
        let (one, since, until) = match events {
            ReplayedEvents::One(id) => (Some(id.as_str()), None, None),
            ReplayedEvents::Between { from, until } => (None, Some(millis(from)), until.map(millis)),
        };
        let rows = tx
            .fetch_all(
                "SELECT id, type FROM events WHERE mode = $1 AND ($2 IS NULL OR id = $2) \
                 AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) ORDER BY seq",
                vec![mode.as_str().into(), one.into(), since.into(), until.into()],
            )
            .await?;
        let mut replayed = Replayed::default();
        // The endpoints are the same throughout the transaction: read them once per event type,
        // not once per event.
        let mut selecting: HashMap<EventType, Vec<WebhookEndpointId>> = HashMap::new();
        for row in rows {
            let event_id = parsed(&row, "id", |s| EventId::parse(s).ok())?;
            let event_type = parsed(&row, "type", EventType::parse)?;
            let endpoints = match selecting.entry(event_type) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(unknown) => unknown.insert(tx.endpoints_selecting(mode, event_type, endpoint).await?),
            };
            replayed.events += u64::from(!endpoints.is_empty());
            for endpoint_id in endpoints.iter() {
                let delivery_id = DeliveryId::generate(ids, now);
                tx.execute(
                    "INSERT INTO deliveries (id, event_id, endpoint_id, mode, status, attempts, \
                     next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
                     ON CONFLICT (event_id, endpoint_id) DO UPDATE \
                     SET status = 'pending', next_attempt_at = $5, locked_until = NULL",
                    vec![
                        delivery_id.as_str().into(),
                        event_id.as_str().into(),
                        endpoint_id.as_str().into(),
                        mode.as_str().into(),
                        millis(now).into(),
                    ],
                )
                .await?;
                replayed.deliveries += 1;
            }
        }
        tx.commit().await?;
        Ok(replayed)
    }

    /// When an endpoint last accepted a delivery, if ever.
    pub async fn last_successful_delivery(
        &self,
        endpoint_id: &WebhookEndpointId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let sql = "SELECT MAX(delivered_at) AS at FROM deliveries WHERE endpoint_id = $1";
        let row = self.read_aside_one(sql, &[endpoint_id.as_str().into()]).await?;
        crate::codec::opt_time(&row, "at")
    }

    /// How many deliveries of `mode` wait to be sent (or sent again), and since when the one
    /// waiting longest has been due.
    pub async fn pending_deliveries(&self, mode: Mode) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        let sql =
            "SELECT COUNT(*) AS n, MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending' AND mode = $1";
        let row = self.read_aside_one(sql, &[mode.as_str().into()]).await?;
        Ok((row.try_get("n")?, crate::codec::opt_time(&row, "due")?))
    }

    /// When the earliest pending delivery is due, so the dispatcher can sleep until then.
    pub async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // The first entry of the index `deliveries_due`.
        let row =
            self.read_one("SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending'", &[]).await?;
        crate::codec::opt_time(&row, "due")
    }

    /// Where an event stands at each endpoint it was sent to.
    pub async fn deliveries_of_event(&self, event_id: &EventId) -> Result<Vec<DeliveryState>, StoreError> {
        let sql = "SELECT endpoint_id, status, attempts, last_status_code, last_error FROM deliveries \
                   WHERE event_id = $1 ORDER BY id";
        let rows = self.read_all(sql, &[event_id.as_str().into()]).await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryState {
                    endpoint_id: r.try_get("endpoint_id")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_status_code: r.try_get("last_status_code")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// How one endpoint fared since `since` (see [`Database::endpoints_health`]).
    pub async fn endpoint_health(
        &self,
        endpoint_id: &WebhookEndpointId,
        since: DateTime<Utc>,
        errors: u32,
    ) -> Result<EndpointHealth, StoreError> {
        let mut health = self.endpoints_health(std::slice::from_ref(endpoint_id), since, errors).await?;
        Ok(health.remove(endpoint_id).unwrap_or_default())
    }

    /// How each of `endpoints` fared since `since`: its delivery attempts, how many it
    /// accepted, what waits, and its most recent `errors` failed attempts, newest first. Three
    /// grouped queries however many endpoints (a page's, a few hundred at most); an endpoint
    /// without deliveries has the default (all zero).
    pub async fn endpoints_health(
        &self,
        endpoints: &[WebhookEndpointId],
        since: DateTime<Utc>,
        errors: u32,
    ) -> Result<HashMap<WebhookEndpointId, EndpointHealth>, StoreError> {
        let mut health: HashMap<WebhookEndpointId, EndpointHealth> =
            endpoints.iter().map(|id| (id.clone(), EndpointHealth::default())).collect();
        if endpoints.is_empty() {
            return Ok(health);
        }
        let with_ids = |first: Option<i64>| -> Vec<Param<'_>> {
            first.map(Param::from).into_iter().chain(endpoints.iter().map(|id| id.as_str().into())).collect()
        };
        let counts = self
            .read_aside(
                &format!(
                    "SELECT d.endpoint_id, COUNT(*) AS attempts, \
                 CAST(SUM(CASE WHEN a.error IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS accepted \
                 FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
                 WHERE a.attempted_at >= $1 AND d.endpoint_id IN ({}) GROUP BY d.endpoint_id",
                    placeholders(2, endpoints.len())
                ),
                &with_ids(Some(millis(since))),
            )
            .await?;
        let pending = self
            .read_aside(
                &format!(
                    "SELECT endpoint_id, COUNT(*) AS n FROM deliveries \
                 WHERE status = 'pending' AND endpoint_id IN ({}) GROUP BY endpoint_id",
                    placeholders(1, endpoints.len())
                ),
                &with_ids(None),
            )
            .await?;
        let failures = self
            .read_aside(
                &format!(
                    "SELECT endpoint_id, event_id, attempted_at, status_code, error FROM ( \
                 SELECT d.endpoint_id, d.event_id, a.attempted_at, a.status_code, a.error, \
                 ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY a.id DESC) AS n \
                 FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
                 WHERE a.error IS NOT NULL AND d.endpoint_id IN ({})) failed \
                 WHERE n <= $1 ORDER BY endpoint_id, n",
                    placeholders(2, endpoints.len())
                ),
                &with_ids(Some(i64::from(errors))),
            )
            .await?;
        for row in &counts {
            if let Some(h) = health_of(&mut health, row)? {
                h.attempts = row.try_get("attempts")?;
                h.accepted = row.try_get("accepted")?;
            }
        }
        for row in &pending {
            if let Some(h) = health_of(&mut health, row)? {
                h.pending = row.try_get("n")?;
            }
        }
        for row in &failures {
            if let Some(h) = health_of(&mut health, row)? {
                h.last_errors.push(FailedAttempt {
                    event_id: row.try_get("event_id")?,
                    at: crate::codec::time(row, "attempted_at")?,
                    status_code: row.try_get("status_code")?,
                    error: row.try_get::<Option<String>, _>("error")?.unwrap_or_default(),
                });
            }
        }
        Ok(health)
    }
}

/// The entry of the endpoint a row names.
fn health_of<'h>(
    health: &'h mut HashMap<WebhookEndpointId, EndpointHealth>,
    row: &sqlx::any::AnyRow,
) -> Result<Option<&'h mut EndpointHealth>, StoreError> {
    let id: String = row.try_get("endpoint_id")?;
    Ok(WebhookEndpointId::parse(&id).ok().and_then(|id| health.get_mut(&id)))
}

/// `$first, …` for `count` values bound from `$first` on.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// An endpoint's recent deliveries, for the on-call engineer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointHealth {
    /// Delivery attempts in the period.
    pub attempts: i64,
    /// Of those, how many the endpoint accepted.
    pub accepted: i64,
    /// Deliveries waiting for their next attempt now.
    pub pending: i64,
    pub last_errors: Vec<FailedAttempt>,
}

/// One delivery attempt the endpoint did not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    pub event_id: String,
    pub at: DateTime<Utc>,
    pub status_code: Option<i64>,
    pub error: String,
}
