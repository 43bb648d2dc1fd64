//! The buyer's part of a dispute, made scriptable (listed in [`super::super::control`]). Rust
//! tests can call the in-process twins on [`PaypalSimulator`]: `open_dispute`,
//! `buyer_escalates_dispute`, `buyer_answers_offer`, `buyer_writes_on_dispute`.
//!
//! | endpoint | body | effect |
//! |---|---|---|
//! | `POST /sandbox/paypal/captures/{id}/dispute` | optional `{"reason", "amount": {"currency_code", "value"}, "stage": "INQUIRY" \| "CHARGEBACK", "message"}` | the buyer opens a case on a capture (or a subscription's sale, by its id): `WAITING_FOR_SELLER_RESPONSE` with a `seller_response_due_date`, the transaction frozen (no refund while open), `CUSTOMER.DISPUTE.CREATED` raised; defaults: `MERCHANDISE_OR_SERVICE_NOT_RECEIVED`, all that is left of the transaction, `INQUIRY`; answers the dispute (201) |
//! | `POST /sandbox/paypal/disputes/{id}/escalate` | optional `{"note"}` | the buyer takes an inquiry to a claim (`CHARGEBACK`, waiting for the seller) |
//! | `POST /sandbox/paypal/disputes/{id}/accept-offer` | optional `{"note"}` | the buyer accepts the seller's pending offer |
//! | `POST /sandbox/paypal/disputes/{id}/deny-offer` | optional `{"note"}` | the buyer denies it: the inquiry waits for the seller again |
//! | `POST /sandbox/paypal/disputes/{id}/message` | `{"message"}` | the buyer writes during an inquiry: the case waits for the seller |
//!
//! Each answers the dispute as `GET /v1/customer/disputes/{id}` shows it (the first with 201).
//! `adjudicate` and `require-evidence` are on PayPal's own paths.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Map, Value};

use super::super::amount::{Amount, optional_money};
use super::super::errors::{ApiError, ErrorDetail};
use super::super::state::PaypalState;
use super::super::{Effect, PaypalSimulator, answer, parse_body};
use super::input::{ActionInput, invalid_value};
use super::model::{
    Dispute, DisputeStatus, DisputedTransaction, Message, Moved, OfferEvent, OfferEventType, Party, Reason, Stage,
};
use super::{DISPUTES_DOC, not_allowed};

const MESSAGE_MAX: usize = 2000;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/sandbox/paypal/captures/{id}/dispute", post(open))
        .route("/sandbox/paypal/disputes/{id}/escalate", post(escalate))
        .route("/sandbox/paypal/disputes/{id}/accept-offer", post(accept_offer))
        .route("/sandbox/paypal/disputes/{id}/deny-offer", post(deny_offer))
        .route("/sandbox/paypal/disputes/{id}/message", post(message))
}

type Shared = State<Arc<PaypalSimulator>>;

/// What the buyer's case says when it opens.
pub struct OpenDispute {
    pub reason: Reason,
    pub amount: Option<Amount>,
    pub stage: Stage,
    pub message: Option<String>,
}

impl OpenDispute {
    fn parse(body: Map<String, Value>) -> Result<Self, ApiError> {
        let input = ActionInput { json: body, documents: Vec::new() };
        let reason = match input.text("reason", 255)? {
            None => Reason::NotReceived,
            Some(text) => Reason::parse(&text).ok_or_else(|| invalid_value("/reason", &text))?,
        };
        let stage = match input.text("stage", 255)? {
            None => Stage::Inquiry,
            Some(text) => Stage::parse(&text)
                .filter(|stage| matches!(stage, Stage::Inquiry | Stage::Chargeback))
                .ok_or_else(|| invalid_value("/stage", &text))?,
        };
        let amount = optional_money(input.json.get("amount"), "/amount")?;
        Ok(Self { reason, amount, stage, message: input.text("message", MESSAGE_MAX)? })
    }
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match parse_body(body)? {
        Value::Object(object) => Ok(object),
        other => Err(invalid_value("/", &other.to_string())),
    }
}

async fn open(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome =
        body_object(&body).and_then(OpenDispute::parse).and_then(|request| simulator.open_dispute(&id, request));
    answer(StatusCode::CREATED, outcome)
}

fn optional_note(body: &[u8]) -> Result<Option<String>, ApiError> {
    ActionInput { json: body_object(body)?, documents: Vec::new() }.text("note", MESSAGE_MAX)
}

async fn escalate(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = optional_note(&body).and_then(|_| simulator.buyer_escalates_dispute(&id));
    answer(StatusCode::OK, outcome)
}

async fn accept_offer(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = optional_note(&body).and_then(|note| simulator.buyer_answers_offer(&id, true, note));
    answer(StatusCode::OK, outcome)
}

async fn deny_offer(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = optional_note(&body).and_then(|note| simulator.buyer_answers_offer(&id, false, note));
    answer(StatusCode::OK, outcome)
}

async fn message(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = body_object(&body)
        .and_then(|json| ActionInput { json, documents: Vec::new() }.required_text("message", MESSAGE_MAX))
        .and_then(|text| simulator.buyer_writes_on_dispute(&id, text));
    answer(StatusCode::OK, outcome)
}

/// The capture or sale `id` as a disputed transaction, with what is left of it.
fn disputable(state: &PaypalState, id: &str) -> Result<(String, DisputedTransaction, Amount), ApiError> {
    if let Some(capture) = state.captures.get(id) {
        let transaction = DisputedTransaction {
            id: capture.id.clone(),
            gross: capture.amount,
            invoice_number: capture.invoice_id.clone(),
            custom: capture.custom_id.clone(),
            create_time: capture.create_time,
        };
        return Ok((capture.client_id.clone(), transaction, capture.amount.with_minor(capture.refundable_minor())));
    }
    if let Some(sale) = state.subscriptions.sales.get(id) {
        let transaction = DisputedTransaction {
            id: sale.id.clone(),
            gross: sale.total,
            invoice_number: None,
            custom: sale.custom.clone(),
            create_time: sale.create_time,
        };
        return Ok((sale.client_id.clone(), transaction, sale.total.with_minor(sale.refundable_minor())));
    }
    Err(ApiError::not_found("capture_id", id).documented_at(DISPUTES_DOC))
}

fn refused(issue: &str, description: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::new(issue, description)).documented_at(DISPUTES_DOC)
}

impl PaypalSimulator {
    /// The buyer opens a case on a capture or a sale; answers the dispute.
    pub fn open_dispute(&self, transaction_id: &str, request: OpenDispute) -> Result<Value, ApiError> {
        self.transact(|state| {
            let now = self.now();
            let (client_id, transaction, left) = disputable(state, transaction_id)?;
            if let Some(open) = state.disputes.open_on(transaction_id) {
                return Err(refused(
                    "TRANSACTION_DISPUTED",
                    &format!("The transaction already has the open dispute {}.", open.id),
                ));
            }
            let amount = request.amount.unwrap_or(left);
            if amount.currency != left.currency || amount.minor <= 0 || amount.minor > left.minor {
                return Err(refused(
                    "INVALID_DISPUTE_AMOUNT",
                    &format!("A dispute may claim up to {} of this transaction.", left.summary()),
                )
                .about("/amount/value", &amount.value()));
            }
            let number = state.disputes.order.len() + 10_001;
            let mut dispute = Dispute {
                id: format!("PP-D-{number}"),
                client_id,
                transaction,
                reason: request.reason,
                amount,
                stage: request.stage,
                status: DisputeStatus::WaitingForSeller,
                create_time: now,
                update_time: now,
                seller_due: None,
                buyer_due: None,
                messages: Vec::new(),
                evidences: Vec::new(),
                supporting_info: Vec::new(),
                offers: Vec::new(),
                return_pending: false,
                outcome: None,
                adjudications: Vec::new(),
                money_movements: Vec::new(),
                communication: None,
                appeal_until: None,
            }
            .open(now);
            if let Some(content) = request.message {
                dispute.messages.push(Message { posted_by: Party::Buyer, time: now, content, documents: Vec::new() });
            }
            let body = self.dispute_json(&dispute, now);
            let effects: Vec<Effect> = self.dispute_effects(&dispute, "CUSTOMER.DISPUTE.CREATED", "created", now);
            state.disputes.order.push(dispute.id.clone());
            state.disputes.disputes.insert(dispute.id.clone(), dispute);
            Ok((body, effects))
        })
    }

    pub fn buyer_escalates_dispute(&self, id: &str) -> Result<Value, ApiError> {
        self.buyer_changes(id, |dispute, now| {
            if !dispute.is_open() || dispute.stage != Stage::Inquiry {
                return Err(not_allowed(dispute, "escalate"));
            }
            Ok(dispute.escalate(true, now))
        })
    }

    /// The buyer accepts (`true`) or denies the seller's pending offer.
    pub fn buyer_answers_offer(&self, id: &str, accept: bool, notes: Option<String>) -> Result<Value, ApiError> {
        self.buyer_changes(id, |dispute, now| {
            let operation = if accept { "accept-offer" } else { "deny-offer" };
            let Some(offer) = dispute.pending_offer().filter(|_| dispute.is_open()) else {
                return Err(not_allowed(dispute, operation));
            };
            let answer = OfferEvent {
                time: now,
                actor: Party::Buyer,
                event_type: if accept { OfferEventType::Accepted } else { OfferEventType::Denied },
                offer_type: offer.offer_type,
                amount: offer.amount,
                notes,
                stage: dispute.stage,
            };
            let moved = if accept { dispute.offer_accepted(&answer, now) } else { dispute.buyer_answered(now) };
            dispute.offers.push(answer);
            Ok(moved)
        })
    }

    pub fn buyer_writes_on_dispute(&self, id: &str, content: String) -> Result<Value, ApiError> {
        self.buyer_changes(id, |dispute, now| {
            if !dispute.is_open() || dispute.stage != Stage::Inquiry {
                return Err(not_allowed(dispute, "send-message"));
            }
            dispute.messages.push(Message { posted_by: Party::Buyer, time: now, content, documents: Vec::new() });
            Ok(dispute.buyer_answered(now))
        })
    }

    fn buyer_changes(
        &self,
        id: &str,
        change: impl FnOnce(&mut Dispute, chrono::DateTime<chrono::Utc>) -> Result<Moved, ApiError>,
    ) -> Result<Value, ApiError> {
        self.change_dispute(None, id, |dispute, now| change(dispute, now).map(Some))?;
        let now = self.now();
        let state = self.state();
        let dispute = state.disputes.disputes.get(id).ok_or_else(|| super::not_found(id))?;
        Ok(self.dispute_json(dispute, now))
    }
}
