//! Payments v2 authorizations: show one, capture it (in part or in full), reauthorize it after
//! its honor period, void it (`/v2/payments/authorizations/{id}…`). Authorizations come from
//! `POST /v2/checkout/orders/{id}/authorize`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::amount::{Amount, optional_money};
use super::auth::Merchant;
use super::body::syntax;
use super::errors::ApiError;
use super::events::NewEvent;
use super::order_request::text;
use super::payments::{paypal_fee, portion, refused};
use super::render::{link, put};
use super::state::{Authorization, AuthorizationStatus, Capture, CaptureStatus, PaypalState};
use super::{
    AUTHORIZATION_HONOR_PERIOD, Effect, PaypalSimulator, answer, parse_body, paypal_time, wants_representation,
};
use crate::ids;

/// PayPal keeps Payments v2 `PayPal-Request-Id` keys for 45 days.
const PAYMENT_KEY_RETENTION: Duration = Duration::days(45);

/// PayPal allows up to ten captures against one authorization.
const MAX_CAPTURES: usize = 10;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v2/payments/authorizations/{id}", get(show_authorization))
        .route("/v2/payments/authorizations/{id}/capture", post(capture_authorization))
        .route("/v2/payments/authorizations/{id}/reauthorize", post(reauthorize))
        .route("/v2/payments/authorizations/{id}/void", post(void_authorization))
}

/// The body of a capture: all of it optional.
struct CaptureRequest {
    amount: Option<Amount>,
    invoice_id: Option<String>,
    /// PayPal's default is `false`: more captures may follow a partial one.
    final_capture: bool,
}

impl CaptureRequest {
    fn parse(body: &Value) -> Result<Self, ApiError> {
        let request = body.as_object().ok_or_else(|| syntax("/", &body.to_string()))?;
        let amount = optional_money(request.get("amount"), "/amount")?;
        let final_capture = match request.get("final_capture") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(other) => return Err(syntax("/final_capture", &other.to_string())),
        };
        text(request, "note_to_payer", "/note_to_payer", 255)?;
        text(request, "soft_descriptor", "/soft_descriptor", 22)?;
        Ok(Self { amount, invoice_id: text(request, "invoice_id", "/invoice_id", 127)?, final_capture })
    }
}

async fn show_authorization(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    let shown = state.authorization(Some(&merchant.client_id), &id);
    answer(StatusCode::OK, shown.map(|authorization| simulator.authorization_json(authorization)))
}

async fn capture_authorization(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = &merchant.client_id;
    post_on_authorization(&simulator, client_id, &id, "capture", &headers, |state| {
        let request = CaptureRequest::parse(&parse_body(&body)?).map_err(ApiError::in_payments_api)?;
        let (capture_id, effects) = simulator.capture_authorization(state, client_id, &id, request)?;
        let capture = state.capture(None, &capture_id)?;
        Ok(((StatusCode::CREATED, simulator.capture_json(capture)), effects))
    })
}

async fn reauthorize(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = &merchant.client_id;
    post_on_authorization(&simulator, client_id, &id, "reauthorize", &headers, |state| {
        let body = parse_body(&body)?;
        let request = body.as_object().ok_or_else(|| syntax("/", &body.to_string()).in_payments_api())?;
        let amount = optional_money(request.get("amount"), "/amount").map_err(ApiError::in_payments_api)?;
        let (new_id, effects) = simulator.reauthorize(state, client_id, &id, amount)?;
        let authorization = state.authorization(None, &new_id)?;
        Ok(((StatusCode::CREATED, simulator.authorization_json(authorization)), effects))
    })
}

async fn void_authorization(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let client_id = &merchant.client_id;
    let response = post_on_authorization(&simulator, client_id, &id, "void", &headers, |state| {
        let effects = simulator.void_authorization(state, client_id, &id)?;
        let authorization = state.authorization(None, &id)?;
        Ok(((StatusCode::OK, simulator.authorization_json(authorization)), effects))
    });
    // PayPal answers `204 No Content` unless the whole authorization is asked for.
    if response.status() == StatusCode::OK && !wants_representation(&headers) {
        return StatusCode::NO_CONTENT.into_response();
    }
    response
}

/// `POST /v2/payments/authorizations/{id}/{action}`, honouring `PayPal-Request-Id`. `change`
/// answers the whole resource; without `Prefer: return=representation` the answer is cut to
/// `{id, status, links}`.
fn post_on_authorization(
    simulator: &PaypalSimulator,
    client_id: &str,
    id: &str,
    action: &str,
    headers: &HeaderMap,
    change: impl FnOnce(&mut PaypalState) -> Result<((StatusCode, Value), Vec<Effect>), ApiError>,
) -> Response {
    let representation = wants_representation(headers);
    let path = format!("/v2/payments/authorizations/{id}/{action}");
    simulator.idempotent_post(client_id, &path, headers, PAYMENT_KEY_RETENTION, |state| {
        let ((status, whole), effects) = change(state)?;
        let body = if representation {
            whole
        } else {
            json!({ "id": whole["id"], "status": whole["status"], "links": whole["links"] })
        };
        Ok(((status, body), effects))
    })
}

/// Refuses a capture or reauthorization of an authorization that is no longer open (a void has
/// its own refusals).
fn refuse_closed(authorization: &Authorization, now: DateTime<Utc>) -> Result<(), ApiError> {
    match authorization.status_at(now) {
        AuthorizationStatus::Created | AuthorizationStatus::PartiallyCaptured => Ok(()),
        AuthorizationStatus::Expired => Err(refused(
            "AUTHORIZATION_EXPIRED",
            "An expired authorization cannot be captured, reauthorized or voided; create a new order.",
        )),
        AuthorizationStatus::Voided => {
            Err(refused("AUTHORIZATION_VOIDED", "A voided authorization cannot be changed."))
        }
        AuthorizationStatus::Captured => Err(refused(
            "AUTHORIZATION_ALREADY_CAPTURED",
            "Authorization has been previously captured and hence cannot be captured again.",
        )),
    }
}

impl PaypalSimulator {
    /// Takes `request.amount` (or all that remains) of an open authorization; returns the
    /// capture's id. A final capture, or one that takes the rest, closes the authorization.
    fn capture_authorization(
        &self,
        state: &mut PaypalState,
        client_id: &str,
        authorization_id: &str,
        request: CaptureRequest,
    ) -> Result<(String, Vec<Effect>), ApiError> {
        let now = self.now();
        let authorization = state.authorization_mut(Some(client_id), authorization_id)?;
        refuse_closed(authorization, now)?;
        if authorization.capture_ids.len() >= MAX_CAPTURES {
            return Err(refused(
                "MAX_CAPTURE_COUNT_EXCEEDED",
                "Maximum number of allowable captures has been reached. No additional captures are possible for this authorization.",
            ));
        }
        let amount = portion(
            authorization.amount.with_minor(authorization.remaining_minor()),
            request.amount,
            ("CURRENCY_MISMATCH", "Currency of capture must be the same as currency of authorization."),
            ("MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit"),
        )?;
        authorization.captured_minor += amount.minor;
        let closes = request.final_capture || authorization.remaining_minor() == 0;
        authorization.status =
            if closes { AuthorizationStatus::Captured } else { AuthorizationStatus::PartiallyCaptured };
        authorization.update_time = now;
        let capture = Capture {
            id: ids::upper_alphanumeric(17),
            order_id: authorization.order_id.clone(),
            client_id: authorization.client_id.clone(),
            amount,
            status: CaptureStatus::Completed,
            status_reason: None,
            fee_minor: paypal_fee(amount),
            invoice_id: request.invoice_id.or_else(|| authorization.invoice_id.clone()),
            custom_id: authorization.custom_id.clone(),
            refunded_minor: 0,
            pending_refund_minor: 0,
            reversed: false,
            authorization_id: Some(authorization.id.clone()),
            final_capture: closes,
            create_time: now,
            update_time: now,
        };
        authorization.capture_ids.push(capture.id.clone());
        let order_id = authorization.order_id.clone();
        let capture_id = capture.id.clone();
        let effects = vec![Effect::Emit(self.capture_event(&capture))];
        state.captures.insert(capture_id.clone(), capture);
        // The order lists its captures too, as PayPal's order does once its authorization is captured.
        if let Some(unit) = state.unit_holding_authorization(&order_id, authorization_id) {
            unit.capture_ids.push(capture_id.clone());
        }
        Ok((capture_id, effects))
    }

    /// Renews the hold after the honor period: a new authorization, valid until the original's
    /// expiration time and honored for another three days; the original is voided.
    fn reauthorize(
        &self,
        state: &mut PaypalState,
        client_id: &str,
        authorization_id: &str,
        amount: Option<Amount>,
    ) -> Result<(String, Vec<Effect>), ApiError> {
        let now = self.now();
        let original = state.authorization_mut(Some(client_id), authorization_id)?;
        refuse_closed(original, now)?;
        if original.status == AuthorizationStatus::PartiallyCaptured || original.reauthorization_used {
            return Err(refused(
                "REAUTHORIZATION_NOT_SUPPORTED",
                "An authorization can be reauthorized once, and only before any part of it is captured.",
            ));
        }
        if now < original.honor_period_end {
            return Err(refused(
                "REAUTHORIZATION_NOT_SUPPORTED",
                "Authorization is still within its three-day honor period and cannot be reauthorized yet.",
            ));
        }
        let amount = amount.unwrap_or(original.amount);
        if amount.currency != original.amount.currency {
            return Err(refused(
                "AUTH_CURRENCY_MISMATCH",
                "The currency of the reauthorization must be the same as the currency of the authorization.",
            )
            .about("/amount/currency_code", amount.currency));
        }
        // PayPal reauthorizes up to 115% of the original amount.
        if i128::from(amount.minor) * 100 > i128::from(original.amount.minor) * 115 {
            return Err(refused(
                "TRANSACTION_REFUSED",
                "A reauthorization may be for at most 115% of the original authorized amount.",
            )
            .about("/amount/value", &amount.value()));
        }
        original.reauthorization_used = true;
        original.status = AuthorizationStatus::Voided;
        original.update_time = now;
        let renewed = Authorization {
            id: ids::upper_alphanumeric(17),
            amount,
            captured_minor: 0,
            status: AuthorizationStatus::Created,
            capture_ids: Vec::new(),
            create_time: now,
            update_time: now,
            honor_period_end: now + AUTHORIZATION_HONOR_PERIOD,
            reauthorization_used: true,
            order_id: original.order_id.clone(),
            client_id: original.client_id.clone(),
            invoice_id: original.invoice_id.clone(),
            custom_id: original.custom_id.clone(),
            expiration_time: original.expiration_time,
        };
        let effects = vec![Effect::Emit(self.authorization_event(&renewed, "PAYMENT.AUTHORIZATION.CREATED"))];
        let renewed_id = renewed.id.clone();
        if let Some(unit) = state.unit_holding_authorization(&renewed.order_id, authorization_id) {
            unit.authorization_ids.push(renewed_id.clone());
        }
        state.authorizations.insert(renewed_id.clone(), renewed);
        Ok((renewed_id, effects))
    }

    /// Releases what is left of an open authorization.
    fn void_authorization(
        &self,
        state: &mut PaypalState,
        client_id: &str,
        authorization_id: &str,
    ) -> Result<Vec<Effect>, ApiError> {
        let now = self.now();
        let authorization = state.authorization_mut(Some(client_id), authorization_id)?;
        match authorization.status_at(now) {
            AuthorizationStatus::Created | AuthorizationStatus::PartiallyCaptured => {}
            AuthorizationStatus::Captured => {
                return Err(refused(
                    "PREVIOUSLY_CAPTURED",
                    "Authorization has been previously captured and hence cannot be voided.",
                ));
            }
            AuthorizationStatus::Voided => {
                return Err(refused(
                    "PREVIOUSLY_VOIDED",
                    "Authorization has been previously voided and hence cannot be voided again.",
                ));
            }
            AuthorizationStatus::Expired => {
                return Err(refused(
                    "CANNOT_BE_VOIDED",
                    "An authorization past its expiration time cannot be voided; its funds are released already.",
                ));
            }
        }
        authorization.status = AuthorizationStatus::Voided;
        authorization.update_time = now;
        let authorization = state.authorization(None, authorization_id)?;
        Ok(vec![Effect::Emit(self.authorization_event(authorization, "PAYMENT.AUTHORIZATION.VOIDED"))])
    }

    pub(crate) fn authorization_url(&self, authorization_id: &str) -> String {
        format!("{}/v2/payments/authorizations/{authorization_id}", self.base_url())
    }

    /// An authorization as `GET /v2/payments/authorizations/{id}` and `PAYMENT.AUTHORIZATION.*`
    /// events show it, with links only to what can be done with it now.
    pub(crate) fn authorization_json(&self, authorization: &Authorization) -> Value {
        let now = self.now();
        let status = authorization.status_at(now);
        let url = self.authorization_url(&authorization.id);
        let mut links = vec![link(url.clone(), "self", "GET")];
        if authorization.is_open_at(now) {
            links.push(link(format!("{url}/capture"), "capture", "POST"));
            links.push(link(format!("{url}/void"), "void", "POST"));
            if status == AuthorizationStatus::Created
                && !authorization.reauthorization_used
                && now >= authorization.honor_period_end
            {
                links.push(link(format!("{url}/reauthorize"), "reauthorize", "POST"));
            }
        }
        links.push(link(self.order_url(&authorization.order_id), "up", "GET"));
        let mut body = Map::new();
        body.insert("id".into(), json!(authorization.id));
        body.insert("status".into(), json!(status.as_str()));
        body.insert("amount".into(), authorization.amount.to_json());
        put(&mut body, "invoice_id", authorization.invoice_id.clone().map(Value::String));
        put(&mut body, "custom_id", authorization.custom_id.clone().map(Value::String));
        body.insert(
            "seller_protection".into(),
            json!({ "status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"] }),
        );
        body.insert("expiration_time".into(), json!(paypal_time(authorization.expiration_time)));
        body.insert("supplementary_data".into(), json!({ "related_ids": { "order_id": authorization.order_id } }));
        body.insert("create_time".into(), json!(paypal_time(authorization.create_time)));
        body.insert("update_time".into(), json!(paypal_time(authorization.update_time)));
        body.insert("links".into(), json!(links));
        Value::Object(body)
    }

    pub(crate) fn authorization_event(&self, authorization: &Authorization, event_type: &'static str) -> NewEvent {
        let amount = authorization.amount.summary();
        let summary = match event_type {
            "PAYMENT.AUTHORIZATION.VOIDED" => format!("A payment authorization for {amount} was voided"),
            _ => format!("A payment authorization was created for {amount}"),
        };
        NewEvent {
            client_id: authorization.client_id.clone(),
            event_type,
            resource_type: "authorization",
            summary,
            resource: self.authorization_json(authorization),
        }
    }
}
