//! The two error types: [`PingppError`] for REST calls, [`VerifyError`] for webhook notifications.

/// A failed REST call, or a client that could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingppError {
    /// Ping++ answered with an error status. The fields come from its error body
    /// `{"error": {"type", "message", "code", "param"}}`; when the body was not such an object
    /// (a proxy's HTML page, say), `error_type` is `unexpected_response` and `message` quotes it.
    #[error("Ping++ answered {status} {error_type}: {message}{}", context_suffix(.code, .param))]
    Api {
        status: u16,
        /// `invalid_request_error`, `api_error`, `channel_error`, …
        error_type: String,
        message: String,
        /// A finer reason, e.g. a channel's error code.
        code: Option<String>,
        /// The request parameter the error is about.
        param: Option<String>,
    },
    /// No complete answer within the configured timeout. A write may have been processed:
    /// look the object up (a charge by its `order_no`) before creating it again.
    #[error("Ping++ did not answer within the configured timeout")]
    Timeout,
    /// The request could not be sent or the answer not read (connection refused, TLS, reset),
    /// or the client could not be built from its configuration.
    #[error("could not talk to Ping++: {0}")]
    Transport(String),
    /// A success answer whose body does not have the documented shape, or a request that
    /// could not be encoded. Repeating the same call cannot help.
    #[error("could not encode the request or decode Ping++'s answer: {0}")]
    Decode(String),
    /// The merchant private key could not be read or used to sign.
    #[error("could not sign the request: {0}")]
    Signing(String),
}

/// The `error.type` given to error answers that did not carry a Ping++ error object.
pub const UNEXPECTED_RESPONSE: &str = "unexpected_response";

/// What an error answer means, as Ping++'s SDKs classify it by status (the Python SDK's
/// `InvalidRequestError`, `AuthenticationError`, `ChannelError`, `RateLimitError`, `APIError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 400 or 404: the request, or the object it names, is wrong; `param` says which field.
    InvalidRequest,
    /// 401: the secret key is missing or not one of the account's.
    Authentication,
    /// 402: the payment channel (Alipay, WeChat Pay, UnionPay…) refused; `code` is its reason.
    Channel,
    /// 429, or a 403 saying `rate_limit`: too many requests, the same call may pass later.
    /// (The SDKs read every 403 so; a 403 that does not say it is read as [`Self::Api`].)
    RateLimit,
    /// Anything else, 5xx above all: Ping++ failed.
    Api,
}

impl PingppError {
    /// Whether the same call may succeed later: timeouts, transport failures, 5xx answers and
    /// rate limits (429, or Ping++'s 403 whose type or code says `rate_limit`).
    ///
    /// For a write this says only that trying again is not pointless; whether it is *safe* is
    /// the caller's call, since Ping++ takes no idempotency key (see the crate docs).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout | Self::Transport(_) => true,
            Self::Api { status, .. } => *status >= 500 || self.is_rate_limited(),
            Self::Decode(_) | Self::Signing(_) => false,
        }
    }

    /// A 429, or the 403 Ping++'s SDKs read as a rate limit when its type or code says so.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Self::Api { status, error_type, code, .. } => {
                *status == 429
                    || (*status == 403
                        && (error_type.contains("rate_limit")
                            || code.as_deref().is_some_and(|c| c.contains("rate_limit"))))
            }
            _ => false,
        }
    }

    /// The SDKs' class of an error answer; `None` when Ping++ did not answer.
    pub fn kind(&self) -> Option<ApiErrorKind> {
        let Self::Api { status, .. } = self else { return None };
        Some(match status {
            _ if self.is_rate_limited() => ApiErrorKind::RateLimit,
            400 | 404 => ApiErrorKind::InvalidRequest,
            401 => ApiErrorKind::Authentication,
            402 => ApiErrorKind::Channel,
            _ => ApiErrorKind::Api,
        })
    }

    /// The HTTP status Ping++ answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn context_suffix(code: &Option<String>, param: &Option<String>) -> String {
    match (code, param) {
        (Some(code), Some(param)) => format!(" (code {code}, param {param})"),
        (Some(code), None) => format!(" (code {code})"),
        (None, Some(param)) => format!(" (param {param})"),
        (None, None) => String::new(),
    }
}

/// Why a webhook notification was not accepted. Every variant means "do not trust this body".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the notification carries no X-Pingplusplus-Signature")]
    MissingSignature,
    #[error("the signature is not valid base64: {0}")]
    MalformedSignature(String),
    #[error("the signature does not match this body")]
    BadSignature,
    #[error("the Ping++ public key is unusable: {0}")]
    BadKey(String),
}

impl VerifyError {
    /// A stable snake_case code, fit for metrics labels and for recording why a notification
    /// was refused.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature(_) => "malformed_signature",
            Self::BadSignature => "bad_signature",
            Self::BadKey(_) => "bad_key",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, error_type: &str, code: Option<&str>) -> PingppError {
        PingppError::Api {
            status,
            error_type: error_type.into(),
            message: "something went wrong".into(),
            code: code.map(str::to_owned),
            param: None,
        }
    }

    #[test]
    fn timeouts_transport_failures_5xx_and_rate_limits_are_retryable() {
        assert!(PingppError::Timeout.is_retryable());
        assert!(PingppError::Transport("connection reset".into()).is_retryable());
        assert!(api_error(500, "api_error", None).is_retryable());
        assert!(api_error(503, UNEXPECTED_RESPONSE, None).is_retryable());
        assert!(api_error(429, "rate_limit_error", None).is_retryable());
        assert!(api_error(403, "invalid_request_error", Some("rate_limit")).is_retryable());
    }

    #[test]
    fn request_channel_auth_and_decoding_errors_are_not_retryable() {
        assert!(!api_error(400, "invalid_request_error", None).is_retryable());
        assert!(!api_error(401, "invalid_request_error", None).is_retryable());
        assert!(!api_error(402, "channel_error", Some("channel_returns_fail")).is_retryable());
        assert!(!api_error(403, "invalid_request_error", None).is_retryable());
        assert!(!api_error(404, "invalid_request_error", None).is_retryable());
        assert!(!PingppError::Decode("missing field `id`".into()).is_retryable());
        assert!(!PingppError::Signing("bad key".into()).is_retryable());
    }

    #[test]
    fn each_status_has_the_class_the_sdks_raise_for_it() {
        let kind = |status, error_type, code| api_error(status, error_type, code).kind();
        assert_eq!(kind(400, "invalid_request_error", None), Some(ApiErrorKind::InvalidRequest));
        assert_eq!(kind(404, "invalid_request_error", None), Some(ApiErrorKind::InvalidRequest));
        assert_eq!(kind(401, "invalid_request_error", None), Some(ApiErrorKind::Authentication));
        assert_eq!(kind(402, "channel_error", Some("SYSTEMERROR")), Some(ApiErrorKind::Channel));
        assert_eq!(kind(403, "rate_limit_error", Some("rate_limit")), Some(ApiErrorKind::RateLimit));
        assert_eq!(kind(429, "rate_limit_error", None), Some(ApiErrorKind::RateLimit));
        assert_eq!(kind(403, "invalid_request_error", None), Some(ApiErrorKind::Api));
        assert_eq!(kind(500, "api_error", None), Some(ApiErrorKind::Api));
        assert_eq!(kind(502, UNEXPECTED_RESPONSE, None), Some(ApiErrorKind::Api));
        assert_eq!(PingppError::Timeout.kind(), None);
    }

    #[test]
    fn api_error_message_names_status_type_code_and_param() {
        let error = PingppError::Api {
            status: 400,
            error_type: "invalid_request_error".into(),
            message: "参数错误".into(),
            code: Some("order_no_used".into()),
            param: Some("order_no".into()),
        };
        let text = error.to_string();
        for part in ["400", "invalid_request_error", "参数错误", "order_no_used", "order_no"] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        assert_eq!(error.status(), Some(400));
        assert_eq!(PingppError::Timeout.status(), None);
    }

    #[test]
    fn verify_error_codes_are_distinct_snake_case() {
        let all = [
            VerifyError::MissingSignature,
            VerifyError::MalformedSignature("x".into()),
            VerifyError::BadSignature,
            VerifyError::BadKey("x".into()),
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(VerifyError::code).collect();
        assert_eq!(codes.len(), all.len());
        for code in codes {
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
        }
    }
}
