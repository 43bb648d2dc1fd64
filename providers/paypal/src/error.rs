//! The two error types: [`PaypalError`] for REST calls, [`VerifyError`] for webhook notifications.

use serde::{Deserialize, Serialize};

/// One entry of the `details` array in PayPal's error body. `issue` is the machine-readable
/// reason (`ORDER_NOT_APPROVED`, `CAPTURE_FULLY_REFUNDED`, …) a caller usually branches on.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub field: Option<String>,
    pub value: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub issue: String,
    pub description: Option<String>,
}

/// A failed REST call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaypalError {
    /// PayPal answered with an error status; the fields come from its error body
    /// (`{name, message, debug_id, details[]}`), or describe the status when the body was not JSON.
    /// `links` are the body's HATEOAS links besides the information link: after a funding
    /// failure (`INSTRUMENT_DECLINED`), where to send the buyer ([`PaypalError::buyer_redirect`]).
    #[error("PayPal answered {status} {name}: {message}{}", context_suffix(.debug_id, .details))]
    Api {
        status: u16,
        name: String,
        message: String,
        debug_id: Option<String>,
        details: Vec<ErrorDetail>,
        links: Vec<crate::types::Link>,
    },
    /// The OAuth2 token endpoint refused the client credentials.
    #[error("PayPal refused the client credentials ({status}): {message}")]
    Authentication { status: u16, message: String },
    /// No complete answer within the configured timeout. The request may have been processed:
    /// retry with the same request id to get the original result.
    #[error("PayPal did not answer within the configured timeout")]
    Timeout,
    /// The request could not be sent or the answer not read (connection refused, TLS, reset),
    /// or the client could not be built from its configuration.
    #[error("could not talk to PayPal: {0}")]
    Transport(String),
    /// A success answer whose body does not have the documented shape, or a request that
    /// cannot be put on the wire (a request id that is not a valid header value). Retrying the
    /// same call cannot help.
    #[error("could not encode the request or decode PayPal's answer: {0}")]
    Decode(String),
}

impl PaypalError {
    /// Whether the same call, with the same request id, may succeed later: timeouts, transport
    /// failures, 429 and 5xx answers.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout | Self::Transport(_) => true,
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Authentication { .. } | Self::Decode(_) => false,
        }
    }

    /// The first `details[].issue` of an API error, e.g. `ORDER_NOT_APPROVED`.
    pub fn issue(&self) -> Option<&str> {
        match self {
            Self::Api { details, .. } => {
                details.iter().map(|detail| detail.issue.as_str()).find(|issue| !issue.is_empty())
            }
            _ => None,
        }
    }

    /// The first issue, when it is one a caller can act on; see [`Issue`].
    pub fn known_issue(&self) -> Option<Issue> {
        self.issue().and_then(Issue::parse)
    }

    /// The HTTP status PayPal answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Authentication { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Where to send the buyer so they can choose another funding source, when PayPal refused a
    /// capture or authorization for theirs (`INSTRUMENT_DECLINED`: the `redirect` link;
    /// `PAYER_ACTION_REQUIRED`: the `payer-action` link).
    pub fn buyer_redirect(&self) -> Option<&str> {
        match self {
            Self::Api { links, .. } => {
                crate::types::link_href(links, "redirect").or_else(|| crate::types::link_href(links, "payer-action"))
            }
            _ => None,
        }
    }

    /// PayPal's `debug_id`, the reference its support asks for.
    pub fn debug_id(&self) -> Option<&str> {
        match self {
            Self::Api { debug_id, .. } => debug_id.as_deref(),
            _ => None,
        }
    }
}

/// The `details[].issue` values a caller branches on, typed. PayPal documents many more; those
/// stay strings, read with [`PaypalError::issue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Issue {
    /// A capture of an order captured already (a capture repeated under a new request id).
    OrderAlreadyCaptured,
    /// A capture of an order the buyer has not approved (yet).
    OrderNotApproved,
    /// A refund of a capture that is refunded in full already.
    CaptureFullyRefunded,
    /// A refund larger than what is left of the capture.
    RefundAmountExceeded,
    /// The buyer's funding source was declined: send them to [`PaypalError::buyer_redirect`]
    /// to choose another, then capture again.
    InstrumentDeclined,
    /// The buyer must act at PayPal (e.g. authenticate) before the payment can complete.
    PayerActionRequired,
    /// An authorization of an order authorized already.
    OrderAlreadyAuthorized,
    /// A capture of an authorization past its validity (29 days).
    AuthorizationExpired,
    /// A capture of a voided authorization.
    AuthorizationVoided,
    /// A capture of an authorization captured in full (or finally) already.
    AuthorizationAlreadyCaptured,
    /// A void of an authorization that was captured already.
    PreviouslyCaptured,
    /// A void of an authorization voided already.
    PreviouslyVoided,
    /// A void of an authorization past its expiration time: its funds are released already.
    CannotBeVoided,
}

impl Issue {
    const ALL: [Issue; 13] = [
        Issue::OrderAlreadyCaptured,
        Issue::OrderNotApproved,
        Issue::CaptureFullyRefunded,
        Issue::RefundAmountExceeded,
        Issue::InstrumentDeclined,
        Issue::PayerActionRequired,
        Issue::OrderAlreadyAuthorized,
        Issue::AuthorizationExpired,
        Issue::AuthorizationVoided,
        Issue::AuthorizationAlreadyCaptured,
        Issue::PreviouslyCaptured,
        Issue::PreviouslyVoided,
        Issue::CannotBeVoided,
    ];

    /// PayPal's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Issue::OrderAlreadyCaptured => "ORDER_ALREADY_CAPTURED",
            Issue::OrderNotApproved => "ORDER_NOT_APPROVED",
            Issue::CaptureFullyRefunded => "CAPTURE_FULLY_REFUNDED",
            Issue::RefundAmountExceeded => "REFUND_AMOUNT_EXCEEDED",
            Issue::InstrumentDeclined => "INSTRUMENT_DECLINED",
            Issue::PayerActionRequired => "PAYER_ACTION_REQUIRED",
            Issue::OrderAlreadyAuthorized => "ORDER_ALREADY_AUTHORIZED",
            Issue::AuthorizationExpired => "AUTHORIZATION_EXPIRED",
            Issue::AuthorizationVoided => "AUTHORIZATION_VOIDED",
            Issue::AuthorizationAlreadyCaptured => "AUTHORIZATION_ALREADY_CAPTURED",
            Issue::PreviouslyCaptured => "PREVIOUSLY_CAPTURED",
            Issue::PreviouslyVoided => "PREVIOUSLY_VOIDED",
            Issue::CannotBeVoided => "CANNOT_BE_VOIDED",
        }
    }

    pub fn parse(issue: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == issue)
    }
}

fn context_suffix(debug_id: &Option<String>, details: &[ErrorDetail]) -> String {
    let mut suffix = String::new();
    if let Some(detail) = details.iter().find(|detail| !detail.issue.is_empty()) {
        suffix.push_str(&format!(" (issue {}", detail.issue));
        if let Some(description) = &detail.description {
            suffix.push_str(&format!(": {description}"));
        }
        suffix.push(')');
    }
    if let Some(debug_id) = debug_id {
        suffix.push_str(&format!(" [debug_id {debug_id}]"));
    }
    suffix
}

/// Why a webhook notification was not accepted. Every variant means "do not trust this body".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("unsupported signature algorithm {0:?}: PayPal signs with SHA256withRSA")]
    UnsupportedAlgorithm(String),
    #[error("certificate URL not allowed: {0}")]
    CertUrlNotAllowed(String),
    #[error("could not fetch the signing certificate: {0}")]
    CertFetch(String),
    #[error("signing certificate rejected: {0}")]
    CertRejected(String),
    #[error("the signature does not match this notification")]
    BadSignature,
    #[error("malformed notification: {0}")]
    Malformed(String),
}

impl VerifyError {
    /// A stable snake_case code, fit for metrics labels and for recording why a notification
    /// was refused.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::CertUrlNotAllowed(_) => "cert_url_not_allowed",
            Self::CertFetch(_) => "cert_fetch_failed",
            Self::CertRejected(_) => "cert_rejected",
            Self::BadSignature => "bad_signature",
            Self::Malformed(_) => "malformed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, issues: &[&str]) -> PaypalError {
        PaypalError::Api {
            status,
            name: "UNPROCESSABLE_ENTITY".into(),
            message: "The requested action could not be performed".into(),
            debug_id: Some("f1a2b3c4d5e6".into()),
            details: issues
                .iter()
                .map(|issue| ErrorDetail { issue: (*issue).into(), ..ErrorDetail::default() })
                .collect(),
            links: Vec::new(),
        }
    }

    #[test]
    fn timeouts_transport_failures_429_and_5xx_are_retryable() {
        assert!(PaypalError::Timeout.is_retryable());
        assert!(PaypalError::Transport("connection reset".into()).is_retryable());
        assert!(api_error(429, &[]).is_retryable());
        assert!(api_error(500, &[]).is_retryable());
        assert!(api_error(503, &[]).is_retryable());
    }

    #[test]
    fn client_errors_credentials_and_decoding_are_not_retryable() {
        assert!(!api_error(400, &[]).is_retryable());
        assert!(!api_error(404, &[]).is_retryable());
        assert!(!api_error(422, &["ORDER_NOT_APPROVED"]).is_retryable());
        let refused = PaypalError::Authentication { status: 401, message: "Client Authentication failed".into() };
        assert!(!refused.is_retryable());
        assert!(!PaypalError::Decode("missing field id".into()).is_retryable());
    }

    #[test]
    fn issue_is_the_first_non_empty_detail_issue() {
        assert_eq!(api_error(422, &["", "ORDER_NOT_APPROVED", "OTHER"]).issue(), Some("ORDER_NOT_APPROVED"));
        assert_eq!(api_error(422, &[]).issue(), None);
        assert_eq!(PaypalError::Timeout.issue(), None);
    }

    #[test]
    fn known_issues_are_typed_and_others_stay_strings() {
        assert_eq!(api_error(422, &["ORDER_NOT_APPROVED"]).known_issue(), Some(Issue::OrderNotApproved));
        assert_eq!(api_error(422, &["ORDER_ALREADY_CAPTURED"]).known_issue(), Some(Issue::OrderAlreadyCaptured));
        assert_eq!(api_error(422, &["INSTRUMENT_DECLINED"]).known_issue(), Some(Issue::InstrumentDeclined));
        assert_eq!(api_error(422, &["COMPLIANCE_VIOLATION"]).known_issue(), None);
        assert_eq!(api_error(422, &["COMPLIANCE_VIOLATION"]).issue(), Some("COMPLIANCE_VIOLATION"));
        for issue in Issue::ALL {
            assert_eq!(Issue::parse(issue.as_str()), Some(issue));
        }
    }

    #[test]
    fn api_error_message_names_the_issue_and_debug_id() {
        let text = api_error(422, &["ORDER_NOT_APPROVED"]).to_string();
        assert!(text.contains("422"), "{text}");
        assert!(text.contains("ORDER_NOT_APPROVED"), "{text}");
        assert!(text.contains("f1a2b3c4d5e6"), "{text}");
    }

    #[test]
    fn verify_error_codes_are_distinct_snake_case() {
        let all = [
            VerifyError::MissingHeader("PAYPAL-TRANSMISSION-ID"),
            VerifyError::UnsupportedAlgorithm("SHA1withRSA".into()),
            VerifyError::CertUrlNotAllowed("x".into()),
            VerifyError::CertFetch("x".into()),
            VerifyError::CertRejected("x".into()),
            VerifyError::BadSignature,
            VerifyError::Malformed("x".into()),
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(VerifyError::code).collect();
        assert_eq!(codes.len(), all.len());
        for code in codes {
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
        }
    }
}
