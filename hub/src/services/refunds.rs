//! Refunds: reserved under the payment's row lock (so concurrent requests can never refund more
//! than was captured), then asked of the provider, then settled by its answer, a notification
//! or the reconciler — whichever comes first; the others change nothing.

use payhub_core::id::{PaymentId, RefundId};
use payhub_core::merchant::Metadata;
use payhub_core::options::RefundOptions;
use payhub_core::payment::{PaymentStatus, RefundDetails};
use payhub_core::refund::{Refund, RefundFacts, RefundReason, RefundStatus};
use payhub_core::schedule::next_refund_check;
use payhub_core::transition::Cause;
use payhub_core::{Mode, PositiveAmount};

use super::failures::provider_failure;
use super::{Reservation, ServiceError};
use crate::app::Hub;

/// A merchant's refund request, every value valid in itself (parsed at the API's edge); what
/// it may refund depends on the payment, which [`Hub::create_refund`] checks under its lock.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// `None` refunds everything still refundable.
    pub amount: Option<PositiveAmount>,
    pub reason: Option<RefundReason>,
    pub metadata: Metadata,
    pub provider_options: RefundOptions,
}

impl Hub {
    pub async fn create_refund(
        &self,
        mode: Mode,
        payment_id: &PaymentId,
        reservation: &Reservation,
        request: RefundRequest,
    ) -> Result<Refund, ServiceError> {
        let id = RefundId::created_by(&reservation.request_id);
        // A refund is recorded before the provider is asked; the reconciler asks for one a
        // dead process recorded, so a resumed request only reports it.
        if reservation.resumed
            && let Some(refund) = self.db.refund(mode, &id).await?
        {
            return Ok(refund);
        }
        let now = self.clock.now();
        let not_found = || ServiceError::NotFound { resource: "payment", id: payment_id.to_string() };

        // The provider refuses it too (PayPal: TRANSACTION_DISPUTED); saying which case blocks it
        // lets the merchant answer the dispute instead. Read before the payment's lock is taken,
        // so waiting refunds hold no second connection each.
        if let Some(open) =
            self.db.payment_disputes(payment_id).await?.into_iter().find(|d| d.mode == mode && d.is_open())
        {
            return Err(ServiceError::PaymentDisputed { dispute_id: open.id.to_string() });
        }
        let mut unit = self.begin(now, None).await?;
        let mut payment = unit.lock_payment(payment_id).await?.filter(|p| p.mode == mode).ok_or_else(not_found)?;
        let provider = self.provider(mode, payment.provider)?;
        if payment.status() != PaymentStatus::Succeeded {
            return Err(ServiceError::Conflict {
                message: format!(
                    "payment {} is {}; only succeeded payments can be refunded",
                    payment.id,
                    payment.status().as_str()
                ),
                status: payment.status().as_str().into(),
            });
        }
        let amount = match request.amount {
            Some(amount) => amount.of(payment.currency),
            None => payment.refundable(),
        };
        let details = RefundDetails {
            reason: request.reason.map(RefundReason::into_string),
            metadata: request.metadata.into_map(),
            provider_options: request.provider_options,
        };
        let mut created = payment.refund(id, amount, details, &Cause::Api, now)?;
        provider.check_amount(&amount).map_err(|m| ServiceError::invalid("amount", m))?;
        // Checked even if the provider never answers: the reconciler asks again (same
        // idempotency key at the provider) until the refund settles.
        let refund = created.resource_mut();
        refund.next_check_at = next_refund_check(refund, now);
        unit.update_payment(&mut payment).await?;
        unit.create_refund(&created, payment.provider).await?;
        self.commit(unit).await?;
        let refund = created.into_resource();

        match provider.create_refund(&payment, &refund).await {
            Ok(facts) => self.apply_refund_facts(&refund.id, &facts, &Cause::Api, None).await,
            Err(error) if error.outcome_unknown() => {
                // The refund may exist at the provider: it stays pending and reserved, and the
                // reconciler finds out. The merchant hears why, with the refund's id.
                Err(ServiceError::Provider { error, resource_id: Some(refund.id.to_string()) })
            }
            Err(error) => {
                let facts = RefundFacts {
                    status: RefundStatus::Failed,
                    provider_refund_id: None,
                    failure: Some(provider_failure(&error)),
                };
                self.apply_refund_facts(&refund.id, &facts, &Cause::Api, None).await?;
                Err(ServiceError::Provider { error, resource_id: Some(refund.id.to_string()) })
            }
        }
    }

    /// Asks the provider where a pending refund stands and applies the answer.
    pub async fn sync_refund(&self, refund: &Refund, cause: &Cause) -> Result<Refund, ServiceError> {
        let payment = self
            .db
            .payment(refund.mode, &refund.payment_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "payment", id: refund.payment_id.to_string() })?;
        let provider = self.provider(refund.mode, payment.provider)?;
        let facts = provider
            .fetch_refund(&payment, refund)
            .await
            .map_err(|error| ServiceError::Provider { error, resource_id: Some(refund.id.to_string()) })?;
        self.apply_refund_facts(&refund.id, &facts, cause, None).await
    }
}
