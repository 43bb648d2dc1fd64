//! The reconciler: nothing waits on a webhook alone. Every non-final payment, refund,
//! subscription and dispute carries the time of its next check; due ones are claimed a page at
//! a time by index until none is left, the provider is asked (several at once), the answer is
//! applied, and the next check is pushed out with the object's age or due date (see
//! `payhub_core::schedule`). Each pass also sweeps the providers' disputes changed since the
//! last sweep. A lost webhook costs minutes, not money.

use std::future::Future;

use chrono::Duration;
use futures::StreamExt;
use futures::stream;
use payhub_core::payment::Payment;
use payhub_core::transition::Cause;
use payhub_store::StoreError;
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
    // What is due is fixed at the start of the pass (so a pass ends); each page's lease runs
    // from its own claim, so the last pages of a long pass are not left to other instances.
    let lease = Duration::from_std(hub.settings.workers.lease).unwrap_or(Duration::minutes(1));
    let lease_until = || hub.clock.now() + lease;
    let db = &hub.db;
    let mut checked = 0;
    checked +=
        drain(shutdown, || db.claim_payments_due(now, lease_until(), PAGE), |page| check_payments(hub, page)).await?;
    checked += drain(
        shutdown,
        || db.claim_refunds_due(now, lease_until(), PAGE),
        |page| {
            each(hub, page, |refund| async move {
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
            each(hub, page, |subscription| async move {
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
            each(hub, page, |dispute| async move {
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
    loop {
        let page = claim().await?;
        let full = page.len() >= PAGE as usize;
        checked += page.len();
        check(page).await;
        if !full || shutdown.is_requested() {
            return Ok(checked);
        }
    }
}

/// Runs `check` on every object of a page, as many at once as the settings allow.
async fn each<T, Done: Future<Output = ()>>(hub: &Hub, page: Vec<T>, check: impl FnMut(T) -> Done) {
    let concurrency = hub.settings.workers.reconcile_concurrency.max(1);
    stream::iter(page).map(check).buffer_unordered(concurrency).collect::<()>().await;
}

/// Checks a page of payments; those whose check wrote no next check (unchanged at the provider,
/// or the provider could not be asked) get it in one statement for the page.
async fn check_payments(hub: &Hub, page: Vec<Payment>) {
    let concurrency = hub.settings.workers.reconcile_concurrency.max(1);
    let unscheduled: Vec<Payment> = stream::iter(page)
        .map(|payment| async move {
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
