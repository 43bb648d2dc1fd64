//! Provider ingress: verified, durable before acknowledged, deduplicated; everything else
//! refused with a clear error and recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use payhub_core::ProviderName;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::TestApp;
use crate::on_both_stores;

fn capture_completed(event_id: &str, payment: &Value, capture_id: &str) -> Value {
    json!({
        "id": event_id,
        "event_version": "1.0",
        "create_time": "2026-11-25T10:00:00Z",
        "resource_type": "capture",
        "resource_version": "2.0",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": "Payment completed for $ 10.0 USD",
        "resource": {
            "id": capture_id,
            "status": "COMPLETED",
            "amount": { "currency_code": "USD", "value": "10.00" },
            "final_capture": true,
            "custom_id": payment["id"],
            "supplementary_data": { "related_ids": { "order_id": payment["provider_refs"]["payment_id"] } }
        },
        "links": []
    })
}

async fn last_rejection(app: &TestApp) -> String {
    let rejections = app.hub.db.recent_rejections(ProviderName::Paypal, 1).await.unwrap();
    rejections.first().map(|(reason, ..)| reason.clone()).unwrap_or_default()
}

/// How many refusals of PayPal notifications for `reason` were counted.
async fn counted(app: &TestApp, reason: &str) -> i64 {
    let counts = app.hub.db.rejection_counts(ProviderName::Paypal).await.unwrap();
    counts.iter().filter(|c| c.reason == reason).map(|c| c.count).sum()
}

on_both_stores! {
    async fn a_forged_signature_is_refused_and_recorded(app) {
        let payment = app.create_payment(1000).await;
        let mut forged = app.signed_notification(&capture_completed("WH-FORGED-1", &payment, "CAP1")).await;
        // The body says something else than what was signed.
        forged.body = serde_json::to_vec(&capture_completed("WH-FORGED-1", &payment, "CAP-EVIL")).unwrap();
        let response = app.deliver(&forged).await;
        assert_eq!(response.status(), 401);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "notification_rejected");
        assert_eq!(problem["reason"], "bad_signature");
        assert_eq!(last_rejection(&app).await, "bad_signature");
        assert_eq!(app.payment(payment["id"].as_str().unwrap()).await["status"], "requires_action");
    }

    async fn each_provider_receives_its_notifications_at_the_path_registered_with_it(app) {
        // Operators registered these URLs at the providers; they come from the providers'
        // own routes and must never move.
        for (path, provider) in [("/webhooks/paypal", ProviderName::Paypal), ("/webhooks/pingpp", ProviderName::Pingpp)] {
            let response = app.http.post(format!("{}{path}", app.url)).json(&json!({})).send().await.unwrap();
            assert_eq!(response.status(), 401, "{path}");
            let refused = app.hub.db.recent_rejections(provider, 1).await.unwrap();
            assert_eq!(refused.len(), 1, "{path} records its refusal for {provider}");
        }
    }

    async fn a_notification_without_signature_headers_is_refused(app) {
        let payment = app.create_payment(1000).await;
        let mut bare = app.signed_notification(&capture_completed("WH-BARE", &payment, "CAP1")).await;
        bare.headers.retain(|(name, _)| !name.starts_with("paypal-"));
        let response = app.deliver(&bare).await;
        assert_eq!(response.status(), 401);
        assert_eq!(last_rejection(&app).await, "missing_header");
    }

    async fn a_cert_url_on_another_host_is_refused_without_fetching_it(app) {
        let fetched = Arc::new(AtomicUsize::new(0));
        let counter = fetched.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let elsewhere = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let payment = app.create_payment(1000).await;
        let mut notification = app.signed_notification(&capture_completed("WH-SSRF", &payment, "CAP1")).await;
        notification.set("paypal-cert-url", &format!("http://{elsewhere}/v1/notifications/certs/CERT-1"));
        let response = app.deliver(&notification).await;
        assert_eq!(response.status(), 401);
        assert_eq!(last_rejection(&app).await, "cert_url_not_allowed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(fetched.load(Ordering::SeqCst), 0, "the foreign cert URL was contacted");
    }

    async fn malformed_json_wrong_content_type_and_oversized_bodies_get_4xx(app) {
        // Correctly signed, but not an event.
        let malformed = app.signed_notification(&json!("just a string")).await;
        let response = app.deliver(&malformed).await;
        assert_eq!(response.status(), 400, "{}", response.text().await.unwrap());
        assert_eq!(last_rejection(&app).await, "malformed_body");

        let payment = app.create_payment(1000).await;
        let mut text = app.signed_notification(&capture_completed("WH-TEXT", &payment, "C")).await;
        text.set("content-type", "text/plain");
        let response = app.deliver(&text).await;
        assert_eq!(response.status(), 415);
        assert_eq!(counted(&app, "unsupported_media_type").await, 1, "counted, without a row");

        let mut huge = app.signed_notification(&json!({"padding": "x".repeat(600 * 1024)})).await;
        huge.set("content-type", "application/json");
        let response = app.deliver(&huge).await;
        assert_eq!(response.status(), 413);
        assert_eq!(counted(&app, "payload_too_large").await, 1, "counted, without a row");
        assert_eq!(last_rejection(&app).await, "malformed_body");
    }

    async fn an_unknown_event_type_is_stored_and_acknowledged(app) {
        let event = json!({
            "id": "WH-UNKNOWN-1", "event_type": "VAULT.PAYMENT-TOKEN.CREATED", "resource_type": "payment_token",
            "resource": {"id": "tok_1"}, "create_time": "2026-11-25T10:00:00Z", "event_version": "1.0"
        });
        let response = app.deliver(&app.signed_notification(&event).await).await;
        assert_eq!(response.status(), 200);
        app.eventually("settled", || async {
            app.hub.db.notification_status(ProviderName::Paypal, "WH-UNKNOWN-1").await.unwrap().as_deref() == Some("processed")
        }).await;
    }

    async fn a_verified_notification_payhub_cannot_read_is_kept_for_a_person(app) {
        let event = json!({
            "id": "WH-ODD-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type": "capture",
            "resource": "not a capture", "create_time": "2026-11-25T10:00:00Z", "event_version": "1.0"
        });
        let response = app.deliver(&app.signed_notification(&event).await).await;
        assert_eq!(response.status(), 200, "accepted: it is genuine, and must not be lost");
        app.eventually("parked", || async {
            app.hub.db.notification_status(ProviderName::Paypal, "WH-ODD-1").await.unwrap().as_deref() == Some("failed")
        }).await;
    }

    async fn a_duplicate_notification_is_acknowledged_twice_and_applied_once(app) {
        let payment = app.create_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        let notification = app.signed_notification(&capture_completed("WH-DUP-1", &payment, "CAP-DUP")).await;
        let first: Value = app.deliver(&notification).await.json().await.unwrap();
        let second = app.deliver(&notification).await;
        assert_eq!(second.status(), 200);
        let second: Value = second.json().await.unwrap();
        assert_eq!((first["duplicate"].clone(), second["duplicate"].clone()), (json!(false), json!(true)));
        app.eventually("applied", || async { app.payment(id).await["status"] == "succeeded" }).await;
        // A redelivery under a new transmission (PayPal's retry) is still the same event.
        let retry = app.signed_notification(&capture_completed("WH-DUP-1", &payment, "CAP-DUP")).await;
        assert_eq!(app.deliver(&retry).await.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.succeeded"]);
    }

    async fn out_of_order_notifications_reach_the_same_final_state(app) {
        let payment = app.create_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        // The capture notice overtakes the approval notice.
        let captured = capture_completed("WH-ORDER-2", &payment, "CAP-OOO");
        assert_eq!(app.deliver(&app.signed_notification(&captured).await).await.status(), 200);
        app.eventually("succeeded", || async { app.payment(id).await["status"] == "succeeded" }).await;
        let approved = json!({
            "id": "WH-ORDER-1", "event_type": "CHECKOUT.ORDER.APPROVED", "resource_type": "checkout-order",
            "event_version": "1.0", "resource_version": "2.0", "create_time": "2026-11-25T09:59:00Z",
            "resource": {"id": payment["provider_refs"]["payment_id"], "status": "APPROVED", "intent": "CAPTURE",
                "purchase_units": [{"reference_id": "default", "custom_id": id, "amount": {"currency_code": "USD", "value": "10.00"}}]}
        });
        assert_eq!(app.deliver(&app.signed_notification(&approved).await).await.status(), 200);
        app.eventually("approval settled", || async {
            app.hub.db.notification_status(ProviderName::Paypal, "WH-ORDER-1").await.unwrap().as_deref() == Some("processed")
        }).await;
        let after = app.payment(id).await;
        assert_eq!(after["status"], "succeeded");
        assert_eq!(after["provider_refs"]["capture_id"], "CAP-OOO");
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.succeeded"]);
    }
}
