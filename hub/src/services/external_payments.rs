//! Payments made at the provider outside payhub (a legacy checkout, a PayPal button) are
//! adopted when a verified notification reports them paid, so the merchant sees them, can
//! refund them through payhub, and hears of them in the event stream.

use payhub_core::id::PaymentId;
use payhub_core::payment::{ExternalPayment, Payment};
use payhub_core::transition::Cause;
use payhub_core::{Mode, ProviderName};

use super::ServiceError;
use crate::app::Hub;

impl Hub {
    /// Adopts the payment once: a second notification about it (the webhook after the IPN, say)
    /// finds the first adoption by the provider's reference, under its row lock.
    pub async fn adopt_external_payment(
        &self,
        mode: Mode,
        provider: ProviderName,
        external: ExternalPayment,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<Payment, ServiceError> {
        let now = self.clock.now();
        let mut unit = self.begin(now, inbox_id).await?;
        if let Some(existing) = unit.lock_payment_by_provider_ref(provider, &external.capture_id).await? {
            self.commit(unit).await?;
            return Ok(existing);
        }
        let id = PaymentId::generate(unit.ids(), now);
        let adopted = Payment::adopted(id, mode, provider, external, cause, now);
        unit.create_payment(&adopted).await?;
        self.commit(unit).await?;
        Ok(adopted.resource().clone())
    }
}
