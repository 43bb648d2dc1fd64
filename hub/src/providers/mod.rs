//! Payment providers behind one trait. Each provider is one folder here (an adapter over its
//! standalone client crate) and one line where the hub builds its [`Providers`] from configuration; the rest of the hub only
//! speaks payhub's own vocabulary: payments, refunds, facts and notifications.

pub mod paypal;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use payhub_core::payment::{NextAction, Payment, PaymentFacts};
use payhub_core::refund::{Refund, RefundFacts};
use payhub_core::{Mode, Money, ProviderName};

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
    pub provider_payment_id: String,
    pub next_action: NextAction,
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

/// Why a notification was refused; `code` is stable and recorded with the notification.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct NotificationRejected {
    pub code: &'static str,
    pub detail: String,
    /// Whether the sender should try again later (our side failed, not theirs).
    pub transient: bool,
}

impl NotificationRejected {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            transient: false,
        }
    }
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
    /// Nothing to apply (an event type payhub does not act on): stored and acknowledged.
    Unhandled { reason: String },
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{0} did not answer in time")]
    Timeout(ProviderName),
    #[error("{provider} is unavailable: {detail}")]
    Unavailable {
        provider: ProviderName,
        detail: String,
    },
    #[error("{provider} refused the request: {message}")]
    Rejected {
        provider: ProviderName,
        /// The provider's own error code (e.g. PayPal's `ORDER_NOT_APPROVED`).
        code: String,
        message: String,
        debug_id: Option<String>,
    },
    #[error("{provider} answered in a way payhub cannot read: {detail}")]
    Protocol {
        provider: ProviderName,
        detail: String,
    },
}

impl ProviderError {
    /// The call may or may not have taken effect at the provider; only asking again tells.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(self, ProviderError::Rejected { .. })
    }

    pub fn provider_code(&self) -> Option<&str> {
        match self {
            ProviderError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    fn name(&self) -> ProviderName;

    /// The channels a payment through this provider may use; the first is the default.
    fn channels(&self) -> &'static [&'static str];

    /// ISO 4217 codes the provider accepts.
    fn currencies(&self) -> &'static [&'static str];

    /// Provider-specific limits on an amount (e.g. currencies PayPal takes in whole units only).
    fn check_amount(&self, _amount: &Money) -> Result<(), String> {
        Ok(())
    }

    async fn create_payment(
        &self,
        payment: &Payment,
        urls: &BuyerUrls,
    ) -> Result<Checkout, ProviderError>;

    async fn fetch_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError>;

    /// Takes the money of an approved payment. Idempotent: calling it again returns the same
    /// capture, never a second one.
    async fn capture_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError>;

    /// Asks the provider to refund. Idempotent per refund id, so the reconciler may call it
    /// again when the first answer was lost.
    async fn create_refund(
        &self,
        payment: &Payment,
        refund: &Refund,
    ) -> Result<RefundFacts, ProviderError>;

    async fn fetch_refund(
        &self,
        payment: &Payment,
        refund: &Refund,
    ) -> Result<RefundFacts, ProviderError>;

    /// Checks a notification's signature. `now` is the clock's time, against which certificate
    /// validity is judged.
    async fn verify_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedNotification, NotificationRejected>;

    /// Reads a verified, stored notification.
    fn interpret(
        &self,
        event_type: &str,
        body: &[u8],
    ) -> Result<Interpretation, NotificationRejected>;
}

/// The configured providers, per mode.
#[derive(Clone, Default)]
pub struct Providers {
    by_mode: HashMap<(Mode, ProviderName), Arc<dyn PaymentProvider>>,
}

impl Providers {
    pub fn insert(&mut self, mode: Mode, provider: Arc<dyn PaymentProvider>) {
        self.by_mode.insert((mode, provider.name()), provider);
    }

    pub fn get(&self, mode: Mode, name: ProviderName) -> Option<&Arc<dyn PaymentProvider>> {
        self.by_mode.get(&(mode, name))
    }

    /// The modes in which `name` is configured, live first.
    pub fn modes_of(&self, name: ProviderName) -> Vec<Mode> {
        [Mode::Live, Mode::Test]
            .into_iter()
            .filter(|m| self.by_mode.contains_key(&(*m, name)))
            .collect()
    }
}
