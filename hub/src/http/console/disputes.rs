//! The disputes queue: what needs an answer first comes first.

use axum::extract::State;
use maud::{Markup, html};
use payhub_core::dispute::DisputeStatus;
use payhub_store::DisputeFilter;

use super::ConsoleError;
use super::layout::{self, money, when};
use super::session::Operator;
use crate::app::Hub;

/// The queue reads at most this many disputes of each open status.
const QUEUE_LIMIT: u32 = 200;

pub async fn queue(State(hub): State<Hub>, operator: Operator) -> Result<Markup, ConsoleError> {
    let mut open = Vec::new();
    let mut truncated = false;
    for status in DisputeStatus::ALL.iter().copied().filter(|s| !s.is_final()) {
        let filter = DisputeFilter { status: Some(status), ..DisputeFilter::default() };
        let page = hub.db.list_disputes(operator.mode(), &filter, None, QUEUE_LIMIT).await?;
        truncated |= page.has_more;
        open.extend(page.items);
    }
    // Soonest due first; a dispute without a due date waits on the buyer or the provider.
    open.sort_by_key(|d| (d.response_due_at().is_none(), d.response_due_at()));
    let body = html! {
        @if open.is_empty() {
            p #no-disputes { "No open " (operator.mode().as_str()) "-mode dispute." }
        } @else {
            table #disputes {
                thead { tr { th { "Response due" } th { "Dispute" } th { "Status" } th { "Reason" } th.num { "Amount" } th { "Payment" } } }
                tbody { @for d in &open { tr {
                    td { (d.response_due_at().map(when).unwrap_or_else(|| "—".into())) }
                    td { code { (d.id) } " " small { (d.provider_dispute_id) } }
                    td { (d.status().as_str()) }
                    td { (d.reason().as_str()) }
                    td.num { (money(d.amount, d.currency)) }
                    td { a href={"/admin/payments/" (d.payment_id)} { code { (d.payment_id) } } }
                } } }
            }
        }
        @if truncated { p { "Only the " (QUEUE_LIMIT) " newest disputes of each status are in this queue." } }
    };
    Ok(layout::page(&operator, "Open disputes", body))
}
