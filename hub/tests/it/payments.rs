//! Taking money: the PayPal flow from creation to refunded, as a merchant sees it.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use payhub::workers::unit_writer::NewPayment;
use payhub_core::id::PaymentId;
use payhub_core::payment::{NextAction, Payment, PaymentDetails, ProviderRefs};
use payhub_core::transition::Cause;
use payhub_core::{Clock, Currency, Mode, Money, ProviderName};
use serde_json::{Value, json};

use crate::helpers::{TestApp, signature_is_valid};
use crate::on_both_stores;

/// A payment of test mode opened at PayPal under `id`, as its request hands it to the unit
/// writer (with no Idempotency-Key answer to record).
fn new_payment(app: &TestApp, id: &PaymentId) -> NewPayment {
    let now = app.clock.now();
    let money = Money::new(1000, Currency::parse("USD").unwrap());
    let draft = Payment::draft(
        id.clone(),
        Mode::Test,
        ProviderName::Paypal,
        "paypal".into(),
        money,
        PaymentDetails::default(),
        now,
    );
    let next_action = NextAction::RedirectToUrl { redirect_url: format!("https://paypal.example/checkout/{id}") };
    NewPayment { created: draft.opened(ProviderRefs::default(), next_action, &Cause::Api), answer: None, now }
}

on_both_stores! {
    async fn pay_approve_capture_partial_refund_then_full_refund(app) {
        let payment = app.create_payment(1000).await;
        assert_eq!(payment["status"], "requires_action");
        let redirect = payment["next_action"]["redirect_url"].as_str().unwrap();
        assert!(redirect.starts_with(&app.sandbox.paypal_url), "the buyer is sent to PayPal: {redirect}");

        // The buyer approves and comes back; payhub captures before sending them on.
        let back = app.approve(&payment).await;
        let landing = app.http.get(&back).send().await.unwrap();
        assert_eq!(landing.status(), 303);
        let id = payment["id"].as_str().unwrap();
        let location = landing.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("https://shop.example/thanks?payment_id="), "{location}");
        assert!(location.ends_with("&status=succeeded"), "{location}");
        let captured = app.payment(id).await;
        assert_eq!(captured["status"], "succeeded");
        assert!(captured["provider_refs"]["capture_id"].is_string());

        let partial = app.post(&format!("/v1/payments/{id}/refunds"), json!({ "amount": 300, "reason": "one item damaged" })).await;
        assert_eq!(partial.status(), 201);
        let partial: serde_json::Value = partial.json().await.unwrap();
        assert_eq!(partial["status"], "succeeded");
        assert_eq!(app.payment(id).await["amount_refunded"], 300);

        let rest = app.post(&format!("/v1/payments/{id}/refunds"), json!({})).await;
        assert_eq!(rest.status(), 201);
        let rest: serde_json::Value = rest.json().await.unwrap();
        assert_eq!(rest["amount"], 700, "no amount refunds what is left");
        let refunded = app.payment(id).await;
        assert_eq!(refunded["status"], "refunded");
        assert_eq!(refunded["amount_refunded"], 1000);

        assert_eq!(
            app.event_types(id).await,
            ["payment.created", "payment.succeeded", "payment.refunded"]
        );
        // The merchant endpoint hears everything, signed. Deliveries run concurrently and a failed
        // attempt is retried, so arrival order is not creation order: wait for the whole set.
        let expected = ["payment.created", "payment.succeeded", "refund.created", "refund.succeeded", "payment.refunded"];
        let all_delivered = || async {
            let types = app.receiver.types();
            expected.iter().all(|e| types.iter().any(|t| t == e))
        };
        app.eventually("every event delivered", all_delivered).await;
        let received = app.receiver.received.lock().unwrap().clone();
        assert!(received.iter().all(|(headers, body)| signature_is_valid(&app.endpoint_secret, headers, body)));
    }

    async fn a_blank_refund_reason_is_left_out_of_the_note_to_the_buyer(app) {
        // PayPal refuses an empty `note_to_payer`; a blank reason must not fail the refund.
        let payment = app.create_payment(1000).await;
        let back = app.approve(&payment).await;
        app.http.get(&back).send().await.unwrap();
        let id = payment["id"].as_str().unwrap();
        let refund = app.post(&format!("/v1/payments/{id}/refunds"), json!({ "amount": 100, "reason": "" })).await;
        assert_eq!(refund.status(), 201);
        let refund: serde_json::Value = refund.json().await.unwrap();
        assert_eq!(refund["status"], "succeeded", "{refund}");
    }

    async fn an_approval_webhook_alone_captures_the_payment(app) {
        // The buyer approves and closes the browser: only PayPal's notification arrives.
        let payment = app.create_payment(2500).await;
        app.approve(&payment).await;
        let id = payment["id"].as_str().unwrap();
        app.eventually("captured from the webhook", || async { app.payment(id).await["status"] == "succeeded" }).await;
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.succeeded"]);
    }

    async fn the_return_url_query_string_is_not_trusted(app) {
        let payment = app.create_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        // A forged return (no approval at PayPal) claims success in its query string.
        let forged = format!("{}/checkout/paypal/return?payment={id}&token=FAKE&PayerID=FAKE&success=true", app.url);
        let landing = app.http.get(&forged).send().await.unwrap();
        assert_eq!(landing.status(), 303);
        assert!(landing.headers()["location"].to_str().unwrap().ends_with("status=requires_action"));
        assert_eq!(app.payment(id).await["status"], "requires_action");
    }

    async fn a_buyer_who_cancels_is_not_charged_even_if_they_approve_later(app) {
        let payment = app.create_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        let cancel = format!("{}/checkout/paypal/cancel?payment={id}&token=X", app.url);
        assert_eq!(app.http.get(&cancel).send().await.unwrap().status(), 303);
        assert_eq!(app.payment(id).await["status"], "canceled");
        // An approval arriving after the cancel is not captured.
        app.approve(&payment).await;
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap().to_owned();
        app.eventually("the approval webhook was handled", || async {
            let deliveries = app.sandbox_control(reqwest::Method::GET, "/sandbox/paypal/deliveries", json!(null)).await;
            deliveries["deliveries"].as_array().unwrap().iter().any(|d| d["event_type"] == "CHECKOUT.ORDER.APPROVED" && d["delivered"] == true)
        }).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.payment(id).await["status"], "canceled");
        let order_now = app.paypal().get_order(&order).await.unwrap();
        assert_eq!(order_now.status, payhub_paypal::OrderStatus::Approved, "never captured at PayPal");
    }

    async fn a_merchant_can_cancel_an_unpaid_payment_but_not_a_paid_one(app) {
        let unpaid = app.create_payment(1000).await;
        let id = unpaid["id"].as_str().unwrap();
        let canceled = app.post(&format!("/v1/payments/{id}/cancel"), json!({})).await;
        assert_eq!(canceled.status(), 200);
        assert_eq!(app.payment(id).await["status"], "canceled");
        let paid = app.paid_payment(1000).await;
        let refused = app.post(&format!("/v1/payments/{}/cancel", paid["id"].as_str().unwrap()), json!({})).await;
        assert_eq!(refused.status(), 409);
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_state");
        assert_eq!(problem["status"], 409, "the problem's status is the HTTP status");
        assert_eq!(problem["current_status"], "succeeded");
    }

    async fn a_declined_capture_fails_the_payment_with_the_reason(app) {
        let payment = app.create_payment(1000).await;
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
        app.sandbox_control(reqwest::Method::POST, &format!("/sandbox/paypal/orders/{order}/capture-outcome"), json!({"status": "DECLINED"})).await;
        let back = app.approve(&payment).await;
        app.http.get(&back).send().await.unwrap();
        let id = payment["id"].as_str().unwrap();
        app.eventually("failed", || async { app.payment(id).await["status"] == "failed" }).await;
        let failed = app.payment(id).await;
        assert!(failed["failure"]["code"].is_string());
    }

    async fn a_pending_capture_is_processing_until_paypal_settles_it(app) {
        let payment = app.create_payment(1000).await;
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
        app.sandbox_control(reqwest::Method::POST, &format!("/sandbox/paypal/orders/{order}/capture-outcome"), json!({"status": "PENDING"})).await;
        let back = app.approve(&payment).await;
        app.http.get(&back).send().await.unwrap();
        let id = payment["id"].as_str().unwrap();
        app.eventually("processing", || async { app.payment(id).await["status"] == "processing" }).await;
        let processing = app.payment(id).await;
        // PayPal's v2 `PENDING_REVIEW`, in the words IPN and v1 use too.
        assert_eq!(processing["pending_reason"], "payment_review", "{processing}");
        let capture = processing["provider_refs"]["capture_id"].as_str().unwrap().to_owned();
        app.sandbox_control(reqwest::Method::POST, &format!("/sandbox/paypal/captures/{capture}/complete"), json!(null)).await;
        app.eventually("succeeded", || async { app.payment(id).await["status"] == "succeeded" }).await;
        assert!(app.payment(id).await["pending_reason"].is_null(), "cleared once paid");
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.processing", "payment.succeeded"]);
    }

    async fn a_refund_made_in_paypals_dashboard_is_recorded(app) {
        let payment = app.paid_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        let capture = payment["provider_refs"]["capture_id"].as_str().unwrap();
        app.sandbox_control(
            reqwest::Method::POST,
            &format!("/sandbox/paypal/captures/{capture}/refund"),
            json!({"amount": {"currency_code": "USD", "value": "4.00"}}),
        ).await;
        app.eventually("refund recorded", || async { app.payment(id).await["amount_refunded"] == 400 }).await;
        let refunds = app.get_json(&format!("/v1/payments/{id}/refunds")).await;
        assert_eq!(refunds["data"][0]["status"], "succeeded");
        assert_eq!(refunds["data"][0]["amount"], 400);
    }

    async fn concurrent_creations_each_commit_their_payment_event_and_deliveries(app) {
        // Enough requests at once that the unit writer records several in one commit.
        let body = json!({"provider": "paypal", "amount": 700, "currency": "USD"});
        let keys: Vec<String> = (0..24).map(|i| format!("grouped-{i}")).collect();
        let created = join_all(keys.iter().map(|key| app.post_with_key("/v1/payments", key, body.clone()))).await;
        let mut ids = Vec::new();
        for response in created {
            assert_eq!(response.status(), 201);
            ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), keys.len(), "a payment per request: {ids:?}");
        for (key, id) in keys.iter().zip(&ids) {
            assert_eq!(app.payment(id).await["status"], "requires_action");
            assert_eq!(app.event_types(id).await, ["payment.created"], "{id} has its one event");
            let again = app.post_with_key("/v1/payments", key, body.clone()).await;
            assert_eq!(again.headers()["idempotent-replayed"], "true", "{key}'s answer was recorded with its payment");
            assert_eq!(again.json::<Value>().await.unwrap()["id"], id.as_str());
        }
        app.eventually("every payment.created delivered", || async {
            let arrived = app.receiver.first_arrival.lock().unwrap();
            ids.iter().all(|id| arrived.contains_key(id))
        })
        .await;
    }

    async fn a_payment_that_cannot_be_recorded_fails_alone_in_a_shared_commit(app) {
        let (units, ids, now) = (&app.hub.units, &app.hub.ids, app.clock.now());
        let taken = PaymentId::generate(ids, now);
        // An uncommitted payment under `taken` holds the writer's first unit back (SQLite's one
        // writer connection is busy; PostgreSQL waits to learn whether the id is free), so the
        // units sent meanwhile queue up and are recorded together once it commits.
        let mut holder = app.hub.db.begin().await.unwrap();
        holder.insert_payment(new_payment(&app, &taken).created.resource()).await.unwrap();
        let first = tokio::spawn({
            let (units, payment) = (units.clone(), new_payment(&app, &taken));
            async move { units.create_payment(payment).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The fourth of the queued units takes an id already taken; the others are new.
        let mut batch: Vec<PaymentId> = (0..7).map(|_| PaymentId::generate(ids, now)).collect();
        batch[3] = taken.clone();
        let queued: Vec<_> = batch
            .iter()
            .map(|id| {
                let (units, payment) = (units.clone(), new_payment(&app, id));
                tokio::spawn(async move { units.create_payment(payment).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        holder.commit().await.unwrap();

        let refused = first.await.unwrap().expect_err("the id was taken meanwhile");
        assert!(refused.is_unique_violation(), "{refused}");
        for (i, (id, outcome)) in batch.iter().zip(join_all(queued).await).enumerate() {
            match outcome.unwrap() {
                Err(e) if i == 3 => assert!(e.is_unique_violation(), "{e}"),
                Ok(()) if i != 3 => {
                    let stored = app.hub.db.payment(Mode::Test, id).await.unwrap();
                    assert!(stored.is_some(), "{id} is recorded despite its neighbour's failure");
                    assert_eq!(app.event_types(id.as_str()).await, ["payment.created"], "{id}");
                }
                other => panic!("unit {i} ({id}): {other:?}"),
            }
        }
        // Neither failed unit left a trace: the payment under `taken` is the holder's, which
        // wrote no event.
        assert!(app.event_types(taken.as_str()).await.is_empty(), "the failed units' events were undone");
        app.eventually("the recorded payments' events delivered", || async {
            let arrived = app.receiver.first_arrival.lock().unwrap();
            batch.iter().enumerate().all(|(i, id)| i == 3 || arrived.contains_key(id.as_str()))
        })
        .await;
    }
}
