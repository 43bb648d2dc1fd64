//! Payment providers behind one trait. Each provider is one folder here (an adapter over its
//! standalone client crate, its configuration section, its sandbox wiring and its ingress
//! routes) and one line in [`registry::REGISTERED`]; the rest of the hub only speaks payhub's
//! own vocabulary: payments, refunds, facts and notifications.

pub mod measured;
pub mod paypal;
pub mod pingpp;
pub mod registry;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
pub use payhub_core::dispute::OfferKind;
use payhub_core::dispute::{Dispute, DisputeAction, DisputeFacts};
use payhub_core::options::PaymentOptions;
use payhub_core::payment::{CaptureMethod, ExternalPayment, Payment, PaymentFacts};
use payhub_core::refund::{Refund, RefundFacts};
use payhub_core::subscription::{Plan, Subscription, SubscriptionFacts};
use payhub_core::{Mode, Money, ProviderName};
use serde::Serialize;

/// One check of `payhub doctor`: what was checked, what was found and, when it failed, how to
/// fix it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Diagnosis {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Diagnosis {
    pub fn passed(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { check: check.into(), ok: true, detail: detail.into(), fix: None }
    }

    pub fn failed(check: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check: check.into(), ok: false, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// Where the provider sends the buyer back to: payhub's own pages, never the merchant's
/// directly, because what arrives in a return URL's query string cannot be trusted.
#[derive(Debug, Clone)]
pub struct BuyerUrls {
    pub return_url: String,
    pub cancel_url: String,
}

/// A payment created at the provider, waiting for the buyer.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The provider's object for the payment (PayPal order, Ping++ charge or order).
    pub provider_payment_id: String,
    /// The object money will move through, when known already (a Ping++ order's charge).
    pub capture_id: Option<String>,
    pub buyer_action: BuyerAction,
}

/// What the buyer does next, in the provider's terms; the hub turns it into a `next_action`.
#[derive(Debug, Clone)]
pub enum BuyerAction {
    Redirect(String),
    /// Scan a QR code that encodes this payload.
    ScanQrCode(String),
    /// Hand this object to the provider's client SDK.
    ProviderSdk(serde_json::Value),
}

/// What the provider says about a payment right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSnapshot {
    pub facts: PaymentFacts,
    /// The buyer approved and the money can be captured now (PayPal's APPROVED orders).
    pub ready_to_capture: bool,
}

/// A notification that passed the provider's signature check.
#[derive(Debug, Clone)]
pub struct VerifiedNotification {
    pub provider_event_id: String,
    pub event_type: String,
}

/// Why a notification was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct NotificationRejected {
    pub reason: RejectionReason,
    pub detail: String,
    /// Whether the sender should try again later (our side failed, not theirs).
    pub transient: bool,
}

impl NotificationRejected {
    pub fn new(reason: RejectionReason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into(), transient: false }
    }
}

/// The reasons a notification is refused, by the ingress or by a provider's verification.
/// [`RejectionReason::as_str`] is recorded with the rejected notification and used as a metrics
/// label: those strings are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionReason {
    PayloadTooLarge,
    UnsupportedMediaType,
    ProviderNotConfigured,
    /// A signature header is absent (PayPal's transmission headers, Ping++'s signature).
    MissingHeader,
    MissingSignature,
    MalformedSignature,
    UnsupportedAlgorithm,
    /// The certificate URL is not on this mode's allowed hosts: the notification may belong to
    /// another mode.
    CertUrlNotAllowed,
    CertFetchFailed,
    CertRejected,
    BadSignature,
    /// The provider's public key is unusable (a configuration fault).
    BadKey,
    /// The provider's own verification endpoint could not be asked.
    VerificationUnavailable,
    /// A verified event of the other mode (Ping++ signs both modes with one key).
    WrongMode,
    /// The signed content is not in the shape the provider documents.
    Malformed,
    /// The body is not one of the provider's events.
    MalformedBody,
    /// The event's resource is not in the shape payhub reads.
    MalformedResource,
    /// Verified, but the database refuses to store it (a value it cannot hold); kept among the
    /// rejected notifications for a person.
    Unstorable,
    /// The provider disowned a stored notification when asked (PayPal's IPN postback answered
    /// `INVALID`): forged or altered.
    PostbackInvalid,
    /// More unconfirmed notifications (IPN) from the sender's network than payhub stores at
    /// once; refused before they cost a row, and sent again by the provider.
    RateLimited,
}

impl RejectionReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectionReason::PayloadTooLarge => "payload_too_large",
            RejectionReason::UnsupportedMediaType => "unsupported_media_type",
            RejectionReason::ProviderNotConfigured => "provider_not_configured",
            RejectionReason::MissingHeader => "missing_header",
            RejectionReason::MissingSignature => "missing_signature",
            RejectionReason::MalformedSignature => "malformed_signature",
            RejectionReason::UnsupportedAlgorithm => "unsupported_algorithm",
            RejectionReason::CertUrlNotAllowed => "cert_url_not_allowed",
            RejectionReason::CertFetchFailed => "cert_fetch_failed",
            RejectionReason::CertRejected => "cert_rejected",
            RejectionReason::BadSignature => "bad_signature",
            RejectionReason::BadKey => "bad_key",
            RejectionReason::VerificationUnavailable => "verification_unavailable",
            RejectionReason::WrongMode => "wrong_mode",
            RejectionReason::Malformed => "malformed",
            RejectionReason::MalformedBody => "malformed_body",
            RejectionReason::MalformedResource => "malformed_resource",
            RejectionReason::Unstorable => "unstorable",
            RejectionReason::PostbackInvalid => "postback_invalid",
            RejectionReason::RateLimited => "rate_limited",
        }
    }

    /// The mode that refused does not claim the notification (it names another certificate
    /// host, or the other `livemode`); another configured mode may.
    pub const fn is_for_another_mode(self) -> bool {
        matches!(self, RejectionReason::CertUrlNotAllowed | RejectionReason::WrongMode)
    }
}

impl std::fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the provider said when asked about a stored notification that carries no signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed,
    /// The provider disowns it: forged or altered. Recorded, never applied.
    Refused(String),
    /// The provider could not be asked now: the notification waits and is asked about again.
    Unavailable(String),
}

/// What a stored notification means for payhub's resources.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpretation {
    Payment {
        /// payhub's payment id, when the provider echoes it back (PayPal `custom_id`).
        payment_id: Option<String>,
        /// The provider's ids that may name the payment (order id, capture id, charge id).
        provider_refs: Vec<String>,
        /// The state the notification states; `None` means "ask the provider".
        snapshot: Option<PaymentSnapshot>,
        /// A paid payment described well enough to adopt it when payhub has none for it (one
        /// made outside payhub); `None` when only payhub's own payments are meant.
        external: Option<ExternalPayment>,
    },
    Refund {
        /// payhub's refund id, when echoed back (PayPal `custom_id`).
        refund_id: Option<String>,
        provider_refund_id: String,
        /// The provider's ids of the refunded payment (capture id).
        provider_payment_refs: Vec<String>,
        facts: RefundFacts,
        amount: Option<Money>,
    },
    /// Something happened to a subscription; the provider is asked for the whole of it.
    Subscription { provider_subscription_id: String },
    /// Something happened to a dispute: the hub reads the dispute from the provider.
    Dispute { provider_dispute_id: String },
    /// The provider took a payment's money back on a buyer's claim and holds it until the claim
    /// is decided (PayPal's reversal): the payment's dispute, as the reversal states it. A case
    /// the provider keeps for the same payment takes precedence (see [`PaymentProvider::dispute_for_transaction`]).
    Reversal { facts: DisputeFacts },
    /// The claim behind a reversal was settled for the merchant and the money came back
    /// (PayPal's `Canceled_Reversal`): the dispute of `transaction_id` is won.
    ReversalCanceled { transaction_id: String },
    /// Nothing to apply (an event type payhub does not act on): stored and acknowledged.
    Unhandled { reason: String },
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{0} did not answer in time")]
    Timeout(ProviderName),
    #[error("{provider} is unavailable: {detail}")]
    Unavailable { provider: ProviderName, detail: String },
    #[error("{provider} refused the request: {message}")]
    Rejected {
        provider: ProviderName,
        /// The provider's own error code (e.g. PayPal's `ORDER_NOT_APPROVED`).
        code: String,
        message: String,
        debug_id: Option<String>,
    },
    #[error("{provider} answered in a way payhub cannot read: {detail}")]
    Protocol { provider: ProviderName, detail: String },
    #[error("{provider} does not offer {capability}")]
    Unsupported { provider: ProviderName, capability: Capability },
    /// The provider could not take the money from the buyer's funding source (PayPal's
    /// `INSTRUMENT_DECLINED`, `PAYER_ACTION_REQUIRED`): the buyer must go back to
    /// `redirect_url` and choose another, then the payment can complete.
    #[error("{provider} declined the buyer's funding source: {message}")]
    FundingDeclined { provider: ProviderName, code: String, message: String, redirect_url: String },
}

/// What only some providers can do. An adapter declares its own in
/// [`PaymentProvider::capabilities`]; the hub refuses a request that needs one the provider
/// lacks before calling the provider, so nothing is recorded for a request that cannot succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Plans and recurring billing at the provider (PayPal billing plans and subscriptions).
    Subscriptions,
    /// Buyers' disputes read from the provider and answered there (PayPal Customer Disputes).
    Disputes,
    /// The buyer's approval only holds the money, captured later by the merchant (PayPal
    /// authorizations). Ping++ charges take the money when the buyer pays: there is no
    /// separate capture.
    ManualCapture,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Subscriptions => "subscriptions",
            Capability::Disputes => "disputes",
            Capability::ManualCapture => "manual_capture",
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ProviderError {
    /// The call may or may not have taken effect at the provider; only asking again tells.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(
            self,
            ProviderError::Rejected { .. } | ProviderError::Unsupported { .. } | ProviderError::FundingDeclined { .. }
        )
    }

    pub fn provider_code(&self) -> Option<&str> {
        match self {
            ProviderError::Rejected { code, .. } | ProviderError::FundingDeclined { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    fn name(&self) -> ProviderName;

    /// What this provider can do beyond payments and refunds. The methods of a capability it
    /// does not declare keep their defaults, which refuse.
    fn capabilities(&self) -> &'static [Capability];

    fn offers(&self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }

    /// The channels a payment through this provider may use; the first is the default.
    fn channels(&self) -> &'static [&'static str];

    /// ISO 4217 codes the provider accepts.
    fn currencies(&self) -> &'static [&'static str];

    /// Provider-specific limits on an amount (e.g. currencies PayPal takes in whole units only).
    fn check_amount(&self, _amount: &Money) -> Result<(), String> {
        Ok(())
    }

    /// Checks this provider's options and channel parameters before anything is sent; the
    /// error names the field (`provider_options.pingpp.extra.open_id`) and says what it needs.
    /// (Options meant for another provider are refused before this is called.)
    fn check_options(&self, _channel: &str, _options: &PaymentOptions) -> Result<(), (String, String)> {
        Ok(())
    }

    /// Refuses `capture_method` `manual` for payments this provider cannot hold (PayPal's v1
    /// payments API), naming the field and the fix. Providers without
    /// [`Capability::ManualCapture`] are refused before this is called.
    fn check_capture_method(&self, _options: &PaymentOptions, _method: CaptureMethod) -> Result<(), (String, String)> {
        Ok(())
    }

    async fn create_payment(&self, payment: &Payment, urls: &BuyerUrls) -> Result<Checkout, ProviderError>;

    async fn fetch_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError>;

    /// Takes the money of an approved payment. Idempotent: calling it again returns the same
    /// capture, never a second one.
    async fn capture_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError>;

    /// Stops the buyer from paying an unpaid payment, where the provider can (a Ping++ order is
    /// canceled; a PayPal order simply expires). A buyer who pays anyway is caught as an
    /// anomaly.
    async fn cancel_payment(&self, _payment: &Payment) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Asks the provider to refund. Idempotent per refund id, so the reconciler may call it
    /// again when the first answer was lost.
    async fn create_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError>;

    async fn fetch_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError>;

    /// Checks a notification's signature. `now` is the clock's time, against which certificate
    /// validity is judged.
    async fn verify_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedNotification, NotificationRejected>;

    /// Asks the provider whether a stored notification is genuine, for notifications whose
    /// authenticity cannot be checked on arrival (PayPal IPN has no signature: only a postback
    /// tells). Signed notifications were checked before they were stored.
    async fn confirm_notification(&self, _event_type: &str, _body: &[u8]) -> Confirmation {
        Confirmation::Confirmed
    }

    /// What the provider confirms about the transaction `tx` a buyer's return URL names (PayPal
    /// PDT), as a hint for this payment; `None` when it cannot or will not say, and the payment
    /// is then read from the provider.
    async fn confirm_return(&self, _payment: &Payment, _tx: &str) -> Option<PaymentSnapshot> {
        None
    }

    /// Reads a verified, stored notification.
    fn interpret(&self, event_type: &str, body: &[u8]) -> Result<Interpretation, NotificationRejected>;

    // Manual capture ([`Capability::ManualCapture`]); the defaults refuse.

    /// Holds the money of an approved payment with manual capture (PayPal: authorizes the
    /// order). Idempotent: calling it again returns the same hold.
    async fn authorize_payment(&self, _payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        Err(self.unsupported(Capability::ManualCapture))
    }

    /// Takes `amount` of a held payment and releases the rest (one capture per payment).
    /// Idempotent per payment: a repeated call returns the first capture.
    async fn capture_held_payment(
        &self,
        _payment: &Payment,
        _amount: &Money,
    ) -> Result<PaymentSnapshot, ProviderError> {
        Err(self.unsupported(Capability::ManualCapture))
    }

    /// Releases a held payment's money back to the buyer.
    async fn release_held_payment(&self, _payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        Err(self.unsupported(Capability::ManualCapture))
    }

    // Subscriptions: a capability only some providers have ([`Capability::Subscriptions`]);
    // the defaults refuse, for a caller that did not check the declared capabilities first.

    /// Creates the plan (and whatever the provider needs around it, like PayPal's product).
    async fn create_plan(&self, _plan: &Plan) -> Result<ProviderPlan, ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    async fn set_plan_active(&self, _plan: &Plan, _active: bool) -> Result<(), ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    /// Sends the plan's current prices (existing subscribers pay the new price from their next
    /// cycle, as the provider rules).
    async fn update_plan_prices(&self, _plan: &Plan) -> Result<(), ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    async fn create_subscription(
        &self,
        _subscription: &Subscription,
        _plan: &Plan,
        _urls: &BuyerUrls,
    ) -> Result<Checkout, ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    /// The subscription as the provider has it, with every charge made so far.
    async fn fetch_subscription(
        &self,
        _subscription: &Subscription,
        _plan: &Plan,
        _now: DateTime<Utc>,
    ) -> Result<SubscriptionSnapshot, ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    async fn command_subscription(
        &self,
        _subscription: &Subscription,
        _command: SubscriptionCommand,
    ) -> Result<(), ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    /// Moves a subscription to another plan or quantity; returns where the subscriber must
    /// approve the change, when the provider asks for that.
    async fn revise_subscription(
        &self,
        _subscription: &Subscription,
        _plan: &Plan,
        _quantity: u32,
    ) -> Result<Option<String>, ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    /// A subscription payhub did not create (made in the provider's dashboard, or by an older
    /// integration), described well enough to adopt it.
    async fn find_subscription(&self, _provider_subscription_id: &str) -> Result<ForeignSubscription, ProviderError> {
        Err(self.unsupported(Capability::Subscriptions))
    }

    /// The provider's current account of a dispute.
    async fn fetch_dispute(&self, _provider_dispute_id: &str) -> Result<DisputeFacts, ProviderError> {
        Err(self.unsupported(Capability::Disputes))
    }

    /// The ids of the disputes the provider changed after `since`, so a case whose
    /// notifications were all lost is still found.
    async fn disputes_updated_since(&self, _since: DateTime<Utc>) -> Result<Vec<String>, ProviderError> {
        Err(self.unsupported(Capability::Disputes))
    }

    /// The provider's case about a payment (`transaction_id`: PayPal's capture or sale), if it
    /// keeps one.
    async fn dispute_for_transaction(&self, _transaction_id: &str) -> Result<Option<String>, ProviderError> {
        Err(self.unsupported(Capability::Disputes))
    }

    /// Answers a dispute at the provider; `request_id` makes a retry safe.
    async fn respond_to_dispute(
        &self,
        _dispute: &Dispute,
        _response: &DisputeResponse,
        _request_id: &str,
    ) -> Result<(), ProviderError> {
        Err(self.unsupported(Capability::Disputes))
    }

    /// The provider's part of `payhub doctor`: whether it accepts this hub's credentials and
    /// will notify the hub at `hub_url`, each with the fix when not.
    async fn diagnose(&self, hub_url: &str) -> Vec<Diagnosis>;

    fn unsupported(&self, capability: Capability) -> ProviderError {
        ProviderError::Unsupported { provider: self.name(), capability }
    }
}

/// A file sent with a dispute response, already within the provider's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeDocument {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// What the merchant answers to a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeResponse {
    /// Give the money back; `amount` for less than the disputed amount.
    Accept {
        note: Option<String>,
        amount: Option<Money>,
    },
    /// Offer the buyer something; `amount` is required unless `kind` is a replacement.
    Offer {
        kind: OfferKind,
        amount: Option<Money>,
        note: String,
    },
    /// Evidence: what kind it is (`PROOF_OF_FULFILLMENT`, …), a note, files.
    Evidence {
        kind: String,
        note: Option<String>,
        documents: Vec<DisputeDocument>,
    },
    Message {
        text: String,
        documents: Vec<DisputeDocument>,
    },
    AcknowledgeReturn {
        received: bool,
        note: Option<String>,
    },
    Appeal {
        kind: String,
        note: Option<String>,
        documents: Vec<DisputeDocument>,
    },
}

impl DisputeResponse {
    /// The action this response is, as a dispute allows it.
    pub fn action(&self) -> DisputeAction {
        match self {
            DisputeResponse::Accept { .. } => DisputeAction::Accept,
            DisputeResponse::Offer { .. } => DisputeAction::Offer,
            DisputeResponse::Evidence { .. } => DisputeAction::Evidence,
            DisputeResponse::Message { .. } => DisputeAction::Message,
            DisputeResponse::AcknowledgeReturn { .. } => DisputeAction::AcknowledgeReturn,
            DisputeResponse::Appeal { .. } => DisputeAction::Appeal,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ForeignSubscription {
    pub provider_plan_id: Option<String>,
    /// The merchant's own reference, if the subscription carries one (PayPal `custom_id`).
    pub custom_id: Option<String>,
    /// The provider's id for the subscriber (PayPal payer id).
    pub subscriber: Option<String>,
}

/// The provider's ids for a plan.
#[derive(Debug, Clone)]
pub struct ProviderPlan {
    pub product_id: Option<String>,
    pub plan_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionCommand {
    Cancel,
    Suspend,
    Resume,
}

/// One successful charge of a subscription at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCharge {
    pub provider_id: String,
    pub amount: Money,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSnapshot {
    pub facts: SubscriptionFacts,
    pub charges: Vec<SubscriptionCharge>,
}

/// The configured providers, per mode.
#[derive(Clone, Default)]
pub struct Providers {
    by_mode: HashMap<(Mode, ProviderName), Arc<dyn PaymentProvider>>,
}

impl Providers {
    /// Adds a provider; its calls are measured (see [`measured`]).
    pub fn insert(&mut self, mode: Mode, provider: Arc<dyn PaymentProvider>) {
        self.by_mode.insert((mode, provider.name()), measured::Measured::wrap(provider));
    }

    pub fn get(&self, mode: Mode, name: ProviderName) -> Option<&Arc<dyn PaymentProvider>> {
        self.by_mode.get(&(mode, name))
    }

    /// The modes in which `name` is configured, live first.
    pub fn modes_of(&self, name: ProviderName) -> Vec<Mode> {
        [Mode::Live, Mode::Test].into_iter().filter(|m| self.by_mode.contains_key(&(*m, name))).collect()
    }
}
