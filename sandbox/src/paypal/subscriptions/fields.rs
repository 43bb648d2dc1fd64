//! Reading request bodies the way the catalog and subscriptions APIs validate them: schema
//! problems are 400 `INVALID_REQUEST` with the field's JSON pointer and the issue names of
//! PayPal's published specification (`INVALID_STRING_MAX_LENGTH`, `INVALID_INTEGER_MAX_VALUE`, …);
//! business rules are 422 `UNPROCESSABLE_ENTITY`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::super::body::http_url;
pub use super::super::body::{child, syntax};
use super::super::errors::{ApiError, ErrorDetail};
use super::super::parse_body;
use super::model::Percentage;

pub type Object = Map<String, Value>;

/// The body as a JSON object; an empty body is `MISSING_REQUEST_BODY` when one is required.
pub fn body_object(body: &[u8], required: bool) -> Result<Object, ApiError> {
    if required && body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request(ErrorDetail::new("MISSING_REQUEST_BODY", "Request body is missing.")));
    }
    match parse_body(body)? {
        Value::Object(object) => Ok(object),
        other => Err(syntax("/", &other.to_string())),
    }
}

pub fn missing(pointer: &str) -> ApiError {
    ApiError::invalid_request(ErrorDetail::body(pointer, "MISSING_REQUIRED_PARAMETER", "A required field is missing."))
}

pub fn invalid_value(pointer: &str, value: &str) -> ApiError {
    ApiError::invalid_request(
        ErrorDetail::body(pointer, "INVALID_PARAMETER_VALUE", "The value of a field is invalid.").with_value(value),
    )
}

/// 422 with one of PayPal's business-rule issues.
pub fn refused(issue: &str, description: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::new(issue, description))
}

/// 422 about a body field.
pub fn refused_field(pointer: &str, issue: &str, description: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::body(pointer, issue, description))
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An optional string of 1 to `max` characters.
pub fn text(object: &Object, key: &str, pointer: &str, max: usize) -> Result<Option<String>, ApiError> {
    bounded_text(object, key, pointer, 1, max)
}

/// An optional string of `min` to `max` characters.
pub fn bounded_text(
    object: &Object,
    key: &str,
    pointer: &str,
    min: usize,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() < min.max(1) => Err(ApiError::invalid_request(
            ErrorDetail::body(pointer, "INVALID_STRING_MIN_LENGTH", "The value of a field is too short."),
        )),
        Some(Value::String(text)) if text.chars().count() > max => Err(ApiError::invalid_request(
            ErrorDetail::body(pointer, "INVALID_STRING_MAX_LENGTH", "The value of a field is too long.")
                .with_value(text.as_str()),
        )),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(syntax(pointer, &other.to_string())),
    }
}

pub fn required_text(object: &Object, key: &str, pointer: &str, max: usize) -> Result<String, ApiError> {
    text(object, key, pointer, max)?.ok_or_else(|| missing(pointer))
}

/// An optional string that must be one of an enum's wire names.
pub fn choice<T>(
    object: &Object,
    key: &str,
    pointer: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match text(object, key, pointer, 64)? {
        None => Ok(None),
        Some(text) => parse(&text).map(Some).ok_or_else(|| invalid_value(pointer, &text)),
    }
}

pub fn flag(object: &Object, key: &str, pointer: &str) -> Result<Option<bool>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(syntax(pointer, &other.to_string())),
    }
}

/// An optional integer in `min..=max`.
pub fn integer(object: &Object, key: &str, pointer: &str, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => bounded_integer(value, pointer, min, max).map(Some),
    }
}

pub fn bounded_integer(value: &Value, pointer: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    let number = value.as_i64().ok_or_else(|| syntax(pointer, &value_text(value)))?;
    if number < i64::from(min) {
        return Err(ApiError::invalid_request(
            ErrorDetail::body(pointer, "INVALID_INTEGER_MIN_VALUE", "The integer value of a field is too small.")
                .with_value(number.to_string()),
        ));
    }
    if number > i64::from(max) {
        return Err(ApiError::invalid_request(
            ErrorDetail::body(pointer, "INVALID_INTEGER_MAX_VALUE", "The integer value of a field is too large.")
                .with_value(number.to_string()),
        ));
    }
    u32::try_from(number).map_err(|_| syntax(pointer, &number.to_string()))
}

pub fn array<'a>(object: &'a Object, key: &str, pointer: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(syntax(pointer, &other.to_string())),
    }
}

/// An RFC 3339 date-time.
pub fn time(object: &Object, key: &str, pointer: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match text(object, key, pointer, 64)? {
        None => Ok(None),
        Some(text) => parse_time(&text).map(Some).ok_or_else(|| syntax(pointer, &text)),
    }
}

pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|time| time.with_timezone(&Utc))
}

/// An http(s) URL of at most 4000 characters, as `return_url` and `cancel_url`.
pub fn web_url(object: &Object, key: &str, pointer: &str) -> Result<Option<String>, ApiError> {
    text(object, key, pointer, 4000)?.map(|url| http_url(url, pointer)).transpose()
}

/// A required http(s) URL of 10 to 4000 characters, as a subscription's `return_url` and
/// `cancel_url`.
pub fn required_web_url(object: &Object, key: &str, pointer: &str) -> Result<String, ApiError> {
    let url = bounded_text(object, key, pointer, 10, 4000)?.ok_or_else(|| missing(pointer))?;
    http_url(url, pointer)
}

/// A tax percentage: a decimal string from 0 to 100 with at most three decimals.
pub fn percentage(value: &Value, pointer: &str) -> Result<Percentage, ApiError> {
    let Value::String(text) = value else {
        return Err(syntax(pointer, &value_text(value)));
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let well_formed = digits(whole)
        && digits(fraction)
        && !(whole.is_empty() && fraction.is_empty())
        && !(text.contains('.') && fraction.is_empty())
        && whole.len() <= 3;
    if !well_formed {
        return Err(syntax(pointer, text));
    }
    if fraction.len() > 3 {
        return Err(invalid_value(pointer, text));
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| syntax(pointer, text))? };
    let fraction: i64 = format!("{fraction:0<3}").parse().unwrap_or(0);
    let thousandths = whole * 1000 + fraction;
    if thousandths > 100_000 {
        return Err(invalid_value(pointer, text));
    }
    Ok(Percentage { text: text.clone(), thousandths })
}

/// A positive whole quantity written as a string (`"2"`).
pub fn quantity(object: &Object, key: &str, pointer: &str) -> Result<Option<u32>, ApiError> {
    let Some(text) = text(object, key, pointer, 32)? else {
        return Ok(None);
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax(pointer, &text));
    }
    match text.parse::<u32>() {
        Ok(0) | Err(_) => Err(invalid_value(pointer, &text)),
        Ok(quantity) => Ok(Some(quantity)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percentages_read_exactly_in_thousandths() {
        assert_eq!(percentage(&json!("10"), "/p").unwrap().thousandths, 10_000);
        assert_eq!(percentage(&json!("8.25"), "/p").unwrap().thousandths, 8_250);
        assert_eq!(percentage(&json!(".5"), "/p").unwrap().thousandths, 500);
        for bad in [json!("-1"), json!("1."), json!("abc"), json!(10), json!("100.1"), json!("1.2345")] {
            assert!(percentage(&bad, "/p").is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_out_of_range_name_the_bound_they_broke() {
        let object = json!({ "n": 0, "m": 1000 });
        let object = object.as_object().unwrap();
        let low = integer(object, "n", "/n", 1, 999).unwrap_err();
        assert_eq!(low.first_issue(), Some("INVALID_INTEGER_MIN_VALUE"));
        let high = integer(object, "m", "/m", 1, 999).unwrap_err();
        assert_eq!(high.first_issue(), Some("INVALID_INTEGER_MAX_VALUE"));
    }
}
