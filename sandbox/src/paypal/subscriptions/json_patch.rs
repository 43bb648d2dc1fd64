//! JSON Patch bodies as the plans and subscriptions APIs take them: `add` and `replace` only,
//! each path at most once, refused operations named with PayPal's issues.

use serde_json::Value;

use super::super::errors::{ApiError, ErrorDetail};
use super::super::parse_body;
use super::fields::{invalid_value, missing, syntax};

/// One operation of a JSON Patch body.
pub struct PatchOperation {
    pub op: String,
    pub path: String,
    pub value: Value,
}

impl PatchOperation {
    /// Refuses the operation unless it is one of `allowed` for this path.
    pub fn expect(&self, allowed: &[&str]) -> Result<(), ApiError> {
        if allowed.contains(&self.op.as_str()) {
            Ok(())
        } else {
            Err(ApiError::invalid_request(
                ErrorDetail::body(
                    "/op",
                    "UNSUPPORTED_PATCH_OPERATION",
                    "The specified patch operation not supported for this field.",
                )
                .with_value(self.op.as_str()),
            ))
        }
    }
}

/// A JSON Patch body (`add` and `replace` operations, each path at most once).
pub fn patch_operations(body: &[u8]) -> Result<Vec<PatchOperation>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request(ErrorDetail::new("MISSING_REQUEST_BODY", "Request body is missing.")));
    }
    let Value::Array(items) = parse_body(body)? else {
        return Err(syntax("/", "the body must be a JSON Patch array"));
    };
    let mut operations: Vec<PatchOperation> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let pointer = format!("/{index}");
        let operation = item.as_object().ok_or_else(|| syntax(&pointer, &item.to_string()))?;
        let op = operation.get("op").and_then(Value::as_str).ok_or_else(|| missing(&format!("{pointer}/op")))?;
        let path = operation.get("path").and_then(Value::as_str).ok_or_else(|| missing(&format!("{pointer}/path")))?;
        if operations.iter().any(|seen| seen.path == path) {
            return Err(ApiError::invalid_request(
                ErrorDetail::body(
                    &format!("{pointer}/path"),
                    "INVALID_PATCH_PATH",
                    "Multiple operations on the same field are not allowed.",
                )
                .with_value(path),
            ));
        }
        match op {
            "replace" | "add" => {}
            "remove" | "move" | "copy" | "test" => {
                return Err(ApiError::invalid_request(
                    ErrorDetail::body(
                        &format!("{pointer}/op"),
                        "UNSUPPORTED_PATCH_OPERATION",
                        "The specified patch operation not supported for this field.",
                    )
                    .with_value(op),
                ));
            }
            other => return Err(invalid_value(&format!("{pointer}/op"), other)),
        }
        let value = operation.get("value").cloned().ok_or_else(|| missing(&format!("{pointer}/value")))?;
        operations.push(PatchOperation { op: op.to_owned(), path: path.to_owned(), value });
    }
    Ok(operations)
}

pub fn patch_path_error(path: &str) -> ApiError {
    ApiError::invalid_request(
        ErrorDetail::body("/0/path", "INVALID_PATCH_PATH", "The specified field cannot be patched.").with_value(path),
    )
}

/// A patched string of 1 to `max` characters.
pub fn patch_text(value: &Value, path: &str, max: usize) -> Result<String, ApiError> {
    match value {
        Value::String(text) if (1..=max).contains(&text.chars().count()) => Ok(text.clone()),
        other => Err(invalid_value(path, &other.to_string())),
    }
}
