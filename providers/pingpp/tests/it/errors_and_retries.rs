//! Ping++'s error answers, and which failures are repeated: reads yes, writes never.

use std::time::{Duration, Instant};

use payhub_pingpp::{CreateCharge, CreateRefund, PingppClient, PingppError, UNEXPECTED_RESPONSE};
use serde_json::json;

use crate::fake_pingpp::{FakePingpp, Scripted};

fn charge_request() -> CreateCharge {
    CreateCharge::new("2026010100000001", "alipay_qr", 100, "127.0.0.1", "s", "b")
}

fn api_parts(error: &PingppError) -> (u16, &str, &str, Option<&str>, Option<&str>) {
    match error {
        PingppError::Api { status, error_type, message, code, param } => {
            (*status, error_type.as_str(), message.as_str(), code.as_deref(), param.as_deref())
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_400_invalid_request_keeps_type_message_and_param() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::error(
        400,
        json!({"type": "invalid_request_error", "message": "order_no 已被使用", "param": "order_no"}),
    ));
    let error = pingpp.client().create_charge(&charge_request()).await.expect_err("duplicate order_no");
    assert_eq!(api_parts(&error), (400, "invalid_request_error", "order_no 已被使用", None, Some("order_no")));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_401_for_a_bad_key_is_an_api_error_with_status_401() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::error(401, json!({"type": "invalid_request_error", "message": "API Key is invalid"})));
    let error = pingpp.client().get_charge("ch_1").await.expect_err("refused");
    assert_eq!(api_parts(&error), (401, "invalid_request_error", "API Key is invalid", None, None));
    assert_eq!(pingpp.requests().len(), 1, "a 401 is not repeated");
}

#[tokio::test]
async fn a_402_channel_error_keeps_the_channel_code() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::error(
        402,
        json!({"type": "channel_error", "message": "渠道返回失败", "code": "channel_returns_fail"}),
    ));
    let error =
        pingpp.client().create_refund("ch_1", &CreateRefund::new(None, "r")).await.expect_err("channel failure");
    assert_eq!(api_parts(&error), (402, "channel_error", "渠道返回失败", Some("channel_returns_fail"), None));
}

#[tokio::test]
async fn a_404_for_an_unknown_object_is_not_repeated() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::error(
        404,
        json!({"type": "invalid_request_error", "message": "No such charge: ch_none", "param": "id"}),
    ));
    let error = pingpp.client().get_charge("ch_none").await.expect_err("404");
    assert_eq!(api_parts(&error).0, 404);
    assert_eq!(api_parts(&error).4, Some("id"));
    assert_eq!(pingpp.requests().len(), 1);
}

#[tokio::test]
async fn a_non_json_error_page_becomes_an_api_error_quoting_it() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::raw(502, "text/html", "<html>\n<body>502 Bad Gateway</body>\n</html>"));
    let mut config = pingpp.config();
    config.read_retries = 0;
    let error = PingppClient::new(config).expect("client").get_order("1").await.expect_err("502");
    let (status, error_type, message, _, _) = api_parts(&error);
    assert_eq!((status, error_type), (502, UNEXPECTED_RESPONSE));
    assert!(message.contains("<body>502 Bad Gateway</body>"), "{message}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_read_is_repeated_after_a_503_and_returns_the_later_success() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::error(503, json!({"type": "api_error", "message": "busy"})));
    let charge = pingpp.client().get_charge("ch_after_503").await.expect("second try");
    assert_eq!(charge.id, "ch_after_503");
    assert_eq!(pingpp.requests().len(), 2);
}

#[tokio::test]
async fn a_rate_limited_read_is_repeated() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::error(429, json!({"type": "rate_limit_error", "message": "slow down"})));
    pingpp.client().get_event("evt_1").await.expect("second try");
    assert_eq!(pingpp.requests().len(), 2);
}

#[tokio::test]
async fn a_read_gives_up_after_the_configured_repeats() {
    let pingpp = FakePingpp::start().await;
    for _ in 0..5 {
        pingpp.script(Scripted::error(500, json!({"type": "api_error", "message": "down"})));
    }
    let error = pingpp.client().list_order_refunds("1").await.expect_err("down");
    assert_eq!(api_parts(&error).0, 500);
    assert_eq!(pingpp.requests().len(), 1 + payhub_pingpp::DEFAULT_READ_RETRIES as usize);
}

#[tokio::test]
async fn a_post_is_never_repeated_even_after_a_503() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::error(503, json!({"type": "api_error", "message": "busy"})));
    let error = pingpp.client().create_charge(&charge_request()).await.expect_err("503");
    assert_eq!(api_parts(&error).0, 503);
    assert!(error.is_retryable(), "retryable in principle, yet not repeated");
    assert_eq!(pingpp.requests().len(), 1);
}

#[tokio::test]
async fn a_put_is_never_repeated_either() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::raw(502, "text/plain", "bad gateway"));
    pingpp.client().cancel_order("1").await.expect_err("502");
    assert_eq!(pingpp.requests().len(), 1);
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_timeout_and_is_not_repeated() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::slow(Duration::from_secs(3)));
    let mut config = pingpp.config();
    config.timeout = Duration::from_millis(200);
    let started = Instant::now();
    let error = PingppClient::new(config).expect("client").get_charge("ch_1").await.expect_err("too slow");
    assert_eq!(error, PingppError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(pingpp.requests().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let mut config = payhub_pingpp::ClientConfig::new(format!("http://{addr}"), "app_1", "sk_test_1");
    config.retry_backoff = Duration::from_millis(1);
    let error = PingppClient::new(config).expect("client").get_charge("ch_1").await.expect_err("nothing listens");
    assert!(matches!(error, PingppError::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_success_with_the_wrong_shape_is_a_decode_error_naming_the_call() {
    let pingpp = FakePingpp::start().await;
    pingpp.script(Scripted::raw(200, "application/json", r#"{"object":"charge"}"#));
    let error = pingpp.client().get_charge("ch_1").await.expect_err("no id");
    match &error {
        PingppError::Decode(message) => {
            assert!(message.contains("GET /v1/charges/ch_1"), "{message}");
            assert!(message.contains("id"), "{message}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(!error.is_retryable());
}

#[test]
fn unusable_configuration_is_refused_when_the_client_is_built() {
    use payhub_pingpp::ClientConfig;
    for config in [
        ClientConfig::new("ftp://api.pingxx.com", "app_1", "sk_1"),
        ClientConfig::new("https://api.pingxx.com", "", "sk_1"),
        ClientConfig::new("https://api.pingxx.com", "app_1", ""),
        ClientConfig::new("https://api.pingxx.com", "app_1", "sk\n1"),
    ] {
        let result = PingppClient::new(config.clone());
        assert!(matches!(result, Err(PingppError::Transport(_))), "{config:?} gave {result:?}");
    }
}
