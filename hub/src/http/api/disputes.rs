//! Disputes: read them, list them (what needs an answer, and by when), and answer them.
//! Answers go to the provider only when the dispute allows them now; documents are checked
//! against the provider's limits before anything is sent.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use payhub_core::PositiveAmount;
use payhub_core::dispute::{Dispute, DisputeStatus};
use payhub_core::id::{DisputeId, PaymentId};
use payhub_core::merchant::MerchantText;
use payhub_paypal::{DocumentRefusal, check_documents};
use payhub_store::DisputeFilter;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, ListParams};
use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem, ProblemType};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::providers::{DisputeDocument, DisputeResponse, OfferKind};

/// Evidence, appeals and messages carry documents: up to the provider's 50 MB, and the form around them.
pub const DOCUMENT_BODY_LIMIT: usize = payhub_paypal::MAX_TOTAL_DOCUMENT_BYTES + 1024 * 1024;

type Note = MerchantText<2000>;

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new()
        .routes(routes!(list_disputes))
        .routes(routes!(get_dispute))
        .routes(routes!(list_payment_disputes))
        .routes(routes!(accept))
        .routes(routes!(offer))
        .routes(routes!(acknowledge_return))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(send_message))
                .routes(routes!(provide_evidence))
                .routes(routes!(appeal))
                .layer(DefaultBodyLimit::max(DOCUMENT_BODY_LIMIT)),
        )
}

/// The largest body a path takes: documents on the evidence, appeal and message routes, small
/// JSON everywhere else.
pub fn body_limit(path: &str) -> Option<usize> {
    let documents = path.starts_with("/v1/disputes/")
        && ["/evidence", "/appeal", "/messages"].iter().any(|action| path.ends_with(action));
    documents.then_some(DOCUMENT_BODY_LIMIT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputeQuery {
    /// `needs_response`, `waiting_for_buyer`, `under_review`, `won`, `lost` or `accepted`.
    pub status: Option<String>,
    /// Only the disputes of this payment (`pay_…`).
    pub payment: Option<String>,
    /// `true`: only the disputes waiting for the merchant's answer.
    pub needs_response: Option<bool>,
    /// Only disputes whose answer is due before this time (RFC 3339).
    pub due_before: Option<String>,
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
}

impl TryFrom<&DisputeQuery> for DisputeFilter {
    type Error = ApiError;

    fn try_from(query: &DisputeQuery) -> Result<Self, ApiError> {
        let status = query
            .status
            .as_deref()
            .map(|status| {
                DisputeStatus::parse(status).ok_or_else(|| {
                    let known: Vec<&str> = DisputeStatus::ALL.iter().map(|s| s.as_str()).collect();
                    ApiError::invalid("status", format!("must be one of {}", known.join(", ")))
                })
            })
            .transpose()?;
        let status = match (status, query.needs_response) {
            (Some(status), Some(true)) if status != DisputeStatus::NeedsResponse => {
                return Err(ApiError::invalid("needs_response", format!("contradicts status `{}`", status.as_str())));
            }
            (_, Some(true)) => Some(DisputeStatus::NeedsResponse),
            (status, _) => status,
        };
        let payment_id = query
            .payment
            .as_deref()
            .map(|id| {
                PaymentId::parse_exact(id).ok_or_else(|| ApiError::invalid("payment", "must be a payment id (pay_…)"))
            })
            .transpose()?;
        let due_before = query
            .due_before
            .as_deref()
            .map(|at| {
                DateTime::parse_from_rfc3339(at)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|_| ApiError::invalid("due_before", "must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z"))
            })
            .transpose()?;
        Ok(DisputeFilter { status, payment_id, due_before })
    }
}

#[utoipa::path(get, path = "/v1/disputes", tag = "disputes", params(DisputeQuery),
    responses((status = 200, body = List<Dispute>)))]
async fn list_disputes(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(query): ApiQuery<DisputeQuery>,
) -> Result<Json<List<Dispute>>, ApiError> {
    let filter = DisputeFilter::try_from(&query)?;
    let paging = ListParams { limit: query.limit, starting_after: query.starting_after };
    let page = hub.db.list_disputes(caller.mode, &filter, paging.cursor(DisputeId::parse)?, paging.limit()?).await?;
    Ok(Json(List::new(page.items, page.has_more, |d| d.id.to_string())))
}

#[utoipa::path(get, path = "/v1/disputes/{id}", tag = "disputes",
    params(("id" = String, Path, description = "dp_…")),
    responses((status = 200, body = Dispute), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_dispute(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<DisputeId>,
) -> Result<Json<Dispute>, ApiError> {
    let dispute = hub.db.dispute(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("dispute", id.as_str()))?;
    Ok(Json(dispute))
}

#[utoipa::path(get, path = "/v1/payments/{id}/disputes", tag = "disputes",
    params(("id" = String, Path, description = "pay_…")),
    responses((status = 200, body = List<Dispute>), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_payment_disputes(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(payment_id): ApiPath<PaymentId>,
) -> Result<Json<List<Dispute>>, ApiError> {
    if hub.db.payment(caller.mode, &payment_id).await?.is_none() {
        return Err(ApiError::not_found("payment", payment_id.as_str()));
    }
    let disputes = hub.db.payment_disputes(&payment_id).await?;
    Ok(Json(List::new(disputes, false, |d| d.id.to_string())))
}

/// The provider's request id for an answer: the same Idempotency-Key asks the same thing.
fn request_id(id: &DisputeId, headers: &HeaderMap) -> String {
    let key = headers.get("idempotency-key").and_then(|value| value.to_str().ok()).unwrap_or_default();
    format!("{id}-{key}")
}

fn optional_note(field: &str, note: Option<String>) -> Result<Option<String>, ApiError> {
    note.map(Note::parse)
        .transpose()
        .map(|note| note.map(Note::into_string))
        .map_err(|e| ApiError::invalid(field, e.to_string()))
}

fn required_note(field: &str, note: String) -> Result<String, ApiError> {
    Note::parse(note).map(Note::into_string).map_err(|_| ApiError::invalid(field, "must be 1 to 2000 characters"))
}

fn amount(field: &str, amount: Option<i64>) -> Result<Option<PositiveAmount>, ApiError> {
    amount.map(PositiveAmount::parse).transpose().map_err(|e| ApiError::invalid(field, e.to_string()))
}

async fn respond(
    hub: &Hub,
    caller: &Caller,
    id: &DisputeId,
    headers: &HeaderMap,
    response: impl FnOnce(&Dispute) -> DisputeResponse,
) -> Result<Json<Dispute>, ApiError> {
    let dispute = hub.db.dispute(caller.mode, id).await?.ok_or_else(|| ApiError::not_found("dispute", id.as_str()))?;
    let answered = hub.respond_to_dispute(caller.mode, id, response(&dispute), &request_id(id, headers)).await?;
    Ok(Json(answered))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptDispute {
    pub note: Option<String>,
    /// Minor units, less than the disputed amount for a partial refund; omit to refund it all.
    pub amount: Option<i64>,
}

#[utoipa::path(post, path = "/v1/disputes/{id}/accept", tag = "disputes",
    params(("id" = String, Path, description = "dp_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = AcceptDispute,
    responses((status = 200, description = "Accepted at the provider; the dispute as it now is", body = Dispute),
        (status = 409, description = "The dispute does not allow it now", body = Problem, content_type = "application/problem+json")))]
async fn accept(
    State(hub): State<Hub>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<DisputeId>,
    ApiJson(body): ApiJson<AcceptDispute>,
) -> Result<Json<Dispute>, ApiError> {
    let note = optional_note("note", body.note)?;
    let amount = amount("amount", body.amount)?;
    respond(&hub, &caller, &id, &headers, |dispute| DisputeResponse::Accept {
        note,
        amount: amount.map(|amount| amount.of(dispute.currency)),
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferDispute {
    /// `refund`, `refund_with_return`, `refund_with_replacement` or `replacement_without_refund`.
    pub kind: String,
    /// Minor units of the dispute's currency; required unless `kind` is a replacement.
    pub amount: Option<i64>,
    /// What the buyer reads.
    pub note: String,
}

#[utoipa::path(post, path = "/v1/disputes/{id}/offer", tag = "disputes",
    params(("id" = String, Path, description = "dp_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = OfferDispute,
    responses((status = 200, body = Dispute),
        (status = 409, description = "The dispute does not allow it now", body = Problem, content_type = "application/problem+json")))]
async fn offer(
    State(hub): State<Hub>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<DisputeId>,
    ApiJson(body): ApiJson<OfferDispute>,
) -> Result<Json<Dispute>, ApiError> {
    let kind = OfferKind::parse(&body.kind).ok_or_else(|| {
        let known: Vec<&str> = OfferKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::invalid("kind", format!("must be one of {}", known.join(", ")))
    })?;
    let amount = amount("amount", body.amount)?;
    if amount.is_none() && kind != OfferKind::ReplacementWithoutRefund {
        return Err(ApiError::invalid("amount", format!("is required for a `{}` offer", kind.as_str())));
    }
    let note = required_note("note", body.note)?;
    respond(&hub, &caller, &id, &headers, |dispute| DisputeResponse::Offer {
        kind,
        amount: amount.map(|amount| amount.of(dispute.currency)),
        note,
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeMessageRequest {
    pub text: String,
}

#[utoipa::path(post, path = "/v1/disputes/{id}/messages", tag = "disputes",
    params(("id" = String, Path, description = "dp_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body(content_type = "application/json", content = DisputeMessageRequest,
        description = "JSON `{\"text\": …}`, or `multipart/form-data` with `text` and files (as for `/evidence`)"),
    responses((status = 200, body = Dispute),
        (status = 409, description = "The dispute does not allow it now", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A document the provider would refuse", body = Problem, content_type = "application/problem+json")))]
async fn send_message(
    State(hub): State<Hub>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<DisputeId>,
    request: Request,
) -> Result<Json<Dispute>, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("multipart/form-data"));
    let (text, documents) = if form {
        let form = Multipart::from_request(request, &hub).await.map_err(not_a_form)?;
        let (mut texts, documents) = read_form(form, &["text"]).await?;
        (take_text(&mut texts, "text").unwrap_or_default(), documents)
    } else {
        let ApiJson(body) = ApiJson::<DisputeMessageRequest>::from_request(request, &hub).await?;
        (body.text, Vec::new())
    };
    let text = required_note("text", text)?;
    respond(&hub, &caller, &id, &headers, |_| DisputeResponse::Message { text, documents }).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeReturn {
    /// Whether the returned item arrived as expected (default true).
    #[serde(default = "yes")]
    pub received: bool,
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

#[utoipa::path(post, path = "/v1/disputes/{id}/acknowledge_return", tag = "disputes",
    params(("id" = String, Path, description = "dp_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = AcknowledgeReturn,
    responses((status = 200, body = Dispute),
        (status = 409, description = "The dispute does not allow it now", body = Problem, content_type = "application/problem+json")))]
async fn acknowledge_return(
    State(hub): State<Hub>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<DisputeId>,
    ApiJson(body): ApiJson<AcknowledgeReturn>,
) -> Result<Json<Dispute>, ApiError> {
    let note = optional_note("note", body.note)?;
    let received = body.received;
    respond(&hub, &caller, &id, &headers, |_| DisputeResponse::AcknowledgeReturn { received, note }).await
}

/// Evidence as a form: `kind` (the provider's evidence type, default `OTHER`), `note`, and any
/// number of files.
struct EvidenceForm {
    kind: String,
    note: Option<String>,
    documents: Vec<DisputeDocument>,
}

fn form_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(ProblemType::MalformedRequest, format!("the multipart form cannot be read: {detail}"))
}

fn not_a_form(rejection: MultipartRejection) -> ApiError {
    ApiError::new(
        ProblemType::UnsupportedMediaType,
        format!("send the form as `multipart/form-data` ({})", rejection.body_text()),
    )
}

fn document_refused(refusal: DocumentRefusal) -> ApiError {
    ApiError::new(ProblemType::DisputeDocumentRefused, refusal.to_string())
}

/// A multipart form's text fields (only those named in `fields`) and its files, with the files
/// held to the provider's limits.
async fn read_form(
    mut form: Multipart,
    fields: &[&str],
) -> Result<(Vec<(String, String)>, Vec<DisputeDocument>), ApiError> {
    let mut texts = Vec::new();
    let mut documents = Vec::new();
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                let content = field.bytes().await.map_err(form_error)?.to_vec();
                documents.push(DisputeDocument { file_name, content_type, content });
            }
            None if fields.contains(&name.as_str()) => texts.push((name, field.text().await.map_err(form_error)?)),
            None => {
                let detail = format!("is not a field of this form ({}, and files)", fields.join(", "));
                return Err(ApiError::invalid(&name, detail));
            }
        }
    }
    check_documents(documents.iter().map(|d| (d.file_name.as_str(), d.content.len()))).map_err(document_refused)?;
    Ok((texts, documents))
}

/// The last value of a form's text field.
fn take_text(texts: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let mut found = None;
    texts.retain_mut(|(field, value)| {
        if field == name {
            found = Some(std::mem::take(value));
        }
        field != name
    });
    found
}

async fn read_evidence(form: Multipart) -> Result<EvidenceForm, ApiError> {
    let (mut texts, documents) = read_form(form, &["kind", "note"]).await?;
    let kind = match take_text(&mut texts, "kind") {
        None => "OTHER".to_owned(),
        Some(kind) if !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => kind,
        Some(_) => {
            return Err(ApiError::invalid("kind", "must be the provider's evidence type, e.g. PROOF_OF_FULFILLMENT"));
        }
    };
    let note = optional_note("note", take_text(&mut texts, "note"))?;
    if note.is_none() && documents.is_empty() {
        return Err(ApiError::invalid("note", "send a note or at least one file"));
    }
    Ok(EvidenceForm { kind, note, documents })
}

#[utoipa::path(post, path = "/v1/disputes/{id}/evidence", tag = "disputes",
    params(("id" = String, Path, description = "dp_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body(content_type = "multipart/form-data", description = "`kind` (e.g. PROOF_OF_FULFILLMENT, default OTHER), `note`, and files (.jpg, .jpeg, .gif, .png, .pdf; each under 10 MB, 50 MB in all)"),
    responses((status = 200, body = Dispute),
        (status = 409, description = "The dispute does not allow it now", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A document the provider would refuse", body = Problem, content_type = "application/problem+json")))]
async fn provide_evidence(
    State(hub): State<Hub>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<DisputeId>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Dispute>, ApiError> {
    let EvidenceForm { kind, note, documents } = read_evidence(form.map_err(not_a_form)?).await?;
    respond(&hub, &caller, &id, &headers, |_| DisputeResponse::Evidence { kind, note, documents }).await
}

#[utoipa::path(post, path = "/v1/disputes/{id}/appeal", tag = "disputes",
    params(("id" = String, Path, description = "dp_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body(content_type = "multipart/form-data", description = "New evidence: `kind`, `note`, and files, as for `/evidence`"),
    responses((status = 200, body = Dispute),
        (status = 409, description = "The dispute does not allow it now", body = Problem, content_type = "application/problem+json")))]
async fn appeal(
    State(hub): State<Hub>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<DisputeId>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Dispute>, ApiError> {
    let EvidenceForm { kind, note, documents } = read_evidence(form.map_err(not_a_form)?).await?;
    respond(&hub, &caller, &id, &headers, |_| DisputeResponse::Appeal { kind, note, documents }).await
}
