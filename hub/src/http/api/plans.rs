use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use payhub_core::ProviderName;
use payhub_core::id::PlanId;
use payhub_core::subscription::{BillingCycle, FailureThreshold, Plan, PlanBilling, TaxRate, regular_price};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, ListParams, fields};
use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::services::subscriptions::PlanRequest;

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new()
        .routes(routes!(create_plan, list_plans))
        .routes(routes!(get_plan))
        .routes(routes!(activate_plan))
        .routes(routes!(deactivate_plan))
        .routes(routes!(change_price))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    /// Only `paypal` offers subscriptions.
    #[serde(default = "paypal")]
    pub provider: ProviderName,
    pub name: String,
    /// Plans of one product can be switched between (defaults to the plan's name).
    pub product: Option<String>,
    pub description: Option<String>,
    #[schema(example = "USD")]
    pub currency: String,
    /// Up to two trial cycles, in order (a free trial has `price` 0).
    #[serde(default)]
    pub trial_cycles: Vec<BillingCycle>,
    pub regular_cycle: BillingCycle,
    /// Minor units, charged once at the start.
    #[serde(default)]
    pub setup_fee: i64,
    /// Tax on top of each charge in hundredths of a percent (1000 = 10%).
    #[serde(default)]
    pub tax_basis_points: u32,
    /// Consecutive failed renewals before the subscription is suspended (default 3).
    #[serde(default = "three")]
    pub payment_failure_threshold: u32,
    /// What subscribers are entitled to, e.g. `premium`.
    pub entitlement: String,
}

fn paypal() -> ProviderName {
    ProviderName::Paypal
}

fn three() -> u32 {
    3
}

/// What a plan says by itself is checked here, before payhub looks at its providers.
impl TryFrom<CreatePlan> for PlanRequest {
    type Error = ApiError;

    fn try_from(body: CreatePlan) -> Result<Self, ApiError> {
        let name = fields::required_text("name", body.name)?;
        let product = match body.product {
            Some(product) => fields::required_text("product", product)?,
            None => name.clone(),
        };
        let entitlement = fields::required_text("entitlement", body.entitlement)?;
        let currency = fields::currency(&body.currency)?;
        let billing = PlanBilling::parse(body.trial_cycles, body.regular_cycle, body.setup_fee)
            .map_err(|(field, message)| ApiError::invalid(&field, message))?;
        let payment_failure_threshold = FailureThreshold::parse(body.payment_failure_threshold)
            .map_err(|e| ApiError::invalid("payment_failure_threshold", e.to_string()))?;
        let tax =
            TaxRate::parse(body.tax_basis_points).map_err(|e| ApiError::invalid("tax_basis_points", e.to_string()))?;
        Ok(PlanRequest {
            provider: body.provider,
            name,
            product,
            description: body.description,
            currency,
            billing,
            tax,
            payment_failure_threshold,
            entitlement,
        })
    }
}

#[utoipa::path(post, path = "/v1/plans", tag = "plans",
    params(("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = CreatePlan,
    responses((status = 201, body = Plan), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_plan(
    State(hub): State<Hub>,
    caller: Caller,
    ApiJson(body): ApiJson<CreatePlan>,
) -> Result<(StatusCode, Json<Plan>), ApiError> {
    let request = PlanRequest::try_from(body)?;
    Ok((StatusCode::CREATED, Json(hub.create_plan(caller.mode, request).await?)))
}

#[utoipa::path(get, path = "/v1/plans", tag = "plans", params(ListParams), responses((status = 200, body = List<Plan>)))]
async fn list_plans(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Json<List<Plan>>, ApiError> {
    let page = hub.db.list_plans(caller.mode, paging.cursor(PlanId::parse)?, paging.limit()?).await?;
    Ok(Json(List::new(page.items, page.has_more, |p| p.id.to_string())))
}

#[utoipa::path(get, path = "/v1/plans/{id}", tag = "plans", params(("id" = String, Path, description = "plan_…")),
    responses((status = 200, body = Plan), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_plan(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<PlanId>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(hub.db.plan(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("plan", id.as_str()))?))
}

#[utoipa::path(post, path = "/v1/plans/{id}/activate", tag = "plans",
    params(("id" = String, Path, description = "plan_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses((status = 200, body = Plan)))]
async fn activate_plan(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<PlanId>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(hub.set_plan_active(caller.mode, &id, true).await?))
}

#[utoipa::path(post, path = "/v1/plans/{id}/deactivate", tag = "plans",
    params(("id" = String, Path, description = "plan_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses((status = 200, description = "No new subscriptions; existing ones go on", body = Plan)))]
async fn deactivate_plan(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<PlanId>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(hub.set_plan_active(caller.mode, &id, false).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePrice {
    /// The new regular price per cycle, in minor units.
    pub price: i64,
}

#[utoipa::path(post, path = "/v1/plans/{id}/price", tag = "plans",
    params(("id" = String, Path, description = "plan_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = ChangePrice,
    responses((status = 200, description = "Subscribers pay the new price from their next cycle", body = Plan)))]
async fn change_price(
    State(hub): State<Hub>,
    caller: Caller,
    path: Result<ApiPath<PlanId>, ApiError>,
    ApiJson(body): ApiJson<ChangePrice>,
) -> Result<Json<Plan>, ApiError> {
    let price = regular_price(body.price).map_err(|message| ApiError::invalid("price", message))?;
    let ApiPath(id) = path?;
    Ok(Json(hub.change_plan_price(caller.mode, &id, price).await?))
}
