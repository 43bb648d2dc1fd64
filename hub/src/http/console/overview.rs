//! The overview at `/admin`: the figures an on-call engineer looks at first, each linking to
//! the page that explains it. What is not as it should be is marked.

use axum::extract::State;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use payhub_core::dispute::DisputeStatus;
use payhub_store::{DisputeFilter, EndpointStatus};

use super::ConsoleError;
use super::layout::{self, when};
use super::session::Operator;
use crate::app::Hub;

/// The figures read at most this many endpoints and disputes.
const READ_LIMIT: u32 = 200;
/// An endpoint that failed a delivery within this period counts as failing.
const FAILING_PERIOD: chrono::Duration = chrono::Duration::hours(24);

/// A time and how long ago it was, or a dash.
fn since(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match at {
        Some(at) => format!("{} ({} s ago)", when(at), (now - at).num_seconds().max(0)),
        None => "—".to_owned(),
    }
}

/// A figure, marked when it is not zero.
fn figure(id: &str, value: i64) -> Markup {
    html! { dd #(id) .attention[value > 0] { (value) } }
}

pub async fn page(State(hub): State<Hub>, operator: Operator) -> Result<Markup, ConsoleError> {
    let mode = operator.mode();
    let now = hub.clock.now();
    let backlog = hub.db.inbox_backlog().await?;
    let oldest = hub.db.oldest_pending_notification().await?;
    let (_, parked) = hub.db.parked_notifications(mode, 0).await?;
    let (pending, pending_due) = hub.db.pending_deliveries(mode).await?;

    let mut failing = Vec::new();
    for endpoint in hub.db.list_endpoints(mode, None, READ_LIMIT).await?.items {
        let health = hub.db.endpoint_health(&endpoint.id, now - FAILING_PERIOD, 1).await?;
        if endpoint.status == EndpointStatus::Disabled || health.accepted < health.attempts {
            failing.push((endpoint, health));
        }
    }

    let filter = DisputeFilter { status: Some(DisputeStatus::NeedsResponse), ..DisputeFilter::default() };
    let disputes = hub.db.list_disputes(mode, &filter, None, READ_LIMIT).await?;
    let soonest_due = disputes.items.iter().filter_map(|d| d.response_due_at()).min();
    let awaiting = i64::try_from(disputes.items.len()).unwrap_or(i64::MAX);

    let body = html! {
        h2 { a href="/admin/inbox" { "Provider notifications" } }
        dl.facts {
            dt { "Waiting to be applied (both modes)" } (figure("overview-backlog", backlog))
            dt { "Oldest waiting since" } dd #overview-backlog-oldest { (since(oldest, now)) }
            dt { "Parked for a person" } (figure("overview-parked", parked))
        }
        h2 { a href="/admin/webhooks" { "Webhooks" } }
        dl.facts {
            dt { "Deliveries waiting" } dd #overview-outbox-pending { (pending) }
            dt { "Waiting longest since" } dd #overview-outbox-oldest { (since(pending_due, now)) }
            dt { "Endpoints failing or disabled" } (figure("overview-failing", i64::try_from(failing.len()).unwrap_or(i64::MAX)))
        }
        @if !failing.is_empty() {
            table #overview-failing-endpoints {
                thead { tr { th { "Endpoint" } th { "Status" } th { "Last 24 hours" } th { "Last error" } } }
                tbody { @for (e, h) in &failing { tr {
                    td { a href={"/admin/webhooks#endpoint-" (e.id)} { code { (e.url) } } }
                    td { (e.status.as_str()) }
                    td { (h.accepted) " of " (h.attempts) " accepted" }
                    td { (h.last_errors.first().map(|f| f.error.as_str()).unwrap_or("—")) }
                } } }
            }
        }
        h2 { a href="/admin/disputes" { "Disputes" } }
        dl.facts {
            dt { "Waiting for your response" } (figure("overview-disputes", awaiting))
            dt { "Soonest due" } dd #overview-disputes-due { (soonest_due.map(when).unwrap_or_else(|| "—".into())) }
        }
        @if disputes.has_more { p { "Only the " (READ_LIMIT) " newest disputes are counted." } }
    };
    Ok(layout::page(&operator, &format!("Overview ({} mode)", mode.as_str()), body))
}
