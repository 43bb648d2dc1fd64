//! Ping++'s JSON for charges, refunds, orders and lists. Times are Unix seconds; fields Ping++
//! always sends are sent as `null` when empty, so clients that read them find the key.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::state::{Charge, Order, PingppState, Refund, RefundStatus};

pub fn unix(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn unix_or_null(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| json!(at.timestamp()))
}

/// `{"object": "list", "url", "has_more", "data"}`.
pub fn list(url: impl Into<String>, data: Vec<Value>, has_more: bool) -> Value {
    json!({ "object": "list", "url": url.into(), "has_more": has_more, "data": data })
}

pub fn refund(charge: &Charge, refund: &Refund) -> Value {
    let mut body = json!({
        "id": refund.id,
        "object": "refund",
        "order_no": refund.order_no,
        "amount": refund.amount,
        "created": unix(refund.created),
        "succeed": refund.status == RefundStatus::Succeeded,
        "status": refund.status.as_str(),
        "time_succeed": unix_or_null(refund.time_succeed),
        "description": refund.description,
        "failure_code": refund.failure_code,
        "failure_msg": refund.failure_msg,
        "metadata": refund.metadata,
        "charge": charge.id,
        "charge_order_no": charge.order_no,
        "transaction_no": refund.transaction_no,
        "extra": {},
    });
    if let Some(source) = &refund.funding_source {
        body["funding_source"] = json!(source);
    }
    if let Some(mode) = refund.refund_mode {
        body["refund_mode"] = json!(mode.as_str());
        body["royalty_users"] = json!(refund.royalty_users);
    }
    if let Some(order_id) = &charge.order_id {
        body["order"] = json!(order_id);
    }
    body
}

pub fn charge(charge: &Charge) -> Value {
    let refunds: Vec<Value> = charge.refunds.iter().rev().map(|entry| refund(charge, entry)).collect();
    // The credential is what the client pays with; once paid, Ping++ shows it empty.
    let credential = if charge.paid { json!({}) } else { charge.credential.clone() };
    json!({
        "id": charge.id,
        "object": "charge",
        "created": unix(charge.created),
        "livemode": false,
        "paid": charge.paid,
        "refunded": !charge.refunds.is_empty(),
        "reversed": charge.reversed,
        "app": charge.app,
        "channel": charge.channel.as_str(),
        "order_no": charge.order_no,
        "client_ip": charge.client_ip,
        "amount": charge.amount,
        "amount_settle": if charge.paid { charge.amount } else { 0 },
        "currency": "cny",
        "subject": charge.subject,
        "body": charge.body,
        "extra": charge.extra,
        "time_paid": unix_or_null(charge.time_paid),
        "time_expire": unix(charge.time_expire),
        "time_settle": null,
        "transaction_no": charge.transaction_no,
        "refunds": list(format!("/v1/charges/{}/refunds", charge.id), refunds, false),
        "amount_refunded": charge.refunded_amount(),
        "failure_code": charge.failure_code,
        "failure_msg": charge.failure_msg,
        "metadata": charge.metadata,
        "credential": credential,
        "description": charge.description,
    })
}

pub fn order(state: &PingppState, order: &Order) -> Value {
    let charges = state.order_charges(order);
    let current = charges.last();
    let essentials = current.map_or(json!({}), |charge| {
        json!({
            "channel": charge.channel.as_str(),
            "transaction_no": charge.transaction_no,
            "failure_code": charge.failure_code,
            "failure_msg": charge.failure_msg,
            "extra": charge.extra,
            "credential": if charge.paid { json!({}) } else { charge.credential.clone() },
        })
    });
    let charge_list: Vec<Value> = charges.iter().rev().map(|entry| charge(entry)).collect();
    let amount_refunded = state.order_refunded_amount(order);
    json!({
        "id": order.id,
        "object": "order",
        "created": unix(order.created),
        "livemode": false,
        "paid": order.paid,
        "refunded": amount_refunded > 0,
        "status": order.status.as_str(),
        "app": order.app,
        "uid": order.uid,
        "available_balance": 0,
        "merchant_order_no": order.merchant_order_no,
        "amount": order.amount,
        "actual_amount": order.actual_amount,
        "amount_refunded": amount_refunded,
        "amount_paid": order.amount_paid,
        "coupon_amount": order.amount - order.actual_amount,
        "currency": "cny",
        "subject": order.subject,
        "body": order.body,
        "client_ip": order.client_ip,
        "time_paid": unix_or_null(order.time_paid),
        "time_expire": unix(order.time_expire),
        "coupon": order.coupon,
        "description": order.description,
        "metadata": order.metadata,
        "charge": current.map(|charge| charge.id.clone()),
        "charge_essentials": essentials,
        "receipt_app": order.receipt_app,
        "service_app": order.service_app,
        "available_methods": [],
        "royalty_users": order.royalty_users,
        "charges": list(format!("/v1/orders/{}/charges", order.id), charge_list, false),
    })
}
