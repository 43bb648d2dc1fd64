//! The steps PayPal takes on its own after a payment, played on request by the control
//! endpoints ([`super::control`]): pending captures clearing or being denied, refunds made in the
//! dashboard, pending refunds settling, chargebacks.

use serde_json::{Value, json};

use super::errors::ApiError;
use super::events::NewEvent;
use super::payments::RefundRequest;
use super::state::{CaptureStatus, Refund, RefundOutcome, RefundStatus, wrong_state};
use super::{Effect, PaypalSimulator};
use crate::ids;

impl PaypalSimulator {
    /// PayPal clears a pending capture.
    pub fn complete_capture(&self, capture_id: &str) -> Result<Value, ApiError> {
        self.settle_capture(capture_id, CaptureStatus::Completed)
    }

    /// PayPal denies a pending capture.
    pub fn deny_capture(&self, capture_id: &str) -> Result<Value, ApiError> {
        self.settle_capture(capture_id, CaptureStatus::Declined)
    }

    fn settle_capture(&self, capture_id: &str, status: CaptureStatus) -> Result<Value, ApiError> {
        self.transact(|state| {
            let now = self.now();
            let capture = state.capture_mut(None, capture_id)?;
            if capture.status != CaptureStatus::Pending {
                return Err(wrong_state(
                    "CAPTURE_NOT_PENDING",
                    &format!(
                        "Only a PENDING capture can be completed or denied; this one is {}.",
                        capture.status.as_str()
                    ),
                ));
            }
            capture.status = status;
            capture.status_reason = None;
            capture.update_time = now;
            let capture = state.capture(None, capture_id)?;
            let event = if status == CaptureStatus::Declined {
                NewEvent {
                    client_id: capture.client_id.clone(),
                    event_type: "PAYMENT.CAPTURE.DENIED",
                    resource_type: "capture",
                    summary: format!("A payment capture for {} was denied.", capture.amount.summary()),
                    resource: self.capture_json(capture),
                }
            } else {
                self.capture_event(capture)
            };
            Ok((self.capture_json(capture), vec![Effect::Emit(event)]))
        })
    }

    /// A refund made in PayPal's dashboard; `value` in the capture's currency, or all that is left.
    pub fn dashboard_refund(&self, capture_id: &str, value: Option<&str>) -> Result<Value, ApiError> {
        let amount = match value {
            Some(value) => {
                let currency = self.state().capture(None, capture_id)?.amount.currency;
                let money = json!({ "currency_code": currency, "value": value });
                Some(super::amount::parse_money(Some(&money), "/amount")?)
            }
            None => None,
        };
        let request = RefundRequest { amount, invoice_id: None, custom_id: None, note_to_payer: None };
        self.refund_in_dashboard(capture_id, request)
    }

    pub(crate) fn refund_in_dashboard(&self, capture_id: &str, request: RefundRequest) -> Result<Value, ApiError> {
        self.transact(|state| {
            let (refund_id, effects) =
                self.create_refund(state, None, capture_id, request, RefundOutcome::Completed)?;
            Ok((self.refund_json(state.refund(None, &refund_id)?), effects))
        })
    }

    /// A chargeback takes back everything left on the capture.
    pub fn reverse_capture(&self, capture_id: &str) -> Result<Value, ApiError> {
        self.transact(|state| {
            let now = self.now();
            let capture = state.capture_mut(None, capture_id)?;
            let reversible = matches!(capture.status, CaptureStatus::Completed | CaptureStatus::PartiallyRefunded);
            if capture.reversed || !reversible || capture.refundable_minor() <= 0 {
                return Err(wrong_state(
                    "CAPTURE_NOT_REVERSIBLE",
                    "Only a COMPLETED or PARTIALLY_REFUNDED capture with money left on it can be reversed.",
                ));
            }
            let minor = capture.refundable_minor();
            capture.settle_refund(minor, now);
            capture.reversed = true;
            capture.status_reason = Some("CHARGEBACK");
            let fee_refunded = capture.fee_share(minor);
            let reversal = Refund {
                id: ids::upper_alphanumeric(17),
                capture_id: capture.id.clone(),
                client_id: capture.client_id.clone(),
                amount: capture.amount.with_minor(minor),
                status: RefundStatus::Completed,
                fee_refunded_minor: fee_refunded,
                total_refunded_minor: capture.refunded_minor,
                invoice_id: None,
                custom_id: None,
                note_to_payer: Some("Payment reversed".to_owned()),
                create_time: now,
                update_time: now,
            };
            let body = self.refund_json(&reversal);
            let event = self.refund_event(&reversal, "PAYMENT.CAPTURE.REVERSED");
            state.refunds.insert(reversal.id.clone(), reversal);
            Ok((body, vec![Effect::Emit(event)]))
        })
    }

    /// A pending refund completes (`true`) or fails (`false`).
    pub fn settle_refund(&self, refund_id: &str, completed: bool) -> Result<Value, ApiError> {
        self.transact(|state| {
            let now = self.now();
            let refund = state.refunds.get_mut(refund_id).ok_or_else(|| ApiError::not_found("refund_id", refund_id))?;
            if refund.status != RefundStatus::Pending {
                return Err(wrong_state(
                    "REFUND_NOT_PENDING",
                    &format!(
                        "Only a PENDING refund can be completed or failed; this one is {}.",
                        refund.status.as_str()
                    ),
                ));
            }
            let capture = state
                .captures
                .get_mut(&refund.capture_id)
                .ok_or_else(|| ApiError::not_found("capture_id", &refund.capture_id))?;
            capture.pending_refund_minor -= refund.amount.minor;
            if completed {
                capture.settle_refund(refund.amount.minor, now);
                refund.status = RefundStatus::Completed;
            } else {
                refund.status = RefundStatus::Failed;
            }
            refund.total_refunded_minor = capture.refunded_minor;
            refund.update_time = now;
            let refund = &*refund;
            let effects = if completed {
                vec![Effect::Emit(self.refund_event(refund, "PAYMENT.CAPTURE.REFUNDED"))]
            } else {
                Vec::new()
            };
            Ok((self.refund_json(refund), effects))
        })
    }
}
