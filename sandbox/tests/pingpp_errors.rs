//! Every error status Ping++'s SDKs map to an error class, produced by a real request: 400 and
//! 404 invalid requests, 401 authentication, 402 channel errors, 403 and 429 rate limits, 5xx API
//! errors. Each answer has the body the SDKs parse, `{"error": {"type", "message", "code"?,
//! "param"?}}`.

mod common;
mod pingpp_harness;

use axum::http::StatusCode;
use payhub_sandbox::SANDBOX_PINGPP_APP_ID;
use pingpp_harness::{Auth, TestPingpp, charge_request, spawn_pingpp};
use reqwest::Method;
use serde_json::{Value, json};

/// The one key of the body is `error`, whose keys are among those the SDKs read, with a
/// non-empty message.
fn assert_ping_plus_plus_error(body: &Value) {
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["error"], "{body}");
    let error = body["error"].as_object().expect("error is an object");
    for key in error.keys() {
        assert!(["type", "message", "code", "param"].contains(&key.as_str()), "unexpected {key} in {body}");
    }
    assert!(error["type"].is_string(), "{body}");
    assert!(!error["message"].as_str().unwrap_or_default().is_empty(), "{body}");
}

fn list_charges_path() -> String {
    format!("/v1/charges?app[id]={SANDBOX_PINGPP_APP_ID}")
}

async fn charges_made(pingpp: &TestPingpp) -> usize {
    pingpp.get(&list_charges_path()).await.body["data"].as_array().map_or(0, Vec::len)
}

async fn inject_fault(pingpp: &TestPingpp, status: u16) {
    let fault = json!({ "fail_next": 1, "status": status, "path_prefix": "/v1/charges" });
    let set = pingpp.control(Method::PUT, "/sandbox/pingpp/faults", Some(fault)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
}

#[tokio::test]
async fn an_invalid_parameter_is_400_invalid_request_error_naming_it() {
    let pingpp = spawn_pingpp().await;

    let answer = pingpp.post("/v1/charges", charge_request("alipay_qr", -5, json!({}))).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_ping_plus_plus_error(&answer.body);
    assert_eq!((answer.error_type(), answer.param()), ("invalid_request_error", "amount"));
}

#[tokio::test]
async fn a_secret_key_ping_plus_plus_does_not_know_is_401() {
    let pingpp = spawn_pingpp().await;

    let path = list_charges_path();
    let answer = pingpp.call(Method::GET, &path, None, Auth::Bearer("sk_test_notakeyofthisaccount000"), &[]).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_ping_plus_plus_error(&answer.body);
    assert_eq!(answer.error_type(), "invalid_request_error");
}

#[tokio::test]
async fn a_channel_that_refuses_makes_new_charges_402_channel_error_with_its_code_until_it_accepts_again() {
    let pingpp = spawn_pingpp().await;
    let refusal = json!({ "failure_code": "SYSTEMERROR", "failure_msg": "系统繁忙" });
    let refuse = pingpp.control(Method::PUT, "/sandbox/pingpp/channels/wx_pub_qr/refusal", Some(refusal)).await;
    assert_eq!(refuse.status, StatusCode::OK, "{}", refuse.body);

    let refused = pingpp.post("/v1/charges", charge_request("wx_pub_qr", 300, json!({ "product_id": "sku-1" }))).await;
    let other_channel = pingpp.post("/v1/charges", charge_request("alipay_qr", 300, json!({}))).await;
    let order_id = pingpp.create_order(300).await["id"].as_str().unwrap().to_owned();
    let order_pay = pingpp
        .post(
            &format!("/v1/orders/{order_id}/pay"),
            json!({ "channel": "wx_pub_qr", "extra": { "product_id": "sku-1" } }),
        )
        .await;

    assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED);
    assert_ping_plus_plus_error(&refused.body);
    assert_eq!(refused.error_type(), "channel_error");
    assert_eq!(refused.body["error"]["code"], "SYSTEMERROR");
    assert_eq!(refused.param(), "channel");
    assert!(refused.message().contains("系统繁忙"), "{}", refused.body);
    assert_eq!(order_pay.status, StatusCode::PAYMENT_REQUIRED, "{}", order_pay.body);
    assert_eq!(other_channel.status, StatusCode::OK, "only that channel refuses: {}", other_channel.body);
    assert_eq!(charges_made(&pingpp).await, 1, "a refused charge is not created");

    let accept = pingpp.control(Method::DELETE, "/sandbox/pingpp/channels/wx_pub_qr/refusal", None).await;
    assert_eq!(accept.status, StatusCode::OK, "{}", accept.body);
    let accepted = pingpp.post("/v1/charges", charge_request("wx_pub_qr", 300, json!({ "product_id": "sku-1" }))).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let unknown = pingpp.control(Method::PUT, "/sandbox/pingpp/channels/paypal/refusal", None).await;
    assert_eq!((unknown.status, unknown.param()), (StatusCode::BAD_REQUEST, "channel"));
}

#[tokio::test]
async fn a_rate_limit_fault_is_403_rate_limit_error_and_nothing_is_created() {
    let pingpp = spawn_pingpp().await;
    inject_fault(&pingpp, 403).await;

    let answer = pingpp.post("/v1/charges", charge_request("alipay_qr", 100, json!({}))).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_ping_plus_plus_error(&answer.body);
    assert_eq!((answer.error_type(), answer.body["error"]["code"].as_str()), ("rate_limit_error", Some("rate_limit")));
    assert_eq!(charges_made(&pingpp).await, 0);
}

#[tokio::test]
async fn an_unknown_charge_is_404_invalid_request_error_naming_id() {
    let pingpp = spawn_pingpp().await;

    let answer = pingpp.get("/v1/charges/ch_0000000000000000000000nothere").await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_ping_plus_plus_error(&answer.body);
    assert_eq!((answer.error_type(), answer.param()), ("invalid_request_error", "id"));
}

#[tokio::test]
async fn a_gateway_rate_limit_fault_is_429_rate_limit_error_and_nothing_is_created() {
    let pingpp = spawn_pingpp().await;
    inject_fault(&pingpp, 429).await;

    let answer = pingpp.post("/v1/charges", charge_request("alipay_qr", 100, json!({}))).await;

    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_ping_plus_plus_error(&answer.body);
    assert_eq!(answer.error_type(), "rate_limit_error");
    assert_eq!(charges_made(&pingpp).await, 0);
}

#[tokio::test]
async fn server_error_faults_are_api_errors_with_their_status() {
    let pingpp = spawn_pingpp().await;

    for status in [500, 502, 503] {
        inject_fault(&pingpp, status).await;
        let answer = pingpp.post("/v1/charges", charge_request("alipay_qr", 100, json!({}))).await;

        assert_eq!(answer.status.as_u16(), status);
        assert_ping_plus_plus_error(&answer.body);
        assert_eq!(answer.error_type(), "api_error");
    }
    assert_eq!(charges_made(&pingpp).await, 0);
}
