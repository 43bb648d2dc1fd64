//! Payments v2: show a capture, refund it (in full or in part), show a refund; plus the settlement
//! steps PayPal takes on its own (pending refunds completing, chargebacks reversing a capture).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Duration;
use serde_json::Value;

use super::amount::{Amount, optional_money};
use super::auth::Merchant;
use super::body::syntax;
use super::errors::{ApiError, ErrorDetail};
use super::events::NewEvent;
use super::order_request::text;
use super::state::{CaptureStatus, PaypalState, Refund, RefundOutcome, RefundStatus};
use super::{Effect, PaypalSimulator, answer, parse_body, wants_representation};
use crate::ids;

/// PayPal keeps Payments v2 `PayPal-Request-Id` keys for 45 days.
const PAYMENT_KEY_RETENTION: Duration = Duration::days(45);

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v2/payments/captures/{id}", get(show_capture))
        .route("/v2/payments/captures/{id}/refund", post(refund_capture))
        .route("/v2/payments/refunds/{id}", get(show_refund))
}

/// An illustrative PayPal fee: 3.49% plus 49 minor units, never more than the amount.
pub fn paypal_fee(amount: Amount) -> i64 {
    let variable = (i128::from(amount.minor) * 349 + 5_000) / 10_000;
    let fee = i64::try_from(variable).unwrap_or(i64::MAX).saturating_add(49);
    fee.min(amount.minor)
}

/// The part of a payment's fee given back with a refund of `refund_minor`: pro rata, rounded
/// down, for captures and v1 sales alike.
pub fn refunded_fee(fee_minor: i64, gross_minor: i64, refund_minor: i64) -> i64 {
    let share = i128::from(fee_minor) * i128::from(refund_minor) / i128::from(gross_minor.max(1));
    i64::try_from(share).unwrap_or(0)
}

pub(crate) struct RefundRequest {
    pub amount: Option<Amount>,
    pub invoice_id: Option<String>,
    pub custom_id: Option<String>,
    pub note_to_payer: Option<String>,
}

impl RefundRequest {
    pub fn parse(body: &Value) -> Result<Self, ApiError> {
        let request = body.as_object().ok_or_else(|| syntax("/", &body.to_string()))?;
        let amount = optional_money(request.get("amount"), "/amount")?;
        Ok(Self {
            amount,
            invoice_id: text(request, "invoice_id", "/invoice_id", 127)?,
            custom_id: text(request, "custom_id", "/custom_id", 127)?,
            note_to_payer: text(request, "note_to_payer", "/note_to_payer", 255)?,
        })
    }
}

async fn show_capture(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    answer(StatusCode::OK, state.capture(Some(&merchant.client_id), &id).map(|capture| simulator.capture_json(capture)))
}

async fn show_refund(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    answer(StatusCode::OK, state.refund(Some(&merchant.client_id), &id).map(|refund| simulator.refund_json(refund)))
}

async fn refund_capture(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let representation = wants_representation(&headers);
    let client_id = merchant.client_id;
    let path = format!("/v2/payments/captures/{id}/refund");
    simulator.idempotent_post(&client_id, &path, &headers, PAYMENT_KEY_RETENTION, |state| {
        let run = |state: &mut PaypalState| {
            let request = RefundRequest::parse(&parse_body(&body)?)?;
            let outcome = state.refund_outcome.unwrap_or(RefundOutcome::Completed);
            let (refund_id, effects) = simulator.create_refund(state, Some(&client_id), &id, request, outcome)?;
            let refund = state.refund(None, &refund_id)?;
            let body = if representation { simulator.refund_json(refund) } else { simulator.refund_minimal(refund) };
            Ok(((StatusCode::CREATED, body), effects))
        };
        run(state).map_err(ApiError::in_payments_api)
    })
}

impl PaypalSimulator {
    /// Refunds `request.amount` (or all that is left) of a capture; returns the refund's id.
    pub(crate) fn create_refund(
        &self,
        state: &mut PaypalState,
        client_id: Option<&str>,
        capture_id: &str,
        request: RefundRequest,
        outcome: RefundOutcome,
    ) -> Result<(String, Vec<Effect>), ApiError> {
        let now = self.now();
        if let Some(invoice_id) = &request.invoice_id {
            let owner = state.capture(client_id, capture_id)?.client_id.clone();
            if state
                .refunds
                .values()
                .any(|refund| refund.client_id == owner && refund.invoice_id.as_ref() == Some(invoice_id))
            {
                return Err(refused("DUPLICATE_INVOICE_ID", "Invoice ID was previously used to refund a capture."));
            }
        }
        state.capture(client_id, capture_id)?;
        super::disputes::refuse_if_disputed(state, capture_id).map_err(ApiError::in_payments_api)?;
        let capture = state.capture_mut(client_id, capture_id)?;
        if capture.reversed {
            return Err(refused(
                "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK",
                "Refunds are not allowed on this capture due to a chargeback on the card or bank. Please contact the payee to resolve the chargeback.",
            ));
        }
        match capture.status {
            CaptureStatus::Pending => {
                return Err(refused(
                    "PENDING_CAPTURE",
                    "Cannot initiate a refund as the capture is pending. Capture is typically pending when the payer has funded the transaction using e-check/bank funded.",
                ));
            }
            CaptureStatus::Declined => {
                return Err(refused("REFUND_NOT_ALLOWED", "Capture cannot be refunded."));
            }
            CaptureStatus::Completed | CaptureStatus::PartiallyRefunded | CaptureStatus::Refunded => {}
        }
        let refundable = capture.refundable_minor();
        if refundable <= 0 {
            return Err(refused("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded"));
        }
        let amount = portion(
            capture.amount.with_minor(refundable),
            request.amount,
            ("REFUND_CAPTURE_CURRENCY_MISMATCH", "Refund must be in the same currency as the capture"),
            (
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has not yet been refunded",
            ),
        )?;
        let fee_refunded = capture.fee_share(amount.minor);
        let status = match outcome {
            RefundOutcome::Completed => {
                capture.settle_refund(amount.minor, now);
                RefundStatus::Completed
            }
            RefundOutcome::Pending => {
                capture.pending_refund_minor += amount.minor;
                RefundStatus::Pending
            }
        };
        let refund = Refund {
            id: ids::upper_alphanumeric(17),
            capture_id: capture.id.clone(),
            client_id: capture.client_id.clone(),
            amount,
            status,
            fee_refunded_minor: fee_refunded,
            total_refunded_minor: capture.refunded_minor
                + if status == RefundStatus::Pending { amount.minor } else { 0 },
            invoice_id: request.invoice_id,
            custom_id: request.custom_id,
            note_to_payer: request.note_to_payer,
            create_time: now,
            update_time: now,
        };
        let effects = match status {
            RefundStatus::Completed => vec![Effect::Emit(self.refund_event(&refund, "PAYMENT.CAPTURE.REFUNDED"))],
            // PayPal raises PAYMENT.CAPTURE.REFUNDED once a pending refund completes.
            _ => Vec::new(),
        };
        let id = refund.id.clone();
        state.refunds.insert(id.clone(), refund);
        Ok((id, effects))
    }

    /// `PAYMENT.CAPTURE.REFUNDED` or `PAYMENT.CAPTURE.REVERSED`, whose resource is the refund.
    pub(crate) fn refund_event(&self, refund: &Refund, event_type: &'static str) -> NewEvent {
        let verb = if event_type == "PAYMENT.CAPTURE.REVERSED" { "reversed" } else { "refunded" };
        NewEvent {
            client_id: refund.client_id.clone(),
            event_type,
            resource_type: "refund",
            summary: format!("A {} capture payment was {verb}", refund.amount.summary()),
            resource: self.refund_json(refund),
        }
    }
}

pub(crate) fn refused(issue: &str, description: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::new(issue, description)).in_payments_api()
}

/// What a refund or capture takes of what is `available`: `requested`, or all of it. Another
/// currency and more than available are refused with the (issue, description) pairs given.
pub(crate) fn portion(
    available: Amount,
    requested: Option<Amount>,
    (currency_issue, currency_description): (&str, &str),
    (exceeded_issue, exceeded_description): (&str, &str),
) -> Result<Amount, ApiError> {
    let amount = requested.unwrap_or(available);
    if amount.currency != available.currency {
        return Err(refused(currency_issue, currency_description).about("/amount/currency_code", amount.currency));
    }
    if amount.minor > available.minor {
        let description = format!("{exceeded_description} ({} left).", available.summary());
        return Err(refused(exceeded_issue, &description).about("/amount/value", &amount.value()));
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_proportional_plus_fixed_and_never_exceed_the_amount() {
        let usd = |minor| Amount { currency: "USD", decimals: 2, minor };
        assert_eq!(paypal_fee(usd(10_000)), 349 + 49);
        assert_eq!(paypal_fee(usd(1)), 1);
    }
}
