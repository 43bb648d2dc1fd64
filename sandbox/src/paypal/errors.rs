//! PayPal's error bodies, in the three dialects its APIs speak:
//!
//! - REST v2 (orders, payments): `{name, message, debug_id, details[{field, value, location,
//!   issue, description}], links[{href, rel: "information_link", method}]}`;
//! - REST v1 (notifications): the same plus `information_link`, with `VALIDATION_ERROR` and
//!   `INVALID_RESOURCE_ID` as names;
//! - the OAuth2 token endpoint: `{error, error_description}`.
//!
//! Every error also carries a `Paypal-Debug-Id` header, as PayPal's responses do.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::ids;

pub const ORDERS_DOC: &str = "https://developer.paypal.com/docs/api/orders/v2/";
pub const PAYMENTS_DOC: &str = "https://developer.paypal.com/docs/api/payments/v2/";
pub const WEBHOOKS_DOC: &str = "https://developer.paypal.com/docs/api/webhooks/v1/";
const OVERVIEW_DOC: &str = "https://developer.paypal.com/docs/api/overview/#error";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<&'static str>,
    pub issue: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ErrorDetail {
    pub fn new(issue: &str, description: &str) -> Self {
        Self {
            field: None,
            value: None,
            location: None,
            issue: issue.to_owned(),
            description: Some(description.to_owned()),
        }
    }

    /// A problem with a field of the JSON body, named by its JSON pointer (`/purchase_units/…`).
    pub fn body(field: &str, issue: &str, description: &str) -> Self {
        Self { field: Some(field.to_owned()), location: Some("body"), ..Self::new(issue, description) }
    }

    pub fn with_value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    pub fn at(mut self, location: &'static str) -> Self {
        self.location = Some(location);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    V2,
    V1,
    OAuth,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub name: String,
    pub message: String,
    pub details: Vec<ErrorDetail>,
    /// Links after the information link: where to send the buyer after a funding failure.
    extra_links: Vec<Value>,
    doc: &'static str,
    dialect: Dialect,
}

impl ApiError {
    fn v2(status: StatusCode, name: &str, message: &str) -> Self {
        Self {
            status,
            name: name.to_owned(),
            message: message.to_owned(),
            details: Vec::new(),
            extra_links: Vec::new(),
            doc: ORDERS_DOC,
            dialect: Dialect::V2,
        }
    }

    /// 400 `INVALID_REQUEST`: the request is not well-formed or violates the schema.
    pub fn invalid_request(detail: ErrorDetail) -> Self {
        Self::v2(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
        )
        .with(detail)
    }

    /// 422 `UNPROCESSABLE_ENTITY`: well-formed, but refused by business rules.
    pub fn unprocessable(detail: ErrorDetail) -> Self {
        Self::v2(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed business validation.",
        )
        .with(detail)
    }

    /// 404 `RESOURCE_NOT_FOUND` for an id in the path that does not exist (for this caller).
    pub fn not_found(field: &str, value: &str) -> Self {
        Self::v2(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "The specified resource does not exist.").with(
            ErrorDetail {
                field: Some(field.to_owned()),
                value: Some(value.to_owned()),
                location: Some("path"),
                issue: "INVALID_RESOURCE_ID".to_owned(),
                description: Some(
                    "Specified resource ID does not exist. Please check the resource ID and try again.".to_owned(),
                ),
            },
        )
    }

    pub fn malformed_json() -> Self {
        Self::invalid_request(ErrorDetail::body("/", "MALFORMED_REQUEST_JSON", "The request JSON is not well formed."))
    }

    /// 401 for a missing, unknown or expired bearer token.
    pub fn authentication_failure() -> Self {
        let mut error = Self::v2(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILURE",
            "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
        );
        error.doc = OVERVIEW_DOC;
        error
    }

    /// A 5xx produced on purpose by the fault controls.
    pub fn server_error(status: StatusCode) -> Self {
        let (name, message) = match status {
            StatusCode::SERVICE_UNAVAILABLE => ("SERVICE_UNAVAILABLE", "Service Unavailable."),
            StatusCode::TOO_MANY_REQUESTS => ("RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."),
            _ => ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
        };
        let mut error = Self::v2(status, name, message);
        error.doc = OVERVIEW_DOC;
        error
    }

    pub fn no_such_path() -> Self {
        let mut error = Self::v2(StatusCode::NOT_FOUND, "NOT_FOUND", "The specified resource does not exist.");
        error.doc = OVERVIEW_DOC;
        error
    }

    /// v1 400 `VALIDATION_ERROR` naming the offending body field.
    pub fn v1_validation(field: &str, issue: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            name: "VALIDATION_ERROR".to_owned(),
            message: "Invalid request - see details".to_owned(),
            details: vec![ErrorDetail {
                field: Some(field.to_owned()),
                location: Some("body"),
                description: None,
                ..ErrorDetail::new(issue, "")
            }],
            extra_links: Vec::new(),
            doc: WEBHOOKS_DOC,
            dialect: Dialect::V1,
        }
    }

    /// v1 errors whose name says it all (`WEBHOOK_URL_ALREADY_EXISTS`, …).
    pub fn v1(status: StatusCode, name: &str, message: &str) -> Self {
        Self { dialect: Dialect::V1, doc: WEBHOOKS_DOC, ..Self::v2(status, name, message) }
    }

    pub fn v1_not_found() -> Self {
        Self::v1(StatusCode::NOT_FOUND, "INVALID_RESOURCE_ID", "Resource id is invalid")
    }

    /// The token endpoint's own dialect: `{error, error_description}`.
    pub fn oauth(status: StatusCode, error: &str, description: &str) -> Self {
        Self { dialect: Dialect::OAuth, ..Self::v2(status, error, description) }
    }

    /// Adds a HATEOAS link after the information link (PayPal's `redirect` or `payer-action` link
    /// on a funding failure).
    pub fn with_link(mut self, href: String, rel: &str, method: &str) -> Self {
        self.extra_links.push(json!({ "href": href, "rel": rel, "method": method }));
        self
    }

    pub fn with(mut self, detail: ErrorDetail) -> Self {
        self.details.push(detail);
        self
    }

    /// Names the body field (and its value) the first detail is about.
    pub fn about(mut self, field: &str, value: &str) -> Self {
        if let Some(detail) = self.details.first_mut() {
            detail.field = Some(field.to_owned());
            detail.value = Some(value.to_owned());
            detail.location = Some("body");
        }
        self
    }

    /// Points the error's information link at the Payments v2 reference instead of Orders v2.
    pub fn in_payments_api(mut self) -> Self {
        if self.dialect == Dialect::V2 && self.doc == ORDERS_DOC {
            self.doc = PAYMENTS_DOC;
        }
        self
    }

    /// Points the information link at another API's reference (the catalog, subscriptions or
    /// v1 payments APIs), for errors that would otherwise link to Orders v2.
    pub fn documented_at(mut self, doc: &'static str) -> Self {
        if matches!(self.dialect, Dialect::V2 | Dialect::V1) && self.doc != OVERVIEW_DOC {
            self.doc = doc;
        }
        self
    }

    pub fn first_issue(&self) -> Option<&str> {
        self.details.first().map(|detail| detail.issue.as_str())
    }

    pub fn body(&self, debug_id: &str) -> Value {
        let link = match (self.dialect, self.first_issue()) {
            (Dialect::V2, Some(issue)) if self.doc != OVERVIEW_DOC => {
                format!("{}#error-{issue}", self.doc)
            }
            (Dialect::V1, _) => format!("{}#errors", self.doc),
            _ => self.doc.to_owned(),
        };
        match self.dialect {
            Dialect::OAuth => json!({ "error": self.name, "error_description": self.message }),
            Dialect::V2 => {
                let mut links = vec![json!({ "href": link, "rel": "information_link", "method": "GET" })];
                links.extend(self.extra_links.iter().cloned());
                json!({
                    "name": self.name,
                    "message": self.message,
                    "debug_id": debug_id,
                    "details": self.details,
                    "links": links,
                })
            }
            Dialect::V1 => json!({
                "name": self.name,
                "message": self.message,
                "debug_id": debug_id,
                "information_link": link,
                "details": self.details,
                "links": [],
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let debug_id = ids::hex(13);
        let mut response = (self.status, axum::Json(self.body(&debug_id))).into_response();
        if let Ok(value) = HeaderValue::from_str(&debug_id) {
            response.headers_mut().insert("paypal-debug-id", value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_errors_link_to_the_issue() {
        let error = ApiError::unprocessable(ErrorDetail::new(
            "ORDER_NOT_APPROVED",
            "Payer has not yet approved the Order for payment.",
        ));
        let body = error.body("f0505bc2f6f5e");
        assert_eq!(body["name"], "UNPROCESSABLE_ENTITY");
        assert_eq!(body["details"][0]["issue"], "ORDER_NOT_APPROVED");
        assert_eq!(
            body["links"][0]["href"],
            "https://developer.paypal.com/docs/api/orders/v2/#error-ORDER_NOT_APPROVED"
        );
        assert_eq!(body["links"][0]["rel"], "information_link");
        assert_eq!(body["debug_id"], "f0505bc2f6f5e");
    }

    #[test]
    fn oauth_errors_use_the_token_endpoint_shape() {
        let body =
            ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", "Client Authentication failed").body("x");
        assert_eq!(body, json!({ "error": "invalid_client", "error_description": "Client Authentication failed" }));
    }
}
