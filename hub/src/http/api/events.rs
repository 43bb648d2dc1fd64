use axum::Json;
use axum::extract::State;
use payhub_core::id::EventId;
use payhub_core::{Event, EventType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, ListParams};
use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::services::redelivery;

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
        .routes(routes!(redeliver_event))
        .routes(routes!(replay_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this type, e.g. `refund.succeeded`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only events about this resource (`pay_…`, `re_…`).
    pub resource_id: Option<String>,
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
}

#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, description = "Newest first", body = List<Event>)))]
async fn list_events(
    State(hub): State<Hub>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<List<Event>>, ApiError> {
    let event_type = match query.event_type.as_deref() {
        None => None,
        Some(t) => Some(EventType::parse(t).ok_or_else(|| {
            let known: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            ApiError::invalid("type", format!("unknown event type `{t}`; use one of {}", known.join(", ")))
        })?),
    };
    let paging = ListParams { limit: query.limit, starting_after: query.starting_after };
    let page = hub
        .db
        .list_events(
            caller.mode,
            event_type,
            query.resource_id.as_deref(),
            paging.cursor(EventId::parse)?,
            paging.limit()?,
        )
        .await?;
    Ok(Json(List::new(page.items, page.has_more, |e| e.id.to_string())))
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "evt_…")),
    responses((status = 200, body = Event), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_event(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<EventId>,
) -> Result<Json<Event>, ApiError> {
    Ok(Json(hub.db.event(caller.mode, &id).await?.ok_or_else(|| ApiError::not_found("event", id.as_str()))?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivery {
    /// How many endpoint deliveries were queued again.
    pub queued: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RedeliveryTarget {
    /// Send it to this endpoint (`we_…`) alone, even one it was never sent to, if the
    /// endpoint's filter selects it.
    pub endpoint: Option<String>,
}

#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "events",
    params(("id" = String, Path, description = "evt_…"), RedeliveryTarget, ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses(
        (status = 200, description = "Queued again for every endpoint it was sent to, or for `endpoint`", body = Redelivery),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn redeliver_event(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<EventId>,
    ApiQuery(target): ApiQuery<RedeliveryTarget>,
) -> Result<Json<Redelivery>, ApiError> {
    let queued = redelivery::resend_event(&hub, caller.mode, &id, target.endpoint.as_deref()).await?;
    Ok(Json(Redelivery { queued }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Every event created at or after this time is sent again: an RFC 3339 time, or a span
    /// back from the hub's clock (`90m`, `2h`, `3days`).
    #[schema(example = "2h")]
    pub since: String,
    /// Only the events created before this time (same forms as `since`); by default every
    /// event up to now.
    pub until: Option<String>,
    /// Only to this endpoint (`we_…`); by default to every enabled endpoint whose filter
    /// selects the event.
    pub endpoint: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replay {
    /// Events queued again for at least one endpoint.
    pub events: u64,
    /// Deliveries queued (an event counts once per endpoint).
    pub queued: u64,
}

#[utoipa::path(post, path = "/v1/events/replay", tag = "events",
    params(("Idempotency-Key" = String, Header, description = "Unique per request; a retry with the same key replays nothing more")),
    request_body = ReplayRequest,
    responses(
        (status = 200, description = "Queued; each event goes once more to each endpoint, signed with the same `webhook-id`", body = Replay),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn replay_events(
    State(hub): State<Hub>,
    caller: Caller,
    ApiJson(body): ApiJson<ReplayRequest>,
) -> Result<Json<Replay>, ApiError> {
    let replayed =
        redelivery::replay(&hub, caller.mode, &body.since, body.until.as_deref(), body.endpoint.as_deref()).await?;
    Ok(Json(Replay { events: replayed.events, queued: replayed.deliveries }))
}
