//! What a mail about an event says. Each family of events (payments, refunds, subscriptions,
//! disputes) has its own page: a headline, the facts a person needs, and where to act. Any other event
//! gets a readable generic page, so a new event type can be mailed before it has its own.
//!
//! Plain text on purpose: it reads the same in every mail client and ticketing system that
//! customer service feeds mail into.

use chrono::{DateTime, Duration, Utc};
use payhub_core::{Currency, Event, EventType, Money};
use serde_json::Value;

/// A mail's subject and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// One family's page about an event.
struct Page {
    headline: String,
    facts: Vec<(&'static str, String)>,
    /// The API path of the resource to look at, or of the event itself.
    act_at: String,
}

/// Renders the mail about `event`; links point into the hub at `hub_url`.
pub fn render(event: &Event, hub_url: &str) -> Rendered {
    let family = event.event_type.as_str().split('.').next().unwrap_or_default();
    let page = match family {
        "payment" => payment(event),
        "refund" => refund(event),
        "subscription" => subscription(event),
        "dispute" => dispute(event),
        _ => generic(event),
    };
    let mode = if event.mode == payhub_core::Mode::Test { " (test mode)" } else { "" };
    let subject = format!("[payhub{mode}] {}", page.headline);
    let mut body = format!("{}\n\n", page.headline);
    for (label, value) in &page.facts {
        // A value of several lines (a buyer's message) keeps to its column.
        let value = value.trim_end().replace('\n', &format!("\n{:18}", ""));
        body.push_str(&format!("{label:<18}{value}\n"));
    }
    body.push_str(&format!("\nSee it in payhub: {}{}\n", hub_url.trim_end_matches('/'), page.act_at));
    body.push_str(&format!(
        "\nEvent {} ({}) at {}\n",
        event.id,
        event.event_type,
        event.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    Rendered { subject, body }
}

fn payment(event: &Event) -> Page {
    let data = &event.data;
    let mut facts =
        vec![("Payment", text(data, "id")), ("Amount", amount(data, "amount")), ("Status", text(data, "status"))];
    facts.extend(present(data, &[("Provider", "provider"), ("Channel", "channel"), ("Order", "merchant_reference")]));
    if let Some(refunded) = data["amount_refunded"].as_i64().filter(|r| *r > 0) {
        facts.push(("Refunded", money(refunded, data)));
    }
    Page {
        headline: format!("Payment {} {}: {}", text(data, "id"), verb(event), amount(data, "amount")),
        facts,
        act_at: format!("/v1/payments/{}", text(data, "id")),
    }
}

fn refund(event: &Event) -> Page {
    let data = &event.data;
    let mut facts = vec![
        ("Refund", text(data, "id")),
        ("Payment", text(data, "payment_id")),
        ("Amount", amount(data, "amount")),
        ("Status", text(data, "status")),
    ];
    facts.extend(present(data, &[("Reason", "reason")]));
    Page {
        headline: format!(
            "Refund {} of payment {} {}: {}",
            text(data, "id"),
            text(data, "payment_id"),
            verb(event),
            amount(data, "amount")
        ),
        facts,
        act_at: format!("/v1/refunds/{}", text(data, "id")),
    }
}

fn subscription(event: &Event) -> Page {
    let data = &event.data;
    let mut facts = vec![("Subscription", text(data, "id")), ("Status", text(data, "status"))];
    facts.extend(present(
        data,
        &[
            ("Plan", "plan_id"),
            ("Customer", "customer_id"),
            ("Paid until", "current_period_end"),
            ("Failed payments", "failed_payments"),
        ],
    ));
    Page {
        headline: format!("Subscription {} {}", text(data, "id"), verb(event)),
        facts,
        act_at: format!("/v1/subscriptions/{}", text(data, "id")),
    }
}

/// A buyer's case: what is claimed and why, what the buyer said, by when the merchant must answer
/// and how, and where. The subject alone tells customer service how urgent it is.
fn dispute(event: &Event) -> Page {
    let data = &event.data;
    let id = text(data, "id");
    let claim = format!("{}, {}", amount(data, "amount"), words(data, "reason"));
    let due = data["response_due_at"].as_str().and_then(|due| due.parse::<DateTime<Utc>>().ok());
    let headline = match (event.event_type, due) {
        (EventType::DisputeActionRequired, Some(due)) => {
            format!("Dispute {id} needs an answer by {}: {claim}", day_and_time(due))
        }
        (EventType::DisputeCreated, Some(due)) => {
            format!("Dispute {id} opened: {claim}, answer by {}", day_and_time(due))
        }
        (EventType::DisputeCreated, None) => format!("Dispute {id} opened: {claim}"),
        (EventType::DisputeResolved, _) => format!("Dispute {id} {}: {claim}", words(data, "status")),
        _ => format!("Dispute {id} {}: {claim}", verb(event)),
    };
    let mut facts = vec![
        ("Dispute", id.clone()),
        ("Payment", text(data, "payment_id")),
        ("Amount", amount(data, "amount")),
        ("Reason", words(data, "reason")),
        ("Stage", words(data, "stage")),
        ("Status", words(data, "status")),
    ];
    facts.extend(present(data, &[("Buyer's message", "buyer_message")]));
    if let Some(due) = due {
        facts.push(("Answer by", format!("{} ({})", day_and_time(due), time_left(due - event.created_at))));
    }
    if let Some(outcome) = data["outcome"].as_object() {
        let result = outcome.get("result").and_then(Value::as_str).unwrap_or("decided").replace('_', " ");
        let refunded = outcome.get("amount_refunded").and_then(Value::as_i64).unwrap_or(0);
        facts.push(("Outcome", format!("{result}, {} back to the buyer", money(refunded, data))));
    }
    let actions: Vec<&str> =
        data["allowed_actions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    facts.push((
        "Allowed actions",
        if actions.is_empty() {
            "none now: the provider decides".to_owned()
        } else {
            format!("{} (POST /v1/disputes/{id}/<action>)", actions.join(", "))
        },
    ));
    Page { headline, facts, act_at: format!("/v1/disputes/{id}") }
}

/// A snake_case value as words: `not_as_described` → "not as described".
fn words(data: &Value, field: &str) -> String {
    text(data, field).replace('_', " ")
}

fn day_and_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// How long is left from when the event happened (the mail goes out right after it).
fn time_left(left: Duration) -> String {
    if left <= Duration::zero() {
        return "overdue".to_owned();
    }
    let (days, hours) = (left.num_days(), left.num_hours() % 24);
    match (days, hours) {
        (0, 0) => "less than an hour left".to_owned(),
        (0, hours) => format!("{hours} h left"),
        (days, 0) => format!("{days} days left"),
        (days, hours) => format!("{days} days {hours} h left"),
    }
}

/// Any event: its type, the resource, and whatever of the usual key fields it carries.
fn generic(event: &Event) -> Page {
    let data = &event.data;
    let mut facts = vec![("Event", event.event_type.to_string()), ("Resource", event.resource_id.clone())];
    if data["amount"].is_i64() {
        facts.push(("Amount", amount(data, "amount")));
    }
    facts.extend(present(
        data,
        &[("Status", "status"), ("Payment", "payment_id"), ("Reason", "reason"), ("Provider", "provider")],
    ));
    Page {
        headline: format!("{} on {}", event.event_type, event.resource_id),
        facts,
        act_at: format!("/v1/events/{}", event.id),
    }
}

/// The part of the type after the family, as words: `payment.anomaly_detected` → "anomaly detected".
fn verb(event: &Event) -> String {
    event.event_type.as_str().split_once('.').map(|(_, what)| what.replace('_', " ")).unwrap_or_default()
}

fn text(data: &Value, field: &str) -> String {
    match &data[field] {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// The fields among `wanted` that the resource has, as (label, value).
fn present(data: &Value, wanted: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    wanted
        .iter()
        .filter(|(_, field)| !data[*field].is_null())
        .map(|(label, field)| (*label, text(data, field)))
        .collect()
}

/// An amount in minor units, written in its currency (`12.50 USD`).
fn amount(data: &Value, field: &str) -> String {
    match data[field].as_i64() {
        Some(minor) => money(minor, data),
        None => "—".to_owned(),
    }
}

fn money(minor_units: i64, data: &Value) -> String {
    match data["currency"].as_str().and_then(|c| Currency::parse(c).ok()) {
        Some(currency) => Money::new(minor_units, currency).to_string(),
        None => format!("{minor_units} (minor units)"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use payhub_core::id::{EventId, IdGenerator};
    use payhub_core::{EventType, Mode};
    use serde_json::json;

    use super::*;

    fn event(event_type: EventType, resource_id: &str, data: Value) -> Event {
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap();
        Event {
            id: EventId::generate(&IdGenerator::seeded(1), at),
            mode: Mode::Live,
            event_type,
            resource_id: resource_id.to_owned(),
            sequence: 1,
            data,
            created_at: at,
        }
    }

    #[test]
    fn a_payment_mail_names_the_payment_its_amount_and_where_to_look() {
        let data = json!({"id": "pay_1", "amount": 1250, "currency": "USD", "status": "succeeded",
                          "provider": "paypal", "merchant_reference": "order-42"});
        let mail = render(&event(EventType::PaymentSucceeded, "pay_1", data), "https://pay.example.com/");
        assert_eq!(mail.subject, "[payhub] Payment pay_1 succeeded: 12.50 USD");
        assert!(mail.body.contains("Amount            12.50 USD\n"), "{}", mail.body);
        assert!(mail.body.contains("Order             order-42\n"), "{}", mail.body);
        assert!(mail.body.contains("See it in payhub: https://pay.example.com/v1/payments/pay_1\n"), "{}", mail.body);
        assert!(mail.body.contains("(payment.succeeded) at 2026-12-04 09:30:00 UTC"), "{}", mail.body);
    }

    #[test]
    fn a_refund_mail_names_its_payment() {
        let data =
            json!({"id": "re_1", "payment_id": "pay_1", "amount": 500, "currency": "JPY", "status": "succeeded"});
        let mail = render(&event(EventType::RefundSucceeded, "re_1", data), "http://hub");
        assert_eq!(mail.subject, "[payhub] Refund re_1 of payment pay_1 succeeded: 500 JPY");
        assert!(mail.body.contains("Payment           pay_1\n"));
    }

    #[test]
    fn a_subscription_mail_says_whose_it_is_and_until_when_it_is_paid() {
        let data = json!({"id": "sub_1", "status": "past_due", "plan_id": "plan_1", "customer_id": "cus_9",
                          "current_period_end": "2026-12-31T00:00:00Z", "failed_payments": 2});
        let mail = render(&event(EventType::SubscriptionPastDue, "sub_1", data), "http://hub");
        assert_eq!(mail.subject, "[payhub] Subscription sub_1 past due");
        for line in ["Customer          cus_9\n", "Paid until        2026-12-31T00:00:00Z\n", "Failed payments   2\n"] {
            assert!(mail.body.contains(line), "{line:?} in {}", mail.body);
        }
    }

    fn dispute_data() -> Value {
        json!({"id": "dp_1", "payment_id": "pay_1", "amount": 2500, "currency": "USD", "reason": "not_as_described",
               "stage": "inquiry", "status": "needs_response", "buyer_message": "The box was empty.\nPlease refund.",
               "response_due_at": "2026-12-14T21:30:00Z", "allowed_actions": ["accept", "offer", "evidence"],
               "provider_dispute_id": "PP-D-1"})
    }

    #[test]
    fn a_new_dispute_mail_says_what_is_claimed_what_the_buyer_said_and_by_when_and_how_to_answer() {
        let mail = render(&event(EventType::DisputeCreated, "dp_1", dispute_data()), "https://pay.example.com");
        assert_eq!(
            mail.subject,
            "[payhub] Dispute dp_1 opened: 25.00 USD, not as described, answer by 2026-12-14 21:30 UTC"
        );
        for line in [
            "Payment           pay_1\n",
            "Amount            25.00 USD\n",
            "Reason            not as described\n",
            "Stage             inquiry\n",
            "Buyer's message   The box was empty.\n                  Please refund.\n",
            "Answer by         2026-12-14 21:30 UTC (10 days 12 h left)\n",
            "Allowed actions   accept, offer, evidence (POST /v1/disputes/dp_1/<action>)\n",
            "See it in payhub: https://pay.example.com/v1/disputes/dp_1\n",
        ] {
            assert!(mail.body.contains(line), "{line:?} in {}", mail.body);
        }
    }

    #[test]
    fn a_dispute_mail_asks_for_an_answer_or_says_how_it_ended() {
        let asked = render(&event(EventType::DisputeActionRequired, "dp_1", dispute_data()), "http://hub");
        assert_eq!(
            asked.subject,
            "[payhub] Dispute dp_1 needs an answer by 2026-12-14 21:30 UTC: 25.00 USD, not as described"
        );
        let mut won = dispute_data();
        won["status"] = json!("won");
        won["response_due_at"] = Value::Null;
        won["allowed_actions"] = json!([]);
        won["outcome"] = json!({"result": "won", "amount_refunded": 0, "provider_code": "RESOLVED_SELLER_FAVOUR"});
        let resolved = render(&event(EventType::DisputeResolved, "dp_1", won), "http://hub");
        assert_eq!(resolved.subject, "[payhub] Dispute dp_1 won: 25.00 USD, not as described");
        assert!(resolved.body.contains("Outcome           won, 0.00 USD back to the buyer\n"), "{}", resolved.body);
        assert!(resolved.body.contains("Allowed actions   none now: the provider decides\n"), "{}", resolved.body);
        assert!(!resolved.body.contains("Answer by"), "{}", resolved.body);
        assert_eq!(time_left(Duration::minutes(-5)), "overdue");
        assert_eq!(time_left(Duration::hours(20)), "20 h left");
    }

    #[test]
    fn an_event_without_its_own_page_gets_a_readable_generic_one() {
        let data = json!({"id": "ent_1", "status": "revoked", "amount": 300, "currency": "EUR", "reason": "refunded"});
        let mut revoked = event(EventType::EntitlementRevoked, "ent_1", data);
        revoked.mode = Mode::Test;
        let mail = render(&revoked, "http://hub");
        assert_eq!(mail.subject, "[payhub (test mode)] entitlement.revoked on ent_1");
        for line in [
            "Event             entitlement.revoked\n",
            "Resource          ent_1\n",
            "Amount            3.00 EUR\n",
            "Reason            refunded\n",
        ] {
            assert!(mail.body.contains(line), "{line:?} in {}", mail.body);
        }
        assert!(mail.body.contains(&format!("http://hub/v1/events/{}", revoked.id)));
    }
}
