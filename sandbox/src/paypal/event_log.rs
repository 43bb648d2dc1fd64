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
        let listed: Option<Vec<String>> = request
            .get("webhook_ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect());
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

#[derive(Deserialize)]
struct VerifyRequest {
    auth_algo: Option<String>,
    cert_url: Option<String>,
    transmission_id: Option<String>,
    transmission_sig: Option<String>,
    transmission_time: Option<String>,
    webhook_id: Option<String>,
    webhook_event: Option<Value>,
}

/// `SUCCESS` only for a transmission this simulator made, with every header value as sent and
/// the same event (compared as JSON, so a re-serialized event still verifies).
async fn verify_signature(State(simulator): State<Arc<PaypalSimulator>>, _merchant: Merchant, body: Bytes) -> Response {
    let request: VerifyRequest = match parse_body(&body).and_then(|value| {
        serde_json::from_value(value)
            .map_err(|_| ApiError::v1_validation("/", "The request fields have the wrong types"))
    }) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let required = [
        ("auth_algo", request.auth_algo.is_some()),
        ("cert_url", request.cert_url.is_some()),
        ("transmission_id", request.transmission_id.is_some()),
        ("transmission_sig", request.transmission_sig.is_some()),
        ("transmission_time", request.transmission_time.is_some()),
        ("webhook_id", request.webhook_id.is_some()),
        ("webhook_event", request.webhook_event.is_some()),
    ];
    if let Some((field, _)) = required.iter().find(|(_, present)| !present) {
        return ApiError::v1_validation(field, "Required field cannot be blank").into_response();
    }
    let verified = verifies(&simulator, &request);
    let status = if verified { "SUCCESS" } else { "FAILURE" };
    json_response(StatusCode::OK, &json!({ "verification_status": status }))
}

fn verifies(simulator: &PaypalSimulator, request: &VerifyRequest) -> bool {
    let (Some(algo), Some(cert_url), Some(id), Some(signature), Some(time), Some(webhook_id), Some(event)) = (
        &request.auth_algo,
        &request.cert_url,
        &request.transmission_id,
        &request.transmission_sig,
        &request.transmission_time,
        &request.webhook_id,
        &request.webhook_event,
    ) else {
        return false;
    };
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
