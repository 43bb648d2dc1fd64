//! Reading a `POST /v2/checkout/orders` body the way PayPal validates it: missing or malformed
//! fields are 400 `INVALID_REQUEST`, business-rule failures 422 `UNPROCESSABLE_ENTITY`, each with
//! the field's JSON pointer and PayPal's issue name.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::amount::{Amount, parse_money, parse_price};
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
        Some(Value::String(text)) => Intent::parse(text).ok_or_else(|| invalid_value("/intent", text))?,
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
    check_totals(unit, &pointer, amount)?;
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
        authorization_ids: Vec::new(),
    })
}

/// The `amount.breakdown` parts that add to the amount, and those that are taken off it.
const ADDED: [&str; 5] = ["item_total", "tax_total", "shipping", "handling", "insurance"];
const TAKEN_OFF: [&str; 2] = ["shipping_discount", "discount"];

/// PayPal's arithmetic on a purchase unit: a breakdown must add up to the amount, and items to
/// the breakdown's `item_total` (and their taxes to its `tax_total`), which items make
/// required. Each refusal is a 422 naming the field and PayPal's issue.
pub(super) fn check_totals(unit: &Map<String, Value>, pointer: &str, amount: Amount) -> Result<(), ApiError> {
    let breakdown_pointer = format!("{pointer}/amount/breakdown");
    let breakdown = match unit.get("amount").and_then(|amount| amount.get("breakdown")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(breakdown)) => Some(breakdown),
        Some(other) => return Err(syntax(&breakdown_pointer, &other.to_string())),
    };
    let part = |name: &str| -> Result<Option<i64>, ApiError> {
        let Some(value) = breakdown.and_then(|breakdown| breakdown.get(name)).filter(|value| !value.is_null()) else {
            return Ok(None);
        };
        let field = format!("{breakdown_pointer}/{name}");
        let part = parse_price(Some(value), &field)?;
        if part.currency != amount.currency {
            return Err(mismatch(
                &format!("{field}/currency_code"),
                "CURRENCY_MISMATCH",
                "Currency code should be the same for all amounts in a purchase unit.",
            ));
        }
        Ok(Some(part.minor))
    };
    let added = ADDED.map(&part);
    let taken_off = TAKEN_OFF.map(part);
    // ADDED starts with item_total and tax_total.
    let (item_total, tax_total) = (added[0].clone()?, added[1].clone()?);
    if breakdown.is_some() {
        let mut sum = 0i64;
        for part in added {
            sum = sum.saturating_add(part?.unwrap_or(0));
        }
        for part in taken_off {
            sum = sum.saturating_sub(part?.unwrap_or(0));
        }
        if sum != amount.minor {
            return Err(mismatch(
                &format!("{pointer}/amount/value"),
                "AMOUNT_MISMATCH",
                "Should equal item_total + tax_total + shipping + handling + insurance - shipping_discount - discount.",
            ));
        }
    }
    let items = match unit.get("items") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(syntax(&format!("{pointer}/items"), &other.to_string())),
    };
    let (mut items_sum, mut taxes_sum, mut any_tax) = (0i64, 0i64, false);
    for (index, item) in items.iter().enumerate() {
        let item_pointer = format!("{pointer}/items/{index}");
        let item = item.as_object().ok_or_else(|| syntax(&item_pointer, &item.to_string()))?;
        if text(item, "name", &format!("{item_pointer}/name"), 127)?.is_none() {
            return Err(missing(&format!("{item_pointer}/name")));
        }
        let quantity = quantity(item, &format!("{item_pointer}/quantity"))?;
        let category_pointer = format!("{item_pointer}/category");
        if let Some(category) = text(item, "category", &category_pointer, 20)?
            && !ITEM_CATEGORIES.contains(&category.as_str())
        {
            return Err(invalid_value(&category_pointer, &category));
        }
        let unit_amount = parse_price(item.get("unit_amount"), &format!("{item_pointer}/unit_amount"))?;
        items_sum = items_sum.saturating_add(unit_amount.minor.saturating_mul(quantity));
        if let Some(tax) = item.get("tax").filter(|tax| !tax.is_null()) {
            let tax = parse_price(Some(tax), &format!("{item_pointer}/tax"))?;
            taxes_sum = taxes_sum.saturating_add(tax.minor.saturating_mul(quantity));
            any_tax = true;
        }
    }
    if items.is_empty() {
        return Ok(());
    }
    let item_total_pointer = format!("{breakdown_pointer}/item_total");
    match item_total {
        None => {
            return Err(mismatch(
                &item_total_pointer,
                "ITEM_TOTAL_REQUIRED",
                "If item details are specified (items.unit_amount and items.quantity) corresponding amount.breakdown.item_total is required.",
            ));
        }
        Some(total) if total != items_sum => {
            return Err(mismatch(
                &item_total_pointer,
                "ITEM_TOTAL_MISMATCH",
                "Should equal sum of (unit_amount * quantity) across all items for a given purchase_unit.",
            ));
        }
        Some(_) => {}
    }
    let tax_total_pointer = format!("{breakdown_pointer}/tax_total");
    match tax_total {
        None if any_tax => Err(mismatch(
            &tax_total_pointer,
            "TAX_TOTAL_REQUIRED",
            "If item details are specified (items.tax_total and items.quantity) corresponding amount.breakdown.tax_total is required.",
        )),
        Some(total) if any_tax && total != taxes_sum => Err(mismatch(
            &tax_total_pointer,
            "TAX_TOTAL_MISMATCH",
            "Should equal sum of (tax * quantity) across all items for a given purchase_unit.",
        )),
        _ => Ok(()),
    }
}

/// An item's `category`, one of the Orders document's enum.
const ITEM_CATEGORIES: [&str; 3] = ["DIGITAL_GOODS", "PHYSICAL_GOODS", "DONATION"];

/// An item's `quantity`: a string of 1 to 10 digits, PayPal's pattern `^[1-9][0-9]{0,9}$`.
fn quantity(item: &Map<String, Value>, pointer: &str) -> Result<i64, ApiError> {
    match item.get("quantity") {
        None | Some(Value::Null) => Err(missing(pointer)),
        Some(Value::String(text))
            if (1..=10).contains(&text.len()) && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(text.parse().unwrap_or(i64::MAX))
        }
        Some(Value::String(text)) => Err(ApiError::invalid_request(
            ErrorDetail::body(
                pointer,
                "INVALID_PARAMETER_SYNTAX",
                "The value of a field does not conform to the expected format.",
            )
            .with_value(text.as_str()),
        )),
        Some(other) => Err(syntax(pointer, &other.to_string())),
    }
}

fn mismatch(pointer: &str, issue: &str, description: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::body(pointer, issue, description))
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

/// 400 `INVALID_PARAMETER_VALUE`: a value outside the field's enum.
fn invalid_value(pointer: &str, value: &str) -> ApiError {
    ApiError::invalid_request(
        ErrorDetail::body(pointer, "INVALID_PARAMETER_VALUE", "The value of a field is invalid.").with_value(value),
    )
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

    fn with_totals(value: &str, breakdown: Value, items: Value) -> Value {
        json!({ "intent": "CAPTURE", "purchase_units": [{
            "amount": { "currency_code": "USD", "value": value, "breakdown": breakdown },
            "items": items,
        }] })
    }

    fn usd(value: &str) -> Value {
        json!({ "currency_code": "USD", "value": value })
    }

    #[test]
    fn a_breakdown_and_items_that_add_up_are_accepted() {
        let items = json!([
            { "name": "Coffee", "quantity": "2", "unit_amount": usd("7.50"), "tax": usd("0.50") },
            { "name": "Filter", "quantity": "1", "unit_amount": usd("3.00") },
        ]);
        let breakdown = json!({ "item_total": usd("18.00"), "tax_total": usd("1.00"), "shipping": usd("4.00"), "discount": usd("2.00") });
        assert!(parse(&with_totals("21.00", breakdown, items)).is_ok());
    }

    #[test]
    fn totals_that_do_not_add_up_are_refused_as_paypal_does() {
        let unit = "/purchase_units/@reference_id=='default'";
        let breakdown = json!({ "item_total": usd("10.00"), "shipping": usd("1.00") });
        assert_eq!(
            issue(with_totals("12.00", breakdown, Value::Null)),
            (422, "AMOUNT_MISMATCH".into(), Some(format!("{unit}/amount/value")))
        );
        let items = json!([{ "name": "Coffee", "quantity": "3", "unit_amount": usd("5.00") }]);
        assert_eq!(
            issue(with_totals("10.00", json!({ "item_total": usd("10.00") }), items.clone())),
            (422, "ITEM_TOTAL_MISMATCH".into(), Some(format!("{unit}/amount/breakdown/item_total")))
        );
        assert_eq!(
            issue(with_totals("15.00", Value::Null, items)),
            (422, "ITEM_TOTAL_REQUIRED".into(), Some(format!("{unit}/amount/breakdown/item_total")))
        );
        let taxed = json!([{ "name": "Coffee", "quantity": "2", "unit_amount": usd("5.00"), "tax": usd("1.00") }]);
        assert_eq!(
            issue(with_totals("10.00", json!({ "item_total": usd("10.00") }), taxed.clone())),
            (422, "TAX_TOTAL_REQUIRED".into(), Some(format!("{unit}/amount/breakdown/tax_total")))
        );
        assert_eq!(
            issue(with_totals("11.00", json!({ "item_total": usd("10.00"), "tax_total": usd("1.00") }), taxed)).1,
            "TAX_TOTAL_MISMATCH"
        );
        let no_quantity = json!([{ "name": "Coffee", "unit_amount": usd("5.00") }]);
        assert_eq!(
            issue(with_totals("5.00", json!({ "item_total": usd("5.00") }), no_quantity)),
            (400, "MISSING_REQUIRED_PARAMETER".into(), Some(format!("{unit}/items/0/quantity")))
        );
        let euros = json!({ "item_total": { "currency_code": "EUR", "value": "5.00" } });
        assert_eq!(issue(with_totals("5.00", euros, Value::Null)).1, "CURRENCY_MISMATCH");
    }
}
