//! What PayPal's REST APIs (Orders v2, Payments v2, the catalog and subscriptions) share when they
//! read a JSON body: the syntax error's shape, optional nested objects, and web URLs. How long a
//! string may be is told differently by each API, so string fields are read by each reader.

use serde_json::{Map, Value};

use super::errors::{ApiError, ErrorDetail};

/// 400 `INVALID_PARAMETER_SYNTAX`: the field is of the wrong JSON type or format.
pub fn syntax(pointer: &str, value: &str) -> ApiError {
    ApiError::invalid_request(
        ErrorDetail::body(
            pointer,
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
        )
        .with_value(value),
    )
}

/// An optional nested object.
pub fn child<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(other) => Err(syntax(pointer, &other.to_string())),
    }
}

/// `url` when it is an http(s) URL, as `return_url` and `cancel_url` must be.
pub fn http_url(url: String, pointer: &str) -> Result<String, ApiError> {
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(url),
        _ => Err(syntax(pointer, &url)),
    }
}
