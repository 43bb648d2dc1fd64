//! Events and webhooks over HTTP: signed deliveries, retries on the test clock, refunds that
//! settle quickly or after days, and chaos on the Ping++ listener.

mod common;
mod pingpp_harness;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Received, spawn_receiver};
use payhub_sandbox::pingpp_public_key_pem;
use pingpp_harness::spawn_pingpp;
use reqwest::Method;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;

/// The fixed DER header of an RSA-2048 SubjectPublicKeyInfo; what follows it is the PKCS#1
/// `RSAPublicKey` ring verifies with.
const RSA_2048_SPKI_HEADER: [u8; 24] = [
    0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    0x03, 0x82, 0x01, 0x0f, 0x00,
];

/// Verifies a delivery as a merchant must: RSA-SHA256 over the exact body bytes, with the
/// Ping++ public key, the signature base64 in `X-Pingplusplus-Signature`.
fn verifies(delivery: &Received) -> bool {
    let spki = SubjectPublicKeyInfoDer::from_pem_slice(pingpp_public_key_pem()).unwrap();
    let der: &[u8] = spki.as_ref();
    assert_eq!(der[..24], RSA_2048_SPKI_HEADER, "an RSA-2048 public key");
    let Ok(signature) = BASE64.decode(delivery.header("x-pingplusplus-signature")) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der[24..]).verify(&delivery.body, &signature).is_ok()
}

#[tokio::test]
async fn paying_a_charge_delivers_charge_succeeded_signed_with_the_ping_plus_plus_key() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    let id =
        pingpp.create_charge("wx_pub_qr", 1200, json!({ "product_id": "P1" })).await["id"].as_str().unwrap().to_owned();

    let paid = pingpp.pay_charge(&id).await;
    let delivery = receiver.wait_for_type("charge.succeeded").await;

    assert!(verifies(&delivery), "the signature verifies with pingpp_public_key_pem()");
    let mut tampered = delivery.clone();
    tampered.body = delivery.body.slice(1..);
    assert!(!verifies(&tampered), "and fails for other bytes");
    let event = delivery.json();
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["object"], "event");
    assert_eq!(event["livemode"], false);
    assert_eq!(event["pending_webhooks"], 1);
    assert!(event["created"].is_i64());
    assert_eq!(event["data"]["object"]["id"], id);
    assert_eq!(event["data"]["object"]["paid"], true);
    assert_eq!(paid.body["paid"], true);
    assert!(paid.body["transaction_no"].is_string());
    assert!(paid.body["time_paid"].is_i64());
}

#[tokio::test]
async fn a_delivered_event_can_be_fetched_by_its_id() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    pingpp.paid_charge(100).await;
    let delivered = receiver.wait_for_type("charge.succeeded").await.json();

    let fetched = pingpp.get(&format!("/v1/events/{}", delivered["id"].as_str().unwrap())).await;

    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, delivered);
}

#[tokio::test]
async fn a_receiver_answering_500_is_retried_as_the_clock_moves_and_sent_at_most_eight_times() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    receiver.answer_with(500);
    pingpp.subscribe(&receiver.url).await;

    pingpp.paid_charge(100).await;
    receiver.wait_for(1).await;
    // Each retry is scheduled from the moment the previous one failed, so the clock moves one
    // step per retry; 15 hours is longer than the longest wait.
    for sends in 2..=8 {
        pingpp.advance("15h").await;
        receiver.wait_for(sends).await;
    }
    let sends = receiver.received();
    pingpp.advance("7d").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    assert_eq!(receiver.received().len(), 8, "eight sends, then no more");
    let ids: Vec<_> = sends.iter().map(|send| send.json()["id"].clone()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "the same event every time");
    assert!(sends.iter().all(|send| send.body == sends[0].body), "byte for byte");
    let log = pingpp.control(Method::GET, "/sandbox/pingpp/deliveries", None).await;
    let attempts = log.body["deliveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 8);
    assert!(attempts.iter().all(|attempt| attempt["status_code"] == 500));
    assert_eq!(attempts[7]["next_attempt_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_receiver_that_recovers_gets_the_event_on_the_next_retry_and_no_more() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    receiver.answer_with(503);
    pingpp.subscribe(&receiver.url).await;
    pingpp.paid_charge(100).await;
    receiver.wait_for(1).await;

    receiver.answer_with(200);
    pingpp.advance("3m").await;
    receiver.wait_for(2).await;
    pingpp.advance("1d").await;

    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_refund_answers_pending_and_then_succeeds_with_a_refund_succeeded_event() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    let charge_id = pingpp.paid_charge(1000).await;

    let created = pingpp
        .post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "amount": 300, "description": "partial refund" }))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["status"], "pending");
    assert_eq!(created.body["succeed"], false);
    let refund_id = created.id();
    pingpp.advance("1m").await;
    let delivery = receiver.wait_for_type("refund.succeeded").await;

    assert!(refund_id.starts_with("re_"));
    assert_eq!(delivery.json()["data"]["object"]["id"], refund_id.as_str());
    assert_eq!(delivery.json()["data"]["object"]["status"], "succeeded");
    let refund = pingpp.get(&format!("/v1/charges/{charge_id}/refunds/{refund_id}")).await;
    assert_eq!(refund.body["status"], "succeeded");
    assert_eq!(refund.body["charge"], charge_id.as_str());
    let charge = pingpp.get(&format!("/v1/charges/{charge_id}")).await.body;
    assert_eq!(charge["refunded"], true);
    assert_eq!(charge["amount_refunded"], 300);
    assert_eq!(charge["refunds"]["data"][0]["id"], refund_id.as_str());
}

#[tokio::test]
async fn a_refund_held_pending_for_three_days_settles_only_when_three_days_have_passed() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    let held = pingpp
        .control(
            Method::PUT,
            "/sandbox/pingpp/refund-outcome",
            Some(json!({ "status": "pending", "settle_after": "3d" })),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.body);
    let charge_id = pingpp.paid_charge(500).await;
    let refund_id =
        pingpp.post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "description": "to a bank card" })).await.id();
    let path = format!("/v1/charges/{charge_id}/refunds/{refund_id}");

    pingpp.advance("2d").await;
    let after_two_days = pingpp.get(&path).await.body["status"].clone();
    pingpp.advance("1d1h").await;
    let after_three_days = pingpp.get(&path).await.body;

    assert_eq!(after_two_days, "pending");
    assert_eq!(after_three_days["status"], "succeeded");
    assert_eq!(after_three_days["amount"], 500, "the whole rest by default");
    receiver.wait_for_type("refund.succeeded").await;
}

#[tokio::test]
async fn a_failed_refund_raises_no_event_and_frees_its_amount() {
    let pingpp = spawn_pingpp().await;
    pingpp.control(Method::PUT, "/sandbox/pingpp/refund-outcome", Some(json!({ "status": "pending" }))).await;
    let charge_id = pingpp.paid_charge(500).await;
    let refund_id =
        pingpp.post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "description": "first try" })).await.id();
    let while_pending =
        pingpp.post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "amount": 1, "description": "second" })).await;

    let failed = pingpp.control(Method::POST, &format!("/sandbox/pingpp/refunds/{refund_id}/fail"), None).await;
    let retried = pingpp.post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "description": "again" })).await;

    assert_eq!(while_pending.status, StatusCode::BAD_REQUEST, "the pending refund holds it all");
    assert_eq!(failed.body["status"], "failed");
    assert_eq!(failed.body["failure_code"], "refund_failed");
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body["amount"], 500);
    let types: Vec<String> =
        pingpp.simulator().events().iter().map(|event| event["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, vec!["charge.succeeded"]);
}

#[tokio::test]
async fn a_refund_beyond_what_is_left_is_refused_naming_amount() {
    let pingpp = spawn_pingpp().await;
    let charge_id = pingpp.paid_charge(500).await;

    let too_much = pingpp
        .post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "amount": 501, "description": "too much" }))
        .await;
    let no_description = pingpp.post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "amount": 1 })).await;

    assert_eq!(too_much.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_much.param(), "amount");
    assert_eq!(no_description.param(), "description");
}

#[tokio::test]
async fn an_unpaid_charge_cannot_be_refunded() {
    let pingpp = spawn_pingpp().await;
    let id = pingpp.create_charge("alipay_qr", 100, json!({})).await["id"].as_str().unwrap().to_owned();

    let answer = pingpp.post(&format!("/v1/charges/{id}/refunds"), json!({ "description": "x" })).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_type(), "invalid_request_error");
}

#[tokio::test]
async fn chaos_set_on_the_ping_plus_plus_listener_drops_ping_plus_plus_deliveries() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    let chaos = pingpp.control(Method::PUT, "/sandbox/chaos", Some(json!({ "drop_rate": 1.0 }))).await;
    assert_eq!(chaos.status, StatusCode::OK, "{}", chaos.body);

    pingpp.paid_charge(100).await;
    pingpp.advance("1d").await;

    assert!(receiver.received().is_empty());
    let log = pingpp.simulator().deliveries();
    assert_eq!(log.len(), 1);
    assert!(log[0].dropped);
    assert_eq!(log[0].provider, "pingpp");
}

#[tokio::test]
async fn the_shared_clock_is_readable_on_the_ping_plus_plus_listener() {
    let pingpp = spawn_pingpp().await;

    let before = pingpp.control(Method::GET, "/sandbox/clock", None).await;
    pingpp.advance("1h").await;
    let after = pingpp.control(Method::GET, "/sandbox/clock", None).await;

    assert_eq!(before.status, StatusCode::OK);
    let offset = after.body["offset_seconds"].as_i64().unwrap();
    assert_eq!(offset, 3600);
}
