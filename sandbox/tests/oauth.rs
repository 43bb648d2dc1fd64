mod common;
mod paypal_harness;

use axum::http::StatusCode;
use payhub_sandbox::{SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET};
use serde_json::json;

use paypal_harness::spawn_sandbox;

#[tokio::test]
async fn a_token_is_issued_for_the_sandbox_credentials_and_expires_on_the_test_clock() {
    let sandbox = spawn_sandbox().await;

    let issued = sandbox.request_token(SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET).await;

    assert_eq!(issued.status, StatusCode::OK);
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(issued.body["expires_in"], 32400);
    for field in ["scope", "access_token", "app_id", "nonce"] {
        assert!(issued.body[field].as_str().is_some_and(|text| !text.is_empty()), "{field} in {}", issued.body);
    }
    let token = issued.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(sandbox.get(&token, "/v1/notifications/webhooks").await.status, StatusCode::OK);

    let again = sandbox.request_token(SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET).await;
    assert_eq!(again.body["access_token"], token.as_str(), "PayPal hands back the live token");

    sandbox.advance("9h").await;
    let expired = sandbox.get(&token, "/v1/notifications/webhooks").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.body["name"], "AUTHENTICATION_FAILURE");

    let renewed = sandbox.token().await;
    assert_ne!(renewed, token);
    assert_eq!(sandbox.get(&renewed, "/v1/notifications/webhooks").await.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_credentials_are_refused_as_invalid_client() {
    let sandbox = spawn_sandbox().await;

    let refused = sandbox.request_token(SANDBOX_PAYPAL_CLIENT_ID, "not-the-secret").await;

    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body, json!({ "error": "invalid_client", "error_description": "Client Authentication failed" }));
    let unknown = sandbox.request_token("someone-else", SANDBOX_PAYPAL_CLIENT_SECRET).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_request_without_a_grant_type_is_refused() {
    let sandbox = spawn_sandbox().await;

    let response = sandbox
        .http
        .post(format!("{}/v1/oauth2/token", sandbox.url))
        .basic_auth(SANDBOX_PAYPAL_CLIENT_ID, Some(SANDBOX_PAYPAL_CLIENT_SECRET))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn api_calls_without_a_valid_bearer_token_get_authentication_failure() {
    let sandbox = spawn_sandbox().await;

    let anonymous =
        sandbox.http.get(format!("{}/v2/checkout/orders/5O190127TN364715T", sandbox.url)).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["name"], "AUTHENTICATION_FAILURE");
    assert_eq!(body["links"][0]["rel"], "information_link");

    let forged = sandbox.post("A21AAnot-a-token", "/v2/checkout/orders", Some(json!({})), &[]).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.body["name"], "AUTHENTICATION_FAILURE");
}
