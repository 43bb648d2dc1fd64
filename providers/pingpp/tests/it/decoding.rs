//! Realistic Ping++ objects decode field for field, and decoding is lenient where Ping++ varies.

use payhub_pingpp::{Charge, Event, FundingSource, List, Order, OrderStatus, Refund, RefundStatus, parse_event};
use serde_json::json;

use crate::samples;

#[test]
fn a_paid_qr_charge_decodes_with_its_credential_and_refunds() {
    let charge: Charge = serde_json::from_str(samples::CHARGE).expect("charge");
    assert_eq!(charge.id, "ch_L8qn10mLmr1GS8e5OODmHaL4");
    assert_eq!(charge.app, "app_1Gqj58ynP0mHeX1q");
    assert_eq!((charge.amount, charge.amount_settle, charge.amount_refunded), (2500, 2485, 500));
    assert_eq!(charge.currency, "cny");
    assert!(charge.paid && !charge.refunded && !charge.reversed);
    assert_eq!(charge.subject, "会员一年");
    assert_eq!(charge.time_paid, Some(1_735_689_720));
    assert_eq!(charge.time_settle, None);
    assert_eq!(charge.description, None);
    assert_eq!(charge.qr_payload(), Some("weixin://wxpay/bizpayurl?pr=QrLink01"));
    assert_eq!(charge.refundable_amount(), 2000);
    assert_eq!(charge.metadata["payment"], "pay_01JGZ3");

    let refunds = charge.refunds.expect("refund list");
    assert_eq!(refunds.url, "/v1/charges/ch_L8qn10mLmr1GS8e5OODmHaL4/refunds");
    let refund = &refunds.data[0];
    assert_eq!(refund.status, RefundStatus::Pending);
    assert!(!refund.succeed);
    assert_eq!(refund.funding_source, Some(FundingSource::UnsettledFunds));
}

#[test]
fn a_succeeded_refund_decodes_field_for_field() {
    let refund: Refund = serde_json::from_str(samples::REFUND).expect("refund");
    assert_eq!(refund.id, "re_y1u944PmfnrTHyvnL0nD0iD1");
    assert_eq!(refund.object, "refund");
    assert_eq!(refund.amount, 800);
    assert!(refund.succeed);
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.time_succeed, Some(1_499_930_518));
    assert_eq!(refund.charge, "ch_8SCSCCn90ir1bb54m5fjbnX5");
    assert_eq!(refund.charge_order_no.as_deref(), Some("2017071102122327"));
    assert_eq!(refund.transaction_no.as_deref(), Some("2004450349201512090096425284"));
    assert_eq!(refund.failure_code, None);
    assert_eq!(refund.funding_source, None);
}

#[test]
fn the_order_refunded_event_decodes_down_to_the_orders_charge() {
    let event: Event = parse_event(samples::ORDER_REFUNDED_EVENT.as_bytes()).expect("event");
    assert_eq!(event.id, "evt_401171222113755187074803");
    assert_eq!(event.event_type, "order.refunded");
    assert_eq!(event.object, "event");
    assert_eq!(event.request.as_deref(), Some("iar_C8KOu5HOmD8CbzbXrPqv1y9S"));
    assert_eq!(event.data.object_kind(), Some("order"));
    assert!(event.charge().is_none());

    let order: Order = event.order().expect("an order event").expect("order");
    assert_eq!(order.status, OrderStatus::Refunded);
    assert!(order.paid && order.refunded);
    assert_eq!((order.amount, order.actual_amount, order.amount_paid, order.amount_refunded), (1, 1, 1, 1));
    assert_eq!(order.overpaid_amount(), 0);
    assert_eq!(order.charge_essentials["channel"], "alipay_qr");
    let charges = order.charges.expect("charges");
    assert_eq!(charges.data.len(), 1);
    assert_eq!(charges.data[0].channel, "alipay_qr");
    assert_eq!(charges.data[0].refunds, None, "Ping++ writes refunds: null here");
}

#[test]
fn an_order_refund_answer_is_a_list_of_refunds() {
    let body = format!(
        r#"{{"object":"list","url":"/v1/orders/2001608270000004421/order_refunds","has_more":false,"data":[{}]}}"#,
        samples::REFUND
    );
    let list: List<Refund> = serde_json::from_str(&body).expect("list");
    assert_eq!(list.object, "list");
    assert!(!list.has_more);
    assert_eq!(list.data[0].amount, 800);
}

#[test]
fn unknown_statuses_and_fields_decode_instead_of_failing() {
    let mut order = samples::json(samples::ORDER);
    order["status"] = json!("partial_refunded");
    order["brand_new_field"] = json!({"nested": [1, 2, 3]});
    let order: Order = serde_json::from_value(order).expect("order");
    assert_eq!(order.status, OrderStatus::Other("partial_refunded".into()));
    assert_eq!(order.status.to_string(), "partial_refunded");

    let mut refund = samples::json(samples::REFUND);
    refund["status"] = json!("processing");
    refund["funding_source"] = json!("future_funds");
    let refund: Refund = serde_json::from_value(refund).expect("refund");
    assert_eq!(refund.status, RefundStatus::Other("processing".into()));
    assert_eq!(refund.funding_source, Some(FundingSource::Other("future_funds".into())));
}

#[test]
fn nulls_and_missing_fields_read_as_empty_values() {
    let charge: Charge = serde_json::from_value(json!({
        "id": "ch_sparse", "object": "charge", "paid": null, "amount": 100,
        "metadata": null, "extra": null, "refunds": null, "app": {"id": "app_1"}
    }))
    .expect("sparse charge");
    assert!(!charge.paid);
    assert!(charge.metadata.is_empty());
    assert!(charge.extra.is_null());
    assert_eq!(charge.app, "app_1", "an app object reads as its id");
    assert_eq!(charge.amount_refunded, 0);
    assert_eq!(charge.qr_payload(), None);
}

#[test]
fn amounts_that_are_not_integer_fen_are_refused() {
    let result = serde_json::from_value::<Charge>(json!({"id": "ch_1", "amount": 1.5}));
    assert!(result.is_err(), "fen are integers; a fraction is not silently truncated");
}
