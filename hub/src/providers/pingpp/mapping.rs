//! Ping++'s charges, orders and refunds in payhub's vocabulary. Pure functions.

use payhub_core::payment::{Failure, PaymentFacts, PaymentStatus};
use payhub_core::refund::{RefundFacts, RefundStatus};
use payhub_core::{Currency, Money};
use payhub_pingpp::{Charge, Order, OrderStatus, Refund, RefundStatus as PingppRefundStatus};

use crate::providers::PaymentSnapshot;

/// The channels payhub offers through Ping++, and the `extra` parameters each requires
/// (Ping++'s channel reference).
pub const CHANNELS: &[(&str, &[&str])] = &[
    ("alipay", &[]),
    ("alipay_wap", &["success_url"]),
    ("alipay_pc_direct", &["success_url"]),
    ("alipay_qr", &[]),
    ("wx", &[]),
    ("wx_pub", &["open_id"]),
    ("wx_pub_qr", &["product_id"]),
    ("wx_lite", &["open_id"]),
    ("wx_wap", &[]),
    ("upacp", &[]),
    ("upacp_wap", &["result_url"]),
    ("upacp_pc", &["result_url"]),
    ("balance", &["user"]),
];

/// Channels whose credential is a link the buyer scans as a QR code.
pub const QR_CHANNELS: &[&str] = &["alipay_qr", "wx_pub_qr"];

fn cny(amount: i64) -> Option<Money> {
    Currency::parse("CNY").ok().map(|c| Money::new(amount, c))
}

pub fn charge_facts(charge: &Charge) -> PaymentFacts {
    let (status, failure) = if charge.paid {
        (PaymentStatus::Succeeded, None)
    } else if let Some(code) = &charge.failure_code {
        let message = charge.failure_msg.clone().unwrap_or_else(|| format!("Ping++ charge {} failed", charge.id));
        (PaymentStatus::Failed, Some(Failure { code: code.to_ascii_lowercase(), message }))
    } else if charge.reversed {
        (PaymentStatus::Canceled, None)
    } else {
        (PaymentStatus::RequiresAction, None)
    };
    PaymentFacts {
        status,
        capture_id: Some(charge.id.clone()),
        captured: charge.paid.then(|| cny(charge.amount)).flatten(),
        failure,
        authorization: None,
        pending_reason: None,
    }
}

/// An order's state. A canceled order that was paid anyway is reported as paid: the money
/// was taken, and the payment's merge flags it as an anomaly.
pub fn order_facts(order: &Order) -> PaymentFacts {
    let status = match (&order.status, order.paid) {
        (_, true) => PaymentStatus::Succeeded,
        (OrderStatus::Canceled, false) => PaymentStatus::Canceled,
        _ => PaymentStatus::RequiresAction,
    };
    PaymentFacts {
        status,
        capture_id: order.charge.clone(),
        captured: order.paid.then(|| cny(order.amount_paid)).flatten(),
        failure: None,
        authorization: None,
        pending_reason: None,
    }
}

pub fn charge_snapshot(charge: &Charge) -> PaymentSnapshot {
    PaymentSnapshot { facts: charge_facts(charge), ready_to_capture: false }
}

pub fn order_snapshot(order: &Order) -> PaymentSnapshot {
    PaymentSnapshot { facts: order_facts(order), ready_to_capture: false }
}

pub fn refund_facts(refund: &Refund) -> RefundFacts {
    let status = match &refund.status {
        PingppRefundStatus::Succeeded => RefundStatus::Succeeded,
        PingppRefundStatus::Failed => RefundStatus::Failed,
        PingppRefundStatus::Pending | PingppRefundStatus::Other(_) => RefundStatus::Pending,
    };
    let failure = (status == RefundStatus::Failed).then(|| Failure {
        code: refund.failure_code.clone().unwrap_or_else(|| "refund_failed".into()).to_ascii_lowercase(),
        message: refund.failure_msg.clone().unwrap_or_else(|| format!("Ping++ refund {} failed", refund.id)),
    });
    RefundFacts { status, provider_refund_id: Some(refund.id.clone()), failure }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(json: serde_json::Value) -> Charge {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_paid_charge_succeeded_with_its_amount_in_fen() {
        let facts =
            charge_facts(&charge(serde_json::json!({"id": "ch_1", "paid": true, "amount": 1200, "currency": "cny"})));
        assert_eq!(facts.status, PaymentStatus::Succeeded);
        assert_eq!(facts.captured, cny(1200));
        assert_eq!(facts.capture_id.as_deref(), Some("ch_1"));
    }

    #[test]
    fn unpaid_failed_and_reversed_charges_map_to_waiting_failed_and_canceled() {
        assert_eq!(charge_facts(&charge(serde_json::json!({"id": "ch_1"}))).status, PaymentStatus::RequiresAction);
        let failed = charge_facts(&charge(
            serde_json::json!({"id": "ch_1", "failure_code": "USER_CANCEL", "failure_msg": "buyer gave up"}),
        ));
        assert_eq!((failed.status, failed.failure.unwrap().code), (PaymentStatus::Failed, "user_cancel".to_owned()));
        assert_eq!(
            charge_facts(&charge(serde_json::json!({"id": "ch_1", "reversed": true}))).status,
            PaymentStatus::Canceled
        );
    }

    #[test]
    fn an_order_paid_twice_reports_everything_paid_and_a_canceled_paid_order_reports_paid() {
        let order = |json: serde_json::Value| -> Order { serde_json::from_value(json).unwrap() };
        let twice = order_facts(&order(
            serde_json::json!({"id": "2001", "status": "paid", "paid": true, "amount": 1000, "actual_amount": 1000, "amount_paid": 2000, "charge": "ch_2"}),
        ));
        assert_eq!((twice.status, twice.captured), (PaymentStatus::Succeeded, cny(2000)));
        let late = order_facts(&order(
            serde_json::json!({"id": "2002", "status": "canceled", "paid": true, "amount": 1000, "actual_amount": 1000, "amount_paid": 1000}),
        ));
        assert_eq!(late.status, PaymentStatus::Succeeded);
        let canceled =
            order_facts(&order(serde_json::json!({"id": "2003", "status": "canceled", "paid": false, "amount": 1000})));
        assert_eq!(canceled.status, PaymentStatus::Canceled);
    }

    #[test]
    fn refund_statuses_map_with_the_failure_reason() {
        let refund = |status: &str| -> Refund {
            serde_json::from_value(
                serde_json::json!({"id": "re_1", "status": status, "charge": "ch_1", "failure_code": "NOTENOUGH"}),
            )
            .unwrap()
        };
        assert_eq!(refund_facts(&refund("pending")).status, RefundStatus::Pending);
        assert_eq!(refund_facts(&refund("succeeded")).status, RefundStatus::Succeeded);
        assert_eq!(refund_facts(&refund("failed")).failure.unwrap().code, "notenough");
    }
}
