//! Every error leaves as RFC 9457 problem+json with a stable `code` (also in the `type` URI,
//! which resolves to a page explaining it) and a `detail` that says what to do.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use payhub_store::{ConstraintKind, StoreError};

pub use super::problem::ProblemType;
use crate::providers::ProviderError;
use crate::services::ServiceError;

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    /// The request's id (its `X-Request-Id`), for finding it in payhub's logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extension members (`errors`, `remaining`, `resource_id`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// What a 503 asks clients to wait before trying again.
const RETRY_AFTER_SECONDS: &str = "5";

/// Members every problem has; extensions must not reuse their names.
const RESERVED_MEMBERS: [&str; 7] = ["type", "title", "status", "detail", "instance", "code", "request_id"];

#[derive(Debug)]
pub struct ApiError {
    problem: ProblemType,
    detail: String,
    extensions: Map<String, Value>,
}

impl ApiError {
    pub fn new(problem: ProblemType, detail: impl Into<String>) -> Self {
        Self { problem, detail: detail.into(), extensions: Map::new() }
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
        Self::new(ProblemType::InvalidRequest, format!("{field}: {message}"))
            .with("errors", json!([{ "field": field, "message": message }]))
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ProblemType::NotFound, format!("no {what} `{id}` in this mode"))
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::InternalError, detail)
    }

    pub fn into_problem(self) -> Problem {
        Problem {
            problem_type: self.problem.uri(),
            title: self.problem.title().to_owned(),
            status: self.problem.status().as_u16(),
            detail: self.detail,
            code: self.problem.code().to_owned(),
            // Stamped on the way out by `request_id::assign`, which knows the request.
            request_id: None,
            extensions: self.extensions,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem_type = self.problem;
        let mut response = (problem_type.status(), Json(self.into_problem())).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if problem_type.status() == StatusCode::SERVICE_UNAVAILABLE {
            // A database restart or failover takes seconds: clients and providers come back soon
            // rather than at their slowest retry.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        // Middleware (idempotency) decides by the problem type, not by parsing the body.
        response.extensions_mut().insert(problem_type);
        response
    }
}

/// Every service failure has its problem type here, and only here: the match has no catch-all,
/// so a new variant cannot silently become a 500.
impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound { resource, id } => ApiError::not_found(resource, &id),
            ServiceError::Invalid { field, message } => ApiError::invalid(&field, message),
            ServiceError::Conflict { message, status } => {
                ApiError::new(ProblemType::InvalidState, message).with("current_status", status)
            }
            ServiceError::RefundExceeds { requested, remaining } => ApiError::new(
                ProblemType::RefundExceedsRemaining,
                format!("refund of {requested} exceeds the {remaining} still refundable"),
            )
            .with("remaining", json!({ "amount": remaining.amount, "currency": remaining.currency.code() }))
            .with("requested", json!({ "amount": requested.amount, "currency": requested.currency.code() })),
            ServiceError::RefundRefused(rejection) => ApiError::invalid("amount", rejection.to_string()),
            ServiceError::PaymentDisputed { dispute_id } => ApiError::new(
                ProblemType::PaymentDisputed,
                format!("the payment is disputed in {dispute_id}; it cannot be refunded while the dispute is open"),
            )
            .with("dispute_id", dispute_id),
            ServiceError::DisputeActionNotAllowed { dispute_id, action, status, allowed } => ApiError::new(
                ProblemType::DisputeActionNotAllowed,
                format!("dispute {dispute_id} is {status}; `{action}` is not allowed now"),
            )
            .with("current_status", status)
            .with("allowed_actions", allowed),
            ServiceError::ProviderNotConfigured { provider, mode } => ApiError::new(
                ProblemType::ProviderNotConfigured,
                format!(
                    "{provider} is not configured for {mode} mode; add [{provider}.{mode}] to payhub's configuration"
                ),
            ),
            ServiceError::Provider { error, resource_id } => provider_problem(error, resource_id),
            ServiceError::Store(e) => ApiError::from(e),
        }
    }
}

fn provider_problem(error: ProviderError, resource_id: Option<String>) -> ApiError {
    let detail = error.to_string();
    let api = match &error {
        // Refused before anything was sent: nothing was recorded, so no `resource_id`.
        ProviderError::Unsupported { provider, capability } => {
            let fix = match capability {
                crate::providers::Capability::ManualCapture => format!(
                    "{detail}: it takes the money when the buyer pays, with no separate capture; use capture_method `automatic` or a provider that offers {capability}"
                ),
                _ => format!("{detail}; use a provider that offers {capability}"),
            };
            return ApiError::new(ProblemType::ProviderCapabilityUnsupported, fix)
                .with("provider", provider.as_str())
                .with("capability", capability.as_str());
        }
        ProviderError::Timeout(_) => ApiError::new(ProblemType::ProviderTimeout, detail),
        ProviderError::Unavailable { .. } => ApiError::new(ProblemType::ProviderUnavailable, detail),
        ProviderError::Protocol { .. } => ApiError::new(ProblemType::ProviderProtocolError, detail),
        ProviderError::FundingDeclined { code, redirect_url, .. } => {
            ApiError::new(ProblemType::ProviderRejected, detail)
                .with("provider_code", code.clone())
                .with("redirect_url", redirect_url.clone())
        }
        ProviderError::Rejected { code, debug_id, .. } => {
            let api = ApiError::new(ProblemType::ProviderRejected, detail).with("provider_code", code.clone());
            match debug_id {
                Some(debug_id) => api.with("provider_debug_id", debug_id.clone()),
                None => api,
            }
        }
    };
    match resource_id {
        Some(id) => api.with("resource_id", id),
        None => api,
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            // The database refused the write: the request, not the database, has to change.
            StoreError::Constraint { constraint, .. } => {
                tracing::warn!(error = %error, "a write broke a constraint while serving a request");
                let problem = match constraint.kind {
                    ConstraintKind::Unique => ProblemType::AlreadyExists,
                    ConstraintKind::ForeignKey | ConstraintKind::Check | ConstraintKind::NotNull => {
                        ProblemType::ConstraintViolated
                    }
                };
                ApiError::new(problem, constraint.meaning)
            }
            StoreError::Database(_) | StoreError::Conflict(_) | StoreError::CommitFailed(_) if error.is_transient() => {
                tracing::warn!(error = %error, "the database is unavailable while serving a request");
                ApiError::new(ProblemType::ServiceUnavailable, "the database is unavailable right now; retry shortly")
            }
            StoreError::Database(_)
            | StoreError::Conflict(_)
            | StoreError::CommitFailed(_)
            | StoreError::Migrate(_)
            | StoreError::UnsupportedUrl(_)
            | StoreError::Corrupt(_) => {
                tracing::error!(error = %error, "store error while serving a request");
                ApiError::internal("an internal error occurred; the logs have the details")
            }
        }
    }
}

/// `GET /problems/{code}`: what a problem type means, for humans following the `type` link.
pub async fn describe(axum::extract::Path(code): axum::extract::Path<String>) -> Response {
    match ProblemType::from_code(&code) {
        Some(problem) => Json(json!({
            "code": problem.code(),
            "status": problem.status().as_u16(),
            "title": problem.title(),
            "meaning": problem.meaning(),
        }))
        .into_response(),
        None => ApiError::not_found("problem type", &code).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_carries_its_code_type_and_extensions() {
        let problem = ApiError::invalid("amount", "must be positive").into_problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.problem_type, "/problems/invalid_request");
        assert_eq!(problem.extensions["errors"][0]["field"], "amount");
    }

    fn broken(kind: ConstraintKind) -> StoreError {
        let constraint = payhub_store::Constraint { kind, meaning: "the provider's payment is already recorded" };
        StoreError::Constraint { constraint, detail: "UNIQUE constraint failed".into() }
    }

    #[test]
    fn a_refused_write_is_a_409_or_422_with_its_meaning_and_a_lost_database_a_503() {
        let duplicate = ApiError::from(broken(ConstraintKind::Unique)).into_problem();
        assert_eq!((duplicate.status, duplicate.code.as_str()), (409, "already_exists"));
        assert_eq!(duplicate.detail, "the provider's payment is already recorded");
        for kind in [ConstraintKind::Check, ConstraintKind::NotNull, ConstraintKind::ForeignKey] {
            let refused = ApiError::from(broken(kind)).into_problem();
            assert_eq!((refused.status, refused.code.as_str()), (422, "constraint_violated"));
        }
        let unavailable = ApiError::from(StoreError::Database(sqlx::Error::PoolTimedOut)).into_response();
        assert_eq!(unavailable.status(), 503);
        assert_eq!(unavailable.headers()["retry-after"], "5", "a 503 says when to come back");
        let corrupt = ApiError::from(StoreError::Corrupt("bad currency".into())).into_problem();
        assert_eq!(corrupt.status, 500);
    }

    #[test]
    fn a_missing_capability_is_a_422_naming_the_provider_and_the_capability() {
        let unsupported = ProviderError::Unsupported {
            provider: payhub_core::ProviderName::Pingpp,
            capability: crate::providers::Capability::Subscriptions,
        };
        let problem = ApiError::from(ServiceError::Provider { error: unsupported, resource_id: Some("plan_1".into()) })
            .into_problem();
        assert_eq!((problem.status, problem.code.as_str()), (422, "provider_capability_unsupported"));
        assert_eq!(problem.extensions["provider"], "pingpp");
        assert_eq!(problem.extensions["capability"], "subscriptions");
        assert!(problem.extensions.get("resource_id").is_none(), "nothing was recorded");
    }
}
