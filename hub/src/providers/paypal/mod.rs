//! PayPal behind [`PaymentProvider`]: v2 orders captured right after approval (or authorized,
//! for manual capture, and captured or voided later), capture refunds,
//! and REST webhooks verified locally (certificate chain + CRC32 signed string) or through
//! PayPal's verify API.

mod config;
mod disputes;
pub mod ipn;
pub mod legacy;
mod mapping;
mod registration;
mod subscriptions;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use payhub_core::dispute::{Dispute, DisputeFacts};
use payhub_core::options::{PaymentOptions, PaypalApi};
use payhub_core::payment::{CaptureMethod, Payment, PaymentOrigin};
use payhub_core::refund::{Refund, RefundFacts, RefundStatus};
use payhub_core::subscription::{Plan, Subscription};
use payhub_core::{Money, ProviderName};
use payhub_paypal::{
    Authorization, Capture, CaptureAuthorizationRequest, CreateOrderRequest, ExperienceContext, Issue, Order,
    PaypalClient, PaypalError, PurchaseUnitRequest, Refund as PaypalRefund, RefundRequest, Sale, SaleAmount,
    SaleRefund, SaleRefundRequest, SaleRefundState, VerifyError, WebhookHeaders, WebhookVerifier, parse_webhook_event,
};

pub use config::{PaypalSection, VerificationMode};
pub use mapping::CURRENCIES;
use mapping::{capture_facts, from_paypal_amount, order_snapshot, refund_facts, to_paypal_amount, voided_facts};
pub use registration::{Paypal, sandbox_adapter, sandbox_legacy_settings};

pub use legacy::LegacySettings;

use super::{
    BuyerAction, BuyerUrls, Capability, Checkout, Confirmation, Diagnosis, DisputeResponse, ForeignSubscription,
    Interpretation, NotificationRejected, PaymentProvider, PaymentSnapshot, ProviderError, ProviderPlan,
    RejectionReason, SubscriptionCommand, SubscriptionSnapshot, VerifiedNotification,
};

/// How notifications are authenticated.
#[derive(Clone)]
pub enum Verification {
    /// Certificate fetched from the (allow-listed) cert URL, chain and signature checked here.
    Local(WebhookVerifier),
    /// PayPal's `verify-webhook-signature` API: one call per notification, no local trust.
    Remote { webhook_id: String },
}

#[derive(Clone)]
pub struct PaypalProvider {
    client: PaypalClient,
    verification: Verification,
    legacy: Option<Legacy>,
}

/// IPN and PDT settings with the HTTP client their postbacks go through.
#[derive(Clone)]
struct Legacy {
    settings: LegacySettings,
    http: reqwest::Client,
}

impl PaypalProvider {
    pub fn new(client: PaypalClient, verification: Verification) -> Self {
        Self { client, verification, legacy: None }
    }

    /// Accepts IPN: postbacks and PDT queries go to `settings`' URLs through `http`. Without
    /// this, stored IPN messages wait unconfirmed.
    pub fn with_legacy(self, settings: LegacySettings, http: reqwest::Client) -> Self {
        Self { legacy: Some(Legacy { settings, http }), ..self }
    }

    pub fn legacy_settings(&self) -> Option<&LegacySettings> {
        self.legacy.as_ref().map(|legacy| &legacy.settings)
    }

    fn authorization_id<'a>(&self, payment: &'a Payment) -> Result<&'a str, ProviderError> {
        payment.provider_refs().authorization_id.as_deref().ok_or_else(|| ProviderError::Protocol {
            provider: ProviderName::Paypal,
            detail: format!("payment {} has no PayPal authorization", payment.id),
        })
    }

    fn order_id<'a>(&self, payment: &'a Payment) -> Result<&'a str, ProviderError> {
        payment.provider_refs().payment_id.as_deref().ok_or_else(|| ProviderError::Protocol {
            provider: ProviderName::Paypal,
            detail: format!("payment {} has no PayPal order", payment.id),
        })
    }
}

pub(super) fn provider_error(error: PaypalError) -> ProviderError {
    let provider = ProviderName::Paypal;
    if let (Some(Issue::InstrumentDeclined | Issue::PayerActionRequired), Some(redirect_url)) =
        (error.known_issue(), error.buyer_redirect())
    {
        return ProviderError::FundingDeclined {
            provider,
            code: error.issue().unwrap_or_default().to_owned(),
            message: error.to_string(),
            redirect_url: redirect_url.to_owned(),
        };
    }
    match error {
        PaypalError::Timeout => ProviderError::Timeout(provider),
        e if e.is_retryable() => ProviderError::Unavailable { provider, detail: e.to_string() },
        PaypalError::Decode(detail) => ProviderError::Protocol { provider, detail },
        e @ PaypalError::Api { .. } => ProviderError::Rejected {
            provider,
            code: e.issue().map(str::to_owned).unwrap_or_else(|| match &e {
                PaypalError::Api { name, .. } => name.clone(),
                _ => String::new(),
            }),
            message: e.to_string(),
            debug_id: e.debug_id().map(str::to_owned),
        },
        // Wrong credentials are the operator's to fix, not the merchant's request.
        e => ProviderError::Unavailable { provider, detail: e.to_string() },
    }
}

fn rejected_amount(detail: String) -> ProviderError {
    ProviderError::Rejected {
        provider: ProviderName::Paypal,
        code: "AMOUNT_NOT_ACCEPTED".into(),
        message: detail,
        debug_id: None,
    }
}

#[async_trait]
impl PaymentProvider for PaypalProvider {
    fn name(&self) -> ProviderName {
        ProviderName::Paypal
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Subscriptions, Capability::Disputes, Capability::ManualCapture]
    }

    fn channels(&self) -> &'static [&'static str] {
        &["paypal"]
    }

    fn currencies(&self) -> &'static [&'static str] {
        CURRENCIES
    }

    fn check_amount(&self, amount: &Money) -> Result<(), String> {
        to_paypal_amount(amount).map(|_| ())
    }

    fn check_capture_method(&self, options: &PaymentOptions, method: CaptureMethod) -> Result<(), (String, String)> {
        let v1 = options.paypal.as_ref().and_then(|paypal| paypal.api) == Some(PaypalApi::V1);
        if v1 && method == CaptureMethod::Manual {
            return Err((
                "capture_method".into(),
                "PayPal's v1 payments API (provider_options.paypal.api `v1`) is captured when the buyer approves; use the default v2 API for capture_method `manual`".into(),
            ));
        }
        Ok(())
    }

    async fn create_payment(&self, payment: &Payment, urls: &BuyerUrls) -> Result<Checkout, ProviderError> {
        if legacy::uses_v1(payment) {
            return legacy::create_payment(&self.client, payment, urls).await;
        }
        let amount = to_paypal_amount(&payment.money()).map_err(rejected_amount)?;
        let unit = PurchaseUnitRequest {
            // PayPal echoes custom_id on captures and their webhooks: it ties them to our payment
            // even before the order id is stored.
            custom_id: Some(payment.id.to_string()),
            description: payment.description.clone(),
            ..PurchaseUnitRequest::new(amount)
        };
        let context = ExperienceContext {
            return_url: urls.return_url.clone(),
            cancel_url: urls.cancel_url.clone(),
            user_action: Some("PAY_NOW".into()),
            ..ExperienceContext::default()
        };
        let request = match payment.capture_method {
            CaptureMethod::Automatic => CreateOrderRequest::capture(vec![unit], context),
            CaptureMethod::Manual => CreateOrderRequest::authorize(vec![unit], context),
        };
        let order = self.client.create_order(payment.id.as_str(), &request).await.map_err(provider_error)?;
        let redirect_url = order.approval_url().map(str::to_owned).ok_or_else(|| ProviderError::Protocol {
            provider: ProviderName::Paypal,
            detail: format!("order {} came without an approval link", order.id),
        })?;
        Ok(Checkout {
            provider_payment_id: order.id,
            capture_id: None,
            buyer_action: BuyerAction::Redirect(redirect_url),
        })
    }

    async fn fetch_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        if legacy::uses_v1(payment) {
            return legacy::fetch_payment(&self.client, payment).await;
        }
        let order = self.client.get_order(self.order_id(payment)?).await.map_err(provider_error)?;
        Ok(order_snapshot(&order))
    }

    async fn capture_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        if legacy::uses_v1(payment) {
            return legacy::capture_payment(&self.client, payment).await;
        }
        let order_id = self.order_id(payment)?;
        let request_id = format!("capture-{}", payment.id);
        match self.client.capture_order(&request_id, order_id).await {
            Ok(order) if order.captures().next().is_some() => Ok(order_snapshot(&order)),
            Ok(_) => self.fetch_payment(payment).await,
            // Captured by an earlier attempt whose answer was lost, or not approved after all:
            // either way the order itself says where things stand.
            Err(e) if matches!(e.known_issue(), Some(Issue::OrderAlreadyCaptured | Issue::OrderNotApproved)) => {
                self.fetch_payment(payment).await
            }
            Err(e) => Err(provider_error(e)),
        }
    }

    async fn authorize_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        let order_id = self.order_id(payment)?;
        let request_id = format!("authorize-{}", payment.id);
        match self.client.authorize_order(&request_id, order_id).await {
            Ok(order) if order.authorizations().next().is_some() => Ok(order_snapshot(&order)),
            Ok(_) => self.fetch_payment(payment).await,
            // Authorized by an earlier attempt whose answer was lost, or not approved after all.
            Err(e) if matches!(e.known_issue(), Some(Issue::OrderAlreadyAuthorized | Issue::OrderNotApproved)) => {
                self.fetch_payment(payment).await
            }
            Err(e) => Err(provider_error(e)),
        }
    }

    async fn capture_held_payment(&self, payment: &Payment, amount: &Money) -> Result<PaymentSnapshot, ProviderError> {
        let authorization_id = self.authorization_id(payment)?;
        let request = CaptureAuthorizationRequest {
            amount: Some(to_paypal_amount(amount).map_err(rejected_amount)?),
            // payhub captures once: what is not captured goes back to the buyer at once rather
            // than staying held until the authorization expires.
            final_capture: Some(true),
            ..CaptureAuthorizationRequest::default()
        };
        let request_id = format!("capture-{}", payment.id);
        match self.client.capture_authorization(&request_id, authorization_id, &request).await {
            Ok(capture) => Ok(PaymentSnapshot { facts: capture_facts(&capture), ready_to_capture: false }),
            // Captured, voided or expired meanwhile: the order says which.
            Err(e)
                if matches!(
                    e.known_issue(),
                    Some(
                        Issue::AuthorizationAlreadyCaptured | Issue::AuthorizationVoided | Issue::AuthorizationExpired
                    )
                ) =>
            {
                self.fetch_payment(payment).await
            }
            Err(e) => Err(provider_error(e)),
        }
    }

    async fn release_held_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        let authorization_id = self.authorization_id(payment)?;
        let request_id = format!("void-{}", payment.id);
        match self.client.void_authorization(&request_id, authorization_id).await {
            // PayPal voided the hold: nothing else can have happened to it, so the order need not be asked.
            Ok(()) => Ok(PaymentSnapshot { facts: voided_facts(), ready_to_capture: false }),
            // Voided by an earlier attempt, or captured or expired meanwhile: the order says which.
            Err(e)
                if matches!(
                    e.known_issue(),
                    Some(Issue::PreviouslyVoided | Issue::PreviouslyCaptured | Issue::CannotBeVoided)
                ) =>
            {
                self.fetch_payment(payment).await
            }
            Err(e) => Err(provider_error(e)),
        }
    }

    async fn create_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError> {
        if pays_through_a_sale(payment)
            && let Some(sale_id) = payment.provider_refs().capture_id.as_deref()
        {
            return refund_sale(&self.client, sale_id, refund).await;
        }
        let capture_id = payment.provider_refs().capture_id.as_deref().ok_or_else(|| ProviderError::Protocol {
            provider: ProviderName::Paypal,
            detail: format!("payment {} has no PayPal capture to refund", payment.id),
        })?;
        let amount = to_paypal_amount(&Money::new(refund.amount, refund.currency)).map_err(rejected_amount)?;
        let request = RefundRequest {
            amount: Some(amount),
            // Echoed on the refund and its webhook, so the notification finds this refund even
            // if it arrives before PayPal's answer to this call.
            custom_id: Some(refund.id.to_string()),
            note_to_payer: note_to_payer(refund),
            invoice_id: None,
        };
        let created =
            self.client.refund_capture(refund.id.as_str(), capture_id, &request).await.map_err(provider_error)?;
        Ok(refund_facts(&created))
    }

    async fn fetch_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError> {
        match refund.provider_refund_id() {
            Some(id) if pays_through_a_sale(payment) => {
                Ok(sale_refund_facts(&self.client.get_sale_refund(id).await.map_err(provider_error)?))
            }
            Some(id) => Ok(refund_facts(&self.client.get_refund(id).await.map_err(provider_error)?)),
            // PayPal's answer to the create call was lost: repeating it with the same
            // PayPal-Request-Id returns the refund made the first time (or makes it now).
            None => self.create_refund(payment, refund).await,
        }
    }

    async fn verify_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedNotification, NotificationRejected> {
        let transmission = WebhookHeaders::from_headers(headers).map_err(verification_failed)?;
        match &self.verification {
            Verification::Local(verifier) => {
                verifier.verify(&transmission, body, now).await.map_err(verification_failed)?
            }
            Verification::Remote { webhook_id } => {
                let verified =
                    self.client.verify_webhook_notification(&transmission, webhook_id, body).await.map_err(|e| {
                        NotificationRejected {
                            reason: RejectionReason::VerificationUnavailable,
                            detail: e.to_string(),
                            transient: e.is_retryable(),
                        }
                    })?;
                if !verified {
                    return Err(NotificationRejected::new(
                        RejectionReason::BadSignature,
                        "PayPal did not confirm the signature",
                    ));
                }
            }
        }
        let event = parse_webhook_event(body).map_err(|e| {
            NotificationRejected::new(RejectionReason::MalformedBody, format!("not a PayPal event: {e}"))
        })?;
        Ok(VerifiedNotification { provider_event_id: event.id, event_type: event.event_type })
    }

    async fn confirm_notification(&self, event_type: &str, body: &[u8]) -> Confirmation {
        if !event_type.starts_with(legacy::IPN_EVENT_PREFIX) {
            return Confirmation::Confirmed;
        }
        match &self.legacy {
            Some(legacy) => legacy::confirm_ipn(&legacy.http, &legacy.settings, body).await,
            None => Confirmation::Unavailable("IPN postback is not configured for this mode".into()),
        }
    }

    async fn confirm_return(&self, payment: &Payment, tx: &str) -> Option<PaymentSnapshot> {
        let legacy = self.legacy.as_ref()?;
        legacy::confirm_return(&legacy.http, &legacy.settings, payment, tx).await
    }

    async fn diagnose(&self, hub_url: &str) -> Vec<Diagnosis> {
        let webhooks = match self.client.list_webhooks().await {
            Ok(webhooks) => webhooks,
            Err(error @ PaypalError::Authentication { .. }) => {
                return vec![Diagnosis::failed(
                    "PayPal credentials",
                    error.to_string(),
                    "set client_id and client_secret of this mode's [paypal] section to the app's REST credentials",
                )];
            }
            Err(error) => {
                return vec![Diagnosis::failed(
                    "PayPal credentials",
                    format!("PayPal could not be asked: {error}"),
                    "check base_url in the [paypal] section and that this host reaches PayPal",
                )];
            }
        };
        let mut found = vec![Diagnosis::passed("PayPal credentials", "PayPal accepts the client credentials")];
        let target = format!("{}/webhooks/paypal", hub_url.trim_end_matches('/'));
        let registered = webhooks.iter().find(|webhook| webhook.url == target);
        found.push(match registered {
            None => Diagnosis::failed(
                "PayPal webhook",
                format!("no webhook of this PayPal app points to {target}"),
                format!(
                    "add a webhook for {target} in the app's settings (all events, or at least {})",
                    NEEDED_EVENT_TYPES.join(", ")
                ),
            ),
            Some(webhook) => {
                let subscribed: Vec<&str> = webhook.event_types.iter().map(|t| t.name.as_str()).collect();
                let missing: Vec<&str> = if subscribed.contains(&"*") {
                    vec![]
                } else {
                    NEEDED_EVENT_TYPES.iter().copied().filter(|needed| !subscribed.contains(needed)).collect()
                };
                if missing.is_empty() {
                    Diagnosis::passed(
                        "PayPal webhook",
                        format!("{} sends the events payhub needs to {target}", webhook.id),
                    )
                } else {
                    Diagnosis::failed(
                        "PayPal webhook",
                        format!("{} does not send {}", webhook.id, missing.join(", ")),
                        format!("subscribe webhook {} to those event types in the app's settings", webhook.id),
                    )
                }
            }
        });
        found
    }

    fn interpret(&self, event_type: &str, body: &[u8]) -> Result<Interpretation, NotificationRejected> {
        if event_type.starts_with(legacy::IPN_EVENT_PREFIX) {
            let settings = self.legacy_settings().cloned().unwrap_or_else(|| LegacySettings::for_live(true));
            return legacy::interpret_ipn(&settings, body).map_err(malformed);
        }
        interpret_event(body)
    }

    async fn fetch_dispute(&self, provider_dispute_id: &str) -> Result<DisputeFacts, ProviderError> {
        disputes::fetch(&self.client, provider_dispute_id).await
    }

    async fn disputes_updated_since(&self, since: DateTime<Utc>) -> Result<Vec<String>, ProviderError> {
        disputes::updated_since(&self.client, since).await
    }

    async fn dispute_for_transaction(&self, transaction_id: &str) -> Result<Option<String>, ProviderError> {
        disputes::for_transaction(&self.client, transaction_id).await
    }

    async fn respond_to_dispute(
        &self,
        dispute: &Dispute,
        response: &DisputeResponse,
        request_id: &str,
    ) -> Result<(), ProviderError> {
        disputes::respond(&self.client, dispute, response, request_id).await
    }

    async fn create_plan(&self, plan: &Plan) -> Result<ProviderPlan, ProviderError> {
        subscriptions::create_plan(&self.client, plan).await
    }

    async fn set_plan_active(&self, plan: &Plan, active: bool) -> Result<(), ProviderError> {
        subscriptions::set_plan_active(&self.client, plan, active).await
    }

    async fn update_plan_prices(&self, plan: &Plan) -> Result<(), ProviderError> {
        subscriptions::update_plan_prices(&self.client, plan).await
    }

    async fn create_subscription(
        &self,
        subscription: &Subscription,
        plan: &Plan,
        urls: &BuyerUrls,
    ) -> Result<Checkout, ProviderError> {
        subscriptions::create_subscription(&self.client, subscription, plan, urls).await
    }

    async fn fetch_subscription(
        &self,
        subscription: &Subscription,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionSnapshot, ProviderError> {
        subscriptions::fetch_subscription(&self.client, subscription, plan, now).await
    }

    async fn command_subscription(
        &self,
        subscription: &Subscription,
        command: SubscriptionCommand,
    ) -> Result<(), ProviderError> {
        subscriptions::command(&self.client, subscription, command).await
    }

    async fn revise_subscription(
        &self,
        subscription: &Subscription,
        plan: &Plan,
        quantity: u32,
    ) -> Result<Option<String>, ProviderError> {
        subscriptions::revise(&self.client, subscription, plan, quantity).await
    }

    async fn find_subscription(&self, provider_subscription_id: &str) -> Result<ForeignSubscription, ProviderError> {
        let remote = self.client.get_subscription(provider_subscription_id).await.map_err(provider_error)?;
        let subscriber = remote
            .subscriber
            .as_ref()
            .and_then(|s| s.get("payer_id").or_else(|| s.get("email_address")))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        Ok(ForeignSubscription { provider_plan_id: remote.plan_id, custom_id: remote.custom_id, subscriber })
    }
}

/// The merchant's reason, shown to the buyer. PayPal refuses an empty note
/// (`INVALID_STRING_LENGTH`), so a blank reason is left out rather than failing the refund.
fn note_to_payer(refund: &Refund) -> Option<String> {
    refund.reason.clone().filter(|reason| !reason.trim().is_empty())
}

/// Subscription charges, v1 payments and payments adopted from IPN or sale webhooks are v1
/// sales, refunded through the v1 sales API.
fn pays_through_a_sale(payment: &Payment) -> bool {
    payment.subscription_id.is_some() || legacy::uses_v1(payment) || payment.origin == PaymentOrigin::External
}

/// A subscription charge is a v1 sale; it is refunded through the v1 sales API.
async fn refund_sale(client: &PaypalClient, sale_id: &str, refund: &Refund) -> Result<RefundFacts, ProviderError> {
    let amount = to_paypal_amount(&Money::new(refund.amount, refund.currency)).map_err(rejected_amount)?;
    let note = note_to_payer(refund);
    let request = SaleRefundRequest {
        amount: Some(SaleAmount::new(amount.currency_code, amount.value)),
        invoice_number: None,
        description: note.clone(),
        reason: note,
    };
    let created = client.refund_sale(refund.id.as_str(), sale_id, &request).await.map_err(provider_error)?;
    Ok(sale_refund_facts(&created))
}

fn sale_refund_facts(refund: &SaleRefund) -> RefundFacts {
    let status = match &refund.state {
        SaleRefundState::Completed => RefundStatus::Succeeded,
        SaleRefundState::Cancelled | SaleRefundState::Failed => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    };
    let failure = (status == RefundStatus::Failed).then(|| payhub_core::payment::Failure {
        code: refund.state.as_str().to_owned(),
        message: format!("PayPal sale refund {} is {}", refund.id, refund.state.as_str()),
    });
    RefundFacts { status, provider_refund_id: Some(refund.id.clone()), failure }
}

fn malformed(e: impl std::fmt::Display) -> NotificationRejected {
    NotificationRejected::new(RejectionReason::MalformedResource, e.to_string())
}

/// The client crate's verification failures, in payhub's terms. Only a certificate that could
/// not be fetched is our side's failure: PayPal is asked to send the notification again.
fn verification_failed(error: VerifyError) -> NotificationRejected {
    let reason = match &error {
        VerifyError::MissingHeader(_) => RejectionReason::MissingHeader,
        VerifyError::UnsupportedAlgorithm(_) => RejectionReason::UnsupportedAlgorithm,
        VerifyError::CertUrlNotAllowed(_) => RejectionReason::CertUrlNotAllowed,
        VerifyError::CertFetch(_) => RejectionReason::CertFetchFailed,
        VerifyError::CertRejected(_) => RejectionReason::CertRejected,
        VerifyError::BadSignature => RejectionReason::BadSignature,
        VerifyError::Malformed(_) => RejectionReason::Malformed,
    };
    let transient = matches!(error, VerifyError::CertFetch(_));
    NotificationRejected { reason, detail: error.to_string(), transient }
}

/// The webhook event types payhub acts on (see [`interpret_event`]).
pub const NEEDED_EVENT_TYPES: &[&str] = &[
    "CHECKOUT.ORDER.APPROVED",
    "CHECKOUT.ORDER.COMPLETED",
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.PENDING",
    "PAYMENT.CAPTURE.DECLINED",
    "PAYMENT.CAPTURE.DENIED",
    "PAYMENT.CAPTURE.REFUNDED",
    "PAYMENT.AUTHORIZATION.CREATED",
    "PAYMENT.AUTHORIZATION.VOIDED",
    "PAYMENT.SALE.COMPLETED",
    "PAYMENT.SALE.DENIED",
    "PAYMENT.SALE.PENDING",
    "PAYMENT.SALE.REVERSED",
    "PAYMENT.SALE.REFUNDED",
    "BILLING.SUBSCRIPTION.ACTIVATED",
    "BILLING.SUBSCRIPTION.UPDATED",
    "BILLING.SUBSCRIPTION.SUSPENDED",
    "BILLING.SUBSCRIPTION.CANCELLED",
    "BILLING.SUBSCRIPTION.EXPIRED",
    "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
    "CUSTOMER.DISPUTE.CREATED",
    "CUSTOMER.DISPUTE.UPDATED",
    "CUSTOMER.DISPUTE.RESOLVED",
];

/// What a PayPal webhook means. Events payhub does not act on are kept in the inbox,
/// acknowledged and marked unhandled.
pub fn interpret_event(body: &[u8]) -> Result<Interpretation, NotificationRejected> {
    let event = parse_webhook_event(body).map_err(malformed)?;
    match event.event_type.as_str() {
        "CHECKOUT.ORDER.APPROVED" | "CHECKOUT.ORDER.COMPLETED" => {
            let order: Order = event.resource_as().map_err(malformed)?;
            Ok(Interpretation::Payment {
                payment_id: order.purchase_units.first().and_then(|u| u.custom_id.clone()),
                provider_refs: vec![order.id.clone()],
                snapshot: Some(order_snapshot(&order)),
                external: None,
            })
        }
        "PAYMENT.CAPTURE.COMPLETED"
        | "PAYMENT.CAPTURE.PENDING"
        | "PAYMENT.CAPTURE.DECLINED"
        | "PAYMENT.CAPTURE.DENIED" => {
            let capture: Capture = event.resource_as().map_err(malformed)?;
            let mut refs: Vec<String> = capture.order_id().map(str::to_owned).into_iter().collect();
            refs.push(capture.id.clone());
            Ok(Interpretation::Payment {
                payment_id: capture.custom_id.clone(),
                provider_refs: refs,
                snapshot: Some(PaymentSnapshot { facts: capture_facts(&capture), ready_to_capture: false }),
                external: None,
            })
        }
        // The order is asked for the whole story (what remains capturable, until when).
        "PAYMENT.AUTHORIZATION.CREATED" | "PAYMENT.AUTHORIZATION.VOIDED" => {
            let authorization: Authorization = event.resource_as().map_err(malformed)?;
            let mut refs: Vec<String> = authorization.order_id().map(str::to_owned).into_iter().collect();
            refs.push(authorization.id.clone());
            Ok(Interpretation::Payment {
                payment_id: authorization.custom_id.clone(),
                provider_refs: refs,
                snapshot: None,
                external: None,
            })
        }
        kind if kind.starts_with("BILLING.SUBSCRIPTION.") => {
            let id = event
                .resource
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| malformed("a subscription event without an id"))?;
            Ok(Interpretation::Subscription { provider_subscription_id: id.to_owned() })
        }
        // Renewals arrive only as sales of the subscription (seed 002), never as a
        // subscription event: the sale's billing_agreement_id names the subscription. Other
        // sales are v1 payments'.
        "PAYMENT.SALE.COMPLETED" | "PAYMENT.SALE.DENIED" | "PAYMENT.SALE.PENDING" => {
            let sale: Sale = event.resource_as().map_err(malformed)?;
            match sale.billing_agreement_id.clone() {
                Some(id) => Ok(Interpretation::Subscription { provider_subscription_id: id }),
                None => {
                    let facts = legacy::sale_facts(&sale);
                    Ok(Interpretation::Payment {
                        payment_id: sale.custom.clone(),
                        provider_refs: sale.parent_payment.clone().into_iter().chain([sale.id.clone()]).collect(),
                        external: legacy::external_sale(&facts, sale.parent_payment.clone(), None),
                        snapshot: Some(PaymentSnapshot { facts, ready_to_capture: false }),
                    })
                }
            }
        }
        // A reversal is a buyer's claim holding the money, not a refund the merchant made:
        // the IPN of the same reversal says so too, and both become the sale's dispute.
        "PAYMENT.SALE.REVERSED" => {
            let reversal: SaleRefund = event.resource_as().map_err(malformed)?;
            let sale_id = reversal.sale_id.as_deref().ok_or_else(|| malformed("a reversal without a sale_id"))?;
            let amount = legacy::money(&reversal.amount.total, &reversal.amount.currency)
                .ok_or_else(|| malformed(format!("reversal {} has no readable amount", reversal.id)))?;
            let reason_code = event.resource.get("reason_code").and_then(|v| v.as_str()).unwrap_or("other");
            Ok(legacy::reversal(sale_id, reason_code, amount))
        }
        "PAYMENT.SALE.REFUNDED" => {
            let refund: SaleRefund = event.resource_as().map_err(malformed)?;
            let amount = legacy::money(&refund.amount.total, &refund.amount.currency);
            Ok(Interpretation::Refund {
                refund_id: None,
                provider_refund_id: refund.id.clone(),
                provider_payment_refs: refund.sale_id.clone().into_iter().collect(),
                facts: sale_refund_facts(&refund),
                amount,
            })
        }
        "PAYMENT.CAPTURE.REFUNDED" => {
            let refund: PaypalRefund = event.resource_as().map_err(malformed)?;
            Ok(Interpretation::Refund {
                refund_id: refund.custom_id.clone(),
                provider_refund_id: refund.id.clone(),
                provider_payment_refs: refund.capture_id().map(str::to_owned).into_iter().collect(),
                facts: refund_facts(&refund),
                amount: refund.amount.as_ref().and_then(|a| from_paypal_amount(a).ok()),
            })
        }
        // The webhook carries the dispute, but the hub reads it from PayPal anyway: the same
        // path serves lost webhooks (the sweep) and out-of-order ones.
        "CUSTOMER.DISPUTE.CREATED"
        | "CUSTOMER.DISPUTE.UPDATED"
        | "CUSTOMER.DISPUTE.RESOLVED"
        | "RISK.DISPUTE.CREATED" => {
            let id = event
                .resource
                .get("dispute_id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| malformed("a dispute event without a dispute_id"))?;
            Ok(Interpretation::Dispute { provider_dispute_id: id.to_owned() })
        }
        other => Ok(Interpretation::Unhandled { reason: format!("payhub does not act on {other} yet") }),
    }
}

#[cfg(test)]
mod tests {
    use payhub_paypal::VerifyError;

    use super::verification_failed;

    /// The recorded reason is the client crate's code: rejected notifications recorded before
    /// and after the reasons were typed read the same.
    #[test]
    fn each_verification_failure_is_recorded_under_the_client_crates_code() {
        let failures = [
            VerifyError::MissingHeader("PAYPAL-TRANSMISSION-ID"),
            VerifyError::UnsupportedAlgorithm("SHA1withRSA".into()),
            VerifyError::CertUrlNotAllowed("https://evil.example".into()),
            VerifyError::CertFetch("timed out".into()),
            VerifyError::CertRejected("expired".into()),
            VerifyError::BadSignature,
            VerifyError::Malformed("CRC32".into()),
        ];
        for failure in failures {
            let rejection = verification_failed(failure.clone());
            assert_eq!(rejection.reason.as_str(), failure.code());
            assert_eq!(rejection.transient, matches!(failure, VerifyError::CertFetch(_)), "{failure}");
        }
    }
}
