//! The overview at `/admin`: today's payments, refunds and disputes of the operator's mode,
//! payments per hour as a chart drawn on the server (inline SVG: no script, nothing loaded),
//! then the figures an on-call engineer looks at first, each linking to the page that explains
//! it. What is not as it should be is marked.

use axum::extract::State;
use chrono::{DateTime, DurationRound, Timelike, Utc};
use maud::{Markup, html};
use payhub_store::{EndpointStatus, HourFigures, PaymentFigures, RefundFigures};

use super::ConsoleError;
use super::layout::{self, money, when};
use super::session::Operator;
use crate::app::Hub;

/// The failing endpoints listed are found among this many (the newest); their count is of all.
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

const HOUR: chrono::Duration = chrono::Duration::hours(1);
/// The chart shows this many hours, the current one last.
const CHART_HOURS: i64 = 24;

/// Paid ÷ (paid + failed) as a whole percentage, or a dash when no payment has an outcome yet.
fn success_rate(paid: i64, failed: i64) -> String {
    match paid + failed {
        0 => "—".to_owned(),
        settled => format!("{}%", (paid * 100 + settled / 2) / settled),
    }
}

/// Amounts of several currencies, one after another (`12.50 USD, 3.00 EUR`), or a dash.
fn amounts(amounts: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = amounts.collect();
    if all.is_empty() { "—".to_owned() } else { all.join(", ") }
}

/// Today's figures: every currency's payments summed, volume and refunds per currency.
fn today(payments: &[PaymentFigures], refunds: &[RefundFigures], open_disputes: i64) -> Markup {
    let created: i64 = payments.iter().map(|p| p.created).sum();
    let paid: i64 = payments.iter().map(|p| p.paid).sum();
    let failed: i64 = payments.iter().map(|p| p.failed).sum();
    let refunded: i64 = refunds.iter().map(|r| r.count).sum();
    let volume = amounts(payments.iter().filter(|p| p.paid > 0).map(|p| money(p.captured, p.currency)));
    let refund_amounts = amounts(refunds.iter().map(|r| money(r.amount, r.currency)));
    html! {
        dl.facts #today {
            dt { "Payments created" } dd #today-created { (created) }
            dt { "Paid" } dd #today-paid { (paid) }
            dt { "Failed" } dd #today-failed { (failed) }
            dt title="Paid ÷ (paid + failed): of today's payments the provider has answered, the share paid; those still waiting for the buyer, canceled or expired are left out" {
                "Success rate (paid ÷ paid or failed)"
            }
            dd #today-success-rate { (success_rate(paid, failed)) }
            dt { "Volume paid" } dd #today-volume { (volume) }
            dt { "Refunds (made or under way)" } dd #today-refunds { (refunded) }
            dt { "Refunded" } dd #today-refunded { (refund_amounts) }
            dt { a href="/admin/disputes" { "Open disputes (any day)" } } (figure("today-open-disputes", open_disputes))
        }
    }
}

/// Payments per hour of the last [`CHART_HOURS`] hours ending with `current`'s, paid and
/// failed side by side, as an SVG image with its numbers in a table beside it.
fn chart(hours: &[HourFigures], current: DateTime<Utc>) -> Markup {
    const WIDTH: i64 = 24;
    const HEIGHT: i64 = 120;
    let first = current - HOUR * (CHART_HOURS as i32 - 1);
    let rows: Vec<(DateTime<Utc>, i64, i64)> = (0..CHART_HOURS)
        .map(|n| {
            let hour = first + HOUR * n as i32;
            let found = hours.iter().find(|h| h.hour == hour);
            (hour, found.map_or(0, |h| h.paid), found.map_or(0, |h| h.failed))
        })
        .collect();
    let top = rows.iter().map(|(_, paid, failed)| (*paid).max(*failed)).max().unwrap_or(0).max(1);
    let bar = |count: i64| count * (HEIGHT - 20) / top;
    let total_paid: i64 = rows.iter().map(|r| r.1).sum();
    let total_failed: i64 = rows.iter().map(|r| r.2).sum();
    let label =
        format!("Payments created per hour, last {CHART_HOURS} hours (UTC): {total_paid} paid, {total_failed} failed");
    html! {
        figure.chart {
            svg #hourly-chart role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg"
                viewBox={"0 0 " (WIDTH * CHART_HOURS) " " (HEIGHT + 16)} width=(WIDTH * CHART_HOURS) height=(HEIGHT + 16) {
                title { (label) }
                @for (n, (hour, paid, failed)) in rows.iter().enumerate() {
                    @let x = n as i64 * WIDTH;
                    g.hour data-hour=(hour.format("%H:00")) {
                        title { (hour.format("%H:00")) ": " (paid) " paid, " (failed) " failed" }
                        rect.paid x=(x + 3) y=(HEIGHT - bar(*paid)) width="8" height=(bar(*paid)) fill="#2f9e5b" {}
                        rect.failed x=(x + 12) y=(HEIGHT - bar(*failed)) width="8" height=(bar(*failed)) fill="#d64545" {}
                        @if hour.hour() % 3 == 0 {
                            text x=(x + 2) y=(HEIGHT + 13) font-size="10" fill="#52606d" { (hour.format("%H")) }
                        }
                    }
                }
                line x1="0" y1=(HEIGHT) x2=(WIDTH * CHART_HOURS) y2=(HEIGHT) stroke="#bcc4cc" {}
            }
            figcaption {
                span.key.paid {} " paid " span.key.failed {} " failed, by the hour (UTC) each payment was created"
            }
            details {
                summary { "The numbers" }
                table #hourly-figures {
                    thead { tr { th { "Hour (UTC)" } th.num { "Paid" } th.num { "Failed" } } }
                    tbody { @for (hour, paid, failed) in &rows { tr {
                        td { (hour.format("%Y-%m-%d %H:00")) } td.num { (paid) } td.num { (failed) }
                    } } }
                }
            }
        }
    }
}

pub async fn page(State(hub): State<Hub>, operator: Operator) -> Result<Markup, ConsoleError> {
    let mode = operator.mode();
    let now = hub.clock.now();
    let midnight = now.duration_trunc(chrono::Duration::days(1)).unwrap_or(now);
    let current_hour = now.duration_trunc(HOUR).unwrap_or(now);
    let payments = hub.db.payment_figures(mode, midnight).await?;
    let refunds = hub.db.refund_figures(mode, midnight).await?;
    let open_disputes = hub.db.open_disputes(mode).await?;
    let hours = hub.db.payments_by_hour(mode, current_hour - HOUR * (CHART_HOURS as i32 - 1)).await?;
    let backlog = hub.db.inbox_backlog().await?;
    let oldest = hub.db.oldest_pending_notification().await?;
    let (_, parked) = hub.db.parked_notifications(mode, 0).await?;
    let (pending, pending_due) = hub.db.pending_deliveries(mode).await?;

    let failing_count = hub.db.failing_endpoints(mode, now - FAILING_PERIOD).await?;
    let endpoints = hub.db.list_endpoints(mode, None, READ_LIMIT).await?.items;
    let ids: Vec<_> = endpoints.iter().map(|e| e.id.clone()).collect();
    let mut health = hub.db.endpoints_health(&ids, now - FAILING_PERIOD, 1).await?;
    let mut failing = Vec::new();
    for endpoint in endpoints {
        let health = health.remove(&endpoint.id).unwrap_or_default();
        if endpoint.status == EndpointStatus::Disabled || health.accepted < health.attempts {
            failing.push((endpoint, health));
        }
    }

    let listed = i64::try_from(failing.len()).unwrap_or(i64::MAX);
    let (awaiting, soonest_due) = hub.db.disputes_awaiting_response(mode).await?;

    let body = html! {
        h2 { "Today (since 00:00 UTC)" }
        (today(&payments, &refunds, open_disputes))
        h2 { "Payments per hour, last 24 hours" }
        (chart(&hours, current_hour))
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
            dt { "Endpoints failing or disabled" } (figure("overview-failing", failing_count))
        }
        @if listed < failing_count {
            p #overview-failing-shown { "Showing " (listed) " of " (failing_count) " (those among the " (READ_LIMIT) " newest endpoints)." }
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
    };
    Ok(layout::page(&operator, &format!("Overview ({} mode)", mode.as_str()), body))
}
