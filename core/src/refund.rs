//! The Refund resource: `pending → succeeded | failed`.
//!
//! `pending` is a normal state that can last days (refunds to bank cards); the amount stays
//! reserved on the payment until the provider settles it either way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::EventType;
use crate::id::{PaymentId, RefundId};
use crate::mode::Mode;
use crate::money::{Currency, Money};
use crate::payment::{Failure, Payment, RefundDetails};
use crate::transition::{Cause, Created, Moved, NONE, Transition};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [RefundStatus::Pending, RefundStatus::Succeeded, RefundStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn is_final(self) -> bool {
        self != RefundStatus::Pending
    }

    pub fn event_type(self) -> EventType {
        match self {
            RefundStatus::Pending => EventType::RefundCreated,
            RefundStatus::Succeeded => EventType::RefundSucceeded,
            RefundStatus::Failed => EventType::RefundFailed,
        }
    }
}

/// Why a refund was made, shown to the buyer where the provider supports it: at most 255
/// characters, PayPal's limit for `note_to_payer`. A blank reason is not refused because it
/// never was, although PayPal refuses an empty note: refusing it is a change to the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReason(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {} characters", RefundReason::MAX)]
pub struct ReasonTooLong;

impl RefundReason {
    const MAX: usize = 255;

    pub fn parse(text: String) -> Result<Self, ReasonTooLong> {
        if text.chars().count() > Self::MAX { Err(ReasonTooLong) } else { Ok(Self(text)) }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

// A refund as the merchant sees it. Its status, failure and version are moved only by
// [`Refund::merge`]; refunds are created through the payment they refund
// ([`Payment::refund`](crate::payment::Payment::refund)), which reserves their amount.
// (A plain comment: utoipa would publish a doc comment as the schema's description.)
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Refund {
    pub id: RefundId,
    pub mode: Mode,
    pub payment_id: PaymentId,
    pub(crate) status: RefundStatus,
    pub amount: i64,
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Provider-specific choices (Ping++ refund mode, royalty users, …).
    #[serde(default)]
    pub provider_options: crate::options::RefundOptions,
    /// The provider's id for this refund, once the provider has accepted it.
    pub(crate) provider_refund_id: Option<String>,
    pub(crate) failure: Option<Failure>,
    pub created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) version: i64,
    #[serde(skip)]
    pub next_check_at: Option<DateTime<Utc>>,
}

/// A provider's statement about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFacts {
    pub status: RefundStatus,
    pub provider_refund_id: Option<String>,
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefundMerge {
    /// The refund settled; the caller settles the payment's reservation in the same transaction.
    Settled {
        moved: Moved,
    },
    Unchanged {
        learned_ids: bool,
    },
    /// A final refund cannot change its outcome (succeeded money does not come back as failed).
    Conflict {
        stored: RefundStatus,
        claimed: RefundStatus,
    },
}

impl crate::event::Resource for Refund {
    fn resource_id(&self) -> &str {
        self.id.as_str()
    }
    fn mode(&self) -> Mode {
        self.mode
    }
}

impl Refund {
    /// A refund payhub asks the provider for; its amount is already reserved on `payment`.
    pub(crate) fn pending(
        id: RefundId,
        payment: &Payment,
        amount: Money,
        details: RefundDetails,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Created<Refund> {
        Self::new(id, payment, RefundStatus::Pending, amount, details, None, now).created(cause)
    }

    /// A refund someone made at the provider, outside payhub: it is news only once it succeeded.
    pub(crate) fn made_at_provider(
        id: RefundId,
        payment: &Payment,
        provider_refund_id: &str,
        amount: Money,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Created<Refund> {
        let details =
            RefundDetails { reason: Some("refunded at the provider, outside payhub".into()), ..Default::default() };
        let provider_refund_id = Some(provider_refund_id.to_owned());
        Self::new(id, payment, RefundStatus::Succeeded, amount, details, provider_refund_id, now).created(cause)
    }

    fn new(
        id: RefundId,
        payment: &Payment,
        status: RefundStatus,
        amount: Money,
        details: RefundDetails,
        provider_refund_id: Option<String>,
        now: DateTime<Utc>,
    ) -> Refund {
        Refund {
            id,
            mode: payment.mode,
            payment_id: payment.id.clone(),
            status,
            amount: amount.amount,
            currency: amount.currency,
            reason: details.reason,
            metadata: details.metadata,
            provider_options: details.provider_options,
            provider_refund_id,
            failure: None,
            created_at: now,
            updated_at: now,
            version: 1,
            next_check_at: None,
        }
    }

    fn created(self, cause: &Cause) -> Created<Refund> {
        let transition = Transition::new(self.id.as_str(), NONE, self.status.as_str(), cause.clone(), self.created_at);
        let event = self.status.event_type();
        Created::with_transition(self, transition, event)
    }

    pub fn status(&self) -> RefundStatus {
        self.status
    }

    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Learned from the provider's answer or notification, never set by hand.
    pub fn provider_refund_id(&self) -> Option<&str> {
        self.provider_refund_id.as_deref()
    }

    pub fn money(&self) -> Money {
        Money::new(self.amount, self.currency)
    }

    pub fn merge(&mut self, facts: &RefundFacts, cause: &Cause, now: DateTime<Utc>) -> RefundMerge {
        let learned_ids = self.provider_refund_id.is_none() && facts.provider_refund_id.is_some();
        if learned_ids {
            self.provider_refund_id = facts.provider_refund_id.clone();
            self.updated_at = now;
        }
        let (current, claimed) = (self.status, facts.status);
        if current == claimed || claimed == RefundStatus::Pending {
            return RefundMerge::Unchanged { learned_ids };
        }
        if current.is_final() {
            return RefundMerge::Conflict { stored: current, claimed };
        }
        self.status = claimed;
        if claimed == RefundStatus::Failed {
            self.failure = facts.failure.clone();
        }
        self.next_check_at = None;
        self.updated_at = now;
        let transition = Transition::new(self.id.as_str(), current.as_str(), claimed.as_str(), cause.clone(), now);
        RefundMerge::Settled { moved: Moved::new(transition, claimed.event_type()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn a_reason_may_be_blank_but_not_longer_than_255_characters() {
        assert_eq!(RefundReason::parse(String::new()).map(RefundReason::into_string), Ok(String::new()));
        assert!(RefundReason::parse("é".repeat(255)).is_ok());
        assert_eq!(RefundReason::parse("x".repeat(256)), Err(ReasonTooLong));
        assert_eq!(ReasonTooLong.to_string(), "must be at most 255 characters");
    }

    fn refund(status: RefundStatus) -> Refund {
        let now = fixtures::now();
        Refund {
            id: RefundId::generate(&fixtures::ids(), now),
            mode: Mode::Test,
            payment_id: PaymentId::generate(&fixtures::ids(), now),
            status,
            amount: 500,
            currency: Currency::parse("USD").unwrap(),
            reason: None,
            metadata: Default::default(),
            provider_options: Default::default(),
            provider_refund_id: None,
            failure: None,
            created_at: now,
            updated_at: now,
            version: 1,
            next_check_at: Some(now),
        }
    }

    fn facts(status: RefundStatus) -> RefundFacts {
        RefundFacts { status, provider_refund_id: Some("R1".into()), failure: None }
    }

    #[test]
    fn a_pending_refund_settles_once() {
        let mut r = refund(RefundStatus::Pending);
        let merge = r.merge(&facts(RefundStatus::Succeeded), &Cause::Reconciler, fixtures::now());
        let RefundMerge::Settled { moved } = merge else { panic!("{merge:?}") };
        assert_eq!(moved.event(), EventType::RefundSucceeded);
        assert_eq!(r.next_check_at, None);
        let again = r.merge(&facts(RefundStatus::Succeeded), &Cause::Reconciler, fixtures::now());
        assert_eq!(again, RefundMerge::Unchanged { learned_ids: false });
    }

    #[test]
    fn a_pending_notice_after_success_changes_nothing() {
        let mut r = refund(RefundStatus::Succeeded);
        let merge = r.merge(&facts(RefundStatus::Pending), &Cause::Reconciler, fixtures::now());
        assert_eq!(merge, RefundMerge::Unchanged { learned_ids: true });
        assert_eq!(r.status, RefundStatus::Succeeded);
    }

    #[test]
    fn a_succeeded_refund_never_becomes_failed() {
        let mut r = refund(RefundStatus::Succeeded);
        let merge = r.merge(&facts(RefundStatus::Failed), &Cause::Reconciler, fixtures::now());
        assert!(matches!(merge, RefundMerge::Conflict { .. }));
        assert_eq!(r.status, RefundStatus::Succeeded);
    }
}
