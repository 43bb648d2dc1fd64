//! A dispute as the simulator keeps it, and the moves its state machine allows. Every move
//! takes the time it happens at; none reads the clock.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::super::amount::Amount;
use crate::wire::wire_enum;

/// How long the seller has to answer each time PayPal waits for them.
pub const SELLER_RESPONSE_WINDOW: Duration = Duration::days(10);
/// How long the buyer has to answer a claim (an inquiry waits for the buyer until it escalates).
pub const BUYER_RESPONSE_WINDOW: Duration = Duration::days(10);
/// An inquiry not settled within this escalates to a claim (PayPal's 20 days).
pub const INQUIRY_WINDOW: Duration = Duration::days(20);
/// How long a claim decided for the buyer may be appealed.
pub const APPEAL_WINDOW: Duration = Duration::days(10);

wire_enum!(parsed Reason {
    NotReceived => "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
    NotAsDescribed => "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
    Unauthorised => "UNAUTHORISED",
    CreditNotProcessed => "CREDIT_NOT_PROCESSED",
    DuplicateTransaction => "DUPLICATE_TRANSACTION",
    IncorrectAmount => "INCORRECT_AMOUNT",
    PaymentByOtherMeans => "PAYMENT_BY_OTHER_MEANS",
    CanceledRecurringBilling => "CANCELED_RECURRING_BILLING",
    ProblemWithRemittance => "PROBLEM_WITH_REMITTANCE",
    Other => "OTHER",
});

wire_enum!(DisputeStatus {
    WaitingForSeller => "WAITING_FOR_SELLER_RESPONSE",
    WaitingForBuyer => "WAITING_FOR_BUYER_RESPONSE",
    UnderReview => "UNDER_REVIEW",
    Resolved => "RESOLVED",
});

wire_enum!(parsed Stage {
    Inquiry => "INQUIRY",
    Chargeback => "CHARGEBACK",
    PreArbitration => "PRE_ARBITRATION",
    Arbitration => "ARBITRATION",
});

wire_enum!(parsed DisputeState {
    OpenInquiries => "OPEN_INQUIRIES",
    RequiredAction => "REQUIRED_ACTION",
    RequiredOtherPartyAction => "REQUIRED_OTHER_PARTY_ACTION",
    UnderPaypalReview => "UNDER_PAYPAL_REVIEW",
    Appealable => "APPEALABLE",
    Resolved => "RESOLVED",
});

wire_enum!(Outcome {
    BuyerFavour => "RESOLVED_BUYER_FAVOUR",
    SellerFavour => "RESOLVED_SELLER_FAVOUR",
    Accepted => "ACCEPTED",
});

wire_enum!(parsed OfferType {
    Refund => "REFUND",
    RefundWithReturn => "REFUND_WITH_RETURN",
    RefundWithReplacement => "REFUND_WITH_REPLACEMENT",
    ReplacementWithoutRefund => "REPLACEMENT_WITHOUT_REFUND",
});

wire_enum!(parsed AcceptClaimType {
    Refund => "REFUND",
    RefundWithReturn => "REFUND_WITH_RETURN",
    PartialRefund => "PARTIAL_REFUND",
    RefundWithReturnShipmentLabel => "REFUND_WITH_RETURN_SHIPMENT_LABEL",
});

wire_enum!(parsed AcknowledgementType {
    ItemReceived => "ITEM_RECEIVED",
    ItemNotReceived => "ITEM_NOT_RECEIVED",
    Damaged => "DAMAGED",
    EmptyPackageOrDifferent => "EMPTY_PACKAGE_OR_DIFFERENT",
    MissingItems => "MISSING_ITEMS",
});

wire_enum!(Party { Buyer => "BUYER", Seller => "SELLER" });

wire_enum!(OfferEventType { Proposed => "PROPOSED", Accepted => "ACCEPTED", Denied => "DENIED" });

/// The payment a dispute is about: a v2 capture or a subscription's v1 sale.
#[derive(Clone)]
pub struct DisputedTransaction {
    pub id: String,
    pub gross: Amount,
    pub invoice_number: Option<String>,
    pub custom: Option<String>,
    pub create_time: DateTime<Utc>,
}

/// A file received with an action: only its name is kept.
#[derive(Clone)]
pub struct Document {
    pub name: String,
}

pub struct Message {
    pub posted_by: Party,
    pub time: DateTime<Utc>,
    pub content: String,
    pub documents: Vec<Document>,
}

pub struct Evidence {
    pub evidence_type: String,
    pub evidence_info: Option<Value>,
    pub notes: Option<String>,
    pub documents: Vec<Document>,
    pub date: DateTime<Utc>,
    pub stage: Stage,
}

pub struct SupportingInfo {
    pub notes: Option<String>,
    pub documents: Vec<Document>,
    pub time: DateTime<Utc>,
    pub stage: Stage,
}

pub struct OfferEvent {
    pub time: DateTime<Utc>,
    pub actor: Party,
    pub event_type: OfferEventType,
    pub offer_type: OfferType,
    pub amount: Option<Amount>,
    pub notes: Option<String>,
    pub stage: Stage,
}

pub struct Adjudication {
    pub kind: &'static str,
    pub time: DateTime<Utc>,
    pub reason: &'static str,
    pub stage: Stage,
}

pub struct MoneyMovement {
    pub amount: Amount,
    pub time: DateTime<Utc>,
}

pub struct CommunicationDetails {
    pub email: Option<String>,
    pub note: Option<String>,
    pub time: DateTime<Utc>,
}

pub struct Dispute {
    pub id: String,
    pub client_id: String,
    pub transaction: DisputedTransaction,
    pub reason: Reason,
    pub amount: Amount,
    pub stage: Stage,
    pub status: DisputeStatus,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub seller_due: Option<DateTime<Utc>>,
    pub buyer_due: Option<DateTime<Utc>>,
    pub messages: Vec<Message>,
    pub evidences: Vec<Evidence>,
    pub supporting_info: Vec<SupportingInfo>,
    pub offers: Vec<OfferEvent>,
    /// The buyer accepted a refund with return and is sending the item back.
    pub return_pending: bool,
    pub outcome: Option<(Outcome, Amount)>,
    pub adjudications: Vec<Adjudication>,
    pub money_movements: Vec<MoneyMovement>,
    pub communication: Option<CommunicationDetails>,
    pub appeal_until: Option<DateTime<Utc>>,
}

/// What a move did, so the caller raises the right webhook and schedules the right check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Updated,
    Resolved,
}

impl Dispute {
    pub fn is_open(&self) -> bool {
        self.status != DisputeStatus::Resolved
    }

    pub fn inquiry_ends(&self) -> DateTime<Utc> {
        self.create_time + INQUIRY_WINDOW
    }

    /// The `dispute_state` a list filter sees.
    pub fn state(&self, now: DateTime<Utc>) -> DisputeState {
        match self.status {
            DisputeStatus::WaitingForSeller => DisputeState::RequiredAction,
            DisputeStatus::WaitingForBuyer => DisputeState::RequiredOtherPartyAction,
            DisputeStatus::UnderReview => DisputeState::UnderPaypalReview,
            DisputeStatus::Resolved if self.appealable(now) => DisputeState::Appealable,
            DisputeStatus::Resolved => DisputeState::Resolved,
        }
    }

    /// Whether a `dispute_state` filter value matches: `OPEN_INQUIRIES` is every unresolved
    /// inquiry, whoever it waits for.
    pub fn matches_state(&self, wanted: DisputeState, now: DateTime<Utc>) -> bool {
        match wanted {
            DisputeState::OpenInquiries => self.is_open() && self.stage == Stage::Inquiry,
            other => self.state(now) == other,
        }
    }

    pub fn appealable(&self, now: DateTime<Utc>) -> bool {
        self.appeal_until.is_some_and(|until| now < until)
    }

    /// The buyer's offer that waits for an answer.
    pub fn pending_offer(&self) -> Option<&OfferEvent> {
        self.offers.last().filter(|offer| offer.event_type == OfferEventType::Proposed)
    }

    /// What the seller may do now, by HATEOAS `rel`; links and action checks both read this.
    pub fn seller_actions(&self, now: DateTime<Utc>) -> Vec<SellerAction> {
        use SellerAction::*;
        let inquiry = self.stage == Stage::Inquiry;
        match self.status {
            DisputeStatus::WaitingForSeller if self.return_pending => vec![AcknowledgeReturnItem, AcceptClaim],
            DisputeStatus::WaitingForSeller if inquiry => {
                vec![AcceptClaim, ProvideEvidence, SendMessage, MakeOffer, Escalate]
            }
            DisputeStatus::WaitingForSeller => vec![AcceptClaim, ProvideEvidence],
            DisputeStatus::WaitingForBuyer if inquiry && self.pending_offer().is_some() => {
                vec![AcceptClaim, SendMessage, Escalate]
            }
            DisputeStatus::WaitingForBuyer if inquiry => vec![AcceptClaim, SendMessage, MakeOffer, Escalate],
            DisputeStatus::WaitingForBuyer => vec![AcceptClaim],
            DisputeStatus::UnderReview => vec![AcceptClaim, ProvideSupportingInfo],
            DisputeStatus::Resolved if self.appealable(now) => vec![Appeal],
            DisputeStatus::Resolved => Vec::new(),
        }
    }

    /// The seller's turn ends the other party's wait and (re)starts the seller's own clock.
    fn wait_for_seller(&mut self, now: DateTime<Utc>) {
        self.status = DisputeStatus::WaitingForSeller;
        let due = now + SELLER_RESPONSE_WINDOW;
        // An inquiry's answer is due before it would escalate.
        self.seller_due = Some(if self.stage == Stage::Inquiry { due.min(self.inquiry_ends()) } else { due });
        self.buyer_due = None;
    }

    fn wait_for_buyer(&mut self, now: DateTime<Utc>) {
        self.status = DisputeStatus::WaitingForBuyer;
        self.seller_due = None;
        self.buyer_due =
            Some(if self.stage == Stage::Inquiry { self.inquiry_ends() } else { now + BUYER_RESPONSE_WINDOW });
    }

    fn under_review(&mut self) {
        self.status = DisputeStatus::UnderReview;
        self.seller_due = None;
        self.buyer_due = None;
    }

    /// A newly opened dispute waits for the seller.
    pub fn open(mut self, now: DateTime<Utc>) -> Self {
        self.wait_for_seller(now);
        self
    }

    pub fn seller_messaged(&mut self, now: DateTime<Utc>) -> Moved {
        if self.status == DisputeStatus::WaitingForSeller {
            self.wait_for_buyer(now);
        }
        Moved::Updated
    }

    pub fn offer_made(&mut self, now: DateTime<Utc>) -> Moved {
        self.wait_for_buyer(now);
        Moved::Updated
    }

    pub fn evidence_provided(&mut self) -> Moved {
        self.under_review();
        Moved::Updated
    }

    /// The seller (or the buyer, or PayPal at the end of the inquiry) takes the case to a claim.
    pub fn escalate(&mut self, by_buyer: bool, now: DateTime<Utc>) -> Moved {
        self.stage = Stage::Chargeback;
        if by_buyer {
            self.wait_for_seller(now);
        } else {
            self.under_review();
        }
        Moved::Updated
    }

    pub fn offer_accepted(&mut self, offer: &OfferEvent, now: DateTime<Utc>) -> Moved {
        if offer.offer_type == OfferType::RefundWithReturn {
            self.return_pending = true;
            self.wait_for_seller(now);
            return Moved::Updated;
        }
        let refunded = offer.amount.unwrap_or(self.amount.with_minor(0));
        self.resolve(Outcome::BuyerFavour, refunded, now)
    }

    /// The buyer denied an offer or wrote: the inquiry is the seller's turn again.
    pub fn buyer_answered(&mut self, now: DateTime<Utc>) -> Moved {
        self.wait_for_seller(now);
        Moved::Updated
    }

    pub fn return_acknowledged(&mut self, received: bool, now: DateTime<Utc>) -> Moved {
        self.return_pending = false;
        if received {
            let refunded = self.offers.iter().rev().find_map(|offer| offer.amount).unwrap_or(self.amount);
            return self.resolve(Outcome::BuyerFavour, refunded, now);
        }
        // A return the seller disputes is PayPal's to decide, as a claim.
        if self.stage == Stage::Inquiry {
            self.stage = Stage::Chargeback;
        }
        self.under_review();
        Moved::Updated
    }

    pub fn claim_accepted(&mut self, refunded: Amount, now: DateTime<Utc>) -> Moved {
        self.resolve(Outcome::Accepted, refunded, now)
    }

    pub fn appealed(&mut self) -> Moved {
        self.stage = Stage::PreArbitration;
        self.outcome = None;
        self.appeal_until = None;
        self.under_review();
        Moved::Updated
    }

    /// PayPal asks one party for evidence (the sandbox's `require-evidence`).
    pub fn evidence_required(&mut self, from_seller: bool, now: DateTime<Utc>) -> Moved {
        if from_seller {
            self.wait_for_seller(now);
        } else {
            self.wait_for_buyer(now);
        }
        Moved::Updated
    }

    /// PayPal decides (the sandbox's `adjudicate`, or a deadline passing).
    pub fn adjudicated(&mut self, buyer_favour: bool, reason: &'static str, now: DateTime<Utc>) -> Moved {
        let (kind, outcome, refunded) = if buyer_favour {
            ("RECOVER_FROM_SELLER", Outcome::BuyerFavour, self.amount)
        } else {
            ("DENY_BUYER", Outcome::SellerFavour, self.amount.with_minor(0))
        };
        self.adjudications.push(Adjudication { kind, time: now, reason, stage: self.stage });
        let moved = self.resolve(outcome, refunded, now);
        if buyer_favour && self.stage != Stage::Inquiry {
            self.appeal_until = Some(now + APPEAL_WINDOW);
        }
        moved
    }

    /// What the clock decides at `now`: the seller's silence loses the case; an inquiry that
    /// outlived its window becomes a claim; a buyer who stays silent on a claim leaves it to PayPal.
    pub fn on_deadline(&mut self, now: DateTime<Utc>) -> Option<Moved> {
        if !self.is_open() {
            return None;
        }
        if self.status == DisputeStatus::WaitingForSeller && self.seller_due.is_some_and(|due| due <= now) {
            return Some(self.adjudicated(true, "NO_SELLER_RESPONSE", now));
        }
        if self.stage == Stage::Inquiry && self.inquiry_ends() <= now {
            return Some(self.escalate(true, now));
        }
        if self.status == DisputeStatus::WaitingForBuyer && self.buyer_due.is_some_and(|due| due <= now) {
            self.under_review();
            return Some(Moved::Updated);
        }
        None
    }

    /// The next time [`Self::on_deadline`] may move this dispute.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        if !self.is_open() {
            return None;
        }
        let inquiry = (self.stage == Stage::Inquiry).then(|| self.inquiry_ends());
        [self.seller_due, self.buyer_due, inquiry].into_iter().flatten().min()
    }

    fn resolve(&mut self, outcome: Outcome, refunded: Amount, now: DateTime<Utc>) -> Moved {
        self.status = DisputeStatus::Resolved;
        self.seller_due = None;
        self.buyer_due = None;
        self.return_pending = false;
        self.outcome = Some((outcome, refunded));
        if refunded.minor > 0 {
            self.money_movements.push(MoneyMovement { amount: refunded, time: now });
        }
        Moved::Resolved
    }
}

wire_enum!(SellerAction {
    AcceptClaim => "accept_claim",
    ProvideEvidence => "provide_evidence",
    ProvideSupportingInfo => "provide_supporting_info",
    SendMessage => "send_message",
    MakeOffer => "make_offer",
    Escalate => "escalate",
    AcknowledgeReturnItem => "acknowledge_return_item",
    Appeal => "appeal",
});

impl SellerAction {
    /// The operation's path segment (`/v1/customer/disputes/{id}/{segment}`).
    pub fn path(self) -> &'static str {
        match self {
            Self::AcceptClaim => "accept-claim",
            Self::ProvideEvidence => "provide-evidence",
            Self::ProvideSupportingInfo => "provide-supporting-info",
            Self::SendMessage => "send-message",
            Self::MakeOffer => "make-offer",
            Self::Escalate => "escalate",
            Self::AcknowledgeReturnItem => "acknowledge-return-item",
            Self::Appeal => "appeal",
        }
    }
}

/// Every dispute, in creation order for listing.
#[derive(Default)]
pub struct DisputeBook {
    pub disputes: HashMap<String, Dispute>,
    pub order: Vec<String>,
}

impl DisputeBook {
    /// Whether an open dispute freezes the transaction (no refund while it is open).
    pub fn open_on(&self, transaction_id: &str) -> Option<&Dispute> {
        self.disputes.values().find(|dispute| dispute.is_open() && dispute.transaction.id == transaction_id)
    }
}
