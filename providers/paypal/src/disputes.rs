//! Customer Disputes v1: find the cases buyers opened, read them, and answer them (accept the
//! claim, offer a refund, send evidence with documents, write to the buyer, appeal), plus the
//! sandbox-only calls that settle a case.
//!
//! What a dispute allows changes with its state: [`Dispute::allows`] reads the HATEOAS links,
//! which name exactly the actions PayPal accepts now. Documents go as `multipart/form-data`
//! (the request as its `input` part); [`check_documents`] applies PayPal's limits before a byte
//! is sent. `seller_response_due_date` is when an unanswered case is lost.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::http::FilePart;
use crate::types::{Amount, Link, link_href, wire_enum};

wire_enum! {
    /// `status` of a dispute.
    pub enum DisputeStatus {
        Open => "OPEN",
        WaitingForBuyerResponse => "WAITING_FOR_BUYER_RESPONSE",
        WaitingForSellerResponse => "WAITING_FOR_SELLER_RESPONSE",
        UnderReview => "UNDER_REVIEW",
        Resolved => "RESOLVED",
        /// PayPal's own `OTHER`.
        Unclassified => "OTHER",
    }
}

wire_enum! {
    /// `dispute_state`: whose move it is, as the list filter names it.
    pub enum DisputeState {
        OpenInquiries => "OPEN_INQUIRIES",
        RequiredAction => "REQUIRED_ACTION",
        RequiredOtherPartyAction => "REQUIRED_OTHER_PARTY_ACTION",
        UnderPaypalReview => "UNDER_PAYPAL_REVIEW",
        Appealable => "APPEALABLE",
        Resolved => "RESOLVED",
    }
}

wire_enum! {
    /// `dispute_life_cycle_stage`.
    pub enum DisputeStage {
        /// The buyer and the seller talk; up to 20 days.
        Inquiry => "INQUIRY",
        /// A claim PayPal decides.
        Chargeback => "CHARGEBACK",
        PreArbitration => "PRE_ARBITRATION",
        Arbitration => "ARBITRATION",
    }
}

wire_enum! {
    /// `reason`.
    pub enum DisputeReason {
        MerchandiseOrServiceNotReceived => "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        MerchandiseOrServiceNotAsDescribed => "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
        Unauthorised => "UNAUTHORISED",
        CreditNotProcessed => "CREDIT_NOT_PROCESSED",
        DuplicateTransaction => "DUPLICATE_TRANSACTION",
        IncorrectAmount => "INCORRECT_AMOUNT",
        PaymentByOtherMeans => "PAYMENT_BY_OTHER_MEANS",
        CanceledRecurringBilling => "CANCELED_RECURRING_BILLING",
        ProblemWithRemittance => "PROBLEM_WITH_REMITTANCE",
        /// PayPal's own `OTHER`.
        Unspecified => "OTHER",
    }
}

wire_enum! {
    /// `dispute_outcome.outcome_code`.
    pub enum OutcomeCode {
        ResolvedBuyerFavour => "RESOLVED_BUYER_FAVOUR",
        ResolvedSellerFavour => "RESOLVED_SELLER_FAVOUR",
        ResolvedWithPayout => "RESOLVED_WITH_PAYOUT",
        CanceledByBuyer => "CANCELED_BY_BUYER",
        Accepted => "ACCEPTED",
        Denied => "DENIED",
        None => "NONE",
    }
}

wire_enum! {
    /// What the seller offers the buyer (`offer_type`).
    pub enum OfferType {
        Refund => "REFUND",
        RefundWithReturn => "REFUND_WITH_RETURN",
        RefundWithReplacement => "REFUND_WITH_REPLACEMENT",
        ReplacementWithoutRefund => "REPLACEMENT_WITHOUT_REFUND",
    }
}

wire_enum! {
    /// How the seller gives the money back when accepting a claim.
    pub enum AcceptClaimType {
        Refund => "REFUND",
        RefundWithReturn => "REFUND_WITH_RETURN",
        PartialRefund => "PARTIAL_REFUND",
        RefundWithReturnShipmentLabel => "REFUND_WITH_RETURN_SHIPMENT_LABEL",
    }
}

wire_enum! {
    /// What the seller found when the buyer returned the item.
    pub enum AcknowledgementType {
        ItemReceived => "ITEM_RECEIVED",
        ItemNotReceived => "ITEM_NOT_RECEIVED",
        Damaged => "DAMAGED",
        EmptyPackageOrDifferent => "EMPTY_PACKAGE_OR_DIFFERENT",
        MissingItems => "MISSING_ITEMS",
    }
}

wire_enum! {
    /// The sandbox's decision (`adjudication_outcome`).
    pub enum AdjudicationOutcome {
        BuyerFavor => "BUYER_FAVOR",
        SellerFavor => "SELLER_FAVOR",
    }
}

wire_enum! {
    /// Whom the sandbox asks for evidence (`require-evidence`'s `action`).
    pub enum EvidenceRequest {
        BuyerEvidence => "BUYER_EVIDENCE",
        SellerEvidence => "SELLER_EVIDENCE",
    }
}

/// The actions a dispute's links may offer, by their `rel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeAction {
    AcceptClaim,
    MakeOffer,
    ProvideEvidence,
    ProvideSupportingInfo,
    SendMessage,
    AcknowledgeReturnItem,
    Appeal,
    Escalate,
}

impl DisputeAction {
    pub fn rel(self) -> &'static str {
        match self {
            Self::AcceptClaim => "accept_claim",
            Self::MakeOffer => "make_offer",
            Self::ProvideEvidence => "provide_evidence",
            Self::ProvideSupportingInfo => "provide_supporting_info",
            Self::SendMessage => "send_message",
            Self::AcknowledgeReturnItem => "acknowledge_return_item",
            Self::Appeal => "appeal",
            Self::Escalate => "escalate",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::AcceptClaim => "accept-claim",
            Self::MakeOffer => "make-offer",
            Self::ProvideEvidence => "provide-evidence",
            Self::ProvideSupportingInfo => "provide-supporting-info",
            Self::SendMessage => "send-message",
            Self::AcknowledgeReturnItem => "acknowledge-return-item",
            Self::Appeal => "appeal",
            Self::Escalate => "escalate",
        }
    }

    /// The form field PayPal names for this action's files.
    fn file_field(self) -> &'static str {
        match self {
            Self::AcceptClaim => "accept-claim-document",
            Self::SendMessage => "message_document",
            Self::AcknowledgeReturnItem => "acknowledgement_document",
            Self::ProvideSupportingInfo => "supporting document",
            _ => "evidence-file",
        }
    }
}

/// The payment a dispute is about. `seller_transaction_id` is your capture (or sale) id.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DisputedTransaction {
    pub buyer_transaction_id: Option<String>,
    pub seller_transaction_id: Option<String>,
    pub create_time: Option<String>,
    pub transaction_status: Option<String>,
    pub gross_amount: Option<Amount>,
    pub invoice_number: Option<String>,
    pub custom: Option<String>,
    pub buyer: Option<Value>,
    pub seller: Option<Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DisputeOutcome {
    pub outcome_code: Option<OutcomeCode>,
    pub amount_refunded: Option<Amount>,
}

/// A file's metadata as a dispute shows it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    pub name: Option<String>,
    pub url: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DisputeMessage {
    /// `BUYER`, `SELLER` or `ARBITER`.
    pub posted_by: Option<String>,
    pub time_posted: Option<String>,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentInfo>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub evidence_type: Option<String>,
    pub evidence_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentInfo>,
    pub notes: Option<String>,
    pub source: Option<String>,
    pub date: Option<String>,
    pub dispute_life_cycle_stage: Option<DisputeStage>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OfferHistory {
    pub offer_time: Option<String>,
    /// `BUYER` or `SELLER`.
    pub actor: Option<String>,
    /// `PROPOSED`, `ACCEPTED` or `DENIED`.
    pub event_type: Option<String>,
    pub offer_type: Option<OfferType>,
    pub offer_amount: Option<Amount>,
    pub notes: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub buyer_requested_amount: Option<Amount>,
    pub seller_offered_amount: Option<Amount>,
    pub offer_type: Option<OfferType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<OfferHistory>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MoneyMovement {
    pub affected_party: Option<String>,
    pub amount: Option<Amount>,
    pub initiated_time: Option<String>,
    /// `DEBIT` or `CREDIT`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub reason: Option<String>,
}

/// A dispute in full (`GET /v1/customer/disputes/{id}` and the `CUSTOMER.DISPUTE.*` webhooks).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispute {
    /// `PP-D-…`.
    pub dispute_id: String,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputed_transactions: Vec<DisputedTransaction>,
    pub reason: Option<DisputeReason>,
    pub status: DisputeStatus,
    pub dispute_amount: Option<Amount>,
    pub dispute_outcome: Option<DisputeOutcome>,
    pub dispute_life_cycle_stage: Option<DisputeStage>,
    pub dispute_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<DisputeMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidences: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supporting_info: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjudications: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub money_movements: Vec<MoneyMovement>,
    pub buyer_response_due_date: Option<String>,
    /// When an unanswered case is decided against you.
    pub seller_response_due_date: Option<String>,
    pub offer: Option<Offer>,
    pub communication_details: Option<Value>,
    /// `accept_claim.accept_claim_types`, `make_offer.offer_types`,
    /// `acknowledge_return_item.acknowledgement_types`.
    pub allowed_response_options: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

impl Dispute {
    /// Whether PayPal accepts `action` on this dispute now (its link is present).
    pub fn allows(&self, action: DisputeAction) -> bool {
        link_href(&self.links, action.rel()).is_some()
    }

    /// Your capture (or sale) id the dispute is about.
    pub fn seller_transaction_id(&self) -> Option<&str> {
        self.disputed_transactions.iter().find_map(|transaction| transaction.seller_transaction_id.as_deref())
    }
}

/// One dispute of a list (`dispute_info`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisputeSummary {
    pub dispute_id: String,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    pub reason: Option<DisputeReason>,
    pub status: Option<DisputeStatus>,
    pub dispute_state: Option<DisputeState>,
    pub dispute_amount: Option<Amount>,
    pub dispute_life_cycle_stage: Option<DisputeStage>,
    pub dispute_channel: Option<String>,
    pub buyer_response_due_date: Option<String>,
    pub seller_response_due_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisputeList {
    #[serde(default)]
    pub items: Vec<DisputeSummary>,
    #[serde(default)]
    pub links: Vec<Link>,
}

impl DisputeList {
    /// The token of the next page, when there is one.
    pub fn next_page_token(&self) -> Option<String> {
        let next = url::Url::parse(link_href(&self.links, "next")?).ok()?;
        next.query_pairs().find(|(name, _)| name == "next_page_token").map(|(_, value)| value.into_owned())
    }
}

/// Filters of `GET /v1/customer/disputes`. PayPal refuses `start_time` together with
/// `disputed_transaction_id`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DisputeQuery {
    pub start_time: Option<DateTime<Utc>>,
    pub disputed_transaction_id: Option<String>,
    /// Any of these states.
    pub dispute_states: Vec<DisputeState>,
    pub update_time_before: Option<DateTime<Utc>>,
    pub update_time_after: Option<DateTime<Utc>>,
    /// 1 to 50 (PayPal's default is 10).
    pub page_size: Option<u32>,
    pub next_page_token: Option<String>,
}

impl DisputeQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let time = |at: &DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut pairs = Vec::new();
        if let Some(at) = &self.start_time {
            pairs.push(("start_time", time(at)));
        }
        if let Some(id) = &self.disputed_transaction_id {
            pairs.push(("disputed_transaction_id", id.clone()));
        }
        if !self.dispute_states.is_empty() {
            let states: Vec<&str> = self.dispute_states.iter().map(DisputeState::as_str).collect();
            pairs.push(("dispute_state", states.join(",")));
        }
        if let Some(at) = &self.update_time_before {
            pairs.push(("update_time_before", time(at)));
        }
        if let Some(at) = &self.update_time_after {
            pairs.push(("update_time_after", time(at)));
        }
        if let Some(size) = self.page_size {
            pairs.push(("page_size", size.to_string()));
        }
        if let Some(token) = &self.next_page_token {
            pairs.push(("next_page_token", token.clone()));
        }
        pairs
    }
}

/// The answer of every action: a link back to the dispute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubsequentAction {
    #[serde(default)]
    pub links: Vec<Link>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AcceptClaimRequest {
    pub note: Option<String>,
    /// One of `allowed_response_options.accept_claim.accept_claim_types`; PayPal's default is a
    /// full refund.
    pub accept_claim_type: Option<AcceptClaimType>,
    /// Required with [`AcceptClaimType::PartialRefund`].
    pub refund_amount: Option<Amount>,
    pub invoice_id: Option<String>,
    pub return_shipping_address: Option<Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MakeOfferRequest {
    pub note: String,
    pub offer_type: OfferType,
    /// Required unless the offer is a replacement without refund.
    pub offer_amount: Option<Amount>,
    pub invoice_id: Option<String>,
    pub return_shipping_address: Option<Value>,
}

/// One piece of evidence. `evidence_info` carries tracking numbers (`tracking_info[]`) or refund
/// ids (`refund_ids[]`) for proofs of fulfilment or refund.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// PayPal's `evidence_type`, e.g. `PROOF_OF_FULFILLMENT`, `PROOF_OF_REFUND`, `OTHER`.
    pub evidence_type: String,
    pub evidence_info: Option<Value>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceSubmission {
    pub evidences: Vec<EvidenceItem>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcknowledgeReturnItemRequest {
    pub note: Option<String>,
    pub acknowledgement_type: AcknowledgementType,
}

/// A file to send with an action. PayPal takes `.jpg`, `.jpeg`, `.gif`, `.png` and `.pdf`
/// files under 10 MB, up to 50 MB per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

impl Document {
    /// The file's name and size, as [`check_documents`] takes them.
    pub fn sized(&self) -> (&str, usize) {
        (self.file_name.as_str(), self.content.len())
    }
}

/// File name extensions PayPal accepts for dispute documents.
pub const DOCUMENT_EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "gif", "png", "pdf"];
/// Each document must be smaller than this.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// All documents of one call together may be up to this.
pub const MAX_TOTAL_DOCUMENT_BYTES: usize = 50 * 1024 * 1024;

/// Why PayPal would refuse a set of documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentRefusal {
    #[error("{file_name}: PayPal takes only .jpg, .jpeg, .gif, .png and .pdf documents")]
    UnsupportedType { file_name: String },
    #[error("{file_name}: each document must be smaller than 10 MB")]
    TooLarge { file_name: String },
    #[error("the documents of one request may be up to 50 MB together")]
    TooLargeTogether,
}

/// Applies PayPal's limits for dispute documents, given as (file name, size in bytes), before
/// anything is sent.
pub fn check_documents<'a>(documents: impl IntoIterator<Item = (&'a str, usize)>) -> Result<(), DocumentRefusal> {
    let mut total = 0usize;
    for (file_name, size) in documents {
        let extension = file_name.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase());
        if !extension.is_some_and(|extension| DOCUMENT_EXTENSIONS.contains(&extension.as_str())) {
            return Err(DocumentRefusal::UnsupportedType { file_name: file_name.to_owned() });
        }
        if size >= MAX_DOCUMENT_BYTES {
            return Err(DocumentRefusal::TooLarge { file_name: file_name.to_owned() });
        }
        total += size;
    }
    if total > MAX_TOTAL_DOCUMENT_BYTES {
        return Err(DocumentRefusal::TooLargeTogether);
    }
    Ok(())
}

#[derive(Serialize)]
struct Note<'a> {
    note: &'a str,
}

#[derive(Serialize)]
struct OptionalNote<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

#[derive(Serialize)]
struct MessageInput<'a> {
    message: &'a str,
}

#[derive(Serialize)]
struct SupportingInfoInput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
}

const DISPUTES: [&str; 3] = ["v1", "customer", "disputes"];

impl PaypalClient {
    /// `GET /v1/customer/disputes`, newest first; follow [`DisputeList::next_page_token`].
    pub async fn list_disputes(&self, query: &DisputeQuery) -> Result<DisputeList, PaypalError> {
        self.api.get_with_query(&DISPUTES, &query.pairs()).await
    }

    /// `GET /v1/customer/disputes/{id}`.
    pub async fn get_dispute(&self, dispute_id: &str) -> Result<Dispute, PaypalError> {
        self.api.get(&[DISPUTES[0], DISPUTES[1], DISPUTES[2], dispute_id]).await
    }

    /// `PATCH /v1/customer/disputes/{id}`: where the buyer may send you evidence.
    pub async fn update_dispute_communication(
        &self,
        dispute_id: &str,
        email: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), PaypalError> {
        let mut value = serde_json::Map::new();
        if let Some(email) = email {
            value.insert("email".into(), Value::from(email));
        }
        if let Some(note) = note {
            value.insert("note".into(), Value::from(note));
        }
        let patch = [serde_json::json!({ "op": "replace", "path": "/communication_details", "value": value })];
        self.api.patch(&[DISPUTES[0], DISPUTES[1], DISPUTES[2], dispute_id], &patch).await
    }

    /// `POST …/accept-claim`: you refund the buyer and the case closes in their favour.
    pub async fn accept_claim(
        &self,
        request_id: &str,
        dispute_id: &str,
        request: &AcceptClaimRequest,
        documents: &[Document],
    ) -> Result<SubsequentAction, PaypalError> {
        self.act_multipart(request_id, dispute_id, DisputeAction::AcceptClaim, request, documents).await
    }

    /// `POST …/make-offer` (during an inquiry): the buyer accepts or denies it.
    pub async fn make_offer(
        &self,
        request_id: &str,
        dispute_id: &str,
        request: &MakeOfferRequest,
    ) -> Result<SubsequentAction, PaypalError> {
        self.act(request_id, dispute_id, DisputeAction::MakeOffer.path(), request).await
    }

    /// `POST …/provide-evidence` (while PayPal waits for you), with documents.
    pub async fn provide_evidence(
        &self,
        request_id: &str,
        dispute_id: &str,
        evidence: &EvidenceSubmission,
        documents: &[Document],
    ) -> Result<SubsequentAction, PaypalError> {
        self.act_multipart(request_id, dispute_id, DisputeAction::ProvideEvidence, evidence, documents).await
    }

    /// `POST …/appeal` (a case decided against you, while it is `APPEALABLE`), with new evidence.
    pub async fn appeal_dispute(
        &self,
        request_id: &str,
        dispute_id: &str,
        evidence: &EvidenceSubmission,
        documents: &[Document],
    ) -> Result<SubsequentAction, PaypalError> {
        self.act_multipart(request_id, dispute_id, DisputeAction::Appeal, evidence, documents).await
    }

    /// `POST …/provide-supporting-info` (while PayPal reviews the case).
    pub async fn provide_supporting_info(
        &self,
        request_id: &str,
        dispute_id: &str,
        notes: Option<&str>,
        documents: &[Document],
    ) -> Result<SubsequentAction, PaypalError> {
        let input = SupportingInfoInput { notes };
        self.act_multipart(request_id, dispute_id, DisputeAction::ProvideSupportingInfo, &input, documents).await
    }

    /// `POST …/send-message` to the buyer (during an inquiry).
    pub async fn send_dispute_message(
        &self,
        request_id: &str,
        dispute_id: &str,
        message: &str,
        documents: &[Document],
    ) -> Result<SubsequentAction, PaypalError> {
        let input = MessageInput { message };
        self.act_multipart(request_id, dispute_id, DisputeAction::SendMessage, &input, documents).await
    }

    /// `POST …/acknowledge-return-item`: what came back from the buyer.
    pub async fn acknowledge_return_item(
        &self,
        request_id: &str,
        dispute_id: &str,
        request: &AcknowledgeReturnItemRequest,
        documents: &[Document],
    ) -> Result<SubsequentAction, PaypalError> {
        self.act_multipart(request_id, dispute_id, DisputeAction::AcknowledgeReturnItem, request, documents).await
    }

    /// `POST …/escalate`: take an inquiry to PayPal as a claim.
    pub async fn escalate_dispute(
        &self,
        request_id: &str,
        dispute_id: &str,
        note: &str,
    ) -> Result<SubsequentAction, PaypalError> {
        self.act(request_id, dispute_id, DisputeAction::Escalate.path(), &Note { note }).await
    }

    /// `POST …/accept-offer`: the buyer's side, for buyer-scoped credentials.
    pub async fn accept_dispute_offer(
        &self,
        request_id: &str,
        dispute_id: &str,
        note: Option<&str>,
    ) -> Result<SubsequentAction, PaypalError> {
        self.act(request_id, dispute_id, "accept-offer", &OptionalNote { note }).await
    }

    /// `POST …/deny-offer`: the buyer's side, for buyer-scoped credentials.
    pub async fn deny_dispute_offer(
        &self,
        request_id: &str,
        dispute_id: &str,
        note: &str,
    ) -> Result<SubsequentAction, PaypalError> {
        self.act(request_id, dispute_id, "deny-offer", &Note { note }).await
    }

    /// `POST …/adjudicate` (PayPal's sandbox only): decide a case under review.
    pub async fn adjudicate_dispute(
        &self,
        request_id: &str,
        dispute_id: &str,
        outcome: AdjudicationOutcome,
    ) -> Result<SubsequentAction, PaypalError> {
        let body = serde_json::json!({ "adjudication_outcome": outcome.as_str() });
        self.act(request_id, dispute_id, "adjudicate", &body).await
    }

    /// `POST …/require-evidence` (PayPal's sandbox only): ask one party for evidence.
    pub async fn require_dispute_evidence(
        &self,
        request_id: &str,
        dispute_id: &str,
        from: EvidenceRequest,
    ) -> Result<SubsequentAction, PaypalError> {
        let body = serde_json::json!({ "action": from.as_str() });
        self.act(request_id, dispute_id, "require-evidence", &body).await
    }

    async fn act<B: Serialize + ?Sized>(
        &self,
        request_id: &str,
        dispute_id: &str,
        action: &str,
        body: &B,
    ) -> Result<SubsequentAction, PaypalError> {
        self.api.post(&[DISPUTES[0], DISPUTES[1], DISPUTES[2], dispute_id, action], request_id, body).await
    }

    async fn act_multipart<B: Serialize + ?Sized>(
        &self,
        request_id: &str,
        dispute_id: &str,
        action: DisputeAction,
        input: &B,
        documents: &[Document],
    ) -> Result<SubsequentAction, PaypalError> {
        check_documents(documents.iter().map(Document::sized))
            .map_err(|refusal| PaypalError::Decode(refusal.to_string()))?;
        let files: Vec<FilePart<'_>> = documents
            .iter()
            .map(|document| FilePart {
                field: action.file_field(),
                file_name: &document.file_name,
                content_type: &document.content_type,
                content: &document.content,
            })
            .collect();
        let path = [DISPUTES[0], DISPUTES[1], DISPUTES[2], dispute_id, action.path()];
        self.api.post_multipart(&path, request_id, input, &files).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(name: &str, size: usize) -> Document {
        Document { file_name: name.into(), content_type: "application/pdf".into(), content: vec![0; size] }
    }

    #[test]
    fn documents_outside_paypals_limits_are_refused_before_sending() {
        let check = |documents: &[Document]| check_documents(documents.iter().map(Document::sized));
        assert_eq!(check(&[document("a.PDF", 10), document("b.jpeg", 10)]), Ok(()));
        assert!(matches!(check(&[document("a.docx", 1)]), Err(DocumentRefusal::UnsupportedType { .. })));
        assert!(matches!(check(&[document("a.png", MAX_DOCUMENT_BYTES)]), Err(DocumentRefusal::TooLarge { .. })));
        let six = vec![document("a.pdf", MAX_DOCUMENT_BYTES - 1); 6];
        assert_eq!(check(&six), Err(DocumentRefusal::TooLargeTogether));
    }

    #[test]
    fn the_next_page_token_is_read_from_the_next_link() {
        let list: DisputeList = serde_json::from_value(serde_json::json!({
            "items": [],
            "links": [{ "href": "https://api-m.sandbox.paypal.com/v1/customer/disputes?page_size=2&next_page_token=b2Zmc2V0OjI%3D", "rel": "next", "method": "GET" }]
        }))
        .unwrap();
        assert_eq!(list.next_page_token().as_deref(), Some("b2Zmc2V0OjI="));
    }
}
