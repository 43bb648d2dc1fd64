//! Decoding PayPal objects in the shapes its v2 Orders and Payments APIs document, including
//! fields this crate does not model.

use payhub_paypal::{
    Capture, CaptureStatus, CreateOrderRequest, Link, Order, OrderStatus, PurchaseUnitRequest, Refund, RefundRequest,
    RefundStatus, parse_webhook_event,
};
use serde_json::json;

/// An order after `POST /v2/checkout/orders/{id}/capture` with `Prefer: return=representation`.
const CAPTURED_ORDER: &str = r#"{
  "id": "5O190127TN364715T",
  "intent": "CAPTURE",
  "status": "COMPLETED",
  "payment_source": {
    "paypal": {
      "email_address": "buyer@example.com",
      "account_id": "QYR5Z8XDVJNXQ",
      "account_status": "VERIFIED",
      "name": {"given_name": "John", "surname": "Doe"},
      "address": {"country_code": "US"}
    }
  },
  "purchase_units": [
    {
      "reference_id": "pay_01J9Z",
      "amount": {"currency_code": "USD", "value": "100.00"},
      "payee": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"},
      "custom_id": "pay_01J9Z",
      "invoice_id": "INV-2026-0001",
      "shipping": {
        "name": {"full_name": "John Doe"},
        "address": {
          "address_line_1": "2211 N First Street",
          "admin_area_2": "San Jose",
          "admin_area_1": "CA",
          "postal_code": "95131",
          "country_code": "US"
        }
      },
      "payments": {
        "captures": [
          {
            "id": "3C679366HH908993F",
            "status": "COMPLETED",
            "amount": {"currency_code": "USD", "value": "100.00"},
            "final_capture": true,
            "disbursement_mode": "INSTANT",
            "seller_protection": {
              "status": "ELIGIBLE",
              "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]
            },
            "seller_receivable_breakdown": {
              "gross_amount": {"currency_code": "USD", "value": "100.00"},
              "paypal_fee": {"currency_code": "USD", "value": "3.00"},
              "net_amount": {"currency_code": "USD", "value": "97.00"}
            },
            "custom_id": "pay_01J9Z",
            "invoice_id": "INV-2026-0001",
            "links": [
              {"href": "https://api.sandbox.paypal.com/v2/payments/captures/3C679366HH908993F", "rel": "self", "method": "GET"},
              {"href": "https://api.sandbox.paypal.com/v2/payments/captures/3C679366HH908993F/refund", "rel": "refund", "method": "POST"},
              {"href": "https://api.sandbox.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "up", "method": "GET"}
            ],
            "create_time": "2026-01-05T10:03:12Z",
            "update_time": "2026-01-05T10:03:12Z"
          }
        ]
      }
    }
  ],
  "payer": {
    "name": {"given_name": "John", "surname": "Doe"},
    "email_address": "buyer@example.com",
    "payer_id": "QYR5Z8XDVJNXQ",
    "address": {"country_code": "US"}
  },
  "create_time": "2026-01-05T10:01:40Z",
  "update_time": "2026-01-05T10:03:12Z",
  "links": [
    {"href": "https://api.sandbox.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "self", "method": "GET"}
  ]
}"#;

/// `GET /v2/payments/captures/{id}` of a capture held for review.
const PENDING_CAPTURE: &str = r#"{
  "id": "2GG279541U471931P",
  "amount": {"currency_code": "EUR", "value": "15.50"},
  "final_capture": true,
  "seller_protection": {"status": "NOT_ELIGIBLE"},
  "status": "PENDING",
  "status_details": {"reason": "PENDING_REVIEW"},
  "supplementary_data": {"related_ids": {"order_id": "8MC585209K746392H"}},
  "payee": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"},
  "create_time": "2026-01-05T10:03:12Z",
  "update_time": "2026-01-05T10:03:12Z",
  "links": [
    {"href": "https://api.sandbox.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "self", "method": "GET"},
    {"href": "https://api.sandbox.paypal.com/v2/checkout/orders/8MC585209K746392H", "rel": "up", "method": "GET"}
  ]
}"#;

/// `GET /v2/payments/refunds/{id}`.
const REFUND: &str = r#"{
  "id": "1JU08902781691411",
  "amount": {"value": "10.99", "currency_code": "USD"},
  "status": "COMPLETED",
  "note_to_payer": "Defective product",
  "seller_payable_breakdown": {
    "gross_amount": {"value": "10.99", "currency_code": "USD"},
    "paypal_fee": {"value": "0", "currency_code": "USD"},
    "net_amount": {"value": "10.99", "currency_code": "USD"},
    "total_refunded_amount": {"value": "10.99", "currency_code": "USD"}
  },
  "invoice_id": "INV-2026-0001",
  "custom_id": "re_01J9Z",
  "create_time": "2026-01-06T08:14:19-08:00",
  "update_time": "2026-01-06T08:14:19-08:00",
  "links": [
    {"href": "https://api.sandbox.paypal.com/v2/payments/refunds/1JU08902781691411", "rel": "self", "method": "GET"},
    {"href": "https://api.sandbox.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "up", "method": "GET"}
  ]
}"#;

fn link(rel: &str, href: &str) -> Link {
    Link { href: href.into(), rel: rel.into(), method: Some("GET".into()) }
}

#[test]
fn a_captured_order_decodes_with_its_capture() {
    let order: Order = serde_json::from_str(CAPTURED_ORDER).expect("order decodes");
    assert_eq!(order.id, "5O190127TN364715T");
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(order.intent.as_deref(), Some("CAPTURE"));
    let unit = &order.purchase_units[0];
    assert_eq!(unit.custom_id.as_deref(), Some("pay_01J9Z"));
    assert_eq!(unit.invoice_id.as_deref(), Some("INV-2026-0001"));
    assert_eq!(order.payer.as_ref().and_then(|p| p["payer_id"].as_str()), Some("QYR5Z8XDVJNXQ"));

    let captures: Vec<&Capture> = order.captures().collect();
    assert_eq!(captures.len(), 1);
    let capture = captures[0];
    assert_eq!(capture.id, "3C679366HH908993F");
    assert_eq!(capture.status, CaptureStatus::Completed);
    assert_eq!(capture.amount.as_ref().map(|a| (a.currency_code.as_str(), a.value.as_str())), Some(("USD", "100.00")));
    assert_eq!(capture.final_capture, Some(true));
    assert_eq!(capture.custom_id.as_deref(), Some("pay_01J9Z"));
    assert_eq!(capture.links.len(), 3);
    // A capture inside an order carries no supplementary data.
    assert_eq!(capture.order_id(), None);
}

#[test]
fn a_capture_fetched_alone_names_its_order_and_why_it_is_pending() {
    let capture: Capture = serde_json::from_str(PENDING_CAPTURE).expect("capture decodes");
    assert_eq!(capture.status, CaptureStatus::Pending);
    assert_eq!(capture.order_id(), Some("8MC585209K746392H"));
    assert_eq!(capture.status_details.and_then(|d| d.reason).as_deref(), Some("PENDING_REVIEW"));
}

#[test]
fn a_refund_names_its_capture_through_its_up_link() {
    let refund: Refund = serde_json::from_str(REFUND).expect("refund decodes");
    assert_eq!(refund.status, RefundStatus::Completed);
    assert_eq!(refund.capture_id(), Some("2GG279541U471931P"));
    assert_eq!(refund.note_to_payer.as_deref(), Some("Defective product"));
    assert_eq!(refund.custom_id.as_deref(), Some("re_01J9Z"));
}

#[test]
fn a_refund_without_an_up_link_to_a_capture_names_none() {
    let mut refund: Refund = serde_json::from_str(REFUND).expect("refund decodes");
    refund.links = vec![link("up", "https://api.sandbox.paypal.com/v2/payments/authorizations/0VF52814937998046")];
    assert_eq!(refund.capture_id(), None);
    refund.links.clear();
    assert_eq!(refund.capture_id(), None);
}

#[test]
fn the_approval_url_prefers_payer_action_and_falls_back_to_approve() {
    let mut order: Order = serde_json::from_value(json!({"id": "O", "status": "CREATED"})).expect("order");
    assert_eq!(order.approval_url(), None);
    order.links = vec![
        link("approve", "https://www.sandbox.paypal.com/checkoutnow?token=O&old"),
        link("payer-action", "https://www.sandbox.paypal.com/checkoutnow?token=O"),
    ];
    assert_eq!(order.approval_url(), Some("https://www.sandbox.paypal.com/checkoutnow?token=O"));
    order.links.remove(1);
    assert_eq!(order.approval_url(), Some("https://www.sandbox.paypal.com/checkoutnow?token=O&old"));
}

#[test]
fn unknown_status_values_survive_a_round_trip_verbatim() {
    let capture: Capture = serde_json::from_value(json!({"id": "C", "status": "UNDER_REVIEW_NEW"})).expect("capture");
    assert_eq!(capture.status, CaptureStatus::Other("UNDER_REVIEW_NEW".into()));
    let encoded = serde_json::to_value(&capture).expect("encodes");
    assert_eq!(encoded, json!({"id": "C", "status": "UNDER_REVIEW_NEW"}));
    assert_eq!(OrderStatus::from("PAYER_ACTION_REQUIRED"), OrderStatus::PayerActionRequired);
    assert_eq!(RefundStatus::Cancelled.as_str(), "CANCELLED");
}

#[test]
fn a_payment_capture_webhook_resource_decodes_as_a_capture() {
    let body = format!(
        r#"{{"id":"WH-58D329510W468432D-8HN650336L201105X","event_version":"1.0","create_time":"2026-01-05T10:03:14.000Z","resource_type":"capture","resource_version":"2.0","event_type":"PAYMENT.CAPTURE.PENDING","summary":"Payment pending for EUR 15.50 EUR","resource":{PENDING_CAPTURE},"links":[]}}"#
    );
    let event = parse_webhook_event(body.as_bytes()).expect("event parses");
    assert_eq!(event.event_type, "PAYMENT.CAPTURE.PENDING");
    assert_eq!(event.resource_version.as_deref(), Some("2.0"));
    let capture: Capture = event.resource_as().expect("resource is a capture");
    assert_eq!(capture.order_id(), Some("8MC585209K746392H"));
}

#[test]
fn an_order_request_without_a_payment_source_omits_it() {
    let request = CreateOrderRequest {
        intent: "CAPTURE".into(),
        purchase_units: vec![PurchaseUnitRequest::new(payhub_paypal::Amount::new("JPY", "1000"))],
        payment_source: None,
    };
    assert_eq!(
        serde_json::to_value(&request).expect("encodes"),
        json!({"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "JPY", "value": "1000"}}]})
    );
}

#[test]
fn a_full_refund_request_is_an_empty_object() {
    assert_eq!(serde_json::to_value(RefundRequest::default()).expect("encodes"), json!({}));
}
