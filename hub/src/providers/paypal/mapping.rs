//! PayPal's objects in payhub's vocabulary. Pure functions: every rule about what a PayPal
//! status means lives here and is unit-tested.

use chrono::{DateTime, Utc};
use payhub_core::payment::{AuthorizationFacts, Failure, PaymentFacts, PaymentStatus};
use payhub_core::refund::{RefundFacts, RefundStatus};
use payhub_core::{Currency, Money};
use payhub_paypal::{
    Amount, Authorization, AuthorizationStatus, Capture, CaptureStatus, Order, OrderStatus, Refund,
    RefundStatus as PaypalRefundStatus,
};

use crate::providers::PaymentSnapshot;

/// Currencies PayPal's REST API accepts (PayPal's currency codes reference).
pub const CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY", "MXN", "MYR", "NOK",
    "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
];

/// ISO 4217 gives these two decimals, but PayPal accepts whole units only.
const WHOLE_UNITS_ONLY: &[&str] = &["HUF", "TWD"];

/// The amount as PayPal wants it, or why it cannot be sent.
pub fn to_paypal_amount(money: &Money) -> Result<Amount, String> {
    let code = money.currency.code();
    if WHOLE_UNITS_ONLY.contains(&code) {
        let scale = 10i64.pow(u32::from(money.currency.exponent()));
        if money.amount % scale != 0 {
            return Err(format!("PayPal accepts {code} in whole units only: use a multiple of {scale} minor units"));
        }
        return Ok(Amount::new(code, (money.amount / scale).to_string()));
    }
    Ok(Amount::new(code, money.to_decimal_string()))
}

pub fn from_paypal_amount(amount: &Amount) -> Result<Money, String> {
    let currency = Currency::parse(&amount.currency_code).map_err(|e| e.to_string())?;
    Money::from_decimal_str(&amount.value, currency).map_err(|e| e.to_string())
}

pub fn order_snapshot(order: &Order) -> PaymentSnapshot {
    if let Some(capture) = order.captures().next() {
        return PaymentSnapshot { facts: capture_facts(capture), ready_to_capture: false };
    }
    // A reauthorization voids the authorization it renews: the newest one speaks for the order.
    if let Some(authorization) = order.authorizations().last() {
        return PaymentSnapshot { facts: authorization_facts(authorization), ready_to_capture: false };
    }
    let waiting = |ready_to_capture| PaymentSnapshot {
        facts: facts(PaymentStatus::RequiresAction, None, None, None),
        ready_to_capture,
    };
    match &order.status {
        OrderStatus::Approved => waiting(true),
        OrderStatus::Voided => PaymentSnapshot {
            facts: facts(
                PaymentStatus::Canceled,
                None,
                None,
                Some(Failure { code: "order_voided".into(), message: "PayPal voided the order".into() }),
            ),
            ready_to_capture: false,
        },
        // COMPLETED without a capture in the answer (e.g. `Prefer: return=minimal`) is settled
        // by fetching again; until then it is still waiting.
        _ => waiting(false),
    }
}

pub fn capture_facts(capture: &Capture) -> PaymentFacts {
    let captured = capture.amount.as_ref().and_then(|a| from_paypal_amount(a).ok());
    let reason = capture.status_details.as_ref().and_then(|d| d.reason.clone());
    let status = match &capture.status {
        CaptureStatus::Completed | CaptureStatus::PartiallyRefunded | CaptureStatus::Refunded => {
            PaymentStatus::Succeeded
        }
        CaptureStatus::Pending => PaymentStatus::Processing,
        CaptureStatus::Declined | CaptureStatus::Failed => PaymentStatus::Failed,
        CaptureStatus::Other(_) => PaymentStatus::Processing,
    };
    let failure = (status == PaymentStatus::Failed).then(|| Failure {
        code: reason.clone().unwrap_or_else(|| "capture_declined".into()).to_ascii_lowercase(),
        message: format!("PayPal capture {} is {}", capture.id, capture.status.as_str()),
    });
    let waiting = (status == PaymentStatus::Processing).then(|| reason.as_deref().map(pending_reason)).flatten();
    PaymentFacts { pending_reason: waiting, ..facts(status, Some(capture.id.clone()), captured, failure) }
}

/// Why PayPal holds a payment as pending, in payhub's lower_snake names, whichever of its APIs
/// says so: IPN's `pending_reason` (`paymentreview`, `multi_currency`, `intl`), a v1 sale's
/// `reason_code` (`PAYMENT_REVIEW`, `RECEIVING_PREFERENCE_MANDATES_MANUAL_ACTION`) or a v2
/// capture's `status_details.reason` (`PENDING_REVIEW`). The three spell one fact three ways,
/// and the payment must read the same whichever notification came first. A reason none of
/// them documents is kept, lower-cased, with `_` for anything that is not a letter or digit.
pub fn pending_reason(reason: &str) -> String {
    let key = reason.trim().to_ascii_lowercase();
    let known = match key.as_str() {
        "paymentreview" | "payment_review" | "pending_review" => "payment_review",
        "multi_currency" | "receiving_preference_mandates_manual_action" => "multi_currency",
        "intl" | "international_withdrawal" => "international_withdrawal",
        "address" | "unconfirmed_shipping_address" => "unconfirmed_shipping_address",
        "verify" | "verification_required" => "verification_required",
        "transaction_approved_awaiting_funding" => "awaiting_funding",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    let snake: String = key.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if snake.is_empty() { "other".to_owned() } else { snake }
}

/// An authorization of an order with intent `AUTHORIZE`, not captured yet.
pub fn authorization_facts(authorization: &Authorization) -> PaymentFacts {
    let held = AuthorizationFacts {
        id: authorization.id.clone(),
        capturable: authorization.amount.as_ref().and_then(|a| from_paypal_amount(a).ok()),
        expires_at: authorization
            .expiration_time
            .as_deref()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc)),
    };
    let (status, failure) = match &authorization.status {
        AuthorizationStatus::Created | AuthorizationStatus::PartiallyCaptured | AuthorizationStatus::Pending => {
            (PaymentStatus::RequiresCapture, None)
        }
        AuthorizationStatus::Voided => (PaymentStatus::Canceled, None),
        AuthorizationStatus::Expired => (PaymentStatus::Expired, None),
        AuthorizationStatus::Denied => (
            PaymentStatus::Failed,
            Some(Failure {
                code: "authorization_denied".into(),
                message: format!("PayPal denied authorization {}", authorization.id),
            }),
        ),
        // Captured, but the capture is not in this answer yet: asked again later.
        AuthorizationStatus::Captured | AuthorizationStatus::Other(_) => (PaymentStatus::Processing, None),
    };
    PaymentFacts { status, capture_id: None, captured: None, failure, authorization: Some(held), pending_reason: None }
}

/// A held payment whose authorization PayPal just voided (`204` to the void): released.
pub fn voided_facts() -> PaymentFacts {
    facts(PaymentStatus::Canceled, None, None, None)
}

pub fn refund_facts(refund: &Refund) -> RefundFacts {
    let status = match &refund.status {
        PaypalRefundStatus::Completed => RefundStatus::Succeeded,
        PaypalRefundStatus::Pending | PaypalRefundStatus::Other(_) => RefundStatus::Pending,
        PaypalRefundStatus::Failed | PaypalRefundStatus::Cancelled => RefundStatus::Failed,
    };
    let failure = (status == RefundStatus::Failed).then(|| Failure {
        code: refund
            .status_details
            .as_ref()
            .and_then(|d| d.reason.clone())
            .unwrap_or_else(|| refund.status.as_str().to_owned())
            .to_ascii_lowercase(),
        message: format!("PayPal refund {} is {}", refund.id, refund.status.as_str()),
    });
    RefundFacts { status, provider_refund_id: Some(refund.id.clone()), failure }
}

fn facts(
    status: PaymentStatus,
    capture_id: Option<String>,
    captured: Option<Money>,
    failure: Option<Failure>,
) -> PaymentFacts {
    PaymentFacts { status, capture_id, captured, failure, authorization: None, pending_reason: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(json: serde_json::Value) -> Order {
        serde_json::from_value(json).unwrap()
    }

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::parse("USD").unwrap())
    }

    #[test]
    fn amounts_go_out_with_paypal_decimals() {
        assert_eq!(to_paypal_amount(&usd(1050)).unwrap().value, "10.50");
        let jpy = Money::new(1000, Currency::parse("JPY").unwrap());
        assert_eq!(to_paypal_amount(&jpy).unwrap().value, "1000");
        let huf = Currency::parse("HUF").unwrap();
        assert_eq!(to_paypal_amount(&Money::new(150000, huf)).unwrap().value, "1500");
        assert!(to_paypal_amount(&Money::new(150050, huf)).unwrap_err().contains("whole units"));
    }

    #[test]
    fn an_approved_order_is_ready_to_capture_and_still_waiting() {
        let snapshot = order_snapshot(&order(serde_json::json!({"id": "O1", "status": "APPROVED"})));
        assert!(snapshot.ready_to_capture);
        assert_eq!(snapshot.facts.status, PaymentStatus::RequiresAction);
    }

    #[test]
    fn a_completed_capture_means_succeeded_with_its_id_and_amount() {
        let snapshot = order_snapshot(&order(serde_json::json!({
            "id": "O1", "status": "COMPLETED",
            "purchase_units": [{"payments": {"captures": [
                {"id": "C1", "status": "COMPLETED", "amount": {"currency_code": "USD", "value": "10.00"}}
            ]}}]
        })));
        assert_eq!(snapshot.facts.status, PaymentStatus::Succeeded);
        assert_eq!(snapshot.facts.capture_id.as_deref(), Some("C1"));
        assert_eq!(snapshot.facts.captured, Some(usd(1000)));
    }

    #[test]
    fn pending_and_declined_captures_map_to_processing_and_failed() {
        let capture = |status: &str| -> Capture {
            serde_json::from_value(serde_json::json!({"id": "C1", "status": status,
                "status_details": {"reason": "PENDING_REVIEW"}}))
            .unwrap()
        };
        let pending = capture_facts(&capture("PENDING"));
        assert_eq!(pending.status, PaymentStatus::Processing);
        assert_eq!(pending.pending_reason.as_deref(), Some("payment_review"));
        let declined = capture_facts(&capture("DECLINED"));
        assert_eq!(declined.status, PaymentStatus::Failed);
        assert_eq!(declined.failure.unwrap().code, "pending_review");
    }

    #[test]
    fn an_authorized_order_waits_for_capture_and_an_ended_hold_ends_the_payment() {
        let authorized = |status: &str| {
            order_snapshot(&order(serde_json::json!({
                "id": "O1", "status": "COMPLETED",
                "purchase_units": [{"payments": {"authorizations": [{
                    "id": "A1", "status": status, "amount": {"currency_code": "USD", "value": "10.00"},
                    "expiration_time": "2026-02-01T00:00:00Z"
                }]}}]
            })))
        };
        let held = authorized("CREATED");
        assert_eq!((held.facts.status, held.ready_to_capture), (PaymentStatus::RequiresCapture, false));
        let hold = held.facts.authorization.expect("the hold");
        assert_eq!((hold.id.as_str(), hold.capturable), ("A1", Some(usd(1000))));
        assert_eq!(hold.expires_at.map(|at| at.to_rfc3339()), Some("2026-02-01T00:00:00+00:00".to_owned()));
        assert_eq!(authorized("VOIDED").facts.status, PaymentStatus::Canceled);
        assert_eq!(authorized("EXPIRED").facts.status, PaymentStatus::Expired);
        assert_eq!(authorized("DENIED").facts.status, PaymentStatus::Failed);
    }

    #[test]
    fn every_api_spelling_of_a_pending_reason_reads_the_same() {
        for spelling in ["paymentreview", "PAYMENT_REVIEW", "payment_review", "PENDING_REVIEW"] {
            assert_eq!(pending_reason(spelling), "payment_review", "{spelling}");
        }
        for spelling in ["multi_currency", "RECEIVING_PREFERENCE_MANDATES_MANUAL_ACTION"] {
            assert_eq!(pending_reason(spelling), "multi_currency", "{spelling}");
        }
        assert_eq!(pending_reason("echeck"), pending_reason("ECHECK"));
        assert_eq!(pending_reason("intl"), pending_reason("INTERNATIONAL_WITHDRAWAL"));
        assert_eq!(pending_reason("verify"), pending_reason("VERIFICATION_REQUIRED"));
        assert_eq!(pending_reason("address"), pending_reason("UNCONFIRMED_SHIPPING_ADDRESS"));
        assert_eq!(pending_reason("UNILATERAL"), "unilateral");
        assert_eq!(pending_reason(" Delayed-Disbursement "), "delayed_disbursement");
        assert_eq!(pending_reason(""), "other");
    }

    #[test]
    fn refund_statuses_map_to_payhub_refund_states() {
        let refund = |status: &str| -> Refund {
            serde_json::from_value(serde_json::json!({"id": "R1", "status": status})).unwrap()
        };
        assert_eq!(refund_facts(&refund("COMPLETED")).status, RefundStatus::Succeeded);
        assert_eq!(refund_facts(&refund("PENDING")).status, RefundStatus::Pending);
        assert_eq!(refund_facts(&refund("CANCELLED")).status, RefundStatus::Failed);
        assert_eq!(refund_facts(&refund("FAILED")).failure.unwrap().code, "failed");
    }
}
