//! The webhook event log (`/v1/notifications/webhooks-events…`: list, show, resend) and
//! `POST /v1/notifications/verify-webhook-signature` for the transmissions this simulator made.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Merchant;
use super::errors::ApiError;
use super::signing::signed_string;
use super::{PaypalSimulator, answer, json_response, parse_body};

const DEFAULT_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 300;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/notifications/webhooks-events", get(list_events))
        .route("/v1/notifications/webhooks-events/{id}", get(show_event))
        .route("/v1/notifications/webhooks-events/{id}/resend", post(resend_event))
        .route("/v1/notifications/verify-webhook-signature", post(verify_signature))
}

#[derive(Deserialize)]
struct EventQuery {
    page_size: Option<usize>,
    event_type: Option<String>,
    transaction_id: Option<String>,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
}

/// Newest first, as PayPal lists them; `transaction_id` matches the resource's id.
async fn list_events(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return ApiError::v1_validation("query", "page_size must be a number and times RFC 3339").into_response();
    };
    let page_size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let state = simulator.state();
    let events: Vec<Value> = state
        .events
        .iter()
        .rev()
        .filter(|event| event.client_id == merchant.client_id)
        .filter(|event| query.event_type.as_ref().is_none_or(|wanted| &event.event_type == wanted))
        .filter(|event| query.start_time.is_none_or(|start| event.create_time >= start))
        .filter(|event| query.end_time.is_none_or(|end| event.create_time <= end))
        .filter(|event| {
            query.transaction_id.as_ref().is_none_or(|id| event.json["resource"]["id"].as_str() == Some(id.as_str()))
        })
        .take(page_size)
        .map(|event| event.json.clone())
        .collect();
    json_response(StatusCode::OK, &json!({ "events": events, "count": events.len(), "links": [] }))
}

async fn show_event(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    answer(StatusCode::OK, state.event(&merchant.client_id, &id).map(|event| event.json.clone()))
}

/// `webhook_ids` of a resend request: absent, or a list of ids.
fn listed_webhooks(request: &Value) -> Result<Option<Vec<String>>, ApiError> {
    match request.get("webhook_ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(ids)) => ids
            .iter()
            .enumerate()
            .map(|(index, id)| {
                id.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::v1_validation(&format!("webhook_ids[{index}]"), "Must be a webhook id"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::v1_validation("webhook_ids", "Must be a list of webhook ids")),
    }
}

/// Sends an event again to the listed webhooks (`{"webhook_ids": [...]}`) or to every current
/// subscription that wants it.
async fn resend_event(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let plan = parse_body(&body).and_then(|request| {
        let state = simulator.state();
        let event = state.event(&merchant.client_id, &id)?;
        let listed = listed_webhooks(&request)?;
        let targets: Vec<String> = state
            .webhooks
            .iter()
            .filter(|webhook| webhook.client_id == merchant.client_id)
            .filter(|webhook| match &listed {
                Some(listed) => listed.contains(&webhook.id),
                None => webhook.wants(&event.event_type),
            })
            .map(|webhook| webhook.id.clone())
            .collect();
        Ok((event.event_type.clone(), event.body.clone(), event.json.clone(), targets))
    });
    match plan {
        Ok((event_type, body, json, targets)) => {
            for webhook_id in targets {
                simulator.deliver(&id, &event_type, body.clone(), webhook_id);
            }
            json_response(StatusCode::ACCEPTED, &json)
        }
        Err(error) => error.into_response(),
    }
}

struct VerifyRequest {
    auth_algo: String,
    cert_url: String,
    transmission_id: String,
    transmission_sig: String,
    transmission_time: String,
    webhook_id: String,
    webhook_event: Value,
}

/// Letters and digits only (`^[a-zA-Z0-9]+$`), as the document asks of `auth_algo` and `webhook_id`.
fn alphanumeric(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A word character first, no blank, not digits alone (`^(?!\d+$)\w+\S+`), as the document asks of
/// the transmission's id and signature.
fn transmission_token(text: &str) -> bool {
    text.chars().next().is_some_and(|first| first.is_alphanumeric() || first == '_')
        && text.chars().count() >= 2
        && !text.chars().any(char::is_whitespace)
        && !text.bytes().all(|b| b.is_ascii_digit())
}

fn anything(_: &str) -> bool {
    true
}

/// A required string field of the verification request: at most `max` characters, `well_formed`.
fn verify_field(
    request: &serde_json::Map<String, Value>,
    field: &str,
    max: usize,
    well_formed: fn(&str) -> bool,
) -> Result<String, ApiError> {
    match request.get(field) {
        None | Some(Value::Null) => Err(ApiError::v1_validation(field, "Required field cannot be blank")),
        Some(Value::String(text)) if text.chars().count() > max => {
            Err(ApiError::v1_validation(field, &format!("Must be at most {max} characters")))
        }
        Some(Value::String(text)) if text.is_empty() || !well_formed(text) => {
            Err(ApiError::v1_validation(field, "Invalid format"))
        }
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(ApiError::v1_validation(field, "Must be a string")),
    }
}

/// The HTTP methods a link may name.
const LINK_METHODS: [&str; 8] = ["GET", "POST", "PUT", "DELETE", "HEAD", "CONNECT", "OPTIONS", "PATCH"];

/// `major.minor`, as the document's `event_version` and `resource_version` (`^([0-9]+.[0-9]+)$`).
fn is_version(text: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    text.split_once('.').is_some_and(|(major, minor)| digits(major) && digits(minor))
}

/// The event of a verification request, held to the document's `event` schema: its typed
/// fields, its versions, and links with an `href`, a `rel` and an HTTP method. Whether it is the
/// event that was sent is for the signature to say.
fn check_event(event: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    let refuse = |field: &str, issue: &str| Err(ApiError::v1_validation(&format!("webhook_event.{field}"), issue));
    for name in ["id", "create_time", "resource_type", "event_type", "summary"] {
        if event.get(name).is_some_and(|value| !value.is_string()) {
            return refuse(name, "Must be a string");
        }
    }
    for name in ["event_version", "resource_version"] {
        if event.get(name).is_some_and(|value| !value.as_str().is_some_and(is_version)) {
            return refuse(name, "Must be a version such as 1.0");
        }
    }
    if event.get("resource").is_some_and(|value| !value.is_object()) {
        return refuse("resource", "Must be an object");
    }
    let links = match event.get("links") {
        None => return Ok(()),
        Some(Value::Array(links)) => links,
        Some(_) => return refuse("links", "Must be a list of links"),
    };
    for (index, link) in links.iter().enumerate() {
        let Value::Object(link) = link else { return refuse(&format!("links[{index}]"), "Must be a link") };
        for name in ["href", "rel"] {
            if !link.get(name).is_some_and(Value::is_string) {
                return refuse(&format!("links[{index}].{name}"), "Required string");
            }
        }
        if link
            .get("method")
            .is_some_and(|method| !method.as_str().is_some_and(|method| LINK_METHODS.contains(&method)))
        {
            return refuse(&format!("links[{index}].method"), "Must be an HTTP method");
        }
    }
    Ok(())
}

impl VerifyRequest {
    /// The request, its fields held to the document's lengths and patterns.
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let Value::Object(request) = parse_body(body)? else {
            return Err(ApiError::v1_validation("/", "The request must be a JSON object"));
        };
        let webhook_event = match request.get("webhook_event") {
            Some(Value::Object(event)) => {
                check_event(event)?;
                Value::Object(event.clone())
            }
            None | Some(Value::Null) => {
                return Err(ApiError::v1_validation("webhook_event", "Required field cannot be blank"));
            }
            Some(_) => return Err(ApiError::v1_validation("webhook_event", "Must be the event object")),
        };
        Ok(Self {
            auth_algo: verify_field(&request, "auth_algo", 100, alphanumeric)?,
            cert_url: verify_field(&request, "cert_url", 500, anything)?,
            transmission_id: verify_field(&request, "transmission_id", 50, transmission_token)?,
            transmission_sig: verify_field(&request, "transmission_sig", 500, transmission_token)?,
            transmission_time: verify_field(&request, "transmission_time", 100, anything)?,
            webhook_id: verify_field(&request, "webhook_id", 50, alphanumeric)?,
            webhook_event,
        })
    }
}

/// `SUCCESS` only for a transmission this simulator made, with every header value as sent and
/// the same event (compared as JSON, so a re-serialized event still verifies).
async fn verify_signature(State(simulator): State<Arc<PaypalSimulator>>, _merchant: Merchant, body: Bytes) -> Response {
    let request = match VerifyRequest::parse(&body) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let verified = verifies(&simulator, &request);
    let status = if verified { "SUCCESS" } else { "FAILURE" };
    json_response(StatusCode::OK, &json!({ "verification_status": status }))
}

fn verifies(simulator: &PaypalSimulator, request: &VerifyRequest) -> bool {
    let VerifyRequest {
        auth_algo: algo,
        cert_url,
        transmission_id: id,
        transmission_sig: signature,
        transmission_time: time,
        webhook_id,
        webhook_event: event,
    } = request;
    if algo != "SHA256withRSA" || *cert_url != simulator.cert_url() {
        return false;
    }
    let state = simulator.state();
    let Some(sent) = state.transmissions.get(id) else {
        return false;
    };
    let same_event = event.get("id").and_then(Value::as_str) == Some(sent.event_id.as_str())
        && serde_json::from_slice::<Value>(&sent.body).ok().as_ref() == Some(event);
    same_event
        && sent.webhook_id == *webhook_id
        && sent.transmission_time == *time
        && sent.signature == *signature
        && simulator.key.verify(signed_string(id, time, webhook_id, &sent.body).as_bytes(), signature)
}
