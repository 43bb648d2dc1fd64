//! OAuth2 client credentials, as `POST /v1/oauth2/token` does it, and the bearer check every
//! other API call passes through. Tokens expire on the test clock.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Duration, SecondsFormat};
use payhub_core::Clock;
use serde_json::json;

use super::errors::ApiError;
use super::state::Token;
use super::{PaypalSimulator, header_text, json_response};
use crate::ids;

/// PayPal's usual token lifetime (9 hours).
pub const TOKEN_LIFETIME: Duration = Duration::seconds(32_400);

const SCOPES: &str = "https://uri.paypal.com/services/invoicing https://uri.paypal.com/services/vault/payment-tokens/read \
https://uri.paypal.com/services/disputes/read-buyer https://uri.paypal.com/services/payments/realtimepayment \
https://uri.paypal.com/services/disputes/update-seller https://uri.paypal.com/services/payments/payment/authcode \
openid https://uri.paypal.com/services/disputes/read-seller https://uri.paypal.com/services/payments/refund \
https://api.paypal.com/v1/payments/.* https://uri.paypal.com/payments/payouts \
https://uri.paypal.com/services/subscriptions https://uri.paypal.com/services/applications/webhooks";

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new().route("/v1/oauth2/token", post(issue_token))
}

/// The app a valid bearer token belongs to; extracting it answers 401 in PayPal's shape otherwise.
pub struct Merchant {
    pub client_id: String,
}

impl FromRequestParts<Arc<PaypalSimulator>> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, simulator: &Arc<PaypalSimulator>) -> Result<Self, ApiError> {
        let token = header_text(&parts.headers, "authorization")
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(ApiError::authentication_failure)?;
        let now = simulator.now();
        let state = simulator.state();
        state
            .tokens
            .get(token)
            .filter(|issued| issued.expires_at > now)
            .map(|issued| Merchant { client_id: issued.client_id.clone() })
            .ok_or_else(ApiError::authentication_failure)
    }
}

async fn issue_token(State(simulator): State<Arc<PaypalSimulator>>, headers: HeaderMap, body: Bytes) -> Response {
    match grant(&simulator, &headers, &body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn grant(simulator: &PaypalSimulator, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let client_id = authenticate_client(simulator, headers)?;
    let grant_type =
        url::form_urlencoded::parse(body).find(|(name, _)| name == "grant_type").map(|(_, value)| value.into_owned());
    match grant_type.as_deref() {
        Some("client_credentials") => {}
        None | Some("") => {
            return Err(ApiError::oauth(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Grant Type is NULL"));
        }
        Some(_) => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Grant Type is not supported",
            ));
        }
    }
    let now = simulator.sandbox().clock().now();
    let mut state = simulator.state();
    // PayPal hands back the app's current token, with what is left of its lifetime, until it
    // expires; only then does a new one appear.
    let current = state
        .latest_token
        .get(&client_id)
        .and_then(|token| state.tokens.get(token).map(|issued| (token.clone(), issued.expires_at)))
        .filter(|(_, expires_at)| *expires_at > now);
    let (access_token, expires_at) = match current {
        Some(current) => current,
        None => {
            let token = format!("A21AA{}", ids::token(92));
            let expires_at = now + TOKEN_LIFETIME;
            state.tokens.insert(token.clone(), Token { client_id: client_id.clone(), expires_at });
            state.latest_token.insert(client_id, token.clone());
            (token, expires_at)
        }
    };
    drop(state);
    let body = json!({
        "scope": SCOPES,
        "access_token": access_token,
        "token_type": "Bearer",
        "app_id": simulator.parties().app_id,
        "expires_in": (expires_at - now).num_seconds().max(1),
        "nonce": format!("{}{}", now.to_rfc3339_opts(SecondsFormat::Secs, true), ids::token(43)),
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn authenticate_client(simulator: &PaypalSimulator, headers: &HeaderMap) -> Result<String, ApiError> {
    let refused = || ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", "Client Authentication failed");
    let encoded = header_text(headers, "authorization")
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim())
        .ok_or_else(refused)?;
    let decoded = BASE64.decode(encoded).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(refused)?;
    let (client_id, secret) = decoded.split_once(':').ok_or_else(refused)?;
    let state = simulator.state();
    match state.clients.get(client_id) {
        Some(expected) if expected == secret => Ok(client_id.to_owned()),
        _ => Err(refused()),
    }
}
