//! v1 sales, the payments subscriptions make: show one, refund it (in full or in part), show a
//! refund (`/v1/payments/sale…`, `/v1/payments/refund/{id}`). These are the legacy Payments v1
//! API, so errors use its dialect (`{name, message, information_link, debug_id}`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Duration;
use serde_json::Value;

use super::super::amount::parse_v1_money;
use super::super::auth::Merchant;
use super::super::errors::ApiError;
use super::super::events::NewEvent;
use super::super::legacy::ipn::SaleFact;
use super::super::payments::refunded_fee;
use super::super::state::PaypalState;
use super::super::{Effect, PaypalSimulator, answer};
use super::SALES_DOC;
use super::fields::{body_object, text};
use super::model::{SaleRefund, SaleState};
use crate::ids;

/// PayPal keeps v1 payments' `PayPal-Request-Id` keys for 30 days.
const SALE_KEY_RETENTION: Duration = Duration::days(30);

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/payments/sale/{id}", get(show_sale))
        .route("/v1/payments/sale/{id}/refund", post(refund_sale))
        .route("/v1/payments/refund/{id}", get(show_refund))
}

fn v1_error(status: StatusCode, name: &str, message: &str) -> ApiError {
    ApiError::v1(status, name, message).documented_at(SALES_DOC)
}

fn no_such_resource() -> ApiError {
    v1_error(StatusCode::NOT_FOUND, "INVALID_RESOURCE_ID", "Requested resource ID was not found.")
}

async fn show_sale(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    let sale = state.subscriptions.sales.get(&id).filter(|sale| sale.client_id == merchant.client_id);
    answer(StatusCode::OK, sale.map(|sale| simulator.sale_json(sale)).ok_or_else(no_such_resource))
}

async fn show_refund(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    let refund = state.subscriptions.sale_refunds.get(&id).filter(|refund| refund.client_id == merchant.client_id);
    answer(StatusCode::OK, refund.map(|refund| simulator.sale_refund_json(refund)).ok_or_else(no_such_resource))
}

async fn refund_sale(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = merchant.client_id;
    let path = format!("/v1/payments/sale/{id}/refund");
    let replay = Some(StatusCode::OK);
    simulator.idempotent_post_replayed_as(replay, &client_id, &path, &headers, SALE_KEY_RETENTION, |state| {
        let refund =
            refund(&simulator, state, &client_id, &id, &body).map_err(|error| error.documented_at(SALES_DOC))?;
        let body = simulator.sale_refund_json(&refund);
        let sale = &state.subscriptions.sales[&refund.sale_id];
        let fact = SaleFact::Refunded {
            refund_id: &refund.id,
            minor: refund.amount.minor,
            fee_minor: refund.fee_refunded_minor,
        };
        let ipn = simulator.sale_effects(state, sale, fact);
        let event = Effect::EmitV1(NewEvent {
            client_id: refund.client_id.clone(),
            event_type: "PAYMENT.SALE.REFUNDED",
            resource_type: "refund",
            summary: format!("A {} sale payment was refunded", refund.amount.summary()),
            resource: body.clone(),
        });
        state.subscriptions.sale_refunds.insert(refund.id.clone(), refund);
        let mut effects = vec![event];
        effects.extend(ipn);
        Ok(((StatusCode::CREATED, body), effects))
    })
}

/// Refunds `amount` (v1 shape `{total, currency}`) or all that is left of the sale.
fn refund(
    simulator: &PaypalSimulator,
    state: &mut PaypalState,
    client_id: &str,
    id: &str,
    body: &[u8],
) -> Result<SaleRefund, ApiError> {
    let request = body_object(body, false)?;
    let requested = match request.get("amount") {
        None | Some(Value::Null) => None,
        Some(Value::Object(amount)) => {
            let money = parse_v1_money(amount.get("total"), amount.get("currency"), "amount.total", "amount.currency");
            Some(money.map_err(|error| error.documented_at(SALES_DOC))?)
        }
        Some(_) => {
            return Err(ApiError::v1_validation("amount", "Invalid amount").documented_at(SALES_DOC));
        }
    };
    let invoice_number = text(&request, "invoice_number", "/invoice_number", 127)?;
    let description = text(&request, "description", "/description", 255)?;
    let reason = text(&request, "reason", "/reason", 30)?;
    let now = simulator.now();
    if let Some(dispute) = state.disputes.open_on(id) {
        let message = format!("The sale is under dispute {} and cannot be refunded while it is open.", dispute.id);
        return Err(v1_error(StatusCode::BAD_REQUEST, "TRANSACTION_DISPUTED", &message));
    }
    if state.legacy.reversals.get(id).is_some_and(|reversal| !reversal.canceled) {
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "TRANSACTION_REFUSED",
            "The sale is reversed while a buyer's claim is open; it cannot be refunded.",
        ));
    }
    let sale = state
        .subscriptions
        .sales
        .get_mut(id)
        .filter(|sale| sale.client_id == client_id)
        .ok_or_else(no_such_resource)?;
    if matches!(sale.state, SaleState::Pending | SaleState::Denied) {
        return Err(v1_error(StatusCode::BAD_REQUEST, "TRANSACTION_REFUSED", "Only a completed sale can be refunded."));
    }
    let refundable = sale.refundable_minor();
    if refundable <= 0 {
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "TRANSACTION_ALREADY_REFUNDED",
            "Requested transaction has already been fully refunded.",
        ));
    }
    let amount = requested.unwrap_or(sale.total.with_minor(refundable));
    if amount.currency != sale.total.currency {
        return Err(ApiError::v1_validation("amount.currency", "Currency does not match the sale's currency")
            .documented_at(SALES_DOC));
    }
    if amount.minor > refundable {
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "REFUND_EXCEEDED_TRANSACTION_AMOUNT",
            "Refund amount exceeded transaction amount.",
        ));
    }
    let fee_refunded = refunded_fee(sale.fee_minor, sale.total.minor, amount.minor);
    sale.refunded_minor += amount.minor;
    sale.state =
        if sale.refunded_minor >= sale.total.minor { SaleState::Refunded } else { SaleState::PartiallyRefunded };
    sale.update_time = now;
    Ok(SaleRefund {
        id: ids::upper_alphanumeric(17),
        sale_id: sale.id.clone(),
        client_id: sale.client_id.clone(),
        amount,
        fee_refunded_minor: fee_refunded,
        total_refunded_minor: sale.refunded_minor,
        invoice_number,
        description,
        reason,
        create_time: now,
    })
}
