//! The provider inbox: what waits to be applied, the notifications the processor parked for a
//! person (with why, and a button that puts one back in the queue), and the notifications
//! refused at the door.

use axum::extract::{Path, RawForm, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use payhub_core::ProviderName;
use serde::Deserialize;

use super::layout::{self, when};
use super::session::{Operator, read_form};
use super::{ConsoleError, ConsoleQuery};
use crate::app::Hub;

/// The newest parked notifications shown.
const PARKED_SHOWN: u32 = 50;
/// The newest kept refusals shown per provider.
const REJECTIONS_SHOWN: u32 = 10;

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    /// The notification just put back in the queue.
    #[serde(default)]
    requeued: String,
}

pub async fn page(
    State(hub): State<Hub>,
    operator: Operator,
    ConsoleQuery(query): ConsoleQuery<InboxQuery>,
) -> Result<Markup, ConsoleError> {
    let mode = operator.mode();
    let now = hub.clock.now();
    let backlog = hub.db.inbox_backlog().await?;
    let oldest = hub.db.oldest_pending_notification().await?;
    let (parked, parked_count) = hub.db.parked_notifications(mode, PARKED_SHOWN).await?;
    let mut refused = Vec::new();
    for provider in ProviderName::ALL {
        let counts = hub.db.rejection_counts(*provider).await?;
        let recent = hub.db.recent_rejections(*provider, REJECTIONS_SHOWN).await?;
        if !counts.is_empty() || !recent.is_empty() {
            refused.push((*provider, counts, recent));
        }
    }
    let body = html! {
        @if !query.requeued.is_empty() {
            div.notice #requeue-notice role="status" {
                "Notification " (query.requeued) " is back in the queue; the processor applies it next."
            }
        }
        dl.facts #backlog {
            dt { "Waiting to be applied (both modes)" } dd #backlog-count { (backlog) }
            dt { "Oldest waiting since" } dd #backlog-oldest {
                @match oldest {
                    Some(at) => { (when(at)) " (" ((now - at).num_seconds().max(0)) " s)" }
                    None => { "—" }
                }
            }
            dt { "Parked for a person (" (mode.as_str()) " mode)" } dd #parked-count { (parked_count) }
        }
        h2 { "Parked notifications" }
        @if parked.is_empty() {
            p #no-parked { "No parked " (mode.as_str()) "-mode notification." }
        } @else {
            table #parked {
                thead { tr { th { "Received" } th { "Provider" } th { "Notification" } th { "Attempts" } th { "Why it was parked" } th { "" } } }
                tbody { @for n in &parked { tr #{"parked-" (n.id)} {
                    td { (when(n.received_at)) }
                    td { (n.provider.as_str()) }
                    td { (n.event_type) " " code { (n.provider_event_id) } }
                    td.num { (n.attempts) }
                    td.reason { (n.reason) }
                    td {
                        form.inline method="post" action={"/admin/inbox/" (n.id) "/retry"} {
                            (operator.csrf_field())
                            input type="hidden" name="mode" value=(mode.as_str());
                            button.retry type="submit" { "Retry" }
                        }
                    }
                } } }
            }
            @if parked_count > i64::from(PARKED_SHOWN) { p { "The " (PARKED_SHOWN) " newest are shown." } }
        }
        h2 { "Refused notifications (both modes)" }
        @if refused.is_empty() {
            p #no-refused { "No notification was refused." }
        }
        @for (provider, counts, recent) in &refused {
            h3 { (provider.as_str()) }
            table.refusal-counts {
                thead { tr { th { "Reason" } th { "From" } th.num { "Count" } th { "First" } th { "Last" } } }
                tbody { @for c in counts { tr {
                    td { code { (c.reason) } } td { (c.source) } td.num { (c.count) }
                    td { (when(c.first_at)) } td { (when(c.last_at)) }
                } } }
            }
            @if !recent.is_empty() {
                table.refusals {
                    thead { tr { th { "Received" } th { "Reason" } th { "Detail" } } }
                    tbody { @for (reason, detail, at) in recent { tr {
                        td { (when(*at)) } td { code { (reason) } } td { (detail) }
                    } } }
                }
            }
        }
    };
    Ok(layout::page(&operator, "Provider inbox", body))
}

#[derive(Debug, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
}

/// Puts one parked notification back in the queue; the processor applies it as if it had just
/// arrived.
pub async fn retry(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    form: RawForm,
) -> Result<Response, ConsoleError> {
    let form: RetryForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    operator.check_same_mode(&form.mode, "nothing was requeued")?;
    let mode = operator.mode().as_str();
    let inbox_id: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConsoleError::Invalid(format!("`{id}` is not a notification number")))?;
    if !hub.db.requeue_notification(operator.mode(), inbox_id, hub.clock.now()).await? {
        return Err(ConsoleError::NotFound(format!(
            "no parked {mode}-mode notification {inbox_id} (it may have been requeued already)"
        )));
    }
    hub.signals.inbox.notify_one();
    tracing::info!(email = operator.email(), inbox_id, "console: parked notification requeued");
    Ok(Redirect::to(&format!("/admin/inbox?requeued={inbox_id}")).into_response())
}
