//! Monotonic apply: provider facts are merged into the stored resource under its row lock; the
//! transition, the resource and its normalized event are written in one transaction (with the
//! inbox row that caused them, when there is one), so a crash anywhere leaves either all of it
//! or none of it.

use chrono::{DateTime, Utc};
use payhub_core::id::{PaymentId, RefundId, SubscriptionId};
use payhub_core::payment::{Anomaly, AnomalyKind, Merge, Payment, PaymentFacts, RefundDetails};
use payhub_core::refund::{Refund, RefundFacts, RefundMerge, RefundStatus};
use payhub_core::schedule::{next_payment_check, next_refund_check, next_subscription_check};
use payhub_core::transition::Cause;
use payhub_core::{EventType, Money};
use payhub_store::UnitOfWork;
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
    /// Begins a change at `now` holding the payment's row lock, as every change to a payment does.
    pub(super) async fn begin_on_payment(
        &self,
        now: DateTime<Utc>,
        payment_id: &PaymentId,
        inbox_id: Option<i64>,
    ) -> Result<(UnitOfWork<'_>, Payment), ServiceError> {
        let mut unit = self.begin(now, inbox_id).await?;
        let payment = unit
            .lock_payment(payment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "payment", id: payment_id.to_string() })?;
        Ok((unit, payment))
    }

    pub async fn apply_payment_facts(
        &self,
        payment_id: &PaymentId,
        facts: &PaymentFacts,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<AppliedPayment, ServiceError> {
        let now = self.clock.now();
        let (mut unit, mut payment) = self.begin_on_payment(now, payment_id, inbox_id).await?;
        let merge = payment.merge(facts, cause, now);
        let anomaly = match &merge {
            Merge::Advanced { moved, anomaly } => {
                payment.next_check_at = next_payment_check(&payment, now);
                unit.update_payment(&mut payment).await?;
                unit.record(moved, &payment).await?;
                let t = moved.transition();
                info!(payment = %payment.id, from = %t.from, to = %t.to, %cause, "payment moved");
                anomaly.clone()
            }
            Merge::Unchanged { learned: true, anomaly } => {
                unit.update_payment(&mut payment).await?;
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
            unit.announce(EventType::PaymentAnomalyDetected, &payment).await?;
            if self.settings.anomaly_policy == AnomalyPolicy::Refund {
                refund_to_send = queue_anomaly_refund(&mut unit, &mut payment, anomaly, cause).await?;
            }
        }
        self.commit(unit).await?;
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
        let mut unit = self.begin(now, inbox_id).await?;
        // Lock order is always payment, then refund (as when a refund is created), so two
        // transactions touching both can never deadlock.
        let payment_id = unit.lock_refund(refund_id).await?.ok_or_else(not_found)?.payment_id;
        let mut payment = unit
            .lock_payment(&payment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "payment", id: payment_id.to_string() })?;
        let mut refund = unit.lock_refund(refund_id).await?.ok_or_else(not_found)?;
        match refund.merge(facts, cause, now) {
            RefundMerge::Settled { moved } => {
                unit.update_refund(&mut refund).await?;
                unit.record(&moved, &refund).await?;
                let succeeded = refund.status() == RefundStatus::Succeeded;
                let refunded = payment.settle_refund(refund.amount, succeeded, cause, now);
                unit.update_payment(&mut payment).await?;
                if let Some(refunded) = refunded {
                    unit.record(&refunded, &payment).await?;
                }
                info!(refund = %refund.id, to = %moved.transition().to, %cause, "refund settled");
            }
            RefundMerge::Unchanged { learned_ids } => {
                if refund.status() == RefundStatus::Pending {
                    refund.next_check_at = next_refund_check(&refund, now);
                }
                if learned_ids || refund.status() == RefundStatus::Pending {
                    unit.update_refund(&mut refund).await?;
                }
            }
            RefundMerge::Conflict { stored, claimed } => {
                warn!(refund = %refund.id, stored = stored.as_str(), claimed = claimed.as_str(), %cause,
                    "provider facts contradict a final refund; left unchanged");
            }
        }
        self.commit(unit).await?;
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
        let (mut unit, mut payment) = self.begin_on_payment(now, payment_id, inbox_id).await?;
        let known = unit.lock_refund_by_provider_id(payment.provider, provider_refund_id).await?.is_some();
        if !known && facts.status == RefundStatus::Succeeded {
            let (refund, refunded) = payment.record_external_refund(
                RefundId::generate(&self.ids, now),
                provider_refund_id,
                amount,
                cause,
                now,
            );
            unit.create_refund(&refund, payment.provider).await?;
            unit.update_payment(&mut payment).await?;
            if let Some(refunded) = refunded {
                unit.record(&refunded, &payment).await?;
            }
            info!(payment = %payment.id, refund = %refund.resource().id, provider_refund_id, "recorded a refund made at the provider");
        }
        self.commit(unit).await?;
        self.revoke_for_refund(&payment).await?;
        Ok(())
    }
}

/// Reserves and records the refund of money taken in excess, in the unit of work that detected
/// it: the intent is durable before anything is sent to the provider.
async fn queue_anomaly_refund(
    unit: &mut UnitOfWork<'_>,
    payment: &mut Payment,
    anomaly: &Anomaly,
    cause: &Cause,
) -> Result<Option<Refund>, ServiceError> {
    let now = unit.now();
    let amount = Money::new(anomaly.excess, payment.currency);
    let reason = match anomaly.kind {
        AnomalyKind::PaidAfterCancel => "automatic refund: paid after the payment was canceled",
        AnomalyKind::Overpaid => "automatic refund: paid more than once",
    };
    let details = RefundDetails { reason: Some(reason.into()), ..Default::default() };
    let mut created = match payment.refund(RefundId::generate(unit.ids(), now), amount, details, cause, now) {
        Ok(created) => created,
        Err(rejection) => {
            // Already refunded by hand, say: the anomaly stays flagged for a person.
            warn!(payment = %payment.id, %rejection, "the excess cannot be refunded automatically");
            return Ok(None);
        }
    };
    // Due at once: the reconciler sends it if the caller cannot.
    created.resource_mut().next_check_at = Some(now);
    unit.update_payment(payment).await?;
    unit.create_refund(&created, payment.provider).await?;
    Ok(Some(created.into_resource()))
}

impl Hub {
    /// Pushes a payment's next provider check out along its schedule (nothing changed).
    pub async fn reschedule_payment_check(&self, payment_id: &PaymentId) -> Result<(), ServiceError> {
        let mut unit = self.begin(self.clock.now(), None).await?;
        if let Some(mut payment) = unit.lock_payment(payment_id).await? {
            payment.next_check_at = next_payment_check(&payment, unit.now());
            unit.update_payment(&mut payment).await?;
        }
        self.commit(unit).await
    }

    /// Pushes out the next check of payments the reconciler checked, in one statement: each
    /// by its schedule, unless it changed since it was read (a change sets its own next check).
    pub async fn reschedule_payment_checks(&self, payments: &[Payment]) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let checks: Vec<_> = payments.iter().map(|p| (&p.id, p.version(), next_payment_check(p, now))).collect();
        self.db.reschedule_payment_checks(&checks).await?;
        Ok(())
    }

    pub async fn reschedule_subscription_check(&self, subscription_id: &SubscriptionId) -> Result<(), ServiceError> {
        let mut unit = self.begin(self.clock.now(), None).await?;
        if let Some(mut subscription) = unit.lock_subscription(subscription_id).await? {
            subscription.next_check_at = next_subscription_check(&subscription, unit.now());
            unit.update_subscription(&mut subscription).await?;
        }
        self.commit(unit).await
    }

    pub async fn reschedule_refund_check(&self, refund_id: &RefundId) -> Result<(), ServiceError> {
        let mut unit = self.begin(self.clock.now(), None).await?;
        if let Some(mut refund) = unit.lock_refund(refund_id).await? {
            refund.next_check_at = next_refund_check(&refund, unit.now());
            unit.update_refund(&mut refund).await?;
        }
        self.commit(unit).await
    }
}
