//! Payments: the searchable list, a payment's page with its whole timeline, and refunding
//! it through the same service as `POST /v1/payments/{id}/refunds`.

use axum::extract::{Path, RawForm, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use payhub_core::id::{PaymentId, RefundId};
use payhub_core::payment::{Payment, PaymentStatus, RefundRejection};
use payhub_core::transition::Cause;
use payhub_core::{Money, PositiveAmount, ProviderName};
use payhub_store::{PaymentFilter, StoredResponse};
use serde::Deserialize;

use super::layout::{self, money, when};
use super::session::{Operator, read_form};
use super::{ConsoleError, ConsoleQuery};
use crate::app::Hub;
use crate::http::idempotency::{Claimed, claim, request_fingerprint};
use crate::services::ServiceError;
use crate::services::admins::random_token;
use crate::services::refunds::RefundRequest;

const PAGE_SIZE: u32 = 25;
/// The console's refund keys live beside the API's, in a namespace of their own.
const REFUND_KEY_PREFIX: &str = "console:";

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// A payment id, a provider's payment or capture id, or a customer id.
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    /// The last id of the previous page.
    #[serde(default)]
    after: String,
}

/// Finds what the search box names: a payment id first, then a provider reference, then a
/// customer (a list).
async fn search(
    hub: &Hub,
    operator: &Operator,
    query: &ListQuery,
    status: Option<PaymentStatus>,
) -> Result<(Vec<Payment>, bool), ConsoleError> {
    let mode = operator.mode();
    let q = query.q.trim();
    let wanted = |p: &Payment| status.is_none_or(|s| p.status() == s);
    if let Some(id) = PaymentId::parse_exact(q) {
        let found = hub.db.payment(mode, &id).await?.filter(wanted);
        return Ok((found.into_iter().collect(), false));
    }
    if !q.is_empty() {
        for provider in ProviderName::ALL {
            if let Some(payment) = hub.db.find_payment_by_provider_ref(*provider, q).await?
                && payment.mode == mode
            {
                return Ok((Some(payment).filter(wanted).into_iter().collect(), false));
            }
        }
    }
    let filter = PaymentFilter { status, customer_id: (!q.is_empty()).then(|| q.to_owned()) };
    let after = (!query.after.is_empty()).then_some(query.after.as_str());
    let page = hub.db.list_payments(mode, &filter, after, PAGE_SIZE).await?;
    Ok((page.items, page.has_more))
}

pub async fn list(
    State(hub): State<Hub>,
    operator: Operator,
    ConsoleQuery(query): ConsoleQuery<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let status = super::status_filter(&query.status, PaymentStatus::parse, "payment")?;
    let (payments, has_more) = search(&hub, &operator, &query, status).await?;
    let next = payments.last().filter(|_| has_more).map(|p| {
        serde_urlencoded::to_string([
            ("q", query.q.as_str()),
            ("status", query.status.as_str()),
            ("after", p.id.as_str()),
        ])
        .unwrap_or_default()
    });
    let body = html! {
        form.search method="get" action="/admin/payments" {
            input #q type="search" name="q" value=(query.q) size="40"
                placeholder="payment id, provider reference or customer";
            select #status name="status" {
                option value="" { "any status" }
                @for s in PaymentStatus::ALL {
                    option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                }
            }
            button #search type="submit" { "Search" }
        }
        @if payments.is_empty() {
            p #no-payments { "No " (operator.mode().as_str()) "-mode payment matches." }
        } @else {
            table #payments {
                thead { tr { th { "Payment" } th { "Status" } th.num { "Amount" } th { "Provider" } th { "Customer" } th { "Created" } } }
                tbody {
                    @for p in &payments {
                        tr {
                            td { a href={"/admin/payments/" (p.id)} { code { (p.id) } } }
                            td { (p.status().as_str()) }
                            td.num { (money(p.amount, p.currency)) }
                            td { (p.provider.as_str()) }
                            td { (p.customer_id.as_deref().unwrap_or("—")) }
                            td { (when(p.created_at)) }
                        }
                    }
                }
            }
        }
        div.paging {
            @if !query.after.is_empty() { a href="/admin/payments" { "First page" } }
            @if let Some(next) = next { a #next-page href={"/admin/payments?" (next)} { "Next page" } }
        }
    };
    Ok(layout::page(&operator, "Payments", body))
}

fn parse_payment_id(id: &str) -> Result<PaymentId, ConsoleError> {
    PaymentId::parse_exact(id).ok_or_else(|| ConsoleError::Invalid(format!("`{id}` is not a payment id (pay_…)")))
}

/// The payment an address names, if it is of the mode the console shows.
async fn payment_in_mode(hub: &Hub, operator: &Operator, id: &str) -> Result<Payment, ConsoleError> {
    let id = parse_payment_id(id)?;
    hub.db
        .payment(operator.mode(), &id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no {}-mode payment {id}", operator.mode().as_str())))
}

/// One line of a timeline.
pub(super) struct Entry {
    at: chrono::DateTime<chrono::Utc>,
    kind: &'static str,
    subject: String,
    text: String,
}

/// Everything that happened to a payment and its refunds and disputes, oldest first: status
/// changes, the provider notifications behind them, events and each attempt to deliver them.
pub(super) async fn timeline(hub: &Hub, resources: &[String]) -> Result<Vec<Entry>, ConsoleError> {
    let mut entries = Vec::new();
    let mut notifications = Vec::new();
    for resource in resources {
        for t in hub.db.transitions(resource).await? {
            if let Cause::Notification { inbox_id, .. } = &t.cause
                && !notifications.contains(inbox_id)
            {
                notifications.push(*inbox_id);
            }
            let text = format!("{} → {} ({})", t.from, t.to, t.cause);
            entries.push(Entry { at: t.at, kind: "transition", subject: resource.clone(), text });
        }
        for event in hub.db.events_of(resource).await? {
            let text = format!("{} {}", event.event_type, event.id);
            entries.push(Entry { at: event.created_at, kind: "event", subject: resource.clone(), text });
            for attempt in hub.db.delivery_attempts_of_event(&event.id).await? {
                let outcome = match (attempt.status_code, &attempt.error) {
                    (_, Some(error)) => error.clone(),
                    (Some(code), None) => format!("HTTP {code}"),
                    (None, None) => "no answer".into(),
                };
                let text = format!(
                    "{} to {} attempt {}: {outcome} in {} ms",
                    event.event_type, attempt.endpoint_id, attempt.attempt, attempt.duration_ms
                );
                entries.push(Entry { at: attempt.at, kind: "delivery", subject: event.id.to_string(), text });
            }
        }
    }
    for inbox_id in notifications {
        if let Some(n) = hub.db.inbox_notification(inbox_id).await? {
            let note = n.last_error.map(|e| format!(": {e}")).unwrap_or_default();
            let text = format!("{} {} ({}{note})", n.event_type, n.provider_event_id, n.status);
            entries.push(Entry { at: n.received_at, kind: "notification", subject: n.provider, text });
        }
    }
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}

/// A timeline, oldest first.
pub(super) fn timeline_table(entries: &[Entry]) -> Markup {
    html! {
        table.timeline #timeline {
            thead { tr { th { "When" } th { "What" } th { "Of" } th { "" } } }
            tbody { @for e in entries { tr {
                td { (when(e.at)) } td.kind { (e.kind) } td { code { (e.subject) } } td { (e.text) }
            } } }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    /// The refund just made from this page, to confirm it.
    #[serde(default)]
    refund: String,
}

pub async fn show(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    ConsoleQuery(query): ConsoleQuery<ShowQuery>,
) -> Result<Markup, ConsoleError> {
    let payment = payment_in_mode(&hub, &operator, &id).await?;
    let id = payment.id.clone();
    let refunds = hub.db.list_refunds(operator.mode(), Some(id.as_str()), None, 100).await?.items;
    let disputes = hub.db.payment_disputes(&id).await?;
    let disputes: Vec<_> = disputes.into_iter().filter(|d| d.mode == operator.mode()).collect();
    let mut resources = vec![id.to_string()];
    resources.extend(refunds.iter().map(|r| r.id.to_string()));
    resources.extend(disputes.iter().map(|d| d.id.to_string()));
    let entries = timeline(&hub, &resources).await?;
    let just_refunded = RefundId::parse_exact(&query.refund).and_then(|r| refunds.iter().find(|x| x.id == r));
    let refundable = payment.refundable();
    let c = payment.currency;
    let body = html! {
        @if let Some(r) = just_refunded {
            div.notice #refund-notice role="status" {
                "Refund " code { (r.id) } " of " (money(r.amount, r.currency)) ": " (r.status().as_str()) "."
            }
        }
        dl.facts {
            dt { "Status" } dd #payment-status { (payment.status().as_str()) @if payment.disputed() { " (disputed)" } }
            dt { "Amount" } dd { (money(payment.amount, c)) }
            dt { "Captured" } dd { (money(payment.amount_captured(), c)) }
            dt { "Refunded" } dd #refunded { (money(payment.amount_refunded(), c)) }
            dt { "Refund pending" } dd { (money(payment.amount_refund_pending(), c)) }
            dt { "Provider" } dd { (payment.provider.as_str()) " · " (payment.channel) }
            dt { "Provider reference" } dd {
                code { (payment.provider_refs().payment_id.as_deref().unwrap_or("—")) }
                @if let Some(capture) = &payment.provider_refs().capture_id { " · capture " code { (capture) } }
            }
            dt { "Customer" } dd { (payment.customer_id.as_deref().unwrap_or("—")) }
            dt { "Merchant reference" } dd { (payment.merchant_reference.as_deref().unwrap_or("—")) }
            dt { "Created" } dd { (when(payment.created_at)) }
            @if let Some(failure) = payment.failure() { dt { "Failure" } dd { (failure.code) ": " (failure.message) } }
        }
        @if payment.status() == PaymentStatus::Succeeded && refundable.amount > 0 {
            h2 { "Refund" }
            form.search method="get" action={"/admin/payments/" (payment.id) "/refund"} {
                input #refund-amount type="text" name="amount" inputmode="decimal"
                    placeholder={"all that is left: " (refundable)};
                button.danger #refund type="submit" { "Refund…" }
            }
        }
        @if !refunds.is_empty() {
            h2 { "Refunds" }
            table #refunds {
                thead { tr { th { "Refund" } th { "Status" } th.num { "Amount" } th { "Created" } } }
                tbody { @for r in &refunds { tr {
                    td { code { (r.id) } } td { (r.status().as_str()) } td.num { (money(r.amount, r.currency)) } td { (when(r.created_at)) }
                } } }
            }
        }
        @if !disputes.is_empty() {
            h2 { "Disputes" }
            table {
                thead { tr { th { "Dispute" } th { "Status" } th.num { "Amount" } th { "Response due" } } }
                tbody { @for d in &disputes { tr {
                    td { code { (d.id) } } td { (d.status().as_str()) } td.num { (money(d.amount, d.currency)) }
                    td { (d.response_due_at().map(when).unwrap_or_else(|| "—".into())) }
                } } }
            }
        }
        h2 { "Timeline" }
        (timeline_table(&entries))
    };
    Ok(layout::page(&operator, &format!("Payment {}", payment.id), body))
}

/// A refund amount typed in the payment's currency (`12.50`); empty means all that is left.
fn refund_amount(text: &str, payment: &Payment) -> Result<Money, ConsoleError> {
    let refundable = payment.refundable();
    let text = text.trim();
    if text.is_empty() {
        return Ok(refundable);
    }
    let amount = Money::from_decimal_str(text, payment.currency)
        .map_err(|e| ConsoleError::Invalid(format!("the amount `{text}` cannot be read: {e}")))?;
    if amount.amount <= 0 {
        return Err(ConsoleError::Invalid(RefundRejection::NotPositive.to_string()));
    }
    if amount.amount > refundable.amount {
        return Err(ConsoleError::Refused(format!("{amount} is more than the {refundable} still refundable")));
    }
    Ok(amount)
}

#[derive(Debug, Default, Deserialize)]
pub struct RefundQuery {
    #[serde(default)]
    amount: String,
}

/// The confirmation step: what will be refunded, in which mode, with a key that makes the
/// form refund at most once however often it is submitted.
pub async fn confirm_refund(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    ConsoleQuery(query): ConsoleQuery<RefundQuery>,
) -> Result<Markup, ConsoleError> {
    let payment = payment_in_mode(&hub, &operator, &id).await?;
    let amount = refund_amount(&query.amount, &payment)?;
    let body = html! {
        p #refund-question {
            "Refund " strong { (amount) } " of " (money(payment.amount, payment.currency)) " to the buyer of "
            code { (payment.id) } " (" (operator.mode().as_str()) " mode)? This cannot be undone."
        }
        form method="post" action={"/admin/payments/" (payment.id) "/refund"} {
            (operator.csrf_field())
            input type="hidden" name="key" value=(random_token());
            input type="hidden" name="mode" value=(operator.mode().as_str());
            input type="hidden" name="amount" value=(amount.amount);
            button.danger #confirm-refund type="submit" { "Confirm refund" }
            " "
            a href={"/admin/payments/" (payment.id)} { "Cancel" }
        }
    };
    Ok(layout::page(&operator, "Confirm refund", body))
}

#[derive(Debug, Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    amount: String,
}

pub async fn refund(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    form: RawForm,
) -> Result<Response, ConsoleError> {
    let body = form.0.clone();
    let form: RefundForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    let id = parse_payment_id(&id)?;
    let mode = operator.mode();
    operator.check_same_mode(&form.mode, "nothing was refunded")?;
    if form.key.is_empty() || form.key.len() > 64 {
        return Err(ConsoleError::Invalid("the form has no valid key; open the refund form again".into()));
    }
    let amount = form
        .amount
        .parse::<i64>()
        .ok()
        .and_then(|minor| PositiveAmount::parse(minor).ok())
        .ok_or_else(|| ConsoleError::Invalid(format!("the amount `{}` is not a positive number", form.amount)))?;

    let key = format!("{REFUND_KEY_PREFIX}{}", form.key);
    let path = format!("/admin/payments/{id}/refund");
    let fingerprint = request_fingerprint("POST", &path, &body);
    let done = |refund_id: &str| Redirect::to(&format!("/admin/payments/{id}?refund={refund_id}")).into_response();
    let reservation = match claim(&hub, mode, &key, &fingerprint).await? {
        Claimed::Run(reservation) => reservation,
        Claimed::Completed(stored) => return Ok(done(&String::from_utf8_lossy(&stored.body))),
        Claimed::InProgress => {
            return Err(ConsoleError::Unavailable(
                "this refund is being made right now; open the payment again in a moment to see it".into(),
            ));
        }
        Claimed::Mismatch => {
            return Err(ConsoleError::Invalid("this form was already used for another refund; open it again".into()));
        }
    };
    let request = RefundRequest {
        amount: Some(amount),
        reason: None,
        metadata: Default::default(),
        provider_options: Default::default(),
    };
    let remember = |refund_id: &str| StoredResponse {
        status: 201,
        content_type: "text/plain".into(),
        body: refund_id.as_bytes().to_vec(),
    };
    match hub.create_refund(mode, &id, &reservation, request).await {
        Ok(refund) => {
            hub.db.complete_idempotency_key(mode, &key, &remember(refund.id.as_str())).await?;
            tracing::info!(email = operator.email(), refund = %refund.id, payment = %id, "console: refund made");
            Ok(done(refund.id.as_str()))
        }
        Err(error) => {
            match &error {
                // The refund was recorded before the provider failed: a second submit must
                // find it, not make another.
                ServiceError::Provider { resource_id: Some(refund_id), .. } => {
                    hub.db.complete_idempotency_key(mode, &key, &remember(refund_id)).await?;
                }
                // Refused before anything was done: the same form may be sent again.
                _ => hub.db.release_idempotency_key(mode, &key).await?,
            }
            Err(error.into())
        }
    }
}
