//! The problem types payhub answers with. Each fixes, in one place, its stable code (also the
//! last segment of the `type` URI), its HTTP status, its title and what it means; the
//! `/problems/{code}` pages are generated from this list, so a code cannot be answered without a
//! status nor documented without existing.

use axum::http::StatusCode;

/// Declares [`ProblemType`] from one table: variant, code, status, title, meaning.
macro_rules! problem_types {
    ($($variant:ident => $code:literal, $status:ident, $title:literal, $meaning:literal;)*) => {
        /// A kind of failure a client can branch on (RFC 9457 "problem type").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemType {
            $($variant,)*
        }

        impl ProblemType {
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant,)*];

            /// The stable, snake_case code clients match on.
            pub const fn code(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $code,)*
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(ProblemType::$variant => StatusCode::$status,)*
                }
            }

            pub const fn title(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $title,)*
                }
            }

            /// What the problem means and what to do about it, for the `/problems/{code}` page.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $meaning,)*
                }
            }
        }
    };
}

problem_types! {
    ApiKeyMissing => "api_key_missing", UNAUTHORIZED, "API key missing",
        "Send `Authorization: Bearer <API key>`; create keys with `payhub keys create`.";
    ApiKeyInvalid => "api_key_invalid", UNAUTHORIZED, "API key not valid",
        "The key is unknown or revoked; check for typos or create a new one with `payhub keys create`.";
    OpsTokenRequired => "ops_token_required", UNAUTHORIZED, "Operations token required",
        "`/metrics` and `/readyz` need `Authorization: Bearer <token>` with the token in payhub's `[ops] token`.";
    OpsLocalOnly => "ops_local_only", FORBIDDEN, "Only from this host",
        "`/metrics` and `/readyz` answer only clients on payhub's own host unless the operator sets `[ops] token` (then send it as a bearer token) or `[ops] listen` (a separate address for them).";
    IdempotencyKeyMissing => "idempotency_key_missing", BAD_REQUEST, "Idempotency-Key missing",
        "Every POST needs an `Idempotency-Key` header (any unique string up to 255 characters, e.g. a UUID) so a retry can never act twice.";
    IdempotencyKeyInvalid => "idempotency_key_invalid", BAD_REQUEST, "Idempotency-Key not valid",
        "Use 1 to 255 visible ASCII characters.";
    IdempotencyKeyReused => "idempotency_key_reused", UNPROCESSABLE_ENTITY, "Idempotency-Key reused",
        "This key was used for a different request; use a new key for a new request.";
    IdempotencyKeyInUse => "idempotency_key_in_use", CONFLICT, "Request in progress",
        "A request with this key is still running; retry after it finishes to get its result.";
    MalformedRequest => "malformed_request", BAD_REQUEST, "Malformed request",
        "The body or query could not be read; the detail says where.";
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type",
        "Send JSON with `Content-Type: application/json`.";
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE, "Payload too large",
        "The body exceeds the size limit.";
    InvalidRequest => "invalid_request", UNPROCESSABLE_ENTITY, "Invalid request",
        "A field has a value payhub cannot accept; `errors` names it and says why.";
    NotFound => "not_found", NOT_FOUND, "Not found",
        "No such resource in this mode (test and live keys see different objects).";
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed",
        "This path exists but not with this method; /openapi.json lists each path's methods.";
    InvalidState => "invalid_state", CONFLICT, "Not allowed in this state",
        "The resource's current status does not allow this action; `current_status` says what it is.";
    AlreadyExists => "already_exists", CONFLICT, "Already exists",
        "What the request would create is already recorded; the detail says what. Fetch the existing resource instead of creating it again.";
    ConstraintViolated => "constraint_violated", UNPROCESSABLE_ENTITY, "Not accepted by payhub's rules",
        "The request would break a rule payhub keeps about its records; the detail names the rule. Change the request; repeating it unchanged fails the same way.";
    RefundExceedsRemaining => "refund_exceeds_remaining", UNPROCESSABLE_ENTITY, "Refund exceeds the refundable amount",
        "Ask for at most `remaining` (captured minus refunded minus refunds in flight).";
    PaymentDisputed => "payment_disputed", CONFLICT, "Payment under dispute",
        "The buyer disputes this payment (`dispute_id` names the case); it cannot be refunded while the case is open. Answer the dispute instead, e.g. `POST /v1/disputes/{id}/accept`.";
    DisputeActionNotAllowed => "dispute_action_not_allowed", CONFLICT, "Not allowed for this dispute now",
        "The dispute's state does not allow this answer now; `allowed_actions` lists what it does allow (and `GET /v1/disputes/{id}` shows its status).";
    DisputeDocumentRefused => "dispute_document_refused", UNPROCESSABLE_ENTITY, "Document not accepted",
        "A document is not one the provider accepts (PayPal: .jpg, .jpeg, .gif, .png or .pdf, each under 10 MB, 50 MB in all); nothing was sent.";
    ProviderNotConfigured => "provider_not_configured", UNPROCESSABLE_ENTITY, "Provider not configured",
        "The provider has no credentials for this mode; add them to payhub's configuration.";
    ProviderCapabilityUnsupported => "provider_capability_unsupported", UNPROCESSABLE_ENTITY, "Provider does not offer this",
        "The provider named in the request does not offer what it asks for (`provider` and `capability` say which); use a provider that does, e.g. PayPal for subscriptions.";
    ProviderTimeout => "provider_timeout", GATEWAY_TIMEOUT, "Provider timeout",
        "The provider did not answer in time. What payhub recorded is named in `resource_id`; payhub will confirm the outcome with the provider by itself.";
    ProviderUnavailable => "provider_unavailable", BAD_GATEWAY, "Provider unavailable",
        "The provider could not be reached or failed. What payhub recorded is named in `resource_id`; retry with a new Idempotency-Key later.";
    ProviderRejected => "provider_rejected", BAD_GATEWAY, "Provider rejected the request",
        "The provider refused; `provider_code` and `detail` carry its reason.";
    ProviderProtocolError => "provider_protocol_error", BAD_GATEWAY, "Unexpected provider answer",
        "The provider answered in a shape payhub cannot read; contact support with `resource_id`.";
    NotificationRejected => "notification_rejected", UNAUTHORIZED, "Notification rejected",
        "The notification failed verification and was recorded, not applied; `reason` says why.";
    MalformedNotification => "malformed_notification", BAD_REQUEST, "Malformed notification",
        "The notification body could not be read or stored; it was recorded, not applied.";
    TooManyNotifications => "too_many_notifications", TOO_MANY_REQUESTS, "Too many notifications",
        "More unconfirmed notifications came from this network than payhub takes at once; it was counted, not stored. Send it again after `Retry-After` seconds (PayPal resends IPN on its own).";
    ServiceUnavailable => "service_unavailable", SERVICE_UNAVAILABLE, "Service unavailable",
        "payhub cannot reach its database right now; retry shortly.";
    InternalError => "internal_error", INTERNAL_SERVER_ERROR, "Internal error",
        "Something unexpected failed; the logs have the details.";
}

impl ProblemType {
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|problem| problem.code() == code)
    }

    /// The `type` member: a relative URI that resolves to this problem type's page.
    pub fn uri(self) -> String {
        format!("/problems/{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ProblemType;

    #[test]
    fn every_code_is_unique_snake_case_and_an_error_status() {
        let mut codes: Vec<_> = ProblemType::ALL.iter().map(|p| p.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ProblemType::ALL.len());
        for problem in ProblemType::ALL {
            assert!(problem.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{problem:?}");
            assert!(problem.status().is_client_error() || problem.status().is_server_error(), "{problem:?}");
            assert_eq!(ProblemType::from_code(problem.code()), Some(*problem));
        }
    }

    /// These codes and statuses are API: merchants branch on them.
    #[test]
    fn published_codes_keep_their_status() {
        let published = [
            ("api_key_missing", 401),
            ("api_key_invalid", 401),
            ("idempotency_key_missing", 400),
            ("idempotency_key_invalid", 400),
            ("idempotency_key_reused", 422),
            ("idempotency_key_in_use", 409),
            ("malformed_request", 400),
            ("unsupported_media_type", 415),
            ("payload_too_large", 413),
            ("invalid_request", 422),
            ("not_found", 404),
            ("method_not_allowed", 405),
            ("invalid_state", 409),
            ("refund_exceeds_remaining", 422),
            ("provider_not_configured", 422),
            ("provider_timeout", 504),
            ("provider_unavailable", 502),
            ("provider_rejected", 502),
            ("provider_protocol_error", 502),
            ("notification_rejected", 401),
            ("malformed_notification", 400),
            ("service_unavailable", 503),
            ("internal_error", 500),
        ];
        for (code, status) in published {
            let problem = ProblemType::from_code(code).unwrap_or_else(|| panic!("{code} is gone"));
            assert_eq!(problem.status().as_u16(), status, "{code}");
        }
    }
}
