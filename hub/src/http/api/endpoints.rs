use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::event::EventFilters;
use payhub_core::id::WebhookEndpointId;
use payhub_core::merchant::AbsoluteUrl;
use payhub_store::{NewWebhookEndpoint, WebhookEndpoint};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, ListParams};
use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new().routes(routes!(create_endpoint, list_endpoints)).routes(routes!(get_endpoint, delete_endpoint))
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
    /// `enabled`, or `disabled` after failing for days.
    pub status: String,
    pub disabled_reason: Option<String>,
    /// Only in the answer to the creation: keep it to verify signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl WebhookEndpointView {
    fn of(endpoint: WebhookEndpoint, with_secret: bool) -> Self {
        Self {
            id: endpoint.id.to_string(),
            mode: endpoint.mode,
            url: endpoint.url,
            event_types: endpoint.event_types,
            description: endpoint.description,
            status: endpoint.status.as_str().to_owned(),
            disabled_reason: endpoint.disabled_reason,
            secret: with_secret.then_some(endpoint.secret),
            created_at: endpoint.created_at,
        }
    }
}

fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    SystemRandom::new().fill(&mut bytes).expect("the operating system's random source failed");
    format!("whsec_{}", STANDARD.encode(bytes))
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
) -> Result<(StatusCode, Json<WebhookEndpointView>), ApiError> {
    let request = EndpointRequest::try_from(body)?;
    let url = url::Url::parse(request.url.as_str()).map_err(|e| ApiError::invalid("url", e.to_string()))?;
    hub.settings
        .egress
        .check_url(caller.mode, &url)
        .await
        .map_err(|refused| ApiError::invalid("url", refused.to_string()))?;
    let now = hub.clock.now();
    let new = NewWebhookEndpoint {
        id: WebhookEndpointId::generate(&hub.ids, now),
        mode: caller.mode,
        url: request.url.into_string(),
        secret: new_secret(),
        event_types: request.event_types.into_vec(),
        description: request.description,
    };
    let endpoint = hub.db.create_endpoint(new, now).await?;
    Ok((StatusCode::CREATED, Json(WebhookEndpointView::of(endpoint, true))))
}

#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhook endpoints", params(ListParams),
    responses((status = 200, body = List<WebhookEndpointView>)))]
async fn list_endpoints(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Json<List<WebhookEndpointView>>, ApiError> {
    let page = hub.db.list_endpoints(caller.mode, paging.cursor(WebhookEndpointId::parse)?, paging.limit()?).await?;
    let views = page.items.into_iter().map(|e| WebhookEndpointView::of(e, false)).collect();
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
    Ok(Json(WebhookEndpointView::of(endpoint, false)))
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
