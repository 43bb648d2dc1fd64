//! `PATCH /v2/checkout/orders/{id}`: a JSON Patch on an order that is not yet completed. The
//! sandbox applies `/intent` and, per purchase unit (`/purchase_units/@reference_id=='…'/…`),
//! `amount` (replace), `description`, `custom_id` and `invoice_id` (add, replace, remove) and
//! `soft_descriptor` (replace, remove). A patch applies whole or not at all.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::amount::{Amount, parse_money};
use super::auth::Merchant;
use super::body::syntax;
use super::errors::{ApiError, ErrorDetail};
use super::order_request::check_totals;
use super::state::{Intent, OrderStatus};
use super::{PaypalSimulator, parse_body};

/// A purchase-unit text field and the operations PayPal allows on it.
const TEXT_FIELDS: [(&str, usize, &[&str]); 4] = [
    ("description", 127, &["add", "replace", "remove"]),
    ("custom_id", 127, &["add", "replace", "remove"]),
    ("invoice_id", 127, &["add", "replace", "remove"]),
    ("soft_descriptor", 22, &["replace", "remove"]),
];

/// One checked operation, applied once every operation of the patch passed.
enum Edit {
    Intent(Intent),
    Amount { unit: usize, amount: Amount, json: Value },
    Text { unit: usize, field: &'static str, value: Option<String> },
}

pub(super) async fn patch_order(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let outcome = simulator.transact(|state| {
        let now = simulator.now();
        let order = state.order_mut(Some(&merchant.client_id), &id)?;
        if matches!(order.status, OrderStatus::Completed | OrderStatus::Voided) {
            return Err(ApiError::unprocessable(ErrorDetail::new(
                "ORDER_ALREADY_COMPLETED",
                "The order cannot be patched after it is completed or voided.",
            )));
        }
        let references: Vec<String> = order.purchase_units.iter().map(|unit| unit.reference_id.clone()).collect();
        let items: Vec<Option<Value>> = order.purchase_units.iter().map(|unit| unit.items.clone()).collect();
        let edits = operations(&parse_body(&body)?)?
            .iter()
            .enumerate()
            .map(|(index, operation)| edit(index, operation, &references, &items))
            .collect::<Result<Vec<_>, _>>()?;
        for edit in edits {
            match edit {
                Edit::Intent(intent) => order.intent = intent,
                Edit::Amount { unit, amount, json } => {
                    order.purchase_units[unit].amount = amount;
                    order.purchase_units[unit].amount_json = json;
                }
                Edit::Text { unit, field, value } => {
                    let unit = &mut order.purchase_units[unit];
                    let slot = match field {
                        "description" => &mut unit.description,
                        "custom_id" => &mut unit.custom_id,
                        "invoice_id" => &mut unit.invoice_id,
                        _ => &mut unit.soft_descriptor,
                    };
                    *slot = value;
                }
            }
        }
        order.update_time = Some(now);
        Ok(((), Vec::new()))
    });
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

fn operations(body: &Value) -> Result<&Vec<Value>, ApiError> {
    match body {
        Value::Array(operations) if !operations.is_empty() => Ok(operations),
        other => Err(syntax("/", &other.to_string())),
    }
}

fn unprocessable(pointer: &str, issue: &str, description: &str, value: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::body(pointer, issue, description).with_value(value))
}

fn edit(index: usize, operation: &Value, references: &[String], items: &[Option<Value>]) -> Result<Edit, ApiError> {
    let pointer = format!("/{index}");
    let operation = operation.as_object().ok_or_else(|| syntax(&pointer, &operation.to_string()))?;
    let op = operation.get("op").and_then(Value::as_str).unwrap_or_default();
    if !matches!(op, "add" | "replace" | "remove") {
        return Err(ApiError::invalid_request(
            ErrorDetail::body(&format!("{pointer}/op"), "INVALID_PATCH_OPERATION", "The operation cannot be honored.")
                .with_value(op),
        ));
    }
    let path = match operation.get("path").and_then(Value::as_str) {
        Some(path) if !path.is_empty() => path,
        _ => return Err(unprocessable(&format!("{pointer}/path"), "PATCH_PATH_REQUIRED", "Specify a path.", "")),
    };
    let value = operation.get("value").filter(|value| !value.is_null());
    if op != "remove" && value.is_none() {
        return Err(unprocessable(&format!("{pointer}/value"), "PATCH_VALUE_REQUIRED", "Specify a value.", path));
    }
    let refuse_op = || {
        ApiError::invalid_request(
            ErrorDetail::body(
                &format!("{pointer}/op"),
                "INVALID_PATCH_OPERATION",
                "The operation cannot be honored. Cannot add a property that's already present, use replace. Cannot remove a property thats not present, use add. Cannot replace a property thats not present, use add.",
            )
            .with_value(op),
        )
    };
    if path == "/intent" {
        if op != "replace" {
            return Err(refuse_op());
        }
        let text = value.and_then(Value::as_str).unwrap_or_default();
        return Intent::parse(text).map(Edit::Intent).ok_or_else(|| {
            unprocessable(&format!("{pointer}/value"), "UNSUPPORTED_INTENT", "CAPTURE or AUTHORIZE.", text)
        });
    }
    let (unit, field) = unit_path(path, &pointer, references)?;
    if field == "amount" {
        if op != "replace" {
            return Err(refuse_op());
        }
        let field_pointer = format!("{pointer}/value");
        let amount = parse_money(value, &field_pointer)?;
        let mut patched = Map::new();
        patched.insert("amount".into(), value.cloned().unwrap_or_default());
        if let Some(items) = &items[unit] {
            patched.insert("items".into(), items.clone());
        }
        check_totals(&patched, &field_pointer, amount)?;
        let mut json = value.cloned().unwrap_or_default();
        json["value"] = Value::String(amount.value());
        return Ok(Edit::Amount { unit, amount, json });
    }
    let Some((field, max, ops)) = TEXT_FIELDS.into_iter().find(|(name, _, _)| *name == field) else {
        return Err(ApiError::invalid_request(
            ErrorDetail::body(&format!("{pointer}/path"), "FIELD_NOT_PATCHABLE", "Field cannot be patched.")
                .with_value(path),
        ));
    };
    if !ops.contains(&op) {
        return Err(refuse_op());
    }
    let value = match value {
        None => None,
        Some(Value::String(text)) if (1..=max).contains(&text.chars().count()) => Some(text.clone()),
        Some(other) => {
            return Err(ApiError::invalid_request(
                ErrorDetail::body(
                    &format!("{pointer}/value"),
                    "INVALID_PARAMETER_VALUE",
                    &format!("{field} must be a string of 1 to {max} characters."),
                )
                .with_value(other.to_string()),
            ));
        }
    };
    Ok(Edit::Text { unit, field, value })
}

/// Reads `/purchase_units/@reference_id=='…'/{field}` into the unit's index and the field.
fn unit_path<'a>(path: &'a str, pointer: &str, references: &[String]) -> Result<(usize, &'a str), ApiError> {
    let malformed = || {
        unprocessable(
            &format!("{pointer}/path"),
            "INVALID_JSON_POINTER_FORMAT",
            "Path should be a valid JSON Pointer https://tools.ietf.org/html/rfc6901 that references a location within the request where the operation is performed.",
            path,
        )
    };
    let rest = path.strip_prefix("/purchase_units/@reference_id=='").ok_or_else(malformed)?;
    let (reference, field) = rest.split_once("'/").ok_or_else(malformed)?;
    if field.is_empty() || field.contains('/') {
        return Err(ApiError::invalid_request(
            ErrorDetail::body(&format!("{pointer}/path"), "FIELD_NOT_PATCHABLE", "Field cannot be patched.")
                .with_value(path),
        ));
    }
    let unit = references.iter().position(|known| known == reference).ok_or_else(|| {
        unprocessable(
            &format!("{pointer}/path"),
            "REFERENCE_ID_NOT_FOUND",
            "Filter expression value is incorrect. Check the value of the reference_id.",
            path,
        )
    })?;
    Ok((unit, field))
}
