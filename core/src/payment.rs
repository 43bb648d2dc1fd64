//! The Payment resource and its state machine.
//!
//! ```text
//! requires_action ──► processing ──► succeeded ──► refunded
//!        │                 │
//!        ├──► canceled     └──► failed
//!        ├──► expired
//!        ├──► failed
//!        └──► requires_capture ──► processing | succeeded | failed | canceled | expired
//!             (capture_method manual: the buyer's approval only holds the money)
//! ```
//! Provider facts are merged monotonically: a fact that is behind the stored state is stale and
//! changes nothing (a refunded payment never becomes pending again); a fact that contradicts a
//! final state is a conflict, settled by asking the provider rather than by guessing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::EventType;
use crate::id::{PaymentId, RefundId};
use crate::mode::{Mode, ProviderName};
use crate::money::Money;
use crate::refund::Refund;
use crate::subscription::Subscription;
use crate::transition::{Cause, Created, Moved, NONE, Transition};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Waiting for the buyer: approve at PayPal, scan a QR code, confirm in an app.
    RequiresAction,
    /// The buyer approved a payment with `capture_method` `manual`: the provider holds the
    /// money until the merchant captures it (`POST /v1/payments/{id}/capture`), cancels it, or
    /// the hold expires.
    RequiresCapture,
    /// The buyer acted; the provider has not settled the money yet (e.g. a pending capture).
    Processing,
    Succeeded,
    /// Every captured unit has been refunded.
    Refunded,
    Failed,
    Canceled,
    Expired,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 8] = [
        PaymentStatus::RequiresAction,
        PaymentStatus::RequiresCapture,
        PaymentStatus::Processing,
        PaymentStatus::Succeeded,
        PaymentStatus::Refunded,
        PaymentStatus::Failed,
        PaymentStatus::Canceled,
        PaymentStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::RequiresAction => "requires_action",
            PaymentStatus::RequiresCapture => "requires_capture",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Final for the buyer's side of the payment: no provider fact moves it on by itself.
    /// (`succeeded` still moves to `refunded`, but only through refunds.)
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentStatus::Refunded | PaymentStatus::Failed | PaymentStatus::Canceled | PaymentStatus::Expired
        )
    }

    /// How far along the happy path a status is; facts never move a payment backwards.
    fn progress(self) -> u8 {
        match self {
            PaymentStatus::RequiresAction => 0,
            PaymentStatus::RequiresCapture => 1,
            PaymentStatus::Processing => 2,
            PaymentStatus::Succeeded | PaymentStatus::Failed | PaymentStatus::Canceled | PaymentStatus::Expired => 3,
            PaymentStatus::Refunded => 4,
        }
    }

    pub fn can_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (RequiresAction, RequiresCapture | Processing | Succeeded | Failed | Canceled | Expired)
                | (RequiresCapture, Processing | Succeeded | Failed | Canceled | Expired)
                | (Processing, Succeeded | Failed)
                | (Succeeded, Refunded)
                // The buyer paid after all (a QR code scanned after the merchant canceled):
                // the money was taken, so the payment records it — as an anomaly.
                | (Canceled | Expired, Succeeded)
        )
    }

    pub fn event_type(self) -> EventType {
        match self {
            PaymentStatus::RequiresAction => EventType::PaymentCreated,
            PaymentStatus::RequiresCapture => EventType::PaymentAuthorized,
            PaymentStatus::Processing => EventType::PaymentProcessing,
            PaymentStatus::Succeeded => EventType::PaymentSucceeded,
            PaymentStatus::Refunded => EventType::PaymentRefunded,
            PaymentStatus::Failed => EventType::PaymentFailed,
            PaymentStatus::Canceled => EventType::PaymentCanceled,
            PaymentStatus::Expired => EventType::PaymentExpired,
        }
    }
}

/// What the buyer has to do next, when the payment waits for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NextAction {
    /// Send the buyer's browser here (PayPal approval, Alipay/UnionPay web pages).
    RedirectToUrl { redirect_url: String },
    /// Show the buyer a QR code to scan with their wallet app (Alipay, WeChat Pay).
    DisplayQrCode { qr_code: QrCode },
    /// Hand the provider's payment object to its client SDK in the app or mini program.
    UseProviderSdk {
        #[schema(value_type = Object)]
        credential: serde_json::Value,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QrCode {
    /// What the QR code encodes (the wallet's payment link).
    pub payload: String,
    /// The QR code rendered by payhub, as SVG and as PNG (public URLs, for an `<img>` tag).
    pub image_url_svg: String,
    pub image_url_png: String,
}

/// When the provider takes the money: at once after the buyer approves (`automatic`), or when
/// the merchant captures a held (authorized) payment (`manual`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    #[default]
    Automatic,
    Manual,
}

impl CaptureMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "automatic" => Some(CaptureMethod::Automatic),
            "manual" => Some(CaptureMethod::Manual),
            _ => None,
        }
    }
}

/// What the provider holds for a payment with manual capture, as it states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationFacts {
    /// The provider's authorization id (PayPal's).
    pub id: String,
    /// What may still be captured (the payment's amount when the provider does not say).
    pub capturable: Option<Money>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a capture of a held payment is refused before the provider is asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureRejection {
    #[error("only payments in requires_capture can be captured; this payment is {0}")]
    NotCapturable(&'static str),
    #[error("a capture must be a positive amount")]
    NotPositive,
    #[error("the capture is in {requested} but the payment is in {payment}")]
    WrongCurrency { requested: String, payment: String },
    #[error("capture of {requested} exceeds the {capturable} capturable")]
    ExceedsCapturable { requested: Money, capturable: Money },
}

/// Something a provider reports that should not happen in a well-behaved payment, and what
/// it means in money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// Minor units received that the merchant did not ask for (the whole payment when it was
    /// paid after being canceled).
    pub excess: i64,
    pub detected_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Paid after it was canceled or expired.
    PaidAfterCancel,
    /// Paid more than once (two channels at once): more received than the amount.
    Overpaid,
}

/// Why a payment or refund failed, in words a support engineer can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

/// The provider's own identifiers for this payment, for support and reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderRefs {
    /// PayPal order id, Ping++ charge id.
    pub payment_id: Option<String>,
    /// PayPal capture id (what refunds and disputes refer to).
    pub capture_id: Option<String>,
    /// PayPal authorization id, for payments with manual capture.
    pub authorization_id: Option<String>,
}

// A payment as the merchant sees it. What the state machine owns (status, the captured,
// refunded and reserved amounts, failure, anomaly, version) is read through getters and moved
// only by the methods below, each of which returns what must be recorded; the rest is the
// merchant's description of the payment and the provider's references.
// (A plain comment: utoipa would publish a doc comment as the schema's description.)
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub mode: Mode,
    pub provider: ProviderName,
    pub channel: String,
    pub(crate) status: PaymentStatus,
    /// Minor units of `currency`.
    pub amount: i64,
    #[schema(value_type = String, example = "USD")]
    pub currency: crate::money::Currency,
    /// What the provider actually received: the amount once paid, more if the buyer paid twice.
    pub(crate) amount_captured: i64,
    /// Sum of succeeded refunds.
    pub(crate) amount_refunded: i64,
    /// Sum of refunds still pending at the provider; reserved, so it cannot be refunded twice.
    pub(crate) amount_refund_pending: i64,
    /// `automatic` (the default) or `manual`: the buyer's approval only authorizes, and the
    /// merchant captures later.
    pub capture_method: CaptureMethod,
    /// What a `requires_capture` payment may still capture; 0 otherwise.
    pub(crate) amount_capturable: i64,
    /// When the provider releases the held money of a `requires_capture` payment (PayPal: 29
    /// days after approval); the payment becomes `expired` then.
    pub(crate) authorization_expires_at: Option<DateTime<Utc>>,
    pub merchant_reference: Option<String>,
    pub description: Option<String>,
    pub customer_id: Option<String>,
    /// Set on the payments of a subscription (its first payment and each renewal).
    pub subscription_id: Option<crate::id::SubscriptionId>,
    /// `payhub` when payhub created it; `external` when it was made at the provider outside
    /// payhub (a legacy checkout, a PayPal button) and adopted from the provider's notification.
    pub origin: PaymentOrigin,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    /// Provider-specific choices made at creation (e.g. paying through a Ping++ order).
    #[serde(default)]
    pub provider_options: crate::options::PaymentOptions,
    pub(crate) next_action: Option<NextAction>,
    pub(crate) provider_refs: ProviderRefs,
    pub(crate) failure: Option<Failure>,
    /// Why a `processing` payment waits at the provider, in lower_snake: PayPal's pending
    /// reasons (`payment_review`, `echeck`, `multi_currency`, `unilateral`, `verify`, …).
    /// Absent once the payment moves on.
    #[schema(example = "payment_review")]
    pub(crate) pending_reason: Option<String>,
    /// Set when the provider reported something abnormal; see the `payment.anomaly_detected`
    /// event.
    pub(crate) anomaly: Option<Anomaly>,
    /// A buyer opened a dispute about this payment (see `GET /v1/disputes?payment=…`).
    pub(crate) disputed: bool,
    pub created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, bumped on every stored change.
    #[serde(skip)]
    pub(crate) version: i64,
    /// When the reconciler should next ask the provider about this payment.
    #[serde(skip)]
    pub next_check_at: Option<DateTime<Utc>>,
}

/// A provider's statement about a payment, already mapped to payhub's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts {
    pub status: PaymentStatus,
    pub capture_id: Option<String>,
    /// What the provider says was captured; checked against the payment's amount.
    pub captured: Option<Money>,
    pub failure: Option<Failure>,
    /// The hold of a payment with manual capture, when the provider states one.
    pub authorization: Option<AuthorizationFacts>,
    /// Why a `processing` payment waits, normalized to lower_snake by the provider's mapping.
    pub pending_reason: Option<String>,
}

/// The result of merging provider facts into a payment.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// The payment moved on; store it with the transition and its event.
    Advanced { moved: Moved, anomaly: Option<Anomaly> },
    /// No new status; `learned` when identifiers or the captured amount were learned (store,
    /// no status event).
    Unchanged { learned: bool, anomaly: Option<Anomaly> },
    /// The fact is behind the stored state (an old or re-ordered notification).
    Stale,
    /// The fact contradicts a final state; ask the provider before believing either side.
    Conflict { stored: PaymentStatus, claimed: PaymentStatus },
}

/// What the merchant says about a payment when asking for it; payhub keeps it as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaymentDetails {
    pub merchant_reference: Option<String>,
    pub description: Option<String>,
    pub customer_id: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub provider_options: crate::options::PaymentOptions,
    pub capture_method: CaptureMethod,
}

/// A payment not yet sent to the provider: the provider needs its id and amount, and what it
/// answers decides the status the payment is created in. Not stored until it is
/// [`opened`](PaymentDraft::opened) or [`refused`](PaymentDraft::refused).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentDraft(Payment);

impl std::ops::Deref for PaymentDraft {
    type Target = Payment;
    fn deref(&self) -> &Payment {
        &self.0
    }
}

impl PaymentDraft {
    /// The provider took the payment; the buyer acts next.
    pub fn opened(mut self, refs: ProviderRefs, next_action: NextAction, cause: &Cause) -> Created<Payment> {
        self.0.provider_refs = refs;
        self.0.next_action = Some(next_action);
        self.0.created(cause)
    }

    /// The provider refused the payment: it is kept as failed, so the attempt and its reason
    /// stay visible to the merchant.
    pub fn refused(mut self, failure: Failure, cause: &Cause) -> Created<Payment> {
        self.0.status = PaymentStatus::Failed;
        self.0.failure = Some(failure);
        self.0.created(cause)
    }
}

/// What the merchant says about a refund when asking for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefundDetails {
    pub reason: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub provider_options: crate::options::RefundOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRejection {
    #[error("only succeeded payments can be refunded; this payment is {0}")]
    NotRefundable(&'static str),
    #[error("a refund must be a positive amount")]
    NotPositive,
    #[error("the refund is in {requested} but the payment is in {payment}")]
    WrongCurrency { requested: String, payment: String },
    #[error("refund of {requested} exceeds the {remaining} still refundable")]
    ExceedsRemaining { requested: Money, remaining: Money },
}

impl crate::event::Resource for Payment {
    fn resource_id(&self) -> &str {
        self.id.as_str()
    }
    fn mode(&self) -> Mode {
        self.mode
    }
}

/// Who made a payment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentOrigin {
    #[default]
    Payhub,
    External,
}

impl PaymentOrigin {
    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentOrigin::Payhub => "payhub",
            PaymentOrigin::External => "external",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "payhub" => Some(PaymentOrigin::Payhub),
            "external" => Some(PaymentOrigin::External),
            _ => None,
        }
    }
}

/// A payment made at the provider outside payhub, as a verified notification describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalPayment {
    pub provider_payment_id: Option<String>,
    /// What refunds go to (a PayPal sale id).
    pub capture_id: String,
    pub amount: Money,
    pub description: Option<String>,
}

impl Payment {
    /// A new payment waiting for the buyer, to be sent to the provider.
    pub fn draft(
        id: PaymentId,
        mode: Mode,
        provider: ProviderName,
        channel: String,
        money: Money,
        details: PaymentDetails,
        now: DateTime<Utc>,
    ) -> PaymentDraft {
        PaymentDraft(Payment {
            id,
            mode,
            provider,
            channel,
            status: PaymentStatus::RequiresAction,
            amount: money.amount,
            currency: money.currency,
            amount_captured: 0,
            amount_refunded: 0,
            amount_refund_pending: 0,
            capture_method: details.capture_method,
            amount_capturable: 0,
            authorization_expires_at: None,
            merchant_reference: details.merchant_reference,
            description: details.description,
            customer_id: details.customer_id,
            subscription_id: None,
            origin: PaymentOrigin::Payhub,
            metadata: details.metadata,
            return_url: details.return_url,
            cancel_url: details.cancel_url,
            provider_options: details.provider_options,
            next_action: None,
            provider_refs: ProviderRefs::default(),
            failure: None,
            pending_reason: None,
            anomaly: None,
            disputed: false,
            created_at: now,
            updated_at: now,
            version: 1,
            next_check_at: None,
        })
    }

    /// A payment made at the provider outside payhub that a verified notification reported
    /// paid: adopted so that it is visible, refundable and in the event stream.
    pub fn adopted(
        id: PaymentId,
        mode: Mode,
        provider: ProviderName,
        external: ExternalPayment,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Created<Payment> {
        let refs = ProviderRefs {
            payment_id: external.provider_payment_id,
            capture_id: Some(external.capture_id),
            authorization_id: None,
        };
        let payment = Payment {
            origin: PaymentOrigin::External,
            description: external.description,
            ..Payment::paid_at_provider(id, mode, provider, external.amount, refs, now)
        };
        payment.created(cause)
    }

    /// A charge the provider made for a subscription (its first payment or a renewal).
    pub fn subscription_charge(
        id: PaymentId,
        subscription: &Subscription,
        provider_charge_id: &str,
        amount: Money,
        charged_at: DateTime<Utc>,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Created<Payment> {
        let refs = ProviderRefs {
            payment_id: Some(provider_charge_id.to_owned()),
            capture_id: Some(provider_charge_id.to_owned()),
            authorization_id: None,
        };
        let charge = Payment {
            description: Some(format!("subscription {} charge", subscription.id)),
            customer_id: Some(subscription.customer_id.clone()),
            subscription_id: Some(subscription.id.clone()),
            // When the buyer paid, unless the provider's clock is ahead of ours.
            created_at: charged_at.min(now),
            ..Payment::paid_at_provider(id, subscription.mode, subscription.provider, amount, refs, now)
        };
        let transition = Transition::new(charge.id.as_str(), NONE, charge.status.as_str(), cause.clone(), now);
        Created::with_transition(charge, transition, EventType::PaymentSucceeded)
    }

    /// A payment that exists only because the provider took the money: created succeeded, with
    /// nothing the merchant described.
    fn paid_at_provider(
        id: PaymentId,
        mode: Mode,
        provider: ProviderName,
        amount: Money,
        provider_refs: ProviderRefs,
        now: DateTime<Utc>,
    ) -> Payment {
        Payment {
            id,
            mode,
            provider,
            channel: provider.as_str().to_owned(),
            status: PaymentStatus::Succeeded,
            amount: amount.amount,
            currency: amount.currency,
            amount_captured: amount.amount,
            amount_refunded: 0,
            amount_refund_pending: 0,
            capture_method: CaptureMethod::Automatic,
            amount_capturable: 0,
            authorization_expires_at: None,
            merchant_reference: None,
            description: None,
            customer_id: None,
            subscription_id: None,
            origin: PaymentOrigin::Payhub,
            metadata: Default::default(),
            return_url: None,
            cancel_url: None,
            provider_options: Default::default(),
            next_action: None,
            provider_refs,
            failure: None,
            pending_reason: None,
            anomaly: None,
            disputed: false,
            created_at: now,
            updated_at: now,
            version: 1,
            next_check_at: None,
        }
    }

    fn created(self, cause: &Cause) -> Created<Payment> {
        let transition = Transition::new(self.id.as_str(), NONE, self.status.as_str(), cause.clone(), self.created_at);
        let event = self.status.event_type();
        Created::with_transition(self, transition, event)
    }

    pub fn status(&self) -> PaymentStatus {
        self.status
    }

    pub fn amount_captured(&self) -> i64 {
        self.amount_captured
    }

    pub fn amount_refunded(&self) -> i64 {
        self.amount_refunded
    }

    pub fn amount_refund_pending(&self) -> i64 {
        self.amount_refund_pending
    }

    pub fn amount_capturable(&self) -> i64 {
        self.amount_capturable
    }

    pub fn authorization_expires_at(&self) -> Option<DateTime<Utc>> {
        self.authorization_expires_at
    }

    /// The amount a capture of this held payment takes: `requested`, or all that is capturable.
    /// Checked here so that nothing is sent to the provider for a capture that cannot succeed.
    pub fn capture_amount(&self, requested: Option<Money>) -> Result<Money, CaptureRejection> {
        if self.status != PaymentStatus::RequiresCapture {
            return Err(CaptureRejection::NotCapturable(self.status.as_str()));
        }
        let capturable = Money::new(self.amount_capturable, self.currency);
        let amount = requested.unwrap_or(capturable);
        if amount.currency != self.currency {
            return Err(CaptureRejection::WrongCurrency {
                requested: amount.currency.code().into(),
                payment: self.currency.code().into(),
            });
        }
        if amount.amount <= 0 {
            return Err(CaptureRejection::NotPositive);
        }
        if amount.amount > capturable.amount {
            return Err(CaptureRejection::ExceedsCapturable { requested: amount, capturable });
        }
        Ok(amount)
    }

    /// The provider refused to take the money from the buyer's funding source (PayPal's
    /// `INSTRUMENT_DECLINED`): the buyer is sent back to choose another, the payment keeps
    /// waiting for them with the reason recorded. True when this changed anything (announce
    /// `payment.action_required`).
    pub fn funding_declined(&mut self, redirect_url: String, failure: Failure, now: DateTime<Utc>) -> bool {
        if self.status != PaymentStatus::RequiresAction {
            return false;
        }
        let next_action = Some(NextAction::RedirectToUrl { redirect_url });
        if self.next_action == next_action && self.failure.as_ref() == Some(&failure) {
            return false;
        }
        self.next_action = next_action;
        self.failure = Some(failure);
        self.touch(now);
        true
    }

    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    pub fn pending_reason(&self) -> Option<&str> {
        self.pending_reason.as_deref()
    }

    /// What the buyer does next; set when the provider accepted the payment.
    pub fn next_action(&self) -> Option<&NextAction> {
        self.next_action.as_ref()
    }

    /// The provider's ids, learned at creation and from its facts (a capture id).
    pub fn provider_refs(&self) -> &ProviderRefs {
        &self.provider_refs
    }

    pub fn disputed(&self) -> bool {
        self.disputed
    }

    /// Flags the payment as disputed; true the first time (announce `payment.disputed`).
    pub fn mark_disputed(&mut self, now: DateTime<Utc>) -> bool {
        if self.disputed {
            return false;
        }
        self.disputed = true;
        self.touch(now);
        true
    }

    pub fn anomaly(&self) -> Option<&Anomaly> {
        self.anomaly.as_ref()
    }

    pub fn money(&self) -> Money {
        Money::new(self.amount, self.currency)
    }

    /// What may still be refunded: captured minus refunded minus refunds in flight.
    pub fn refundable(&self) -> Money {
        if self.status != PaymentStatus::Succeeded {
            return Money::zero(self.currency);
        }
        let remaining = self.amount_captured - self.amount_refunded - self.amount_refund_pending;
        Money::new(remaining.max(0), self.currency)
    }

    pub fn merge(&mut self, facts: &PaymentFacts, cause: &Cause, now: DateTime<Utc>) -> Merge {
        let mut learned = self.learn_capture_id(facts) | self.learn_authorization(facts);
        let current = self.status;
        let claimed = facts.status;
        let mut anomaly = None;
        if claimed == current {
            if claimed == PaymentStatus::Processing {
                learned |= self.learn_pending_reason(facts);
            }
            if claimed == PaymentStatus::Succeeded {
                let (more, overpaid) = self.learn_captured(facts, now);
                learned |= more;
                anomaly = overpaid;
            }
            if learned {
                self.touch(now);
            }
            return Merge::Unchanged { learned, anomaly };
        }
        if current.can_become(claimed) {
            self.status = claimed;
            // Only a payment still waiting at the provider has a reason to wait.
            self.pending_reason =
                if claimed == PaymentStatus::Processing { facts.pending_reason.clone() } else { None };
            if claimed != PaymentStatus::RequiresCapture {
                // The hold is captured, released or lost with any other move.
                self.amount_capturable = 0;
            }
            if matches!(claimed, PaymentStatus::RequiresCapture | PaymentStatus::Processing | PaymentStatus::Succeeded)
            {
                // A funding decline the buyer recovered from is no longer the payment's story.
                self.failure = None;
            }
            match claimed {
                PaymentStatus::Failed => self.failure = facts.failure.clone(),
                PaymentStatus::Succeeded => {
                    // A manual capture may take less than the amount, directly or after a
                    // pending review: what was captured is what may be refunded.
                    let stated = facts.captured.filter(|c| c.currency == self.currency);
                    self.amount_captured = match (self.capture_method, stated) {
                        (CaptureMethod::Manual, Some(captured)) => captured.amount,
                        _ => self.amount,
                    };
                    let (_, overpaid) = self.learn_captured(facts, now);
                    anomaly = overpaid;
                    if matches!(current, PaymentStatus::Canceled | PaymentStatus::Expired) {
                        anomaly = Some(self.flag(AnomalyKind::PaidAfterCancel, self.amount_captured, now));
                    }
                }
                _ => {}
            }
            if claimed != PaymentStatus::RequiresAction {
                self.next_action = None;
            }
            self.touch(now);
            let transition = Transition::new(self.id.as_str(), current.as_str(), claimed.as_str(), cause.clone(), now);
            return Merge::Advanced { moved: Moved::new(transition, claimed.event_type()), anomaly };
        }
        if learned {
            self.touch(now);
        }
        if claimed.progress() < current.progress()
            || (claimed == PaymentStatus::Succeeded && current == PaymentStatus::Refunded)
        {
            Merge::Stale
        } else {
            Merge::Conflict { stored: current, claimed }
        }
    }

    /// Takes a larger captured amount from the provider (a second payment of the same order);
    /// more than the payment's amount is an overpayment.
    fn learn_captured(&mut self, facts: &PaymentFacts, now: DateTime<Utc>) -> (bool, Option<Anomaly>) {
        let Some(captured) = facts.captured.filter(|c| c.currency == self.currency) else {
            return (false, None);
        };
        if captured.amount <= self.amount_captured {
            return (false, None);
        }
        self.amount_captured = captured.amount;
        let excess = self.amount_captured - self.amount;
        let anomaly = (excess > 0).then(|| self.flag(AnomalyKind::Overpaid, excess, now));
        (true, anomaly)
    }

    fn flag(&mut self, kind: AnomalyKind, excess: i64, now: DateTime<Utc>) -> Anomaly {
        let anomaly = Anomaly { kind, excess, detected_at: now };
        self.anomaly = Some(anomaly.clone());
        anomaly
    }

    /// Asks for a refund of `amount`: reserved on this payment at once (the caller holds the
    /// payment's row lock, so concurrent refunds can never exceed what was captured) and
    /// created pending until the provider settles it.
    pub fn refund(
        &mut self,
        id: RefundId,
        amount: Money,
        details: RefundDetails,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Result<Created<Refund>, RefundRejection> {
        self.reserve_refund(amount, now)?;
        Ok(Refund::pending(id, self, amount, details, cause, now))
    }

    pub(crate) fn reserve_refund(&mut self, amount: Money, now: DateTime<Utc>) -> Result<(), RefundRejection> {
        if self.status != PaymentStatus::Succeeded {
            return Err(RefundRejection::NotRefundable(self.status.as_str()));
        }
        if amount.currency != self.currency {
            return Err(RefundRejection::WrongCurrency {
                requested: amount.currency.code().into(),
                payment: self.currency.code().into(),
            });
        }
        if amount.amount <= 0 {
            return Err(RefundRejection::NotPositive);
        }
        let remaining = self.refundable();
        if amount.amount > remaining.amount {
            return Err(RefundRejection::ExceedsRemaining { requested: amount, remaining });
        }
        self.amount_refund_pending += amount.amount;
        self.touch(now);
        Ok(())
    }

    /// Settles a reserved refund. A success that completes the refund total moves the payment to
    /// `refunded`.
    pub fn settle_refund(&mut self, amount: i64, succeeded: bool, cause: &Cause, now: DateTime<Utc>) -> Option<Moved> {
        self.amount_refund_pending = (self.amount_refund_pending - amount).max(0);
        self.touch(now);
        if !succeeded {
            return None;
        }
        self.amount_refunded += amount;
        if self.amount_refunded >= self.amount_captured && self.status == PaymentStatus::Succeeded {
            self.status = PaymentStatus::Refunded;
            let transition = Transition::new(
                self.id.as_str(),
                PaymentStatus::Succeeded.as_str(),
                PaymentStatus::Refunded.as_str(),
                cause.clone(),
                now,
            );
            return Some(Moved::new(transition, EventType::PaymentRefunded));
        }
        None
    }

    /// Records a refund made outside payhub (e.g. from the provider's dashboard) that was never
    /// reserved here: the refund, created succeeded, and the payment's move to `refunded` when it
    /// completes the total.
    pub fn record_external_refund(
        &mut self,
        id: RefundId,
        provider_refund_id: &str,
        amount: Money,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> (Created<Refund>, Option<Moved>) {
        let refund = Refund::made_at_provider(id, self, provider_refund_id, amount, cause, now);
        self.amount_refund_pending += amount.amount;
        let moved = self.settle_refund(amount.amount, true, cause, now);
        (refund, moved)
    }

    /// Takes the hold's id, capturable amount and expiry while the payment waits for capture.
    fn learn_authorization(&mut self, facts: &PaymentFacts) -> bool {
        let Some(authorization) = &facts.authorization else {
            return false;
        };
        // Only a payment still waiting for the buyer or the capture takes the hold's amounts; a
        // stale fact about a captured payment does not bring them back.
        let waiting = matches!(self.status, PaymentStatus::RequiresAction | PaymentStatus::RequiresCapture);
        if facts.status != PaymentStatus::RequiresCapture || !waiting {
            let learned = self.provider_refs.authorization_id.is_none();
            if learned {
                self.provider_refs.authorization_id = Some(authorization.id.clone());
            }
            return learned;
        }
        let before =
            (self.provider_refs.authorization_id.clone(), self.amount_capturable, self.authorization_expires_at);
        self.provider_refs.authorization_id = Some(authorization.id.clone());
        self.amount_capturable =
            authorization.capturable.filter(|c| c.currency == self.currency).map_or(self.amount, |c| c.amount);
        self.authorization_expires_at = authorization.expires_at;
        before != (self.provider_refs.authorization_id.clone(), self.amount_capturable, self.authorization_expires_at)
    }

    /// Takes a newly stated reason for a payment that keeps waiting (a review became an eCheck
    /// clearing); a fact that states none leaves the known reason alone.
    fn learn_pending_reason(&mut self, facts: &PaymentFacts) -> bool {
        match &facts.pending_reason {
            Some(reason) if self.pending_reason.as_ref() != Some(reason) => {
                self.pending_reason = Some(reason.clone());
                true
            }
            _ => false,
        }
    }

    fn learn_capture_id(&mut self, facts: &PaymentFacts) -> bool {
        match (&self.provider_refs.capture_id, &facts.capture_id) {
            (None, Some(id)) => {
                self.provider_refs.capture_id = Some(id.clone());
                true
            }
            _ => false,
        }
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixtures;
    use crate::money::Currency;
    use proptest::prelude::*;

    pub fn payment(status: PaymentStatus, amount: i64) -> Payment {
        let now = fixtures::now();
        Payment {
            id: PaymentId::generate(&fixtures::ids(), now),
            mode: Mode::Test,
            provider: ProviderName::Paypal,
            channel: "paypal".into(),
            status,
            amount,
            currency: Currency::parse("USD").unwrap(),
            amount_captured: if matches!(status, PaymentStatus::Succeeded | PaymentStatus::Refunded) {
                amount
            } else {
                0
            },
            amount_refunded: 0,
            amount_refund_pending: 0,
            capture_method: if status == PaymentStatus::RequiresCapture {
                CaptureMethod::Manual
            } else {
                CaptureMethod::Automatic
            },
            amount_capturable: if status == PaymentStatus::RequiresCapture { amount } else { 0 },
            authorization_expires_at: None,
            merchant_reference: None,
            description: None,
            customer_id: None,
            subscription_id: None,
            origin: PaymentOrigin::Payhub,
            metadata: Default::default(),
            return_url: None,
            cancel_url: None,
            provider_options: Default::default(),
            next_action: None,
            provider_refs: ProviderRefs::default(),
            failure: None,
            pending_reason: None,
            anomaly: None,
            disputed: false,
            created_at: now,
            updated_at: now,
            version: 1,
            next_check_at: None,
        }
    }

    fn facts(status: PaymentStatus) -> PaymentFacts {
        PaymentFacts {
            status,
            capture_id: None,
            captured: None,
            failure: None,
            authorization: None,
            pending_reason: None,
        }
    }

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::parse("USD").unwrap())
    }

    #[test]
    fn capture_completes_an_approved_payment_with_one_event() {
        let mut p = payment(PaymentStatus::RequiresAction, 1000);
        let f = PaymentFacts { capture_id: Some("CAP1".into()), ..facts(PaymentStatus::Succeeded) };
        let merge = p.merge(&f, &Cause::Api, fixtures::now());
        let Merge::Advanced { moved, .. } = merge else { panic!("{merge:?}") };
        assert_eq!(moved.event(), EventType::PaymentSucceeded);
        assert_eq!(p.status, PaymentStatus::Succeeded);
        assert_eq!(p.provider_refs.capture_id.as_deref(), Some("CAP1"));
    }

    #[test]
    fn a_late_pending_notice_never_moves_a_succeeded_payment_back() {
        let mut p = payment(PaymentStatus::Succeeded, 1000);
        assert_eq!(p.merge(&facts(PaymentStatus::Processing), &Cause::Api, fixtures::now()), Merge::Stale);
        assert_eq!(p.status, PaymentStatus::Succeeded);
    }

    #[test]
    fn a_refunded_payment_ignores_an_old_capture_completed_notice() {
        let mut p = payment(PaymentStatus::Refunded, 1000);
        assert_eq!(p.merge(&facts(PaymentStatus::Succeeded), &Cause::Api, fixtures::now()), Merge::Stale);
        assert_eq!(p.status, PaymentStatus::Refunded);
    }

    #[test]
    fn a_payment_paid_after_it_was_canceled_succeeds_and_is_flagged() {
        let mut p = payment(PaymentStatus::Canceled, 1000);
        let merge = p.merge(&facts(PaymentStatus::Succeeded), &Cause::Api, fixtures::now());
        let Merge::Advanced { anomaly: Some(anomaly), .. } = merge else { panic!("{merge:?}") };
        assert_eq!(anomaly.kind, AnomalyKind::PaidAfterCancel);
        assert_eq!(anomaly.excess, 1000);
        assert_eq!(p.status, PaymentStatus::Succeeded);
        assert_eq!(p.refundable().amount, 1000);
    }

    #[test]
    fn a_payment_paid_twice_records_what_was_received_and_flags_the_excess() {
        let mut p = payment(PaymentStatus::RequiresAction, 1000);
        let paid_once = PaymentFacts { captured: Some(usd(1000)), ..facts(PaymentStatus::Succeeded) };
        assert!(matches!(p.merge(&paid_once, &Cause::Api, fixtures::now()), Merge::Advanced { anomaly: None, .. }));
        let paid_twice = PaymentFacts { captured: Some(usd(1800)), ..facts(PaymentStatus::Succeeded) };
        let merge = p.merge(&paid_twice, &Cause::Api, fixtures::now());
        let Merge::Unchanged { learned: true, anomaly: Some(anomaly) } = merge else { panic!("{merge:?}") };
        assert_eq!((anomaly.kind, anomaly.excess), (AnomalyKind::Overpaid, 800));
        assert_eq!(p.amount_captured, 1800);
        // The excess is refundable; refunding it leaves the merchant's 1000.
        p.reserve_refund(usd(800), fixtures::now()).unwrap();
        assert!(p.settle_refund(800, true, &Cause::Api, fixtures::now()).is_none());
        assert_eq!(p.status, PaymentStatus::Succeeded);
    }

    #[test]
    fn success_claimed_for_a_failed_payment_is_a_conflict_not_a_guess() {
        let mut p = payment(PaymentStatus::Failed, 1000);
        let merge = p.merge(&facts(PaymentStatus::Succeeded), &Cause::Api, fixtures::now());
        assert_eq!(merge, Merge::Conflict { stored: PaymentStatus::Failed, claimed: PaymentStatus::Succeeded });
        assert_eq!(p.status, PaymentStatus::Failed);
    }

    #[test]
    fn refund_larger_than_remaining_is_rejected_with_the_remaining_amount() {
        let mut p = payment(PaymentStatus::Succeeded, 1000);
        p.reserve_refund(usd(600), fixtures::now()).unwrap();
        let err = p.reserve_refund(usd(500), fixtures::now()).unwrap_err();
        assert_eq!(err, RefundRejection::ExceedsRemaining { requested: usd(500), remaining: usd(400) });
    }

    #[test]
    fn a_failed_refund_releases_its_reservation() {
        let mut p = payment(PaymentStatus::Succeeded, 1000);
        p.reserve_refund(usd(1000), fixtures::now()).unwrap();
        assert_eq!(p.refundable().amount, 0);
        assert_eq!(p.settle_refund(1000, false, &Cause::Api, fixtures::now()), None);
        assert_eq!(p.refundable().amount, 1000);
    }

    #[test]
    fn refunds_completing_the_total_move_the_payment_to_refunded() {
        let mut p = payment(PaymentStatus::Succeeded, 1000);
        p.reserve_refund(usd(300), fixtures::now()).unwrap();
        p.reserve_refund(usd(700), fixtures::now()).unwrap();
        assert!(p.settle_refund(300, true, &Cause::Api, fixtures::now()).is_none());
        let t = p.settle_refund(700, true, &Cause::Api, fixtures::now()).unwrap();
        assert_eq!((t.transition().from.as_str(), t.transition().to.as_str()), ("succeeded", "refunded"));
        assert_eq!(t.event(), EventType::PaymentRefunded);
        assert_eq!(p.status, PaymentStatus::Refunded);
        assert_eq!(p.amount_refunded, 1000);
    }

    #[test]
    fn only_succeeded_payments_in_the_same_currency_can_be_refunded() {
        let mut p = payment(PaymentStatus::RequiresAction, 1000);
        assert_eq!(p.reserve_refund(usd(1), fixtures::now()), Err(RefundRejection::NotRefundable("requires_action")));
        let mut p = payment(PaymentStatus::Succeeded, 1000);
        let eur = Money::new(1, Currency::parse("EUR").unwrap());
        assert!(matches!(p.reserve_refund(eur, fixtures::now()), Err(RefundRejection::WrongCurrency { .. })));
        assert_eq!(p.reserve_refund(usd(0), fixtures::now()), Err(RefundRejection::NotPositive));
    }

    fn any_status() -> impl Strategy<Value = PaymentStatus> {
        prop::sample::select(PaymentStatus::ALL.to_vec())
    }

    proptest! {
        /// Whatever order notifications arrive in, the payment only ever moves forward.
        #[test]
        fn merging_any_sequence_of_facts_never_moves_backwards(sequence in prop::collection::vec(any_status(), 0..12)) {
            let mut p = payment(PaymentStatus::RequiresAction, 1000);
            for claimed in sequence {
                let before = p.status;
                let merge = p.merge(&facts(claimed), &Cause::Api, fixtures::now());
                prop_assert!(p.status.progress() >= before.progress());
                if before.is_final() && p.status != before {
                    // The one way out of a final state: paid after being canceled, flagged.
                    prop_assert!(matches!(before, PaymentStatus::Canceled | PaymentStatus::Expired));
                    prop_assert_eq!(p.status, PaymentStatus::Succeeded);
                    prop_assert!(p.anomaly.is_some());
                }
                if let Merge::Advanced { moved, .. } = merge {
                    prop_assert!(before.can_become(p.status));
                    prop_assert_eq!(&moved.transition().from, before.as_str());
                }
            }
        }

        /// Under any interleaving of refund requests and outcomes, refunded + pending never
        /// exceeds the captured amount.
        #[test]
        fn refunds_never_exceed_the_captured_amount(ops in prop::collection::vec((1i64..700, any::<bool>()), 0..20)) {
            let mut p = payment(PaymentStatus::Succeeded, 1000);
            let mut in_flight = Vec::new();
            for (amount, settle_one) in ops {
                if p.reserve_refund(usd(amount), fixtures::now()).is_ok() {
                    in_flight.push(amount);
                }
                if settle_one && let Some(a) = in_flight.pop() {
                    p.settle_refund(a, amount % 2 == 0, &Cause::Api, fixtures::now());
                }
                prop_assert!(p.amount_refunded + p.amount_refund_pending <= p.amount);
            }
        }
    }
}
