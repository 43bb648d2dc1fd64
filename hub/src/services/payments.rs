//! Creating payments and bringing them to the provider's truth.

use std::sync::Arc;

use payhub_core::id::PaymentId;
use payhub_core::merchant::{AbsoluteUrl, Metadata, Reference};
use payhub_core::options::ProviderChoice;
use payhub_core::payment::{
    CaptureMethod, Merge, NextAction, Payment, PaymentDetails, PaymentFacts, PaymentStatus, ProviderRefs, QrCode,
};
use payhub_core::schedule::next_payment_check;
use payhub_core::transition::Cause;
use payhub_core::{Currency, Mode, Money, PaymentAmount, ProviderName};
use payhub_store::StoredResponse;

use super::apply::AppliedPayment;
use super::failures::provider_failure;
use super::{Answer, Reservation, ServiceError};
use crate::app::Hub;
use crate::providers::{BuyerAction, BuyerUrls, Capability, PaymentProvider, PaymentSnapshot, ProviderError};
use crate::workers::unit_writer::{KeyAnswer, NewPayment};

fn provider_error(payment: &Payment, error: ProviderError) -> ServiceError {
    ServiceError::Provider { error, resource_id: Some(payment.id.to_string()) }
}

/// A merchant's request for a payment, every value already valid in itself (parsed at the
/// API's edge); [`Hub::create_payment`] checks what depends on the provider.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub provider: ProviderChoice,
    pub channel: Option<String>,
    pub amount: PaymentAmount,
    pub currency: Currency,
    pub merchant_reference: Option<Reference>,
    pub description: Option<Reference>,
    pub customer_id: Option<Reference>,
    pub metadata: Metadata,
    pub return_url: Option<AbsoluteUrl>,
    pub cancel_url: Option<AbsoluteUrl>,
    pub capture_method: CaptureMethod,
}

/// Refuses a currency the provider does not take, naming those it does.
pub(super) fn check_currency_taken(provider: &dyn PaymentProvider, currency: Currency) -> Result<(), ServiceError> {
    if provider.currencies().contains(&currency.code()) {
        return Ok(());
    }
    let listed = provider.currencies().join(", ");
    Err(ServiceError::invalid("currency", format!("{} does not take {currency}; it takes {listed}", provider.name())))
}

/// The amount, if the provider takes its currency and accepts it (PayPal takes no decimals of
/// HUF, for one).
fn accepted_money(
    provider: &dyn PaymentProvider,
    amount: PaymentAmount,
    currency: Currency,
) -> Result<Money, ServiceError> {
    check_currency_taken(provider, currency)?;
    let money = amount.of(currency);
    provider.check_amount(&money).map_err(|m| ServiceError::invalid("amount", m))?;
    Ok(money)
}

impl Hub {
    pub fn provider(&self, mode: Mode, name: ProviderName) -> Result<Arc<dyn PaymentProvider>, ServiceError> {
        self.providers.get(mode, name).cloned().ok_or(ServiceError::ProviderNotConfigured { provider: name, mode })
    }

    /// The provider, if it declares `capability`: a request it cannot serve is refused here,
    /// before the provider is called or anything is recorded.
    pub fn provider_offering(
        &self,
        mode: Mode,
        name: ProviderName,
        capability: Capability,
    ) -> Result<Arc<dyn PaymentProvider>, ServiceError> {
        let provider = self.provider(mode, name)?;
        if !provider.offers(capability) {
            let error = ProviderError::Unsupported { provider: name, capability };
            return Err(ServiceError::Provider { error, resource_id: None });
        }
        Ok(provider)
    }

    /// Creates a payment at its provider, then records it. A resumed request returns the
    /// payment its first run recorded; if that run died before recording it, the provider is
    /// asked again under the same id, which is its idempotency key (PayPal) or order number
    /// (Ping++), so the buyer is not sent to a second checkout.
    ///
    /// `answer` is what the request answers for the payment; it is recorded for the request's
    /// Idempotency-Key in the commit that records the payment. The provider is called before
    /// that transaction begins, so no lock is held while it answers.
    pub async fn create_payment(
        &self,
        mode: Mode,
        reservation: &Reservation,
        request: PaymentRequest,
        answer: impl FnOnce(&Payment) -> Result<StoredResponse, ServiceError>,
    ) -> Result<Answer, ServiceError> {
        let id = PaymentId::created_by(&reservation.request_id);
        if reservation.resumed
            && let Some(payment) = self.db.payment(mode, &id).await?
        {
            return Ok(Answer { response: answer(&payment)?, recorded: false });
        }
        let provider = match request.capture_method {
            CaptureMethod::Automatic => self.provider(mode, request.provider.provider())?,
            CaptureMethod::Manual => {
                self.provider_offering(mode, request.provider.provider(), Capability::ManualCapture)?
            }
        };
        let channel = match request.channel {
            // Every provider offers at least one channel; the first is its default.
            None => provider.channels().first().map(|c| (*c).to_owned()).ok_or_else(|| {
                ServiceError::invalid("channel", format!("{} offers no channel to pay through", provider.name()))
            })?,
            Some(c) if provider.channels().contains(&c.as_str()) => c,
            Some(c) => {
                return Err(ServiceError::invalid(
                    "channel",
                    format!("unknown channel `{c}`; {} offers: {}", provider.name(), provider.channels().join(", ")),
                ));
            }
        };
        let money = accepted_money(provider.as_ref(), request.amount, request.currency)?;
        provider
            .check_options(&channel, request.provider.options())
            .and_then(|()| provider.check_capture_method(request.provider.options(), request.capture_method))
            .map_err(|(field, message)| ServiceError::invalid(field, message))?;

        let now = self.clock.now();
        let details = PaymentDetails {
            merchant_reference: request.merchant_reference.map(Reference::into_string),
            description: request.description.map(Reference::into_string),
            customer_id: request.customer_id.map(Reference::into_string),
            metadata: request.metadata.into_map(),
            return_url: request.return_url.map(AbsoluteUrl::into_string),
            cancel_url: request.cancel_url.map(AbsoluteUrl::into_string),
            provider_options: request.provider.into_options(),
            capture_method: request.capture_method,
        };
        let draft = Payment::draft(id, mode, provider.name(), channel, money, details, now);
        let urls = self.buyer_urls(&draft);
        let (created, failed) = match provider.create_payment(&draft, &urls).await {
            Ok(checkout) => {
                let refs = ProviderRefs {
                    payment_id: Some(checkout.provider_payment_id.clone()),
                    capture_id: checkout.capture_id.clone(),
                    authorization_id: None,
                };
                let next_action = self.next_action(&draft, &checkout.buyer_action);
                let mut created = draft.opened(refs, next_action, &Cause::Api);
                let payment = created.resource_mut();
                payment.next_check_at = next_payment_check(payment, now);
                (created, None)
            }
            Err(error) => (draft.refused(provider_failure(&error), &Cause::Api), Some(error)),
        };
        // The unit is recorded by the unit writer, in a commit it may share with other
        // requests' units; it returns once that commit is made.
        let Some(error) = failed else {
            let response = answer(created.resource())?;
            let answer = KeyAnswer { mode, key: reservation.key.clone(), response: response.clone() };
            self.units.create_payment(NewPayment { created, answer: Some(answer), now }).await?;
            return Ok(Answer { response, recorded: true });
        };
        // A failure's answer is the error's problem document, which the Idempotency-Key layer
        // records.
        let resource_id = Some(created.resource().id.to_string());
        self.units.create_payment(NewPayment { created, answer: None, now }).await?;
        Err(ServiceError::Provider { error, resource_id })
    }

    fn next_action(&self, payment: &Payment, action: &BuyerAction) -> NextAction {
        match action {
            BuyerAction::Redirect(url) => NextAction::RedirectToUrl { redirect_url: url.clone() },
            BuyerAction::ProviderSdk(credential) => NextAction::UseProviderSdk { credential: credential.clone() },
            BuyerAction::ScanQrCode(payload) => {
                let base = self.settings.public_url.trim_end_matches('/');
                NextAction::DisplayQrCode {
                    qr_code: QrCode {
                        payload: payload.clone(),
                        image_url_svg: format!("{base}/checkout/qr/{}.svg", payment.id),
                        image_url_png: format!("{base}/checkout/qr/{}.png", payment.id),
                    },
                }
            }
        }
    }

    fn buyer_urls(&self, payment: &Payment) -> BuyerUrls {
        let base = self.settings.public_url.trim_end_matches('/');
        let provider = payment.provider;
        BuyerUrls {
            return_url: format!("{base}/checkout/{provider}/return?payment={}", payment.id),
            cancel_url: format!("{base}/checkout/{provider}/cancel?payment={}", payment.id),
        }
    }

    /// Brings a payment to the provider's state, capturing it when the buyer has approved.
    /// `hint` is what a notification stated; without one the provider is asked. A hint that
    /// contradicts what is stored is checked against the provider before anything changes.
    pub async fn sync_payment(
        &self,
        payment: &Payment,
        hint: Option<PaymentSnapshot>,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<AppliedPayment, ServiceError> {
        let provider = self.provider(payment.mode, payment.provider)?;
        let asked = hint.is_none();
        let snapshot = match hint {
            Some(snapshot) => snapshot,
            None => provider.fetch_payment(payment).await.map_err(|e| provider_error(payment, e))?,
        };
        self.apply_snapshot(provider.as_ref(), payment, snapshot, asked, cause, inbox_id).await
    }

    /// The reconciler's check of a payment it claimed: the provider is asked, and what changed
    /// is applied as one unit of work. An answer that changes nothing costs no write here:
    /// the payment is returned to have its next check written, with others, by
    /// [`Hub::reschedule_payment_checks`]. So is a payment whose check applied something but
    /// left its next check at the claim's lease; `None` when its next check is set.
    pub async fn check_payment(&self, payment: &Payment) -> Result<Option<Payment>, ServiceError> {
        let provider = self.provider(payment.mode, payment.provider)?;
        let snapshot = provider.fetch_payment(payment).await.map_err(|e| provider_error(payment, e))?;
        let now = self.clock.now();
        let expiry = chrono::Duration::from_std(self.settings.payment_expiry).unwrap_or(chrono::Duration::hours(3));
        let expired = |p: &Payment| p.status() == PaymentStatus::RequiresAction && now - p.created_at > expiry;
        if !snapshot.ready_to_capture && !expired(payment) {
            // Merged into a copy only to learn whether anything would be written.
            let merge = payment.clone().merge(&snapshot.facts, &Cause::Reconciler, now);
            if matches!(merge, Merge::Unchanged { learned: false, .. } | Merge::Stale) {
                return Ok(Some(payment.clone()));
            }
        }
        let applied = self.apply_snapshot(provider.as_ref(), payment, snapshot, true, &Cause::Reconciler, None).await?;
        let mut current = applied.payment;
        if expired(&current) {
            tracing::info!(payment = %current.id, "the buyer never completed the payment; it expires");
            current = self.end_unpaid_payment(&current, PaymentStatus::Expired, &Cause::Reconciler).await?;
        }
        Ok((current.next_check_at == payment.next_check_at).then_some(current))
    }

    /// Brings a payment to `snapshot`, capturing it when the buyer has approved; `asked` when
    /// the snapshot is the provider's answer rather than a notification's claim.
    async fn apply_snapshot(
        &self,
        provider: &dyn PaymentProvider,
        payment: &Payment,
        mut snapshot: PaymentSnapshot,
        asked: bool,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<AppliedPayment, ServiceError> {
        let provider_error = |error| provider_error(payment, error);
        if snapshot.ready_to_capture && payment.status() == PaymentStatus::RequiresAction {
            let taken = match payment.capture_method {
                CaptureMethod::Automatic => provider.capture_payment(payment).await,
                CaptureMethod::Manual => provider.authorize_payment(payment).await,
            };
            snapshot = match taken {
                Ok(snapshot) => snapshot,
                Err(ProviderError::FundingDeclined { code, message, redirect_url, .. }) => {
                    return self
                        .record_funding_decline(&payment.id, redirect_url, code, message, cause, inbox_id)
                        .await;
                }
                Err(error) => return Err(provider_error(error)),
            };
        }
        let applied = self.apply_payment_facts(&payment.id, &snapshot.facts, cause, inbox_id).await?;
        if matches!(applied.merge, Merge::Conflict { .. }) && !asked {
            let truth = provider.fetch_payment(&applied.payment).await.map_err(provider_error)?;
            return self.apply_payment_facts(&payment.id, &truth.facts, cause, None).await;
        }
        Ok(applied)
    }

    /// Ends a payment the buyer will not complete: canceled by the merchant or the buyer, or
    /// expired. A payment the buyer approved meanwhile is captured instead — the buyer's money
    /// decision wins over a stale cancel.
    pub async fn end_unpaid_payment(
        &self,
        payment: &Payment,
        outcome: PaymentStatus,
        cause: &Cause,
    ) -> Result<Payment, ServiceError> {
        if payment.status() != PaymentStatus::RequiresAction {
            return Err(ServiceError::Conflict {
                message: format!(
                    "payment {} is {} and can no longer be {}",
                    payment.id,
                    payment.status().as_str(),
                    outcome.as_str()
                ),
                status: payment.status().as_str().into(),
            });
        }
        let provider = self.provider(payment.mode, payment.provider)?;
        if let Some(id) = &payment.provider_refs().payment_id {
            match provider.fetch_payment(payment).await {
                Ok(snapshot) if snapshot.ready_to_capture || snapshot.facts.status != PaymentStatus::RequiresAction => {
                    return Ok(self.sync_payment(payment, Some(snapshot), cause, None).await?.payment);
                }
                Ok(_) => {
                    if let Err(error) = provider.cancel_payment(payment).await {
                        tracing::warn!(payment = %payment.id, order = %id, %error, "could not cancel at the provider; a late payment will be caught as an anomaly");
                    }
                }
                Err(error) => {
                    tracing::warn!(payment = %payment.id, order = %id, %error, "could not check the provider before ending the payment")
                }
            }
        }
        let facts = PaymentFacts {
            status: outcome,
            capture_id: None,
            captured: None,
            failure: None,
            authorization: None,
            pending_reason: None,
        };
        Ok(self.apply_payment_facts(&payment.id, &facts, cause, None).await?.payment)
    }
}
