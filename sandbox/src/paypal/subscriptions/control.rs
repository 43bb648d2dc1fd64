//! Control endpoints for subscriptions (listed in [`super::super::control`]): the buyer's consent,
//! payments that fail, and the drift between the billing time PayPal states and the charge.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{post, put};
use chrono::Duration;
use serde_json::{Value, json};

use super::super::errors::{ApiError, ErrorDetail};
use super::super::{PaypalSimulator, answer, json_response, parse_body};
use super::buyer::redirect_json;
use super::model::FailureReason;
use super::subscription_mut;

/// More drift than this is no longer "hours late".
const MAX_DRIFT: Duration = Duration::hours(72);
const MAX_FAILURES: u64 = 999;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/sandbox/paypal/subscriptions/{id}/approve", post(approve))
        .route("/sandbox/paypal/subscriptions/{id}/cancel", post(decline))
        .route("/sandbox/paypal/subscriptions/{id}/fail-next-payments", post(fail_next_payments))
        .route("/sandbox/paypal/billing-drift", put(set_drift).get(show_drift))
}

type Shared = State<Arc<PaypalSimulator>>;

fn bad_field(field: &str, message: &str) -> ApiError {
    ApiError::invalid_request(ErrorDetail::body(field, "INVALID_PARAMETER_VALUE", message))
}

async fn approve(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.approve_subscription(&id).map(|redirect| redirect_json(&redirect)))
}

async fn decline(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.decline_subscription(&id).map(|redirect| redirect_json(&redirect)))
}

async fn fail_next_payments(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome = parse_body(&body).and_then(|request| {
        let count = request
            .get("count")
            .and_then(Value::as_u64)
            .filter(|count| *count <= MAX_FAILURES)
            .and_then(|count| u32::try_from(count).ok())
            .ok_or_else(|| bad_field("/count", "count must be a whole number from 0 to 999"))?;
        let reason = match request.get("reason_code") {
            None | Some(Value::Null) => FailureReason::PaymentDenied,
            Some(value) => value.as_str().and_then(FailureReason::parse).ok_or_else(|| {
                bad_field(
                    "/reason_code",
                    "reason_code must be one of PayPal's last_failed_payment reason codes, e.g. PAYMENT_DENIED",
                )
            })?,
        };
        simulator.fail_next_payments(&id, count, reason)?;
        Ok(json!({ "subscription_id": id, "fail_next_payments": count, "reason_code": reason.as_str() }))
    });
    answer(StatusCode::OK, outcome)
}

fn drift_json(drift: Duration) -> Value {
    json!({ "hours": drift.num_hours(), "minutes": drift.num_minutes() % 60 })
}

async fn set_drift(State(simulator): Shared, body: Bytes) -> Response {
    let outcome = parse_body(&body).and_then(|request| {
        let part = |name: &str| match request.get(name) {
            None | Some(Value::Null) => Ok(0),
            Some(value) => value
                .as_i64()
                .filter(|number| *number >= 0)
                .ok_or_else(|| bad_field(&format!("/{name}"), &format!("{name} must be a whole, non-negative number"))),
        };
        let drift = Duration::hours(part("hours")?.min(i64::from(u16::MAX)))
            + Duration::minutes(part("minutes")?.min(i64::from(u16::MAX)));
        simulator.set_billing_drift(drift).map_err(|message| bad_field("/hours", &message))?;
        Ok(drift_json(drift))
    });
    answer(StatusCode::OK, outcome)
}

async fn show_drift(State(simulator): Shared) -> Response {
    json_response(StatusCode::OK, &drift_json(simulator.billing_drift()))
}

impl PaypalSimulator {
    /// The next `count` payments of the subscription (renewals, setup fee) fail with `reason`.
    pub fn fail_next_payments(&self, subscription_id: &str, count: u32, reason: FailureReason) -> Result<(), ApiError> {
        let mut state = self.state();
        let subscription = subscription_mut(&mut state, subscription_id)?;
        subscription.fail_next = count;
        subscription.fail_reason = reason;
        Ok(())
    }

    /// How long after the stated `next_billing_time` renewals are charged from now on (0 to 72
    /// hours; seed 002 saw 3). Charges already queued keep their time.
    pub fn set_billing_drift(&self, drift: Duration) -> Result<(), String> {
        if drift < Duration::zero() || drift > MAX_DRIFT {
            return Err(format!("the drift must be between 0 and {} hours", MAX_DRIFT.num_hours()));
        }
        self.state().subscriptions.drift = drift;
        Ok(())
    }

    pub fn billing_drift(&self) -> Duration {
        self.state().subscriptions.drift
    }

    /// Every v1 sale made for a subscription, oldest first, as `GET /v1/payments/sale/{id}`
    /// shows them.
    pub fn subscription_sales(&self, subscription_id: &str) -> Vec<Value> {
        let state = self.state();
        let Some(subscription) = state.subscriptions.subscriptions.get(subscription_id) else {
            return Vec::new();
        };
        subscription
            .sale_ids
            .iter()
            .filter_map(|id| state.subscriptions.sales.get(id))
            .map(|sale| self.sale_json(sale))
            .collect()
    }
}
