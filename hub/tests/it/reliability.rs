//! When things go wrong: lost, duplicated webhooks, failing providers, failing merchant
//! endpoints, several instances on one database.

use std::time::Duration;

use chrono::Duration as Span;
use payhub::Hub;
use payhub::http::idempotency::request_fingerprint;
use payhub::providers::Providers;
use payhub::providers::paypal::Paypal;
use payhub::providers::registry::Registration;
use payhub_core::id::{EventId, PaymentId, RequestId};
use payhub_core::{Clock, Mode};
use payhub_store::{Claimant, IdempotencyClaim, InstanceIdentity};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{PROVIDER_TIMEOUT, TestApp, test_settings};
use crate::on_both_stores;

on_both_stores! {
    async fn a_lost_webhook_is_recovered_by_the_reconciler(app) {
        app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"drop_rate": 1.0})).await;
        let payment = app.create_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        // The buyer approves and never comes back; PayPal's webhook is lost.
        app.approve(&payment).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.payment(id).await["status"], "requires_action");
        // Minutes later (on the test clock) the reconciler asks PayPal and captures.
        app.advance(Span::minutes(3)).await;
        app.eventually("captured by the reconciler", || async { app.payment(id).await["status"] == "succeeded" }).await;
        let transitions = app.hub.db.transitions(id).await.unwrap();
        assert_eq!(transitions.last().unwrap().cause, payhub_core::transition::Cause::Reconciler);
    }

    async fn duplicated_webhooks_are_applied_once(app) {
        app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"duplicate_rate": 1.0})).await;
        let payment = app.paid_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 1000})).await;
        app.eventually("every copy delivered", || async {
            let log = app.sandbox_control(Method::GET, "/sandbox/paypal/deliveries", Value::Null).await;
            log["deliveries"].as_array().unwrap().iter().filter(|d| d["duplicate"] == true && d["delivered"] == true).count() >= 3
        }).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.succeeded", "payment.refunded"]);
        assert_eq!(app.payment(id).await["amount_refunded"], 1000);
    }

    async fn a_provider_failure_on_create_is_a_502_and_the_payment_is_recorded_failed(app) {
        app.sandbox_control(Method::PUT, "/sandbox/paypal/faults", json!({"fail_next": 3, "status": 503, "path_prefix": "/v2/"})).await;
        let response = app.post("/v1/payments", json!({"provider": "paypal", "amount": 1000, "currency": "USD"})).await;
        assert_eq!(response.status(), 502);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "provider_unavailable");
        let id = problem["resource_id"].as_str().unwrap();
        let payment = app.payment(id).await;
        assert_eq!(payment["status"], "failed");
        assert_eq!(payment["failure"]["code"], "provider_unavailable");
    }

    async fn a_refund_whose_answer_times_out_stays_pending_and_is_settled_once(app) {
        let payment = app.paid_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        // PayPal makes the refund but answers after payhub gave up waiting, and its webhook is
        // lost: only the reconciler can find out.
        app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"drop_rate": 1.0})).await;
        let hang = PROVIDER_TIMEOUT.as_millis() as u64 + 1000;
        app.sandbox_control(Method::PUT, "/sandbox/paypal/faults", json!({"fail_next": 1, "hang_ms": hang, "path_prefix": "/v2/payments/captures"})).await;
        let response = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 400})).await;
        assert_eq!(response.status(), 504);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "provider_timeout");
        let refund_id = problem["resource_id"].as_str().unwrap().to_owned();
        let refund = app.get_json(&format!("/v1/refunds/{refund_id}")).await;
        assert_eq!(refund["status"], "pending");
        // The amount stays reserved meanwhile.
        let over = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 700})).await;
        assert_eq!(over.status(), 422, "{}", over.text().await.unwrap());
        // The reconciler asks again with the same PayPal-Request-Id and learns the outcome.
        app.advance(Span::minutes(2)).await;
        app.eventually("refund settled", || async {
            app.get_json(&format!("/v1/refunds/{refund_id}")).await["status"] == "succeeded"
        }).await;
        assert_eq!(app.payment(id).await["amount_refunded"], 400);
        let capture = app.paypal().get_capture(payment["provider_refs"]["capture_id"].as_str().unwrap()).await.unwrap();
        assert_eq!(capture.status, payhub_paypal::CaptureStatus::PartiallyRefunded, "refunded once at PayPal");
    }

    async fn a_failing_merchant_endpoint_gets_retries_with_the_same_webhook_id(app) {
        *app.receiver.answer.lock().unwrap() = 500;
        let payment = app.create_payment(1000).await;
        app.eventually("a failed attempt", || async { !app.receiver.received.lock().unwrap().is_empty() }).await;
        *app.receiver.answer.lock().unwrap() = 200;
        let events = app.get_json(&format!("/v1/events?resource_id={}", payment["id"].as_str().unwrap())).await;
        let event_id = EventId::parse(events["data"][0]["id"].as_str().unwrap()).unwrap();
        app.eventually("delivered on a retry", || async {
            let deliveries = app.hub.db.deliveries_of_event(&event_id).await.unwrap();
            deliveries.iter().any(|d| d.status == "delivered" && d.attempts >= 2)
        }).await;
        let received = app.receiver.received.lock().unwrap().clone();
        let ids: Vec<_> = received.iter().filter_map(|(h, _)| h.get("webhook-id")).filter(|v| *v == event_id.as_str()).collect();
        assert!(ids.len() >= 2, "the retry carried the same webhook-id");
    }

    async fn two_instances_on_one_database_apply_each_notification_once(app) {
        // A second hub on the same database, with its own webhook registered at PayPal: every
        // notification now reaches both instances.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut providers = Providers::default();
        providers.insert(Mode::Test, Paypal.sandbox_adapter(&app.sandbox, &url, PROVIDER_TIMEOUT).await.unwrap());
        let second = Hub::new(app.hub.db.clone(), app.clock.clone(), providers, test_settings(&url)).serve(listener).await.unwrap();
        let mut ids = Vec::new();
        for _ in 0..5 {
            let payment = app.create_payment(500).await;
            app.approve(&payment).await;
            ids.push(payment["id"].as_str().unwrap().to_owned());
        }
        for id in &ids {
            app.eventually("captured", || async { app.payment(id).await["status"] == "succeeded" }).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for id in &ids {
            assert_eq!(app.event_types(id).await, ["payment.created", "payment.succeeded"]);
        }
        second.shutdown().await;
    }

    async fn a_retry_after_its_process_died_returns_the_payment_that_process_made(app) {
        let body = payment_body();
        let first = app.post_with_key("/v1/payments", "first-run", body.clone()).await;
        assert_eq!(first.status(), 201);
        let made: Value = first.json().await.unwrap();
        let made_id = made["id"].as_str().unwrap().to_owned();
        // A process claimed key `k` for the same request, recorded that payment (its id comes
        // from the request id) and died before answering.
        let request_id = RequestId::parse(&format!("req_{}", PaymentId::parse(&made_id).unwrap().suffix())).unwrap();
        claimed_by_a_dead_process(&app, "k", &body, &request_id).await;

        let retried = app.post_with_key("/v1/payments", "k", body).await;
        assert_eq!(retried.status(), 201, "taken over at once, not 409 for minutes");
        let payment: Value = retried.json().await.unwrap();
        assert_eq!(payment["id"], made_id.as_str());
        assert_eq!(app.get_json("/v1/payments").await["data"].as_array().unwrap().len(), 1, "no second payment");
    }

    async fn a_retry_after_its_process_died_before_recording_creates_the_payment_under_the_same_id(app) {
        let body = payment_body();
        let request_id = RequestId::generate(&app.hub.ids, app.clock.now());
        claimed_by_a_dead_process(&app, "k", &body, &request_id).await;

        let retried = app.post_with_key("/v1/payments", "k", body.clone()).await;
        assert_eq!(retried.status(), 201);
        let payment: Value = retried.json().await.unwrap();
        // The provider sees the id the dead process would have sent as its idempotency key.
        assert_eq!(payment["id"], PaymentId::created_by(&request_id).as_str());
        let replayed = app.post_with_key("/v1/payments", "k", body).await;
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    }

    async fn a_request_held_by_a_live_process_is_still_in_progress(app) {
        let body = payment_body();
        let request_id = RequestId::generate(&app.hub.ids, app.clock.now());
        let other = InstanceIdentity { id: "ins_other".into(), host: "elsewhere".into(), pid: 1 };
        claim(&app, &other, "k", &body, &request_id).await;
        let retried = app.post_with_key("/v1/payments", "k", body).await;
        assert_eq!(retried.status(), 409);
        let problem: Value = retried.json().await.unwrap();
        assert_eq!(problem["code"], "idempotency_key_in_use");
    }
}

fn payment_body() -> Value {
    json!({ "provider": "paypal", "amount": 1500, "currency": "USD", "return_url": "https://shop.example/thanks" })
}

/// Leaves key `key` as a process that claimed it for `body` and was then killed leaves it.
async fn claimed_by_a_dead_process(app: &TestApp, key: &str, body: &Value, request_id: &RequestId) {
    let dead = InstanceIdentity { id: "ins_dead".into(), host: "elsewhere".into(), pid: 1 };
    claim(app, &dead, key, body, request_id).await;
    app.hub.db.stop_instance(&dead.id, app.clock.now()).await.unwrap();
}

async fn claim(app: &TestApp, holder: &InstanceIdentity, key: &str, body: &Value, request_id: &RequestId) {
    let now = app.clock.now();
    app.hub.db.register_instance(holder, |_| true, now).await.unwrap();
    let fingerprint = request_fingerprint("POST", "/v1/payments", &serde_json::to_vec(body).unwrap());
    let claimant = Claimant { instance_id: &holder.id, new_request_id: request_id.as_str() };
    let claim = app.hub.db.claim_idempotency_key(Mode::Test, key, &fingerprint, claimant, now).await.unwrap();
    assert!(matches!(claim, IdempotencyClaim::Run(_)));
}

/// A hub whose background reconciler ran at start and waits an hour: the tests' own passes are
/// the only ones that claim what they make due.
async fn without_background_passes(backend: payhub_store::testing::Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| settings.workers.reconcile_interval = Duration::from_secs(3600)).await
}

/// `count` payments waiting for the buyer whose notifications are lost, due for a check.
async fn due_backlog(app: &TestApp, count: usize) -> Vec<Value> {
    use futures::StreamExt;
    app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"drop_rate": 1.0})).await;
    let payments: Vec<Value> =
        futures::stream::iter(0..count).map(|_| app.create_payment(1000)).buffer_unordered(8).collect().await;
    app.advance(Span::minutes(3)).await;
    payments
}

fn id(payment: &Value) -> &str {
    payment["id"].as_str().unwrap()
}

on_both_stores! {
    with without_background_passes;

    async fn a_backlog_larger_than_a_page_is_checked_in_one_pass(app) {
        let count = payhub::workers::reconciler::PAGE as usize + 20;
        let payments = due_backlog(&app, count).await;
        // Buyers approved a few of them, at both ends of the backlog.
        let approved = [&payments[0], &payments[1], &payments[count - 2], &payments[count - 1]];
        for payment in approved {
            app.approve(payment).await;
        }
        assert_eq!(payhub::workers::reconciler::reconcile_due(&app.hub).await.unwrap(), count);
        for payment in approved {
            assert_eq!(app.payment(id(payment)).await["status"], "succeeded");
        }
        assert_eq!(app.payment(id(&payments[2])).await["status"], "requires_action");
        // Every one was checked and rescheduled: none is due any more.
        assert_eq!(payhub::workers::reconciler::reconcile_due(&app.hub).await.unwrap(), 0);
    }

    async fn a_provider_error_on_one_payment_postpones_that_payment_only(app) {
        let payments = due_backlog(&app, 3).await;
        for payment in &payments {
            app.approve(payment).await;
        }
        let order = payments[1]["provider_refs"]["payment_id"].as_str().unwrap();
        let prefix = format!("/v2/checkout/orders/{order}");
        app.sandbox_control(Method::PUT, "/sandbox/paypal/faults", json!({"fail_next": 20, "status": 500, "path_prefix": prefix})).await;
        assert_eq!(payhub::workers::reconciler::reconcile_due(&app.hub).await.unwrap(), 3);
        assert_eq!(app.payment(id(&payments[0])).await["status"], "succeeded");
        assert_eq!(app.payment(id(&payments[2])).await["status"], "succeeded");
        assert_eq!(app.payment(id(&payments[1])).await["status"], "requires_action");
        // Postponed, not dropped: not due again at once, and settled once PayPal answers.
        assert_eq!(payhub::workers::reconciler::reconcile_due(&app.hub).await.unwrap(), 0);
        app.sandbox_control(Method::PUT, "/sandbox/paypal/faults", json!({"fail_next": 0})).await;
        app.advance(Span::minutes(3)).await;
        assert_eq!(payhub::workers::reconciler::reconcile_due(&app.hub).await.unwrap(), 1);
        assert_eq!(app.payment(id(&payments[1])).await["status"], "succeeded");
    }

    async fn two_instances_sweeping_one_backlog_check_each_payment_once(app) {
        let count = 2 * payhub::workers::reconciler::PAGE as usize + 50;
        due_backlog(&app, count).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut providers = Providers::default();
        providers.insert(Mode::Test, Paypal.sandbox_adapter(&app.sandbox, &url, PROVIDER_TIMEOUT).await.unwrap());
        let second = Hub::new(app.hub.db.clone(), app.clock.clone(), providers, test_settings(&url));
        let (first, other) = tokio::join!(
            payhub::workers::reconciler::reconcile_due(&app.hub),
            payhub::workers::reconciler::reconcile_due(&second),
        );
        // Each payment was claimed by one instance, never by both.
        assert_eq!(first.unwrap() + other.unwrap(), count);
        assert_eq!(payhub::workers::reconciler::reconcile_due(&app.hub).await.unwrap(), 0);
    }
}
