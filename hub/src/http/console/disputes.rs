//! The disputes queue: what needs an answer first comes first.

use axum::extract::State;
use maud::{Markup, html};
use payhub_store::DisputeFilter;

use super::ConsoleError;
use super::layout::{self, money, when};
use super::session::Operator;
use crate::app::Hub;

/// The queue shows at most this many open disputes.
const QUEUE_LIMIT: u32 = 200;

pub async fn queue(State(hub): State<Hub>, operator: Operator) -> Result<Markup, ConsoleError> {
    let page = hub.db.list_disputes(operator.mode(), &DisputeFilter::default(), None, QUEUE_LIMIT).await?;
    let mut open: Vec<_> = page.items.into_iter().filter(|d| d.is_open()).collect();
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
        @if page.has_more { p { "Only the " (QUEUE_LIMIT) " newest disputes are read for this queue." } }
    };
    Ok(layout::page(&operator, "Open disputes", body))
}
