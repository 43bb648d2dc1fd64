//! Properties of the API's and the ingress's handling of bodies from outside, sent to the
//! router in-process: whatever the bytes or the JSON, the answer is a payment, a refund or a
//! problem (4xx, problem+json with a code), never a server error or a panic. Cases: proptest's
//! default (256), or `PROPTEST_CASES`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use payhub_store::testing::Backend;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::TestApp;

/// A body as a client may send it: any bytes, any JSON, or a valid body with one member
/// replaced by any JSON, removed, or joined by an unknown one.
fn body_around(valid: Value) -> impl Strategy<Value = (Vec<u8>, bool)> {
    let names: Vec<String> = valid.as_object().unwrap().keys().cloned().collect();
    let edited = (proptest::sample::select(names), proptest::option::of(json_value()), any::<bool>()).prop_map(
        move |(name, replacement, extra)| {
            let mut body = valid.clone();
            let members = body.as_object_mut().unwrap();
            match replacement {
                Some(value) if extra => members.insert(format!("{name}_extra"), value),
                Some(value) => members.insert(name, value),
                None => members.remove(&name),
            };
            body.to_string().into_bytes()
        },
    );
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|value| value.to_string().into_bytes()),
        edited,
    ];
    // Mostly JSON's content type; sometimes none.
    (bytes, proptest::bool::weighted(0.9))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(1), Just(-1), Just(i64::MAX), Just(i64::MIN)].prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        prop_oneof![Just("USD"), Just("JPY"), Just("CNY"), Just("paypal"), Just("pingpp"), Just("")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Sends bodies around `valid` to `path` (where `{paid}` names a paid payment) on a fresh
/// hub; each answer must be 2xx or a 4xx problem (the ingress answers providers, which read
/// only the status). Says how many cases ran and how they were answered.
fn never_a_server_error(path: &str, valid: Value, ingress: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = runtime.block_on(async {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        let paid = app.paid_payment(100_000).await;
        (app, paid)
    });
    let (app, paid) = app;
    let path = path.replace("{paid}", paid["id"].as_str().unwrap());
    let router = payhub::http::router(app.hub.clone());
    // Failures print their smallest body; nothing is written beside the sources.
    let config = Config { failure_persistence: None, ..Config::default() };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let answers = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    static NEXT_KEY: AtomicU64 = AtomicU64::new(0);
    let result = runner.run(&body_around(valid), |(body, json_content_type)| {
        let mut request = Request::post(&path)
            .header("authorization", format!("Bearer {}", app.api_key))
            .header("idempotency-key", format!("property-{}", NEXT_KEY.fetch_add(1, Ordering::Relaxed)));
        if json_content_type {
            request = request.header("content-type", "application/json");
        }
        let mut request = request.body(Body::from(body.clone())).unwrap();
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 4000))));
        let (status, content_type, answer) = runtime.block_on(async {
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
            let answer = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, content_type, answer)
        });
        let sent = String::from_utf8_lossy(&body);
        let said = String::from_utf8_lossy(&answer);
        if status.is_server_error() {
            return Err(TestCaseError::fail(format!("{status} for {sent}: {said}")));
        }
        if status.is_client_error() && !ingress {
            prop_assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{} for {}", status, sent);
            let problem: Value = serde_json::from_slice(&answer).unwrap();
            prop_assert!(problem["code"].is_string() && problem["detail"].is_string(), "{}", said);
        }
        prop_assert!(status.is_success() || status.is_client_error() || status == StatusCode::SEE_OTHER, "{status}");
        *answers.lock().unwrap().entry(status.as_u16()).or_default() += 1;
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    runtime.block_on(async { drop(app) });
    eprintln!("{path}: {cases} bodies, answered {:?} (status: count)", answers.into_inner().unwrap());
}

#[test]
fn any_payment_body_gets_a_payment_or_a_problem_never_a_server_error() {
    let valid = json!({ "provider": "paypal", "amount": 1000, "currency": "USD", "merchant_reference": "order-1",
                        "return_url": "https://shop.example/back", "metadata": {}, "provider_options": {} });
    never_a_server_error("/v1/payments", valid, false);
}

#[test]
fn any_refund_body_gets_a_refund_or_a_problem_never_a_server_error() {
    let valid = json!({ "amount": 1, "reason": "customer asked", "metadata": {}, "provider_options": {} });
    never_a_server_error("/v1/payments/{paid}/refunds", valid, false);
}

#[test]
fn any_notification_body_is_refused_without_a_server_error() {
    let valid = json!({ "id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": { "id": "1" } });
    for path in ["/webhooks/paypal", "/webhooks/pingpp", "/webhooks/paypal/ipn"] {
        never_a_server_error(path, valid.clone(), true);
    }
}
