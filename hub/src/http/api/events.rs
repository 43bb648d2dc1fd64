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
use crate::http::extract::{ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new().routes(routes!(list_events)).routes(routes!(get_event)).routes(routes!(redeliver_event))
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

#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "events",
    params(("id" = String, Path, description = "evt_…"), ("Idempotency-Key" = String, Header, description = "Unique per request")),
    responses((status = 200, description = "Queued again for every endpoint it was sent to", body = Redelivery)))]
async fn redeliver_event(
    State(hub): State<Hub>,
    caller: Caller,
    ApiPath(id): ApiPath<EventId>,
) -> Result<Json<Redelivery>, ApiError> {
    if hub.db.event(caller.mode, &id).await?.is_none() {
        return Err(ApiError::not_found("event", id.as_str()));
    }
    let queued = hub.db.redeliver_event(&id, hub.clock.now()).await?;
    hub.signals.outbox.notify_one();
    Ok(Json(Redelivery { queued }))
}
