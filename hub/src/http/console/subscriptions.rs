//! Subscriptions of the mode the console shows: the list (filtered by status, newest first),
//! a subscription's page (its plan, dates, payments and timeline) and a customer's page (their
//! subscriptions and the entitlements those grant), read through the same store queries as
//! `/v1/subscriptions` and `/v1/customers/{customer}/entitlements`.

use axum::extract::{Path, State};
use maud::{Markup, html};
use payhub_core::id::SubscriptionId;
use payhub_core::subscription::{Subscription, SubscriptionStatus};

use super::layout::{self, money, path_segment, when};
use super::payments::{timeline, timeline_table};
use super::session::Operator;
use super::{ConsoleError, ConsoleQuery};
use crate::app::Hub;

const PAGE_SIZE: u32 = 25;
/// A customer's page lists at most this many of their subscriptions.
const CUSTOMER_SUBSCRIPTIONS: u32 = 100;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    /// The last id of the previous page.
    #[serde(default)]
    after: String,
}

fn customer_link(customer: &str) -> Markup {
    html! { a href={"/admin/customers/" (path_segment(customer))} { (customer) } }
}

fn or_dash(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(when).unwrap_or_else(|| "—".into())
}

fn subscriptions_table(id: &str, subscriptions: &[Subscription], with_customer: bool) -> Markup {
    html! {
        table #(id) {
            thead { tr {
                th { "Subscription" } th { "Status" } @if with_customer { th { "Customer" } }
                th { "Plan" } th { "Period ends" } th { "Created" }
            } }
            tbody { @for s in subscriptions { tr {
                td { a href={"/admin/subscriptions/" (s.id)} { code { (s.id) } } }
                td { (s.status().as_str()) }
                @if with_customer { td { (customer_link(&s.customer_id)) } }
                td { code { (s.plan_id()) } }
                td { (or_dash(s.current_period_end())) }
                td { (when(s.created_at)) }
            } } }
        }
    }
}

pub async fn list(
    State(hub): State<Hub>,
    operator: Operator,
    ConsoleQuery(query): ConsoleQuery<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let status = super::status_filter(&query.status, SubscriptionStatus::parse, "subscription")?;
    let after = (!query.after.is_empty()).then_some(query.after.as_str());
    let page = hub
        .db
        .list_subscriptions_in_status(operator.mode(), None, status.map(|s| s.as_str()), after, PAGE_SIZE)
        .await?;
    let next = page.items.last().filter(|_| page.has_more).map(|s| {
        serde_urlencoded::to_string([("status", query.status.as_str()), ("after", s.id.as_str())]).unwrap_or_default()
    });
    let body = html! {
        form.search method="get" action="/admin/subscriptions" {
            select #status name="status" {
                option value="" { "any status" }
                @for s in SubscriptionStatus::ALL {
                    option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                }
            }
            button #filter type="submit" { "Show" }
        }
        @if page.items.is_empty() {
            p #no-subscriptions { "No " (operator.mode().as_str()) "-mode subscription matches." }
        } @else {
            (subscriptions_table("subscriptions", &page.items, true))
        }
        div.paging {
            @if after.is_some() { a href="/admin/subscriptions" { "First page" } }
            @if let Some(next) = next { a #next-page href={"/admin/subscriptions?" (next)} { "Next page" } }
        }
    };
    Ok(layout::page(&operator, "Subscriptions", body))
}

pub async fn show(State(hub): State<Hub>, operator: Operator, Path(id): Path<String>) -> Result<Markup, ConsoleError> {
    let mode = operator.mode();
    let id = SubscriptionId::parse_exact(&id)
        .ok_or_else(|| ConsoleError::Invalid(format!("`{id}` is not a subscription id (sub_…)")))?;
    let s = hub
        .db
        .subscription(mode, &id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no {}-mode subscription {id}", mode.as_str())))?;
    let plan = hub.db.plan(mode, s.plan_id()).await?;
    let payments = hub.db.subscription_payments(&s.id).await?;
    let entries = timeline(&hub, &[s.id.to_string()]).await?;
    let body = html! {
        dl.facts {
            dt { "Status" } dd #subscription-status { (s.status().as_str()) }
            dt { "Customer" } dd #subscription-customer { (customer_link(&s.customer_id)) }
            dt { "Plan" } dd #subscription-plan {
                @match &plan {
                    Some(p) => { (p.name) " · " (money(p.regular_cycle.price, p.currency)) " every "
                        (p.regular_cycle.interval_count) " " (p.regular_cycle.interval_unit.as_str())
                        " (" code { (p.id) } ")" }
                    None => { code { (s.plan_id()) } }
                }
            }
            dt { "Quantity" } dd { (s.quantity()) }
            dt { "Trial ends" } dd #subscription-trial-end { (or_dash(s.trial_end())) }
            dt { "Paid period ends" } dd #subscription-period-end { (or_dash(s.current_period_end())) }
            dt { "Payments" } dd { (s.payments_count()) " paid, " (s.failed_payments()) " failed in a row" }
            dt { "Canceled" } dd { (or_dash(s.canceled_at())) }
            dt { "Provider" } dd { (s.provider.as_str()) " · " code { (s.provider_subscription_id().unwrap_or("—")) } }
            dt { "Created" } dd { (when(s.created_at)) }
        }
        h2 { "Payments" }
        @if payments.is_empty() {
            p #no-subscription-payments { "No payment yet." }
        } @else {
            table #subscription-payments {
                thead { tr { th { "Payment" } th { "Status" } th.num { "Amount" } th { "Created" } } }
                tbody { @for p in &payments { tr {
                    td { a href={"/admin/payments/" (p.id)} { code { (p.id) } } }
                    td { (p.status().as_str()) } td.num { (money(p.amount, p.currency)) } td { (when(p.created_at)) }
                } } }
            }
        }
        h2 { "Timeline" }
        (timeline_table(&entries))
    };
    Ok(layout::page(&operator, &format!("Subscription {}", s.id), body))
}

pub async fn customer(
    State(hub): State<Hub>,
    operator: Operator,
    Path(customer): Path<String>,
) -> Result<Markup, ConsoleError> {
    let mode = operator.mode();
    let now = hub.clock.now();
    let subscriptions = hub.db.list_subscriptions(mode, Some(&customer), None, CUSTOMER_SUBSCRIPTIONS).await?;
    let entitlements = hub.db.customer_entitlements(mode, &customer).await?;
    let body = html! {
        h2 { "Entitlements" }
        @if entitlements.is_empty() {
            p #no-entitlements { "No entitlement." }
        } @else {
            table #entitlements {
                thead { tr { th { "Grants" } th { "Status" } th { "Valid until" } th { "Now" } th { "From" } th { "Ended" } } }
                tbody { @for e in &entitlements { tr {
                    td { code { (e.entitlement) } }
                    td { (e.status().as_str()) }
                    td { (when(e.valid_until())) }
                    td.state { @if e.is_active_at(now) { "grants access" } @else { "no access" } }
                    td { a href={"/admin/subscriptions/" (e.subscription_id)} { code { (e.subscription_id) } } }
                    td { (or_dash(e.revoked_at())) @if let Some(reason) = e.revoke_reason() { " (" (reason) ")" } }
                } } }
            }
        }
        h2 { "Subscriptions" }
        @if subscriptions.items.is_empty() {
            p #no-subscriptions { "No subscription." }
        } @else {
            (subscriptions_table("customer-subscriptions", &subscriptions.items, false))
        }
        @if subscriptions.has_more { p { "Only the " (CUSTOMER_SUBSCRIPTIONS) " newest subscriptions are shown." } }
    };
    Ok(layout::page(&operator, &format!("Customer {customer} ({} mode)", mode.as_str()), body))
}
