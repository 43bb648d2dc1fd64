//! Checks on what merchants send, shared by every resource: text lengths, URLs, metadata.

use serde_json::{Map, Value};

use super::ServiceError;

/// Limits that keep every field within what each provider accepts (PayPal's `description` and
/// `custom_id` are 127 characters) and keep metadata small enough to index and display.
pub(crate) const MAX_REFERENCE: usize = 127;
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY: usize = 40;
const MAX_METADATA_VALUE: usize = 500;

pub(crate) fn check_len(field: &str, value: &Option<String>, max: usize) -> Result<(), ServiceError> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(ServiceError::invalid(field, format!("must be at most {max} characters")))
        }
        Some(v) if v.trim().is_empty() => Err(ServiceError::invalid(field, "must not be blank")),
        _ => Ok(()),
    }
}

pub(crate) fn check_url(field: &str, value: &Option<String>) -> Result<(), ServiceError> {
    let Some(value) = value else { return Ok(()) };
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(ServiceError::invalid(field, "must be an absolute http(s) URL")),
    }
}

pub(crate) fn check_metadata(metadata: &Map<String, Value>) -> Result<(), ServiceError> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ServiceError::invalid("metadata", format!("at most {MAX_METADATA_KEYS} keys")));
    }
    for (key, value) in metadata {
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY {
            return Err(ServiceError::invalid(
                format!("metadata.{key}"),
                format!("keys must be 1 to {MAX_METADATA_KEY} characters"),
            ));
        }
        let fits = match value {
            Value::String(s) => s.chars().count() <= MAX_METADATA_VALUE,
            Value::Number(_) | Value::Bool(_) | Value::Null => true,
            _ => false,
        };
        if !fits {
            return Err(ServiceError::invalid(
                format!("metadata.{key}"),
                format!("values must be strings of at most {MAX_METADATA_VALUE} characters, numbers or booleans"),
            ));
        }
    }
    Ok(())
}
