mod common;
mod paypal_harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::DateTime;
use reqwest::Method;
use serde_json::json;

use paypal_harness::spawn_sandbox;

#[tokio::test]
async fn clock_advance_runs_due_actions_in_time_order_before_answering() {
    let sandbox = spawn_sandbox().await;
    let scheduler = sandbox.running.sandbox.scheduler().clone();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let start = scheduler.now();
    for (minutes, name) in
        [(120, "renewal"), (30, "retry"), (60, "settlement, first"), (60, "settlement, second"), (600, "tomorrow")]
    {
        let ran = ran.clone();
        scheduler.schedule_at(start + chrono::Duration::minutes(minutes), name, move || async move {
            ran.lock().unwrap().push(name);
        });
    }
    let before = sandbox.control(Method::GET, "/sandbox/clock", None).await;

    let advanced = sandbox.advance("3h").await;

    assert_eq!(advanced.status, StatusCode::OK);
    assert_eq!(*ran.lock().unwrap(), ["retry", "settlement, first", "settlement, second", "renewal"]);
    assert!(advanced.body["ran_actions"].as_u64().unwrap() >= 4);
    let moved = |body: &serde_json::Value| DateTime::parse_from_rfc3339(body["now"].as_str().unwrap()).unwrap();
    assert!(moved(&advanced.body) - moved(&before.body) >= chrono::Duration::hours(3));
    let pending = sandbox.control(Method::GET, "/sandbox/scheduler", None).await;
    let labels: Vec<&str> =
        pending.body["pending"].as_array().unwrap().iter().filter_map(|p| p["label"].as_str()).collect();
    assert!(labels.contains(&"tomorrow"));
}

#[tokio::test]
async fn a_malformed_clock_step_is_refused_and_the_clock_stays() {
    let sandbox = spawn_sandbox().await;

    let refused = sandbox.advance("3 fortnights").await;

    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(sandbox.running.clock.offset(), chrono::Duration::zero());
}

#[tokio::test]
async fn fail_next_makes_the_next_api_call_answer_500_then_calls_succeed_again() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let set =
        sandbox.control(Method::PUT, "/sandbox/paypal/faults", Some(json!({ "fail_next": 1, "status": 500 }))).await;
    assert_eq!(set.status, StatusCode::OK);

    let failed = sandbox.get(&token, "/v1/notifications/webhooks").await;
    let recovered = sandbox.get(&token, "/v1/notifications/webhooks").await;

    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.body["name"], "INTERNAL_SERVER_ERROR");
    assert_eq!(recovered.status, StatusCode::OK);
}

#[tokio::test]
async fn a_fault_limited_to_a_path_prefix_spares_other_calls() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let fault = json!({ "fail_next": 1, "status": 503, "path_prefix": "/v2/payments/" });
    sandbox.control(Method::PUT, "/sandbox/paypal/faults", Some(fault)).await;

    let (_, capture_id) = sandbox.captured_order(&token, "8.00").await;
    let refund = sandbox.post(&token, &format!("/v2/payments/captures/{capture_id}/refund"), None, &[]).await;

    assert_eq!(
        (refund.status, refund.body["name"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("SERVICE_UNAVAILABLE"))
    );
    let capture = sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await;
    assert_eq!(capture.body["status"], "COMPLETED", "the refused refund was not processed");
}

#[tokio::test]
async fn a_hung_capture_takes_effect_and_a_retry_with_the_same_request_id_learns_the_outcome() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order_id = sandbox.new_order_id(&token, "11.00").await;
    sandbox.approve(&order_id).await;
    sandbox.control(Method::PUT, "/sandbox/paypal/faults", Some(json!({ "fail_next": 1, "hang_ms": 5000 }))).await;
    let capture_url = format!("{}/v2/checkout/orders/{order_id}/capture", sandbox.url);

    let impatient = sandbox
        .http
        .post(&capture_url)
        .bearer_auth(&token)
        .header("PayPal-Request-Id", "capture-once")
        .timeout(Duration::from_millis(800))
        .send()
        .await;
    assert!(impatient.is_err_and(|error| error.is_timeout()));

    let other_id = sandbox
        .post(
            &token,
            &format!("/v2/checkout/orders/{order_id}/capture"),
            None,
            &[("PayPal-Request-Id", "capture-twice")],
        )
        .await;
    assert_eq!(other_id.issue(), "ORDER_ALREADY_CAPTURED", "the hung call did capture");
    let retry = sandbox
        .post(
            &token,
            &format!("/v2/checkout/orders/{order_id}/capture"),
            None,
            &[("PayPal-Request-Id", "capture-once")],
        )
        .await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.body["purchase_units"][0]["payments"]["captures"][0]["status"], "COMPLETED");
}

#[tokio::test]
async fn out_of_range_chaos_and_faults_are_refused() {
    let sandbox = spawn_sandbox().await;

    let chaos = sandbox.control(Method::PUT, "/sandbox/chaos", Some(json!({ "drop_rate": 2.0 }))).await;
    let unknown = sandbox.control(Method::PUT, "/sandbox/chaos", Some(json!({ "drop": 0.5 }))).await;
    let fault =
        sandbox.control(Method::PUT, "/sandbox/paypal/faults", Some(json!({ "fail_next": 1, "status": 404 }))).await;

    assert_eq!(chaos.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(fault.status, StatusCode::BAD_REQUEST);
    let current = sandbox.control(Method::GET, "/sandbox/chaos", None).await;
    assert_eq!(current.body["drop_rate"], 0.0);
}

#[tokio::test]
async fn the_sandbox_shuts_down_cleanly() {
    let sandbox = spawn_sandbox().await;
    let url = sandbox.url.clone();
    let http = sandbox.http.clone();

    tokio::time::timeout(Duration::from_secs(10), sandbox.running.shutdown()).await.expect("shutdown finishes");

    assert!(http.get(format!("{url}/healthz")).send().await.is_err());
}
