//! A request is judged on what it says by itself before anything payhub keeps: each field is
//! refused with the problem it always had, and a request wrong in itself hears so before it
//! hears about payhub's configuration, a provider's capabilities or the resource it names.

use chrono::DateTime;
use payhub::services::api_keys::create_api_key;
use payhub_core::id::{PaymentId, PlanId, SubscriptionId};
use payhub_core::{Clock, IdGenerator, Mode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_stores;

const AMOUNT_RULE: &str = "must be a positive number of minor units (cents for USD), at most 1000000000000";
const URL_RULE: &str = "must be an absolute http(s) URL";

/// Ids that are well formed but name nothing: made at the epoch, long before anything the hub made.
fn unknown_ids() -> (PaymentId, PlanId, SubscriptionId) {
    let ids = IdGenerator::seeded(99);
    let epoch = DateTime::from_timestamp(0, 0).unwrap();
    (PaymentId::generate(&ids, epoch), PlanId::generate(&ids, epoch), SubscriptionId::generate(&ids, epoch))
}

fn with(base: &Value, patch: Value) -> Value {
    let mut body = base.clone();
    for (key, value) in patch.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

impl TestApp {
    /// Posts a request with one fault and returns the field and message it was refused for,
    /// checking the problem is the invalid-request 422 whose detail repeats them.
    async fn refusal(&self, path: &str, body: Value) -> (String, String) {
        let response = self.post(path, body.clone()).await;
        assert_eq!(response.status(), 422, "{path} {body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_request", "{path} {body}: {problem}");
        let field = problem["errors"][0]["field"].as_str().unwrap().to_owned();
        let message = problem["errors"][0]["message"].as_str().unwrap().to_owned();
        assert_eq!(problem["detail"], format!("{field}: {message}"), "{problem}");
        (field, message)
    }

    async fn status_of(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.post(path, body).await;
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

on_both_stores! {
    async fn each_field_of_a_payment_is_refused_saying_what_to_fix(app) {
        let base = json!({"provider": "paypal", "amount": 1000, "currency": "USD"});
        let metadata: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        let cases = [
            (json!({"amount": 0}), "amount", AMOUNT_RULE.to_owned()),
            (json!({"amount": -5}), "amount", AMOUNT_RULE.to_owned()),
            (json!({"amount": 1_000_000_000_001i64}), "amount", AMOUNT_RULE.to_owned()),
            (json!({"currency": "usd"}), "currency",
                "`usd` is not an ISO 4217 currency code (use upper-case codes such as USD, EUR, CNY)".to_owned()),
            (json!({"currency": "XXX"}), "currency", "`XXX` has no minor unit, so it cannot be used for payments".to_owned()),
            (json!({"merchant_reference": "x".repeat(128)}), "merchant_reference", "must be at most 127 characters".to_owned()),
            (json!({"description": "   "}), "description", "must not be blank".to_owned()),
            (json!({"customer_id": ""}), "customer_id", "must not be blank".to_owned()),
            (json!({"return_url": "/thanks"}), "return_url", URL_RULE.to_owned()),
            (json!({"cancel_url": "ftp://shop.example/"}), "cancel_url", URL_RULE.to_owned()),
            (json!({"metadata": {"items": [1, 2]}}), "metadata.items",
                "values must be strings of at most 500 characters, numbers or booleans".to_owned()),
            (json!({"metadata": metadata}), "metadata", "at most 50 keys".to_owned()),
            (json!({"provider_options": {"pingpp": {"use_order": true}}}), "provider_options.pingpp",
                "applies to Ping++ payments, not paypal".to_owned()),
        ];
        for (patch, field, message) in cases {
            let refused = app.refusal("/v1/payments", with(&base, patch.clone())).await;
            assert_eq!(refused, (field.to_owned(), message), "{patch}");
        }
        assert!(app.get_json("/v1/payments").await["data"].as_array().unwrap().is_empty(), "nothing was recorded");
    }

    async fn a_payment_wrong_in_itself_hears_so_before_it_hears_its_provider_is_not_configured(app) {
        let (_, live) = create_api_key(&app.hub.db, &app.hub.ids, app.clock.now(), Mode::Live, "live").await.unwrap();
        let post = |key: &str, body: &Value| {
            app.http.post(format!("{}/v1/payments", app.url)).bearer_auth(&live)
                .header("Idempotency-Key", format!("live-{key}")).json(body).send()
        };
        let cases = [
            (json!({"provider": "paypal", "amount": 100, "currency": "usd"}), "currency"),
            (json!({"provider": "paypal", "amount": 0, "currency": "USD"}), "amount"),
            (json!({"provider": "pingpp", "amount": 100, "currency": "CNY", "return_url": "javascript:alert(1)"}), "return_url"),
        ];
        for (body, field) in cases {
            let response = post(field, &body).await.unwrap();
            assert_eq!(response.status(), 422, "{body}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!((problem["code"].as_str(), problem["errors"][0]["field"].as_str()), (Some("invalid_request"), Some(field)), "{body}: {problem}");
        }
        let valid = post("valid", &json!({"provider": "paypal", "amount": 100, "currency": "USD"})).await.unwrap();
        assert_eq!(valid.json::<Value>().await.unwrap()["code"], "provider_not_configured", "a valid request still hears it");
    }

    async fn a_refund_wrong_in_itself_is_refused_before_its_payment_is_looked_at(app) {
        let (unknown, _, _) = unknown_ids();
        let not_positive = ("amount".to_owned(), "a refund must be a positive amount".to_owned());
        assert_eq!(app.refusal(&format!("/v1/payments/{unknown}/refunds"), json!({"amount": 0})).await, not_positive);
        let unpaid = app.create_payment(1000).await;
        let unpaid = format!("/v1/payments/{}/refunds", unpaid["id"].as_str().unwrap());
        assert_eq!(app.refusal(&unpaid, json!({"amount": -100})).await, not_positive);
        assert_eq!(
            app.refusal(&unpaid, json!({"reason": "x".repeat(256)})).await,
            ("reason".to_owned(), "must be at most 255 characters".to_owned())
        );
        assert_eq!(app.refusal(&unpaid, json!({"metadata": {"": 1}})).await.0, "metadata.");
        // What only the payment can tell is told as before.
        assert_eq!(app.status_of(&format!("/v1/payments/{unknown}/refunds"), json!({"amount": 100})).await.0, 404);
        assert_eq!(app.status_of(&unpaid, json!({"amount": 100, "reason": ""})).await.0, 409);
        let paid = app.paid_payment(1000).await;
        let paid = format!("/v1/payments/{}/refunds", paid["id"].as_str().unwrap());
        assert_eq!(app.refusal(&paid, json!({"amount": 0})).await, not_positive);
        let (status, refund) = app.status_of(&paid, json!({"amount": 1000, "reason": "changed my mind"})).await;
        assert_eq!(status, 201, "{refund}");
    }

    async fn a_plan_wrong_in_itself_is_refused_before_its_provider_is_asked_what_it_offers(app) {
        let base = json!({"name": "P", "currency": "USD", "entitlement": "e", "regular_cycle": {"interval_unit": "week", "price": 100}});
        let cases = [
            (json!({"provider": "pingpp", "currency": "XYZ"}), "currency",
                "`XYZ` is not an ISO 4217 currency code (use upper-case codes such as USD, EUR, CNY)"),
            (json!({"provider": "pingpp", "name": " "}), "name", "must be 1 to 127 characters"),
            (json!({"product": "p".repeat(128)}), "product", "must be 1 to 127 characters"),
            (json!({"entitlement": "e".repeat(65)}), "entitlement", "must be 1 to 64 characters"),
            (json!({"setup_fee": -1}), "setup_fee", "must not be negative"),
            (json!({"regular_cycle": {"interval_unit": "week", "price": 0}}), "regular_cycle.price",
                "the regular cycle must cost something; use a trial for free periods"),
            (json!({"trial_cycles": [{"interval_unit": "day", "price": 0}]}), "trial_cycles[0].total_cycles",
                "a trial runs a fixed number of cycles (1 or more)"),
            (json!({"tax_basis_points": 10_001}), "tax_basis_points", "must be at most 10000 (100%)"),
            (json!({"payment_failure_threshold": 0}), "payment_failure_threshold", "must be 1 to 999"),
        ];
        for (patch, field, message) in cases {
            let refused = app.refusal("/v1/plans", with(&base, patch.clone())).await;
            assert_eq!(refused, (field.to_owned(), message.to_owned()), "{patch}");
        }
        let (status, problem) = app.status_of("/v1/plans", with(&base, json!({"provider": "pingpp"}))).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some("provider_capability_unsupported")), "a valid plan still hears it");
        assert!(app.get_json("/v1/plans").await["data"].as_array().unwrap().is_empty(), "nothing was recorded");
    }

    async fn a_change_wrong_in_itself_is_refused_before_the_plan_or_subscription_is_looked_up(app) {
        let (_, plan, subscription) = unknown_ids();
        let price = format!("/v1/plans/{plan}/price");
        assert_eq!(
            app.refusal(&price, json!({"price": 0})).await,
            ("price".to_owned(), "the regular cycle must cost something; use a trial for free periods".to_owned())
        );
        assert_eq!(app.refusal(&price, json!({"price": -1})).await, ("price".to_owned(), "must not be negative".to_owned()));
        assert_eq!(app.status_of(&price, json!({"price": 100})).await.0, 404);

        let change = format!("/v1/subscriptions/{subscription}/change");
        assert_eq!(app.refusal(&change, json!({"quantity": 0})).await, ("quantity".to_owned(), "must be at least 1".to_owned()));
        assert_eq!(
            app.refusal(&change, json!({"plan_id": "plan_1"})).await,
            ("plan_id".to_owned(), "no active plan `plan_1` in this mode".to_owned())
        );
        assert_eq!(app.status_of(&change, json!({"quantity": 2})).await.0, 404);
    }

    async fn a_subscription_is_refused_naming_the_field_before_its_plan_is_looked_up(app) {
        // A plan that does not exist: each field is refused before anyone looks for it.
        let (_, unknown_plan, _) = unknown_ids();
        let base = json!({"plan_id": unknown_plan.as_str(), "customer_id": "cus_1"});
        let cases = [
            (json!({"customer_id": ""}), "customer_id", "must be 1 to 127 characters"),
            (json!({"customer_id": "c".repeat(128)}), "customer_id", "must be 1 to 127 characters"),
            (json!({"quantity": 0}), "quantity", "must be at least 1"),
            (json!({"metadata": {"note": "n".repeat(501)}}), "metadata.note",
                "values must be strings of at most 500 characters, numbers or booleans"),
            (json!({"plan_id": "plan_1"}), "plan_id", "no plan `plan_1` in this mode"),
            // The subscriber's browser is sent there after approving: web addresses only.
            (json!({"return_url": "javascript:alert(1)"}), "return_url", URL_RULE),
            (json!({"cancel_url": "/relative"}), "cancel_url", URL_RULE),
        ];
        for (patch, field, message) in cases {
            let refused = app.refusal("/v1/subscriptions", with(&base, patch.clone())).await;
            assert_eq!(refused, (field.to_owned(), message.to_owned()), "{patch}");
        }
    }

    async fn a_webhook_endpoint_needs_an_absolute_url_and_a_filter_that_selects_something(app) {
        let url = "http://127.0.0.1:1/x";
        assert_eq!(
            app.refusal("/v1/webhook_endpoints", json!({"url": "/hooks"})).await,
            ("url".to_owned(), URL_RULE.to_owned())
        );
        assert_eq!(
            app.refusal("/v1/webhook_endpoints", json!({"url": url, "event_types": []})).await,
            ("event_types".to_owned(), "name at least one type, a family like `payment.*`, or `*`".to_owned())
        );
        let (field, message) = app.refusal("/v1/webhook_endpoints", json!({"url": url, "event_types": ["*", "refund.done"]})).await;
        assert_eq!(field, "event_types");
        assert!(message.starts_with("`refund.done` selects no event; known types: payment.created, "), "{message}");
    }
}
