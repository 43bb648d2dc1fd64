//! Manual capture: the buyer's approval holds the money, the merchant captures (part of) it or
//! releases it, and a hold nobody captures expires; and a buyer whose funding source is declined
//! is sent back to PayPal to choose another.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_stores;

async fn create_manual_payment(app: &TestApp, amount: i64) -> Value {
    let response = app
        .post(
            "/v1/payments",
            json!({ "provider": "paypal", "amount": amount, "currency": "USD", "capture_method": "manual",
                    "return_url": "https://shop.example/thanks" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// A manual payment the buyer approved and came back from: held, `requires_capture`.
async fn held_payment(app: &TestApp, amount: i64) -> String {
    let payment = create_manual_payment(app, amount).await;
    assert_eq!(payment["capture_method"], "manual");
    let back = app.approve(&payment).await;
    let landing = app.http.get(&back).send().await.unwrap();
    assert_eq!(landing.status(), 303);
    let id = payment["id"].as_str().unwrap().to_owned();
    app.eventually("held", || async { app.payment(&id).await["status"] == "requires_capture" }).await;
    id
}

async fn capture(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/v1/payments/{id}/capture"), body).await
}

on_both_stores! {
    async fn an_approved_manual_payment_is_held_then_captured_in_part_and_refunded(app) {
        let id = held_payment(&app, 5000).await;
        let held = app.payment(&id).await;
        assert_eq!(held["amount_capturable"], 5000);
        assert_eq!(held["amount_captured"], 0);
        assert!(held["authorization_expires_at"].is_string(), "{held}");
        assert!(held["provider_refs"]["authorization_id"].is_string(), "{held}");
        assert!(held["next_action"].is_null());

        let refund = app.post(&format!("/v1/payments/{id}/refunds"), json!({ "amount": 100 })).await;
        assert_eq!(refund.status(), 409, "nothing captured, nothing to refund");
        let too_much = capture(&app, &id, json!({ "amount": 5001 })).await;
        assert_eq!(too_much.status(), 422);
        let problem: Value = too_much.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("capturable"), "{problem}");

        let path = format!("/v1/payments/{id}/capture");
        let captured = app.post_with_key(&path, "capture-once", json!({ "amount": 3000 })).await;
        assert_eq!(captured.status(), 200);
        let captured: Value = captured.json().await.unwrap();
        let replayed = app.post_with_key(&path, "capture-once", json!({ "amount": 3000 })).await;
        assert_eq!(replayed.status(), 200, "the same key and body get the same answer");
        assert_eq!(replayed.json::<Value>().await.unwrap(), captured);
        assert_eq!(captured["status"], "succeeded");
        assert_eq!(captured["amount_captured"], 3000);
        assert_eq!(captured["amount_capturable"], 0, "the rest is released");
        assert!(captured["provider_refs"]["capture_id"].is_string());

        let again = capture(&app, &id, json!({})).await;
        assert_eq!(again.status(), 409, "a hold is captured once");

        let refund = app.post(&format!("/v1/payments/{id}/refunds"), json!({})).await;
        assert_eq!(refund.status(), 201);
        let refund: Value = refund.json().await.unwrap();
        assert_eq!(refund["amount"], 3000, "what was captured is what may be refunded");
        assert_eq!(app.payment(&id).await["status"], "refunded");
        assert_eq!(
            app.event_types(&id).await,
            ["payment.created", "payment.authorized", "payment.succeeded", "payment.refunded"]
        );
    }

    async fn an_approval_webhook_alone_authorizes_a_manual_payment(app) {
        let payment = create_manual_payment(&app, 1200).await;
        app.approve(&payment).await;
        let id = payment["id"].as_str().unwrap();
        app.eventually("held from the webhook", || async { app.payment(id).await["status"] == "requires_capture" }).await;
        let captured: Value = capture(&app, id, json!({})).await.json().await.unwrap();
        assert_eq!((captured["status"].as_str(), captured["amount_captured"].as_i64()), (Some("succeeded"), Some(1200)));
    }

    async fn canceling_a_held_payment_voids_the_authorization(app) {
        let id = held_payment(&app, 2000).await;
        let canceled = app.post(&format!("/v1/payments/{id}/cancel"), json!({})).await;
        assert_eq!(canceled.status(), 200);
        let canceled: Value = canceled.json().await.unwrap();
        assert_eq!(canceled["status"], "canceled");
        assert_eq!(canceled["amount_capturable"], 0);
        let authorization_id = canceled["provider_refs"]["authorization_id"].as_str().unwrap();
        let at_paypal = app.paypal().get_authorization(authorization_id).await.unwrap();
        assert_eq!(at_paypal.status, payhub_paypal::AuthorizationStatus::Voided);
        assert_eq!(capture(&app, &id, json!({})).await.status(), 409);
        assert_eq!(app.event_types(&id).await, ["payment.created", "payment.authorized", "payment.canceled"]);
    }

    async fn a_hold_nobody_captures_expires_after_29_days(app) {
        let id = held_payment(&app, 700).await;
        app.advance(chrono::Duration::days(28)).await;
        assert_eq!(app.payment(&id).await["status"], "requires_capture");
        app.advance(chrono::Duration::days(1)).await;
        app.eventually("expired by the reconciler", || async { app.payment(&id).await["status"] == "expired" }).await;
        assert_eq!(app.payment(&id).await["amount_capturable"], 0);
        assert_eq!(app.event_types(&id).await, ["payment.created", "payment.authorized", "payment.expired"]);
    }

    async fn pingpp_refuses_manual_capture_before_recording_anything(app) {
        let response = app
            .post(
                "/v1/payments",
                json!({ "provider": "pingpp", "channel": "alipay_qr", "amount": 1000, "currency": "CNY",
                        "capture_method": "manual" }),
            )
            .await;
        assert_eq!(response.status(), 422);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["capability"], "manual_capture", "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("no separate capture"), "{problem}");
        let listed = app.get_json("/v1/payments").await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    }

    async fn manual_capture_through_paypals_v1_api_is_refused_naming_the_fix(app) {
        let response = app
            .post(
                "/v1/payments",
                json!({ "provider": "paypal", "amount": 1000, "currency": "USD", "capture_method": "manual",
                        "provider_options": { "paypal": { "api": "v1" } } }),
            )
            .await;
        assert_eq!(response.status(), 422);
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("v2 API"), "{problem}");
        assert_eq!(app.get_json("/v1/payments").await["data"].as_array().unwrap().len(), 0);
    }

    async fn an_unknown_capture_method_is_refused_naming_the_field(app) {
        let response = app
            .post("/v1/payments", json!({ "provider": "paypal", "amount": 1000, "currency": "USD", "capture_method": "later" }))
            .await;
        assert_eq!(response.status(), 422);
        let problem: Value = response.json().await.unwrap();
        assert!(problem.to_string().contains("capture_method"), "{problem}");
    }

    async fn a_declined_funding_source_sends_the_buyer_back_and_the_next_approval_pays(app) {
        let payment = app.create_payment(1500).await;
        let id = payment["id"].as_str().unwrap();
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
        app.sandbox_control(
            reqwest::Method::POST,
            &format!("/sandbox/paypal/orders/{order}/capture-outcome"),
            json!({ "status": "INSTRUMENT_DECLINED" }),
        )
        .await;
        let back = app.approve(&payment).await;
        app.http.get(&back).send().await.unwrap();
        app.eventually("told to act again", || async {
            app.event_types(id).await.contains(&"payment.action_required".to_owned())
        })
        .await;
        let waiting = app.payment(id).await;
        assert_eq!(waiting["status"], "requires_action");
        assert_eq!(waiting["failure"]["code"], "instrument_declined");
        assert_eq!(
            waiting["next_action"]["redirect_url"],
            format!("{}/checkoutnow?token={order}", app.sandbox.paypal_url)
        );

        let back = app.approve(&payment).await;
        app.http.get(&back).send().await.unwrap();
        app.eventually("paid with another source", || async { app.payment(id).await["status"] == "succeeded" }).await;
        let paid = app.payment(id).await;
        assert!(paid["failure"].is_null(), "{paid}");
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.action_required", "payment.succeeded"]);
    }
}
