//! The inbox processor: applies stored notifications, idempotently and in arrival order (a
//! notification is due when it arrives; one put back after a failed attempt waits its turn).
//!
//! A notification is a hint. Facts it states are merged monotonically (stale ones change
//! nothing); one that says "approved" leads to the capture; one that contradicts a final state
//! makes the hub ask the provider. A notification is marked processed in the same transaction
//! as its effects, so a crash before that commit means it is applied — once — after restart.

use chrono::Duration;
use futures::StreamExt;
use payhub_core::id::{PaymentId, RefundId};
use payhub_core::payment::{Payment, PaymentStatus};
use payhub_core::transition::Cause;
use payhub_store::{ClaimedNotification, ConstraintKind, Dialect, Kept, RejectedNotification, StoreError};
use tracing::{debug, warn};

use crate::app::Hub;
use crate::providers::{Confirmation, Interpretation, PaymentSnapshot, RejectionReason};
use crate::services::ServiceError;
use crate::services::disputes::DisputeSync;
use crate::services::subscriptions::Adoption;
use crate::workers::Shutdown;

/// How many notifications are claimed at once, and how many lanes of them are applied at once.
/// On PostgreSQL a lane holds a pooled connection while it applies: enough lanes to keep the
/// database busy, few enough to leave connections to the API. On SQLite a lane waiting for the
/// writer holds nothing, and a unit's commit returns with its group's fsync, so a lane's next
/// notification waits for it: more lanes share each fsync, and a larger batch needs fewer
/// claims (each a commit of its own before its lanes start). The lanes stay at 32 there, as
/// they bound the provider calls at once (a notification may lead to a capture or a fetch;
/// 128 lanes applied 7–19% faster in the bench, see BENCHMARKS.md, "The writer's statements on
/// the calling thread").
fn batching(dialect: Dialect) -> (u32, usize) {
    match dialect {
        Dialect::Postgres => (32, 8),
        Dialect::Sqlite => (128, 32),
    }
}

/// After this many attempts (about a day of backoff) a notification is parked as `failed` for
/// a human; it stays in the inbox and can be requeued.
const MAX_ATTEMPTS: i64 = 25;
/// A notification about an object payhub cannot find is retried a few times (another instance
/// may be committing it right now) before it is settled as not ours.
const UNMATCHED_ATTEMPTS: i64 = 3;
/// A notification about an object payhub itself is creating (the provider told before the
/// creating request committed) waits this many attempts, about two and a half minutes, longer
/// than any provider call may take; after that the request is taken for dead and the object is
/// recovered from the provider.
const CREATOR_ATTEMPTS: i64 = 6;

pub async fn run(hub: Hub, mut shutdown: Shutdown) {
    loop {
        let worked = match claim_and_process(&hub).await {
            Ok(n) => n > 0,
            Err(e) => {
                warn!(error = %e, "inbox processor could not claim notifications");
                false
            }
        };
        if worked {
            continue;
        }
        tokio::select! {
            _ = hub.signals.inbox.notified() => {}
            _ = tokio::time::sleep(hub.settings.workers.poll_interval) => {}
            _ = shutdown.requested() => return,
        }
    }
}

/// Claims and applies one batch; returns how many notifications it took.
pub async fn claim_and_process(hub: &Hub) -> Result<usize, ServiceError> {
    let now = hub.clock.now();
    let lease = Duration::from_std(hub.settings.workers.lease).unwrap_or(Duration::minutes(1));
    let (claimed, lanes_at_once) = batching(hub.db.dialect());
    let batch = hub.db.claim_due_notifications(now, now + lease, claimed).await?;
    let taken = batch.len();
    let batch = batch.into_iter().map(|notification| read(hub, notification)).collect();
    futures::stream::iter(lanes(batch))
        .for_each_concurrent(lanes_at_once, |lane| async move {
            for read in lane {
                process(hub, read).await;
            }
        })
        .await;
    Ok(taken)
}

/// A claimed notification with what its provider reads in it (once: the lanes are drawn from it
/// and it is applied after confirmation), or why it cannot be read.
struct Read {
    notification: ClaimedNotification,
    interpretation: Result<Interpretation, String>,
}

fn read(hub: &Hub, notification: ClaimedNotification) -> Read {
    let interpretation =
        hub.provider(notification.mode, notification.provider).map_err(|e| e.to_string()).and_then(|provider| {
            provider.interpret(&notification.event_type, &notification.body).map_err(|e| e.to_string())
        });
    Read { notification, interpretation }
}

/// Splits a batch into lanes applied side by side, each in arrival order. Applying is mostly
/// waiting on the database, so independent notifications overlap; notifications that may touch
/// the same object stay in one lane, in the order they arrived. Only payments and refunds are
/// told apart (by every id a notification names: payhub's and the provider's); a batch holding
/// anything else — a subscription, a dispute, an unreadable body — is one lane, as it always was.
fn lanes(batch: Vec<Read>) -> Vec<Vec<Read>> {
    let mut names: Vec<Vec<String>> = Vec::with_capacity(batch.len());
    for read in &batch {
        let named = match &read.interpretation {
            Ok(Interpretation::Payment { payment_id, provider_refs, .. }) => {
                payment_id.iter().cloned().chain(provider_refs.iter().cloned()).collect()
            }
            Ok(Interpretation::Refund { refund_id, provider_refund_id, provider_payment_refs, .. }) => refund_id
                .iter()
                .cloned()
                .chain([provider_refund_id.clone()])
                .chain(provider_payment_refs.iter().cloned())
                .collect(),
            _ => return vec![batch],
        };
        names.push(named);
    }
    // A notification joins the first lane that shares one of its names; one that shares names
    // with several lanes merges them (the later lanes' notifications all arrived after the
    // first lane's first, and keep their order by id below).
    let mut lanes: Vec<(Vec<String>, Vec<Read>)> = Vec::new();
    for (read, named) in batch.into_iter().zip(names) {
        let sharing: Vec<usize> =
            (0..lanes.len()).filter(|&i| lanes[i].0.iter().any(|name| named.contains(name))).collect();
        match sharing.split_first() {
            None => lanes.push((named, vec![read])),
            Some((&first, rest)) => {
                for &other in rest.iter().rev() {
                    let (other_names, other_lane) = lanes.remove(other);
                    lanes[first].0.extend(other_names);
                    lanes[first].1.extend(other_lane);
                }
                lanes[first].0.extend(named);
                lanes[first].1.push(read);
                lanes[first].1.sort_by_key(|read| read.notification.id);
            }
        }
    }
    lanes.into_iter().map(|(_, lane)| lane).collect()
}

async fn process(hub: &Hub, read: Read) {
    let (id, attempt) = (read.notification.id, read.notification.attempt);
    let outcome =
        crate::metrics::timed_apply(read.notification.provider, apply(hub, &read.notification, read.interpretation))
            .await;
    let now = hub.clock.now();
    let result = match outcome {
        Ok(Applied::Done) => Ok(()),
        Ok(Applied::NothingToDo(note)) => {
            debug!(inbox_id = id, %note, "notification settled without effect");
            hub.db.settle_notification(id, now, &note).await
        }
        Ok(Applied::Unmatched(note)) if attempt >= UNMATCHED_ATTEMPTS => {
            hub.db.settle_notification(id, now, &note).await
        }
        Ok(Applied::Unmatched(note) | Applied::Pending(note)) => {
            hub.db.retry_notification(id, now + retry_delay(attempt), &note, false).await
        }
        Ok(Applied::Unreadable(note)) => {
            warn!(inbox_id = id, %note, "a verified notification could not be read; parked for a person");
            hub.db.retry_notification(id, now, &note, true).await
        }
        Err(e) => {
            let park = attempt >= MAX_ATTEMPTS || retrying_cannot_help(&e);
            warn!(inbox_id = id, attempt, park, error = %e, "could not apply a notification; will retry");
            hub.db.retry_notification(id, now + retry_delay(attempt), &e.to_string(), park).await
        }
    };
    if let Err(e) = result {
        // The lease runs out and the notification is claimed again: nothing is lost.
        warn!(inbox_id = id, error = %e, "could not record the notification's outcome");
    }
}

/// A write the database refuses for a rule of its schema, or stored data it cannot read, fails
/// the same way on every attempt: parked at once with its reason rather than retried for a day.
/// A duplicate is the exception: a competing instance may have stored the same thing, and the
/// next attempt reads it.
fn retrying_cannot_help(error: &ServiceError) -> bool {
    match error {
        ServiceError::Store(StoreError::Constraint { constraint, .. }) => constraint.kind != ConstraintKind::Unique,
        ServiceError::Store(StoreError::Corrupt(_)) => true,
        _ => false,
    }
}

/// 5 s, 10 s, 20 s … capped at an hour.
fn retry_delay(attempt: i64) -> Duration {
    let exponent = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    (Duration::seconds(5) * 2i32.saturating_pow(exponent)).min(Duration::hours(1))
}

enum Applied {
    Done,
    NothingToDo(String),
    Unmatched(String),
    /// About an object payhub is still creating: retried until it is committed.
    Pending(String),
    /// Verified, but not in a shape payhub can read: parked as `failed` for a person, kept.
    Unreadable(String),
}

async fn apply(
    hub: &Hub,
    n: &ClaimedNotification,
    interpretation: Result<Interpretation, String>,
) -> Result<Applied, ServiceError> {
    let provider = hub.provider(n.mode, n.provider)?;
    match provider.confirm_notification(&n.event_type, &n.body).await {
        Confirmation::Confirmed => {}
        Confirmation::Refused(note) => {
            disowned(hub, n, &note).await?;
            return Ok(Applied::NothingToDo(format!("rejected, not applied: {note}")));
        }
        Confirmation::Unavailable(note) => {
            return Ok(Applied::Pending(format!("waiting to confirm with {}: {note}", n.provider)));
        }
    }
    let interpretation = match interpretation {
        Ok(i) => i,
        Err(rejected) => return Ok(Applied::Unreadable(format!("unreadable: {rejected}"))),
    };
    let cause = Cause::Notification { inbox_id: n.id, provider_event_id: n.provider_event_id.clone() };
    match interpretation {
        Interpretation::Unhandled { reason } => Ok(Applied::NothingToDo(reason)),
        Interpretation::Subscription { provider_subscription_id } => {
            let known = hub.db.find_subscription_by_provider_id(n.provider, &provider_subscription_id).await?;
            let creator_overdue = n.attempt >= CREATOR_ATTEMPTS;
            let subscription = match known {
                Some(subscription) => subscription,
                None => match hub
                    .import_subscription(n.mode, n.provider, &provider_subscription_id, creator_overdue, &cause)
                    .await?
                {
                    Adoption::Adopted(subscription) => *subscription,
                    Adoption::Unmatched(note) => return Ok(Applied::Unmatched(note)),
                    Adoption::Pending(note) => return Ok(Applied::Pending(note)),
                },
            };
            hub.sync_subscription(&subscription, &cause, Some(n.id)).await?;
            Ok(Applied::Done)
        }
        Interpretation::Dispute { provider_dispute_id } => {
            dispute_applied(hub.sync_dispute(n.mode, n.provider, &provider_dispute_id, &cause, Some(n.id)).await?)
        }
        Interpretation::Reversal { facts } => {
            dispute_applied(hub.apply_reversal(n.mode, n.provider, &facts, &cause, Some(n.id)).await?)
        }
        Interpretation::ReversalCanceled { transaction_id } => {
            dispute_applied(hub.apply_reversal_canceled(n.mode, n.provider, &transaction_id, &cause, Some(n.id)).await?)
        }
        Interpretation::Payment { payment_id, provider_refs, snapshot, external } => {
            // The id payhub gave the provider comes back in the provider's payload, so it is
            // parsed like any outside input; one that is not a payment id matches nothing.
            let ours = payment_id.as_deref().and_then(PaymentId::parse_exact);
            let names_ours = ours.is_some();
            let mut found = match ours {
                Some(id) => hub.db.find_payment(&id).await?.filter(|p| p.provider == n.provider),
                None => None,
            };
            for provider_ref in &provider_refs {
                if found.is_some() {
                    break;
                }
                found = hub.db.find_payment_by_provider_ref(n.provider, provider_ref).await?;
            }
            let Some(payment) = found else {
                // Paid at the provider and naming no payment of payhub's: made outside payhub.
                if let Some(external) = external.filter(|_| !names_ours) {
                    hub.adopt_external_payment(n.mode, n.provider, external, &cause, Some(n.id)).await?;
                    return Ok(Applied::Done);
                }
                return Ok(Applied::Unmatched(format!("no payment for {} {:?}", n.provider, provider_refs)));
            };
            if let Some(note) = amount_disagrees(&payment, snapshot.as_ref()) {
                return Ok(Applied::NothingToDo(note));
            }
            hub.sync_payment(&payment, snapshot, &cause, Some(n.id)).await?;
            Ok(Applied::Done)
        }
        Interpretation::Refund { refund_id, provider_refund_id, provider_payment_refs, facts, amount } => {
            let refund_id = refund_id.as_deref().and_then(RefundId::parse_exact);
            if let Some(refund) = hub.db.find_refund(refund_id.as_ref(), n.provider, &provider_refund_id).await? {
                hub.apply_refund_facts(&refund.id, &facts, &cause, Some(n.id)).await?;
                return Ok(Applied::Done);
            }
            let mut payment = None;
            for provider_ref in &provider_payment_refs {
                if payment.is_none() {
                    payment = hub.db.find_payment_by_provider_ref(n.provider, provider_ref).await?;
                }
            }
            match (payment, amount) {
                (Some(payment), Some(amount)) => {
                    hub.record_provider_refund(&payment.id, &provider_refund_id, amount, &facts, &cause, Some(n.id))
                        .await?;
                    Ok(Applied::Done)
                }
                _ => Ok(Applied::Unmatched(format!("no payment for {} refund {provider_refund_id}", n.provider))),
            }
        }
    }
}

fn dispute_applied(sync: DisputeSync) -> Result<Applied, ServiceError> {
    Ok(match sync {
        DisputeSync::Applied(_) => Applied::Done,
        DisputeSync::Unmatched(note) => Applied::Unmatched(note),
    })
}

/// A notification the provider disowned is kept among the rejected notifications too, where
/// forged notifications refused on arrival are.
async fn disowned(hub: &Hub, n: &ClaimedNotification, note: &str) -> Result<(), ServiceError> {
    warn!(inbox_id = n.id, provider = %n.provider, %note, "the provider disowned a stored notification");
    let rejected = RejectedNotification {
        provider: n.provider,
        reason: RejectionReason::PostbackInvalid.as_str().to_owned(),
        detail: format!("{note} (inbox {}, {})", n.id, n.provider_event_id),
        // The inbox keeps no sender address.
        source: "unknown".to_owned(),
        headers: Vec::new(),
        body: n.body.clone(),
        kept: Kept::Sample,
        received_at: hub.clock.now(),
    };
    Ok(hub.db.record_rejected(&rejected, hub.settings.rejections).await?)
}

/// A success for less than the payment's amount, or in another currency, is flagged, not
/// applied: a provider confirms that money moved, not that it was the price (a buyer can edit
/// a PayPal button's amount before paying). More than the amount is an overpayment, which the
/// payment records as an anomaly.
fn amount_disagrees(payment: &Payment, snapshot: Option<&PaymentSnapshot>) -> Option<String> {
    let facts = &snapshot?.facts;
    let paid = facts.captured.filter(|_| facts.status == PaymentStatus::Succeeded)?;
    (paid.currency != payment.currency || paid.amount < payment.amount).then(|| {
        format!(
            "flagged, not applied: the provider reports {} {} paid for payment {} of {} {}",
            paid.to_decimal_string(),
            paid.currency.code(),
            payment.id,
            payment.money().to_decimal_string(),
            payment.currency.code(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{retry_delay, retrying_cannot_help};
    use crate::services::ServiceError;
    use chrono::Duration;
    use payhub_store::{Constraint, ConstraintKind, StoreError};

    fn broken(kind: ConstraintKind) -> ServiceError {
        let constraint = Constraint { kind, meaning: "a rule" };
        ServiceError::Store(StoreError::Constraint { constraint, detail: String::new() })
    }

    #[test]
    fn a_broken_rule_is_parked_at_once_but_a_duplicate_and_a_lost_connection_are_retried() {
        assert!(retrying_cannot_help(&broken(ConstraintKind::Check)));
        assert!(retrying_cannot_help(&broken(ConstraintKind::ForeignKey)));
        assert!(!retrying_cannot_help(&broken(ConstraintKind::Unique)));
        assert!(!retrying_cannot_help(&ServiceError::Store(StoreError::Database(sqlx::Error::PoolTimedOut))));
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::seconds(5));
        assert_eq!(retry_delay(2), Duration::seconds(10));
        assert_eq!(retry_delay(5), Duration::seconds(80));
        assert_eq!(retry_delay(30), Duration::hours(1));
    }
}
