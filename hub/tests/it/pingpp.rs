//! Ping++: QR and app payments, refunds that stay pending for days, webhooks lost and found,
//! and the anomalies of seed 004 (paid after cancel, paid through two channels).

use std::time::Duration;

use chrono::Duration as Span;
use payhub::providers::{Capability, ProviderError};
use payhub::services::ServiceError;
use payhub_core::{Mode, ProviderName};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_stores;

impl TestApp {
    pub async fn create_pingpp_payment(&self, channel: &str, amount: i64, pingpp: Value) -> Value {
        let response = self
            .post(
                "/v1/payments",
                json!({ "provider": "pingpp", "channel": channel, "amount": amount, "currency": "CNY",
                        "description": "会员月卡", "provider_options": { "pingpp": pingpp } }),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    pub async fn pingpp_control(&self, method: Method, path: &str, body: Value) -> Value {
        let response =
            self.http.request(method, format!("{}{path}", self.sandbox.pingpp_url)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "Ping++ control {path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// The buyer scans the QR code / confirms in the app.
    pub async fn buyer_pays_charge(&self, payment: &Value) {
        let charge = payment["provider_refs"]["payment_id"].as_str().unwrap();
        self.pingpp_control(Method::POST, &format!("/sandbox/pingpp/charges/{charge}/pay"), json!({})).await;
    }

    pub async fn status_becomes(&self, id: &str, status: &str) {
        self.eventually(&format!("{id} {status}"), || async { self.payment(id).await["status"] == status }).await;
    }

    /// A Ping++ notification signed with the simulator's platform key, as Ping++ signs them.
    pub fn signed_pingpp(&self, body: &[u8]) -> String {
        payhub_sandbox::pingpp::keys::PlatformKey::load().unwrap().sign(body).unwrap()
    }

    pub async fn deliver_pingpp(&self, body: &[u8], signature: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/webhooks/pingpp", self.url))
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("x-pingplusplus-signature", signature);
        }
        request.send().await.unwrap()
    }
}

fn charge_succeeded_event(event_id: &str, payment: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id, "object": "event", "created": 1_764_000_000, "livemode": false,
        "type": "charge.succeeded", "pending_webhooks": 0, "request": "iar_x",
        "data": { "object": {
            "id": payment["provider_refs"]["payment_id"], "object": "charge", "paid": true, "amount": payment["amount"],
            "currency": "cny", "channel": payment["channel"], "metadata": { "payhub_payment_id": payment["id"] }
        }}
    }))
    .unwrap()
}

on_both_stores! {
    async fn a_qr_payment_shows_a_rendered_code_and_succeeds_when_the_buyer_scans(app) {
        let payment = app.create_pingpp_payment("alipay_qr", 1200, json!({})).await;
        assert_eq!(payment["status"], "requires_action");
        let qr = &payment["next_action"]["qr_code"];
        assert_eq!(payment["next_action"]["type"], "display_qr_code");
        assert!(qr["payload"].as_str().unwrap().starts_with("https://qr.alipay.com/"), "{qr}");
        let svg = app.http.get(qr["image_url_svg"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        assert!(svg.text().await.unwrap().contains("<svg"));
        let png = app.http.get(qr["image_url_png"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(png.headers()["content-type"], "image/png");
        assert_eq!(&png.bytes().await.unwrap()[1..4], b"PNG");

        app.buyer_pays_charge(&payment).await;
        let id = payment["id"].as_str().unwrap();
        app.status_becomes(id, "succeeded").await;
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.succeeded"]);
        assert_eq!(app.payment(id).await["amount_captured"], 1200);
    }

    async fn an_app_payment_hands_the_charge_to_the_client_sdk(app) {
        let payment = app.create_pingpp_payment("wx", 990, json!({})).await;
        assert_eq!(payment["next_action"]["type"], "use_provider_sdk");
        let charge = &payment["next_action"]["credential"];
        assert_eq!(charge["object"], "charge");
        assert!(charge["credential"]["wx"].is_object(), "the app needs the channel credential: {charge}");
        app.buyer_pays_charge(&payment).await;
        app.status_becomes(payment["id"].as_str().unwrap(), "succeeded").await;
    }

    async fn partial_and_full_refunds_including_one_pending_for_three_days(app) {
        let payment = app.create_pingpp_payment("wx_pub_qr", 3000, json!({"extra": {"product_id": "vip-month"}})).await;
        app.buyer_pays_charge(&payment).await;
        let id = payment["id"].as_str().unwrap();
        app.status_becomes(id, "succeeded").await;

        let quick = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 1000, "reason": "部分退款"})).await;
        assert_eq!(quick.status(), 201);
        let quick: Value = quick.json().await.unwrap();
        let quick_id = quick["id"].as_str().unwrap().to_owned();
        app.eventually("the quick refund succeeds", || async {
            app.get_json(&format!("/v1/refunds/{quick_id}")).await["status"] == "succeeded"
        }).await;

        // A refund to a bank card: pending for three days, which is normal.
        app.pingpp_control(Method::PUT, "/sandbox/pingpp/refund-outcome", json!({"status": "pending", "settle_after": "3d"})).await;
        let slow: Value = app.post(&format!("/v1/payments/{id}/refunds"), json!({})).await.json().await.unwrap();
        assert_eq!(slow["amount"], 2000);
        assert_eq!(slow["status"], "pending");
        let slow_id = slow["id"].as_str().unwrap().to_owned();
        app.advance(Span::days(1)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.get_json(&format!("/v1/refunds/{slow_id}")).await["status"], "pending");
        assert_eq!(app.payment(id).await["amount_refund_pending"], 2000);
        app.advance(Span::days(2)).await;
        app.eventually("the bank-card refund settles", || async {
            app.get_json(&format!("/v1/refunds/{slow_id}")).await["status"] == "succeeded"
        }).await;
        let refunded = app.payment(id).await;
        assert_eq!(refunded["status"], "refunded");
        assert_eq!(refunded["amount_refunded"], 3000);
        let over = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 1})).await;
        assert_eq!(over.status(), 409, "nothing is left to refund on a refunded payment");
    }

    async fn a_refund_above_what_is_left_says_how_much_is(app) {
        let payment = app.create_pingpp_payment("alipay_qr", 1000, json!({})).await;
        app.buyer_pays_charge(&payment).await;
        let id = payment["id"].as_str().unwrap();
        app.status_becomes(id, "succeeded").await;
        assert_eq!(app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 700})).await.status(), 201);
        let over = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 400})).await;
        assert_eq!(over.status(), 422);
        assert_eq!(over.json::<Value>().await.unwrap()["remaining"], json!({"amount": 300, "currency": "CNY"}));
    }

    async fn a_lost_charge_webhook_is_recovered_by_querying_ping_plus_plus(app) {
        app.pingpp_control(Method::PUT, "/sandbox/chaos", json!({"drop_rate": 1.0})).await;
        let payment = app.create_pingpp_payment("alipay_qr", 500, json!({})).await;
        let id = payment["id"].as_str().unwrap();
        app.buyer_pays_charge(&payment).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.payment(id).await["status"], "requires_action");
        app.advance(Span::minutes(3)).await;
        app.status_becomes(id, "succeeded").await;
    }

    async fn an_order_paid_after_it_was_canceled_is_refunded_automatically(app) {
        let payment = app.create_pingpp_payment("alipay_qr", 800, json!({"use_order": true, "uid": "user-7"})).await;
        let id = payment["id"].as_str().unwrap();
        let canceled = app.post(&format!("/v1/payments/{id}/cancel"), json!({})).await;
        assert_eq!(canceled.status(), 200);
        assert_eq!(app.payment(id).await["status"], "canceled");
        // The buyer had the QR code open and pays anyway.
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
        let paid = app.pingpp_control(Method::POST, &format!("/sandbox/pingpp/orders/{order}/pay"), json!({})).await;
        assert_eq!((paid["status"].clone(), paid["paid"].clone()), (json!("canceled"), json!(true)));
        app.status_becomes(id, "refunded").await;
        let refunded = app.payment(id).await;
        assert_eq!(refunded["anomaly"]["kind"], "paid_after_cancel");
        assert_eq!(refunded["amount_refunded"], 800);
        let types = app.event_types(id).await;
        for expected in ["payment.canceled", "payment.succeeded", "payment.anomaly_detected", "payment.refunded"] {
            assert!(types.contains(&expected.to_string()), "{expected} missing: {types:?}");
        }
    }

    async fn an_order_paid_through_two_channels_gets_the_excess_refunded(app) {
        let payment = app.create_pingpp_payment("wx_pub_qr", 1500, json!({"use_order": true, "extra": {"product_id": "p1"}})).await;
        let id = payment["id"].as_str().unwrap();
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap().to_owned();
        app.pingpp_control(Method::POST, &format!("/sandbox/pingpp/orders/{order}/pay"), json!({})).await;
        app.status_becomes(id, "succeeded").await;
        // The buyer also paid with Alipay in another window.
        let twice = app.pingpp_control(Method::POST, &format!("/sandbox/pingpp/orders/{order}/pay"), json!({"channel": "alipay_qr"})).await;
        assert_eq!(twice["amount_paid"], 3000);
        app.eventually("the excess is refunded", || async { app.payment(id).await["amount_refunded"] == 1500 }).await;
        let after = app.payment(id).await;
        assert_eq!(after["status"], "succeeded", "the merchant keeps one payment");
        assert_eq!(after["anomaly"]["kind"], "overpaid");
        assert_eq!(after["anomaly"]["excess"], 1500);
        assert_eq!(after["amount_captured"], 3000);
    }

    async fn an_order_refund_carries_the_refund_mode_and_royalty_users(app) {
        let payment = app.create_pingpp_payment("alipay_qr", 2000, json!({"use_order": true})).await;
        let id = payment["id"].as_str().unwrap();
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
        app.pingpp_control(Method::POST, &format!("/sandbox/pingpp/orders/{order}/pay"), json!({})).await;
        app.status_becomes(id, "succeeded").await;
        let response = app.post(&format!("/v1/payments/{id}/refunds"), json!({
            "amount": 600,
            "provider_options": {"pingpp": {"refund_mode": "to_balance", "royalty_users": [{"user": "partner-1", "amount_refunded": 60}]}}
        })).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        app.eventually("refund settled", || async { app.payment(id).await["amount_refunded"] == 600 }).await;
        let refunds = app.pingpp_control(Method::GET, "/sandbox/pingpp/events", Value::Null).await;
        assert!(refunds["events"].as_array().unwrap().iter().any(|e| e["type"] == "refund.succeeded"));
    }

    async fn a_channel_refusal_at_ping_plus_plus_is_a_problem_with_the_channels_code_and_a_failed_payment(app) {
        let refusal = json!({ "failure_code": "SYSTEMERROR", "failure_msg": "系统繁忙" });
        app.pingpp_control(Method::PUT, "/sandbox/pingpp/channels/alipay_qr/refusal", refusal).await;

        let refused = app.post("/v1/payments", json!({"provider": "pingpp", "channel": "alipay_qr", "amount": 100, "currency": "CNY"})).await;

        assert_eq!(refused.status(), 502);
        assert_eq!(refused.headers()["content-type"], "application/problem+json");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "provider_rejected");
        assert_eq!(problem["provider_code"], "SYSTEMERROR");
        assert!(problem["detail"].as_str().unwrap().contains("系统繁忙"), "{problem}");
        let payment = app.payment(problem["resource_id"].as_str().unwrap()).await;
        assert_eq!(payment["status"], "failed");
        assert_eq!(payment["failure"]["code"], "provider_rejected:systemerror");
    }

    async fn a_rate_limited_ping_plus_plus_is_a_problem_saying_to_retry_later(app) {
        for status in [429, 403] {
            let fault = json!({ "fail_next": 1, "status": status, "path_prefix": "/v1/charges" });
            app.pingpp_control(Method::PUT, "/sandbox/pingpp/faults", fault).await;

            let limited = app.post("/v1/payments", json!({"provider": "pingpp", "channel": "alipay_qr", "amount": 100, "currency": "CNY"})).await;

            assert_eq!(limited.status(), 502, "after a {status}");
            assert_eq!(limited.headers()["content-type"], "application/problem+json");
            let problem: Value = limited.json().await.unwrap();
            assert_eq!(problem["code"], "provider_unavailable", "{problem}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(&format!("{status} rate_limit_error")), "{detail}");
        }
        let later = app.create_pingpp_payment("alipay_qr", 100, json!({})).await;
        assert_eq!(later["status"], "requires_action", "the same request passes once the limit is gone");
    }

    async fn unknown_channels_and_currencies_are_refused_naming_the_valid_ones(app) {
        let channel = app.post("/v1/payments", json!({"provider": "pingpp", "channel": "bitcoin", "amount": 100, "currency": "CNY"})).await;
        assert_eq!(channel.status(), 422);
        let detail = channel.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("alipay_qr") && detail.contains("wx_pub_qr"), "{detail}");
        let currency = app.post("/v1/payments", json!({"provider": "pingpp", "channel": "alipay_qr", "amount": 100, "currency": "USD"})).await;
        assert_eq!(currency.status(), 422);
        assert!(currency.json::<Value>().await.unwrap()["detail"].as_str().unwrap().contains("CNY"));
        let extra = app.post("/v1/payments", json!({"provider": "pingpp", "channel": "wx_pub", "amount": 100, "currency": "CNY"})).await;
        assert_eq!(extra.status(), 422);
        assert!(extra.json::<Value>().await.unwrap()["detail"].as_str().unwrap().contains("open_id"));
    }

    async fn ping_plus_plus_options_on_a_paypal_payment_are_refused_naming_the_field(app) {
        let body = json!({"provider": "paypal", "amount": 100, "currency": "USD", "provider_options": {"pingpp": {"use_order": true}}});
        let response = app.post("/v1/payments", body).await;
        assert_eq!(response.status(), 422);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "provider_options.pingpp");
        assert_eq!(problem["errors"][0]["message"], "applies to Ping++ payments, not paypal");
    }

    async fn a_plan_for_ping_plus_plus_is_refused_from_its_capabilities_before_anything_else(app) {
        let pingpp = app.hub.provider(Mode::Test, ProviderName::Pingpp).unwrap();
        assert!(!pingpp.offers(Capability::Subscriptions));
        // USD, which Ping++ does not take either, is not what the request trips on: nothing
        // about a plan matters to a provider that has no plans.
        let body = json!({"provider": "pingpp", "name": "Premium", "currency": "USD", "entitlement": "premium",
                          "regular_cycle": {"interval_unit": "month", "price": 1500}});
        let response = app.post("/v1/plans", body).await;
        assert_eq!(response.status(), 422);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "provider_capability_unsupported", "{problem}");
        assert_eq!(problem["capability"], "subscriptions");
        assert!(app.get_json("/v1/plans").await["data"].as_array().unwrap().is_empty());
        let refused = app.hub.provider_offering(Mode::Test, ProviderName::Pingpp, Capability::Subscriptions).err();
        assert!(matches!(
            refused,
            Some(ServiceError::Provider {
                error: ProviderError::Unsupported { provider: ProviderName::Pingpp, capability: Capability::Subscriptions },
                resource_id: None,
            })
        ));
    }

    async fn forged_and_malformed_ping_plus_plus_webhooks_are_refused_and_recorded(app) {
        let payment = app.create_pingpp_payment("alipay_qr", 700, json!({})).await;
        let id = payment["id"].as_str().unwrap();
        let body = charge_succeeded_event("evt_forged000000000000001", &payment);

        let unsigned = app.deliver_pingpp(&body, None).await;
        assert_eq!(unsigned.status(), 401);
        let other_body = charge_succeeded_event("evt_forged000000000000002", &payment);
        let moved = app.deliver_pingpp(&body, Some(&app.signed_pingpp(&other_body))).await;
        assert_eq!(moved.status(), 401, "a signature over a different body");
        let rejections = app.hub.db.recent_rejections(ProviderName::Pingpp, 5).await.unwrap();
        assert_eq!(rejections.len(), 2);
        assert_eq!(rejections[0].0, "bad_signature");
        assert_eq!(app.payment(id).await["status"], "requires_action", "nothing applied");

        let not_an_event = br#"{"hello": "world"}"#;
        let malformed = app.deliver_pingpp(not_an_event, Some(&app.signed_pingpp(not_an_event))).await;
        assert_eq!(malformed.status(), 400);
        assert_eq!(app.hub.db.recent_rejections(ProviderName::Pingpp, 1).await.unwrap()[0].0, "malformed_body");

        // The genuine article is accepted and applied once.
        let genuine = app.deliver_pingpp(&body, Some(&app.signed_pingpp(&body))).await;
        assert_eq!(genuine.status(), 200);
        app.status_becomes(id, "succeeded").await;
    }
}
