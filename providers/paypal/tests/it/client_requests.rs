//! What goes on the wire for orders, captures and refunds, and how answers are mapped.

use std::time::Duration;

use payhub_paypal::{
    Amount, ClientConfig, CreateOrderRequest, ExperienceContext, OrderStatus, PaypalClient, PaypalError,
    PurchaseUnitRequest, RefundRequest, RefundStatus,
};
use serde_json::json;

use crate::fake_paypal::FakePaypal;

fn order_request() -> CreateOrderRequest {
    CreateOrderRequest::capture(
        vec![PurchaseUnitRequest {
            reference_id: Some("pay_01J9Z".into()),
            custom_id: Some("pay_01J9Z".into()),
            invoice_id: Some("INV-2026-0001".into()),
            ..PurchaseUnitRequest::new(Amount::new("USD", "25.00"))
        }],
        ExperienceContext {
            return_url: "https://shop.example/return".into(),
            cancel_url: "https://shop.example/cancel".into(),
            brand_name: Some("Example Shop".into()),
            user_action: Some("PAY_NOW".into()),
            shipping_preference: Some("NO_SHIPPING".into()),
        },
    )
}

#[tokio::test]
async fn create_order_posts_paypal_json_with_the_callers_request_id() {
    let paypal = FakePaypal::start().await;
    let order = paypal.client().create_order("order-pay_01J9Z", &order_request()).await.expect("order created");
    assert_eq!(order.status, OrderStatus::PayerActionRequired);
    assert_eq!(order.approval_url(), Some("https://www.sandbox.paypal.com/checkoutnow?token=5O190127TN364715T"));

    let sent = paypal.last_api_request();
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v2/checkout/orders"));
    assert_eq!(sent.request_id.as_deref(), Some("order-pay_01J9Z"));
    assert_eq!(sent.prefer.as_deref(), Some("return=representation"));
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.json(),
        json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": "pay_01J9Z",
                "amount": {"currency_code": "USD", "value": "25.00"},
                "custom_id": "pay_01J9Z",
                "invoice_id": "INV-2026-0001"
            }],
            "payment_source": {"paypal": {"experience_context": {
                "return_url": "https://shop.example/return",
                "cancel_url": "https://shop.example/cancel",
                "brand_name": "Example Shop",
                "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING"
            }}}
        })
    );
}

#[tokio::test]
async fn capture_and_refund_carry_the_callers_request_ids() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();

    let order = client.capture_order("capture-pay_01J9Z", "5O190127TN364715T").await.expect("captured");
    let sent = paypal.last_api_request();
    assert_eq!(sent.path, "/v2/checkout/orders/5O190127TN364715T/capture");
    assert_eq!(sent.request_id.as_deref(), Some("capture-pay_01J9Z"));
    assert_eq!(sent.prefer.as_deref(), Some("return=representation"));
    assert_eq!(sent.json(), json!({}));
    let capture = order.captures().next().expect("one capture");

    let refund = client
        .refund_capture(
            "refund-re_01J9Z",
            &capture.id,
            &RefundRequest {
                amount: Some(Amount::new("USD", "10.00")),
                note_to_payer: Some("Partial refund".into()),
                ..RefundRequest::default()
            },
        )
        .await
        .expect("refunded");
    let sent = paypal.last_api_request();
    assert_eq!(sent.path, format!("/v2/payments/captures/{}/refund", capture.id));
    assert_eq!(sent.request_id.as_deref(), Some("refund-re_01J9Z"));
    assert_eq!(
        sent.json(),
        json!({"amount": {"currency_code": "USD", "value": "10.00"}, "note_to_payer": "Partial refund"})
    );
    assert_eq!(refund.capture_id(), Some(capture.id.as_str()));
}

#[tokio::test]
async fn get_requests_carry_no_request_id() {
    let paypal = FakePaypal::start().await;
    paypal.client().get_refund("1JU08902781691411").await.expect("refund");
    let sent = paypal.last_api_request();
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/v2/payments/refunds/1JU08902781691411"));
    assert_eq!(sent.request_id, None);
}

#[tokio::test]
async fn a_paypal_error_body_is_mapped_into_an_api_error() {
    let paypal = FakePaypal::start().await;
    let error = paypal.client().capture_order("capture-1", "UNAPPROVED").await.expect_err("not approved");
    let PaypalError::Api { status, name, message, debug_id, details, .. } = &error else {
        panic!("expected an API error, got {error:?}");
    };
    assert_eq!(*status, 422);
    assert_eq!(name, "UNPROCESSABLE_ENTITY");
    assert!(message.starts_with("The requested action could not be performed"), "{message}");
    assert_eq!(debug_id.as_deref(), Some("90957fca61718"));
    assert_eq!(details.len(), 1);
    assert_eq!(error.issue(), Some("ORDER_NOT_APPROVED"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_error_answer_that_is_not_json_keeps_its_status_and_a_readable_message() {
    let paypal = FakePaypal::start().await;
    let error = paypal.client().get_order("BAD-GATEWAY").await.expect_err("502");
    let PaypalError::Api { status, message, .. } = &error else {
        panic!("expected an API error, got {error:?}");
    };
    assert_eq!(*status, 502);
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_retryable_timeout() {
    let paypal = FakePaypal::start().await;
    let client =
        PaypalClient::new(ClientConfig { timeout: Duration::from_millis(300), ..paypal.config() }).expect("client");
    let started = std::time::Instant::now();
    let error = client.get_order("SLOW").await.expect_err("too slow");
    assert_eq!(error, PaypalError::Timeout);
    assert!(error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn status_values_this_crate_does_not_know_decode_as_other() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    let order = client.get_order("NEW-STATUS").await.expect("order decodes");
    assert_eq!(order.status, OrderStatus::Other("SOMETHING_NEW".into()));
    let refund = client.get_refund("NEW-STATUS").await.expect("refund decodes");
    assert_eq!(refund.status, RefundStatus::Other("SOMETHING_NEW".into()));
}

#[tokio::test]
async fn a_success_answer_of_the_wrong_shape_is_a_decode_error() {
    let paypal = FakePaypal::start().await;
    let error = paypal.client().get_capture("WRONG-SHAPE").await.expect_err("no id");
    assert!(matches!(&error, PaypalError::Decode(why) if why.contains("missing field")), "{error:?}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_order_id_cannot_escape_its_path_segment() {
    let paypal = FakePaypal::start().await;
    let sneaky = "../../v1/notifications/webhooks";
    let order = paypal.client().get_order(sneaky).await.expect("order");
    assert_eq!(order.id, sneaky, "the whole id reached the order route as one segment");
}

#[tokio::test]
async fn a_request_id_that_cannot_be_a_header_is_refused_before_sending() {
    let paypal = FakePaypal::start().await;
    let error = paypal.client().create_order("order-1\r\nX-Injected: 1", &order_request()).await.expect_err("refused");
    assert!(matches!(error, PaypalError::Decode(_)), "{error:?}");
    assert!(paypal.api_requests().is_empty());
}

#[tokio::test]
async fn an_unreachable_paypal_is_a_retryable_transport_error() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr");
    let client = PaypalClient::new(ClientConfig::new(format!("http://{closed}"), "id", "secret")).expect("client");
    let error = client.get_order("A").await.expect_err("nothing listens");
    assert!(matches!(error, PaypalError::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[test]
fn a_base_url_that_is_not_an_http_url_is_refused_at_construction() {
    let result = PaypalClient::new(ClientConfig::new("api-m.paypal.com", "id", "secret"));
    assert!(matches!(result, Err(PaypalError::Transport(why)) if why.contains("base_url")));
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_reaches_the_same_endpoints() {
    let paypal = FakePaypal::start().await;
    let client = PaypalClient::new(ClientConfig { base_url: format!("{}/", paypal.base_url()), ..paypal.config() })
        .expect("client");
    client.get_order("A").await.expect("order");
    assert_eq!(paypal.last_api_request().path, "/v2/checkout/orders/A");
}
