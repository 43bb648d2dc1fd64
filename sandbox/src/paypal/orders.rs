//! Orders v2: create, show, update, capture and authorize (`/v2/checkout/orders…`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Duration;

use super::auth::Merchant;
use super::errors::{ApiError, ErrorDetail};
use super::events::NewEvent;
use super::payments::paypal_fee;
use super::state::{
    Authorization, AuthorizationStatus, Capture, CaptureOutcome, CaptureStatus, Intent, Order, OrderStatus, PaypalState,
};
use super::{
    AUTHORIZATION_HONOR_PERIOD, AUTHORIZATION_VALIDITY, Effect, ORDER_APPROVAL_WINDOW, PaypalSimulator, answer,
    order_request, parse_body, wants_representation,
};
use crate::ids;

/// PayPal keeps Orders v2 `PayPal-Request-Id` keys for 6 hours.
const ORDER_KEY_RETENTION: Duration = Duration::hours(6);

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v2/checkout/orders", post(create_order))
        .route("/v2/checkout/orders/{id}", get(show_order).patch(super::order_patch::patch_order))
        .route("/v2/checkout/orders/{id}/capture", post(capture_order))
        .route("/v2/checkout/orders/{id}/authorize", post(authorize_order))
}

async fn create_order(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let representation = wants_representation(&headers);
    let client_id = merchant.client_id;
    simulator.idempotent_post(&client_id, "/v2/checkout/orders", &headers, ORDER_KEY_RETENTION, |state| {
        let request = order_request::parse(&parse_body(&body)?)?;
        let now = simulator.now();
        let order = Order {
            id: ids::upper_alphanumeric(17),
            client_id: client_id.clone(),
            intent: request.intent,
            // PayPal asks for the payer's action at once when the order names its payment source.
            status: if request.paypal_source_requested {
                OrderStatus::PayerActionRequired
            } else {
                OrderStatus::Created
            },
            purchase_units: request.purchase_units,
            paypal_source_requested: request.paypal_source_requested,
            return_url: request.return_url,
            cancel_url: request.cancel_url,
            brand_name: request.brand_name,
            approved: false,
            create_time: now,
            update_time: None,
            next_capture_outcome: None,
        };
        let body =
            if representation { simulator.order_json(state, &order) } else { simulator.order_created_minimal(&order) };
        let expiry = Effect::ExpireOrder { order_id: order.id.clone(), at: now + ORDER_APPROVAL_WINDOW };
        state.orders.insert(order.id.clone(), order);
        Ok(((StatusCode::CREATED, body), vec![expiry]))
    })
}

async fn show_order(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    answer(StatusCode::OK, state.order(Some(&merchant.client_id), &id).map(|order| simulator.order_json(&state, order)))
}

async fn capture_order(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    complete_order(&simulator, &merchant.client_id, &id, &headers, &body, "capture", PaypalSimulator::capture_order)
}

async fn authorize_order(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    complete_order(&simulator, &merchant.client_id, &id, &headers, &body, "authorize", PaypalSimulator::authorize_order)
}

/// How an approved order is completed: captured or authorized.
type Completion = fn(&PaypalSimulator, &mut PaypalState, &str, &str) -> Result<Vec<Effect>, ApiError>;

/// `POST /v2/checkout/orders/{id}/{action}`: completes the order and answers it, whole or
/// minimal as `Prefer` asks, honouring `PayPal-Request-Id`.
fn complete_order(
    simulator: &PaypalSimulator,
    client_id: &str,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    action: &str,
    complete: Completion,
) -> Response {
    let representation = wants_representation(headers);
    let path = format!("/v2/checkout/orders/{id}/{action}");
    simulator.idempotent_post(client_id, &path, headers, ORDER_KEY_RETENTION, |state| {
        parse_body(body)?;
        let effects = complete(simulator, state, client_id, id)?;
        let order = state.order(Some(client_id), id)?;
        let body = if representation {
            simulator.order_json(state, order)
        } else {
            simulator.order_captured_minimal(state, order)
        };
        Ok(((StatusCode::CREATED, body), effects))
    })
}

impl PaypalSimulator {
    /// The refusal of an order's capture or authorization when the buyer's funding source failed:
    /// the order waits for the buyer again, and the error links to where they choose another
    /// source (PayPal's `redirect` link for `INSTRUMENT_DECLINED`, `payer-action` otherwise).
    fn funding_failure(&self, order: &mut Order, outcome: CaptureOutcome) -> Option<ApiError> {
        let (issue, description, rel) = match outcome {
            CaptureOutcome::InstrumentDeclined => (
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
                "redirect",
            ),
            CaptureOutcome::PayerActionRequired => (
                "PAYER_ACTION_REQUIRED",
                "Payer needs to perform the following action before proceeding with payment.",
                "payer-action",
            ),
            CaptureOutcome::Completed | CaptureOutcome::Pending | CaptureOutcome::Declined => return None,
        };
        order.next_capture_outcome = None;
        order.status = OrderStatus::PayerActionRequired;
        order.update_time = Some(self.now());
        let error = ApiError::unprocessable(ErrorDetail::new(issue, description));
        Some(error.with_link(self.approval_url(&order.id), rel, "GET"))
    }

    /// Authorizes every purchase unit of an approved `AUTHORIZE` order: the money is held on the
    /// buyer's funding source for [`AUTHORIZATION_VALIDITY`].
    fn authorize_order(
        &self,
        state: &mut PaypalState,
        client_id: &str,
        order_id: &str,
    ) -> Result<Vec<Effect>, ApiError> {
        let now = self.now();
        let order = state.order_mut(Some(client_id), order_id)?;
        if order.intent == Intent::Capture {
            return Err(ApiError::unprocessable(ErrorDetail::new(
                "ACTION_DOES_NOT_MATCH_INTENT",
                "Order was created with an intent to 'CAPTURE'. Please use v2/checkout/orders/order_id/capture to complete the transaction or alternately Create an order with an intent of 'AUTHORIZE'.",
            )));
        }
        match order.status {
            OrderStatus::Approved => {}
            OrderStatus::Completed => {
                return Err(ApiError::unprocessable(ErrorDetail::new(
                    "ORDER_ALREADY_AUTHORIZED",
                    "Order already authorized. If 'intent=AUTHORIZE' only one authorization per order is allowed.",
                )));
            }
            OrderStatus::Voided => {
                return Err(ApiError::unprocessable(ErrorDetail::new(
                    "ORDER_COMPLETED_OR_VOIDED",
                    "Order is voided or completed and hence cannot be authorized.",
                )));
            }
            OrderStatus::Created | OrderStatus::PayerActionRequired => return Err(not_approved()),
        }
        if let Some(outcome) = order.next_capture_outcome
            && let Some(error) = self.funding_failure(order, outcome)
        {
            return Err(error);
        }
        order.next_capture_outcome = None;
        order.status = OrderStatus::Completed;
        order.update_time = Some(now);
        let mut authorizations = Vec::new();
        for unit in &mut order.purchase_units {
            let authorization = Authorization {
                id: ids::upper_alphanumeric(17),
                order_id: order.id.clone(),
                client_id: order.client_id.clone(),
                amount: unit.amount,
                captured_minor: 0,
                status: AuthorizationStatus::Created,
                invoice_id: unit.invoice_id.clone(),
                custom_id: unit.custom_id.clone(),
                capture_ids: Vec::new(),
                create_time: now,
                update_time: now,
                expiration_time: now + AUTHORIZATION_VALIDITY,
                honor_period_end: now + AUTHORIZATION_HONOR_PERIOD,
                reauthorization_used: false,
            };
            unit.authorization_ids.push(authorization.id.clone());
            authorizations.push(authorization);
        }
        let effects = authorizations
            .iter()
            .map(|authorization| Effect::Emit(self.authorization_event(authorization, "PAYMENT.AUTHORIZATION.CREATED")))
            .collect();
        for authorization in authorizations {
            state.authorizations.insert(authorization.id.clone(), authorization);
        }
        Ok(effects)
    }

    /// Captures every purchase unit of an approved order, as the outcome set for it says.
    fn capture_order(&self, state: &mut PaypalState, client_id: &str, order_id: &str) -> Result<Vec<Effect>, ApiError> {
        let now = self.now();
        let order = state.order_mut(Some(client_id), order_id)?;
        if order.intent == Intent::Authorize {
            return Err(ApiError::unprocessable(ErrorDetail::new(
                "ACTION_DOES_NOT_MATCH_INTENT",
                "Order was created with an intent to 'AUTHORIZE'. Please use v2/checkout/orders/order_id/authorize to complete the transaction or alternately Create an order with an intent of 'CAPTURE'.",
            )));
        }
        match order.status {
            OrderStatus::Approved => {}
            OrderStatus::Completed => {
                return Err(ApiError::unprocessable(ErrorDetail::new(
                    "ORDER_ALREADY_CAPTURED",
                    "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
                )));
            }
            OrderStatus::Created | OrderStatus::PayerActionRequired | OrderStatus::Voided => {
                return Err(not_approved());
            }
        }
        let outcome = order.next_capture_outcome.unwrap_or(CaptureOutcome::Completed);
        if let Some(error) = self.funding_failure(order, outcome) {
            return Err(error);
        }
        order.next_capture_outcome = None;
        order.status = OrderStatus::Completed;
        order.update_time = Some(now);
        let mut captures = Vec::new();
        for unit in &mut order.purchase_units {
            let (status, status_reason) = match outcome {
                CaptureOutcome::Pending => (CaptureStatus::Pending, Some("PENDING_REVIEW")),
                CaptureOutcome::Declined => (CaptureStatus::Declined, None),
                _ => (CaptureStatus::Completed, None),
            };
            let capture = Capture {
                id: ids::upper_alphanumeric(17),
                order_id: order.id.clone(),
                client_id: order.client_id.clone(),
                amount: unit.amount,
                status,
                status_reason,
                fee_minor: paypal_fee(unit.amount),
                invoice_id: unit.invoice_id.clone(),
                custom_id: unit.custom_id.clone(),
                refunded_minor: 0,
                pending_refund_minor: 0,
                reversed: false,
                authorization_id: None,
                final_capture: true,
                create_time: now,
                update_time: now,
            };
            unit.capture_ids.push(capture.id.clone());
            captures.push(capture);
        }
        let effects = captures.iter().map(|capture| Effect::Emit(self.capture_event(capture))).collect();
        for capture in captures {
            state.captures.insert(capture.id.clone(), capture);
        }
        Ok(effects)
    }

    /// `PAYMENT.CAPTURE.COMPLETED`, `…PENDING` or `…DECLINED` for a capture as it stands.
    pub(crate) fn capture_event(&self, capture: &Capture) -> NewEvent {
        let amount = capture.amount.summary();
        let (event_type, summary) = match capture.status {
            CaptureStatus::Pending => ("PAYMENT.CAPTURE.PENDING", format!("Payment pending for {amount}")),
            CaptureStatus::Declined => {
                ("PAYMENT.CAPTURE.DECLINED", format!("A payment capture for {amount} was declined."))
            }
            _ => ("PAYMENT.CAPTURE.COMPLETED", format!("Payment completed for {amount}")),
        };
        NewEvent {
            client_id: capture.client_id.clone(),
            event_type,
            resource_type: "capture",
            summary,
            resource: self.capture_json(capture),
        }
    }
}

fn not_approved() -> ApiError {
    ApiError::unprocessable(ErrorDetail::new(
        "ORDER_NOT_APPROVED",
        "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url returned as part of the HATEOAS links within the Create Order call or provide a valid `payment_source` in the request.",
    ))
}
