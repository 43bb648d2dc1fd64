//! v1 payments decode from PayPal's documented shapes.

use payhub_paypal::{SaleState, V1Payment, V1PaymentState};

#[test]
fn an_executed_v1_payment_exposes_its_payer_and_its_sale() {
    let body = r#"{ "id": "PAY-1BV5911839643144YKSCUA7Q", "create_time": "2014-12-08T06:09:02Z", "state": "approved", "intent": "sale",
        "payer": { "payment_method": "paypal", "payer_info": { "email": "buyer@example.com", "payer_id": "JARYJK2TES6C6" } },
        "transactions": [ { "amount": { "total": "20.00", "currency": "USD", "details": { "subtotal": "17.50", "tax": "1.30", "shipping": "1.20" } },
          "item_list": { "items": [ { "name": "Ground Coffee 40 oz", "price": "7.50", "currency": "USD", "quantity": 1 } ] },
          "related_resources": [ { "sale": { "id": "74V52932AB811673C", "amount": { "total": "20.00", "currency": "USD" },
            "state": "completed", "parent_payment": "PAY-1BV5911839643144YKSCUA7Q" } } ] } ],
        "links": [ { "href": "https://api.sandbox.paypal.com/v1/payments/payment/PAY-1BV5911839643144YKSCUA7Q", "rel": "self", "method": "GET" } ] }"#;
    let payment: V1Payment = serde_json::from_str(body).unwrap();
    assert_eq!(payment.state, V1PaymentState::Approved);
    assert_eq!(payment.payer_id(), Some("JARYJK2TES6C6"));
    let sale = payment.sales().next().unwrap();
    assert_eq!(sale.id, "74V52932AB811673C");
    assert_eq!(sale.state, SaleState::Completed);
    assert_eq!(payment.transactions[0].item_list.as_ref().unwrap().items[0].quantity, "1");
    assert_eq!(payment.approval_url(), None);
}

#[test]
fn a_created_v1_payment_offers_its_approval_url() {
    let body = r#"{ "id": "PAY-1", "state": "created", "transactions": [],
        "links": [ { "href": "https://www.sandbox.paypal.com/cgi-bin/webscr?cmd=_express-checkout&token=EC-60U79048BN7719609", "rel": "approval_url", "method": "REDIRECT" } ] }"#;
    let payment: V1Payment = serde_json::from_str(body).unwrap();
    assert_eq!(payment.state, V1PaymentState::Created);
    assert!(payment.approval_url().unwrap().ends_with("token=EC-60U79048BN7719609"));
}
