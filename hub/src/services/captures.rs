//! Payments with manual capture (the buyer's approval only holds the money): capturing or
//! releasing the hold, and a buyer whose funding source was declined being sent back to choose
//! another.

use payhub_core::id::PaymentId;
use payhub_core::payment::{CaptureRejection, Failure, Merge, Payment};
use payhub_core::transition::Cause;
use payhub_core::{EventType, Mode, PaymentAmount};
use tracing::info;

use super::ServiceError;
use super::apply::AppliedPayment;
use crate::app::Hub;

impl From<CaptureRejection> for ServiceError {
    fn from(rejection: CaptureRejection) -> Self {
        match rejection {
            CaptureRejection::NotCapturable(status) => {
                ServiceError::Conflict { message: rejection.to_string(), status: status.into() }
            }
            other => ServiceError::invalid("amount", other.to_string()),
        }
    }
}

impl Hub {
    /// Captures `amount` minor units (all that is capturable without one) of a
    /// `requires_capture` payment. payhub captures a hold once: what is not captured goes back
    /// to the buyer.
    pub async fn capture_payment(
        &self,
        mode: Mode,
        id: &PaymentId,
        amount: Option<PaymentAmount>,
    ) -> Result<Payment, ServiceError> {
        let payment = self
            .db
            .payment(mode, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "payment", id: id.to_string() })?;
        let amount = payment.capture_amount(amount.map(|amount| amount.of(payment.currency)))?;
        let provider = self.provider(mode, payment.provider)?;
        let snapshot = provider
            .capture_held_payment(&payment, &amount)
            .await
            .map_err(|error| ServiceError::Provider { error, resource_id: Some(id.to_string()) })?;
        Ok(self.apply_payment_facts(id, &snapshot.facts, &Cause::Api, None).await?.payment)
    }

    /// Gives a held payment's money back to the buyer: the payment becomes `canceled` (or
    /// whatever the provider says happened to the hold meanwhile).
    pub async fn release_held_payment(&self, payment: &Payment, cause: &Cause) -> Result<Payment, ServiceError> {
        let provider = self.provider(payment.mode, payment.provider)?;
        let snapshot = provider
            .release_held_payment(payment)
            .await
            .map_err(|error| ServiceError::Provider { error, resource_id: Some(payment.id.to_string()) })?;
        Ok(self.apply_payment_facts(&payment.id, &snapshot.facts, cause, None).await?.payment)
    }

    /// The provider could not take the money from the buyer's funding source: the payment keeps
    /// waiting for the buyer, now pointed back to the provider to choose another source, and
    /// the merchant is told with `payment.action_required`.
    pub(super) async fn record_funding_decline(
        &self,
        id: &PaymentId,
        redirect_url: String,
        code: String,
        message: String,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<AppliedPayment, ServiceError> {
        let now = self.clock.now();
        let (mut unit, mut payment) = self.begin_on_payment(now, id, inbox_id).await?;
        let failure = Failure { code: code.to_ascii_lowercase(), message };
        let changed = payment.funding_declined(redirect_url, failure, now);
        if changed {
            unit.update_payment(&mut payment).await?;
            unit.announce(EventType::PaymentActionRequired, &payment).await?;
            info!(payment = %payment.id, %code, %cause, "the buyer's funding source was declined; sent back to choose another");
        }
        self.commit(unit).await?;
        Ok(AppliedPayment { payment, merge: Merge::Unchanged { learned: changed, anomaly: None } })
    }
}
