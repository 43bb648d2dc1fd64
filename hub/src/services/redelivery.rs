//! Sending events again and turning endpoints off and on: one implementation behind the API
//! (`POST /v1/events/{id}/redeliver`, `POST /v1/events/replay`), the CLI that calls it
//! (`payhub events resend`, `payhub replay`) and the console's endpoints page.

use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::id::{EventId, WebhookEndpointId};
use payhub_store::{EndpointStatus, Replayed, ReplayedEvents, WebhookEndpoint};

use super::ServiceError;
use crate::app::Hub;

/// The endpoint of `mode` named in `field`, which must be enabled to be sent anything.
pub async fn enabled_endpoint(hub: &Hub, mode: Mode, field: &str, id: &str) -> Result<WebhookEndpointId, ServiceError> {
    let endpoint = endpoint_in_mode(hub, mode, field, id).await?;
    if endpoint.status != EndpointStatus::Enabled {
        return Err(ServiceError::invalid(
            field,
            format!("{} is disabled; enable it again, or create a new endpoint for the fixed URL", endpoint.id),
        ));
    }
    Ok(endpoint.id)
}

async fn endpoint_in_mode(hub: &Hub, mode: Mode, field: &str, id: &str) -> Result<WebhookEndpoint, ServiceError> {
    let id = WebhookEndpointId::parse(id)
        .map_err(|_| ServiceError::invalid(field, format!("`{id}` is not a webhook endpoint id (we_…)")))?;
    hub.db
        .endpoint(mode, &id)
        .await?
        .ok_or_else(|| ServiceError::NotFound { resource: "webhook endpoint", id: id.to_string() })
}

/// Sends an event again: to every enabled endpoint it went to, or to `endpoint` alone (even
/// one it never went to, if its filter selects the event). Returns how many deliveries were
/// queued.
pub async fn resend_event(
    hub: &Hub,
    mode: Mode,
    event_id: &EventId,
    endpoint: Option<&str>,
) -> Result<u64, ServiceError> {
    if hub.db.event(mode, event_id).await?.is_none() {
        return Err(ServiceError::NotFound { resource: "event", id: event_id.to_string() });
    }
    let queued = match endpoint {
        Some(endpoint) => {
            let endpoint = enabled_endpoint(hub, mode, "endpoint", endpoint).await?;
            let events = ReplayedEvents::One(event_id);
            let replayed = hub.db.replay_events(mode, events, Some(&endpoint), &hub.ids, hub.clock.now()).await?;
            if replayed.deliveries == 0 {
                return Err(ServiceError::invalid(
                    "endpoint",
                    format!("the filter of {endpoint} does not select this event's type; add it to its event_types"),
                ));
            }
            replayed.deliveries
        }
        None => hub.db.redeliver_event(event_id, hub.clock.now()).await?,
    };
    hub.signals.outbox.notify_one();
    Ok(queued)
}

/// Sends again every event of `mode` created from `since` (and before `until`, if given): to
/// every enabled endpoint whose filter selects it, or to `endpoint` alone. Both times are read
/// by [`point_in_time`]; an empty `until` means up to now.
pub async fn replay(
    hub: &Hub,
    mode: Mode,
    since: &str,
    until: Option<&str>,
    endpoint: Option<&str>,
) -> Result<Replayed, ServiceError> {
    let now = hub.clock.now();
    let since = point_in_time("since", since, now)?;
    if since > now {
        return Err(ServiceError::invalid("since", format!("{since} is in the future; nothing happened since")));
    }
    let until = match until.map(str::trim) {
        None | Some("") => None,
        Some(until) => Some(point_in_time("until", until, now)?),
    };
    if until.is_some_and(|until| until <= since) {
        return Err(ServiceError::invalid("until", "must be after `since`; nothing happened in between"));
    }
    let endpoint = match endpoint {
        Some(endpoint) => Some(enabled_endpoint(hub, mode, "endpoint", endpoint).await?),
        None => None,
    };
    let events = ReplayedEvents::Between { from: since, until };
    let replayed = hub.db.replay_events(mode, events, endpoint.as_ref(), &hub.ids, now).await?;
    hub.signals.outbox.notify_one();
    Ok(replayed)
}

/// Reads a point in time against the hub's own clock: an RFC 3339 time, or a span back from now
/// (`90m`, `2h`, `3days`), so a replay means the same on a machine whose clock differs (and in
/// the sandbox, whose clock the tests move). `field` names it in the error.
fn point_in_time(field: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ServiceError> {
    let text = text.trim();
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => {
            let span = humantime::parse_duration(text).map_err(|_| {
                ServiceError::invalid(field, format!("`{text}` is neither an RFC 3339 time nor a span such as `2h`"))
            })?;
            let too_far = || ServiceError::invalid(field, format!("`{text}` reaches too far back"));
            let span = chrono::Duration::from_std(span).map_err(|_| too_far())?;
            now.checked_sub_signed(span).ok_or_else(too_far)?
        }
    };
    Ok(at)
}
