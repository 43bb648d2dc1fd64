//! Subscriptions over real HTTP: plans and their validation, the buyer's consent, renewals on
//! the test clock (only ever `PAYMENT.SALE.COMPLETED`), failures up to the threshold, the billing
//! drift seed 002 saw, state rules, revisions, expiry, transactions and sale refunds.

mod common;
mod paypal_harness;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Months, NaiveTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use common::{Answer, Receiver, spawn_receiver};
use paypal_harness::{TestSandbox, spawn_sandbox};

struct Billing {
    sandbox: TestSandbox,
    receiver: Receiver,
    product_id: String,
}

async fn billing() -> Billing {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    sandbox.subscribe(&token, &receiver.url, &["*"]).await;
    let product = sandbox
        .post(
            &token,
            "/v1/catalogs/products",
            Some(json!({ "name": "Video Streaming", "type": "SERVICE", "category": "SOFTWARE" })),
            &[],
        )
        .await;
    assert_eq!(product.status, StatusCode::CREATED, "{}", product.body);
    let product_id = product.body["id"].as_str().unwrap().to_owned();
    Billing { sandbox, receiver, product_id }
}

fn cycle(tenure: &str, sequence: u32, unit: &str, count: u32, total: u32, price: Option<&str>) -> Value {
    let mut cycle = json!({
        "frequency": { "interval_unit": unit, "interval_count": count },
        "tenure_type": tenure,
        "sequence": sequence,
        "total_cycles": total,
    });
    if let Some(price) = price {
        cycle["pricing_scheme"] = json!({ "fixed_price": { "currency_code": "USD", "value": price } });
    }
    cycle
}

fn weekly(price: &str) -> Vec<Value> {
    vec![cycle("REGULAR", 1, "WEEK", 1, 0, Some(price))]
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("a time, got {value}")))
        .unwrap()
        .with_timezone(&Utc)
}

impl Billing {
    /// A fresh token: the simulator's tokens expire after nine hours of the test clock.
    async fn token(&self) -> String {
        self.sandbox.token().await
    }

    async fn next_billing_time(&self, id: &str) -> DateTime<Utc> {
        time(&self.show(id).await["billing_info"]["next_billing_time"])
    }

    /// Moves the clock just past the subscription's next billing time, so its renewal runs.
    async fn renew(&self, id: &str) {
        let next = self.next_billing_time(id).await;
        self.advance_to(next + Duration::minutes(1)).await;
    }

    /// Waits (in real time) until `count` webhooks of `event_type` arrived.
    async fn wait_for_events(&self, event_type: &str, count: usize) {
        common::eventually(|| self.events_of(event_type).len() >= count).await;
    }
    async fn plan_answer(&self, cycles: Vec<Value>, preferences: Value) -> Answer {
        let body = json!({
            "product_id": self.product_id,
            "name": "Basic Plan",
            "billing_cycles": cycles,
            "payment_preferences": preferences,
        });
        self.sandbox.post(&self.token().await, "/v1/billing/plans", Some(body), &[]).await
    }

    async fn plan(&self, cycles: Vec<Value>, preferences: Value) -> String {
        let answer = self.plan_answer(cycles, preferences).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    async fn create(&self, plan_id: &str, extra: Value) -> Answer {
        let mut body = json!({
            "plan_id": plan_id,
            "custom_id": "member-42",
            "application_context": {
                "brand_name": "Example Streaming",
                "return_url": "https://shop.example/paypal/return",
                "cancel_url": "https://shop.example/paypal/cancel",
            },
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.sandbox
            .post(&self.token().await, "/v1/billing/subscriptions", Some(body), &[("Prefer", "return=representation")])
            .await
    }

    /// A subscription to `plan_id`, approved by the buyer.
    async fn active(&self, plan_id: &str) -> String {
        let created = self.create(plan_id, json!({})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let approved = self.approve(&id).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
        common::eventually(|| {
            self.events_of("BILLING.SUBSCRIPTION.ACTIVATED").iter().any(|event| event["resource"]["id"] == id.as_str())
        })
        .await;
        id
    }

    async fn approve(&self, id: &str) -> Answer {
        self.sandbox.control(Method::POST, &format!("/sandbox/paypal/subscriptions/{id}/approve"), None).await
    }

    async fn show(&self, id: &str) -> Value {
        let answer = self.sandbox.get(&self.token().await, &format!("/v1/billing/subscriptions/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    async fn act(&self, id: &str, action: &str, body: Option<Value>) -> Answer {
        self.sandbox.post(&self.token().await, &format!("/v1/billing/subscriptions/{id}/{action}"), body, &[]).await
    }

    async fn patch(&self, path: &str, operations: Value) -> Answer {
        let response = self
            .sandbox
            .http
            .patch(format!("{}{path}", self.sandbox.url))
            .bearer_auth(&self.token().await)
            .json(&operations)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let text = response.text().await.unwrap();
        Answer { status, headers: Default::default(), body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    async fn now(&self) -> DateTime<Utc> {
        time(&self.sandbox.control(Method::GET, "/sandbox/clock", None).await.body["now"])
    }

    /// Moves the clock to `at` (which must lie ahead).
    async fn advance_to(&self, at: DateTime<Utc>) {
        let step = (at - self.now().await).num_seconds().max(0);
        let answer = self.sandbox.control(Method::POST, "/sandbox/clock/advance", Some(json!({ "by": step }))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }

    /// Every webhook received so far, as JSON, in arrival order.
    fn events(&self) -> Vec<Value> {
        self.receiver.received().iter().map(|delivery| delivery.json()).collect()
    }

    fn events_of(&self, event_type: &str) -> Vec<Value> {
        self.events().into_iter().filter(|event| event["event_type"] == event_type).collect()
    }

    fn sales_of(&self, subscription_id: &str) -> Vec<Value> {
        self.events_of("PAYMENT.SALE.COMPLETED")
            .into_iter()
            .filter(|event| event["resource"]["billing_agreement_id"] == subscription_id)
            .collect()
    }
}

#[tokio::test]
async fn plans_breaking_paypals_billing_cycle_rules_are_refused_with_its_issues() {
    let billing = billing().await;
    let three_trials = billing
        .plan_answer(
            vec![
                cycle("TRIAL", 1, "DAY", 3, 1, None),
                cycle("TRIAL", 2, "WEEK", 1, 1, Some("1.00")),
                cycle("TRIAL", 3, "WEEK", 1, 1, Some("2.00")),
                cycle("REGULAR", 4, "WEEK", 1, 0, Some("5.00")),
            ],
            json!({}),
        )
        .await;
    assert_eq!(three_trials.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(three_trials.body["name"], "UNPROCESSABLE_ENTITY");
    assert_eq!(three_trials.issue(), "MORE_THAN_TWO_TRIAL_BILLING_CYCLE_NOT_SUPPORTED");
    assert!(three_trials.body["debug_id"].is_string());

    let mut fortnightly = weekly("5.00");
    fortnightly[0]["frequency"]["interval_unit"] = json!("FORTNIGHT");
    let bad_unit = billing.plan_answer(fortnightly, json!({})).await;
    assert_eq!((bad_unit.status, bad_unit.issue()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"));
    assert_eq!(bad_unit.body["details"][0]["field"], "/billing_cycles/0/frequency/interval_unit");

    let mut pesos = weekly("5.00");
    pesos[0]["pricing_scheme"]["fixed_price"]["currency_code"] = json!("XYZ");
    let bad_currency = billing.plan_answer(pesos, json!({})).await;
    assert_eq!(
        (bad_currency.status, bad_currency.issue()),
        (StatusCode::UNPROCESSABLE_ENTITY, "CURRENCY_NOT_SUPPORTED")
    );

    let too_long = billing.plan_answer(vec![cycle("REGULAR", 1, "MONTH", 13, 0, Some("5.00"))], json!({})).await;
    assert_eq!((too_long.status, too_long.issue()), (StatusCode::BAD_REQUEST, "INVALID_INTEGER_MAX_VALUE"));

    let no_regular = billing.plan_answer(vec![cycle("TRIAL", 1, "DAY", 3, 1, None)], json!({})).await;
    assert_eq!(no_regular.issue(), "MISSING_REGULAR_BILLING_CYCLE");
}

#[tokio::test]
async fn plans_are_listed_by_product_patched_and_activated_only_from_the_right_status() {
    let billing = billing().await;
    let plan_id = billing.plan(weekly("5.00"), json!({ "payment_failure_threshold": 1 })).await;
    let shown = billing.sandbox.get(&billing.token().await, &format!("/v1/billing/plans/{plan_id}")).await;
    assert_eq!(shown.body["status"], "ACTIVE");
    assert_eq!(shown.body["billing_cycles"][0]["pricing_scheme"]["version"], 1);
    assert_eq!(shown.body["payment_preferences"]["setup_fee_failure_action"], "CANCEL", "PayPal's default");

    let listed = billing
        .sandbox
        .get(
            &billing.token().await,
            &format!("/v1/billing/plans?product_id={}&total_required=true", billing.product_id),
        )
        .await;
    assert_eq!(listed.body["plans"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["total_items"], 1);
    let other = billing.sandbox.get(&billing.token().await, "/v1/billing/plans?product_id=PROD-NOTHINGHERE12345").await;
    assert!(other.body["plans"].as_array().unwrap().is_empty());

    let patched = billing
        .patch(
            &format!("/v1/billing/plans/{plan_id}"),
            json!([
                { "op": "replace", "path": "/payment_preferences/payment_failure_threshold", "value": 7 },
                { "op": "replace", "path": "/name", "value": "Updated Video Streaming Service Plan" },
            ]),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let shown = billing.sandbox.get(&billing.token().await, &format!("/v1/billing/plans/{plan_id}")).await;
    assert_eq!(shown.body["payment_preferences"]["payment_failure_threshold"], 7);
    assert_eq!(shown.body["name"], "Updated Video Streaming Service Plan");
    let not_patchable = billing
        .patch(
            &format!("/v1/billing/plans/{plan_id}"),
            json!([{ "op": "replace", "path": "/product_id", "value": "x" }]),
        )
        .await;
    assert_eq!((not_patchable.status, not_patchable.issue()), (StatusCode::BAD_REQUEST, "INVALID_PATCH_PATH"));

    let activate_active =
        billing.sandbox.post(&billing.token().await, &format!("/v1/billing/plans/{plan_id}/activate"), None, &[]).await;
    assert_eq!(activate_active.issue(), "PLAN_STATUS_INVALID");
    let deactivated = billing
        .sandbox
        .post(&billing.token().await, &format!("/v1/billing/plans/{plan_id}/deactivate"), None, &[])
        .await;
    assert_eq!(deactivated.status, StatusCode::NO_CONTENT);
    let refused = billing.create(&plan_id, json!({})).await;
    assert_eq!((refused.status, refused.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "PLAN_STATUS_INVALID"));

    let priced = billing
        .sandbox
        .post(
            &billing.token().await,
            &format!("/v1/billing/plans/{plan_id}/update-pricing-schemes"),
            Some(json!({ "pricing_schemes": [{ "billing_cycle_sequence": 1, "pricing_scheme": { "fixed_price": { "currency_code": "USD", "value": "7.00" } } }] })),
            &[],
        )
        .await;
    assert_eq!(priced.issue(), "PRICING_SCHEME_UPDATE_NOT_ALLOWED", "an inactive plan keeps its prices");
    let types: Vec<String> =
        billing.events().iter().map(|event| event["event_type"].as_str().unwrap().to_owned()).collect();
    for expected in
        ["CATALOG.PRODUCT.CREATED", "BILLING.PLAN.CREATED", "BILLING.PLAN.UPDATED", "BILLING.PLAN.DEACTIVATED"]
    {
        assert!(types.iter().any(|seen| seen == expected), "{expected} missing from {types:?}");
    }
}

#[tokio::test]
async fn a_paid_first_cycle_raises_activated_then_sale_completed_and_sends_the_buyer_back_with_paypals_parameters() {
    let billing = billing().await;
    let plan_id = billing.plan(vec![cycle("REGULAR", 1, "MONTH", 1, 0, Some("9.99"))], json!({})).await;
    let created = billing.create(&plan_id, json!({})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["status"], "APPROVAL_PENDING");
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("I-") && id.len() == 14, "{id}");
    let rels: Vec<&str> =
        created.body["links"].as_array().unwrap().iter().map(|link| link["rel"].as_str().unwrap()).collect();
    assert_eq!(rels, ["approve", "edit", "self"]);
    let approve_url = created.body["links"][0]["href"].as_str().unwrap();
    let page = billing.sandbox.http.get(approve_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Basic Plan"));
    common::eventually(|| !billing.events_of("BILLING.SUBSCRIPTION.CREATED").is_empty()).await;

    let approved = billing.approve(&id).await;
    billing.wait_for_events("PAYMENT.SALE.COMPLETED", 1).await;
    let redirect = url::Url::parse(approved.body["redirect_url"].as_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = redirect.query_pairs().into_owned().collect();
    assert_eq!(query["subscription_id"], id);
    assert!(query["ba_token"].starts_with("BA-"));
    assert_eq!(query["token"].len(), 17);

    let subscription_events: Vec<Value> = billing
        .events()
        .into_iter()
        .filter(|event| event["resource"]["id"] == id || event["resource"]["billing_agreement_id"] == id)
        .collect();
    let types: Vec<&str> = subscription_events.iter().map(|event| event["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["BILLING.SUBSCRIPTION.CREATED", "BILLING.SUBSCRIPTION.ACTIVATED", "PAYMENT.SALE.COMPLETED"]);
    let activated = &subscription_events[1]["resource"];
    assert_eq!(activated["status"], "ACTIVE");
    assert_eq!(activated["billing_info"]["cycle_executions"][0]["cycles_completed"], 1);
    assert_eq!(activated["billing_info"]["last_payment"]["amount"]["value"], "9.99");
    let sale = &subscription_events[2];
    assert_eq!(sale["resource_type"], "sale");
    assert_eq!(sale["resource_version"], "1.0");
    assert_eq!(sale["resource"]["amount"]["total"], "9.99");
    assert_eq!(sale["resource"]["state"], "completed");
    assert_eq!(sale["resource"]["custom"], "member-42");
    assert_eq!(sale["summary"], "Payment completed for $ 9.99 USD");
}

#[tokio::test]
async fn the_consent_page_posts_its_ba_token_and_sends_the_buyer_back_to_the_merchant_like_paypal() {
    let billing = billing().await;
    let plan_id = billing.plan(weekly("4.00"), json!({})).await;
    let created = billing.create(&plan_id, json!({})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let approve_url = created.body["links"][0]["href"].as_str().unwrap().to_owned();
    let ba_token = url::Url::parse(&approve_url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "ba_token")
        .unwrap()
        .1
        .into_owned();
    let html = billing.sandbox.http.get(&approve_url).send().await.unwrap().text().await.unwrap();
    for action in ["approve", "cancel"] {
        let form = format!(
            "<form method=\"post\" action=\"/webapps/billing/subscriptions/{action}\"><input type=\"hidden\" name=\"ba_token\" value=\"{ba_token}\">"
        );
        assert!(html.contains(&form), "{html}");
    }
    assert!(html.contains("Cancel and return to Example Streaming"), "{html}");

    let decide = |action: &str, form: Vec<(&'static str, String)>| {
        let url = format!("{}/webapps/billing/subscriptions/{action}", billing.sandbox.url);
        billing.sandbox.http.post(url).form(&form).send()
    };
    let no_token = decide("approve", Vec::new()).await.unwrap();
    assert_eq!(no_token.status().as_u16(), 400);
    let declined = decide("cancel", vec![("ba_token", ba_token.clone())]).await.unwrap();
    assert_eq!(declined.status().as_u16(), 303);
    let back = declined.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("https://shop.example/paypal/cancel?subscription_id={id}&ba_token={ba_token}")));
    assert_eq!(billing.show(&id).await["status"], "APPROVAL_PENDING", "declining changes nothing");

    let approved = decide("approve", vec![("ba_token", ba_token.clone())]).await.unwrap();
    assert_eq!(approved.status().as_u16(), 303);
    let back = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("https://shop.example/paypal/return?subscription_id={id}&ba_token={ba_token}")));
    assert_eq!(billing.show(&id).await["status"], "ACTIVE");
}

#[tokio::test]
async fn a_three_day_free_trial_then_weekly_billing_charges_52_renewals_in_a_year_each_only_as_sale_completed() {
    let billing = billing().await;
    let plan_id = billing
        .plan(
            vec![cycle("TRIAL", 1, "DAY", 3, 1, Some("0")), cycle("REGULAR", 2, "WEEK", 1, 0, Some("4.99"))],
            json!({ "auto_bill_outstanding": true, "payment_failure_threshold": 3 }),
        )
        .await;
    let id = billing.active(&plan_id).await;
    assert_eq!(billing.events_of("BILLING.SUBSCRIPTION.ACTIVATED").len(), 1);
    assert!(billing.sales_of(&id).is_empty(), "a free trial charges nothing");
    let after_trial = time(&billing.show(&id).await["billing_info"]["next_billing_time"]);
    assert_eq!(after_trial.time(), NaiveTime::from_hms_opt(10, 0, 0).unwrap(), "stated at 10:00 UTC");

    for _ in 0..52 {
        billing.sandbox.advance("1w").await;
    }
    billing.sandbox.advance("1d").await;

    let sales = billing.sales_of(&id);
    assert_eq!(sales.len(), 52);
    assert!(sales.iter().all(|sale| sale["resource"]["amount"]["total"] == "4.99"));
    let sale_ids: std::collections::HashSet<&str> =
        sales.iter().map(|sale| sale["resource"]["id"].as_str().unwrap()).collect();
    assert_eq!(sale_ids.len(), 52, "every renewal is its own sale");
    assert!(billing.events_of("BILLING.SUBSCRIPTION.UPDATED").is_empty(), "renewals never raise UPDATED");
    let shown = billing.show(&id).await;
    let executions = &shown["billing_info"]["cycle_executions"];
    assert_eq!(executions[0]["cycles_completed"], 1);
    assert_eq!(executions[1]["cycles_completed"], 52);
    assert_eq!(executions[1]["cycles_remaining"], 0, "infinite");
    assert_eq!(shown["status"], "ACTIVE");
    assert!(shown["billing_info"].get("final_payment_time").is_none());
}

#[tokio::test]
async fn quarterly_billing_charges_every_three_months_at_the_stated_day() {
    let billing = billing().await;
    let plan_id = billing.plan(vec![cycle("REGULAR", 1, "MONTH", 3, 0, Some("27.00"))], json!({})).await;
    let id = billing.active(&plan_id).await;
    let shown = billing.show(&id).await;
    let started = time(&shown["status_update_time"]).date_naive();
    let expected = started
        .checked_add_months(Months::new(3))
        .unwrap()
        .and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap())
        .and_utc();
    assert_eq!(time(&shown["billing_info"]["next_billing_time"]), expected);

    for _ in 0..25 {
        billing.sandbox.advance("15d").await;
    }
    let sales = billing.sales_of(&id);
    assert_eq!(sales.len(), 1 + 4, "the first quarter at approval, then four more within 375 days");
    let second = time(&sales[1]["resource"]["create_time"]);
    assert_eq!(second, expected);
}

#[tokio::test]
async fn three_failed_payments_with_a_threshold_of_three_raise_payment_failed_thrice_then_suspend() {
    let billing = billing().await;
    let plan_id =
        billing.plan(weekly("5.00"), json!({ "auto_bill_outstanding": true, "payment_failure_threshold": 3 })).await;
    let id = billing.active(&plan_id).await;
    let failing = billing
        .sandbox
        .control(
            Method::POST,
            &format!("/sandbox/paypal/subscriptions/{id}/fail-next-payments"),
            Some(json!({ "count": 3 })),
        )
        .await;
    assert_eq!(failing.status, StatusCode::OK, "{}", failing.body);

    billing.renew(&id).await;
    billing.renew(&id).await;
    assert!(billing.events_of("BILLING.SUBSCRIPTION.SUSPENDED").is_empty(), "two failures are below the threshold");
    billing.renew(&id).await;

    let failures = billing.events_of("BILLING.SUBSCRIPTION.PAYMENT.FAILED");
    assert_eq!(failures.len(), 3);
    assert_eq!(failures[2]["resource"]["billing_info"]["failed_payments_count"], 3);
    let suspended = billing.events_of("BILLING.SUBSCRIPTION.SUSPENDED");
    assert_eq!(suspended.len(), 1);
    let types: Vec<String> =
        billing.events().iter().map(|event| event["event_type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        types.last().map(String::as_str),
        Some("BILLING.SUBSCRIPTION.SUSPENDED"),
        "suspension follows the third failure"
    );
    let shown = billing.show(&id).await;
    assert_eq!(shown["status"], "SUSPENDED");
    assert_eq!(shown["billing_info"]["outstanding_balance"]["value"], "15.0");
    assert!(shown["billing_info"].get("last_failed_payment").is_none(), "only when asked for with fields");
    assert!(shown.get("plan").is_none());
    let token = billing.token().await;
    let asked =
        billing.sandbox.get(&token, &format!("/v1/billing/subscriptions/{id}?fields=last_failed_payment,plan")).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.body["billing_info"]["last_failed_payment"]["reason_code"], "PAYMENT_DENIED");
    assert_eq!(asked.body["plan"]["id"], shown["plan_id"]);
    let unknown = billing.sandbox.get(&token, &format!("/v1/billing/subscriptions/{id}?fields=payer")).await;
    assert_eq!((unknown.status, unknown.issue()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"));
    assert_eq!(billing.sales_of(&id).len(), 1, "only the first payment went through");

    billing.sandbox.advance("2w").await;
    assert_eq!(
        billing.events_of("BILLING.SUBSCRIPTION.PAYMENT.FAILED").len(),
        3,
        "a suspended subscription is not billed"
    );
    let refused = billing.act(&id, "activate", Some(json!({ "reason": "paid" }))).await;
    assert_eq!(refused.issue(), "SUBSCRIPTION_CANNOT_BE_ACTIVATED");
    let captured = billing
        .act(
            &id,
            "capture",
            Some(json!({ "note": "Charging the balance", "capture_type": "OUTSTANDING_BALANCE", "amount": { "currency_code": "USD", "value": "15.00" } })),
        )
        .await;
    assert_eq!(captured.status, StatusCode::ACCEPTED, "{}", captured.body);
    assert_eq!(captured.body, Value::Null, "PayPal answers 202 without a body");
    let reactivated = billing.act(&id, "activate", Some(json!({ "reason": "paid" }))).await;
    assert_eq!(reactivated.status, StatusCode::NO_CONTENT, "{}", reactivated.body);
    assert_eq!(billing.events_of("BILLING.SUBSCRIPTION.RE-ACTIVATED").len(), 1);
    billing.renew(&id).await;
    assert_eq!(billing.sales_of(&id).len(), 3, "first payment, the capture, and a renewal after re-activation");
}

#[tokio::test]
async fn a_billing_drift_of_three_hours_delays_the_charge_and_its_webhook_past_next_billing_time() {
    let billing = billing().await;
    let drift =
        billing.sandbox.control(Method::PUT, "/sandbox/paypal/billing-drift", Some(json!({ "hours": 3 }))).await;
    assert_eq!(drift.body, json!({ "hours": 3, "minutes": 0 }));
    let plan_id = billing.plan(weekly("5.00"), json!({})).await;
    let id = billing.active(&plan_id).await;
    let stated = time(&billing.show(&id).await["billing_info"]["next_billing_time"]);

    billing.advance_to(stated + Duration::hours(1)).await;
    assert_eq!(billing.sales_of(&id).len(), 1, "not charged at the stated time");
    let shown = billing.show(&id).await;
    assert_eq!(time(&shown["billing_info"]["next_billing_time"]), stated, "still states the passed time");

    billing.advance_to(stated + Duration::hours(3) + Duration::minutes(1)).await;
    let sales = billing.sales_of(&id);
    assert_eq!(sales.len(), 2);
    assert!(time(&sales[1]["resource"]["create_time"]) >= stated + Duration::hours(3));
    assert!(time(&sales[1]["create_time"]) >= stated + Duration::hours(3), "the webhook comes with the charge");
    let next = time(&billing.show(&id).await["billing_info"]["next_billing_time"]);
    assert_eq!(next, stated + Duration::weeks(1));
}

#[tokio::test]
async fn suspend_cancel_and_activate_follow_paypals_status_rules() {
    let billing = billing().await;
    let plan_id = billing.plan(weekly("5.00"), json!({})).await;
    let created = billing.create(&plan_id, json!({})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let reason = || Some(json!({ "reason": "Customer request" }));

    assert_eq!(billing.act(&id, "suspend", reason()).await.issue(), "SUBSCRIPTION_STATUS_INVALID");
    assert_eq!(billing.act(&id, "cancel", reason()).await.issue(), "SUBSCRIPTION_STATUS_INVALID");
    billing.approve(&id).await;
    let no_reason = billing.act(&id, "suspend", Some(json!({}))).await;
    assert_eq!((no_reason.status, no_reason.issue()), (StatusCode::BAD_REQUEST, "MISSING_REQUIRED_PARAMETER"));
    assert_eq!(billing.act(&id, "activate", reason()).await.issue(), "SUBSCRIPTION_STATUS_INVALID");

    assert_eq!(billing.act(&id, "suspend", reason()).await.status, StatusCode::NO_CONTENT);
    let shown = billing.show(&id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["status_change_note"].as_str()),
        (Some("SUSPENDED"), Some("Customer request"))
    );
    assert_eq!(billing.act(&id, "suspend", reason()).await.issue(), "SUBSCRIPTION_STATUS_INVALID");
    billing.sandbox.advance("2w").await;
    assert_eq!(billing.sales_of(&id).len(), 1, "nothing is billed while suspended");

    assert_eq!(billing.act(&id, "activate", reason()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(billing.show(&id).await["status"], "ACTIVE");
    assert_eq!(billing.act(&id, "cancel", reason()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(billing.show(&id).await["status"], "CANCELLED");
    assert_eq!(billing.act(&id, "activate", reason()).await.issue(), "SUBSCRIPTION_STATUS_INVALID");
    assert_eq!(billing.act(&id, "cancel", reason()).await.issue(), "SUBSCRIPTION_STATUS_INVALID");
    billing.sandbox.advance("2w").await;
    assert_eq!(billing.sales_of(&id).len(), 1, "a cancelled subscription is never billed");
    for expected in
        ["BILLING.SUBSCRIPTION.SUSPENDED", "BILLING.SUBSCRIPTION.RE-ACTIVATED", "BILLING.SUBSCRIPTION.CANCELLED"]
    {
        assert_eq!(billing.events_of(expected).len(), 1, "{expected}");
    }

    let waiting = billing
        .create(&plan_id, json!({ "application_context": { "user_action": "CONTINUE", "return_url": "https://shop.example/r", "cancel_url": "https://shop.example/c" } }))
        .await;
    let waiting_id = waiting.body["id"].as_str().unwrap().to_owned();
    billing.approve(&waiting_id).await;
    assert_eq!(billing.show(&waiting_id).await["status"], "APPROVED", "CONTINUE leaves activation to the merchant");
    assert_eq!(billing.act(&waiting_id, "activate", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(billing.show(&waiting_id).await["status"], "ACTIVE");
    common::eventually(|| billing.sales_of(&waiting_id).len() == 1).await;
}

#[tokio::test]
async fn a_product_without_its_type_is_refused_as_paypal_does() {
    let billing = billing().await;
    let untyped = billing
        .sandbox
        .post(&billing.token().await, "/v1/catalogs/products", Some(json!({ "name": "No type" })), &[])
        .await;
    assert_eq!((untyped.status, untyped.issue()), (StatusCode::BAD_REQUEST, "MISSING_REQUIRED_PARAMETER"));
    assert_eq!(untyped.body["details"][0]["field"], "/type");
}

#[tokio::test]
async fn a_product_is_patched_in_its_editable_fields_and_refused_elsewhere() {
    let billing = billing().await;
    let path = format!("/v1/catalogs/products/{}", billing.product_id);
    let edit = json!([
        { "op": "replace", "path": "/description", "value": "Films and series" },
        { "op": "add", "path": "/category", "value": "DIGITAL_MEDIA_BOOKS_MOVIES_MUSIC" },
        { "op": "replace", "path": "/home_url", "value": "https://shop.example/streaming" },
    ]);
    assert_eq!(billing.patch(&path, edit).await.status, StatusCode::NO_CONTENT);
    let shown = billing.sandbox.get(&billing.token().await, &path).await.body;
    assert_eq!(shown["description"], "Films and series");
    assert_eq!(shown["category"], "DIGITAL_MEDIA_BOOKS_MOVIES_MUSIC");
    assert_eq!(shown["home_url"], "https://shop.example/streaming");
    common::eventually(|| !billing.events_of("CATALOG.PRODUCT.UPDATED").is_empty()).await;
    let updated = billing.events_of("CATALOG.PRODUCT.UPDATED");
    assert_eq!(updated.len(), 1, "one patch, one event");
    assert_eq!(updated[0]["resource"]["description"], "Films and series");

    let renamed = billing.patch(&path, json!([{ "op": "replace", "path": "/name", "value": "Other" }])).await;
    assert_eq!(renamed.status, StatusCode::BAD_REQUEST);
    assert_eq!(renamed.body["details"][0]["field"], "/0/path");
    let unknown = json!([{ "op": "replace", "path": "/category", "value": "GADGETS" }]);
    let unknown = billing.patch(&path, unknown).await;
    assert_eq!(
        (unknown.status, unknown.body["details"][0]["issue"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER_VALUE"))
    );
    let shown = billing.sandbox.get(&billing.token().await, &path).await.body;
    assert_eq!(shown["category"], "DIGITAL_MEDIA_BOOKS_MOVIES_MUSIC", "a refused patch changes nothing");
}

#[tokio::test]
async fn revising_to_another_plan_waits_for_the_buyer_then_bills_the_new_price_from_the_next_cycle() {
    let billing = billing().await;
    let basic = billing.plan(weekly("5.00"), json!({})).await;
    let premium = billing.plan(weekly("8.00"), json!({})).await;
    let id = billing.active(&basic).await;

    let revised = billing.act(&id, "revise", Some(json!({ "plan_id": premium }))).await;
    assert_eq!(revised.status, StatusCode::OK, "{}", revised.body);
    assert_eq!(revised.body["plan_id"], premium);
    let approve = revised.body["links"].as_array().unwrap().iter().find(|link| link["rel"] == "approve").unwrap();
    assert!(approve["href"].as_str().unwrap().contains("ba_token=BA-"));
    assert_eq!(billing.show(&id).await["plan_id"], basic, "nothing changes before the buyer consents");

    assert_eq!(billing.approve(&id).await.status, StatusCode::OK);
    assert_eq!(billing.show(&id).await["plan_id"], premium);
    assert_eq!(billing.events_of("BILLING.SUBSCRIPTION.UPDATED").len(), 1);
    billing.renew(&id).await;
    let sales = billing.sales_of(&id);
    assert_eq!(sales.len(), 2);
    assert_eq!(sales[1]["resource"]["amount"]["total"], "8.00");

    let product = billing
        .sandbox
        .post(&billing.token().await, "/v1/catalogs/products", Some(json!({ "name": "Other", "type": "DIGITAL" })), &[])
        .await;
    let other_product_plan = {
        let body = json!({
            "product_id": product.body["id"],
            "name": "Other",
            "billing_cycles": weekly("3.00"),
            "payment_preferences": {},
        });
        billing.sandbox.post(&billing.token().await, "/v1/billing/plans", Some(body), &[]).await.body["id"].clone()
    };
    let incompatible = billing.act(&id, "revise", Some(json!({ "plan_id": other_product_plan }))).await;
    assert_eq!(incompatible.issue(), "PLAN_PRODUCT_NOT_COMPATIBLE");
}

#[tokio::test]
async fn a_subscription_whose_cycles_run_out_expires_after_its_last_period() {
    let billing = billing().await;
    let plan_id = billing.plan(vec![cycle("REGULAR", 1, "WEEK", 1, 3, Some("5.00"))], json!({})).await;
    let id = billing.active(&plan_id).await;
    let final_payment = time(&billing.show(&id).await["billing_info"]["final_payment_time"]);
    billing.renew(&id).await;
    billing.renew(&id).await;
    assert_eq!(billing.show(&id).await["status"], "ACTIVE");
    assert_eq!(billing.sales_of(&id).len(), 3);
    assert_eq!(time(&billing.sales_of(&id)[2]["resource"]["create_time"]), final_payment);
    billing.sandbox.advance("1w").await;

    let shown = billing.show(&id).await;
    assert_eq!(shown["status"], "EXPIRED");
    assert!(shown["billing_info"].get("next_billing_time").is_none());
    assert_eq!(shown["billing_info"]["cycle_executions"][0]["cycles_remaining"], 0);
    assert_eq!(billing.events_of("BILLING.SUBSCRIPTION.EXPIRED").len(), 1);
    billing.sandbox.advance("3w").await;
    assert_eq!(billing.sales_of(&id).len(), 3, "nothing after expiry");
}

#[tokio::test]
async fn transactions_list_the_sales_between_start_and_end() {
    let billing = billing().await;
    let plan_id = billing.plan(weekly("5.00"), json!({})).await;
    let id = billing.active(&plan_id).await;
    billing.renew(&id).await;
    billing.renew(&id).await;
    let sales = billing.sales_of(&id);
    assert_eq!(sales.len(), 3);

    let from = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let start = time(&sales[0]["resource"]["create_time"]) - Duration::days(1);
    let end = billing.now().await + Duration::days(1);
    let path = |start: DateTime<Utc>| {
        format!("/v1/billing/subscriptions/{id}/transactions?start_time={}&end_time={}", from(start), from(end))
    };
    let all = billing.sandbox.get(&billing.token().await, &path(start)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let transactions = all.body["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 3);
    assert_eq!(transactions[0]["status"], "COMPLETED");
    assert_eq!(transactions[0]["amount_with_breakdown"]["gross_amount"]["value"], "5.00");
    assert_eq!(transactions[0]["id"], sales[0]["resource"]["id"]);

    let later = billing.sandbox.get(&billing.token().await, &path(time(&sales[1]["resource"]["create_time"]))).await;
    assert_eq!(later.body["transactions"].as_array().unwrap().len(), 2);
    let no_end = billing
        .sandbox
        .get(&billing.token().await, &format!("/v1/billing/subscriptions/{id}/transactions?start_time={}", from(start)))
        .await;
    assert_eq!((no_end.status, no_end.issue()), (StatusCode::BAD_REQUEST, "MISSING_REQUIRED_PARAMETER"));
}

#[tokio::test]
async fn refunding_a_renewal_sale_in_full_raises_sale_refunded_and_marks_the_sale_refunded() {
    let billing = billing().await;
    let plan_id = billing.plan(weekly("5.00"), json!({})).await;
    let id = billing.active(&plan_id).await;
    billing.renew(&id).await;
    let renewal = billing.sales_of(&id)[1]["resource"]["id"].as_str().unwrap().to_owned();

    let sale = billing.sandbox.get(&billing.token().await, &format!("/v1/payments/sale/{renewal}")).await;
    assert_eq!(sale.body["state"], "completed");
    assert_eq!(sale.body["billing_agreement_id"], id);

    let partial = billing
        .sandbox
        .post(
            &billing.token().await,
            &format!("/v1/payments/sale/{renewal}/refund"),
            Some(json!({ "amount": { "total": "2.00", "currency": "USD" } })),
            &[],
        )
        .await;
    assert_eq!(partial.status, StatusCode::CREATED, "{}", partial.body);
    assert_eq!(partial.body["sale_id"], renewal);
    let shown = billing.sandbox.get(&billing.token().await, &format!("/v1/payments/sale/{renewal}")).await;
    assert_eq!(shown.body["state"], "partially_refunded");

    let rest = billing
        .sandbox
        .post(&billing.token().await, &format!("/v1/payments/sale/{renewal}/refund"), Some(json!({})), &[])
        .await;
    assert_eq!(rest.body["amount"]["total"], "3.00");
    assert_eq!(rest.body["total_refunded_amount"]["value"], "5.00");
    let shown = billing.sandbox.get(&billing.token().await, &format!("/v1/payments/sale/{renewal}")).await;
    assert_eq!(shown.body["state"], "refunded");

    let again = billing
        .sandbox
        .post(&billing.token().await, &format!("/v1/payments/sale/{renewal}/refund"), Some(json!({})), &[])
        .await;
    assert_eq!(
        (again.status, again.body["name"].as_str()),
        (StatusCode::BAD_REQUEST, Some("TRANSACTION_ALREADY_REFUNDED"))
    );
    let refunded = billing.events_of("PAYMENT.SALE.REFUNDED");
    assert_eq!(refunded.len(), 2);
    assert_eq!(refunded[1]["resource"]["sale_id"], renewal);
    assert_eq!(refunded[1]["resource_version"], "1.0");
    let unknown = billing.sandbox.get(&billing.token().await, "/v1/payments/sale/NOSUCHSALE0000000").await;
    assert_eq!((unknown.status, unknown.body["name"].as_str()), (StatusCode::NOT_FOUND, Some("INVALID_RESOURCE_ID")));
}

#[tokio::test]
async fn a_repeated_paypal_request_id_answers_the_subscription_created_the_first_time() {
    let billing = billing().await;
    let plan_id = billing.plan(weekly("5.00"), json!({})).await;
    let body = json!({ "plan_id": plan_id });
    let first = billing
        .sandbox
        .post(
            &billing.token().await,
            "/v1/billing/subscriptions",
            Some(body.clone()),
            &[("PayPal-Request-Id", "SUBSCRIPTION-21092019-001")],
        )
        .await;
    let again = billing
        .sandbox
        .post(
            &billing.token().await,
            "/v1/billing/subscriptions",
            Some(body),
            &[("PayPal-Request-Id", "SUBSCRIPTION-21092019-001")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.body["id"], again.body["id"]);
    let listed = billing.sandbox.get(&billing.token().await, "/v1/billing/subscriptions?total_required=true").await;
    assert_eq!(listed.body["total_items"], 1);
}

#[tokio::test]
async fn a_dispute_on_a_subscription_sale_freezes_its_refund_in_the_v1_dialect() {
    let billing = billing().await;
    let plan = billing.plan(weekly("9.99"), json!({})).await;
    let id = billing.active(&plan).await;
    billing.wait_for_events("PAYMENT.SALE.COMPLETED", 1).await;
    let sale_id = billing.sales_of(&id)[0]["resource"]["id"].as_str().unwrap().to_owned();

    let opened = billing
        .sandbox
        .control(
            Method::POST,
            &format!("/sandbox/paypal/captures/{sale_id}/dispute"),
            Some(json!({ "reason": "UNAUTHORISED" })),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["disputed_transactions"][0]["seller_transaction_id"], sale_id.as_str());
    assert_eq!(opened.body["dispute_amount"]["value"], "9.99");

    let refund = billing
        .sandbox
        .post(&billing.token().await, &format!("/v1/payments/sale/{sale_id}/refund"), Some(json!({})), &[])
        .await;
    assert_eq!(refund.status, StatusCode::BAD_REQUEST);
    assert_eq!(refund.body["name"], "TRANSACTION_DISPUTED");
}
