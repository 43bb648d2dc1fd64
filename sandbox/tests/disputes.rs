mod common;
mod openapi;
mod paypal_harness;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use common::{Answer, spawn_receiver};
use openapi::Specs;
use paypal_harness::{TestSandbox, spawn_sandbox};

const SPEC: &str = "customer_disputes_v1";

fn rels(body: &Value) -> Vec<String> {
    body["links"].as_array().unwrap().iter().map(|link| link["rel"].as_str().unwrap().to_owned()).collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

/// A file part of a multipart body.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content: &'a [u8],
}

impl TestSandbox {
    async fn open_dispute(&self, capture_id: &str, body: Value) -> Value {
        let path = format!("/sandbox/paypal/captures/{capture_id}/dispute");
        let opened = self.control(Method::POST, &path, Some(body)).await;
        assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
        opened.body
    }

    async fn dispute(&self, token: &str, id: &str) -> Value {
        let shown = self.get(token, &format!("/v1/customer/disputes/{id}")).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        shown.body
    }

    async fn act(&self, token: &str, id: &str, action: &str, body: Value) -> Answer {
        self.post(token, &format!("/v1/customer/disputes/{id}/{action}"), Some(body), &[]).await
    }

    /// A `multipart/form-data` action: `input` is the JSON part, `files` the documents.
    async fn act_multipart(&self, token: &str, id: &str, action: &str, input: Value, files: &[Part<'_>]) -> Answer {
        let boundary = "disputeboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"input\"\r\nContent-Type: application/json\r\n\r\n{input}\r\n"
            )
            .as_bytes(),
        );
        for part in files {
            let file_name = part.file_name.map(|name| format!("; filename=\"{name}\"")).unwrap_or_default();
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"{file_name}\r\nContent-Type: application/octet-stream\r\n\r\n",
                    part.name
                )
                .as_bytes(),
            );
            body.extend_from_slice(part.content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(format!("{}/v1/customer/disputes/{id}/{action}", self.url))
            .bearer_auth(token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        common::send(request, None).await
    }

    async fn buyer(&self, id: &str, action: &str, body: Option<Value>) -> Answer {
        self.control(Method::POST, &format!("/sandbox/paypal/disputes/{id}/{action}"), body).await
    }

    async fn now(&self) -> DateTime<Utc> {
        let shown = self.control(Method::GET, "/sandbox/clock", None).await;
        time(&shown.body["now"])
    }
}

#[tokio::test]
async fn a_dispute_on_a_capture_waits_for_the_seller_freezes_refunds_and_is_announced() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    sandbox.subscribe(&token, &receiver.url, &["CUSTOMER.DISPUTE.CREATED"]).await;
    let (_, capture_id) = sandbox.captured_order(&token, "100.00").await;
    let opened_at = sandbox.now().await;

    let dispute = sandbox
        .open_dispute(
            &capture_id,
            json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", "amount": { "currency_code": "USD", "value": "40.00" }, "message": "The box was empty." }),
        )
        .await;
    assert_eq!(dispute["status"], "WAITING_FOR_SELLER_RESPONSE");
    assert_eq!(dispute["dispute_life_cycle_stage"], "INQUIRY");
    assert_eq!(dispute["dispute_amount"], json!({ "currency_code": "USD", "value": "40.00" }));
    assert_eq!(dispute["disputed_transactions"][0]["seller_transaction_id"], capture_id.as_str());
    assert_eq!(dispute["messages"][0]["posted_by"], "BUYER");
    assert_eq!(dispute["messages"][0]["content"], "The box was empty.");
    let due = time(&dispute["seller_response_due_date"]);
    let ten_days = opened_at + Duration::days(10);
    assert!(due > ten_days - Duration::seconds(1) && due < ten_days + Duration::minutes(1), "{due} is 10 days on");
    assert_eq!(rels(&dispute), ["self", "accept_claim", "provide_evidence", "send_message", "make_offer", "escalate"]);
    assert_eq!(
        dispute["allowed_response_options"]["make_offer"]["offer_types"],
        json!(["REFUND", "REFUND_WITH_RETURN", "REFUND_WITH_REPLACEMENT", "REPLACEMENT_WITHOUT_REFUND"])
    );
    let id = dispute["dispute_id"].as_str().unwrap();

    let refund = sandbox.post(&token, &format!("/v2/payments/captures/{capture_id}/refund"), None, &[]).await;
    assert_eq!(refund.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refund.issue(), "TRANSACTION_DISPUTED");

    let delivered = receiver.wait_for(1).await;
    let event = delivered[0].json();
    assert_eq!(event["event_type"], "CUSTOMER.DISPUTE.CREATED");
    assert_eq!(event["resource_type"], "dispute");
    assert_eq!(event["resource"]["dispute_id"], id);
    assert!(!delivered[0].header("paypal-transmission-sig").is_empty(), "signed like every PayPal webhook");
}

#[tokio::test]
async fn evidence_puts_the_case_under_review_and_adjudication_for_the_seller_unfreezes_it() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "25.00").await;
    let opened = sandbox.open_dispute(&capture_id, json!({ "stage": "CHARGEBACK" })).await;
    let id = opened["dispute_id"].as_str().unwrap();
    assert_eq!(rels(&opened), ["self", "accept_claim", "provide_evidence"]);

    let input = json!({ "evidences": [{ "evidence_type": "PROOF_OF_FULFILLMENT", "evidence_info": { "tracking_info": [{ "carrier_name": "UPS", "tracking_number": "1Z999" }] }, "notes": "Delivered on the 3rd." }] });
    let pdf = Part { name: "evidence-file", file_name: Some("receipt.pdf"), content: b"%PDF-1.4 sandbox" };
    let provided = sandbox.act_multipart(&token, id, "provide-evidence", input, &[pdf]).await;
    assert_eq!(provided.status, StatusCode::OK, "{}", provided.body);
    assert_eq!(rels(&provided.body), ["self"]);

    let shown = sandbox.dispute(&token, id).await;
    assert_eq!(shown["status"], "UNDER_REVIEW");
    assert!(shown.get("seller_response_due_date").is_none());
    assert_eq!(shown["evidences"][0]["evidence_type"], "PROOF_OF_FULFILLMENT");
    assert_eq!(shown["evidences"][0]["documents"], json!([{ "name": "receipt.pdf" }]));
    assert_eq!(rels(&shown), ["self", "accept_claim", "provide_supporting_info"]);

    let decided = sandbox.act(&token, id, "adjudicate", json!({ "adjudication_outcome": "SELLER_FAVOR" })).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let shown = sandbox.dispute(&token, id).await;
    assert_eq!(shown["status"], "RESOLVED");
    assert_eq!(shown["dispute_outcome"]["outcome_code"], "RESOLVED_SELLER_FAVOUR");
    assert_eq!(rels(&shown), ["self"], "nothing is left to do");

    let refund = sandbox.post(&token, &format!("/v2/payments/captures/{capture_id}/refund"), None, &[]).await;
    assert_eq!(refund.status, StatusCode::CREATED, "a resolved dispute no longer freezes the capture");
}

#[tokio::test]
async fn a_seller_silent_past_the_due_date_loses_and_the_money_leaves_the_capture() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    sandbox.subscribe(&token, &receiver.url, &["CUSTOMER.DISPUTE.RESOLVED"]).await;
    let (_, capture_id) = sandbox.captured_order(&token, "30.00").await;
    let id = sandbox.open_dispute(&capture_id, json!({})).await["dispute_id"].as_str().unwrap().to_owned();

    sandbox.advance("9d").await;
    let token = sandbox.token().await;
    assert_eq!(sandbox.dispute(&token, &id).await["status"], "WAITING_FOR_SELLER_RESPONSE");
    sandbox.advance("1d").await;
    let token = sandbox.token().await;
    let shown = sandbox.dispute(&token, &id).await;
    assert_eq!(shown["status"], "RESOLVED");
    assert_eq!(shown["dispute_outcome"]["outcome_code"], "RESOLVED_BUYER_FAVOUR");
    assert_eq!(shown["dispute_outcome"]["amount_refunded"]["value"], "30.00");
    assert_eq!(shown["adjudications"][0]["reason"], "NO_SELLER_RESPONSE");
    assert_eq!(shown["money_movements"][0]["type"], "DEBIT");
    assert_eq!(sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await.body["status"], "REFUNDED");

    let delivered = receiver.wait_for(1).await;
    assert_eq!(delivered[0].json()["resource"]["status"], "RESOLVED");
}

#[tokio::test]
async fn an_inquiry_the_seller_answered_but_did_not_settle_escalates_after_20_days() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "12.00").await;
    let id = sandbox.open_dispute(&capture_id, json!({})).await["dispute_id"].as_str().unwrap().to_owned();

    let written =
        sandbox.act_multipart(&token, &id, "send-message", json!({ "message": "Shipped, see tracking." }), &[]).await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.body);
    let shown = sandbox.dispute(&token, &id).await;
    assert_eq!(shown["status"], "WAITING_FOR_BUYER_RESPONSE");
    assert_eq!(shown["messages"][0]["posted_by"], "SELLER");
    assert!(shown.get("buyer_response_due_date").is_some());

    sandbox.advance("20d").await;
    let token = sandbox.token().await;
    let shown = sandbox.dispute(&token, &id).await;
    assert_eq!(shown["dispute_life_cycle_stage"], "CHARGEBACK");
    assert_eq!(shown["status"], "WAITING_FOR_SELLER_RESPONSE");
    assert!(shown.get("seller_response_due_date").is_some());
}

#[tokio::test]
async fn offers_are_answered_by_the_buyer_only() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "50.00").await;
    let id = sandbox.open_dispute(&capture_id, json!({})).await["dispute_id"].as_str().unwrap().to_owned();
    let offer = json!({ "note": "Half back?", "offer_type": "REFUND", "offer_amount": { "currency_code": "USD", "value": "25.00" } });

    let path = format!("/v1/customer/disputes/{id}/make-offer");
    let key = [("PayPal-Request-Id", "offer-1")];
    assert_eq!(sandbox.post(&token, &path, Some(offer.clone()), &key).await.status, StatusCode::OK);
    let replayed = sandbox.post(&token, &path, Some(offer.clone()), &key).await;
    assert_eq!(replayed.status, StatusCode::OK, "a repeated request id gets the first answer: {}", replayed.body);
    let shown = sandbox.dispute(&token, &id).await;
    assert_eq!(shown["offer"]["history"].as_array().unwrap().len(), 1, "and changes nothing");
    assert_eq!(shown["status"], "WAITING_FOR_BUYER_RESPONSE");
    assert_eq!(shown["offer"]["seller_offered_amount"]["value"], "25.00");
    assert!(!rels(&shown).contains(&"make_offer".to_owned()), "one offer at a time");

    let by_merchant = sandbox.act(&token, &id, "accept-offer", json!({})).await;
    assert_eq!(by_merchant.status, StatusCode::FORBIDDEN);

    let denied = sandbox.buyer(&id, "deny-offer", Some(json!({ "note": "Not enough" }))).await;
    assert_eq!(denied.status, StatusCode::OK, "{}", denied.body);
    assert_eq!(denied.body["status"], "WAITING_FOR_SELLER_RESPONSE");
    assert_eq!(denied.body["offer"]["history"][1]["event_type"], "DENIED");

    let more = json!({ "note": "All of it", "offer_type": "REFUND", "offer_amount": { "currency_code": "USD", "value": "50.00" } });
    assert_eq!(sandbox.act(&token, &id, "make-offer", more).await.status, StatusCode::OK);
    let accepted = sandbox.buyer(&id, "accept-offer", None).await;
    assert_eq!(accepted.body["status"], "RESOLVED");
    assert_eq!(accepted.body["dispute_outcome"]["amount_refunded"]["value"], "50.00");

    let again = sandbox.buyer(&id, "accept-offer", None).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.issue(), "ACTION_NOT_ALLOWED");
}

#[tokio::test]
async fn requests_the_dispute_or_paypal_refuses_are_refused_in_paypals_shape() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "10.00").await;
    let id = sandbox.open_dispute(&capture_id, json!({})).await["dispute_id"].as_str().unwrap().to_owned();

    let early = sandbox.act_multipart(&token, &id, "provide-supporting-info", json!({ "notes": "x" }), &[]).await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(early.issue(), "ACTION_NOT_ALLOWED");

    let evidence = json!({ "evidences": [{ "evidence_type": "OTHER", "notes": "see file" }] });
    let text_file = Part { name: "evidence-file", file_name: Some("notes.txt"), content: b"plain text" };
    let refused = sandbox.act_multipart(&token, &id, "provide-evidence", evidence.clone(), &[text_file]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.issue(), "INVALID_EVIDENCE_FILE");
    let large = vec![0u8; 10 * 1024 * 1024];
    let large_file = Part { name: "evidence-file", file_name: Some("scan.png"), content: &large };
    let refused = sandbox.act_multipart(&token, &id, "provide-evidence", evidence, &[large_file]).await;
    assert_eq!(refused.issue(), "FILE_SIZE_LIMIT_EXCEEDED");
    assert_eq!(sandbox.dispute(&token, &id).await["status"], "WAITING_FOR_SELLER_RESPONSE", "nothing was kept");

    let unknown_type =
        sandbox.act(&token, &id, "provide-evidence", json!({ "evidences": [{ "evidence_type": "PHOTO" }] })).await;
    assert_eq!(unknown_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown_type.body["details"][0]["field"], "/evidences/0/evidence_type");
    let no_offer_type = sandbox.act(&token, &id, "make-offer", json!({ "note": "n" })).await;
    assert_eq!(no_offer_type.issue(), "MISSING_REQUIRED_PARAMETER");
    let too_much =
        json!({ "note": "n", "offer_type": "REFUND", "offer_amount": { "currency_code": "USD", "value": "10.01" } });
    assert_eq!(sandbox.act(&token, &id, "make-offer", too_much).await.issue(), "INVALID_AMOUNT");

    let xml = sandbox
        .http
        .post(format!("{}/v1/customer/disputes/{id}/escalate", sandbox.url))
        .bearer_auth(&token)
        .header("content-type", "text/xml")
        .body("<note/>");
    assert_eq!(common::send(xml, None).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let missing = sandbox.get(&token, "/v1/customer/disputes/PP-D-1").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.issue(), "INVALID_RESOURCE_ID");
    let second = sandbox.control(Method::POST, &format!("/sandbox/paypal/captures/{capture_id}/dispute"), None).await;
    assert_eq!(second.issue(), "TRANSACTION_DISPUTED", "one open case per transaction");
}

#[tokio::test]
async fn require_evidence_sends_a_case_under_review_back_to_the_party_asked() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "20.00").await;
    let id = sandbox.open_dispute(&capture_id, json!({ "stage": "CHARGEBACK" })).await["dispute_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let too_early = sandbox.act(&token, &id, "require-evidence", json!({ "action": "SELLER_EVIDENCE" })).await;
    assert_eq!(too_early.status, StatusCode::UNPROCESSABLE_ENTITY, "only a case under review: {}", too_early.body);
    assert_eq!(too_early.issue(), "ACTION_NOT_ALLOWED");
    let evidence = json!({ "evidences": [{ "evidence_type": "OTHER", "notes": "Delivered" }] });
    assert_eq!(sandbox.act(&token, &id, "provide-evidence", evidence.clone()).await.status, StatusCode::OK);

    let unknown = sandbox.act(&token, &id, "require-evidence", json!({ "action": "MORE_EVIDENCE" })).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["details"][0]["field"], "/action");
    let asked = sandbox.act(&token, &id, "require-evidence", json!({ "action": "SELLER_EVIDENCE" })).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let shown = sandbox.dispute(&token, &id).await;
    assert_eq!(shown["status"], "WAITING_FOR_SELLER_RESPONSE");
    assert!(shown.get("seller_response_due_date").is_some(), "{shown}");
    assert!(rels(&shown).contains(&"provide_evidence".to_owned()), "{:?}", rels(&shown));

    assert_eq!(sandbox.act(&token, &id, "provide-evidence", evidence).await.status, StatusCode::OK);
    let buyer = sandbox.act(&token, &id, "require-evidence", json!({ "action": "BUYER_EVIDENCE" })).await;
    assert_eq!(buyer.status, StatusCode::OK, "{}", buyer.body);
    let shown = sandbox.dispute(&token, &id).await;
    assert_eq!(shown["status"], "WAITING_FOR_BUYER_RESPONSE");
    assert!(shown.get("buyer_response_due_date").is_some(), "{shown}");
}

#[tokio::test]
async fn the_list_filters_by_transaction_state_and_update_time_and_pages_with_a_token() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let mut ids = Vec::new();
    let mut captures = Vec::new();
    for _ in 0..3 {
        let (_, capture_id) = sandbox.captured_order(&token, "5.00").await;
        ids.push(sandbox.open_dispute(&capture_id, json!({})).await["dispute_id"].as_str().unwrap().to_owned());
        captures.push(capture_id);
        sandbox.advance("1m").await;
    }
    let evidence = json!({ "evidences": [{ "evidence_type": "OTHER", "notes": "n" }] });
    assert_eq!(sandbox.act(&token, &ids[0], "provide-evidence", evidence).await.status, StatusCode::OK);

    let first = sandbox.get(&token, "/v1/customer/disputes?page_size=2").await;
    let listed: Vec<&str> =
        first.body["items"].as_array().unwrap().iter().map(|item| item["dispute_id"].as_str().unwrap()).collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "newest first");
    assert_eq!(first.body["items"][0]["dispute_state"], "REQUIRED_ACTION");
    let next = first.body["links"].as_array().unwrap().iter().find(|link| link["rel"] == "next").unwrap();
    let next_path = next["href"].as_str().unwrap().strip_prefix(&sandbox.url).unwrap().to_owned();
    let second = sandbox.get(&token, &next_path).await;
    assert_eq!(second.body["items"][0]["dispute_id"], ids[0].as_str());
    assert!(!rels(&second.body).contains(&"next".to_owned()));

    let reviewed = sandbox.get(&token, "/v1/customer/disputes?dispute_state=UNDER_PAYPAL_REVIEW").await;
    assert_eq!(reviewed.body["items"].as_array().unwrap().len(), 1);
    let by_capture =
        sandbox.get(&token, &format!("/v1/customer/disputes?disputed_transaction_id={}", captures[1])).await;
    assert_eq!(by_capture.body["items"][0]["dispute_id"], ids[1].as_str());
    let updated = time(&sandbox.dispute(&token, &ids[0]).await["update_time"]);
    let after = (updated - Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let recent = sandbox.get(&token, &format!("/v1/customer/disputes?update_time_after={after}")).await;
    assert_eq!(recent.body["items"].as_array().unwrap().len(), 1, "{}", recent.body);

    let both = sandbox
        .get(
            &token,
            &format!("/v1/customer/disputes?start_time=2026-01-01T00:00:00Z&disputed_transaction_id={}", captures[0]),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(sandbox.get(&token, "/v1/customer/disputes?page_size=51").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn dispute_responses_validate_against_paypals_openapi_schemas() {
    let Some(specs) = Specs::load() else { return };
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "80.00").await;
    let opened = sandbox
        .open_dispute(&capture_id, json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", "message": "Broken" }))
        .await;
    let id = opened["dispute_id"].as_str().unwrap().to_owned();
    specs.assert_matches(SPEC, "dispute", &opened);

    let offer = json!({ "note": "Return it", "offer_type": "REFUND_WITH_RETURN", "offer_amount": { "currency_code": "USD", "value": "80.00" } });
    let answered = sandbox.act(&token, &id, "make-offer", offer).await;
    specs.assert_matches(SPEC, "subsequent_action", &answered.body);
    specs.assert_matches(SPEC, "dispute", &sandbox.dispute(&token, &id).await);
    let returning = sandbox.buyer(&id, "accept-offer", None).await;
    assert_eq!(rels(&returning.body), ["self", "acknowledge_return_item", "accept_claim"]);
    specs.assert_matches(SPEC, "dispute", &returning.body);
    let received = sandbox
        .act_multipart(&token, &id, "acknowledge-return-item", json!({ "acknowledgement_type": "DAMAGED" }), &[])
        .await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.body);
    let decided = sandbox.act(&token, &id, "adjudicate", json!({ "adjudication_outcome": "BUYER_FAVOR" })).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let lost = sandbox.dispute(&token, &id).await;
    assert_eq!(lost["dispute_outcome"]["outcome_code"], "RESOLVED_BUYER_FAVOUR");
    specs.assert_matches(SPEC, "dispute", &lost);
    assert_eq!(rels(&lost), ["self", "appeal"]);

    let appeal = json!({ "evidences": [{ "evidence_type": "PROOF_OF_DAMAGE", "notes": "It left intact" }] });
    let pdf = Part { name: "evidence-file", file_name: Some("photo.png"), content: b"\x89PNG" };
    let appealed = sandbox.act_multipart(&token, &id, "appeal", appeal, &[pdf]).await;
    assert_eq!(appealed.status, StatusCode::OK, "{}", appealed.body);
    let appealed = sandbox.dispute(&token, &id).await;
    assert_eq!(appealed["dispute_life_cycle_stage"], "PRE_ARBITRATION");
    specs.assert_matches(SPEC, "dispute", &appealed);

    let list = sandbox.get(&token, "/v1/customer/disputes").await;
    specs.assert_matches(SPEC, "dispute_search", &list.body);
    let refused = sandbox.act(&token, &id, "escalate", json!({ "note": "n" })).await;
    specs.assert_matches(SPEC, "error", &refused.body);
    let missing = sandbox.get(&token, "/v1/customer/disputes/PP-D-0").await;
    specs.assert_matches(SPEC, "error", &missing.body);
}

#[tokio::test]
async fn the_buyers_message_control_writes_on_an_inquiry_and_gives_the_seller_the_turn() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    sandbox.subscribe(&token, &receiver.url, &["CUSTOMER.DISPUTE.UPDATED"]).await;
    let (_, capture_id) = sandbox.captured_order(&token, "30.00").await;
    let id = sandbox.open_dispute(&capture_id, json!({})).await["dispute_id"].as_str().unwrap().to_owned();
    let written =
        sandbox.act_multipart(&token, &id, "send-message", json!({ "message": "Shipped on Monday." }), &[]).await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.body);
    assert_eq!(sandbox.dispute(&token, &id).await["status"], "WAITING_FOR_BUYER_RESPONSE");

    let answered = sandbox.buyer(&id, "message", Some(json!({ "message": "Still nothing here." }))).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    assert_eq!(answered.body["status"], "WAITING_FOR_SELLER_RESPONSE", "the seller's turn again");
    let messages = answered.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!((&messages[1]["posted_by"], &messages[1]["content"]), (&json!("BUYER"), &json!("Still nothing here.")));
    assert!(answered.body.get("seller_response_due_date").is_some());
    assert!(answered.body.get("buyer_response_due_date").is_none());
    assert!(rels(&answered.body).contains(&"send_message".to_owned()));
    assert_eq!(sandbox.dispute(&token, &id).await["messages"], answered.body["messages"], "the seller reads it");

    let delivered = receiver.wait_for(2).await;
    let updated: Vec<Value> = delivered.iter().map(|d| d.json()).collect();
    assert!(updated.iter().all(|event| event["event_type"] == "CUSTOMER.DISPUTE.UPDATED"));
    assert_eq!(updated.last().unwrap()["resource"]["messages"][1]["content"], "Still nothing here.");

    let empty = sandbox.buyer(&id, "message", Some(json!({}))).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);
    assert_eq!(empty.issue(), "MISSING_REQUIRED_PARAMETER");
    let unknown = sandbox.buyer("PP-D-1", "message", Some(json!({ "message": "hello" }))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    assert_eq!(sandbox.buyer(&id, "escalate", None).await.status, StatusCode::OK);
    let claim = sandbox.buyer(&id, "message", Some(json!({ "message": "Any news?" }))).await;
    assert_eq!(claim.status, StatusCode::UNPROCESSABLE_ENTITY, "messages belong to the inquiry");
    assert_eq!(claim.issue(), "ACTION_NOT_ALLOWED");
    assert_eq!(sandbox.dispute(&token, &id).await["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_buyers_escalate_control_turns_an_inquiry_into_a_claim_the_seller_must_answer() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    sandbox.subscribe(&token, &receiver.url, &["CUSTOMER.DISPUTE.UPDATED"]).await;
    let (_, capture_id) = sandbox.captured_order(&token, "30.00").await;
    let id = sandbox.open_dispute(&capture_id, json!({})).await["dispute_id"].as_str().unwrap().to_owned();
    let offer = json!({ "note": "Half?", "offer_type": "REFUND", "offer_amount": { "currency_code": "USD", "value": "15.00" } });
    assert_eq!(sandbox.act(&token, &id, "make-offer", offer).await.status, StatusCode::OK);

    let escalated_at = sandbox.now().await;
    let escalated = sandbox.buyer(&id, "escalate", Some(json!({ "note": "I want my money" }))).await;
    assert_eq!(escalated.status, StatusCode::OK, "{}", escalated.body);
    assert_eq!(escalated.body["dispute_life_cycle_stage"], "CHARGEBACK");
    assert_eq!(escalated.body["status"], "WAITING_FOR_SELLER_RESPONSE");
    let due = time(&escalated.body["seller_response_due_date"]);
    let ten_days = escalated_at + Duration::days(10);
    assert!(due > ten_days - Duration::seconds(1) && due < ten_days + Duration::minutes(1), "{due} is 10 days on");
    assert_eq!(rels(&escalated.body), ["self", "accept_claim", "provide_evidence"], "no inquiry actions on a claim");
    assert_eq!(sandbox.dispute(&token, &id).await["dispute_life_cycle_stage"], "CHARGEBACK");
    let offer =
        json!({ "note": "n", "offer_type": "REFUND", "offer_amount": { "currency_code": "USD", "value": "30.00" } });
    assert_eq!(sandbox.act(&token, &id, "make-offer", offer).await.issue(), "ACTION_NOT_ALLOWED");

    let delivered = receiver.wait_for(2).await;
    let last = delivered.last().unwrap().json();
    assert_eq!(last["event_type"], "CUSTOMER.DISPUTE.UPDATED");
    assert_eq!(last["resource"]["dispute_life_cycle_stage"], "CHARGEBACK");

    let again = sandbox.buyer(&id, "escalate", None).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "a claim is escalated already");
    assert_eq!(again.issue(), "ACTION_NOT_ALLOWED");
    let bad_note = sandbox.buyer(&id, "escalate", Some(json!({ "note": 7 }))).await;
    assert_eq!(bad_note.status, StatusCode::BAD_REQUEST, "{}", bad_note.body);
    assert_eq!(sandbox.buyer("PP-D-1", "escalate", None).await.status, StatusCode::NOT_FOUND);
}
