//! The reconciler: nothing waits on a webhook alone. Every non-final payment, refund,
//! subscription and dispute carries the time of its next check; due ones are claimed a page at
//! a time by index until none is left, the provider is asked (several at once), the answer is
//! applied, and the next check is pushed out with the object's age or due date (see
//! `payhub_core::schedule`). Each pass also sweeps the providers' disputes changed since the
//! last sweep. A lost webhook costs minutes, not money.

use std::future::Future;

use chrono::Duration;
use futures::StreamExt;
use futures::stream::{self, FuturesUnordered};
use payhub_core::payment::Payment;
use payhub_core::transition::Cause;
use payhub_store::StoreError;
use tokio::sync::Semaphore;
use tracing::warn;

use crate::app::Hub;
use crate::services::ServiceError;
use crate::workers::Shutdown;

/// Objects claimed at a time. A pass claims page after page until none is left, so a backlog
/// drains in one pass; a page is small enough that a stopping instance finishes it promptly.
pub const PAGE: u32 = 200;

pub async fn run(hub: Hub, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(&hub, &shutdown).await {
            warn!(error = %e, "reconciliation pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(hub.settings.workers.reconcile_interval) => {}
            _ = shutdown.requested() => return,
        }
    }
}

/// One pass over everything due now; returns how many objects were checked.
pub async fn reconcile_due(hub: &Hub) -> Result<usize, ServiceError> {
    let (_running, shutdown) = Shutdown::new();
    sweep(hub, &shutdown).await
}

/// One pass: every kind of object due now is claimed a page at a time and checked, up to
/// `workers.reconcile_concurrency` provider calls at once, until nothing is due or shutdown is
/// requested. A claimed object is leased to this instance, so another one sweeping at the
/// same time checks other objects.
async fn sweep(hub: &Hub, shutdown: &Shutdown) -> Result<usize, ServiceError> {
    let now = hub.clock.now();
    // Shared by the pages checked at once: the pass as a whole asks the provider about at most
    // this many objects at a time.
    let permits = Semaphore::new(hub.settings.workers.reconcile_concurrency.max(1));
    let permits = &permits;
    // What is due is fixed at the start of the pass (so a pass ends); each page's lease runs
    // from its own claim, so the last pages of a long pass are not left to other instances.
    let lease = Duration::from_std(hub.settings.workers.lease).unwrap_or(Duration::minutes(1));
    let lease_until = || hub.clock.now() + lease;
    let db = &hub.db;
    let mut checked = 0;
    checked +=
        drain(shutdown, || db.claim_payments_due(now, lease_until(), PAGE), |page| check_payments(hub, permits, page))
            .await?;
    checked += drain(
        shutdown,
        || db.claim_refunds_due(now, lease_until(), PAGE),
        |page| {
            each(hub, permits, page, |refund| async move {
                if let Err(e) = hub.sync_refund(&refund, &Cause::Reconciler).await {
                    warn!(refund = %refund.id, error = %e, "could not reconcile a refund");
                    // sync_refund reschedules on success only; an unreachable provider is asked
                    // again on the refund's normal schedule.
                    if let Err(e) = hub.reschedule_refund_check(&refund.id).await {
                        warn!(refund = %refund.id, error = %e, "could not reschedule the refund's next check");
                    }
                }
            })
        },
    )
    .await?;
    checked += drain(
        shutdown,
        || db.claim_subscriptions_due(now, lease_until(), PAGE),
        |page| {
            each(hub, permits, page, |subscription| async move {
                if let Err(e) = hub.sync_subscription(&subscription, &Cause::Reconciler, None).await {
                    warn!(subscription = %subscription.id, error = %e, "could not reconcile a subscription");
                    if let Err(e) = hub.reschedule_subscription_check(&subscription.id).await {
                        warn!(subscription = %subscription.id, error = %e, "could not reschedule the subscription's next check");
                    }
                }
            })
        },
    )
    .await?;
    checked += drain(
        shutdown,
        || db.claim_disputes_due(now, lease_until(), PAGE),
        |page| {
            each(hub, permits, page, |dispute| async move {
                if let Err(e) = hub.check_dispute(&dispute).await {
                    warn!(dispute = %dispute.id, error = %e, "could not reconcile a dispute");
                    if let Err(e) = hub.reschedule_dispute_check(&dispute.id).await {
                        warn!(dispute = %dispute.id, error = %e, "could not reschedule the dispute's next check");
                    }
                }
            })
        },
    )
    .await?;
    if shutdown.is_requested() {
        return Ok(checked);
    }
    if let Err(e) = hub.sweep_disputes().await {
        warn!(error = %e, "the sweep of the providers' disputes failed; the next pass tries again");
    }
    hub.lapse_entitlements().await?;
    // Clients retry within minutes or hours; a day of idempotency keys is plenty to keep.
    hub.db.purge_idempotency_keys(now - Duration::days(1)).await?;
    hub.db.purge_stopped_instances(now - Duration::days(1)).await?;
    Ok(checked)
}

/// Claims pages with `claim` and checks each with `check` until a page comes back short
/// (nothing else is due, or other instances hold the rest) or shutdown is requested; returns
/// how many objects were checked. Every claim pushes its objects' next check past `now`, so
/// no object is claimed twice in a pass.
///
/// Two pages are under way at once: the next page is claimed while one is checked, and its
/// checks take the places the last, slowest checks of the page before leave free (the pass's
/// permits bound the provider calls), so neither the claim nor a page's tail and rescheduling
/// stall the pass.
async fn drain<T, Claimed, Checked>(
    shutdown: &Shutdown,
    claim: impl Fn() -> Claimed,
    check: impl Fn(Vec<T>) -> Checked,
) -> Result<usize, ServiceError>
where
    Claimed: Future<Output = Result<Vec<T>, StoreError>>,
    Checked: Future<Output = ()>,
{
    let mut checked = 0;
    let mut checking = FuturesUnordered::new();
    let mut claiming = Some(Box::pin(claim()));
    let (mut more, mut failed) = (true, None);
    while claiming.is_some() || !checking.is_empty() {
        tokio::select! {
            claimed = async { claiming.as_mut().expect("a claim is under way").await }, if claiming.is_some() => {
                claiming = None;
                match claimed {
                    Ok(page) => {
                        more = page.len() >= PAGE as usize;
                        checked += page.len();
                        checking.push(check(page));
                    }
                    Err(e) => (more, failed) = (false, Some(e)),
                }
            }
            Some(()) = checking.next(), if !checking.is_empty() => {}
        }
        // A short page, shutdown or a failed claim ends the pass; pages already claimed are
        // checked to the end.
        if more && claiming.is_none() && checking.len() < 2 && !shutdown.is_requested() {
            claiming = Some(Box::pin(claim()));
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(checked),
    }
}

/// Runs `check` on every object of a page, each holding one of the pass's permits.
async fn each<T, Done: Future<Output = ()>>(hub: &Hub, permits: &Semaphore, page: Vec<T>, check: impl Fn(T) -> Done) {
    let concurrency = hub.settings.workers.reconcile_concurrency.max(1);
    let check = &check;
    stream::iter(page)
        .map(|object| async move {
            // The semaphore is never closed.
            let _permit = permits.acquire().await;
            check(object).await
        })
        .buffer_unordered(concurrency)
        .collect::<()>()
        .await;
}

/// Checks a page of payments; those whose check wrote no next check (unchanged at the provider,
/// or the provider could not be asked) get it in one statement for the page.
async fn check_payments(hub: &Hub, permits: &Semaphore, page: Vec<Payment>) {
    let concurrency = hub.settings.workers.reconcile_concurrency.max(1);
    let unscheduled: Vec<Payment> = stream::iter(page)
        .map(|payment| async move {
            let _permit = permits.acquire().await;
            match hub.check_payment(&payment).await {
                Ok(unscheduled) => unscheduled,
                Err(e) => {
                    warn!(payment = %payment.id, error = %e, "could not reconcile a payment");
                    Some(payment)
                }
            }
        })
        .buffer_unordered(concurrency)
        .filter_map(|unscheduled| async move { unscheduled })
        .collect()
        .await;
    if let Err(e) = hub.reschedule_payment_checks(&unscheduled).await {
        warn!(error = %e, payments = unscheduled.len(), "could not reschedule the payments' next checks");
    }
}
