//! Webhook registration and PayPal's remote signature check.

use payhub_paypal::{EventTypeName, VerifyWebhookSignatureRequest, WebhookHeaders};
use serde_json::json;

use crate::fake_paypal::FakePaypal;

fn notification_headers(transmission_sig: &str) -> WebhookHeaders {
    WebhookHeaders {
        transmission_id: "b2384410-f8d2-11e4-8bf3-77339302725b".into(),
        transmission_time: "2026-01-05T10:00:00Z".into(),
        transmission_sig: transmission_sig.into(),
        cert_url: "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1".into(),
        auth_algo: "SHA256withRSA".into(),
    }
}

#[tokio::test]
async fn create_webhook_subscribes_the_url_to_the_event_types() {
    let paypal = FakePaypal::start().await;
    let webhook = paypal.client().create_webhook("https://hub.example/webhooks/paypal", &["*"]).await.expect("created");
    assert_eq!(webhook.id, "0EH40505U7160970P");
    assert_eq!(webhook.event_types, vec![EventTypeName { name: "*".into() }]);
    let sent = paypal.last_api_request();
    assert_eq!(sent.path, "/v1/notifications/webhooks");
    assert_eq!(sent.json(), json!({"url": "https://hub.example/webhooks/paypal", "event_types": [{"name": "*"}]}));
    let request_id = sent.request_id.expect("POSTs carry a request id");
    assert_eq!(request_id.len(), 32, "{request_id}");
}

#[tokio::test]
async fn list_webhooks_decodes_every_registered_webhook() {
    let paypal = FakePaypal::start().await;
    let webhooks = paypal.client().list_webhooks().await.expect("listed");
    let summary: Vec<_> = webhooks.iter().map(|w| (w.id.as_str(), w.event_types[0].name.as_str())).collect();
    assert_eq!(summary, vec![("40Y916089Y8324740", "PAYMENT.CAPTURE.COMPLETED"), ("0EH40505U7160970P", "*")]);
}

#[tokio::test]
async fn remote_verification_is_true_only_when_paypal_answers_success() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    let request = |sig: &str| {
        let headers = notification_headers(sig);
        VerifyWebhookSignatureRequest {
            auth_algo: headers.auth_algo,
            cert_url: headers.cert_url,
            transmission_id: headers.transmission_id,
            transmission_sig: headers.transmission_sig,
            transmission_time: headers.transmission_time,
            webhook_id: "3RN13029J36659323".into(),
            webhook_event: json!({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED"}),
        }
    };
    assert!(client.verify_webhook_signature(&request("good-signature")).await.expect("answer"));
    assert!(!client.verify_webhook_signature(&request("forged")).await.expect("answer"));
    assert_eq!(paypal.last_api_request().path, "/v1/notifications/verify-webhook-signature");
}

#[tokio::test]
async fn remote_verification_of_a_notification_passes_the_body_through_byte_for_byte() {
    let paypal = FakePaypal::start().await;
    // Key order and number formatting that a parse and re-serialization would change.
    let body = br#"{"id":"WH-1","event_version":"1.0","resource":{"amount":{"total":"5.99"},"fee":1.50,"a":true}}"#;
    let verified = paypal
        .client()
        .verify_webhook_notification(&notification_headers("good-signature"), "3RN13029J36659323", body)
        .await
        .expect("answer");
    assert!(verified);
    let sent = paypal.last_api_request();
    let sent_text = String::from_utf8(sent.body).expect("utf-8");
    assert!(sent_text.contains(&format!("\"webhook_event\":{}", String::from_utf8_lossy(body))), "{sent_text}");
}

#[tokio::test]
async fn remote_verification_of_a_body_that_is_not_json_is_refused_before_sending() {
    let paypal = FakePaypal::start().await;
    let result = paypal
        .client()
        .verify_webhook_notification(&notification_headers("good-signature"), "3RN13029J36659323", b"not json")
        .await;
    assert!(matches!(result, Err(payhub_paypal::PaypalError::Decode(_))), "{result:?}");
    assert!(paypal.api_requests().is_empty());
}
