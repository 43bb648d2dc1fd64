//! PayPal subscriptions on the test clock: trials, a year of renewals through PayPal's billing
//! drift, failures and suspension, cancellation, resumption, plan changes, lost webhooks, and the
//! entitlements that follow them.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use payhub_core::Clock;
use payhub_core::id::SubscriptionId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_stores;

impl TestApp {
    pub async fn create_plan(&self, body: Value) -> Value {
        let response = self.post("/v1/plans", body).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    pub async fn weekly_plan_with_trial(&self) -> Value {
        self.create_plan(json!({
            "name": "Premium weekly", "currency": "USD", "entitlement": "premium",
            "trial_cycles": [{"interval_unit": "day", "interval_count": 3, "total_cycles": 1, "price": 0}],
            "regular_cycle": {"interval_unit": "week", "price": 499}
        }))
        .await
    }

    pub async fn monthly_plan(&self, threshold: u32) -> Value {
        self.create_plan(json!({
            "name": "Premium monthly", "product": "premium", "currency": "USD", "entitlement": "premium",
            "regular_cycle": {"interval_unit": "month", "price": 1500},
            "payment_failure_threshold": threshold
        }))
        .await
    }

    /// Subscribes `customer` to `plan` and approves at PayPal, coming back through payhub.
    pub async fn subscribe(&self, plan: &Value, customer: &str) -> Value {
        let response = self
            .post(
                "/v1/subscriptions",
                json!({"plan_id": plan["id"], "customer_id": customer, "return_url": "https://app.example/welcome"}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let subscription: Value = response.json().await.unwrap();
        assert_eq!(subscription["status"], "approval_pending");
        assert!(subscription["next_action"]["redirect_url"].as_str().unwrap().starts_with(&self.sandbox.paypal_url));
        let provider_id = subscription["provider_subscription_id"].as_str().unwrap();
        let approved = self
            .sandbox_control(Method::POST, &format!("/sandbox/paypal/subscriptions/{provider_id}/approve"), json!({}))
            .await;
        let back = self.http.get(approved["redirect_url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(back.status(), 303);
        assert!(
            back.headers()["location"].to_str().unwrap().starts_with("https://app.example/welcome?subscription_id=")
        );
        self.quiet().await;
        self.subscription(subscription["id"].as_str().unwrap()).await
    }

    pub async fn subscription(&self, id: &str) -> Value {
        self.get_json(&format!("/v1/subscriptions/{id}")).await
    }

    pub async fn entitled(&self, customer: &str) -> Vec<String> {
        let list = self.get_json(&format!("/v1/customers/{customer}/entitlements")).await;
        list["active"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect()
    }

    pub async fn subscription_becomes(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) {
        self.eventually(what, || async { check(&self.subscription(id).await) }).await;
    }

    /// Moves the clock to `at` (hub and simulator together).
    pub async fn advance_to(&self, at: DateTime<Utc>) {
        let by = at - self.clock.now();
        if by > Span::zero() {
            self.advance(by).await;
        }
    }
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

fn payments_count(subscription: &Value) -> i64 {
    subscription["payments_count"].as_i64().unwrap()
}

on_both_stores! {
    async fn a_three_day_trial_then_a_year_of_weekly_renewals_keeps_access_through_the_drift(app) {
        // PayPal charges three hours after the billing time it states (seed 002).
        app.sandbox_control(Method::PUT, "/sandbox/paypal/billing-drift", json!({"hours": 3})).await;
        let plan = app.weekly_plan_with_trial().await;
        let subscription = app.subscribe(&plan, "cus_weekly").await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        assert_eq!(subscription["status"], "trialing");
        assert_eq!(app.entitled("cus_weekly").await, ["premium"]);

        for week in 1..=52 {
            let before = app.subscription(&id).await;
            let stated = time(&before["current_period_end"]);
            // An hour after the stated billing time PayPal has not charged yet: still entitled.
            app.advance_to(stated + Span::hours(1)).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let entitled = app.entitled("cus_weekly").await;
            if entitled.is_empty() {
                let list = app.get_json("/v1/customers/cus_weekly/entitlements").await;
                panic!("week {week}: access lost during the drift at {}: {list} sub {}", app.clock.now(), app.subscription(&id).await);
            }
            assert_eq!(payments_count(&app.subscription(&id).await), payments_count(&before), "week {week}: charged early");
            // The charge lands three hours late; the renewal extends access.
            app.advance_to(stated + Span::hours(3) + Span::minutes(1)).await;
            app.subscription_becomes(&id, &format!("renewal {week}"), |s| payments_count(s) == week).await;
            app.quiet().await;
            let renewed = app.subscription(&id).await;
            assert!(time(&renewed["current_period_end"]) > stated, "week {week}: period moved on: {renewed}");
            assert_eq!(app.entitled("cus_weekly").await, ["premium"]);
        }
        let renewed = app.subscription(&id).await;
        assert_eq!(renewed["status"], "active");
        let payments = app.get_json(&format!("/v1/subscriptions/{id}/payments")).await;
        assert_eq!(payments["data"].as_array().unwrap().len(), 52);
        assert!(payments["data"].as_array().unwrap().iter().all(|p| p["amount"] == 499 && p["status"] == "succeeded"));
        let renewals = app.get_json(&format!("/v1/events?type=subscription.renewed&resource_id={id}&limit=100")).await;
        assert_eq!(renewals["data"].as_array().unwrap().len(), 52);
    }

    async fn quarterly_billing_charges_every_three_months(app) {
        let plan = app.create_plan(json!({
            "name": "Quarterly", "currency": "USD", "entitlement": "pro",
            "regular_cycle": {"interval_unit": "month", "interval_count": 3, "price": 2999}
        })).await;
        let subscription = app.subscribe(&plan, "cus_quarterly").await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        app.subscription_becomes(&id, "first charge", |s| payments_count(s) == 1 && s["status"] == "active").await;
        for quarter in 2..=4 {
            let end = time(&app.subscription(&id).await["current_period_end"]);
            let days = (end - time(&subscription["created_at"])).num_days();
            assert!(days >= 89 * (quarter - 1), "a quarter is about 90 days, got {days}");
            app.advance_to(end + Span::minutes(1)).await;
            app.subscription_becomes(&id, &format!("quarter {quarter}"), |s| payments_count(s) == quarter).await;
        }
        assert_eq!(app.entitled("cus_quarterly").await, ["pro"]);
    }

    async fn three_failed_payments_make_it_past_due_then_suspended_and_access_ends_after_grace(app) {
        let plan = app.monthly_plan(3).await;
        let subscription = app.subscribe(&plan, "cus_failing").await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        app.subscription_becomes(&id, "active", |s| s["status"] == "active").await;
        let provider_id = subscription["provider_subscription_id"].as_str().unwrap();
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/subscriptions/{provider_id}/fail-next-payments"), json!({"count": 3})).await;

        let end = time(&app.subscription(&id).await["current_period_end"]);
        app.advance_to(end + Span::minutes(1)).await;
        app.subscription_becomes(&id, "past due", |s| s["status"] == "past_due").await;
        assert_eq!(app.entitled("cus_failing").await, ["premium"], "kept through the grace period");
        app.advance_to(end + Span::hours(25)).await;
        app.eventually("access lapsed after the grace", || async { app.entitled("cus_failing").await.is_empty() }).await;

        for _ in 0..4 {
            if app.subscription(&id).await["status"] == "suspended" {
                break;
            }
            let next = app.clock.now() + Span::days(31);
            app.advance_to(next).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        app.subscription_becomes(&id, "suspended", |s| s["status"] == "suspended").await;
        let types: Vec<String> = app.event_types(&id).await;
        for expected in ["subscription.payment_failed", "subscription.past_due", "subscription.suspended"] {
            assert!(types.contains(&expected.to_string()), "{expected} missing from {types:?}");
        }
        let revoked = app.get_json("/v1/events?type=entitlement.revoked").await;
        assert_eq!(revoked["data"].as_array().unwrap().len(), 1);
    }

    async fn cancel_mid_period_keeps_access_to_the_period_end_and_cannot_be_repeated(app) {
        let plan = app.monthly_plan(3).await;
        let subscription = app.subscribe(&plan, "cus_leaving").await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        app.subscription_becomes(&id, "active", |s| s["status"] == "active").await;
        let end = time(&app.subscription(&id).await["current_period_end"]);
        app.advance(Span::days(10)).await;
        let canceled = app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({})).await;
        assert_eq!(canceled.status(), 200);
        assert_eq!(canceled.json::<Value>().await.unwrap()["status"], "canceled");
        assert_eq!(app.entitled("cus_leaving").await, ["premium"], "paid until the period end");
        app.advance_to(end - Span::hours(1)).await;
        app.reconcile().await;
        assert_eq!(app.entitled("cus_leaving").await, ["premium"]);
        app.advance_to(end + Span::minutes(1)).await;
        app.eventually("access ends at the period end", || async { app.entitled("cus_leaving").await.is_empty() }).await;
        let ended = "/v1/entitlements?customer_id=cus_leaving&entitlement=premium&active=false";
        app.eventually("revoked by the lapse", || async { app.get_json(ended).await["data"][0]["status"] == "revoked" }).await;
        assert_eq!(app.get_json(ended).await["data"][0]["revoke_reason"], "subscription canceled");

        let again = app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({})).await;
        assert_eq!(again.status(), 409);
        let problem = again.json::<Value>().await.unwrap();
        assert_eq!((problem["status"].clone(), problem["current_status"].clone()), (json!(409), json!("canceled")));
    }

    async fn an_immediate_cancel_ends_access_now(app) {
        let plan = app.monthly_plan(3).await;
        let subscription = app.subscribe(&plan, "cus_now").await;
        let id = subscription["id"].as_str().unwrap();
        app.subscription_becomes(id, "active", |s| s["status"] == "active").await;
        let canceled = app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({"at_period_end": false})).await;
        assert_eq!(canceled.status(), 200);
        assert!(app.entitled("cus_now").await.is_empty());
    }

    async fn a_suspended_subscription_can_be_resumed(app) {
        let plan = app.monthly_plan(3).await;
        let subscription = app.subscribe(&plan, "cus_pause").await;
        let id = subscription["id"].as_str().unwrap();
        app.subscription_becomes(id, "active", |s| s["status"] == "active").await;
        let suspended = app.post(&format!("/v1/subscriptions/{id}/suspend"), json!({})).await;
        assert_eq!(suspended.json::<Value>().await.unwrap()["status"], "suspended");
        let resumed = app.post(&format!("/v1/subscriptions/{id}/resume"), json!({})).await;
        assert_eq!(resumed.status(), 200);
        assert_eq!(resumed.json::<Value>().await.unwrap()["status"], "active");
        assert!(app.event_types(id).await.contains(&"subscription.resumed".to_string()));
        assert_eq!(app.entitled("cus_pause").await, ["premium"]);
        let twice = app.post(&format!("/v1/subscriptions/{id}/resume"), json!({})).await;
        assert_eq!(twice.status(), 409);
    }

    async fn a_subscription_can_move_to_another_plan(app) {
        let basic = app.monthly_plan(3).await;
        let gold = app.create_plan(json!({
            "name": "Gold", "product": "premium", "currency": "USD", "entitlement": "gold",
            "regular_cycle": {"interval_unit": "month", "price": 3000}
        })).await;
        let subscription = app.subscribe(&basic, "cus_upgrade").await;
        let id = subscription["id"].as_str().unwrap();
        app.subscription_becomes(id, "active", |s| s["status"] == "active").await;
        let changed = app.post(&format!("/v1/subscriptions/{id}/change"), json!({"plan_id": gold["id"]})).await;
        assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
        assert_eq!(app.subscription(id).await["plan_id"], gold["id"]);
        let other = app.create_plan(json!({
            "name": "Other app", "currency": "USD", "entitlement": "other", "regular_cycle": {"interval_unit": "month", "price": 100}
        })).await;
        let refused = app.post(&format!("/v1/subscriptions/{id}/change"), json!({"plan_id": other["id"]})).await;
        assert_eq!(refused.status(), 422);
        assert!(refused.json::<Value>().await.unwrap()["detail"].as_str().unwrap().contains("premium"));
    }

    async fn a_lost_renewal_webhook_is_recovered_by_the_reconciler(app) {
        let plan = app.monthly_plan(3).await;
        let subscription = app.subscribe(&plan, "cus_lost").await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        app.subscription_becomes(&id, "active", |s| s["status"] == "active" && payments_count(s) == 1).await;
        app.quiet().await;
        app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"drop_rate": 1.0})).await;
        let end = time(&app.subscription(&id).await["current_period_end"]);
        app.advance_to(end + Span::minutes(5)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(payments_count(&app.subscription(&id).await), 1, "the renewal webhook was lost");
        // An hour after the billing time the reconciler asks PayPal.
        app.advance_to(end + Span::hours(1) + Span::minutes(1)).await;
        app.subscription_becomes(&id, "renewal found", |s| payments_count(s) == 2).await;
        assert_eq!(app.entitled("cus_lost").await, ["premium"]);
    }

    async fn invalid_plans_and_subscriptions_are_refused_naming_the_field(app) {
        let base = json!({"name": "P", "currency": "USD", "entitlement": "e", "regular_cycle": {"interval_unit": "week", "price": 100}});
        let with = |patch: Value| {
            let mut body = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        let trial = json!({"interval_unit": "day", "total_cycles": 1, "price": 0});
        let cases = [
            (with(json!({"trial_cycles": [trial, trial, trial]})), "trial_cycles"),
            (with(json!({"regular_cycle": {"interval_unit": "week", "price": -5}})), "regular_cycle.price"),
            (with(json!({"regular_cycle": {"interval_unit": "fortnight", "price": 100}})), "regular_cycle.interval_unit"),
            (with(json!({"currency": "XYZ"})), "currency"),
        ];
        for (body, field) in cases {
            let response = app.post("/v1/plans", body.clone()).await;
            assert_eq!(response.status(), 422, "{body}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
        }
        let plan = app.monthly_plan(3).await;
        let deactivated = app.post(&format!("/v1/plans/{}/deactivate", plan["id"].as_str().unwrap()), json!({})).await;
        assert_eq!(deactivated.json::<Value>().await.unwrap()["status"], "inactive");
        let refused = app.post("/v1/subscriptions", json!({"plan_id": plan["id"], "customer_id": "c"})).await;
        assert_eq!(refused.status(), 422);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "plan_id");
        assert!(problem["detail"].as_str().unwrap().contains("inactive"));
    }

    async fn a_subscription_made_outside_payhub_is_adopted_when_its_renewal_arrives(app) {
        let plan = app.monthly_plan(3).await;
        // An older integration created it at PayPal directly (seed 002's front-end purchase).
        let request = payhub_paypal::CreateSubscriptionRequest {
            plan_id: plan["provider_plan_id"].as_str().unwrap().to_owned(),
            custom_id: Some("legacy-user-9".into()),
            ..Default::default()
        };
        let remote = app.paypal().create_subscription("legacy-1", &request).await.unwrap();
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/subscriptions/{}/approve", remote.id), json!({})).await;
        app.eventually("adopted and entitled", || async { app.entitled("legacy-user-9").await == ["premium"] }).await;
        let adopted = app.get_json("/v1/subscriptions?customer_id=legacy-user-9").await;
        assert_eq!(adopted["data"][0]["provider_subscription_id"], remote.id.as_str());
        assert_eq!(adopted["data"][0]["status"], "active");
    }

    async fn a_notification_about_a_subscription_payhub_is_creating_waits_instead_of_adopting_a_copy(app) {
        let plan = app.monthly_plan(3).await;
        // payhub's create request has reached PayPal but not committed its row: PayPal's
        // notifications name payhub's id in `custom_id` and arrive first.
        let ours = SubscriptionId::generate(&app.hub.ids, app.clock.now());
        let request = payhub_paypal::CreateSubscriptionRequest {
            plan_id: plan["provider_plan_id"].as_str().unwrap().to_owned(),
            custom_id: Some(ours.to_string()),
            ..Default::default()
        };
        let remote = app.paypal().create_subscription("in-flight-1", &request).await.unwrap();
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/subscriptions/{}/approve", remote.id), json!({})).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let listed = app.get_json("/v1/subscriptions").await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 0, "no copy adopted: {listed}");

        // The request never commits (it died): once it is overdue, the subscription is
        // recovered from PayPal under the id payhub gave it, not lost.
        let recovered = || async { app.get(&format!("/v1/subscriptions/{ours}")).await.status() == 200 };
        for _ in 0..12 {
            if recovered().await {
                break;
            }
            app.advance(Span::minutes(1)).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        app.eventually("recovered under payhub's id", recovered).await;
        let listed = app.get_json("/v1/subscriptions").await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed["data"][0]["provider_subscription_id"], remote.id.as_str());
        assert_eq!(listed["data"][0]["id"], ours.as_str(), "the one subscription is payhub's own, not a copy");
    }

    async fn notifications_in_any_order_reach_the_same_state(app) {
        // Deliver every webhook late and shuffled: the sale can overtake the activation.
        app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"reorder": true, "duplicate_rate": 0.5})).await;
        let plan = app.monthly_plan(3).await;
        let subscription = app.subscribe(&plan, "cus_shuffled").await;
        let id = subscription["id"].as_str().unwrap();
        app.subscription_becomes(id, "active with one payment", |s| s["status"] == "active" && payments_count(s) == 1).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = app.subscription(id).await;
        assert_eq!((after["status"].clone(), payments_count(&after)), (json!("active"), 1));
        let activated = app.get_json(&format!("/v1/events?type=subscription.activated&resource_id={id}")).await;
        assert_eq!(activated["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get_json(&format!("/v1/subscriptions/{id}/payments")).await["data"].as_array().unwrap().len(), 1);
    }

    async fn a_full_refund_of_the_paying_payment_revokes_access(app) {
        let plan = app.monthly_plan(3).await;
        let subscription = app.subscribe(&plan, "cus_refund").await;
        let id = subscription["id"].as_str().unwrap();
        app.subscription_becomes(id, "paid", |s| payments_count(s) == 1).await;
        let payments = app.get_json(&format!("/v1/subscriptions/{id}/payments")).await;
        let payment = payments["data"][0]["id"].as_str().unwrap();
        let refund = app.post(&format!("/v1/payments/{payment}/refunds"), json!({})).await;
        assert_eq!(refund.status(), 201, "{}", refund.text().await.unwrap());
        app.eventually("access revoked", || async { app.entitled("cus_refund").await.is_empty() }).await;
    }
}

impl TestApp {
    /// Waits until every event PayPal raised so far has been delivered (or dropped).
    pub async fn paypal_webhooks_settled(&self) {
        self.eventually("PayPal webhooks settled", || async {
            let done: std::collections::HashSet<String> = self
                .sandbox
                .paypal
                .deliveries()
                .into_iter()
                .filter(|d| d.delivered || d.dropped)
                .map(|d| d.event_id)
                .collect();
            self.sandbox.paypal.events().iter().all(|e| done.contains(e["id"].as_str().unwrap_or_default()))
        })
        .await;
    }

    /// Waits until PayPal's webhooks so far are delivered and the hub has applied them all, so
    /// that moving the clock next cannot race a notification still being processed.
    pub async fn quiet(&self) {
        self.paypal_webhooks_settled().await;
        self.eventually("inbox drained", || async { self.hub.db.inbox_backlog().await.unwrap() == 0 }).await;
    }

    /// Runs one reconciler pass now (the background one runs on its own schedule too).
    pub async fn reconcile(&self) {
        payhub::workers::reconciler::reconcile_due(&self.hub).await.unwrap();
    }
}
