//! The reconciler: nothing waits on a webhook alone. Every non-final payment, refund,
//! subscription and dispute carries the time of its next check; due ones are taken in batches
//! by index, the provider is asked, the answer is applied, and the next check is pushed out with
//! the object's age or due date (see `payhub_core::schedule`). Each pass also sweeps the
//! providers' disputes changed since the last sweep. A lost webhook costs minutes, not money.

use chrono::Duration;
use payhub_core::payment::{Payment, PaymentStatus};
use payhub_core::transition::Cause;
use tracing::{info, warn};

use crate::app::Hub;
use crate::services::ServiceError;
use crate::workers::Shutdown;

const BATCH: u32 = 50;

pub async fn run(hub: Hub, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = reconcile_due(&hub).await {
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
    let now = hub.clock.now();
    let lease_until = now + Duration::from_std(hub.settings.workers.lease).unwrap_or(Duration::minutes(1));
    let payments = hub.db.claim_payments_due(now, lease_until, BATCH).await?;
    let refunds = hub.db.claim_refunds_due(now, lease_until, BATCH).await?;
    let subscriptions = hub.db.claim_subscriptions_due(now, lease_until, BATCH).await?;
    let disputes = hub.db.claim_disputes_due(now, lease_until, BATCH).await?;
    let checked = payments.len() + refunds.len() + subscriptions.len() + disputes.len();
    for payment in payments {
        if let Err(e) = check_payment(hub, &payment).await {
            warn!(payment = %payment.id, error = %e, "could not reconcile a payment");
            postpone(hub, &payment).await;
        }
    }
    for refund in refunds {
        if let Err(e) = hub.sync_refund(&refund, &Cause::Reconciler).await {
            warn!(refund = %refund.id, error = %e, "could not reconcile a refund");
            // sync_refund reschedules on success only; an unreachable provider is asked again
            // on the refund's normal schedule.
            postpone_refund(hub, &refund).await;
        }
    }
    for subscription in subscriptions {
        if let Err(e) = hub.sync_subscription(&subscription, &Cause::Reconciler, None).await {
            warn!(subscription = %subscription.id, error = %e, "could not reconcile a subscription");
            if let Err(e) = hub.reschedule_subscription_check(&subscription.id).await {
                warn!(subscription = %subscription.id, error = %e, "could not reschedule the subscription's next check");
            }
        }
    }
    for dispute in disputes {
        if let Err(e) = hub.check_dispute(&dispute).await {
            warn!(dispute = %dispute.id, error = %e, "could not reconcile a dispute");
            if let Err(e) = hub.reschedule_dispute_check(&dispute.id).await {
                warn!(dispute = %dispute.id, error = %e, "could not reschedule the dispute's next check");
            }
        }
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

async fn check_payment(hub: &Hub, payment: &Payment) -> Result<(), ServiceError> {
    let applied = hub.sync_payment(payment, None, &Cause::Reconciler, None).await?;
    let expiry = Duration::from_std(hub.settings.payment_expiry).unwrap_or(Duration::hours(3));
    let current = applied.payment;
    if current.status() == PaymentStatus::RequiresAction && hub.clock.now() - current.created_at > expiry {
        info!(payment = %current.id, "the buyer never completed the payment; it expires");
        hub.end_unpaid_payment(&current, PaymentStatus::Expired, &Cause::Reconciler).await?;
    } else if current.next_check_at == payment.next_check_at {
        // Nothing changed, so nothing rescheduled it: push the next check out.
        postpone(hub, &current).await;
    }
    Ok(())
}

async fn postpone(hub: &Hub, payment: &Payment) {
    if let Err(e) = hub.reschedule_payment_check(&payment.id).await {
        warn!(payment = %payment.id, error = %e, "could not reschedule the payment's next check");
    }
}

async fn postpone_refund(hub: &Hub, refund: &payhub_core::refund::Refund) {
    if let Err(e) = hub.reschedule_refund_check(&refund.id).await {
        warn!(refund = %refund.id, error = %e, "could not reschedule the refund's next check");
    }
}
