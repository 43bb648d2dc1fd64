//! OAuth2 client credentials: one token shared, refreshed before expiry, replaced after a 401.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use payhub_paypal::{ClientConfig, PaypalClient, PaypalError, Secret};

use crate::fake_paypal::{CLIENT_ID, CLIENT_SECRET, FakePaypal};

#[test]
fn clients_and_verifiers_can_be_shared_across_tasks() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<PaypalClient>();
    shareable::<payhub_paypal::WebhookVerifier>();
}

#[tokio::test]
async fn the_token_request_sends_the_client_credentials_grant_with_basic_auth() {
    let paypal = FakePaypal::start().await;
    paypal.client().get_order("5O190127TN364715T").await.expect("order");
    let requests = paypal.token_requests();
    assert_eq!(requests.len(), 1);
    let expected = format!("Basic {}", BASE64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    assert_eq!(requests[0].authorization.as_deref(), Some(expected.as_str()));
    assert_eq!(requests[0].content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(requests[0].body, "grant_type=client_credentials");
}

#[tokio::test]
async fn one_token_serves_several_calls() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    client.get_order("A").await.expect("order");
    client.get_capture("B").await.expect("capture");
    client.get_refund("C").await.expect("refund");
    assert_eq!(paypal.token_requests().len(), 1);
    let bearers: Vec<_> = paypal.api_requests().into_iter().map(|r| r.bearer).collect();
    assert_eq!(bearers, vec![Some("token-1".to_owned()); 3]);
}

#[tokio::test]
async fn concurrent_first_calls_share_one_token_request() {
    let paypal = FakePaypal::start().await;
    paypal.set_token_delay(Duration::from_millis(200));
    let client = paypal.client();
    let calls = (0..8).map(|n| {
        let client = client.clone();
        tokio::spawn(async move { client.get_order(&format!("ORDER-{n}")).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.expect("task").expect("order");
    }
    assert_eq!(paypal.token_requests().len(), 1);
}

#[tokio::test]
async fn a_token_is_fetched_again_once_it_nears_expiry() {
    let paypal = FakePaypal::start().await;
    // A two-second token is used for one second.
    paypal.set_token_expires_in(2);
    let client = paypal.client();
    client.get_order("A").await.expect("order");
    client.get_order("B").await.expect("order");
    assert_eq!(paypal.token_requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    client.get_order("C").await.expect("order");
    assert_eq!(paypal.token_requests().len(), 2);
    assert_eq!(paypal.last_api_request().bearer.as_deref(), Some("token-2"));
}

#[tokio::test]
async fn a_refused_token_is_replaced_and_the_call_retried_once() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    client.get_order("A").await.expect("order");
    paypal.revoke_issued_tokens();
    let order = client.get_order("B").await.expect("retried with a fresh token");
    assert_eq!(order.id, "B");
    assert_eq!(paypal.token_requests().len(), 2);
    let bearers: Vec<_> = paypal.api_requests().into_iter().map(|r| r.bearer).collect();
    let expected = ["token-1", "token-1", "token-2"].map(|t| Some(t.to_owned()));
    assert_eq!(bearers, expected);
}

#[tokio::test]
async fn a_retried_post_keeps_its_request_id() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    client.get_order("A").await.expect("order");
    paypal.revoke_issued_tokens();
    client.capture_order("capture-attempt-1", "A").await.expect("capture after retry");
    let captures: Vec<_> =
        paypal.api_requests().into_iter().filter(|r| r.method == "POST").map(|r| (r.bearer, r.request_id)).collect();
    let id = Some("capture-attempt-1".to_owned());
    assert_eq!(captures, vec![(Some("token-1".to_owned()), id.clone()), (Some("token-2".to_owned()), id)]);
}

#[tokio::test]
async fn a_call_refused_twice_returns_the_401_without_further_retries() {
    let paypal = FakePaypal::start().await;
    paypal.refuse_every_token();
    let result = paypal.client().get_order("A").await;
    let Err(PaypalError::Api { status, name, .. }) = &result else {
        panic!("expected a 401 API error, got {result:?}");
    };
    assert_eq!((*status, name.as_str()), (401, "invalid_token"));
    assert_eq!(paypal.token_requests().len(), 2);
    assert_eq!(paypal.api_requests().len(), 2);
}

#[tokio::test]
async fn wrong_client_credentials_are_an_authentication_error() {
    let paypal = FakePaypal::start().await;
    let config = ClientConfig { client_secret: Secret::new("not-the-secret"), ..paypal.config() };
    let result = PaypalClient::new(config).expect("client").get_order("A").await;
    assert_eq!(
        result,
        Err(PaypalError::Authentication { status: 401, message: "Client Authentication failed".into() })
    );
    assert!(paypal.api_requests().is_empty());
    assert!(!result.expect_err("refused").is_retryable());
}
