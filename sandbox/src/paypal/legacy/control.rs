//! Control endpoints for v1 payments and IPN (no token needed; errors in PayPal's v1 shape).
//!
//! | endpoint | body | effect |
//! |---|---|---|
//! | `POST /sandbox/paypal/payments/{PAY-id}/approve` | | the buyer approves at PayPal: answers `{"payment_id", "token", "redirect_url", "payer_id"}` with `return_url?paymentId=…&token=EC-…&PayerID=…` |
//! | `POST /sandbox/paypal/payments/{PAY-id}/cancel` | | the buyer cancels: answers the same shape with `cancel_url?token=EC-…` |
//! | `POST /sandbox/paypal/payments/{PAY-id}/sale-outcome` | `{"state": "completed" \| "pending" \| "denied", "pending_reason": "echeck"}` (`pending_reason` only with `pending`: IPN's names `paymentreview` (the default), `echeck`, `multi_currency`, `unilateral`, `verify`, `address`, `intl`, `regulatory_review`) | what the sale made by execute becomes; a pending sale's IPN carries `pending_reason`, its v1 resource the matching `reason_code` (`PAYMENT_REVIEW`, `ECHECK`, `RECEIVING_PREFERENCE_MANDATES_MANUAL_ACTION`, …) and its webhook is `PAYMENT.SALE.PENDING` |
//! | `POST /sandbox/paypal/sales/{id}/complete` | | a `pending` sale clears: `completed`, `PAYMENT.SALE.COMPLETED` and a `Completed` IPN |
//! | `POST /sandbox/paypal/sales/{id}/deny` | | a `pending` sale is denied: `denied`, `PAYMENT.SALE.DENIED` and a `Denied` IPN |
//! | `POST /sandbox/paypal/sales/{id}/fail` | | a `pending` sale's funding fails (an eCheck bounces): `denied`, `PAYMENT.SALE.DENIED` and a `Failed` IPN |
//! | `POST /sandbox/paypal/sales/{id}/reverse` | optional `{"reason_code": "unauthorized_claim"}` (PayPal's IPN `reason_code`s: `chargeback`, `buyer-complaint`, `unauthorized_claim`, …) | a buyer's claim takes back what is left of the sale: `PAYMENT.SALE.REVERSED` and a `Reversed` IPN; the sale refuses refunds until the reversal is canceled |
//! | `POST /sandbox/paypal/sales/{id}/cancel-reversal` | | the claim is settled for the merchant: the money comes back, a `Canceled_Reversal` IPN |
//! | `PUT /sandbox/paypal/ipn` | `{"notify_url": "https://…" \| null, "charset": "gb2312", "postback_available": false}` (each optional) | the account's IPN settings (the notify URL used when a payment names none; the charset of IPN and PDT); `postback_available: false` makes the postback and PDT answer 503 until set back; answers them |
//! | `GET /sandbox/paypal/ipn` | | `{"notify_url", "charset", "postback_available", "pdt_identity_token"}` |
//! | `GET /sandbox/paypal/ipn/history` | | every IPN message, oldest first: `{"messages": [{"ipn_track_id", "txn_id", "payment_status", "charset", "notify_url", "body", "create_time", "deliveries": [...]}]}` |

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::super::subscriptions::SaleState;
use super::super::{ApiError, Effect, PaypalSimulator, answer, parse_body};
use super::ipn::{SaleFact, known_charset};
use super::{PendingReason, Reversal, V1Intent, V1PaymentState, already_done, no_such_resource, refused, validation};
use crate::ids;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/sandbox/paypal/payments/{id}/approve", post(approve))
        .route("/sandbox/paypal/payments/{id}/cancel", post(cancel))
        .route("/sandbox/paypal/payments/{id}/sale-outcome", post(sale_outcome))
        .route("/sandbox/paypal/sales/{id}/complete", post(complete_sale))
        .route("/sandbox/paypal/sales/{id}/deny", post(deny_sale))
        .route("/sandbox/paypal/sales/{id}/fail", post(fail_sale))
        .route("/sandbox/paypal/sales/{id}/reverse", post(reverse_sale))
        .route("/sandbox/paypal/sales/{id}/cancel-reversal", post(cancel_reversal))
        .route("/sandbox/paypal/ipn", get(show_settings).put(update_settings))
        .route("/sandbox/paypal/ipn/history", get(history))
}

type Shared = State<Arc<PaypalSimulator>>;

async fn approve(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.approve_v1_payment(&id).map(|redirect| json!(redirect)))
}

async fn cancel(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.cancel_v1_payment(&id).map(|redirect| json!(redirect)))
}

async fn sale_outcome(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let outcome =
        parse_body(&body).map_err(|_| validation("body", "Request body is not valid JSON")).and_then(|request| {
            let chosen = match request.get("state").and_then(Value::as_str) {
                Some("completed") => SaleState::Completed,
                Some("pending") => SaleState::Pending,
                Some("denied") => SaleState::Denied,
                _ => return Err(validation("state", "state must be one of completed, pending, denied")),
            };
            let reason = match request.get("pending_reason") {
                None | Some(Value::Null) => PendingReason::PaymentReview,
                Some(Value::String(name)) if chosen == SaleState::Pending => PendingReason::parse(name)
                    .ok_or_else(|| {
                        validation(
                            "pending_reason",
                            "pending_reason must be one of paymentreview, echeck, multi_currency, unilateral, verify, address, intl, regulatory_review",
                        )
                    })?,
                Some(_) => return Err(validation("pending_reason", "pending_reason is a name and only goes with state pending")),
            };
            let mut state = simulator.state();
            let payment = state.legacy.payment_mut(None, &id)?;
            if payment.state != V1PaymentState::Created {
                return Err(already_done());
            }
            if payment.details.intent == V1Intent::Authorize {
                return Err(refused("An authorize payment makes no sale when executed."));
            }
            payment.sale_outcome = chosen;
            payment.pending_reason = reason;
            let mut body = json!({ "payment_id": id, "sale_outcome": chosen.as_str() });
            if chosen == SaleState::Pending {
                body["pending_reason"] = json!(reason.as_str());
            }
            Ok(body)
        });
    answer(StatusCode::OK, outcome)
}

async fn complete_sale(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.settle_pending_sale(&id, SaleState::Completed, SaleFact::Status))
}

async fn deny_sale(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.settle_pending_sale(&id, SaleState::Denied, SaleFact::Status))
}

async fn fail_sale(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.settle_pending_sale(&id, SaleState::Denied, SaleFact::Failed))
}

async fn reverse_sale(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let reason = parse_body(&body)
        .map_err(|_| validation("body", "Request body is not valid JSON"))
        .map(|request| request.get("reason_code").and_then(Value::as_str).unwrap_or("chargeback").to_owned());
    answer(StatusCode::CREATED, reason.and_then(|reason| simulator.reverse_sale(&id, &reason)))
}

async fn cancel_reversal(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(StatusCode::OK, simulator.cancel_sale_reversal(&id))
}

async fn show_settings(State(simulator): Shared) -> Response {
    answer(StatusCode::OK, Ok(simulator.ipn_settings()))
}

async fn update_settings(State(simulator): Shared, body: Bytes) -> Response {
    let outcome =
        parse_body(&body).map_err(|_| validation("body", "Request body is not valid JSON")).and_then(|request| {
            let notify_url = match request.get("notify_url") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(url))
                    if url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) =>
                {
                    Some(Some(url.clone()))
                }
                Some(_) => return Err(validation("notify_url", "notify_url must be an http or https URL or null")),
            };
            let charset = match request.get("charset") {
                None => None,
                Some(Value::String(label)) if known_charset(label).is_some() => Some(label.trim().to_owned()),
                Some(_) => {
                    return Err(validation(
                        "charset",
                        "charset must be a charset PayPal offers (UTF-8, gb2312, windows-1252, Big5, Shift_JIS, …)",
                    ));
                }
            };
            let postback_available = match request.get("postback_available") {
                None => None,
                Some(Value::Bool(available)) => Some(*available),
                Some(_) => return Err(validation("postback_available", "postback_available must be true or false")),
            };
            let mut state = simulator.state();
            if let Some(available) = postback_available {
                state.legacy.ipn.postback_available = available;
            }
            if let Some(url) = notify_url {
                state.legacy.ipn.notify_url = url;
            }
            if let Some(charset) = charset {
                state.legacy.ipn.charset = charset;
            }
            Ok(())
        });
    answer(StatusCode::OK, outcome.map(|()| simulator.ipn_settings()))
}

async fn history(State(simulator): Shared) -> Response {
    answer(StatusCode::OK, Ok(json!({ "messages": simulator.ipn_history() })))
}

impl PaypalSimulator {
    /// Where the account's IPN goes when a payment names no `notify_url`.
    pub fn set_ipn_notify_url(&self, url: Option<String>) {
        self.state().legacy.ipn.notify_url = url;
    }

    /// The charset the account's IPN and PDT use from now on; `false` for a label no
    /// encoding knows.
    pub fn set_ipn_charset(&self, label: &str) -> bool {
        let known = known_charset(label).is_some();
        if known {
            self.state().legacy.ipn.charset = label.trim().to_owned();
        }
        known
    }

    pub fn ipn_settings(&self) -> Value {
        let state = self.state();
        json!({
            "notify_url": state.legacy.ipn.notify_url,
            "charset": state.legacy.ipn.charset,
            "postback_available": state.legacy.ipn.postback_available,
            "pdt_identity_token": self.pdt_identity_token(),
        })
    }

    /// Every IPN message with its delivery attempts, oldest first.
    pub fn ipn_history(&self) -> Vec<Value> {
        let records = self.state().legacy.ipn.history.clone();
        let deliveries = self.sandbox().dispatcher().log_of("paypal-ipn");
        records
            .into_iter()
            .map(|record| {
                let attempts: Vec<_> =
                    deliveries.iter().filter(|delivery| delivery.event_id == record.ipn_track_id).collect();
                let mut message = json!(record);
                message["deliveries"] = json!(attempts);
                message
            })
            .collect()
    }

    /// A `pending` sale completes, is denied or fails, with its webhook and IPN (`fact` says
    /// which status the IPN reports).
    pub(crate) fn settle_pending_sale(
        &self,
        sale_id: &str,
        outcome: SaleState,
        fact: SaleFact<'static>,
    ) -> Result<Value, ApiError> {
        let now = self.now();
        self.transact(|state| {
            let sale = state.subscriptions.sales.get_mut(sale_id).ok_or_else(no_such_resource)?;
            if sale.state != SaleState::Pending {
                return Err(refused("Only a pending sale can be settled."));
            }
            sale.state = outcome;
            sale.pending_reason = None;
            sale.update_time = now;
            let sale = &state.subscriptions.sales[sale_id];
            let effects = self.sale_effects(state, sale, fact);
            Ok((self.sale_json(sale), effects))
        })
    }

    /// A buyer's claim takes back what is left of a completed sale.
    pub fn reverse_sale(&self, sale_id: &str, reason_code: &str) -> Result<Value, ApiError> {
        self.transact(|state| {
            let sale = state.subscriptions.sales.get(sale_id).ok_or_else(no_such_resource)?;
            if !matches!(sale.state, SaleState::Completed | SaleState::PartiallyRefunded)
                || state.legacy.reversals.get(sale_id).is_some_and(|reversal| !reversal.canceled)
            {
                return Err(refused("Only a completed sale without an open reversal can be reversed."));
            }
            let minor = sale.refundable_minor();
            let fee_minor = super::super::payments::refunded_fee(sale.fee_minor, sale.total.minor, minor);
            let reversal = Reversal {
                txn_id: ids::upper_alphanumeric(17),
                minor,
                fee_minor,
                reason_code: reason_code.to_owned(),
                canceled: false,
            };
            let fact = SaleFact::Reversed { txn_id: &reversal.txn_id, minor, fee_minor, reason_code };
            let mut effects = self.sale_effects(state, sale, fact);
            let resource = json!({
                "id": reversal.txn_id,
                "state": "completed",
                "amount": { "total": sale.total.with_minor(minor).value(), "currency": sale.total.currency },
                "sale_id": sale.id,
                "reason_code": reason_code.to_uppercase(),
                "create_time": super::super::paypal_time(self.now()),
            });
            effects.push(Effect::EmitV1(super::super::events::NewEvent {
                client_id: sale.client_id.clone(),
                event_type: "PAYMENT.SALE.REVERSED",
                resource_type: "refund",
                summary: format!("A {} sale payment was reversed", sale.total.with_minor(minor).summary()),
                resource: resource.clone(),
            }));
            state.legacy.reversals.insert(sale_id.to_owned(), reversal);
            Ok((resource, effects))
        })
    }

    /// The claim is settled in the merchant's favour: the reversed money comes back.
    pub fn cancel_sale_reversal(&self, sale_id: &str) -> Result<Value, ApiError> {
        self.transact(|state| {
            let sale = state.subscriptions.sales.get(sale_id).ok_or_else(no_such_resource)?;
            let Some(reversal) = state.legacy.reversals.get(sale_id).filter(|reversal| !reversal.canceled) else {
                return Err(refused("The sale has no open reversal."));
            };
            let txn_id = ids::upper_alphanumeric(17);
            let fact =
                SaleFact::ReversalCanceled { txn_id: &txn_id, minor: reversal.minor, fee_minor: reversal.fee_minor };
            let effects = self.sale_effects(state, sale, fact);
            let body = json!({ "sale_id": sale_id, "txn_id": txn_id, "reversal_txn_id": reversal.txn_id });
            if let Some(reversal) = state.legacy.reversals.get_mut(sale_id) {
                reversal.canceled = true;
            }
            Ok((body, effects))
        })
    }
}
