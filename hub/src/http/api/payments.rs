use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use payhub_core::id::PaymentId;
use payhub_core::money::MAX_PAYMENT_AMOUNT;
use payhub_core::options::{PaymentOptions, ProviderChoice};
use payhub_core::payment::{CaptureMethod, Payment, PaymentStatus};
use payhub_core::transition::Cause;
use payhub_core::{PaymentAmount, ProviderName};
use payhub_store::PaymentFilter;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, ListParams, fields};
use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency;
use crate::services::Reservation;
use crate::services::payments::PaymentRequest;

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new()
        .routes(routes!(create_payment, list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(cancel_payment))
        .routes(routes!(reconcile_payment))
        .routes(routes!(capture_payment))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    pub provider: ProviderName,
    /// Defaults to the provider's main channel (`paypal` for PayPal).
    pub channel: Option<String>,
    /// Minor units of `currency` (1050 = 10.50 USD).
    pub amount: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// The merchant's order number, for reconciliation and support.
    pub merchant_reference: Option<String>,
    pub description: Option<String>,
    pub customer_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Where the buyer lands after paying (payhub verifies the payment first).
    pub return_url: Option<String>,
    /// Where the buyer lands after giving up.
    pub cancel_url: Option<String>,
    /// Choices only one provider understands (`{"pingpp": {"use_order": true, "extra": {…}}}`).
    #[serde(default)]
    pub provider_options: PaymentOptions,
    /// `automatic` (default): the money is taken as soon as the buyer approves. `manual`: the
    /// buyer's approval only holds it (PayPal authorization, valid 29 days); the payment
    /// becomes `requires_capture` (event `payment.authorized`) until `POST
    /// /v1/payments/{id}/capture` takes it or `POST /v1/payments/{id}/cancel` releases it.
    /// Ping++ has no separate capture and refuses `manual`.
    #[serde(default)]
    pub capture_method: CaptureMethod,
}

/// What a payment request says by itself is checked here, before payhub looks at its
/// providers: a request wrong in itself hears so, whatever payhub's configuration.
impl TryFrom<CreatePayment> for PaymentRequest {
    type Error = ApiError;

    fn try_from(body: CreatePayment) -> Result<Self, ApiError> {
        let currency = fields::currency(&body.currency)?;
        let amount = PaymentAmount::parse(body.amount).map_err(|_| {
            let rule =
                format!("must be a positive number of minor units (cents for USD), at most {MAX_PAYMENT_AMOUNT}");
            ApiError::invalid("amount", rule)
        })?;
        let merchant_reference = fields::optional_text("merchant_reference", body.merchant_reference)?;
        let description = fields::optional_text("description", body.description)?;
        let customer_id = fields::optional_text("customer_id", body.customer_id)?;
        let return_url = fields::optional_url("return_url", body.return_url)?;
        let cancel_url = fields::optional_url("cancel_url", body.cancel_url)?;
        let metadata = fields::metadata(body.metadata)?;
        let provider = ProviderChoice::parse(body.provider, body.provider_options)
            .map_err(|e| ApiError::invalid(&format!("provider_options.{}", e.options_for), e.to_string()))?;
        Ok(PaymentRequest {
            provider,
            channel: body.channel,
            amount,
            currency,
            merchant_reference,
            description,
            customer_id,
            metadata,
            return_url,
            cancel_url,
            capture_method: body.capture_method,
        })
    }
}

#[utoipa::path(post, path = "/v1/payments", tag = "payments",
    params(("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = CreatePayment,
    responses(
        (status = 201, description = "Created; send the buyer to `next_action.redirect_url`", body = Payment),
        (status = 422, description = "Invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider failed; the payment is recorded as failed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_payment(
    State(hub): State<Hub>,
    caller: Caller,
    reservation: Reservation,
    ApiJson(body): ApiJson<CreatePayment>,
) -> Result<Response, ApiError> {
    let request = PaymentRequest::try_from(body)?;
    let answer = |payment: &Payment| idempotency::json_answer(StatusCode::CREATED, payment);
    Ok(idempotency::respond(hub.create_payment(caller.mode, &reservation, request, answer).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// Only payments in this status.
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
}

#[utoipa::path(get, path = "/v1/payments", tag = "payments", params(PaymentQuery),
    responses((status = 200, body = List<Payment>)))]
async fn list_payments(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PaymentQuery>,
) -> Result<Json<List<Payment>>, ApiError> {
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(PaymentStatus::parse(s).ok_or_else(|| {
            let known: Vec<_> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid("status", format!("unknown status `{s}`; use one of {}", known.join(", ")))
        })?),
    };
    let paging = ListParams { limit: query.limit, starting_after: query.starting_after };
    let filter = PaymentFilter { status, customer_id: query.customer_id };
    let page = hub.db.list_payments(caller.mode, &filter, paging.cursor(PaymentId::parse)?, paging.limit()?).await?;
    Ok(Json(List::new(page.items, page.has_more, |p| p.id.to_string())))
}

#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "pay_…")),
    responses((status = 200, body = Payment), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_payment(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<PaymentId>,
) -> Result<Json<Payment>, ApiError> {
    let payment = hub.db.payment(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("payment", id.as_str()))?;
    Ok(Json(payment))
}

#[utoipa::path(post, path = "/v1/payments/{id}/cancel", tag = "payments",
    params(("id" = String, Path, description = "pay_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses(
        (status = 200, description = "Canceled (or, if the buyer approved meanwhile, captured). A `requires_capture` payment's hold is released (PayPal: the authorization is voided): `canceled`, event `payment.canceled`", body = Payment),
        (status = 409, description = "The payment is past the point of canceling", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_payment(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<PaymentId>,
) -> Result<Json<Payment>, ApiError> {
    let payment = hub.db.payment(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("payment", id.as_str()))?;
    let payment = match payment.status() {
        PaymentStatus::RequiresCapture => hub.release_held_payment(&payment, &Cause::Api).await?,
        _ => hub.end_unpaid_payment(&payment, PaymentStatus::Canceled, &Cause::Api).await?,
    };
    Ok(Json(payment))
}

#[utoipa::path(post, path = "/v1/payments/{id}/reconcile", tag = "payments",
    params(("id" = String, Path, description = "pay_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses(
        (status = 200, description = "The provider was asked now and its answer applied, as the reconciler does", body = Payment),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be asked; the reconciler tries again on schedule", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reconcile_payment(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<PaymentId>,
) -> Result<Json<Payment>, ApiError> {
    let payment = hub.db.payment(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("payment", id.as_str()))?;
    let applied = hub.sync_payment(&payment, None, &Cause::Api, None).await?;
    Ok(Json(applied.payment))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapturePayment {
    /// Minor units to capture, at most `amount_capturable`; all of it when absent. A capture
    /// is final: what it does not take is released to the buyer at once.
    pub amount: Option<i64>,
}

/// Takes the money of a payment created with `capture_method` `manual` once the buyer approved
/// it (`requires_capture`). The payment becomes `succeeded` with `amount_captured` (event
/// `payment.succeeded`, as for automatic capture: every status has one event, and
/// `payment.authorized` announced the hold); refunds go up to `amount_captured`.
#[utoipa::path(post, path = "/v1/payments/{id}/capture", tag = "payments",
    params(("id" = String, Path, description = "pay_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = CapturePayment,
    responses(
        (status = 200, description = "Captured: `succeeded` (or `processing` while the provider reviews the capture)", body = Payment),
        (status = 409, description = "The payment is not `requires_capture`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The amount is not positive or exceeds `amount_capturable`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider refused or failed (e.g. the authorization expired)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn capture_payment(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<PaymentId>,
    ApiJson(body): ApiJson<CapturePayment>,
) -> Result<Json<Payment>, ApiError> {
    let amount = body
        .amount
        .map(|amount| {
            PaymentAmount::parse(amount)
                .map_err(|_| ApiError::invalid("amount", "must be a positive number of minor units (cents for USD)"))
        })
        .transpose()?;
    Ok(Json(hub.capture_payment(caller.mode, &id, amount).await?))
}
