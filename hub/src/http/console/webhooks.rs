//! Webhook endpoints: how each fared over the last day and its latest errors; turning one off
//! and on; sending it one event again, or every event of a period. The work is the API's and
//! the CLI's (`services::redelivery`).

use axum::extract::{Path, RawForm, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use payhub_core::id::{EventId, WebhookEndpointId};
use payhub_store::{EndpointHealth, EndpointStatus, WebhookEndpoint};
use serde::Deserialize;

use super::layout::{self, when};
use super::session::{Operator, read_form};
use super::{ConsoleError, ConsoleQuery};
use crate::app::Hub;
use crate::services::{endpoints, redelivery};

/// The page shows at most this many endpoints of a mode.
const ENDPOINTS_SHOWN: u32 = 100;
/// The period the success rate covers.
const HEALTH_PERIOD: chrono::Duration = chrono::Duration::hours(24);
const ERRORS_SHOWN: u32 = 3;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// What the form just posted did: `disabled`, `enabled`, `resent` or `replayed`.
    #[serde(default)]
    done: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    events: u64,
    #[serde(default)]
    queued: u64,
}

fn notice(query: &ListQuery) -> Option<String> {
    let endpoint = &query.endpoint;
    match query.done.as_str() {
        "disabled" => Some(format!("Disabled {endpoint}: nothing more is sent to it, retries included.")),
        "enabled" => {
            Some(format!("Enabled {endpoint}: new events go to it again; replay a period to send it what it missed."))
        }
        "resent" => Some(format!("Queued the event again for {endpoint}.")),
        "replayed" => {
            Some(format!("Queued {} event(s) again for {endpoint} ({} deliveries).", query.events, query.queued))
        }
        _ => None,
    }
}

/// `accepted of attempts (rate %)`, in whole percent rounded down, or a dash without attempts.
fn success_rate(health: &EndpointHealth) -> String {
    match health.attempts {
        0 => "no delivery attempt".to_owned(),
        attempts => {
            let percent = health.accepted * 100 / attempts;
            format!("{percent}% ({} of {attempts} attempts accepted)", health.accepted)
        }
    }
}

fn endpoint_section(operator: &Operator, endpoint: &WebhookEndpoint, health: &EndpointHealth) -> Markup {
    let id = endpoint.id.as_str();
    let action = |what: &str| format!("/admin/webhooks/{id}/{what}");
    let enabled = endpoint.status == EndpointStatus::Enabled;
    html! {
        section.endpoint #{"endpoint-" (id)} {
            h2 { code { (endpoint.url) } }
            dl.facts {
                dt { "Endpoint" } dd { code { (id) } }
                dt { "Status" } dd.status {
                    (endpoint.status.as_str())
                    @if let Some(reason) = &endpoint.disabled_reason { " — " (reason) }
                }
                dt { "Events" } dd { (endpoint.event_types.join(", ")) }
                dt { "Last 24 hours" } dd.success-rate { (success_rate(health)) }
                dt { "Waiting for a retry" } dd.pending { (health.pending) }
            }
            @if health.last_errors.is_empty() {
                p.no-errors { "No failed delivery." }
            } @else {
                table.errors {
                    thead { tr { th { "Failed" } th { "Event" } th { "Error" } } }
                    tbody { @for e in &health.last_errors { tr {
                        td { (when(e.at)) }
                        td { code { (e.event_id) } }
                        td { (e.error) }
                    } } }
                }
            }
            div.actions {
                form.inline method="post" action=(action("status")) {
                    (operator.csrf_field())
                    input type="hidden" name="mode" value=(operator.mode().as_str());
                    @if enabled {
                        input type="hidden" name="enabled" value="false";
                        button.danger.disable type="submit" { "Disable" }
                    } @else {
                        input type="hidden" name="enabled" value="true";
                        button.enable type="submit" { "Enable" }
                    }
                }
                @if enabled {
                    form.inline.resend method="post" action=(action("resend")) {
                        (operator.csrf_field())
                        input type="hidden" name="mode" value=(operator.mode().as_str());
                        input type="text" name="event" placeholder="evt_…" required size="30";
                        button.secondary type="submit" { "Resend event" }
                    }
                    form.inline.replay method="post" action=(action("replay")) {
                        (operator.csrf_field())
                        input type="hidden" name="mode" value=(operator.mode().as_str());
                        input type="text" name="since" placeholder="since: 2h or 2026-01-31T22:00:00Z" required size="30";
                        input type="text" name="until" placeholder="until (optional)" size="22";
                        button.secondary type="submit" { "Replay" }
                    }
                }
            }
        }
    }
}

pub async fn list(
    State(hub): State<Hub>,
    operator: Operator,
    ConsoleQuery(query): ConsoleQuery<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let page = hub.db.list_endpoints(operator.mode(), None, ENDPOINTS_SHOWN).await?;
    let since = hub.clock.now() - HEALTH_PERIOD;
    let ids: Vec<_> = page.items.iter().map(|e| e.id.clone()).collect();
    let mut health = hub.db.endpoints_health(&ids, since, ERRORS_SHOWN).await?;
    let endpoints: Vec<_> = page
        .items
        .into_iter()
        .map(|e| {
            let h = health.remove(&e.id).unwrap_or_default();
            (e, h)
        })
        .collect();
    let body = html! {
        @if let Some(notice) = notice(&query) { div.notice #webhooks-notice role="status" { (notice) } }
        @if endpoints.is_empty() {
            p #no-endpoints { "No " (operator.mode().as_str()) "-mode webhook endpoint." }
        }
        @for (endpoint, health) in &endpoints { (endpoint_section(&operator, endpoint, health)) }
        @if page.has_more { p { "Only the " (ENDPOINTS_SHOWN) " newest endpoints are shown." } }
    };
    Ok(layout::page(&operator, "Webhook endpoints", body))
}

fn back(done: &str, endpoint: &str, events: u64, queued: u64) -> Response {
    let query = serde_urlencoded::to_string([
        ("done", done),
        ("endpoint", endpoint),
        ("events", &events.to_string()),
        ("queued", &queued.to_string()),
    ])
    .unwrap_or_default();
    Redirect::to(&format!("/admin/webhooks?{query}")).into_response()
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    enabled: String,
}

pub async fn set_status(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    form: RawForm,
) -> Result<Response, ConsoleError> {
    let form: StatusForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    operator.check_same_mode(&form.mode, "nothing was done")?;
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        other => return Err(ConsoleError::Invalid(format!("`enabled` is `true` or `false`, not `{other}`"))),
    };
    let id =
        WebhookEndpointId::parse(&id).map_err(|_| ConsoleError::NotFound(format!("no webhook endpoint `{id}`")))?;
    let reason = format!("disabled by {} in the console", operator.email());
    let disabled_because = (!enabled).then_some(reason.as_str());
    let endpoint = endpoints::set_enabled(&hub, operator.mode(), &id, disabled_because).await?.id;
    let done = if enabled { "enabled" } else { "disabled" };
    tracing::info!(email = operator.email(), endpoint = %endpoint, done, "console: webhook endpoint status changed");
    Ok(back(done, endpoint.as_str(), 0, 0))
}

#[derive(Debug, Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    event: String,
}

pub async fn resend(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    form: RawForm,
) -> Result<Response, ConsoleError> {
    let form: ResendForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    operator.check_same_mode(&form.mode, "nothing was done")?;
    let text = form.event.trim();
    let event =
        EventId::parse(text).map_err(|_| ConsoleError::Invalid(format!("`{text}` is not an event id (evt_…)")))?;
    let queued = redelivery::resend_event(&hub, operator.mode(), &event, Some(&id)).await?;
    tracing::info!(email = operator.email(), endpoint = %id, event = %event, "console: event sent again");
    Ok(back("resent", &id, 1, queued))
}

#[derive(Debug, Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

pub async fn replay(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    form: RawForm,
) -> Result<Response, ConsoleError> {
    let form: ReplayForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    operator.check_same_mode(&form.mode, "nothing was done")?;
    let replayed = redelivery::replay(&hub, operator.mode(), &form.since, Some(&form.until), Some(&id)).await?;
    tracing::info!(email = operator.email(), endpoint = %id, events = replayed.events, "console: events replayed");
    Ok(back("replayed", &id, replayed.events, replayed.deliveries))
}
