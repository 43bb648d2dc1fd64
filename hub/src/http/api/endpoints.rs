use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::event::EventFilters;
use payhub_core::id::WebhookEndpointId;
use payhub_core::merchant::AbsoluteUrl;
use payhub_store::WebhookEndpoint;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, ListParams};
use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::CarriesSecret;
use crate::services::Reservation;
use crate::services::endpoints::{self as service, DEFAULT_OVERLAP, EndpointRegistration, MAX_OVERLAP, Revealed};

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(disable_endpoint))
        .routes(routes!(enable_endpoint))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// Where events are POSTed.
    pub url: String,
    /// Exact types (`refund.succeeded`), families (`payment.*`) or `*` (the default).
    #[serde(default = "everything")]
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

fn everything() -> Vec<String> {
    vec!["*".into()]
}

/// An endpoint as a merchant may register it: a URL events can be POSTed to, and filters that
/// each select some event.
struct EndpointRequest {
    url: AbsoluteUrl,
    event_types: EventFilters,
    description: Option<String>,
}

impl TryFrom<CreateWebhookEndpoint> for EndpointRequest {
    type Error = ApiError;

    fn try_from(body: CreateWebhookEndpoint) -> Result<Self, ApiError> {
        let url = AbsoluteUrl::parse(body.url).map_err(|e| ApiError::invalid("url", e.to_string()))?;
        let event_types =
            EventFilters::parse(body.event_types).map_err(|e| ApiError::invalid("event_types", e.to_string()))?;
        Ok(EndpointRequest { url, event_types, description: body.description })
    }
}

/// A merchant endpoint. Events arrive signed with the Standard Webhooks scheme
/// (`webhook-id`, `webhook-timestamp`, `webhook-signature`), keyed by `secret`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointView {
    pub id: String,
    pub mode: Mode,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// `enabled`, or `disabled`: after failing for days, or when asked to (the API's `disable`,
    /// the console).
    pub status: String,
    pub disabled_reason: Option<String>,
    /// Only in the answers to the creation and to a rotation: keep it to verify signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until when the secret a rotation replaced still signs deliveries, beside `secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl WebhookEndpointView {
    fn of(endpoint: WebhookEndpoint, secret: Option<String>) -> Self {
        Self {
            id: endpoint.id.to_string(),
            mode: endpoint.mode,
            url: endpoint.url,
            event_types: endpoint.event_types,
            description: endpoint.description,
            status: endpoint.status.as_str().to_owned(),
            disabled_reason: endpoint.disabled_reason,
            secret,
            previous_secret_expires_at: endpoint.previous_secret_expires_at,
            created_at: endpoint.created_at,
        }
    }

    /// The answer that shows the secret, once; its stored copy for Idempotency-Key replays is
    /// encrypted like the endpoint's.
    fn revealing(revealed: Revealed, status: StatusCode) -> Response {
        let view = Self::of(revealed.endpoint, Some(revealed.secret));
        let mut response = (status, Json(view)).into_response();
        response.extensions_mut().insert(CarriesSecret);
        response
    }
}

#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhook endpoints",
    params(("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 201, description = "Created; the answer carries the signing secret, once", body = WebhookEndpointView),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_endpoint(
    State(hub): State<Hub>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateWebhookEndpoint>,
) -> Result<Response, ApiError> {
    let request = EndpointRequest::try_from(body)?;
    let url = url::Url::parse(request.url.as_str()).map_err(|e| ApiError::invalid("url", e.to_string()))?;
    hub.settings
        .egress
        .check_url(caller.mode, &url)
        .await
        .map_err(|refused| ApiError::invalid("url", refused.to_string()))?;
    let registration = EndpointRegistration {
        mode: caller.mode,
        url: request.url.into_string(),
        event_types: request.event_types.into_vec(),
        description: request.description,
    };
    let revealed = service::create_endpoint(&hub, registration).await?;
    Ok(WebhookEndpointView::revealing(revealed, StatusCode::CREATED))
}

#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhook endpoints", params(ListParams),
    responses((status = 200, body = List<WebhookEndpointView>)))]
async fn list_endpoints(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Json<List<WebhookEndpointView>>, ApiError> {
    let page = hub.db.list_endpoints(caller.mode, paging.cursor(WebhookEndpointId::parse)?, paging.limit()?).await?;
    let views = page.items.into_iter().map(|e| WebhookEndpointView::of(e, None)).collect();
    Ok(Json(List::new(views, page.has_more, |e| e.id.clone())))
}

#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhook endpoints",
    params(("id" = String, Path, description = "we_…")),
    responses((status = 200, body = WebhookEndpointView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_endpoint(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpointView>, ApiError> {
    let endpoint =
        hub.db.endpoint(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("webhook endpoint", id.as_str()))?;
    Ok(Json(WebhookEndpointView::of(endpoint, None)))
}

#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhook endpoints",
    params(("id" = String, Path, description = "we_…")),
    responses((status = 204, description = "Deleted; its undelivered events are abandoned"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_endpoint(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<StatusCode, ApiError> {
    if hub.db.delete_endpoint(caller.mode, &id, hub.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook endpoint", id.as_str()))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// Seconds the replaced secret keeps signing deliveries beside the new one: 86400 (a day)
    /// by default, at most 604800 (a week); 0 stops it at once.
    pub expire_previous_in: Option<i64>,
}

/// How long the replaced secret overlaps the new one, as the request asks.
fn overlap(body: &RotateSecret) -> Result<chrono::Duration, ApiError> {
    let Some(seconds) = body.expire_previous_in else { return Ok(DEFAULT_OVERLAP) };
    let max = MAX_OVERLAP.num_seconds();
    if !(0..=max).contains(&seconds) {
        return Err(ApiError::invalid("expire_previous_in", format!("must be 0 to {max} seconds (a week)")));
    }
    Ok(chrono::Duration::seconds(seconds))
}

#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/rotate_secret", tag = "webhook endpoints",
    params(("id" = String, Path, description = "we_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    request_body = RotateSecret,
    responses(
        (status = 200, description = "The new secret, shown once; the replaced one signs beside it until `previous_secret_expires_at`", body = WebhookEndpointView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn rotate_secret(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    reservation: Reservation,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<Response, ApiError> {
    let overlap = overlap(&body)?;
    let revealed = service::rotate_secret(&hub, caller.mode, &id, overlap, &reservation).await?;
    Ok(WebhookEndpointView::revealing(revealed, StatusCode::OK))
}

/// Why an endpoint disabled through the API is, beside it.
const DISABLED_THROUGH_THE_API: &str = "disabled through the API; enable it to receive events again";

#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/disable", tag = "webhook endpoints",
    params(("id" = String, Path, description = "we_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses(
        (status = 200, description = "Disabled: it is sent nothing more, and its deliveries waiting for a retry are marked failed (a replay after enabling it sends them again); an endpoint already disabled keeps its reason", body = WebhookEndpointView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn disable_endpoint(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpointView>, ApiError> {
    let endpoint = service::set_enabled(&hub, caller.mode, &id, Some(DISABLED_THROUGH_THE_API)).await?;
    Ok(Json(WebhookEndpointView::of(endpoint, None)))
}

#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/enable", tag = "webhook endpoints",
    params(("id" = String, Path, description = "we_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses(
        (status = 200, description = "Enabled: events created from now on are sent to it (`POST /v1/events/replay` sends what it missed)", body = WebhookEndpointView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn enable_endpoint(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpointView>, ApiError> {
    let endpoint = service::set_enabled(&hub, caller.mode, &id, None).await?;
    Ok(Json(WebhookEndpointView::of(endpoint, None)))
}
