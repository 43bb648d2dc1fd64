//! Ping++ behind [`PaymentProvider`]: Alipay, WeChat Pay and UnionPay charges (or Ping++ orders,
//! which can be paid through several channels and refunded with a refund mode and royalty
//! users), refunds that may stay pending for days, and RSA-signed webhooks.
//!
//! Ping++ has no idempotency key. payhub's ids travel in `order_no` and `metadata`, so a
//! notification finds its payment or refund even before Ping++'s answer to the create call was
//! stored, and a refund whose answer was lost is found by listing before it is ever re-sent.

mod config;
mod mapping;
mod registration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use payhub_core::options::{PaymentOptions, PingppPaymentOptions, PingppRefundOptions};
use payhub_core::payment::Payment;
use payhub_core::refund::{Refund, RefundFacts};
use payhub_core::{Currency, Mode, Money, ProviderName};
use payhub_pingpp::{
    ApiErrorKind, CreateCharge, CreateOrder, CreateOrderRefund, CreateRefund, FundingSource, Metadata, PayOrder,
    PingppClient, PingppError, RefundMode, RoyaltyRefund, VerifyError, WebhookVerifier, parse_event,
};
use serde_json::Value;

pub use config::PingppSection;
pub use registration::Pingpp;

use mapping::{CHANNELS, QR_CHANNELS, charge_snapshot, order_snapshot, refund_facts};

use super::{
    BuyerAction, BuyerUrls, Capability, Checkout, Diagnosis, Interpretation, NotificationRejected, PaymentProvider,
    PaymentSnapshot, ProviderError, RejectionReason, VerifiedNotification,
};

/// The metadata keys that carry payhub's ids through Ping++.
const PAYMENT_KEY: &str = "payhub_payment_id";
const REFUND_KEY: &str = "payhub_refund_id";
/// Ping++ caps `subject` at 32 characters and `body` at 128.
const SUBJECT_CHARS: usize = 32;
const BODY_CHARS: usize = 128;

const CHANNEL_NAMES: &[&str] = &[
    "alipay",
    "alipay_wap",
    "alipay_pc_direct",
    "alipay_qr",
    "wx",
    "wx_pub",
    "wx_pub_qr",
    "wx_lite",
    "wx_wap",
    "upacp",
    "upacp_wap",
    "upacp_pc",
    "balance",
];

#[derive(Clone)]
pub struct PingppProvider {
    client: PingppClient,
    verifier: WebhookVerifier,
    mode: Mode,
}

impl PingppProvider {
    pub fn new(client: PingppClient, verifier: WebhookVerifier, mode: Mode) -> Self {
        Self { client, verifier, mode }
    }

    fn provider_id<'a>(&self, payment: &'a Payment) -> Result<&'a str, ProviderError> {
        payment.provider_refs().payment_id.as_deref().ok_or_else(|| ProviderError::Protocol {
            provider: ProviderName::Pingpp,
            detail: format!("payment {} has no Ping++ charge or order", payment.id),
        })
    }

    async fn create_charge(
        &self,
        payment: &Payment,
        options: &PingppPaymentOptions,
    ) -> Result<Checkout, ProviderError> {
        let (subject, body) = subject_and_body(payment);
        let mut request =
            CreateCharge::new(order_no(payment), &payment.channel, payment.amount, client_ip(options), subject, body);
        request.extra = extra(options);
        request.metadata = Some(ids(PAYMENT_KEY, payment.id.as_str()));
        let charge = self.client.create_charge(&request).await.map_err(provider_error)?;
        let action =
            buyer_action(&payment.channel, &charge.credential, serde_json::to_value(&charge).unwrap_or_default())?;
        Ok(Checkout { provider_payment_id: charge.id.clone(), capture_id: None, buyer_action: action })
    }

    async fn create_order(&self, payment: &Payment, options: &PingppPaymentOptions) -> Result<Checkout, ProviderError> {
        let (subject, body) = subject_and_body(payment);
        let mut request = CreateOrder::new(order_no(payment), payment.amount, subject, body);
        request.uid = options.uid.clone();
        request.client_ip = Some(client_ip(options));
        request.metadata = Some(ids(PAYMENT_KEY, payment.id.as_str()));
        let order = self.client.create_order(&request).await.map_err(provider_error)?;
        let mut pay = PayOrder::new(&payment.channel, payment.amount);
        pay.extra = extra(options);
        let order = self.client.pay_order(&order.id, &pay).await.map_err(provider_error)?;
        let credential = order.charge_essentials.get("credential").cloned().unwrap_or(Value::Null);
        let action = buyer_action(&payment.channel, &credential, serde_json::to_value(&order).unwrap_or_default())?;
        Ok(Checkout { provider_payment_id: order.id.clone(), capture_id: order.charge.clone(), buyer_action: action })
    }

    /// The charge of an order payment a refund goes against: the one asked for, or the latest
    /// paid charge that can cover the amount (for an overpaid order, the extra payment).
    async fn refund_charge(&self, order_id: &str, amount: i64, asked: Option<&str>) -> Result<String, ProviderError> {
        if let Some(charge) = asked {
            return Ok(charge.to_owned());
        }
        let charges = self.client.order_charges(order_id).await.map_err(provider_error)?;
        charges.data.iter().rev().find(|c| c.paid && c.refundable_amount() >= amount).map(|c| c.id.clone()).ok_or_else(
            || ProviderError::Rejected {
                provider: ProviderName::Pingpp,
                code: "no_refundable_charge".into(),
                message: format!("no single charge of order {order_id} can refund {amount} fen; refund per charge"),
                debug_id: None,
            },
        )
    }
}

fn uses_order(payment: &Payment) -> bool {
    payment.provider_options.pingpp.as_ref().is_some_and(|o| o.use_order)
}

/// payhub's payment id without its prefix: 26 letters and digits, which every channel's
/// order-number rules accept (WeChat allows 32, UnionPay wants 8 to 40).
fn order_no(payment: &Payment) -> String {
    payment.id.as_str().trim_start_matches("pay_").to_owned()
}

fn subject_and_body(payment: &Payment) -> (String, String) {
    let text = payment
        .description
        .clone()
        .or_else(|| payment.merchant_reference.clone())
        .unwrap_or_else(|| format!("Payment {}", order_no(payment)));
    (text.chars().take(SUBJECT_CHARS).collect(), text.chars().take(BODY_CHARS).collect())
}

fn client_ip(options: &PingppPaymentOptions) -> String {
    options.client_ip.clone().unwrap_or_else(|| "127.0.0.1".into())
}

fn extra(options: &PingppPaymentOptions) -> Option<Value> {
    (!options.extra.is_empty()).then(|| Value::Object(options.extra.clone()))
}

fn ids(key: &str, id: &str) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert(key.into(), Value::String(id.into()));
    metadata
}

fn metadata_id(metadata: &Metadata, key: &str) -> Option<String> {
    metadata.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// QR channels get their link to render; every other channel hands the whole object to
/// Ping++'s client SDK (pingpp-js, the iOS and Android SDKs), which is what they expect.
fn buyer_action(channel: &str, credential: &Value, object: Value) -> Result<BuyerAction, ProviderError> {
    if !QR_CHANNELS.contains(&channel) {
        return Ok(BuyerAction::ProviderSdk(object));
    }
    credential.get(channel).and_then(Value::as_str).map(|link| BuyerAction::ScanQrCode(link.to_owned())).ok_or_else(
        || ProviderError::Protocol {
            provider: ProviderName::Pingpp,
            detail: format!("the {channel} credential carries no QR link"),
        },
    )
}

/// Ping++'s answer in payhub's terms, by the class its SDKs give it: a channel's refusal keeps
/// the channel's code, a refused key says so, rate limits and 5xx are "try again later".
fn provider_error(error: PingppError) -> ProviderError {
    let provider = ProviderName::Pingpp;
    let kind = error.kind();
    match error {
        PingppError::Timeout => ProviderError::Timeout(provider),
        e if e.is_retryable() => ProviderError::Unavailable { provider, detail: e.to_string() },
        PingppError::Api { error_type, message, code, param, .. } => {
            let code = match kind {
                Some(ApiErrorKind::Authentication) => "authentication_failed".to_owned(),
                Some(ApiErrorKind::Channel) => code.unwrap_or(error_type),
                _ => code.or(param.map(|p| format!("invalid_{p}"))).unwrap_or(error_type),
            };
            ProviderError::Rejected { provider, code, message, debug_id: None }
        }
        PingppError::Decode(detail) => ProviderError::Protocol { provider, detail },
        e => ProviderError::Unavailable { provider, detail: e.to_string() },
    }
}

fn malformed(e: impl std::fmt::Display) -> NotificationRejected {
    NotificationRejected::new(RejectionReason::MalformedBody, format!("not a Ping++ event: {e}"))
}

/// The client crate's verification failures, in payhub's terms.
fn verification_failed(error: VerifyError) -> NotificationRejected {
    let reason = match &error {
        VerifyError::MissingSignature => RejectionReason::MissingSignature,
        VerifyError::MalformedSignature(_) => RejectionReason::MalformedSignature,
        VerifyError::BadSignature => RejectionReason::BadSignature,
        VerifyError::BadKey(_) => RejectionReason::BadKey,
    };
    NotificationRejected::new(reason, error.to_string())
}

#[async_trait]
impl PaymentProvider for PingppProvider {
    fn name(&self) -> ProviderName {
        ProviderName::Pingpp
    }

    fn capabilities(&self) -> &'static [Capability] {
        // QR codes are channels (`alipay_qr`, `wx_pub_qr`), which `channels` already lists.
        &[]
    }

    fn channels(&self) -> &'static [&'static str] {
        CHANNEL_NAMES
    }

    fn currencies(&self) -> &'static [&'static str] {
        &["CNY"]
    }

    fn check_options(&self, channel: &str, options: &PaymentOptions) -> Result<(), (String, String)> {
        let pingpp = options.pingpp.clone().unwrap_or_default();
        let required = CHANNELS.iter().find(|(c, _)| *c == channel).map(|(_, r)| *r).unwrap_or(&[]);
        if let Some(missing) = required.iter().find(|key| !pingpp.extra.contains_key(**key)) {
            return Err((
                format!("provider_options.pingpp.extra.{missing}"),
                format!("the {channel} channel needs `{missing}`"),
            ));
        }
        Ok(())
    }

    async fn create_payment(&self, payment: &Payment, _urls: &BuyerUrls) -> Result<Checkout, ProviderError> {
        // Ping++ channels return to the merchant's own pages (success_url, result_url) or
        // nowhere (QR, apps): payhub learns the outcome from webhooks and queries.
        let options = payment.provider_options.pingpp.clone().unwrap_or_default();
        if options.use_order {
            self.create_order(payment, &options).await
        } else {
            self.create_charge(payment, &options).await
        }
    }

    async fn fetch_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        let id = self.provider_id(payment)?;
        if uses_order(payment) {
            Ok(order_snapshot(&self.client.get_order(id).await.map_err(provider_error)?))
        } else {
            Ok(charge_snapshot(&self.client.get_charge(id).await.map_err(provider_error)?))
        }
    }

    async fn capture_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        // The buyer's wallet moves the money; there is nothing to capture.
        self.fetch_payment(payment).await
    }

    async fn cancel_payment(&self, payment: &Payment) -> Result<(), ProviderError> {
        let id = self.provider_id(payment)?;
        if uses_order(payment) {
            self.client.cancel_order(id).await.map_err(provider_error)?;
        } else {
            self.client.reverse_charge(id).await.map_err(provider_error)?;
        }
        Ok(())
    }

    async fn create_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError> {
        let id = self.provider_id(payment)?;
        let options = refund.provider_options.pingpp.clone().unwrap_or_default();
        let description = refund.reason.clone().unwrap_or_else(|| format!("Refund {}", refund.id));
        let metadata = ids(REFUND_KEY, refund.id.as_str());
        let funding_source = options.funding_source.as_deref().map(FundingSource::from);
        if !uses_order(payment) {
            let request =
                CreateRefund { amount: Some(refund.amount), description, metadata: Some(metadata), funding_source };
            return Ok(refund_facts(&self.client.create_refund(id, &request).await.map_err(provider_error)?));
        }
        let charge = self.refund_charge(id, refund.amount, options.charge.as_deref()).await?;
        let request = CreateOrderRefund {
            charge: Some(charge.clone()),
            charge_amount: Some(refund.amount),
            description,
            metadata: Some(metadata),
            refund_mode: options.refund_mode.as_deref().map(RefundMode::from),
            royalty_users: royalty_users(&options),
            funding_source,
        };
        let refunds = self.client.create_order_refund(id, &request).await.map_err(provider_error)?;
        let created = refunds.data.iter().find(|r| r.charge == charge).or(refunds.data.first()).ok_or_else(|| {
            ProviderError::Protocol {
                provider: ProviderName::Pingpp,
                detail: format!("order {id} refund answered no refund"),
            }
        })?;
        Ok(refund_facts(created))
    }

    async fn fetch_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError> {
        let id = self.provider_id(payment)?;
        let order = uses_order(payment);
        if let Some(refund_id) = refund.provider_refund_id() {
            let found = if order {
                self.client.get_order_refund(id, refund_id).await
            } else {
                let charge = payment.provider_refs().capture_id.as_deref().unwrap_or(id);
                self.client.get_refund(charge, refund_id).await
            };
            return Ok(refund_facts(&found.map_err(provider_error)?));
        }
        // Ping++'s answer to the create call was lost. Ping++ has no idempotency key, so look
        // for the refund by payhub's id first; only a refund Ping++ does not list is sent again.
        // (The reconciler's first check comes a minute after creation, long after any create
        // call still in flight has finished.)
        let listed = if order {
            self.client.list_order_refunds(id).await
        } else {
            self.client.list_refunds(id, &Default::default()).await
        };
        let listed = listed.map_err(provider_error)?;
        match listed.data.iter().find(|r| metadata_id(&r.metadata, REFUND_KEY).as_deref() == Some(refund.id.as_str())) {
            Some(found) => Ok(refund_facts(found)),
            None => self.create_refund(payment, refund).await,
        }
    }

    async fn verify_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<VerifiedNotification, NotificationRejected> {
        let signature = headers.get(payhub_pingpp::SIGNATURE_HEADER).map(|v| v.as_bytes());
        self.verifier.verify_header(body, signature).map_err(verification_failed)?;
        let event = parse_event(body).map_err(malformed)?;
        // One Ping++ key signs both modes' events; `livemode` says which mode this one is.
        if event.livemode != (self.mode == Mode::Live) {
            return Err(NotificationRejected::new(
                RejectionReason::WrongMode,
                format!("a {} event for the {} configuration", if event.livemode { "live" } else { "test" }, self.mode),
            ));
        }
        Ok(VerifiedNotification { provider_event_id: event.id, event_type: event.event_type })
    }

    async fn diagnose(&self, _hub_url: &str) -> Vec<Diagnosis> {
        // The keys were read when the configuration was loaded; a provider exists only with them.
        let keys = if self.client.signs_requests() {
            Diagnosis::passed(
                "Ping++ keys",
                "the secret key, the request signing key and Ping++'s public key are loaded",
            )
        } else {
            Diagnosis::failed(
                "Ping++ keys",
                "requests go unsigned: no private key is configured",
                "set private_key_file in this mode's [pingpp] section and upload its public key to Ping++",
            )
        };
        let params = payhub_pingpp::ListParams { limit: Some(1), ..Default::default() };
        let credentials = match self.client.list_charges(&params).await {
            Ok(_) => Diagnosis::passed(
                "Ping++ credentials",
                format!("Ping++ accepts the secret key for app {}", self.client.app_id()),
            ),
            Err(error) if matches!(error.status(), Some(401 | 403)) => Diagnosis::failed(
                "Ping++ credentials",
                error.to_string(),
                "set secret_key and app_id of this mode's [pingpp] section to the app's keys",
            ),
            Err(error) => Diagnosis::failed(
                "Ping++ credentials",
                format!("Ping++ could not be asked: {error}"),
                "check base_url in the [pingpp] section and that this host reaches Ping++",
            ),
        };
        vec![keys, credentials]
    }

    fn interpret(&self, _event_type: &str, body: &[u8]) -> Result<Interpretation, NotificationRejected> {
        interpret_event(body)
    }
}

fn royalty_users(options: &PingppRefundOptions) -> Vec<RoyaltyRefund> {
    options
        .royalty_users
        .iter()
        .map(|u| RoyaltyRefund { user: u.user.clone(), amount_refunded: u.amount_refunded })
        .collect()
}

/// What a Ping++ webhook means for payhub's resources.
pub fn interpret_event(body: &[u8]) -> Result<Interpretation, NotificationRejected> {
    let event = parse_event(body).map_err(malformed)?;
    let kind = event.event_type.split('.').next().unwrap_or_default();
    match kind {
        "charge" => {
            let charge = event.charge().ok_or_else(|| malformed("no charge in a charge event"))?.map_err(malformed)?;
            Ok(Interpretation::Payment {
                payment_id: metadata_id(&charge.metadata, PAYMENT_KEY),
                provider_refs: vec![charge.id.clone()],
                snapshot: Some(charge_snapshot(&charge)),
                external: None,
            })
        }
        "order" => {
            let order = event.order().ok_or_else(|| malformed("no order in an order event"))?.map_err(malformed)?;
            Ok(Interpretation::Payment {
                payment_id: metadata_id(&order.metadata, PAYMENT_KEY),
                provider_refs: vec![order.id.clone()],
                snapshot: Some(order_snapshot(&order)),
                external: None,
            })
        }
        "refund" => {
            let refund = event.refund().ok_or_else(|| malformed("no refund in a refund event"))?.map_err(malformed)?;
            Ok(Interpretation::Refund {
                refund_id: metadata_id(&refund.metadata, REFUND_KEY),
                provider_refund_id: refund.id.clone(),
                provider_payment_refs: vec![refund.charge.clone()],
                facts: refund_facts(&refund),
                amount: Currency::parse("CNY").ok().map(|c| Money::new(refund.amount, c)),
            })
        }
        _ => Ok(Interpretation::Unhandled { reason: format!("payhub does not act on {} yet", event.event_type) }),
    }
}

#[cfg(test)]
mod tests {
    use payhub_pingpp::VerifyError;

    use super::verification_failed;

    #[test]
    fn each_verification_failure_is_recorded_under_the_client_crates_code() {
        let failures = [
            VerifyError::MissingSignature,
            VerifyError::MalformedSignature("not base64".into()),
            VerifyError::BadSignature,
            VerifyError::BadKey("not RSA".into()),
        ];
        for failure in failures {
            assert_eq!(verification_failed(failure.clone()).reason.as_str(), failure.code());
        }
    }
}
