//! PayPal disputes end to end: a buyer opens a case in the simulator, the hub follows it (by
//! webhook, or by its own sweep when every webhook is lost), tells the merchant, refuses refunds
//! while it is open, answers it through the API, and follows PayPal's decision.

use chrono::Duration as Span;
use payhub_core::Clock;
use payhub_core::id::SubscriptionId;
use payhub_paypal::AdjudicationOutcome;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_stores;

impl TestApp {
    /// The buyer opens a case at PayPal on a payment's capture (or sale); returns PayPal's id.
    async fn open_dispute(&self, payment: &Value, body: Value) -> String {
        let capture = payment["provider_refs"]["capture_id"].as_str().unwrap();
        let opened =
            self.sandbox_control(Method::POST, &format!("/sandbox/paypal/captures/{capture}/dispute"), body).await;
        opened["dispute_id"].as_str().unwrap().to_owned()
    }

    /// The hub's dispute about a payment, once it has it.
    async fn dispute_of(&self, payment: &Value) -> Value {
        let path = format!("/v1/disputes?payment={}", payment["id"].as_str().unwrap());
        self.eventually("the hub has the dispute", || async { !self.get_json(&path).await["data"][0].is_null() }).await;
        self.get_json(&path).await["data"][0].clone()
    }

    async fn dispute(&self, id: &str) -> Value {
        self.get_json(&format!("/v1/disputes/{id}")).await
    }

    async fn dispute_becomes(&self, id: &str, status: &str) -> Value {
        self.eventually(&format!("dispute {id} {status}"), || async { self.dispute(id).await["status"] == status })
            .await;
        self.dispute(id).await
    }

    async fn send_evidence(&self, id: &str, form: Form) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/disputes/{id}/evidence", self.url))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", format!("evidence-{id}-{}", self.clock.now().timestamp_millis()))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// A customer subscribes, charges back the first payment and loses the case (the merchant
    /// answered with evidence, PayPal decided for the buyer); returns the subscription as created.
    async fn subscription_lost_in_a_chargeback(&self, customer: &str) -> Value {
        let plan = self.monthly_plan(3).await;
        let subscription = self.subscribe(&plan, customer).await;
        assert_eq!(self.entitled(customer).await, ["premium"]);
        let subscription_id = SubscriptionId::parse(subscription["id"].as_str().unwrap()).unwrap();
        let charge = self.hub.db.subscription_payments(&subscription_id).await.unwrap().remove(0);
        let payment = self.payment(charge.id.as_str()).await;
        let provider_id = self.open_dispute(&payment, json!({ "reason": "UNAUTHORISED", "stage": "CHARGEBACK" })).await;
        let id = self.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();

        let answered = self.send_evidence(&id, Form::new().text("note", "The customer used the service")).await;
        assert_eq!(answered.status(), 200);
        self.adjudicate(&provider_id, AdjudicationOutcome::BuyerFavor).await;

        let lost = self.dispute_becomes(&id, "lost").await;
        assert_eq!(lost["outcome"]["amount_refunded"], 1_500);
        subscription
    }

    /// A multipart form to a dispute action under a chosen Idempotency-Key.
    async fn post_form(&self, path: &str, key: &str, form: Form) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// PayPal's sandbox decides a case under review.
    async fn adjudicate(&self, provider_dispute_id: &str, outcome: AdjudicationOutcome) {
        self.paypal()
            .adjudicate_dispute(&format!("adjudicate-{provider_dispute_id}"), provider_dispute_id, outcome)
            .await
            .unwrap();
    }

    /// The data of the merchant's deliveries of `event_type`, in arrival order.
    fn delivered(&self, event_type: &str) -> Vec<Value> {
        self.receiver
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap())
            .filter(|event| event["type"] == event_type)
            .map(|event| event["data"].clone())
            .collect()
    }
}

/// A scan of a few hundred KiB: larger than an API request may be, well within PayPal's limits.
fn pdf(name: &str) -> Part {
    let mut scan = b"%PDF-1.4 proof of delivery".to_vec();
    scan.resize(300 * 1024, b' ');
    Part::bytes(scan).file_name(name.to_owned()).mime_str("application/pdf").unwrap()
}

fn png(name: &str, content: &[u8]) -> Part {
    Part::bytes(content.to_vec()).file_name(name.to_owned()).mime_str("image/png").unwrap()
}

async fn problem_code(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.unwrap()["code"].clone())
}

on_both_stores! {
    async fn a_dispute_opened_at_paypal_reaches_the_hub_flags_the_payment_and_tells_the_merchant(app) {
        let payment = app.paid_payment(4_000).await;
        let provider_id = app
            .open_dispute(&payment, json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
                "amount": { "currency_code": "USD", "value": "25.00" }, "message": "The box was empty." }))
            .await;

        let dispute = app.dispute_of(&payment).await;
        let id = dispute["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("dp_"), "{id}");
        assert_eq!(dispute["provider_dispute_id"], provider_id.as_str());
        assert_eq!(dispute["status"], "needs_response");
        assert_eq!(dispute["stage"], "inquiry");
        assert_eq!(dispute["reason"], "not_as_described");
        assert_eq!((dispute["amount"].as_i64(), dispute["currency"].as_str()), (Some(2_500), Some("USD")));
        assert_eq!(dispute["buyer_message"], "The box was empty.");
        assert!(dispute["response_due_at"].is_string());
        assert!(dispute["allowed_actions"].as_array().unwrap().contains(&json!("evidence")));

        let paid = app.payment(payment["id"].as_str().unwrap()).await;
        assert_eq!(paid["disputed"], true);
        let of_payment = app.get_json(&format!("/v1/payments/{}/disputes", payment["id"].as_str().unwrap())).await;
        assert_eq!(of_payment["data"][0]["id"], id.as_str());

        app.eventually("the merchant is told", || async {
            ["dispute.created", "dispute.action_required", "payment.disputed"]
                .iter()
                .all(|wanted| app.receiver.types().iter().any(|t| t == wanted))
        })
        .await;
        let created = &app.delivered("dispute.created")[0];
        for field in ["amount", "currency", "reason", "buyer_message", "response_due_at", "payment_id", "stage", "status"] {
            assert!(!created[field].is_null(), "dispute.created carries {field}: {created}");
        }
        assert_eq!(app.delivered("dispute.action_required")[0]["response_due_at"], dispute["response_due_at"]);

        let refund = app.post(&format!("/v1/payments/{}/refunds", payment["id"].as_str().unwrap()), json!({})).await;
        assert_eq!(refund.status(), 409);
        let problem: Value = refund.json().await.unwrap();
        assert_eq!(problem["code"], "payment_disputed");
        assert_eq!(problem["dispute_id"], id.as_str());
    }

    async fn evidence_sent_through_the_api_and_a_decision_for_the_seller_win_the_case(app) {
        let payment = app.paid_payment(3_000).await;
        let provider_id = app.open_dispute(&payment, json!({ "stage": "CHARGEBACK" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();

        let refused = app.send_evidence(&id, Form::new().text("note", "see file").part("file", Part::bytes(b"text".to_vec()).file_name("notes.txt"))).await;
        assert_eq!(refused.status(), 422);
        assert_eq!(refused.json::<Value>().await.unwrap()["code"], "dispute_document_refused");
        assert_eq!(app.dispute(&id).await["status"], "needs_response", "nothing was sent");

        let form = Form::new().text("kind", "PROOF_OF_FULFILLMENT").text("note", "Delivered on the 3rd").part("file", pdf("receipt.pdf"));
        let answered = app.send_evidence(&id, form).await;
        assert_eq!(answered.status(), 200, "{}", answered.text().await.unwrap());
        let dispute = app.dispute(&id).await;
        assert_eq!(dispute["status"], "under_review");
        assert_eq!(dispute["evidence"][0]["documents"], json!(["receipt.pdf"]));

        let offer = app.post(&format!("/v1/disputes/{id}/offer"), json!({ "kind": "refund", "amount": 100, "note": "n" })).await;
        assert_eq!(offer.status(), 409);
        let problem: Value = offer.json().await.unwrap();
        assert_eq!(problem["code"], "dispute_action_not_allowed");
        assert_eq!(problem["current_status"], "under_review");

        app.adjudicate(&provider_id, AdjudicationOutcome::SellerFavor).await;
        let won = app.dispute_becomes(&id, "won").await;
        assert_eq!(won["outcome"]["result"], "won");
        assert_eq!(won["allowed_actions"], json!([]));
        app.eventually("dispute.resolved is delivered", || async { !app.delivered("dispute.resolved").is_empty() }).await;
        assert_eq!(app.delivered("dispute.resolved")[0]["outcome"]["result"], "won");
        assert!(app.event_types(&id).await.contains(&"dispute.resolved".to_owned()));
    }

    async fn a_lost_dispute_on_a_subscription_payment_revokes_the_entitlement(app) {
        app.subscription_lost_in_a_chargeback("cus_disputer").await;
        app.eventually("the entitlement is revoked", || async { app.entitled("cus_disputer").await.is_empty() }).await;
        assert_eq!(app.delivered("dispute.resolved")[0]["outcome"]["result"], "lost");
    }

    async fn with_every_webhook_dropped_the_sweep_still_finds_the_dispute(app) {
        let payment = app.paid_payment(1_200).await;
        app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"drop_rate": 1.0})).await;
        app.open_dispute(&payment, json!({})).await;
        let dispute = app.dispute_of(&payment).await;
        assert_eq!(dispute["status"], "needs_response");
        assert_eq!(app.payment(payment["id"].as_str().unwrap()).await["disputed"], true);
    }

    async fn an_unanswered_dispute_asks_again_the_day_before_it_is_due_and_is_then_lost(app) {
        let payment = app.paid_payment(2_000).await;
        app.open_dispute(&payment, json!({})).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        let asked = |n: usize| {
            let app = &app;
            let id = id.clone();
            async move { app.event_types(&id).await.iter().filter(|t| *t == "dispute.action_required").count() == n }
        };
        app.eventually("asked once", || asked(1)).await;

        app.advance(Span::days(9) + Span::hours(1)).await;
        app.eventually("asked again a day before the due date", || asked(2)).await;

        app.advance(Span::days(1)).await;
        let lost = app.dispute_becomes(&id, "lost").await;
        assert_eq!(lost["outcome"]["provider_code"], "RESOLVED_BUYER_FAVOUR");
    }

    async fn disputes_are_listed_by_what_needs_an_answer_and_by_when(app) {
        let first = app.paid_payment(1_000).await;
        let second = app.paid_payment(1_100).await;
        let provider_id = app.open_dispute(&first, json!({ "stage": "CHARGEBACK" })).await;
        app.open_dispute(&second, json!({})).await;
        let under_review = app.dispute_of(&first).await["id"].as_str().unwrap().to_owned();
        let waiting = app.dispute_of(&second).await["id"].as_str().unwrap().to_owned();
        let answered = app.send_evidence(&under_review, Form::new().text("note", "Delivered")).await;
        assert_eq!(answered.status(), 200);
        let _ = provider_id;

        let needs = app.get_json("/v1/disputes?needs_response=true").await;
        let ids: Vec<&str> = needs["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [waiting.as_str()]);
        let soon = (app.clock.now() + Span::days(11)).to_rfc3339();
        let due = app.get_json(&format!("/v1/disputes?due_before={}", soon.replace('+', "%2B"))).await;
        assert_eq!(due["data"].as_array().unwrap().len(), 1);
        let past = (app.clock.now() + Span::days(1)).to_rfc3339();
        let none = app.get_json(&format!("/v1/disputes?due_before={}", past.replace('+', "%2B"))).await;
        assert_eq!(none["data"], json!([]));

        let wrong = app.get("/v1/disputes?status=open").await;
        assert_eq!(wrong.status(), 422);
        let unknown = app.get("/v1/disputes/dp_01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
        assert_eq!(unknown.status(), 404);
    }

    async fn an_inquiry_is_answered_by_message_then_accepted_in_part_and_a_replayed_answer_is_not_sent_twice(app) {
        let payment = app.paid_payment(5_000).await;
        app.open_dispute(&payment, json!({ "message": "Is it coming?" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();

        let written = app.post(&format!("/v1/disputes/{id}/messages"), json!({ "text": "Shipped on Monday" })).await;
        assert_eq!(written.status(), 200);
        let dispute: Value = written.json().await.unwrap();
        assert_eq!(dispute["status"], "waiting_for_buyer");
        assert_eq!(dispute["messages"][1]["from"], "seller");
        assert_eq!(dispute["buyer_message"], "Is it coming?");

        let path = format!("/v1/disputes/{id}/accept");
        let first = app.post_with_key(&path, "accept-once", json!({ "amount": 2_000, "note": "Sorry" })).await;
        assert_eq!(first.status(), 200);
        let accepted: Value = first.json().await.unwrap();
        assert_eq!(accepted["status"], "accepted");
        assert_eq!(accepted["outcome"]["amount_refunded"], 2_000);
        let replayed = app.post_with_key(&path, "accept-once", json!({ "amount": 2_000, "note": "Sorry" })).await;
        assert_eq!(replayed.status(), 200, "the same key gets the same answer");
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        let again = app.post(&path, json!({ "amount": 2_000 })).await;
        assert_eq!(again.status(), 409, "a decided case takes no answer");
        let offered = app.post(&format!("/v1/disputes/{id}/offer"), json!({ "kind": "refund", "note": "n" })).await;
        assert_eq!(offered.status(), 422, "an amount is required for a refund offer");
    }

    async fn an_offer_the_disputes_reason_does_not_allow_is_refused_before_anything_reaches_paypal(app) {
        let payment = app.paid_payment(3_000).await;
        let reason = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED";
        app.open_dispute(&payment, json!({ "reason": reason, "message": "Never came" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/disputes/{id}/offer");

        let offer = json!({ "kind": "refund_with_return", "amount": 3_000, "note": "Send it back" });
        let refused = app.post(&path, offer).await;
        assert_eq!(refused.status(), 422, "not a provider_rejected 502");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_request", "{problem}");
        assert_eq!(problem["errors"][0]["field"], "kind", "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("`not_received` dispute takes only refund, refund_with_replacement, replacement_without_refund offers"),
            "{detail}"
        );
        let case = app.dispute(&id).await;
        assert_eq!((&case["status"], &case["offers"]), (&json!("needs_response"), &json!([])), "{case}");

        let offer = json!({ "kind": "refund_with_replacement", "amount": 1_000, "note": "A new one and 10.00 back" });
        let offered = app.post(&path, offer).await;
        assert_eq!(offered.status(), 200, "{}", offered.text().await.unwrap());
        let offers = offered.json::<Value>().await.unwrap()["offers"].clone();
        assert_eq!(offers.as_array().unwrap().len(), 1, "{offers}");
        assert_eq!(offers[0]["kind"], "refund_with_replacement");
    }

    async fn a_refusal_by_paypal_carries_its_debug_id_and_the_request_id(app) {
        let payment = app.paid_payment(3_000).await;
        app.open_dispute(&payment, json!({ "message": "Never came" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        // More than the case is for: PayPal's to refuse.
        let offer = json!({ "kind": "refund", "amount": 9_000, "note": "All of it and more" });
        let refused = app
            .http
            .post(format!("{}/v1/disputes/{id}/offer", app.url))
            .bearer_auth(&app.api_key)
            .header("Idempotency-Key", "too-much")
            .header("X-Request-Id", "offer-too-much.1")
            .json(&offer)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 502);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "provider_rejected", "{problem}");
        assert_eq!(problem["request_id"], "offer-too-much.1", "{problem}");
        assert!(!problem["provider_debug_id"].as_str().unwrap_or_default().is_empty(), "{problem}");
    }

    async fn evidence_under_one_key_is_sent_once_and_the_key_refuses_another_file(app) {
        let payment = app.paid_payment(2_500).await;
        app.open_dispute(&payment, json!({ "stage": "CHARGEBACK" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/disputes/{id}/evidence");
        let form = |content: &[u8]| Form::new().text("note", "Delivered").part("file", png("receipt.png", content));

        let first = app.post_form(&path, "evidence-once", form(b"photo one")).await;
        assert_eq!(first.status(), 200, "{}", first.text().await.unwrap());
        let answered: Value = first.json().await.unwrap();
        // reqwest draws a new boundary for every form: the same parts are still the same request.
        let replayed = app.post_form(&path, "evidence-once", form(b"photo one")).await;
        assert_eq!(replayed.status(), 200);
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        assert_eq!(replayed.json::<Value>().await.unwrap(), answered, "the stored answer");
        assert_eq!(app.dispute(&id).await["evidence"].as_array().unwrap().len(), 1, "sent to PayPal once");

        let other_file = app.post_form(&path, "evidence-once", form(b"photo two")).await;
        assert_eq!(problem_code(other_file).await, (422, json!("idempotency_key_reused")));
        let other_name = Form::new().text("note", "Delivered").part("file", png("other.png", b"photo one"));
        let renamed = app.post_form(&path, "evidence-once", other_name).await;
        assert_eq!(problem_code(renamed).await, (422, json!("idempotency_key_reused")));
        let retyped = Form::new().text("note", "Delivered").part(
            "file",
            Part::bytes(b"photo one".to_vec()).file_name("receipt.png").mime_str("image/jpeg").unwrap(),
        );
        assert_eq!(problem_code(app.post_form(&path, "evidence-once", retyped).await).await, (422, json!("idempotency_key_reused")));
        let other_field = Form::new().text("note", "Delivered").part("photo", png("receipt.png", b"photo one"));
        assert_eq!(problem_code(app.post_form(&path, "evidence-once", other_field).await).await, (422, json!("idempotency_key_reused")));
        assert_eq!(app.dispute(&id).await["evidence"].as_array().unwrap().len(), 1, "nothing more was sent");
    }

    async fn a_message_with_a_file_under_one_key_is_sent_once_and_the_key_refuses_another_file(app) {
        let payment = app.paid_payment(2_500).await;
        app.open_dispute(&payment, json!({ "message": "Where is it?" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/disputes/{id}/messages");
        let form = |content: &[u8]| Form::new().text("text", "Tracking attached").part("file", png("tracking.png", content));

        let first = app.post_form(&path, "message-once", form(b"label")).await;
        assert_eq!(first.status(), 200, "{}", first.text().await.unwrap());
        let sent: Value = first.json().await.unwrap();
        assert_eq!(sent["status"], "waiting_for_buyer");
        assert_eq!(sent["messages"].as_array().unwrap().len(), 2);
        let replayed = app.post_form(&path, "message-once", form(b"label")).await;
        assert_eq!(replayed.status(), 200);
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        assert_eq!(replayed.json::<Value>().await.unwrap(), sent);

        let other = app.post_form(&path, "message-once", form(b"another label")).await;
        assert_eq!(problem_code(other).await, (422, json!("idempotency_key_reused")));
        assert_eq!(app.dispute(&id).await["messages"].as_array().unwrap().len(), 2, "the message went once");

        let refused = app.post_form(&path, "message-exe", Form::new().text("text", "t").part("file", png("setup.exe", b"MZ"))).await;
        assert_eq!(problem_code(refused).await, (422, json!("dispute_document_refused")));
        let unknown = app.post_form(&path, "message-field", Form::new().text("note", "t")).await;
        assert_eq!(problem_code(unknown).await, (422, json!("invalid_request")));
    }

    async fn a_returned_item_is_acknowledged_once_under_one_key_and_only_when_a_return_is_pending(app) {
        let payment = app.paid_payment(4_000).await;
        let reason = "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED";
        let provider_id = app.open_dispute(&payment, json!({ "reason": reason, "message": "It broke" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/disputes/{id}/acknowledge_return");

        let early = app.post_with_key(&path, "return-early", json!({})).await;
        assert_eq!(early.status(), 409, "no return is pending");
        let problem: Value = early.json().await.unwrap();
        assert_eq!(problem["code"], "dispute_action_not_allowed");
        assert_eq!(problem["current_status"], "needs_response");
        assert!(!problem["allowed_actions"].as_array().unwrap().contains(&json!("acknowledge_return")), "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("`acknowledge_return` is not allowed now"), "{problem}");

        let offer = json!({ "kind": "refund_with_return", "amount": 4_000, "note": "Send it back, we refund it" });
        let offered = app.post(&format!("/v1/disputes/{id}/offer"), offer).await;
        assert_eq!(offered.status(), 200, "{}", offered.text().await.unwrap());
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/disputes/{provider_id}/accept-offer"), json!({})).await;
        app.eventually("the return is the seller's to acknowledge", || async {
            app.dispute(&id).await["allowed_actions"].as_array().unwrap().contains(&json!("acknowledge_return"))
        })
        .await;

        let first = app.post_with_key(&path, "return-once", json!({ "received": true, "note": "Back in stock" })).await;
        assert_eq!(first.status(), 200, "{}", first.text().await.unwrap());
        assert_eq!(first.headers()["idempotent-replayed"], "false");
        let acknowledged: Value = first.json().await.unwrap();
        assert_eq!(acknowledged["outcome"]["amount_refunded"], 4_000);
        let replayed = app.post_with_key(&path, "return-once", json!({ "received": true, "note": "Back in stock" })).await;
        assert_eq!(replayed.status(), 200);
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        assert_eq!(replayed.json::<Value>().await.unwrap(), acknowledged);
        let resolved = app.event_types(&id).await.iter().filter(|t| *t == "dispute.resolved").count();
        assert_eq!(resolved, 1, "acted on once");

        let again = app.post_with_key(&path, "return-again", json!({})).await;
        assert_eq!(again.status(), 409, "the case is decided");
        assert_eq!(again.json::<Value>().await.unwrap()["allowed_actions"], json!([]));
    }

    async fn a_lost_case_is_appealed_once_under_one_key_and_only_while_it_may_be(app) {
        let payment = app.paid_payment(3_500).await;
        let provider_id = app.open_dispute(&payment, json!({ "stage": "CHARGEBACK" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/disputes/{id}/appeal");
        let form = || Form::new().text("kind", "PROOF_OF_FULFILLMENT").text("note", "Signed for").part("file", pdf("signature.pdf"));

        let early = app.post_form(&path, "appeal-early", form()).await;
        assert_eq!(early.status(), 409, "nothing was decided yet");
        let problem: Value = early.json().await.unwrap();
        assert_eq!(problem["code"], "dispute_action_not_allowed");
        assert_eq!(problem["current_status"], "needs_response");

        let answered = app.send_evidence(&id, Form::new().text("note", "Delivered")).await;
        assert_eq!(answered.status(), 200);
        app.adjudicate(&provider_id, AdjudicationOutcome::BuyerFavor).await;
        let lost = app.dispute_becomes(&id, "lost").await;
        assert_eq!(lost["allowed_actions"], json!(["appeal"]));

        let first = app.post_form(&path, "appeal-once", form()).await;
        assert_eq!(first.status(), 200, "{}", first.text().await.unwrap());
        let appealed: Value = first.json().await.unwrap();
        assert_eq!(appealed["status"], "under_review");
        assert_eq!(appealed["stage"], "arbitration");
        let replayed = app.post_form(&path, "appeal-once", form()).await;
        assert_eq!(replayed.status(), 200);
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        assert_eq!(replayed.json::<Value>().await.unwrap(), appealed);
        assert_eq!(app.dispute(&id).await["evidence"].as_array().unwrap().len(), 2, "the appeal went once");

        let again = app.post_form(&path, "appeal-again", form()).await;
        assert_eq!(again.status(), 409, "a case under review takes no appeal");
        assert_eq!(again.json::<Value>().await.unwrap()["current_status"], "under_review");
    }

    async fn evidence_too_large_or_of_a_refused_type_is_refused_before_anything_reaches_paypal(app) {
        let payment = app.paid_payment(2_000).await;
        let provider_id = app.open_dispute(&payment, json!({ "stage": "CHARGEBACK" })).await;
        let id = app.dispute_of(&payment).await["id"].as_str().unwrap().to_owned();
        let at_paypal = app.paypal().get_dispute(&provider_id).await.unwrap();

        // PayPal takes each document only under 10 MB.
        let mut scan = b"%PDF-1.4".to_vec();
        scan.resize(payhub_paypal::MAX_DOCUMENT_BYTES, b' ');
        let too_large = Part::bytes(scan).file_name("scan.pdf").mime_str("application/pdf").unwrap();
        let refused = app.send_evidence(&id, Form::new().text("note", "Scan").part("file", too_large)).await;
        assert_eq!(refused.status(), 422);
        assert_eq!(refused.headers()["content-type"], "application/problem+json");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "dispute_document_refused");
        assert!(problem["detail"].as_str().unwrap().contains("scan.pdf"), "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("10 MB"), "{problem}");

        let program = Part::bytes(b"MZ\x90\x00".to_vec()).file_name("invoice.exe").mime_str("application/octet-stream").unwrap();
        let refused = app.send_evidence(&id, Form::new().text("note", "Invoice").part("file", pdf("ok.pdf")).part("file", program)).await;
        assert_eq!(refused.status(), 422);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "dispute_document_refused");
        assert!(problem["detail"].as_str().unwrap().contains("invoice.exe"), "{problem}");

        assert_eq!(app.paypal().get_dispute(&provider_id).await.unwrap(), at_paypal, "PayPal received nothing");
        let dispute = app.dispute(&id).await;
        assert_eq!(dispute["status"], "needs_response");
        assert_eq!(dispute["evidence"], json!([]));
    }
}

/// A hub told to leave entitlements alone when a dispute is lost.
async fn keeping_entitlements(backend: payhub_store::testing::Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| settings.disputes.revoke_entitlement_on_loss = false).await
}

on_both_stores! {
    with keeping_entitlements;

    async fn with_revocation_off_a_lost_dispute_on_a_subscription_payment_leaves_the_entitlement(app) {
        let subscription = app.subscription_lost_in_a_chargeback("cus_kept").await;
        // The loss is fully applied once the merchant has been told of it.
        app.eventually("dispute.resolved is delivered", || async { !app.delivered("dispute.resolved").is_empty() }).await;
        assert_eq!(app.delivered("dispute.resolved")[0]["outcome"]["result"], "lost");
        assert_eq!(app.entitled("cus_kept").await, ["premium"], "the entitlement stays");
        let kept = app.get_json(&format!("/v1/subscriptions/{}", subscription["id"].as_str().unwrap())).await;
        assert_eq!(kept["status"], subscription["status"], "the subscription is untouched");
    }
}
