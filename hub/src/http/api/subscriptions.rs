use std::num::NonZeroU32;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use payhub_core::entitlement::Entitlement;
use payhub_core::id::{EntitlementId, PlanId, SubscriptionId};
use payhub_core::payment::Payment;
use payhub_core::subscription::Subscription;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, ListParams, fields};
use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::providers::SubscriptionCommand;
use crate::services::Reservation;
use crate::services::subscriptions::{SubscriptionChangeRequest, SubscriptionRequest};

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new()
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(get_subscription))
        .routes(routes!(cancel_subscription))
        .routes(routes!(suspend_subscription))
        .routes(routes!(resume_subscription))
        .routes(routes!(change_subscription))
        .routes(routes!(subscription_payments))
        .routes(routes!(customer_entitlements))
        .routes(routes!(list_entitlements))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    pub plan_id: String,
    /// The merchant's customer, who is granted the plan's entitlement.
    pub customer_id: String,
    #[serde(default = "one")]
    pub quantity: u32,
    /// Where the subscriber lands after approving at the provider.
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

fn one() -> u32 {
    1
}

/// What a subscription request says by itself is checked here; whether its plan exists and is
/// active, the service finds out.
impl TryFrom<CreateSubscription> for SubscriptionRequest {
    type Error = ApiError;

    fn try_from(body: CreateSubscription) -> Result<Self, ApiError> {
        let customer_id = fields::required_text("customer_id", body.customer_id)?;
        let metadata = fields::metadata(body.metadata)?;
        let quantity = quantity(body.quantity)?;
        // The subscriber's browser is sent to these after approving: only web addresses.
        let return_url = fields::optional_url("return_url", body.return_url)?;
        let cancel_url = fields::optional_url("cancel_url", body.cancel_url)?;
        // A malformed id names no plan: refused as an unknown plan is.
        let plan_id = PlanId::parse_exact(&body.plan_id)
            .ok_or_else(|| ApiError::invalid("plan_id", format!("no plan `{}` in this mode", body.plan_id)))?;
        Ok(SubscriptionRequest { plan_id, customer_id, quantity, return_url, cancel_url, metadata })
    }
}

fn quantity(units: u32) -> Result<NonZeroU32, ApiError> {
    NonZeroU32::new(units).ok_or_else(|| ApiError::invalid("quantity", "must be at least 1"))
}

#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions",
    params(("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "`approval_pending`: send the subscriber to `next_action.redirect_url`", body = Subscription),
        (status = 422, description = "Unknown or inactive plan", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_subscription(
    State(hub): State<Hub>,
    caller: Caller,
    reservation: Reservation,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let request = SubscriptionRequest::try_from(body)?;
    Ok((StatusCode::CREATED, Json(hub.create_subscription(caller.mode, &reservation, request).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    pub customer_id: Option<String>,
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
}

#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", params(SubscriptionQuery),
    responses((status = 200, body = List<Subscription>)))]
async fn list_subscriptions(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SubscriptionQuery>,
) -> Result<Json<List<Subscription>>, ApiError> {
    let paging = ListParams { limit: query.limit, starting_after: query.starting_after };
    let page = hub
        .db
        .list_subscriptions(
            caller.mode,
            query.customer_id.as_deref(),
            paging.cursor(SubscriptionId::parse)?,
            paging.limit()?,
        )
        .await?;
    Ok(Json(List::new(page.items, page.has_more, |s| s.id.to_string())))
}

#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path, description = "sub_…")),
    responses((status = 200, body = Subscription), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_subscription(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<SubscriptionId>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(
        hub.db.subscription(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("subscription", id.as_str()))?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelSubscription {
    /// `true` (the default): access continues to the end of the paid period. `false`: access
    /// ends now.
    #[serde(default = "yes")]
    pub at_period_end: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = CancelSubscription,
    responses(
        (status = 200, body = Subscription),
        (status = 409, description = "Already canceled or expired; `status` says which", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_subscription(
    State(hub): State<Hub>,
    caller: Caller,
    path: Result<ApiPath<SubscriptionId>, ApiError>,
    ApiJson(body): ApiJson<CancelSubscription>,
) -> Result<Json<Subscription>, ApiError> {
    let ApiPath(id) = path?;
    Ok(Json(hub.command_subscription(caller.mode, &id, SubscriptionCommand::Cancel, !body.at_period_end).await?))
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/suspend", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses((status = 200, body = Subscription), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn suspend_subscription(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<SubscriptionId>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(hub.command_subscription(caller.mode, &id, SubscriptionCommand::Suspend, false).await?))
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses((status = 200, body = Subscription), (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn resume_subscription(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<SubscriptionId>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(hub.command_subscription(caller.mode, &id, SubscriptionCommand::Resume, false).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSubscription {
    pub plan_id: Option<String>,
    pub quantity: Option<u32>,
}

impl TryFrom<ChangeSubscription> for SubscriptionChangeRequest {
    type Error = ApiError;

    fn try_from(body: ChangeSubscription) -> Result<Self, ApiError> {
        let plan_id = body
            .plan_id
            .map(|raw| {
                PlanId::parse_exact(&raw)
                    .ok_or_else(|| ApiError::invalid("plan_id", format!("no active plan `{raw}` in this mode")))
            })
            .transpose()?;
        let quantity = body.quantity.map(quantity).transpose()?;
        Ok(SubscriptionChangeRequest { plan_id, quantity })
    }
}

#[utoipa::path(post, path = "/v1/subscriptions/{id}/change", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = ChangeSubscription,
    responses((status = 200, description = "Changed; if the provider wants the subscriber's approval, `next_action` says where", body = Subscription)))]
async fn change_subscription(
    State(hub): State<Hub>,
    caller: Caller,
    path: Result<ApiPath<SubscriptionId>, ApiError>,
    ApiJson(body): ApiJson<ChangeSubscription>,
) -> Result<Json<Subscription>, ApiError> {
    let change = SubscriptionChangeRequest::try_from(body)?;
    let ApiPath(id) = path?;
    Ok(Json(hub.change_subscription(caller.mode, &id, change).await?))
}

#[utoipa::path(get, path = "/v1/subscriptions/{id}/payments", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_…")),
    responses((status = 200, description = "Every charge of the subscription, newest first", body = List<Payment>)))]
async fn subscription_payments(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<SubscriptionId>,
) -> Result<Json<List<Payment>>, ApiError> {
    if hub.db.subscription(caller.mode, &id).await?.is_none() {
        return Err(ApiError::not_found("subscription", id.as_str()));
    }
    let payments = hub.db.subscription_payments(&id).await?;
    Ok(Json(List::new(payments, false, |p| p.id.to_string())))
}

/// What a customer may use right now, and every entitlement they had.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerEntitlements {
    pub customer_id: String,
    /// The entitlements in force now (e.g. `["premium"]`).
    pub active: Vec<String>,
    pub data: Vec<Entitlement>,
}

#[utoipa::path(get, path = "/v1/customers/{id}/entitlements", tag = "entitlements",
    params(("id" = String, Path, description = "the merchant's customer id")),
    responses((status = 200, body = CustomerEntitlements)))]
async fn customer_entitlements(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(customer_id): ApiPath<String>,
) -> Result<Json<CustomerEntitlements>, ApiError> {
    let now = hub.clock.now();
    let data = hub.db.customer_entitlements(caller.mode, &customer_id).await?;
    let mut active: Vec<String> = data.iter().filter(|e| e.is_active_at(now)).map(|e| e.entitlement.clone()).collect();
    active.sort();
    active.dedup();
    Ok(Json(CustomerEntitlements { customer_id, active, data }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntitlementQuery {
    pub customer_id: Option<String>,
    /// Only entitlements granting this (e.g. `premium`).
    pub entitlement: Option<String>,
    /// `true`: only those in force now; `false`: only those that are not.
    pub active: Option<bool>,
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
}

#[utoipa::path(get, path = "/v1/entitlements", tag = "entitlements", params(EntitlementQuery),
    responses((status = 200, description = "Newest first", body = List<Entitlement>)))]
async fn list_entitlements(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EntitlementQuery>,
) -> Result<Json<List<Entitlement>>, ApiError> {
    let paging = ListParams { limit: query.limit, starting_after: query.starting_after };
    let page = hub
        .db
        .list_entitlements(
            caller.mode,
            query.customer_id.as_deref(),
            query.entitlement.as_deref(),
            paging.cursor(EntitlementId::parse)?,
            paging.limit()?,
        )
        .await?;
    let now = hub.clock.now();
    let items =
        page.items.into_iter().filter(|e| query.active.is_none_or(|active| e.is_active_at(now) == active)).collect();
    Ok(Json(List::new(items, page.has_more, |e: &Entitlement| e.id.to_string())))
}
