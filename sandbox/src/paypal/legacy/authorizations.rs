//! `/v1/payments/authorization/{id}`: the authorization an executed `authorize` payment makes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::super::auth::Merchant;
use super::super::events::NewEvent;
use super::super::render::link;
use super::super::{Effect, PaypalSimulator, answer, paypal_time};
use super::{V1Authorization, V1AuthorizationState, V1Payment, no_such_resource};
use crate::ids;

/// PayPal honours a v1 authorization for 3 days and keeps it valid for 29.
const VALIDITY: Duration = Duration::days(29);

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new().route("/v1/payments/authorization/{id}", get(show))
}

async fn show(State(simulator): State<Arc<PaypalSimulator>>, merchant: Merchant, Path(id): Path<String>) -> Response {
    let state = simulator.state();
    let authorization = state
        .legacy
        .authorizations
        .get(&id)
        .filter(|authorization| authorization.client_id == merchant.client_id)
        .ok_or_else(no_such_resource);
    answer(StatusCode::OK, authorization.map(|authorization| simulator.v1_authorization_json(authorization)))
}

impl PaypalSimulator {
    pub(crate) fn v1_authorization_url(&self, id: &str) -> String {
        format!("{}/v1/payments/authorization/{id}", self.base_url())
    }

    /// The authorization executing `payment` makes, and its `PAYMENT.AUTHORIZATION.CREATED`.
    pub(crate) fn authorize_v1_payment(&self, payment: &V1Payment, now: DateTime<Utc>) -> (V1Authorization, Effect) {
        let authorization = V1Authorization {
            id: ids::upper_alphanumeric(17),
            client_id: payment.client_id.clone(),
            payment_id: payment.id.clone(),
            amount_json: payment.details.amount_json.clone(),
            state: V1AuthorizationState::Authorized,
            valid_until: now + VALIDITY,
            create_time: now,
            update_time: now,
        };
        let event = Effect::EmitV1(NewEvent {
            client_id: payment.client_id.clone(),
            event_type: "PAYMENT.AUTHORIZATION.CREATED",
            resource_type: "authorization",
            summary: format!("A payment authorization was created for {}", payment.details.amount.summary()),
            resource: self.v1_authorization_json(&authorization),
        });
        (authorization, event)
    }

    pub(crate) fn v1_authorization_json(&self, authorization: &V1Authorization) -> Value {
        let mut body = Map::new();
        body.insert("id".into(), json!(authorization.id));
        body.insert("state".into(), json!(authorization.state.as_str()));
        body.insert("amount".into(), authorization.amount_json.clone());
        body.insert("payment_mode".into(), json!("INSTANT_TRANSFER"));
        body.insert("protection_eligibility".into(), json!("ELIGIBLE"));
        body.insert(
            "protection_eligibility_type".into(),
            json!("ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE"),
        );
        body.insert("parent_payment".into(), json!(authorization.payment_id));
        body.insert("valid_until".into(), json!(paypal_time(authorization.valid_until)));
        body.insert("create_time".into(), json!(paypal_time(authorization.create_time)));
        body.insert("update_time".into(), json!(paypal_time(authorization.update_time)));
        body.insert(
            "links".into(),
            json!([
                link(self.v1_authorization_url(&authorization.id), "self", "GET"),
                link(self.v1_payment_url(&authorization.payment_id), "parent_payment", "GET"),
            ]),
        );
        Value::Object(body)
    }
}
