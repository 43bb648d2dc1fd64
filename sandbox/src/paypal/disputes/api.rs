//! The merchant's routes of Customer Disputes v1.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::super::amount::{Amount, parse_money};
use super::super::auth::Merchant;
use super::super::errors::{ApiError, ErrorDetail};
use super::super::{PaypalSimulator, answer, parse_body};
use super::input::{ActionInput, invalid_value};
use super::model::{
    AcceptClaimType, AcknowledgementType, CommunicationDetails, Dispute, DisputeState, DisputeStatus, Evidence,
    Message, Moved, OfferEvent, OfferEventType, OfferType, Party, SellerAction, Stage, SupportingInfo,
};
use super::render::{accept_claim_types, offer_types};
use super::{DISPUTES_DOC, KEY_RETENTION, not_allowed};

const NOTE_MAX: usize = 2000;
const DEFAULT_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 50;

/// PayPal's evidence types (the `evidence_type` enum).
const EVIDENCE_TYPES: &[&str] = &[
    "PROOF_OF_FULFILLMENT",
    "PROOF_OF_REFUND",
    "PROOF_OF_DELIVERY_SIGNATURE",
    "PROOF_OF_RECEIPT_COPY",
    "RETURN_POLICY",
    "BILLING_AGREEMENT",
    "PROOF_OF_RESHIPMENT",
    "ITEM_DESCRIPTION",
    "POLICE_REPORT",
    "AFFIDAVIT",
    "PAID_WITH_OTHER_METHOD",
    "COPY_OF_CONTRACT",
    "TERMINAL_ATM_RECEIPT",
    "PRICE_DIFFERENCE_REASON",
    "SOURCE_CONVERSION_RATE",
    "BANK_STATEMENT",
    "CREDIT_DUE_REASON",
    "REQUEST_CREDIT_RECEIPT",
    "PROOF_OF_RETURN",
    "CREATE",
    "CHANGE_REASON",
    "PROOF_OF_REFUND_OUTSIDE_PAYPAL",
    "RECEIPT_OF_MERCHANDISE",
    "CUSTOMS_DOCUMENT",
    "CUSTOMS_FEE_RECEIPT",
    "INFORMATION_ON_RESOLUTION",
    "ADDITIONAL_INFORMATION_OF_ITEM",
    "DETAILS_OF_PURCHASE",
    "PROOF_OF_SIGNIFICANT_DIFFERENCE",
    "PROOF_OF_SOFTWARE_OR_SERVICE_NOT_AS_DESCRIBED",
    "PROOF_OF_CONFISCATION",
    "PROOF_OF_DAMAGE",
    "COPY_OF_LAW_ENFORCEMENT_AGENCY_REPORT",
    "ADDITIONAL_PROOF_OF_SHIPMENT",
    "PROOF_OF_DENIAL_BY_CARRIER",
    "THIRDPARTY_PROOF_FOR_DAMAGE_OR_SIGNIFICANT_DIFFERENCE",
    "VALID_SUPPORTING_DOCUMENT",
    "LEGIBLE_SUPPORTING_DOCUMENT",
    "RETURN_TRACKING_INFORMATION",
    "DELIVERY_RECEIPT",
    "PROOF_OF_INSTORE_RECEIPT",
    "ADDITIONAL_TRACKING_INFORMATION",
    "PROOF_OF_SHIPMENT_POSTAGE",
    "ONLINE_TRACKING_INFORMATION",
    "PROOF_OF_INSTORE_REFUND",
    "PROOF_FOR_SOFTWARE_OR_SERVICE_DELIVERED",
    "RETURN_ADDRESS_FOR_SHIPPING",
    "COPY_OF_THE_EPARCEL_MANIFEST",
    "COPY_OF_SHIPPING_MANIFEST",
    "APPEAL_AFFIDAVIT",
    "RECEIPT_OF_REPLACEMENT",
    "COPY_OF_DRIVERS_LICENSE",
    "ACCOUNT_CHANGE_INFORMATION",
    "DELIVERY_ADDRESS",
    "CONFIRMATION_OF_RESOLUTION",
    "MERCHANT_RESPONSE",
    "PERMISSION_DESCRIPTION",
    "STATUS_OF_MERCHANDISE",
    "LOST_CARD_DETAILS",
    "LAST_VALID_TRANSACTION_DETAILS",
    "ADDITIONAL_PROOF_OF_RETURN",
    "DECLARATION",
    "PROOF_OF_MISSING_ITEMS",
    "PROOF_OF_EMPTY_PACKAGE_OR_DIFFERENT_ITEM",
    "PROOF_OF_ITEM_NOT_RECEIVED",
    "ORDER_DETAILS",
    "LISTING_URL",
    "SHIPPING_INSURANCE",
    "BUYER_RESPONSE",
    "PHOTOS_OF_SHIPPED_ITEM",
    "OTHER",
];

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/customer/disputes", get(list))
        .route("/v1/customer/disputes/{id}", get(show).patch(patch))
        .route("/v1/customer/disputes/{id}/accept-claim", post(accept_claim))
        .route("/v1/customer/disputes/{id}/make-offer", post(make_offer))
        .route("/v1/customer/disputes/{id}/provide-evidence", post(provide_evidence))
        .route("/v1/customer/disputes/{id}/appeal", post(appeal))
        .route("/v1/customer/disputes/{id}/provide-supporting-info", post(provide_supporting_info))
        .route("/v1/customer/disputes/{id}/send-message", post(send_message))
        .route("/v1/customer/disputes/{id}/acknowledge-return-item", post(acknowledge_return_item))
        .route("/v1/customer/disputes/{id}/escalate", post(escalate))
        .route("/v1/customer/disputes/{id}/accept-offer", post(buyer_only))
        .route("/v1/customer/disputes/{id}/deny-offer", post(buyer_only))
        .route("/v1/customer/disputes/{id}/adjudicate", post(adjudicate))
        .route("/v1/customer/disputes/{id}/require-evidence", post(require_evidence))
}

type Shared = State<Arc<PaypalSimulator>>;

fn query_detail(name: &str, issue: &str, description: &str) -> ErrorDetail {
    ErrorDetail { field: Some(name.to_owned()), ..ErrorDetail::new(issue, description) }.at("query")
}

fn query_error(name: &str, value: &str) -> ApiError {
    let detail = query_detail(name, "INVALID_PARAMETER_VALUE", "The value of a field is invalid.");
    ApiError::invalid_request(detail.with_value(value)).documented_at(DISPUTES_DOC)
}

fn query_time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value).map(|time| time.with_timezone(&Utc)).map_err(|_| query_error(name, value))
}

/// The filters of `GET /v1/customer/disputes`.
#[derive(Default)]
struct ListFilter {
    start_time: Option<DateTime<Utc>>,
    transaction_id: Option<String>,
    states: Vec<DisputeState>,
    updated_before: Option<DateTime<Utc>>,
    updated_after: Option<DateTime<Utc>>,
    page_size: usize,
    offset: usize,
}

impl ListFilter {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let mut filter = Self { page_size: DEFAULT_PAGE_SIZE, ..Self::default() };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "start_time" => filter.start_time = Some(query_time(&name, &value)?),
                "disputed_transaction_id" => filter.transaction_id = Some(value.into_owned()),
                "dispute_state" => {
                    filter.states = value
                        .split(',')
                        .map(|state| DisputeState::parse(state.trim()).ok_or_else(|| query_error(&name, &value)))
                        .collect::<Result<_, _>>()?;
                }
                "update_time_before" => filter.updated_before = Some(query_time(&name, &value)?),
                "update_time_after" => filter.updated_after = Some(query_time(&name, &value)?),
                "page_size" => {
                    filter.page_size = value
                        .parse()
                        .ok()
                        .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
                        .ok_or_else(|| query_error(&name, &value))?;
                }
                "next_page_token" => {
                    filter.offset = BASE64
                        .decode(value.as_bytes())
                        .ok()
                        .and_then(|bytes| String::from_utf8(bytes).ok())
                        .and_then(|text| text.strip_prefix("offset:").and_then(|offset| offset.parse().ok()))
                        .ok_or_else(|| query_error(&name, &value))?;
                }
                _ => {}
            }
        }
        if filter.start_time.is_some() && filter.transaction_id.is_some() {
            let detail = query_detail(
                "start_time",
                "INVALID_PARAMETER_COMBINATION",
                "Specify either start_time or disputed_transaction_id, not both.",
            );
            return Err(ApiError::invalid_request(detail).documented_at(DISPUTES_DOC));
        }
        Ok(filter)
    }

    fn matches(&self, dispute: &Dispute, now: DateTime<Utc>) -> bool {
        self.start_time.is_none_or(|start| dispute.create_time >= start)
            && self.transaction_id.as_ref().is_none_or(|id| &dispute.transaction.id == id)
            && (self.states.is_empty() || self.states.iter().any(|state| dispute.matches_state(*state, now)))
            && self.updated_before.is_none_or(|before| dispute.update_time < before)
            && self.updated_after.is_none_or(|after| dispute.update_time > after)
    }
}

/// Newest first; `next_page_token` is an opaque offset into that order.
async fn list(State(simulator): Shared, merchant: Merchant, RawQuery(query): RawQuery) -> Response {
    let outcome = ListFilter::parse(query.as_deref().unwrap_or_default()).map(|filter| {
        let now = simulator.now();
        let state = simulator.state();
        let matching: Vec<&Dispute> = state
            .disputes
            .order
            .iter()
            .rev()
            .filter_map(|id| state.disputes.disputes.get(id))
            .filter(|dispute| dispute.client_id == merchant.client_id && filter.matches(dispute, now))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(filter.offset)
            .take(filter.page_size)
            .map(|dispute| simulator.dispute_summary_json(dispute, now))
            .collect();
        let base = format!("{}/v1/customer/disputes", simulator.base_url());
        let self_url = match &query {
            Some(query) if !query.is_empty() => format!("{base}?{query}"),
            _ => base.clone(),
        };
        let mut links = vec![json!({ "href": self_url, "rel": "self", "method": "GET" })];
        let next_offset = filter.offset + filter.page_size;
        if next_offset < matching.len() {
            let mut next = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
                if name != "next_page_token" {
                    next.append_pair(&name, &value);
                }
            }
            next.append_pair("next_page_token", &BASE64.encode(format!("offset:{next_offset}")));
            links.push(json!({ "href": format!("{base}?{}", next.finish()), "rel": "next", "method": "GET" }));
        }
        json!({ "items": page, "links": links })
    });
    answer(StatusCode::OK, outcome)
}

async fn show(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>) -> Response {
    let now = simulator.now();
    let state = simulator.state();
    let dispute = state
        .disputes
        .disputes
        .get(&id)
        .filter(|dispute| dispute.client_id == merchant.client_id)
        .ok_or_else(|| super::not_found(&id));
    answer(StatusCode::OK, dispute.map(|dispute| simulator.dispute_json(dispute, now)))
}

/// The seller may set `communication_details` (`add` or `replace`), nothing else.
async fn patch(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = parse_body(&body).and_then(|patch| {
        let operations = patch.as_array().ok_or_else(|| invalid_value("/", &patch.to_string()))?;
        let mut details = None;
        for (index, operation) in operations.iter().enumerate() {
            if !operation.is_object() {
                return Err(invalid_value(&format!("/{index}"), &operation.to_string()));
            }
            let op = operation.get("op").and_then(Value::as_str).unwrap_or_default();
            if !matches!(op, "add" | "replace") {
                return Err(invalid_value(&format!("/{index}/op"), op));
            }
            let path = operation.get("path").and_then(Value::as_str).unwrap_or_default();
            if path != "/communication_details" {
                return Err(ApiError::unprocessable(
                    ErrorDetail::body(
                        &format!("/{index}/path"),
                        "PATCH_PATH_NOT_SUPPORTED",
                        "Only /communication_details can be patched by the seller.",
                    )
                    .with_value(path),
                )
                .documented_at(DISPUTES_DOC));
            }
            let value = operation.get("value").and_then(Value::as_object).ok_or_else(|| {
                invalid_value(&format!("/{index}/value"), &operation.get("value").unwrap_or(&Value::Null).to_string())
            })?;
            let input = ActionInput { json: value.clone(), documents: Vec::new() };
            let email = input.text("email", 254)?;
            if let Some(email) = email.as_deref().filter(|email| !email.contains('@')) {
                return Err(invalid_value(&format!("/{index}/value/email"), email));
            }
            details = Some((email, input.text("note", NOTE_MAX)?));
        }
        let (email, note) = details.ok_or_else(|| invalid_value("/", "[]"))?;
        simulator.change_dispute(Some(&merchant.client_id), &id, |dispute, now| {
            dispute.communication = Some(CommunicationDetails { email, note, time: now });
            Ok(Some(Moved::Updated))
        })
    });
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.documented_at(DISPUTES_DOC).into_response(),
    }
}

/// Runs an action on a dispute of the caller's, answering a repeated `PayPal-Request-Id` with
/// the first answer.
fn dispute_action(
    simulator: &PaypalSimulator,
    call: Call,
    change: impl FnOnce(&mut Dispute, DateTime<Utc>) -> Result<Moved, ApiError>,
) -> Response {
    let Call { merchant, id, headers, operation } = call;
    let path = format!("/v1/customer/disputes/{id}/{operation}");
    simulator.idempotent_post(&merchant.client_id, &path, &headers, KEY_RETENTION, |state| {
        let effects = simulator
            .dispute_changed(state, Some(&merchant.client_id), &id, |dispute, now| change(dispute, now).map(Some))?;
        Ok(((StatusCode::OK, simulator.dispute_action_answer(&id)), effects))
    })
}

/// Who calls which action on which dispute.
struct Call {
    merchant: Merchant,
    id: String,
    headers: HeaderMap,
    operation: &'static str,
}

/// Runs a seller action when the dispute's links offer it.
fn seller_action(
    simulator: &PaypalSimulator,
    call: Call,
    action: SellerAction,
    change: impl FnOnce(&mut Dispute, DateTime<Utc>) -> Result<Moved, ApiError>,
) -> Response {
    dispute_action(simulator, call, |dispute, now| {
        if !dispute.seller_actions(now).contains(&action) {
            return Err(not_allowed(dispute, action.path()));
        }
        change(dispute, now)
    })
}

/// An amount no larger than the disputed amount, in its currency.
fn amount_within(input: &ActionInput, key: &str, dispute: &Dispute) -> Result<Amount, ApiError> {
    let pointer = format!("/{key}");
    let amount = parse_money(input.json.get(key), &pointer).map_err(|error| error.documented_at(DISPUTES_DOC))?;
    if amount.currency != dispute.amount.currency || amount.minor > dispute.amount.minor {
        return Err(ApiError::unprocessable(
            ErrorDetail::body(
                &pointer,
                "INVALID_AMOUNT",
                &format!("The amount must be in {} and at most {}.", dispute.amount.currency, dispute.amount.value()),
            )
            .with_value(amount.value()),
        )
        .documented_at(DISPUTES_DOC));
    }
    Ok(amount)
}

async fn accept_claim(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "accept-claim" },
        SellerAction::AcceptClaim,
        |dispute, now| {
            input.text("note", NOTE_MAX)?;
            let claim_type = match input.text("accept_claim_type", 255)? {
                None => AcceptClaimType::Refund,
                Some(text) => AcceptClaimType::parse(&text)
                    .filter(|claim_type| accept_claim_types(dispute).contains(claim_type))
                    .ok_or_else(|| invalid_value("/accept_claim_type", &text))?,
            };
            let refunded = match claim_type {
                AcceptClaimType::PartialRefund => amount_within(&input, "refund_amount", dispute)?,
                _ => dispute.amount,
            };
            Ok(dispute.claim_accepted(refunded, now))
        },
    )
}

async fn make_offer(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "make-offer" },
        SellerAction::MakeOffer,
        |dispute, now| {
            let notes = input.required_text("note", NOTE_MAX)?;
            let offer_type = input.required_enum("offer_type", OfferType::parse)?;
            if !offer_types(dispute.reason).contains(&offer_type) {
                return Err(invalid_value("/offer_type", offer_type.as_str()));
            }
            let amount = match offer_type {
                OfferType::ReplacementWithoutRefund => None,
                _ => Some(amount_within(&input, "offer_amount", dispute)?),
            };
            dispute.offers.push(OfferEvent {
                time: now,
                actor: Party::Seller,
                event_type: OfferEventType::Proposed,
                offer_type,
                amount,
                notes: Some(notes),
                stage: dispute.stage,
            });
            Ok(dispute.offer_made(now))
        },
    )
}

/// `evidences[]` of provide-evidence and appeal; the documents sent with the request belong to
/// the first evidence.
fn read_evidences(input: ActionInput, stage: Stage, now: DateTime<Utc>) -> Result<Vec<Evidence>, ApiError> {
    let items = match input.json.get("evidences") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(other) => return Err(invalid_value("/evidences", &other.to_string())),
        None => return Err(super::super::order_request::missing("/evidences").documented_at(DISPUTES_DOC)),
    };
    let mut documents = Some(input.documents);
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let pointer = format!("/evidences/{index}");
            let object = item.as_object().ok_or_else(|| invalid_value(&pointer, &item.to_string()))?;
            let item = ActionInput { json: object.clone(), documents: Vec::new() };
            let evidence_type = item.required_text("evidence_type", 255)?;
            if !EVIDENCE_TYPES.contains(&evidence_type.as_str()) {
                return Err(invalid_value(&format!("{pointer}/evidence_type"), &evidence_type));
            }
            let evidence_info = match object.get("evidence_info") {
                None | Some(Value::Null) => None,
                Some(info @ Value::Object(_)) => Some(info.clone()),
                Some(other) => return Err(invalid_value(&format!("{pointer}/evidence_info"), &other.to_string())),
            };
            Ok(Evidence {
                evidence_type,
                evidence_info,
                notes: item.text("notes", NOTE_MAX)?,
                documents: documents.take().unwrap_or_default(),
                date: now,
                stage,
            })
        })
        .collect()
}

async fn provide_evidence(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "provide-evidence" },
        SellerAction::ProvideEvidence,
        |dispute, now| {
            let evidences = read_evidences(input, dispute.stage, now)?;
            dispute.evidences.extend(evidences);
            Ok(dispute.evidence_provided())
        },
    )
}

async fn appeal(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "appeal" },
        SellerAction::Appeal,
        |dispute, now| {
            let evidences = read_evidences(input, Stage::PreArbitration, now)?;
            dispute.evidences.extend(evidences);
            Ok(dispute.appealed())
        },
    )
}

async fn provide_supporting_info(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "provide-supporting-info" },
        SellerAction::ProvideSupportingInfo,
        |dispute, now| {
            let notes = input.text("notes", NOTE_MAX)?;
            if notes.is_none() && input.documents.is_empty() {
                return Err(super::super::order_request::missing("/notes").documented_at(DISPUTES_DOC));
            }
            dispute.supporting_info.push(SupportingInfo {
                notes,
                documents: input.documents,
                time: now,
                stage: dispute.stage,
            });
            Ok(Moved::Updated)
        },
    )
}

async fn send_message(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "send-message" },
        SellerAction::SendMessage,
        |dispute, now| {
            let content = input.required_text("message", NOTE_MAX)?;
            dispute.messages.push(Message { posted_by: Party::Seller, time: now, content, documents: input.documents });
            Ok(dispute.seller_messaged(now))
        },
    )
}

async fn acknowledge_return_item(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "acknowledge-return-item" },
        SellerAction::AcknowledgeReturnItem,
        |dispute, now| {
            input.text("note", NOTE_MAX)?;
            let acknowledgement = match input.text("acknowledgement_type", 255)? {
                None => AcknowledgementType::ItemReceived,
                Some(text) => {
                    AcknowledgementType::parse(&text).ok_or_else(|| invalid_value("/acknowledgement_type", &text))?
                }
            };
            Ok(dispute.return_acknowledged(acknowledgement == AcknowledgementType::ItemReceived, now))
        },
    )
}

async fn escalate(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    seller_action(
        &simulator,
        Call { merchant, id, headers, operation: "escalate" },
        SellerAction::Escalate,
        |dispute, now| {
            input.required_text("note", NOTE_MAX)?;
            Ok(dispute.escalate(false, now))
        },
    )
}

/// Offers are answered by the buyer; a merchant's token may not.
async fn buyer_only(_merchant: Merchant) -> Response {
    ApiError::v1(StatusCode::FORBIDDEN, "NOT_AUTHORIZED", "Authorization failed due to insufficient permissions.")
        .with(ErrorDetail::new("PERMISSION_DENIED", "Only the buyer may answer the seller's offer."))
        .documented_at(DISPUTES_DOC)
        .into_response()
}

/// A sandbox-only action, allowed while PayPal reviews the case.
fn review_action(
    simulator: &PaypalSimulator,
    call: Call,
    change: impl FnOnce(&mut Dispute, DateTime<Utc>) -> Moved,
) -> Response {
    let operation = call.operation;
    dispute_action(simulator, call, |dispute, now| {
        if dispute.status != DisputeStatus::UnderReview {
            return Err(not_allowed(dispute, operation));
        }
        Ok(change(dispute, now))
    })
}

async fn adjudicate(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    let buyer_favour = match input.required_text("adjudication_outcome", 255) {
        Ok(outcome) if outcome == "BUYER_FAVOR" => true,
        Ok(outcome) if outcome == "SELLER_FAVOR" => false,
        Ok(other) => return invalid_value("/adjudication_outcome", &other).into_response(),
        Err(error) => return error.into_response(),
    };
    review_action(&simulator, Call { merchant, id, headers, operation: "adjudicate" }, |dispute, now| {
        let reason = if buyer_favour { "DECISION_BASED_ON_AVAILABLE_INFORMATION" } else { "ITEM_SOLD_AS_DESCRIBED" };
        dispute.adjudicated(buyer_favour, reason, now)
    })
}

async fn require_evidence(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    input: ActionInput,
) -> Response {
    let from_seller = match input.required_text("action", 255) {
        Ok(action) if action == "SELLER_EVIDENCE" => true,
        Ok(action) if action == "BUYER_EVIDENCE" => false,
        Ok(other) => return invalid_value("/action", &other).into_response(),
        Err(error) => return error.into_response(),
    };
    review_action(&simulator, Call { merchant, id, headers, operation: "require-evidence" }, |dispute, now| {
        dispute.evidence_required(from_seller, now)
    })
}
