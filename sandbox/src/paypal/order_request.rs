//! Reading a `POST /v2/checkout/orders` body the way PayPal validates it: missing or malformed
//! fields are 400 `INVALID_REQUEST`, business-rule failures 422 `UNPROCESSABLE_ENTITY`, each with
//! the field's JSON pointer and PayPal's issue name.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::amount::parse_money;
use super::body::{child, http_url, syntax};
use super::errors::{ApiError, ErrorDetail};
use super::state::{Intent, PurchaseUnit};

const MAX_PURCHASE_UNITS: usize = 10;

pub struct OrderRequest {
    pub intent: Intent,
    pub purchase_units: Vec<PurchaseUnit>,
    pub paypal_source_requested: bool,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub brand_name: Option<String>,
}

pub fn parse(body: &Value) -> Result<OrderRequest, ApiError> {
    let request = body.as_object().ok_or_else(|| syntax("/", &body.to_string()))?;
    let intent = match request.get("intent") {
        None | Some(Value::Null) => return Err(missing("/intent")),
        Some(Value::String(text)) => Intent::parse(text).ok_or_else(|| {
            ApiError::invalid_request(
                ErrorDetail::body("/intent", "INVALID_PARAMETER_VALUE", "The value of a field is invalid.")
                    .with_value(text.as_str()),
            )
        })?,
        Some(other) => return Err(syntax("/intent", &other.to_string())),
    };
    let purchase_units = parse_purchase_units(request.get("purchase_units"))?;

    let mut return_url = None;
    let mut cancel_url = None;
    let mut brand_name = None;
    if let Some(context) = child(request, "application_context", "/application_context")? {
        read_experience(context, "/application_context", &mut return_url, &mut cancel_url, &mut brand_name)?;
    }
    let mut paypal_source_requested = false;
    if let Some(source) = child(request, "payment_source", "/payment_source")? {
        if let Some(other) = source.keys().find(|key| key.as_str() != "paypal") {
            return Err(ApiError::unprocessable(ErrorDetail::body(
                &format!("/payment_source/{other}"),
                "PAYMENT_SOURCE_NOT_SUPPORTED",
                "The sandbox simulates PayPal wallet payments only; use payment_source.paypal or none.",
            )));
        }
        if let Some(paypal) = child(source, "paypal", "/payment_source/paypal")? {
            paypal_source_requested = true;
            let pointer = "/payment_source/paypal/experience_context";
            if let Some(experience) = child(paypal, "experience_context", pointer)? {
                read_experience(experience, pointer, &mut return_url, &mut cancel_url, &mut brand_name)?;
            }
        }
    }
    Ok(OrderRequest { intent, purchase_units, paypal_source_requested, return_url, cancel_url, brand_name })
}

fn parse_purchase_units(units: Option<&Value>) -> Result<Vec<PurchaseUnit>, ApiError> {
    let units = match units {
        None | Some(Value::Null) => return Err(missing("/purchase_units")),
        Some(Value::Array(units)) => units,
        Some(other) => return Err(syntax("/purchase_units", &other.to_string())),
    };
    if units.is_empty() {
        return Err(ApiError::invalid_request(ErrorDetail::body(
            "/purchase_units",
            "INVALID_ARRAY_MIN_ITEMS",
            "The number of items in an array parameter is too small.",
        )));
    }
    if units.len() > MAX_PURCHASE_UNITS {
        return Err(ApiError::invalid_request(ErrorDetail::body(
            "/purchase_units",
            "INVALID_ARRAY_MAX_ITEMS",
            "The number of items in an array parameter is too large.",
        )));
    }
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(units.len());
    for (index, unit) in units.iter().enumerate() {
        let unit = unit.as_object().ok_or_else(|| syntax(&format!("/purchase_units/{index}"), &unit.to_string()))?;
        let reference_id = text(unit, "reference_id", &format!("/purchase_units/{index}/reference_id"), 256)?;
        if units.len() > 1 && reference_id.is_none() {
            return Err(ApiError::unprocessable(ErrorDetail::body(
                &format!("/purchase_units/{index}/reference_id"),
                "REFERENCE_ID_REQUIRED",
                "'reference_id' is required for each 'purchase_unit' when the order has more than one.",
            )));
        }
        let reference_id = reference_id.unwrap_or_else(|| "default".to_owned());
        if !seen.insert(reference_id.clone()) {
            return Err(ApiError::unprocessable(
                ErrorDetail::body(
                    "/purchase_units",
                    "DUPLICATE_REFERENCE_ID",
                    "`reference_id` must be unique if multiple `purchase_unit` are provided.",
                )
                .with_value(reference_id.as_str()),
            ));
        }
        parsed.push(parse_unit(unit, reference_id)?);
    }
    Ok(parsed)
}

fn parse_unit(unit: &Map<String, Value>, reference_id: String) -> Result<PurchaseUnit, ApiError> {
    let pointer = format!("/purchase_units/@reference_id=='{reference_id}'");
    let amount = parse_money(unit.get("amount"), &format!("{pointer}/amount"))?;
    let mut amount_json = unit.get("amount").cloned().unwrap_or_default();
    amount_json["value"] = Value::String(amount.value());
    Ok(PurchaseUnit {
        amount,
        amount_json,
        description: text(unit, "description", &format!("{pointer}/description"), 127)?,
        custom_id: text(unit, "custom_id", &format!("{pointer}/custom_id"), 127)?,
        invoice_id: text(unit, "invoice_id", &format!("{pointer}/invoice_id"), 127)?,
        soft_descriptor: text(unit, "soft_descriptor", &format!("{pointer}/soft_descriptor"), 22)?,
        items: unit.get("items").filter(|items| items.is_array()).cloned(),
        shipping: unit.get("shipping").filter(|shipping| shipping.is_object()).cloned(),
        reference_id,
        capture_ids: Vec::new(),
    })
}

fn read_experience(
    context: &Map<String, Value>,
    pointer: &str,
    return_url: &mut Option<String>,
    cancel_url: &mut Option<String>,
    brand_name: &mut Option<String>,
) -> Result<(), ApiError> {
    if let Some(url) = web_url(context, "return_url", &format!("{pointer}/return_url"))? {
        *return_url = Some(url);
    }
    if let Some(url) = web_url(context, "cancel_url", &format!("{pointer}/cancel_url"))? {
        *cancel_url = Some(url);
    }
    if let Some(name) = text(context, "brand_name", &format!("{pointer}/brand_name"), 127)? {
        *brand_name = Some(name);
    }
    Ok(())
}

fn web_url(object: &Map<String, Value>, key: &str, pointer: &str) -> Result<Option<String>, ApiError> {
    text(object, key, pointer, 4000)?.map(|url| http_url(url, pointer)).transpose()
}

/// An optional string field of 1 to `max` characters.
pub fn text(object: &Map<String, Value>, key: &str, pointer: &str, max: usize) -> Result<Option<String>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if (1..=max).contains(&text.chars().count()) => Ok(Some(text.clone())),
        Some(Value::String(text)) => Err(ApiError::invalid_request(
            ErrorDetail::body(
                pointer,
                "INVALID_STRING_LENGTH",
                "The value of a field is either too short or too long.",
            )
            .with_value(text.as_str()),
        )),
        Some(other) => Err(syntax(pointer, &other.to_string())),
    }
}

pub fn missing(pointer: &str) -> ApiError {
    ApiError::invalid_request(ErrorDetail::body(
        pointer,
        "MISSING_REQUIRED_PARAMETER",
        "A required field / parameter is missing.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue(body: Value) -> (u16, String, Option<String>) {
        let error = parse(&body).err().expect("the request should be refused");
        let field = error.details.first().and_then(|detail| detail.field.clone());
        (error.status.as_u16(), error.first_issue().unwrap_or_default().to_owned(), field)
    }

    fn unit(value: &str, currency: &str) -> Value {
        json!({ "amount": { "currency_code": currency, "value": value } })
    }

    #[test]
    fn a_minimal_order_reads_with_defaults() {
        let request = parse(&json!({ "intent": "CAPTURE", "purchase_units": [unit("10", "USD")] })).unwrap();
        assert_eq!(request.purchase_units[0].reference_id, "default");
        assert_eq!(request.purchase_units[0].amount_json["value"], "10.00");
        assert!(!request.paypal_source_requested);
    }

    #[test]
    fn experience_context_urls_win_over_application_context() {
        let request = parse(&json!({
            "intent": "CAPTURE",
            "purchase_units": [unit("10.00", "USD")],
            "application_context": { "return_url": "https://shop.example/old", "cancel_url": "https://shop.example/cancel" },
            "payment_source": { "paypal": { "experience_context": { "return_url": "https://shop.example/return" } } },
        }))
        .unwrap();
        assert_eq!(request.return_url.as_deref(), Some("https://shop.example/return"));
        assert_eq!(request.cancel_url.as_deref(), Some("https://shop.example/cancel"));
        assert!(request.paypal_source_requested);
    }

    #[test]
    fn refusals_name_paypals_issue_and_field() {
        assert_eq!(
            issue(json!({ "purchase_units": [unit("1", "USD")] })),
            (400, "MISSING_REQUIRED_PARAMETER".into(), Some("/intent".into()))
        );
        assert_eq!(
            issue(json!({ "intent": "SALE", "purchase_units": [unit("1", "USD")] })).1,
            "INVALID_PARAMETER_VALUE"
        );
        assert_eq!(issue(json!({ "intent": "CAPTURE" })).1, "MISSING_REQUIRED_PARAMETER");
        assert_eq!(issue(json!({ "intent": "CAPTURE", "purchase_units": [] })).1, "INVALID_ARRAY_MIN_ITEMS");
        assert_eq!(
            issue(json!({ "intent": "CAPTURE", "purchase_units": [unit("100.5", "JPY")] })),
            (422, "DECIMAL_PRECISION".into(), Some("/purchase_units/@reference_id=='default'/amount/value".into()))
        );
        assert_eq!(
            issue(json!({ "intent": "CAPTURE", "purchase_units": [unit("1", "USD"), unit("2", "USD")] })).1,
            "REFERENCE_ID_REQUIRED"
        );
        let twice = json!({ "reference_id": "a", "amount": { "currency_code": "USD", "value": "1" } });
        assert_eq!(
            issue(json!({ "intent": "CAPTURE", "purchase_units": [twice.clone(), twice] })).1,
            "DUPLICATE_REFERENCE_ID"
        );
        let long_invoice = json!({ "invoice_id": "x".repeat(128), "amount": { "currency_code": "USD", "value": "1" } });
        assert_eq!(issue(json!({ "intent": "CAPTURE", "purchase_units": [long_invoice] })).1, "INVALID_STRING_LENGTH");
        let bad_url = json!({ "intent": "CAPTURE", "purchase_units": [unit("1", "USD")], "application_context": { "return_url": "not a url" } });
        assert_eq!(issue(bad_url).1, "INVALID_PARAMETER_SYNTAX");
        let card =
            json!({ "intent": "CAPTURE", "purchase_units": [unit("1", "USD")], "payment_source": { "card": {} } });
        assert_eq!(issue(card), (422, "PAYMENT_SOURCE_NOT_SUPPORTED".into(), Some("/payment_source/card".into())));
        assert_eq!(issue(json!([1, 2])).1, "INVALID_PARAMETER_SYNTAX");
    }
}
