//! Creating payments and bringing them to the provider's truth.

use std::sync::Arc;

use payhub_core::id::PaymentId;
use payhub_core::options::PaymentOptions;
use payhub_core::payment::{
    Merge, NextAction, Payment, PaymentDetails, PaymentFacts, PaymentStatus, ProviderRefs, QrCode,
};
use payhub_core::schedule::next_payment_check;
use payhub_core::transition::Cause;
use payhub_core::{Currency, Mode, Money, ProviderName};
use serde_json::{Map, Value};

use super::ServiceError;
use super::apply::AppliedPayment;
use super::failures::provider_failure;
use super::input::{MAX_REFERENCE, check_len, check_metadata, check_url};
use crate::app::Hub;
use crate::providers::{BuyerAction, BuyerUrls, Capability, PaymentProvider, PaymentSnapshot, ProviderError};

/// A merchant's request for a payment, as received; [`Hub::create_payment`] validates it.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub provider: ProviderName,
    pub channel: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub merchant_reference: Option<String>,
    pub description: Option<String>,
    pub customer_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub provider_options: PaymentOptions,
}

/// Ten billion major units: far above any real payment, far below overflow.
const MAX_AMOUNT: i64 = 1_000_000_000_000;

fn check_money(provider: &dyn PaymentProvider, amount: i64, currency: &str) -> Result<Money, ServiceError> {
    let listed = || provider.currencies().join(", ");
    let currency = Currency::parse(currency).map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
    if !provider.currencies().contains(&currency.code()) {
        return Err(ServiceError::invalid(
            "currency",
            format!("{} does not take {currency}; it takes {}", provider.name(), listed()),
        ));
    }
    if amount <= 0 || amount > MAX_AMOUNT {
        return Err(ServiceError::invalid(
            "amount",
            format!("must be a positive number of minor units (cents for USD), at most {MAX_AMOUNT}"),
        ));
    }
    let money = Money::new(amount, currency);
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

    pub async fn create_payment(&self, mode: Mode, request: PaymentRequest) -> Result<Payment, ServiceError> {
        let provider = self.provider(mode, request.provider)?;
        let channel = match request.channel {
            None => provider.channels()[0].to_owned(),
            Some(c) if provider.channels().contains(&c.as_str()) => c,
            Some(c) => {
                return Err(ServiceError::invalid(
                    "channel",
                    format!("unknown channel `{c}`; {} offers: {}", provider.name(), provider.channels().join(", ")),
                ));
            }
        };
        let money = check_money(provider.as_ref(), request.amount, &request.currency)?;
        check_len("merchant_reference", &request.merchant_reference, MAX_REFERENCE)?;
        check_len("description", &request.description, MAX_REFERENCE)?;
        check_len("customer_id", &request.customer_id, MAX_REFERENCE)?;
        check_url("return_url", &request.return_url)?;
        check_url("cancel_url", &request.cancel_url)?;
        check_metadata(&request.metadata)?;
        if let Some(other) = request.provider_options.providers().into_iter().find(|p| *p != provider.name()) {
            let message = format!("applies to {} payments, not {}", other.title(), provider.name());
            return Err(ServiceError::invalid(format!("provider_options.{other}"), message));
        }
        provider
            .check_options(&channel, &request.provider_options)
            .map_err(|(field, message)| ServiceError::invalid(field, message))?;

        let now = self.clock.now();
        let details = PaymentDetails {
            merchant_reference: request.merchant_reference,
            description: request.description,
            customer_id: request.customer_id,
            metadata: request.metadata,
            return_url: request.return_url,
            cancel_url: request.cancel_url,
            provider_options: request.provider_options,
        };
        let draft =
            Payment::draft(PaymentId::generate(&self.ids, now), mode, provider.name(), channel, money, details, now);
        let urls = self.buyer_urls(&draft);
        let (created, failed) = match provider.create_payment(&draft, &urls).await {
            Ok(checkout) => {
                let refs = ProviderRefs {
                    payment_id: Some(checkout.provider_payment_id.clone()),
                    capture_id: checkout.capture_id.clone(),
                };
                let next_action = self.next_action(&draft, &checkout.buyer_action);
                let mut created = draft.opened(refs, next_action, &Cause::Api);
                let payment = created.resource_mut();
                payment.next_check_at = next_payment_check(payment, now);
                (created, None)
            }
            Err(error) => (draft.refused(provider_failure(&error), &Cause::Api), Some(error)),
        };
        let mut unit = self.begin(now, None).await?;
        unit.create_payment(&created).await?;
        self.commit(unit).await?;
        let payment = created.into_resource();
        match failed {
            None => Ok(payment),
            Some(error) => Err(ServiceError::Provider { error, resource_id: Some(payment.id.to_string()) }),
        }
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
        let provider_error = |error| ServiceError::Provider { error, resource_id: Some(payment.id.to_string()) };
        let asked = hint.is_none();
        let mut snapshot = match hint {
            Some(snapshot) => snapshot,
            None => provider.fetch_payment(payment).await.map_err(provider_error)?,
        };
        if snapshot.ready_to_capture && payment.status() == PaymentStatus::RequiresAction {
            snapshot = provider.capture_payment(payment).await.map_err(provider_error)?;
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
        if let Some(id) = &payment.provider_refs.payment_id {
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
        let facts = PaymentFacts { status: outcome, capture_id: None, captured: None, failure: None };
        Ok(self.apply_payment_facts(&payment.id, &facts, cause, None).await?.payment)
    }
}
