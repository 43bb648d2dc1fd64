//! Control endpoints of the PayPal simulator: the parts PayPal's API leaves to people and to
//! PayPal itself, made scriptable. None needs a token. Errors use PayPal's error shape. Rust
//! tests can call the in-process twins on [`PaypalSimulator`] instead: `approve_order`,
//! `cancel_order`, `set_capture_outcome`, `complete_capture`, `deny_capture`, `dashboard_refund`,
//! `reverse_capture`, `set_refund_outcome`, `settle_refund`, `set_faults`, `deliveries`,
//! `approve_subscription`, `decline_subscription`, `fail_next_payments`, `set_billing_drift`,
//! `billing_drift` (and `events`, every event raised; `subscription_sales`, a subscription's
//! sales).
//!
//! | endpoint | body | effect |
//! |---|---|---|
//! | `POST /sandbox/paypal/orders/{id}/approve` | | the buyer approves at PayPal: order `APPROVED`, `CHECKOUT.ORDER.APPROVED` raised; answers `{"order_id", "redirect_url", "payer_id"}` where `redirect_url` is `return_url?token={id}&PayerID={payer_id}` (or `null` without a `return_url`) |
//! | `POST /sandbox/paypal/orders/{id}/cancel` | | the buyer cancels at PayPal: answers `{"order_id", "redirect_url"}` with `cancel_url?token={id}`; the order is unchanged |
//! | `POST /sandbox/paypal/orders/{id}/capture-outcome` | `{"status": "COMPLETED" \| "PENDING" \| "DECLINED" \| "INSTRUMENT_DECLINED" \| "PAYER_ACTION_REQUIRED"}` | what the order's next capture becomes (`PENDING` carries `status_details.reason` `PENDING_REVIEW`); the capture raises `PAYMENT.CAPTURE.COMPLETED`, `…PENDING` or `…DECLINED`. The last two are funding failures: the next capture (or authorization) is refused 422 with that issue and a `redirect` (or `payer-action`) link to the approval page, the order goes back to `PAYER_ACTION_REQUIRED`, and once the buyer approves again the following capture goes through |
//! | `POST /sandbox/paypal/captures/{id}/complete` | | PayPal clears a `PENDING` capture: `COMPLETED`, `PAYMENT.CAPTURE.COMPLETED` raised; answers the capture |
//! | `POST /sandbox/paypal/captures/{id}/deny` | | PayPal denies a `PENDING` capture: `DECLINED`, `PAYMENT.CAPTURE.DENIED` raised; answers the capture |
//! | `POST /sandbox/paypal/captures/{id}/refund` | optional `{"amount": {"currency_code", "value"}, "note_to_payer", "invoice_id", "custom_id"}` | the merchant refunds in PayPal's dashboard, outside the integration: a `COMPLETED` refund (all that is left without `amount`), `PAYMENT.CAPTURE.REFUNDED` raised; answers the refund (201) |
//! | `POST /sandbox/paypal/captures/{id}/reverse` | | a chargeback: everything left on the capture is taken back, the capture becomes `REFUNDED` (reason `CHARGEBACK`) and refuses further refunds, `PAYMENT.CAPTURE.REVERSED` raised with the reversal as resource; answers it (201) |
//! | `PUT /sandbox/paypal/refund-outcome` | `{"status": "COMPLETED" \| "PENDING"}` | what refunds made through the API become from now on (`PENDING` carries `status_details.reason` `ECHECK` and raises no event until settled); `GET` shows it |
//! | `POST /sandbox/paypal/refunds/{id}/complete` | | a `PENDING` refund completes: the capture moves to `PARTIALLY_REFUNDED`/`REFUNDED`, `PAYMENT.CAPTURE.REFUNDED` raised; answers the refund |
//! | `POST /sandbox/paypal/refunds/{id}/fail` | | a `PENDING` refund fails: `FAILED`, the amount is refundable again, no event (PayPal's v2 events have none to rely on; pollers see it); answers the refund |
//! | `PUT /sandbox/paypal/faults` | `{"fail_next": 1, "status": 500, "hang_ms": 0, "path_prefix": "/v2/"}` | the next `fail_next` PayPal API calls (every `/v1/…` and `/v2/…` API route, the token endpoint included and the cert URL not, or only those under `path_prefix`) answer `status` (429 or 5xx) without being processed, after `hang_ms`; with `hang_ms` and no `status` they are processed and answered late; `GET` shows what is left |
//! | `POST /sandbox/paypal/subscriptions/{id}/approve` | | the buyer consents at PayPal: a new subscription becomes `ACTIVE` (setup fee and first cycle charged, `BILLING.SUBSCRIPTION.ACTIVATED` then `PAYMENT.SALE.COMPLETED`), or `APPROVED` when created with `user_action` `CONTINUE`; a pending revision is applied (`BILLING.SUBSCRIPTION.UPDATED`); answers `{"subscription_id", "redirect_url", "ba_token", "token", "payer_id"}` where `redirect_url` is `return_url?subscription_id=…&ba_token=BA-…&token=…` (or `null`) |
//! | `POST /sandbox/paypal/subscriptions/{id}/cancel` | | the buyer declines at the consent page: answers the same shape with `cancel_url?subscription_id=…&ba_token=…&token=…`; the subscription is unchanged |
//! | `POST /sandbox/paypal/subscriptions/{id}/fail-next-payments` | `{"count": 3, "reason_code": "PAYMENT_DENIED"}` (`reason_code` optional, one of `last_failed_payment.reason_code`'s values) | the subscription's next `count` payments fail: each raises `BILLING.SUBSCRIPTION.PAYMENT.FAILED`, adds to `outstanding_balance` and counts toward `payment_failure_threshold` (reaching it: `SUSPENDED`, `BILLING.SUBSCRIPTION.SUSPENDED`); `count` 0 clears it |
//! | `PUT /sandbox/paypal/billing-drift` | `{"hours": 3, "minutes": 0}` (both optional, default 0, at most 72 h) | renewals queued from now on are charged (and their `PAYMENT.SALE.COMPLETED` raised) this long after the `next_billing_time` the subscription states, as seed 002 saw; `GET` shows it |
//! | `GET /sandbox/paypal/deliveries` | | every webhook delivery attempt: `{"deliveries": [{"event_id", "event_type", "subscription_id", "url", "attempt", "at", "status_code", "error", "delivered", "dropped", "duplicate", "transmission_id", "next_attempt_at"}]}` |
//!
//! The buyer's side of disputes (`/sandbox/paypal/captures/{id}/dispute`,
//! `/sandbox/paypal/disputes/{id}/…`) is in [`super::disputes::control`]; the shared clock and
//! chaos endpoints are in [`crate::control`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::errors::{ApiError, ErrorDetail};
use super::payments::RefundRequest;
use super::state::{CaptureOutcome, OrderStatus, RefundOutcome, wrong_state};
use super::{PaypalSimulator, answer, json_response, parse_body};
use crate::delivery::DeliveryRecord;
use crate::faults::Faults;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/sandbox/paypal/orders/{id}/approve", post(approve))
        .route("/sandbox/paypal/orders/{id}/cancel", post(cancel))
        .route("/sandbox/paypal/orders/{id}/capture-outcome", post(capture_outcome))
        .route("/sandbox/paypal/captures/{id}/complete", post(complete_capture))
        .route("/sandbox/paypal/captures/{id}/deny", post(deny_capture))
        .route("/sandbox/paypal/captures/{id}/refund", post(dashboard_refund))
        .route("/sandbox/paypal/captures/{id}/reverse", post(reverse_capture))
        .route("/sandbox/paypal/refund-outcome", put(set_refund_outcome).get(show_refund_outcome))
        .route("/sandbox/paypal/refunds/{id}/complete", post(complete_refund))
        .route("/sandbox/paypal/refunds/{id}/fail", post(fail_refund))
        .route("/sandbox/paypal/faults", crate::faults::endpoint())
        .route("/sandbox/paypal/deliveries", get(deliveries))
        .merge(super::subscriptions::control::routes())
        .merge(super::disputes::control::routes())
}

type Shared = State<Arc<PaypalSimulator>>;

/// Reads `{"status": "…"}` into one of the allowed outcomes.
fn status_field<T>(body: &[u8], parse: fn(&str) -> Option<T>, allowed: &str) -> Result<T, ApiError> {
    let request = parse_body(body)?;
    let status = request.get("status").and_then(Value::as_str).unwrap_or_default();
    parse(status).ok_or_else(|| {
        ApiError::invalid_request(
            ErrorDetail::body("/status", "INVALID_PARAMETER_VALUE", &format!("status must be one of {allowed}"))
                .with_value(status),
        )
    })
}

async fn approve(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.approve_order(&id).map(|redirect| json!(redirect)))
}

async fn cancel(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.cancel_order(&id).map(|redirect| json!(redirect)))
}

async fn capture_outcome(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = status_field(
        &body,
        CaptureOutcome::parse,
        "COMPLETED, PENDING, DECLINED, INSTRUMENT_DECLINED, PAYER_ACTION_REQUIRED",
    )
    .and_then(|outcome| simulator.set_capture_outcome(&id, outcome).map(|()| outcome));
    answer(StatusCode::OK, outcome.map(|outcome| json!({ "order_id": id, "capture_outcome": outcome.as_str() })))
}

async fn complete_capture(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.complete_capture(&id))
}

async fn deny_capture(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.deny_capture(&id))
}

async fn dashboard_refund(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = parse_body(&body)
        .and_then(|body| RefundRequest::parse(&body))
        .and_then(|request| simulator.refund_in_dashboard(&id, request));
    answer(StatusCode::CREATED, outcome)
}

async fn reverse_capture(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::CREATED, simulator.reverse_capture(&id))
}

async fn set_refund_outcome(State(simulator): Shared, body: Bytes) -> Response {
    let outcome = status_field(&body, RefundOutcome::parse, "COMPLETED, PENDING");
    answer(
        StatusCode::OK,
        outcome.map(|outcome| {
            simulator.set_refund_outcome(outcome);
            json!({ "status": outcome.as_str() })
        }),
    )
}

async fn show_refund_outcome(State(simulator): Shared) -> Response {
    let outcome = simulator.state().refund_outcome.unwrap_or(RefundOutcome::Completed);
    json_response(StatusCode::OK, &json!({ "status": outcome.as_str() }))
}

async fn complete_refund(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.settle_refund(&id, true))
}

async fn fail_refund(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.settle_refund(&id, false))
}

async fn deliveries(State(simulator): Shared) -> Response {
    json_response(StatusCode::OK, &json!({ "deliveries": simulator.deliveries() }))
}

impl PaypalSimulator {
    pub fn set_capture_outcome(&self, order_id: &str, outcome: CaptureOutcome) -> Result<(), ApiError> {
        let mut state = self.state();
        let order = state.order_mut(None, order_id)?;
        if order.status == OrderStatus::Completed {
            return Err(wrong_state(
                "ORDER_ALREADY_CAPTURED",
                "The order was captured already; set the outcome before capturing.",
            ));
        }
        order.next_capture_outcome = Some(outcome);
        Ok(())
    }

    pub fn set_refund_outcome(&self, outcome: RefundOutcome) {
        self.state().refund_outcome = Some(outcome);
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        crate::faults::replace(self, faults)
    }

    /// This simulator's webhook delivery attempts, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.sandbox.dispatcher().log_of("paypal")
    }

    /// Every event raised so far (all apps), oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.state().events.iter().map(|event| event.json.clone()).collect()
    }
}
