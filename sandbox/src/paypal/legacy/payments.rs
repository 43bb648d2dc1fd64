//! `/v1/payments/payment`: create, list, show, execute; and the buyer's approval at PayPal that
//! execute needs.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::approval::with_query;
use super::super::auth::Merchant;
use super::super::events::NewEvent;
use super::super::payments::paypal_fee;
use super::super::state::PaypalState;
use super::super::subscriptions::{Sale, SaleOrigin, SaleState};
use super::super::{Effect, PaypalSimulator, answer, parse_body};
use super::ipn::SaleFact;
use super::payment_request::PaymentRequest;
use super::{PendingReason, V1Intent, V1Payment, V1PaymentState, already_done, v1_error, validation};
use crate::ids;

/// PayPal keeps v1 payments' `PayPal-Request-Id` keys for 30 days.
const PAYMENT_KEY_RETENTION: Duration = Duration::days(30);

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/payments/payment", post(create).get(list))
        .route("/v1/payments/payment/{id}", get(show))
        .route("/v1/payments/payment/{id}/execute", post(execute))
}

/// Where the buyer's browser goes after deciding about a v1 payment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct V1BuyerRedirect {
    pub payment_id: String,
    pub token: String,
    /// `return_url?paymentId=…&token=EC-…&PayerID=…`, or `cancel_url?token=EC-…`.
    pub redirect_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_id: Option<String>,
}

async fn create(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = merchant.client_id;
    simulator.idempotent_post(&client_id, "/v1/payments/payment", &headers, PAYMENT_KEY_RETENTION, |state| {
        let request = PaymentRequest::parse(&body)?;
        let now = simulator.now();
        let payment = V1Payment {
            id: format!("PAY-{}", ids::upper_alphanumeric(24)),
            client_id: client_id.clone(),
            token: format!("EC-{}", ids::upper_alphanumeric(17)),
            state: V1PaymentState::Created,
            details: request,
            payer_id: None,
            sale_id: None,
            authorization_id: None,
            sale_outcome: SaleState::Completed,
            pending_reason: PendingReason::PaymentReview,
            create_time: now,
            update_time: now,
        };
        let body = simulator.v1_payment_json(state, &payment);
        let event = Effect::EmitV1(NewEvent {
            client_id: client_id.clone(),
            event_type: "PAYMENTS.PAYMENT.CREATED",
            resource_type: "payment",
            summary: "Checkout payment is created and approved by buyer".to_owned(),
            resource: body.clone(),
        });
        let book = &mut state.legacy;
        book.tokens.insert(payment.token.clone(), payment.id.clone());
        book.payment_order.push(payment.id.clone());
        book.payments.insert(payment.id.clone(), payment);
        Ok(((StatusCode::CREATED, body), vec![event]))
    })
}

async fn show(State(simulator): State<Arc<PaypalSimulator>>, merchant: Merchant, Path(id): Path<String>) -> Response {
    let state = simulator.state();
    let payment = state.legacy.payment(Some(&merchant.client_id), &id);
    answer(StatusCode::OK, payment.map(|payment| simulator.v1_payment_json(&state, payment)))
}

#[derive(Deserialize)]
struct ListQuery {
    count: Option<String>,
    start_index: Option<String>,
    start_id: Option<String>,
}

/// Newest first, `count` (1 to 20, default 10) at a time from `start_index` or after `start_id`.
async fn list(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return answer(StatusCode::OK, Err(validation("query", "Query is malformed")));
    };
    let number = |text: &Option<String>, field: &str, range: std::ops::RangeInclusive<usize>, default: usize| match text
    {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| validation(field, "Value is out of range")),
    };
    let page = number(&query.count, "count", 1..=20, 10)
        .and_then(|count| number(&query.start_index, "start_index", 0..=usize::MAX, 0).map(|start| (count, start)));
    let state = simulator.state();
    let outcome = page.map(|(count, start_index)| {
        let mine: Vec<&V1Payment> = state
            .legacy
            .payment_order
            .iter()
            .rev()
            .filter_map(|id| state.legacy.payments.get(id))
            .filter(|payment| payment.client_id == merchant.client_id)
            .collect();
        let start = match &query.start_id {
            Some(id) => mine.iter().position(|payment| &payment.id == id).map_or(mine.len(), |at| at + 1),
            None => start_index,
        };
        let shown: Vec<Value> =
            mine.iter().skip(start).take(count).map(|payment| simulator.v1_payment_json(&state, payment)).collect();
        let next_id = mine.get(start + count).map(|payment| payment.id.clone());
        let mut body = json!({ "payments": shown, "count": shown.len() });
        if let Some(next_id) = next_id {
            body["next_id"] = json!(next_id);
        }
        body
    });
    answer(StatusCode::OK, outcome)
}

async fn execute(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = merchant.client_id;
    let path = format!("/v1/payments/payment/{id}/execute");
    simulator.idempotent_post(&client_id, &path, &headers, PAYMENT_KEY_RETENTION, |state| {
        let request = parse_body(&body).map_err(|_| validation("body", "Request body is not valid JSON"))?;
        let payer_id = request
            .get("payer_id")
            .and_then(Value::as_str)
            .filter(|payer_id| !payer_id.is_empty())
            .ok_or_else(|| validation("payer_id", "Required field missing"))?;
        let effects = simulator.execute_v1_payment(state, &client_id, &id, payer_id)?;
        let payment = state.legacy.payment(None, &id)?;
        Ok(((StatusCode::OK, simulator.v1_payment_json(state, payment)), effects))
    })
}

impl PaypalSimulator {
    /// The buyer approves a v1 payment at PayPal; approving twice changes nothing.
    pub fn approve_v1_payment(&self, payment_id: &str) -> Result<V1BuyerRedirect, super::super::ApiError> {
        let payer_id = self.parties().payer_id.clone();
        let now = self.now();
        let mut state = self.state();
        let payment = state.legacy.payment_mut(None, payment_id)?;
        if payment.state != V1PaymentState::Created {
            return Err(already_done());
        }
        payment.payer_id = Some(payer_id.clone());
        payment.update_time = now;
        let redirect_url = with_query(
            &payment.details.return_url,
            &[("paymentId", &payment.id), ("token", &payment.token), ("PayerID", &payer_id)],
        );
        Ok(V1BuyerRedirect {
            payment_id: payment.id.clone(),
            token: payment.token.clone(),
            redirect_url,
            payer_id: Some(payer_id),
        })
    }

    /// The buyer cancels at PayPal: back to `cancel_url`, the payment unchanged.
    pub fn cancel_v1_payment(&self, payment_id: &str) -> Result<V1BuyerRedirect, super::super::ApiError> {
        let state = self.state();
        let payment = state.legacy.payment(None, payment_id)?;
        Ok(V1BuyerRedirect {
            payment_id: payment.id.clone(),
            token: payment.token.clone(),
            redirect_url: with_query(&payment.details.cancel_url, &[("token", &payment.token)]),
            payer_id: None,
        })
    }

    fn execute_v1_payment(
        &self,
        state: &mut PaypalState,
        client_id: &str,
        id: &str,
        payer_id: &str,
    ) -> Result<Vec<Effect>, super::super::ApiError> {
        let now = self.now();
        let payment = state.legacy.payment_mut(Some(client_id), id)?;
        if payment.state != V1PaymentState::Created {
            return Err(already_done());
        }
        let Some(approved_by) = &payment.payer_id else {
            return Err(v1_error(
                StatusCode::BAD_REQUEST,
                "PAYMENT_NOT_APPROVED_FOR_EXECUTION",
                "Payer has not approved payment",
            ));
        };
        if approved_by != payer_id {
            return Err(v1_error(StatusCode::BAD_REQUEST, "INVALID_PAYER_ID", "Payer ID is invalid"));
        }
        if payment.details.intent == V1Intent::Authorize {
            let (authorization, event) = self.authorize_v1_payment(payment, now);
            payment.state = V1PaymentState::Approved;
            payment.authorization_id = Some(authorization.id.clone());
            payment.update_time = now;
            state.legacy.authorizations.insert(authorization.id.clone(), authorization);
            return Ok(vec![event]);
        }
        // `details` values were rewritten with exactly the currency's decimals at create, so their
        // digits are the minor units.
        let details = &payment.details.amount_json["details"];
        let minor_of = |name: &str| {
            details[name].as_str().and_then(|value| value.replace('.', "").parse::<i64>().ok()).unwrap_or(0)
        };
        let sale = Sale {
            id: ids::upper_alphanumeric(17),
            client_id: payment.client_id.clone(),
            origin: SaleOrigin::Payment {
                payment_id: payment.id.clone(),
                invoice_number: payment.details.invoice_number.clone(),
            },
            custom: payment.details.custom.clone(),
            total: payment.details.amount,
            subtotal_minor: if details.is_object() { minor_of("subtotal") } else { payment.details.amount.minor },
            tax_minor: minor_of("tax"),
            shipping_minor: minor_of("shipping"),
            fee_minor: paypal_fee(payment.details.amount),
            state: payment.sale_outcome,
            pending_reason: (payment.sale_outcome == SaleState::Pending).then_some(payment.pending_reason),
            refunded_minor: 0,
            create_time: now,
            update_time: now,
        };
        payment.state = if sale.state == SaleState::Denied { V1PaymentState::Failed } else { V1PaymentState::Approved };
        payment.sale_id = Some(sale.id.clone());
        payment.update_time = now;
        let effects = self.sale_effects(state, &sale, SaleFact::Status);
        state.subscriptions.sales.insert(sale.id.clone(), sale);
        Ok(effects)
    }

    /// The webhook and the IPN that tell about a sale's new state.
    pub(crate) fn sale_effects(&self, state: &PaypalState, sale: &Sale, fact: SaleFact<'_>) -> Vec<Effect> {
        let payment = match &sale.origin {
            SaleOrigin::Payment { payment_id, .. } => state.legacy.payments.get(payment_id),
            SaleOrigin::Subscription(_) => None,
        };
        let mut effects = Vec::new();
        if let SaleFact::Status | SaleFact::Failed = fact {
            let (event_type, verb) = match sale.state {
                SaleState::Pending => ("PAYMENT.SALE.PENDING", "is pending"),
                SaleState::Denied => ("PAYMENT.SALE.DENIED", "was denied"),
                _ => ("PAYMENT.SALE.COMPLETED", "completed"),
            };
            effects.push(Effect::EmitV1(NewEvent {
                client_id: sale.client_id.clone(),
                event_type,
                resource_type: "sale",
                summary: format!("Payment {verb} for {}", sale.total.summary()),
                resource: self.sale_json(sale),
            }));
        }
        effects.push(Effect::Ipn(self.sale_notice(sale, payment, fact)));
        effects
    }
}
