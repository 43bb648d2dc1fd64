//! Every error leaves as RFC 9457 problem+json with a stable `code` (also in the `type` URI,
//! which resolves to a page explaining it) and a `detail` that says what to do.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::providers::ProviderError;
use crate::services::ServiceError;

/// The problem types payhub answers with: (code, HTTP status, title, what it means).
pub const PROBLEMS: &[(&str, u16, &str, &str)] = &[
    (
        "api_key_missing",
        401,
        "API key missing",
        "Send `Authorization: Bearer <API key>`; create keys with `payhub keys create`.",
    ),
    (
        "api_key_invalid",
        401,
        "API key not valid",
        "The key is unknown or revoked; check for typos or create a new one with `payhub keys create`.",
    ),
    (
        "idempotency_key_missing",
        400,
        "Idempotency-Key missing",
        "Every POST needs an `Idempotency-Key` header (any unique string up to 255 characters, e.g. a UUID) so a retry can never act twice.",
    ),
    ("idempotency_key_invalid", 400, "Idempotency-Key not valid", "Use 1 to 255 visible ASCII characters."),
    (
        "idempotency_key_reused",
        422,
        "Idempotency-Key reused",
        "This key was used for a different request; use a new key for a new request.",
    ),
    (
        "idempotency_key_in_use",
        409,
        "Request in progress",
        "A request with this key is still running; retry after it finishes to get its result.",
    ),
    ("malformed_request", 400, "Malformed request", "The body or query could not be read; the detail says where."),
    ("unsupported_media_type", 415, "Unsupported media type", "Send JSON with `Content-Type: application/json`."),
    ("payload_too_large", 413, "Payload too large", "The body exceeds the size limit."),
    (
        "invalid_request",
        422,
        "Invalid request",
        "A field has a value payhub cannot accept; `errors` names it and says why.",
    ),
    ("not_found", 404, "Not found", "No such resource in this mode (test and live keys see different objects)."),
    (
        "method_not_allowed",
        405,
        "Method not allowed",
        "This path exists but not with this method; /openapi.json lists each path's methods.",
    ),
    (
        "invalid_state",
        409,
        "Not allowed in this state",
        "The resource's current status does not allow this action; `status` says what it is.",
    ),
    (
        "refund_exceeds_remaining",
        422,
        "Refund exceeds the refundable amount",
        "Ask for at most `remaining` (captured minus refunded minus refunds in flight).",
    ),
    (
        "provider_not_configured",
        422,
        "Provider not configured",
        "The provider has no credentials for this mode; add them to payhub's configuration.",
    ),
    (
        "provider_timeout",
        504,
        "Provider timeout",
        "The provider did not answer in time. What payhub recorded is named in `resource_id`; payhub will confirm the outcome with the provider by itself.",
    ),
    (
        "provider_unavailable",
        502,
        "Provider unavailable",
        "The provider could not be reached or failed. What payhub recorded is named in `resource_id`; retry with a new Idempotency-Key later.",
    ),
    (
        "provider_rejected",
        502,
        "Provider rejected the request",
        "The provider refused; `provider_code` and `detail` carry its reason.",
    ),
    (
        "provider_protocol_error",
        502,
        "Unexpected provider answer",
        "The provider answered in a shape payhub cannot read; contact support with `resource_id`.",
    ),
    (
        "notification_rejected",
        401,
        "Notification rejected",
        "The notification failed verification and was recorded, not applied.",
    ),
    (
        "malformed_notification",
        400,
        "Malformed notification",
        "The notification body could not be read; it was recorded, not applied.",
    ),
    ("service_unavailable", 503, "Service unavailable", "payhub cannot reach its database right now; retry shortly."),
    ("internal_error", 500, "Internal error", "Something unexpected failed; the logs have the details."),
];

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    /// Extension members (`errors`, `remaining`, `resource_id`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// Members every problem has; extensions must not reuse their names.
const RESERVED_MEMBERS: [&str; 6] = ["type", "title", "status", "detail", "instance", "code"];

#[derive(Debug)]
pub struct ApiError {
    code: &'static str,
    detail: String,
    extensions: Map<String, Value>,
}

impl ApiError {
    /// `code` must be one of [`PROBLEMS`].
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), extensions: Map::new() }
    }

    /// Adds an extension member. The members RFC 9457 defines (and our `code`) are not
    /// extensions: a second `status` would make clients read a resource state as the HTTP status.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        debug_assert!(!RESERVED_MEMBERS.contains(&key), "`{key}` is a problem member, not an extension");
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new("invalid_request", format!("{field}: {message}"))
            .with("errors", json!([{ "field": field, "message": message }]))
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new("not_found", format!("no {what} `{id}` in this mode"))
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn catalog(&self) -> (u16, &'static str) {
        PROBLEMS
            .iter()
            .find(|(code, ..)| *code == self.code)
            .map(|(_, status, title, _)| (*status, *title))
            .unwrap_or((500, "Internal error"))
    }

    pub fn into_problem(self) -> Problem {
        let (status, title) = self.catalog();
        Problem {
            problem_type: format!("/problems/{}", self.code),
            title: title.to_owned(),
            status,
            detail: self.detail,
            code: self.code.to_owned(),
            extensions: self.extensions,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.into_problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound { resource, id } => ApiError::not_found(resource, &id),
            ServiceError::Invalid { field, message } => ApiError::invalid(&field, message),
            ServiceError::Conflict { message, status } => {
                ApiError::new("invalid_state", message).with("current_status", status)
            }
            ServiceError::RefundExceeds { requested, remaining } => ApiError::new(
                "refund_exceeds_remaining",
                format!("refund of {requested} exceeds the {remaining} still refundable"),
            )
            .with("remaining", json!({ "amount": remaining.amount, "currency": remaining.currency.code() }))
            .with("requested", json!({ "amount": requested.amount, "currency": requested.currency.code() })),
            ServiceError::RefundRefused(rejection) => ApiError::invalid("amount", rejection.to_string()),
            ServiceError::ProviderNotConfigured { provider, mode } => ApiError::new(
                "provider_not_configured",
                format!(
                    "{provider} is not configured for {mode} mode; add [{provider}.{mode}] to payhub's configuration"
                ),
            ),
            ServiceError::Provider { error, resource_id } => {
                let code = match &error {
                    ProviderError::Timeout(_) => "provider_timeout",
                    ProviderError::Unavailable { .. } => "provider_unavailable",
                    ProviderError::Rejected { .. } => "provider_rejected",
                    ProviderError::Protocol { .. } => "provider_protocol_error",
                    ProviderError::Unsupported { .. } => "provider_unsupported",
                };
                let mut api = ApiError::new(code, error.to_string());
                if let Some(id) = resource_id {
                    api = api.with("resource_id", id);
                }
                if let ProviderError::Rejected { code, debug_id, .. } = &error {
                    api = api.with("provider_code", code.clone());
                    if let Some(debug_id) = debug_id {
                        api = api.with("provider_debug_id", debug_id.clone());
                    }
                }
                api
            }
            ServiceError::Store(e) => ApiError::from(e),
        }
    }
}

impl From<payhub_store::StoreError> for ApiError {
    fn from(error: payhub_store::StoreError) -> Self {
        tracing::error!(error = %error, "store error while serving a request");
        if error.is_transient() {
            ApiError::new("service_unavailable", "the database is unavailable right now; retry shortly")
        } else {
            ApiError::new("internal_error", "an internal error occurred; the logs have the details")
        }
    }
}

/// `GET /problems/{code}`: what a problem type means, for humans following the `type` link.
pub async fn describe(axum::extract::Path(code): axum::extract::Path<String>) -> Response {
    match PROBLEMS.iter().find(|(c, ..)| *c == code) {
        Some((code, status, title, meaning)) => {
            Json(json!({ "code": code, "status": status, "title": title, "meaning": meaning })).into_response()
        }
        None => ApiError::not_found("problem type", &code).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_code_is_unique_and_maps_to_a_4xx_or_5xx() {
        let mut codes: Vec<_> = PROBLEMS.iter().map(|(c, ..)| *c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), PROBLEMS.len());
        assert!(PROBLEMS.iter().all(|(_, status, ..)| (400..600).contains(status)));
    }

    #[test]
    fn a_problem_carries_its_code_type_and_extensions() {
        let problem = ApiError::invalid("amount", "must be positive").into_problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.problem_type, "/problems/invalid_request");
        assert_eq!(problem.extensions["errors"][0]["field"], "amount");
    }
}
