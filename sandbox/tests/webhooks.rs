mod common;
mod paypal_harness;

use std::collections::HashSet;

use axum::http::StatusCode;
use payhub_sandbox::{PAYPAL_CERT_SUBJECT_NAME, paypal_trust_anchor_pem};
use reqwest::Method;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::{Value, json};

use common::{Received, eventually, spawn_receiver};
use paypal_harness::{TestSandbox, spawn_sandbox};

/// Verifies a delivery the way a merchant must: fetch the chain at the cert URL, check it against
/// the sandbox CA and the expected name, then check the signature over the signed string built
/// from the headers, the subscription's webhook id and the CRC-32 of the exact body bytes.
async fn verify_delivery(
    sandbox: &TestSandbox,
    delivery: &Received,
    webhook_id: &str,
    body: &[u8],
) -> Result<(), String> {
    let cert_url = delivery.header("paypal-cert-url");
    assert!(cert_url.starts_with(&format!("{}/v1/notifications/certs/CERT-", sandbox.url)), "{cert_url}");
    let chain_pem = sandbox.http.get(&cert_url).send().await.unwrap().bytes().await.unwrap();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem).map(Result::unwrap).collect();
    assert_eq!(chain.len(), 2, "the signing certificate, then the CA");
    let anchor_der = CertificateDer::from_pem_slice(paypal_trust_anchor_pem()).unwrap();
    let anchor = webpki::anchor_from_trusted_cert(&anchor_der).unwrap();
    let leaf = webpki::EndEntityCert::try_from(&chain[0]).unwrap();
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &chain[1..],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|error| format!("chain: {error}"))?;
    leaf.verify_is_valid_for_subject_name(&ServerName::try_from(PAYPAL_CERT_SUBJECT_NAME).unwrap())
        .map_err(|error| format!("name: {error}"))?;

    assert_eq!(delivery.header("paypal-auth-algo"), "SHA256withRSA");
    let signed = format!(
        "{}|{}|{}|{}",
        delivery.header("paypal-transmission-id"),
        delivery.header("paypal-transmission-time"),
        webhook_id,
        crc32fast::hash(body)
    );
    use base64::Engine;
    let signature =
        base64::engine::general_purpose::STANDARD.decode(delivery.header("paypal-transmission-sig")).unwrap();
    leaf.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .map_err(|error| format!("signature: {error}"))
}

fn of_type<'a>(deliveries: &'a [Received], event_type: &str) -> Vec<&'a Received> {
    deliveries.iter().filter(|delivery| delivery.json()["event_type"] == event_type).collect()
}

#[tokio::test]
async fn a_capture_webhook_is_signed_with_the_sandbox_certificate_over_the_crc32_of_its_body() {
    let sandbox = spawn_sandbox().await;
    let receiver = spawn_receiver().await;
    let token = sandbox.token().await;
    let webhook_id = sandbox.subscribe(&token, &receiver.url, &["*"]).await;

    let (order_id, capture_id) = sandbox.captured_order(&token, "2.51").await;

    let deliveries = receiver.wait_for(2).await;
    assert_eq!(of_type(&deliveries, "CHECKOUT.ORDER.APPROVED").len(), 1);
    let completed = of_type(&deliveries, "PAYMENT.CAPTURE.COMPLETED")[0];
    let event = completed.json();
    assert!(event["id"].as_str().unwrap().starts_with("WH-"));
    assert_eq!(event["event_version"], "1.0");
    assert_eq!(event["resource_version"], "2.0");
    assert_eq!(event["resource_type"], "capture");
    assert_eq!(event["summary"], "Payment completed for $ 2.51 USD");
    assert_eq!(event["resource"]["id"], capture_id.as_str());
    assert_eq!(event["resource"]["supplementary_data"]["related_ids"]["order_id"], order_id.as_str());
    assert_eq!(event["links"][0]["rel"], "self");

    verify_delivery(&sandbox, completed, &webhook_id, &completed.body).await.unwrap();
    let mut tampered = completed.body.to_vec();
    tampered[10] ^= 1;
    assert!(verify_delivery(&sandbox, completed, &webhook_id, &tampered).await.is_err());
    assert!(verify_delivery(&sandbox, completed, "WRONG4WEBHOOKID00", &completed.body).await.is_err());
}

#[tokio::test]
async fn verify_webhook_signature_answers_success_only_for_what_was_sent() {
    let sandbox = spawn_sandbox().await;
    let receiver = spawn_receiver().await;
    let token = sandbox.token().await;
    let webhook_id = sandbox.subscribe(&token, &receiver.url, &["CHECKOUT.ORDER.APPROVED"]).await;
    let order_id = sandbox.new_order_id(&token, "7.00").await;
    sandbox.approve(&order_id).await;
    let delivery = receiver.wait_for(1).await.remove(0);

    let request = |event: Value, webhook_id: &str| delivery.verification_request(event, webhook_id);
    let verify = |body: Value| sandbox.post(&token, "/v1/notifications/verify-webhook-signature", Some(body), &[]);

    let genuine = verify(request(delivery.json(), &webhook_id)).await;
    assert_eq!(genuine.body, json!({ "verification_status": "SUCCESS" }));
    let mut altered = delivery.json();
    altered["resource"]["status"] = json!("COMPLETED");
    assert_eq!(verify(request(altered, &webhook_id)).await.body["verification_status"], "FAILURE");
    assert_eq!(verify(request(delivery.json(), "0EH40505U7160970P")).await.body["verification_status"], "FAILURE");
    let incomplete = verify(json!({ "webhook_id": webhook_id })).await;
    assert_eq!(
        (incomplete.status, incomplete.body["name"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR"))
    );
}

#[tokio::test]
async fn a_receiver_answering_500_is_retried_once_the_clock_passes_the_retry_time() {
    let sandbox = spawn_sandbox().await;
    let receiver = spawn_receiver().await;
    receiver.answer_with(500);
    let token = sandbox.token().await;
    sandbox.subscribe(&token, &receiver.url, &["CHECKOUT.ORDER.APPROVED"]).await;
    let order_id = sandbox.new_order_id(&token, "3.00").await;

    sandbox.approve(&order_id).await;
    let first = receiver.wait_for(1).await.remove(0);
    let paypal = sandbox.running.paypal.clone();
    eventually(|| paypal.deliveries().len() == 1).await;
    let log = paypal.deliveries();
    assert_eq!((log[0].attempt, log[0].status_code, log[0].delivered), (1, Some(500), false));
    assert!(log[0].next_attempt_at.is_some());

    receiver.answer_with(200);
    sandbox.advance("30s").await;
    assert_eq!(receiver.received().len(), 1, "not due yet");
    sandbox.advance("30s").await;

    let received = receiver.received();
    assert_eq!(received.len(), 2, "the advance ran the retry before answering");
    let retry = &received[1];
    assert_eq!(retry.body, first.body, "the same event, byte for byte");
    assert_ne!(retry.header("paypal-transmission-id"), first.header("paypal-transmission-id"));
    let log = paypal.deliveries();
    assert_eq!((log[1].attempt, log[1].status_code, log[1].delivered), (2, Some(200), true));
    assert_eq!(log[1].next_attempt_at, None);
}

#[tokio::test]
async fn with_drop_rate_one_nothing_is_delivered_ever() {
    let sandbox = spawn_sandbox().await;
    let receiver = spawn_receiver().await;
    let token = sandbox.token().await;
    sandbox.subscribe(&token, &receiver.url, &["*"]).await;
    let chaos = sandbox.control(Method::PUT, "/sandbox/chaos", Some(json!({ "drop_rate": 1.0 }))).await;
    assert_eq!(chaos.status, StatusCode::OK);

    sandbox.captured_order(&token, "4.00").await;
    sandbox.advance("3d").await;

    let log = sandbox.running.paypal.deliveries();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|record| record.dropped && record.status_code.is_none()));
    assert!(receiver.received().is_empty());
    assert_eq!(sandbox.running.paypal.events().len(), 2, "the events exist in the log all the same");
}

#[tokio::test]
async fn with_duplicate_rate_one_each_event_arrives_twice_with_fresh_transmission_ids() {
    let sandbox = spawn_sandbox().await;
    let receiver = spawn_receiver().await;
    let token = sandbox.token().await;
    sandbox.subscribe(&token, &receiver.url, &["CHECKOUT.ORDER.APPROVED"]).await;
    sandbox.control(Method::PUT, "/sandbox/chaos", Some(json!({ "duplicate_rate": 1.0 }))).await;
    let order_id = sandbox.new_order_id(&token, "6.00").await;

    sandbox.approve(&order_id).await;

    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[0].json()["id"], deliveries[1].json()["id"]);
    assert_ne!(deliveries[0].header("paypal-transmission-id"), deliveries[1].header("paypal-transmission-id"));
    let log = sandbox.running.paypal.deliveries();
    assert_eq!(log.iter().filter(|record| record.duplicate).count(), 1);
}

#[tokio::test]
async fn subscriptions_follow_paypals_registry_rules() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let webhook_id = sandbox.subscribe(&token, "https://shop.example/hooks", &["PAYMENT.CAPTURE.COMPLETED"]).await;

    let again = sandbox
        .post(
            &token,
            "/v1/notifications/webhooks",
            Some(json!({ "url": "https://shop.example/hooks", "event_types": [{ "name": "*" }] })),
            &[],
        )
        .await;
    assert_eq!(
        (again.status, again.body["name"].as_str()),
        (StatusCode::BAD_REQUEST, Some("WEBHOOK_URL_ALREADY_EXISTS"))
    );
    let no_types = sandbox
        .post(&token, "/v1/notifications/webhooks", Some(json!({ "url": "https://shop.example/other" })), &[])
        .await;
    assert_eq!(no_types.body["name"], "VALIDATION_ERROR");

    let path = format!("/v1/notifications/webhooks/{webhook_id}");
    let patch = json!([{ "op": "replace", "path": "/event_types", "value": [{ "name": "PAYMENT.CAPTURE.REFUNDED" }] }]);
    let patched =
        sandbox.http.patch(format!("{}{path}", sandbox.url)).bearer_auth(&token).json(&patch).send().await.unwrap();
    assert_eq!(patched.status().as_u16(), 200);
    let listed = sandbox.get(&token, "/v1/notifications/webhooks").await;
    assert_eq!(listed.body["webhooks"][0]["event_types"][0]["name"], "PAYMENT.CAPTURE.REFUNDED");

    let deleted = sandbox.http.delete(format!("{}{path}", sandbox.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let gone = sandbox.get(&token, &path).await;
    assert_eq!((gone.status, gone.body["name"].as_str()), (StatusCode::NOT_FOUND, Some("INVALID_RESOURCE_ID")));
}

#[tokio::test]
async fn a_refund_in_the_dashboard_raises_payment_capture_refunded_and_events_can_be_resent() {
    let sandbox = spawn_sandbox().await;
    let receiver = spawn_receiver().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "20.00").await;
    sandbox.subscribe(&token, &receiver.url, &["PAYMENT.CAPTURE.REFUNDED"]).await;

    let refund = sandbox
        .control(
            Method::POST,
            &format!("/sandbox/paypal/captures/{capture_id}/refund"),
            Some(json!({ "amount": { "currency_code": "USD", "value": "5.00" } })),
        )
        .await;
    assert_eq!(refund.status, StatusCode::CREATED);

    let delivery = receiver.wait_for(1).await.remove(0).json();
    assert_eq!(delivery["resource_type"], "refund");
    assert_eq!(delivery["resource"]["id"], refund.body["id"]);
    assert_eq!(delivery["resource"]["amount"]["value"], "5.00");

    let listed = sandbox.get(&token, "/v1/notifications/webhooks-events?page_size=2").await;
    let types: Vec<&str> =
        listed.body["events"].as_array().unwrap().iter().map(|event| event["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["PAYMENT.CAPTURE.REFUNDED", "PAYMENT.CAPTURE.COMPLETED"], "newest first");
    let event_id = delivery["id"].as_str().unwrap();
    let resent = sandbox.post(&token, &format!("/v1/notifications/webhooks-events/{event_id}/resend"), None, &[]).await;
    assert_eq!(resent.status, StatusCode::ACCEPTED);
    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[1].json()["id"], event_id);
    let transmissions: HashSet<String> = deliveries.iter().map(|d| d.header("paypal-transmission-id")).collect();
    assert_eq!(transmissions.len(), 2);
}

#[tokio::test]
async fn a_chargeback_reverses_the_capture_and_refuses_later_refunds() {
    let sandbox = spawn_sandbox().await;
    let receiver = spawn_receiver().await;
    let token = sandbox.token().await;
    sandbox.subscribe(&token, &receiver.url, &["PAYMENT.CAPTURE.REVERSED"]).await;
    let (_, capture_id) = sandbox.captured_order(&token, "15.00").await;

    let reversal = sandbox.control(Method::POST, &format!("/sandbox/paypal/captures/{capture_id}/reverse"), None).await;
    assert_eq!(reversal.status, StatusCode::CREATED);

    let event = receiver.wait_for(1).await.remove(0).json();
    assert_eq!(event["event_type"], "PAYMENT.CAPTURE.REVERSED");
    assert_eq!(event["resource"]["amount"]["value"], "15.00");
    let capture = sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await;
    assert_eq!(capture.body["status"], "REFUNDED");
    let refund = sandbox.post(&token, &format!("/v2/payments/captures/{capture_id}/refund"), None, &[]).await;
    assert_eq!(refund.issue(), "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK");
}
