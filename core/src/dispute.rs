//! The Dispute resource: a buyer's case against a payment, opened at the provider.
//!
//! `needs_response → waiting_for_buyer | under_review → won | lost | accepted`, in whatever order
//! the provider moves it. payhub never decides a dispute: every move comes from the provider's
//! own account of it ([`DisputeFacts`]), applied monotonically — an older account than the one
//! applied changes nothing, and a decided case reopens only on appeal (a later stage).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::EventType;
use crate::id::{DisputeId, PaymentId};
use crate::mode::{Mode, ProviderName};
use crate::money::{Currency, Money};
use crate::payment::Payment;
use crate::transition::{Cause, Created, Moved, NONE, Transition};

macro_rules! snake_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|known| known.as_str() == value)
            }
        }
    };
}

snake_enum!(
    /// Whose move it is, or how the case ended.
    DisputeStatus {
        NeedsResponse => "needs_response",
        WaitingForBuyer => "waiting_for_buyer",
        UnderReview => "under_review",
        Won => "won",
        Lost => "lost",
        Accepted => "accepted",
    }
);

snake_enum!(
    /// How far the case has gone: a conversation, a claim the provider decides, an appeal.
    DisputeStage {
        Inquiry => "inquiry",
        Chargeback => "chargeback",
        Arbitration => "arbitration",
    }
);

snake_enum!(
    /// What the buyer says went wrong.
    DisputeReason {
        NotReceived => "not_received",
        NotAsDescribed => "not_as_described",
        Unauthorized => "unauthorized",
        CreditNotProcessed => "credit_not_processed",
        Duplicate => "duplicate",
        IncorrectAmount => "incorrect_amount",
        PaidByOtherMeans => "paid_by_other_means",
        CanceledRecurringBilling => "canceled_recurring_billing",
        ProblemWithRemittance => "problem_with_remittance",
        Other => "other",
    }
);

snake_enum!(
    /// Who wrote a message or made an offer.
    DisputeParty {
        Buyer => "buyer",
        Seller => "seller",
        Arbiter => "arbiter",
    }
);

snake_enum!(
    /// What the merchant may do about a dispute now, as the provider allows it.
    DisputeAction {
        Accept => "accept",
        Offer => "offer",
        Evidence => "evidence",
        Message => "message",
        AcknowledgeReturn => "acknowledge_return",
        Appeal => "appeal",
    }
);

snake_enum!(
    /// What a merchant may offer the buyer to settle a case.
    OfferKind {
        Refund => "refund",
        RefundWithReturn => "refund_with_return",
        RefundWithReplacement => "refund_with_replacement",
        ReplacementWithoutRefund => "replacement_without_refund",
    }
);

impl DisputeReason {
    /// The offers PayPal lets a merchant make on a case with this reason (its `offer_type`
    /// rules, which its `allowed_response_options.make_offer` repeats): a return only for goods
    /// not as described, a replacement only for goods; any other case takes a refund alone.
    pub fn allowed_offers(self) -> &'static [OfferKind] {
        use OfferKind::*;
        match self {
            DisputeReason::NotAsDescribed => {
                &[Refund, RefundWithReturn, RefundWithReplacement, ReplacementWithoutRefund]
            }
            DisputeReason::NotReceived => &[Refund, RefundWithReplacement, ReplacementWithoutRefund],
            _ => &[Refund],
        }
    }

    pub fn allows_offer(self, kind: OfferKind) -> bool {
        self.allowed_offers().contains(&kind)
    }
}

impl DisputeStatus {
    pub fn is_final(self) -> bool {
        matches!(self, DisputeStatus::Won | DisputeStatus::Lost | DisputeStatus::Accepted)
    }

    /// The event a move into this status announces.
    pub fn event_type(self) -> EventType {
        if self.is_final() { EventType::DisputeResolved } else { EventType::DisputeUpdated }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeMessage {
    pub from: DisputeParty,
    pub text: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeOffer {
    pub from: DisputeParty,
    /// `refund`, `refund_with_return`, `refund_with_replacement` or `replacement_without_refund`.
    pub kind: String,
    /// Minor units of the dispute's currency; none for a replacement.
    pub amount: Option<i64>,
    /// `proposed`, `accepted` or `denied`.
    pub status: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeEvidence {
    /// The provider's evidence type (`PROOF_OF_FULFILLMENT`, …).
    pub kind: String,
    pub note: Option<String>,
    /// File names sent with it.
    pub documents: Vec<String>,
    pub at: Option<DateTime<Utc>>,
}

/// How a decided case ended for the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeOutcome {
    /// `won`, `lost` or `accepted`.
    pub result: DisputeStatus,
    /// What went back to the buyer, in minor units.
    pub amount_refunded: i64,
    /// The provider's own outcome code (`RESOLVED_SELLER_FAVOUR`, …).
    pub provider_code: Option<String>,
}

/// A provider's account of a dispute, in payhub's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeFacts {
    pub provider_dispute_id: String,
    /// The provider's id of the disputed payment (PayPal: the capture or sale).
    pub transaction_id: Option<String>,
    pub reason: DisputeReason,
    pub stage: DisputeStage,
    pub status: DisputeStatus,
    pub amount: Money,
    pub response_due_at: Option<DateTime<Utc>>,
    pub messages: Vec<DisputeMessage>,
    pub offers: Vec<DisputeOffer>,
    pub evidence: Vec<DisputeEvidence>,
    pub amount_refunded: Option<i64>,
    pub provider_outcome: Option<String>,
    pub allowed_actions: Vec<DisputeAction>,
    /// When the provider last changed the case; an account older than the one applied is stale.
    pub provider_updated_at: Option<DateTime<Utc>>,
}

// A dispute as the merchant sees it. Its status, stage and the provider's account are moved only
// by [`Dispute::merge`]. (A plain comment: utoipa would publish a doc comment as the schema's
// description.)
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dispute {
    pub id: DisputeId,
    pub mode: Mode,
    pub provider: ProviderName,
    pub payment_id: PaymentId,
    /// The provider's case id (PayPal `PP-D-…`).
    pub provider_dispute_id: String,
    pub(crate) status: DisputeStatus,
    pub(crate) stage: DisputeStage,
    pub(crate) reason: DisputeReason,
    /// Minor units of `currency`: what the buyer disputes.
    pub amount: i64,
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
    /// When an unanswered case is decided against the merchant.
    pub(crate) response_due_at: Option<DateTime<Utc>>,
    /// The buyer's latest message, for a notification to quote.
    pub(crate) buyer_message: Option<String>,
    pub(crate) messages: Vec<DisputeMessage>,
    pub(crate) offers: Vec<DisputeOffer>,
    pub(crate) evidence: Vec<DisputeEvidence>,
    pub(crate) outcome: Option<DisputeOutcome>,
    /// What the merchant may do now (`POST /v1/disputes/{id}/{action}`).
    pub(crate) allowed_actions: Vec<DisputeAction>,
    pub created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    /// The due date the day-before reminder was sent for.
    #[serde(skip)]
    pub(crate) reminded_for: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(crate) provider_updated_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(crate) version: i64,
    /// When the reconciler should next ask the provider about this dispute.
    #[serde(skip)]
    pub next_check_at: Option<DateTime<Utc>>,
}

impl crate::event::Resource for Dispute {
    fn resource_id(&self) -> &str {
        self.id.as_str()
    }
    fn mode(&self) -> Mode {
        self.mode
    }
}

/// What applying an account did.
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeMerge {
    /// The status moved: record it (its event is `dispute.updated` or `dispute.resolved`).
    pub moved: Option<Moved>,
    /// Something the merchant sees changed without a status move (a message, an offer): announce
    /// `dispute.updated`.
    pub changed: bool,
    /// The merchant must act, by a new due date: announce `dispute.action_required`.
    pub action_required: bool,
}

impl DisputeMerge {
    const UNCHANGED: DisputeMerge = DisputeMerge { moved: None, changed: false, action_required: false };
}

/// How long before the due date the merchant is reminded of an unanswered case.
pub const REMINDER_BEFORE_DUE: Duration = Duration::days(1);

impl Dispute {
    /// A dispute payhub just learned of, about `payment`.
    pub fn open(
        id: DisputeId,
        payment: &Payment,
        facts: &DisputeFacts,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Created<Dispute> {
        let mut dispute = Dispute {
            id,
            mode: payment.mode,
            provider: payment.provider,
            payment_id: payment.id.clone(),
            provider_dispute_id: facts.provider_dispute_id.clone(),
            status: facts.status,
            stage: facts.stage,
            reason: facts.reason,
            amount: facts.amount.amount,
            currency: facts.amount.currency,
            response_due_at: None,
            buyer_message: None,
            messages: Vec::new(),
            offers: Vec::new(),
            evidence: Vec::new(),
            outcome: None,
            allowed_actions: Vec::new(),
            created_at: now,
            updated_at: now,
            reminded_for: None,
            provider_updated_at: None,
            version: 1,
            next_check_at: None,
        };
        dispute.take_account(facts);
        let transition = Transition::new(dispute.id.as_str(), NONE, dispute.status.as_str(), cause.clone(), now);
        Created::with_transition(dispute, transition, EventType::DisputeCreated)
    }

    pub fn status(&self) -> DisputeStatus {
        self.status
    }

    pub fn stage(&self) -> DisputeStage {
        self.stage
    }

    pub fn reason(&self) -> DisputeReason {
        self.reason
    }

    pub fn response_due_at(&self) -> Option<DateTime<Utc>> {
        self.response_due_at
    }

    pub fn messages(&self) -> &[DisputeMessage] {
        &self.messages
    }

    pub fn offers(&self) -> &[DisputeOffer] {
        &self.offers
    }

    pub fn evidence(&self) -> &[DisputeEvidence] {
        &self.evidence
    }

    pub fn outcome(&self) -> Option<&DisputeOutcome> {
        self.outcome.as_ref()
    }

    pub fn allowed_actions(&self) -> &[DisputeAction] {
        &self.allowed_actions
    }

    pub fn allows(&self, action: DisputeAction) -> bool {
        self.allowed_actions.contains(&action)
    }

    pub fn is_open(&self) -> bool {
        !self.status.is_final()
    }

    pub fn reminded_for(&self) -> Option<DateTime<Utc>> {
        self.reminded_for
    }

    pub fn provider_updated_at(&self) -> Option<DateTime<Utc>> {
        self.provider_updated_at
    }

    pub fn money(&self) -> Money {
        Money::new(self.amount, self.currency)
    }

    /// The account this dispute holds, as the provider last gave it: the base of an account a
    /// provider states only in part (PayPal's canceled reversal says who won, not what was claimed).
    pub fn account(&self) -> DisputeFacts {
        DisputeFacts {
            provider_dispute_id: self.provider_dispute_id.clone(),
            transaction_id: None,
            reason: self.reason,
            stage: self.stage,
            status: self.status,
            amount: self.money(),
            response_due_at: self.response_due_at,
            messages: self.messages.clone(),
            offers: self.offers.clone(),
            evidence: self.evidence.clone(),
            amount_refunded: self.outcome.as_ref().map(|outcome| outcome.amount_refunded),
            provider_outcome: self.outcome.as_ref().and_then(|outcome| outcome.provider_code.clone()),
            allowed_actions: self.allowed_actions.clone(),
            provider_updated_at: self.provider_updated_at,
        }
    }

    /// Whether a new open case asks the merchant to act (announce `dispute.action_required`).
    pub fn needs_response(&self) -> bool {
        self.status == DisputeStatus::NeedsResponse
    }

    /// Copies the provider's account of everything but the status; says whether any of it changed.
    fn take_account(&mut self, facts: &DisputeFacts) -> bool {
        let outcome = facts.status.is_final().then(|| DisputeOutcome {
            result: facts.status,
            amount_refunded: facts.amount_refunded.unwrap_or(0),
            provider_code: facts.provider_outcome.clone(),
        });
        let buyer_message = facts
            .messages
            .iter()
            .rev()
            .find(|message| message.from == DisputeParty::Buyer)
            .map(|message| message.text.clone());
        let changed = self.stage != facts.stage
            || self.reason != facts.reason
            || self.amount != facts.amount.amount
            || self.response_due_at != facts.response_due_at
            || self.messages != facts.messages
            || self.offers != facts.offers
            || self.evidence != facts.evidence
            || self.outcome != outcome
            || self.allowed_actions != facts.allowed_actions;
        self.stage = facts.stage;
        self.reason = facts.reason;
        self.amount = facts.amount.amount;
        self.response_due_at = facts.response_due_at;
        self.buyer_message = buyer_message;
        self.messages = facts.messages.clone();
        self.offers = facts.offers.clone();
        self.evidence = facts.evidence.clone();
        self.outcome = outcome;
        self.allowed_actions = facts.allowed_actions.clone();
        if facts.provider_updated_at.is_some() {
            self.provider_updated_at = facts.provider_updated_at;
        }
        changed
    }

    /// Applies the provider's account. A stale account (older than the one applied) changes
    /// nothing; a decided case moves again only on appeal, to a later stage.
    pub fn merge(&mut self, facts: &DisputeFacts, cause: &Cause, now: DateTime<Utc>) -> DisputeMerge {
        if let (Some(applied), Some(told)) = (self.provider_updated_at, facts.provider_updated_at)
            && told < applied
        {
            return DisputeMerge::UNCHANGED;
        }
        let (current, claimed) = (self.status, facts.status);
        let reopened_on_appeal = stage_rank(facts.stage) > stage_rank(self.stage);
        if current.is_final() && current != claimed && !reopened_on_appeal {
            return DisputeMerge::UNCHANGED;
        }
        let due_before = self.response_due_at;
        let changed = self.take_account(facts);
        if !changed && current == claimed {
            return DisputeMerge::UNCHANGED;
        }
        self.updated_at = now;
        let action_required =
            claimed == DisputeStatus::NeedsResponse && (current != claimed || due_before != self.response_due_at);
        if current == claimed {
            return DisputeMerge { moved: None, changed: true, action_required };
        }
        self.status = claimed;
        let transition = Transition::new(self.id.as_str(), current.as_str(), claimed.as_str(), cause.clone(), now);
        DisputeMerge { moved: Some(Moved::new(transition, claimed.event_type())), changed: false, action_required }
    }

    /// The day-before reminder of an unanswered case, once per due date: true when it is due now
    /// (announce `dispute.action_required` again).
    pub fn remind(&mut self, now: DateTime<Utc>) -> bool {
        let Some(due) = self.response_due_at.filter(|_| self.needs_response()) else {
            return false;
        };
        if now < due - REMINDER_BEFORE_DUE || now >= due || self.reminded_for == Some(due) {
            return false;
        }
        self.reminded_for = Some(due);
        self.updated_at = now;
        true
    }
}

fn stage_rank(stage: DisputeStage) -> u8 {
    match stage {
        DisputeStage::Inquiry => 0,
        DisputeStage::Chargeback => 1,
        DisputeStage::Arbitration => 2,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::fixtures;
    use crate::payment::PaymentStatus;
    use crate::payment::tests::payment;

    #[test]
    fn a_return_is_offered_only_for_goods_not_as_described_and_a_replacement_only_for_goods() {
        use OfferKind::*;
        for kind in OfferKind::ALL.iter().copied() {
            assert!(DisputeReason::NotAsDescribed.allows_offer(kind), "{kind:?}");
            assert_eq!(DisputeReason::NotReceived.allows_offer(kind), kind != RefundWithReturn, "{kind:?}");
        }
        for reason in DisputeReason::ALL.iter().copied() {
            assert!(reason.allows_offer(Refund), "a refund settles any case: {reason:?}");
            if !matches!(reason, DisputeReason::NotAsDescribed | DisputeReason::NotReceived) {
                assert_eq!(reason.allowed_offers(), [Refund], "{reason:?}");
            }
        }
    }

    fn facts(status: DisputeStatus, stage: DisputeStage, updated_minutes: i64) -> DisputeFacts {
        let now = fixtures::now();
        DisputeFacts {
            provider_dispute_id: "PP-D-1".into(),
            transaction_id: Some("CAP1".into()),
            reason: DisputeReason::NotReceived,
            stage,
            status,
            amount: Money::new(1_000, Currency::parse("USD").unwrap()),
            response_due_at: (status == DisputeStatus::NeedsResponse).then(|| now + Duration::days(10)),
            messages: vec![DisputeMessage { from: DisputeParty::Buyer, text: "Where is it?".into(), at: Some(now) }],
            offers: Vec::new(),
            evidence: Vec::new(),
            amount_refunded: status.is_final().then_some(0),
            provider_outcome: None,
            allowed_actions: Vec::new(),
            provider_updated_at: Some(now + Duration::minutes(updated_minutes)),
        }
    }

    fn opened(status: DisputeStatus) -> Dispute {
        let now = fixtures::now();
        let paid = payment(PaymentStatus::Succeeded, 1_000);
        let id = DisputeId::generate(&fixtures::ids(), now);
        Dispute::open(id, &paid, &facts(status, DisputeStage::Inquiry, 0), &Cause::Reconciler, now).into_resource()
    }

    #[test]
    fn a_new_case_quotes_the_buyer_and_is_created_from_none() {
        let now = fixtures::now();
        let paid = payment(PaymentStatus::Succeeded, 1_000);
        let id = DisputeId::generate(&fixtures::ids(), now);
        let created = Dispute::open(
            id,
            &paid,
            &facts(DisputeStatus::NeedsResponse, DisputeStage::Inquiry, 0),
            &Cause::Reconciler,
            now,
        );
        assert_eq!(created.event(), EventType::DisputeCreated);
        assert_eq!(created.transition().unwrap().from, "none");
        assert_eq!(created.resource().buyer_message.as_deref(), Some("Where is it?"));
        assert!(created.resource().needs_response());
    }

    #[test]
    fn a_decision_resolves_and_an_older_account_after_it_changes_nothing() {
        let mut dispute = opened(DisputeStatus::NeedsResponse);
        let now = fixtures::now();
        let won = dispute.merge(&facts(DisputeStatus::Won, DisputeStage::Chargeback, 10), &Cause::Reconciler, now);
        assert_eq!(won.moved.unwrap().event(), EventType::DisputeResolved);
        assert_eq!(dispute.outcome().unwrap().result, DisputeStatus::Won);
        let stale =
            dispute.merge(&facts(DisputeStatus::UnderReview, DisputeStage::Arbitration, 5), &Cause::Reconciler, now);
        assert_eq!(stale, DisputeMerge::UNCHANGED);
        assert_eq!(dispute.status(), DisputeStatus::Won);
    }

    #[test]
    fn a_lost_case_reopens_only_on_appeal() {
        let mut dispute = opened(DisputeStatus::NeedsResponse);
        let now = fixtures::now();
        let _ = dispute.merge(&facts(DisputeStatus::Lost, DisputeStage::Chargeback, 1), &Cause::Reconciler, now);
        let same_stage =
            dispute.merge(&facts(DisputeStatus::UnderReview, DisputeStage::Chargeback, 2), &Cause::Reconciler, now);
        assert_eq!(same_stage, DisputeMerge::UNCHANGED);
        let appealed =
            dispute.merge(&facts(DisputeStatus::UnderReview, DisputeStage::Arbitration, 3), &Cause::Reconciler, now);
        assert_eq!(appealed.moved.unwrap().event(), EventType::DisputeUpdated);
        assert_eq!(dispute.status(), DisputeStatus::UnderReview);
        assert_eq!(dispute.outcome(), None);
    }

    #[test]
    fn the_reminder_comes_once_in_the_last_day_before_the_due_date() {
        let mut dispute = opened(DisputeStatus::NeedsResponse);
        let due = dispute.response_due_at().unwrap();
        assert!(!dispute.remind(due - Duration::days(2)));
        assert!(dispute.remind(due - Duration::hours(20)));
        assert!(!dispute.remind(due - Duration::hours(10)), "once per due date");
        assert!(!dispute.remind(due + Duration::hours(1)));
    }

    fn any_status() -> impl Strategy<Value = DisputeStatus> {
        proptest::sample::select(DisputeStatus::ALL.to_vec())
    }

    fn any_stage() -> impl Strategy<Value = DisputeStage> {
        proptest::sample::select(DisputeStage::ALL.to_vec())
    }

    proptest! {
        /// Whatever accounts arrive, in whatever order: every status move is recorded as one
        /// transition from the status held to the status told, a decided case changes only by
        /// going to a later stage, and an account older than the applied one changes nothing.
        #[test]
        fn merges_move_only_as_the_provider_says_and_never_backwards(
            accounts in proptest::collection::vec((any_status(), any_stage(), 0i64..50), 1..20)
        ) {
            let mut dispute = opened(DisputeStatus::NeedsResponse);
            let now = fixtures::now();
            for (status, stage, minute) in accounts {
                let before = dispute.clone();
                let merge = dispute.merge(&facts(status, stage, minute), &Cause::Reconciler, now);
                let stale = before.provider_updated_at.is_some_and(|at| now + Duration::minutes(minute) < at);
                if stale {
                    prop_assert_eq!(&dispute, &before);
                    continue;
                }
                if let Some(moved) = &merge.moved {
                    prop_assert_eq!(&moved.transition().from, before.status.as_str());
                    prop_assert_eq!(&moved.transition().to, status.as_str());
                    prop_assert_eq!(moved.event(), status.event_type());
                    if before.status.is_final() {
                        prop_assert!(stage_rank(stage) > stage_rank(before.stage), "a decided case reopens only on appeal");
                    }
                } else {
                    prop_assert_eq!(dispute.status, before.status);
                }
                prop_assert_eq!(dispute.outcome.is_some(), dispute.status.is_final());
            }
        }
    }
}
