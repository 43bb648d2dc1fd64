use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use payhub_core::PositiveAmount;
use payhub_core::id::{PaymentId, RefundId};
use payhub_core::options::RefundOptions;
use payhub_core::payment::RefundRejection;
use payhub_core::refund::{Refund, RefundReason};
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
use crate::services::Reservation;
use crate::services::refunds::RefundRequest;

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new()
        .routes(routes!(create_refund, list_payment_refunds))
        .routes(routes!(list_refunds))
        .routes(routes!(get_refund))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// Minor units; omit to refund everything still refundable.
    pub amount: Option<i64>,
    /// Shown to the buyer where the provider supports it.
    pub reason: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Choices only one provider understands (`{"pingpp": {"refund_mode": "to_balance"}}`).
    #[serde(default)]
    pub provider_options: RefundOptions,
}

/// What a refund request says by itself is checked here; how much may be refunded depends on
/// the payment, which the service checks under its lock.
impl TryFrom<CreateRefund> for RefundRequest {
    type Error = ApiError;

    fn try_from(body: CreateRefund) -> Result<Self, ApiError> {
        let reason =
            body.reason.map(RefundReason::parse).transpose().map_err(|e| ApiError::invalid("reason", e.to_string()))?;
        let metadata = fields::metadata(body.metadata)?;
        let amount = body
            .amount
            .map(PositiveAmount::parse)
            .transpose()
            .map_err(|_| ApiError::invalid("amount", RefundRejection::NotPositive.to_string()))?;
        Ok(RefundRequest { amount, reason, metadata, provider_options: body.provider_options })
    }
}

#[utoipa::path(post, path = "/v1/payments/{id}/refunds", tag = "refunds",
    params(("id" = String, Path, description = "pay_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = CreateRefund,
    responses(
        (status = 201, description = "Created; `pending` until the provider settles it (which may take days)", body = Refund),
        (status = 422, description = "More than what is still refundable (`remaining` says how much is)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The provider did not answer; the refund stays pending and is confirmed automatically", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_refund(
    State(hub): State<Hub>,
    caller: Caller,
    reservation: Reservation,
    path: Result<ApiPath<PaymentId>, ApiError>,
    ApiJson(body): ApiJson<CreateRefund>,
) -> Result<(StatusCode, Json<Refund>), ApiError> {
    // A request wrong in both its body and its payment id hears about the body first, as it
    // always has: an unknown payment is only found out when the refund is attempted.
    let request = RefundRequest::try_from(body)?;
    let ApiPath(payment_id) = path?;
    let refund = hub.create_refund(caller.mode, &payment_id, &reservation, request).await?;
    Ok((StatusCode::CREATED, Json(refund)))
}

#[utoipa::path(get, path = "/v1/payments/{id}/refunds", tag = "refunds",
    params(("id" = String, Path, description = "pay_…"), ListParams),
    responses((status = 200, body = List<Refund>)))]
async fn list_payment_refunds(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(payment_id): ApiPath<PaymentId>,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Json<List<Refund>>, ApiError> {
    if hub.db.payment(caller.mode, &payment_id).await?.is_none() {
        return Err(ApiError::not_found("payment", payment_id.as_str()));
    }
    list(&hub, caller, Some(payment_id.as_str()), paging).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundQuery {
    pub payment_id: Option<String>,
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
}

#[utoipa::path(get, path = "/v1/refunds", tag = "refunds", params(RefundQuery),
    responses((status = 200, body = List<Refund>)))]
async fn list_refunds(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RefundQuery>,
) -> Result<Json<List<Refund>>, ApiError> {
    let paging = ListParams { limit: query.limit, starting_after: query.starting_after };
    list(&hub, caller, query.payment_id.as_deref(), paging).await
}

async fn list(
    hub: &Hub,
    caller: Caller,
    payment_id: Option<&str>,
    paging: ListParams,
) -> Result<Json<List<Refund>>, ApiError> {
    let page = hub.db.list_refunds(caller.mode, payment_id, paging.cursor(RefundId::parse)?, paging.limit()?).await?;
    Ok(Json(List::new(page.items, page.has_more, |r| r.id.to_string())))
}

#[utoipa::path(get, path = "/v1/refunds/{id}", tag = "refunds",
    params(("id" = String, Path, description = "re_…")),
    responses((status = 200, body = Refund), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_refund(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<RefundId>,
) -> Result<Json<Refund>, ApiError> {
    let refund = hub.db.refund(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("refund", id.as_str()))?;
    Ok(Json(refund))
}
