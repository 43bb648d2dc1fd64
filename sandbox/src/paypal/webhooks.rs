//! Webhooks v1 subscriptions (`/v1/notifications/webhooks…`): create, list, show, patch and
//! delete, with PayPal's limits (ten URLs per app, no URL twice).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Duration;
use serde_json::{Value, json};

use super::auth::Merchant;
use super::errors::ApiError;
use super::render::link;
use super::state::Webhook;
use super::{PaypalSimulator, answer, json_response, parse_body};
use crate::ids;

/// PayPal allows ten webhook URLs per app.
const MAX_WEBHOOKS_PER_APP: usize = 10;
/// The longest listener URL PayPal stores.
const MAX_URL_CHARS: usize = 2048;
const NOTIFICATION_KEY_RETENTION: Duration = Duration::hours(72);

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/notifications/webhooks", post(create_webhook).get(list_webhooks))
        .route("/v1/notifications/webhooks/{id}", get(show_webhook).patch(update_webhook).delete(delete_webhook))
}

impl PaypalSimulator {
    fn webhook_json(&self, webhook: &Webhook) -> Value {
        let url = format!("{}/v1/notifications/webhooks/{}", self.base_url(), webhook.id);
        let event_types: Vec<Value> =
            webhook.event_types.iter().map(|name| json!({ "name": name, "description": describe(name) })).collect();
        json!({
            "id": webhook.id,
            "url": webhook.url,
            "event_types": event_types,
            "links": [link(url.clone(), "self", "GET"), link(url.clone(), "update", "PATCH"), link(url, "delete", "DELETE")],
        })
    }
}

fn describe(event_type: &str) -> &'static str {
    match event_type {
        "*" => "ALL",
        "CHECKOUT.ORDER.APPROVED" => "An order has been approved by buyer.",
        "PAYMENT.CAPTURE.COMPLETED" => "A payment capture completes.",
        "PAYMENT.CAPTURE.PENDING" => "The state of a payment capture changes to pending.",
        "PAYMENT.CAPTURE.DECLINED" => "A payment capture is declined.",
        "PAYMENT.CAPTURE.DENIED" => "A payment capture is denied.",
        "PAYMENT.CAPTURE.REFUNDED" => "A merchant refunds a payment capture.",
        "PAYMENT.CAPTURE.REVERSED" => "PayPal reverses a payment capture.",
        "PAYMENT.AUTHORIZATION.CREATED" => {
            "A payment authorization is created, approved, executed, or a future payment authorization is created."
        }
        "PAYMENT.AUTHORIZATION.VOIDED" => "A payment authorization is voided.",
        _ => "",
    }
}

/// `*`, or dotted upper-case names such as `PAYMENT.CAPTURE.COMPLETED`. Any such name is accepted,
/// so subscriptions for events the sandbox does not raise yet (subscriptions, disputes) work.
fn parse_event_types(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let Some(Value::Array(types)) = value else {
        return Err(ApiError::v1_validation("event_types", "Required field cannot be blank"));
    };
    if types.is_empty() {
        return Err(ApiError::v1_validation("event_types", "Required field cannot be blank"));
    }
    let mut names = Vec::with_capacity(types.len());
    for (index, entry) in types.iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(ApiError::v1_validation(&format!("event_types[{index}]"), "Must be an event type object"));
        };
        let name = entry.get("name").and_then(Value::as_str).unwrap_or_default();
        let well_formed = name == "*"
            || (name.contains('.')
                && name.split('.').all(|part| {
                    !part.is_empty()
                        && part.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
                }));
        if !well_formed {
            return Err(ApiError::v1_validation(&format!("event_types[{index}].name"), "Event type is not supported"));
        }
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn parse_url(value: Option<&Value>) -> Result<String, ApiError> {
    let url = value.and_then(Value::as_str).filter(|url| !url.trim().is_empty());
    let url = url.ok_or_else(|| ApiError::v1_validation("url", "Required field cannot be blank"))?;
    if url.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::v1_validation("url", "Must be at most 2048 characters"));
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(url.to_owned()),
        _ => Err(ApiError::v1_validation("url", "Invalid URL; an absolute http or https URL is required")),
    }
}

async fn create_webhook(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = merchant.client_id;
    simulator.idempotent_post(&client_id, "/v1/notifications/webhooks", &headers, NOTIFICATION_KEY_RETENTION, |state| {
        let request = parse_body(&body)?;
        let url = parse_url(request.get("url"))?;
        let event_types = parse_event_types(request.get("event_types"))?;
        let owned = state.webhooks.iter().filter(|webhook| webhook.client_id == client_id);
        if owned.clone().any(|webhook| webhook.url == url) {
            return Err(ApiError::v1(
                StatusCode::BAD_REQUEST,
                "WEBHOOK_URL_ALREADY_EXISTS",
                "Webhook URL already exists",
            ));
        }
        if owned.count() >= MAX_WEBHOOKS_PER_APP {
            return Err(ApiError::v1(
                StatusCode::BAD_REQUEST,
                "WEBHOOK_NUMBER_LIMIT_EXCEEDED",
                "Maximum number of webhooks per app exceeded",
            ));
        }
        let webhook = Webhook { id: ids::upper_alphanumeric(17), client_id: client_id.clone(), url, event_types };
        let body = simulator.webhook_json(&webhook);
        state.webhooks.push(webhook);
        Ok(((StatusCode::CREATED, body), Vec::new()))
    })
}

async fn list_webhooks(State(simulator): State<Arc<PaypalSimulator>>, merchant: Merchant) -> Response {
    let state = simulator.state();
    let webhooks: Vec<Value> = state
        .webhooks
        .iter()
        .filter(|webhook| webhook.client_id == merchant.client_id)
        .map(|webhook| simulator.webhook_json(webhook))
        .collect();
    json_response(StatusCode::OK, &json!({ "webhooks": webhooks }))
}

async fn show_webhook(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    answer(StatusCode::OK, state.webhook(&merchant.client_id, &id).map(|webhook| simulator.webhook_json(webhook)))
}

/// JSON Patch `replace` of `/url` or `/event_types`, the two fields PayPal lets one change.
async fn update_webhook(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let outcome = parse_body(&body).and_then(|patch| {
        let operations =
            patch.as_array().ok_or_else(|| ApiError::v1_validation("/", "A JSON Patch array is required"))?;
        let mut state = simulator.state();
        state.webhook(&merchant.client_id, &id)?;
        let mut url = None;
        let mut event_types = None;
        for (index, operation) in operations.iter().enumerate() {
            let field = |name: &str| format!("/{index}{name}");
            if !operation.is_object() {
                return Err(ApiError::v1_validation(&field(""), "A JSON Patch operation is an object"));
            }
            if operation.get("op").and_then(Value::as_str) != Some("replace") {
                return Err(ApiError::v1_validation(&field("/op"), "Only the replace operation is supported"));
            }
            match operation.get("path").and_then(Value::as_str) {
                Some("/url") => url = Some(parse_url(operation.get("value"))?),
                Some("/event_types") => event_types = Some(parse_event_types(operation.get("value"))?),
                _ => {
                    return Err(ApiError::v1_validation(&field("/path"), "Only /url and /event_types can be patched"));
                }
            }
        }
        let webhook = state
            .webhooks
            .iter_mut()
            .find(|webhook| webhook.id == id && webhook.client_id == merchant.client_id)
            .ok_or_else(ApiError::v1_not_found)?;
        if let Some(url) = url {
            webhook.url = url;
        }
        if let Some(event_types) = event_types {
            webhook.event_types = event_types;
        }
        Ok(simulator.webhook_json(webhook))
    });
    answer(StatusCode::OK, outcome)
}

async fn delete_webhook(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let mut state = simulator.state();
    let before = state.webhooks.len();
    state.webhooks.retain(|webhook| !(webhook.id == id && webhook.client_id == merchant.client_id));
    if state.webhooks.len() == before {
        return ApiError::v1_not_found().into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}
