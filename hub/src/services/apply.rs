//! Monotonic apply: provider facts are merged into the stored resource under its row lock; the
//! transition, the resource and its normalized event are written in one transaction (with the
//! inbox row that caused them, when there is one), so a crash anywhere leaves either all of it
//! or none of it.

use chrono::{DateTime, Utc};
use payhub_core::event::Resource;
use payhub_core::id::{PaymentId, RefundId, SubscriptionId};
use payhub_core::payment::{Anomaly, AnomalyKind, Merge, Payment, PaymentFacts};
use payhub_core::refund::{Refund, RefundFacts, RefundMerge, RefundStatus};
use payhub_core::schedule::{next_payment_check, next_refund_check};
use payhub_core::transition::{Cause, Transition};
use payhub_core::{Event, EventType, IdGenerator, Money};
use payhub_store::Tx;
use tracing::{info, warn};

use super::ServiceError;
use crate::app::Hub;
use crate::config::AnomalyPolicy;

/// The outcome of applying facts to a payment.
#[derive(Debug)]
pub struct AppliedPayment {
    pub payment: Payment,
    pub merge: Merge,
}

impl Hub {
    pub async fn apply_payment_facts(
        &self,
        payment_id: &PaymentId,
        facts: &PaymentFacts,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<AppliedPayment, ServiceError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut payment = tx
            .lock_payment(payment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "payment", id: payment_id.to_string() })?;
        let merge = payment.merge(facts, cause, now);
        let mut wrote_event = false;
        let anomaly = match &merge {
            Merge::Advanced { transition, event, anomaly } => {
                payment.next_check_at = next_payment_check(&payment, now);
                tx.update_payment(&mut payment).await?;
                record(&mut tx, &self.ids, transition, *event, &payment).await?;
                wrote_event = true;
                info!(payment = %payment.id, from = %transition.from, to = %transition.to, %cause, "payment moved");
                anomaly.clone()
            }
            Merge::Unchanged { learned: true, anomaly } => {
                tx.update_payment(&mut payment).await?;
                anomaly.clone()
            }
            Merge::Unchanged { learned: false, .. } | Merge::Stale => None,
            Merge::Conflict { stored, claimed } => {
                warn!(payment = %payment.id, stored = stored.as_str(), claimed = claimed.as_str(), %cause,
                    "provider facts contradict a final payment state; left unchanged");
                None
            }
        };
        let mut refund_to_send = None;
        if let Some(anomaly) = &anomaly {
            warn!(payment = %payment.id, kind = ?anomaly.kind, excess = anomaly.excess, %cause, "payment anomaly detected");
            announce(&mut tx, &self.ids, EventType::PaymentAnomalyDetected, &payment, now).await?;
            wrote_event = true;
            if self.settings.anomaly_policy == AnomalyPolicy::Refund {
                refund_to_send = queue_anomaly_refund(&mut tx, &self.ids, &mut payment, anomaly, cause, now).await?;
            }
        }
        if let Some(id) = inbox_id {
            tx.mark_notification_processed(id, now).await?;
        }
        tx.commit().await?;
        if wrote_event {
            self.signals.outbox.notify_one();
        }
        if let Some(refund) = refund_to_send {
            // Sent now; if this fails or the process dies, the refund is pending and due, so
            // the reconciler sends it.
            if let Err(e) = self.sync_refund(&refund, &Cause::Reconciler).await {
                warn!(refund = %refund.id, error = %e, "the automatic refund will be retried by the reconciler");
            }
        }
        Ok(AppliedPayment { payment, merge })
    }

    /// Settles (or updates) a refund payhub created, and the payment's refund totals with it.
    pub async fn apply_refund_facts(
        &self,
        refund_id: &RefundId,
        facts: &RefundFacts,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<Refund, ServiceError> {
        let now = self.clock.now();
        let not_found = || ServiceError::NotFound { resource: "refund", id: refund_id.to_string() };
        let mut tx = self.db.begin().await?;
        // Lock order is always payment, then refund (as when a refund is created), so two
        // transactions touching both can never deadlock.
        let payment_id = tx.lock_refund(refund_id).await?.ok_or_else(not_found)?.payment_id;
        let mut payment = tx
            .lock_payment(&payment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "payment", id: payment_id.to_string() })?;
        let mut refund = tx.lock_refund(refund_id).await?.ok_or_else(not_found)?;
        let mut wrote_event = false;
        match refund.merge(facts, cause, now) {
            RefundMerge::Settled { transition, event } => {
                tx.update_refund(&mut refund).await?;
                record(&mut tx, &self.ids, &transition, event, &refund).await?;
                let succeeded = refund.status == RefundStatus::Succeeded;
                if let Some(refunded) = payment.settle_refund(refund.amount, succeeded, cause, now) {
                    tx.update_payment(&mut payment).await?;
                    record(&mut tx, &self.ids, &refunded, EventType::PaymentRefunded, &payment).await?;
                } else {
                    tx.update_payment(&mut payment).await?;
                }
                wrote_event = true;
                info!(refund = %refund.id, to = %transition.to, %cause, "refund settled");
            }
            RefundMerge::Unchanged { learned_ids } => {
                if refund.status == RefundStatus::Pending {
                    refund.next_check_at = next_refund_check(&refund, now);
                }
                if learned_ids || refund.status == RefundStatus::Pending {
                    tx.update_refund(&mut refund).await?;
                }
            }
            RefundMerge::Conflict { stored, claimed } => {
                warn!(refund = %refund.id, stored = stored.as_str(), claimed = claimed.as_str(), %cause,
                    "provider facts contradict a final refund; left unchanged");
            }
        }
        if let Some(id) = inbox_id {
            tx.mark_notification_processed(id, now).await?;
        }
        tx.commit().await?;
        if wrote_event {
            self.signals.outbox.notify_one();
        }
        self.revoke_for_refund(&payment).await?;
        Ok(refund)
    }

    /// A refund payhub did not make (issued in the provider's dashboard): recorded so the
    /// payment's totals and the merchant's event stream stay true. Applied once per provider
    /// refund id.
    pub async fn record_provider_refund(
        &self,
        payment_id: &PaymentId,
        provider_refund_id: &str,
        amount: Money,
        facts: &RefundFacts,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut payment = tx
            .lock_payment(payment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "payment", id: payment_id.to_string() })?;
        let known = tx.lock_refund_by_provider_id(payment.provider, provider_refund_id).await?.is_some();
        let mut wrote_event = false;
        if !known && facts.status == RefundStatus::Succeeded {
            let refund = Refund {
                id: RefundId::generate(&self.ids, now),
                mode: payment.mode,
                payment_id: payment.id.clone(),
                status: RefundStatus::Succeeded,
                amount: amount.amount,
                currency: amount.currency,
                reason: Some("refunded at the provider, outside payhub".into()),
                metadata: Default::default(),
                provider_options: Default::default(),
                provider_refund_id: Some(provider_refund_id.to_owned()),
                failure: None,
                created_at: now,
                updated_at: now,
                version: 1,
                next_check_at: None,
            };
            tx.insert_refund(&refund, payment.provider).await?;
            let created =
                Transition::new(refund.id.as_str(), "none", RefundStatus::Succeeded.as_str(), cause.clone(), now);
            record(&mut tx, &self.ids, &created, EventType::RefundSucceeded, &refund).await?;
            let refunded = payment.record_external_refund(amount.amount, cause, now);
            tx.update_payment(&mut payment).await?;
            if let Some(t) = refunded {
                record(&mut tx, &self.ids, &t, EventType::PaymentRefunded, &payment).await?;
            }
            wrote_event = true;
            info!(payment = %payment.id, refund = %refund.id, provider_refund_id, "recorded a refund made at the provider");
        }
        if let Some(id) = inbox_id {
            tx.mark_notification_processed(id, now).await?;
        }
        tx.commit().await?;
        if wrote_event {
            self.signals.outbox.notify_one();
        }
        self.revoke_for_refund(&payment).await?;
        Ok(())
    }
}

/// Reserves and records the refund of money taken in excess, in the transaction that detected
/// it: the intent is durable before anything is sent to the provider.
async fn queue_anomaly_refund(
    tx: &mut Tx,
    ids: &IdGenerator,
    payment: &mut Payment,
    anomaly: &Anomaly,
    cause: &Cause,
    now: DateTime<Utc>,
) -> Result<Option<Refund>, ServiceError> {
    let amount = Money::new(anomaly.excess, payment.currency);
    if let Err(rejection) = payment.reserve_refund(amount, now) {
        // Already refunded by hand, say: the anomaly stays flagged for a person.
        warn!(payment = %payment.id, %rejection, "the excess cannot be refunded automatically");
        return Ok(None);
    }
    let reason = match anomaly.kind {
        AnomalyKind::PaidAfterCancel => "automatic refund: paid after the payment was canceled",
        AnomalyKind::Overpaid => "automatic refund: paid more than once",
    };
    let refund = Refund {
        id: RefundId::generate(ids, now),
        mode: payment.mode,
        payment_id: payment.id.clone(),
        status: RefundStatus::Pending,
        amount: amount.amount,
        currency: amount.currency,
        reason: Some(reason.into()),
        metadata: Default::default(),
        provider_options: Default::default(),
        provider_refund_id: None,
        failure: None,
        created_at: now,
        updated_at: now,
        version: 1,
        next_check_at: Some(now),
    };
    tx.update_payment(payment).await?;
    tx.insert_refund(&refund, payment.provider).await?;
    let created = Transition::new(refund.id.as_str(), "none", RefundStatus::Pending.as_str(), cause.clone(), now);
    record(tx, ids, &created, EventType::RefundCreated, &refund).await?;
    Ok(Some(refund))
}

impl Hub {
    /// Pushes a payment's next provider check out along its schedule (nothing changed).
    pub async fn reschedule_payment_check(&self, payment_id: &PaymentId) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if let Some(mut payment) = tx.lock_payment(payment_id).await? {
            payment.next_check_at = next_payment_check(&payment, now);
            tx.update_payment(&mut payment).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn reschedule_subscription_check(&self, subscription_id: &SubscriptionId) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if let Some(mut subscription) = tx.lock_subscription(subscription_id).await? {
            subscription.next_check_at = payhub_core::schedule::next_subscription_check(&subscription, now);
            tx.update_subscription(&mut subscription).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn reschedule_refund_check(&self, refund_id: &RefundId) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if let Some(mut refund) = tx.lock_refund(refund_id).await? {
            refund.next_check_at = next_refund_check(&refund, now);
            tx.update_refund(&mut refund).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Writes a transition and the event that announces it, with the resource as it now is.
pub(crate) async fn record<T: Resource>(
    tx: &mut Tx,
    ids: &IdGenerator,
    transition: &Transition,
    event_type: EventType,
    resource: &T,
) -> Result<(), ServiceError> {
    tx.record_transition(transition).await?;
    announce(tx, ids, event_type, resource, transition.at).await
}

/// Writes the event about `resource` as it now is, and queues its deliveries.
pub(crate) async fn announce<T: Resource>(
    tx: &mut Tx,
    ids: &IdGenerator,
    event_type: EventType,
    resource: &T,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    tx.insert_event(&Event::about(event_type, resource, ids, now), ids).await?;
    Ok(())
}
