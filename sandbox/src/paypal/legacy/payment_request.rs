//! Reading `POST /v1/payments/payment` the way PayPal's v1 API validates it: every problem is a
//! 400 `VALIDATION_ERROR` naming the field (`transactions[0].amount.total`) and the issue.

use serde_json::{Map, Value, json};

use super::super::amount::{Amount, parse_v1_money};
use super::super::errors::ApiError;
use super::super::parse_body;
use super::{Item, PAYMENTS_V1_DOC, V1Intent, validation};

type Object = Map<String, Value>;

pub struct PaymentRequest {
    pub intent: V1Intent,
    pub amount: Amount,
    pub amount_json: Value,
    pub description: Option<String>,
    pub custom: Option<String>,
    pub invoice_number: Option<String>,
    pub items: Vec<Item>,
    pub notify_url: Option<String>,
    pub return_url: String,
    pub cancel_url: String,
    pub note_to_payer: Option<String>,
}

/// The parts of `amount.details` that add up to `total`, with the sign each one takes.
const DETAILS: [(&str, i64); 6] =
    [("subtotal", 1), ("shipping", 1), ("tax", 1), ("handling_fee", 1), ("insurance", 1), ("shipping_discount", -1)];

impl PaymentRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let request = match parse_body(body) {
            Ok(Value::Object(object)) => object,
            _ => return Err(validation("body", "Request body is not valid JSON")),
        };
        let intent = match request.get("intent").and_then(Value::as_str) {
            Some("sale") => V1Intent::Sale,
            Some("authorize") => V1Intent::Authorize,
            Some("order") => {
                return Err(validation(
                    "intent",
                    "Only intents sale and authorize are simulated by the payhub sandbox",
                ));
            }
            _ => return Err(validation("intent", "Intent must be one of sale, authorize, order")),
        };
        let payer = object(&request, "payer", "payer")?.ok_or_else(|| validation("payer", "Required field missing"))?;
        match payer.get("payment_method").and_then(Value::as_str) {
            Some("paypal") => {}
            Some(_) => return Err(validation("payer.payment_method", "Only payment_method paypal is supported")),
            None => return Err(validation("payer.payment_method", "Required field missing")),
        }
        let redirect_urls = object(&request, "redirect_urls", "redirect_urls")?
            .ok_or_else(|| validation("redirect_urls", "Required field missing for payment_method paypal"))?;
        let return_url = url(redirect_urls, "return_url", "redirect_urls.return_url")?
            .ok_or_else(|| validation("redirect_urls.return_url", "Required field missing"))?;
        let cancel_url = url(redirect_urls, "cancel_url", "redirect_urls.cancel_url")?
            .ok_or_else(|| validation("redirect_urls.cancel_url", "Required field missing"))?;
        let transaction = match request.get("transactions") {
            Some(Value::Array(transactions)) if transactions.len() == 1 => match &transactions[0] {
                Value::Object(transaction) => transaction,
                _ => return Err(validation("transactions[0]", "Transaction must be an object")),
            },
            Some(Value::Array(_)) => {
                return Err(validation("transactions", "Exactly one transaction is allowed for payment_method paypal"));
            }
            _ => return Err(validation("transactions", "Required field missing")),
        };
        let (amount, amount_json, subtotal) = read_amount(transaction)?;
        let items = read_items(transaction, amount)?;
        if !items.is_empty() {
            let sum: i64 = items.iter().map(|item| item.price.minor * i64::from(item.quantity)).sum();
            if sum != subtotal {
                return Err(validation(
                    "transactions[0].item_list.items",
                    "Item amount must add up to specified amount subtotal (or total if amount details not specified)",
                ));
            }
        }
        Ok(Self {
            intent,
            amount,
            amount_json,
            description: text(transaction, "description", "transactions[0].description", 127)?,
            custom: text(transaction, "custom", "transactions[0].custom", 255)?,
            invoice_number: text(transaction, "invoice_number", "transactions[0].invoice_number", 127)?,
            items,
            notify_url: url(transaction, "notify_url", "transactions[0].notify_url")?,
            return_url,
            cancel_url,
            note_to_payer: text(&request, "note_to_payer", "note_to_payer", 165)?,
        })
    }
}

/// A v1 money value, its errors documented with the payments.
fn v1_money(
    value: Option<&Value>,
    currency: Option<&Value>,
    value_field: &str,
    currency_field: &str,
) -> Result<Amount, ApiError> {
    parse_v1_money(value, currency, value_field, currency_field).map_err(|error| error.documented_at(PAYMENTS_V1_DOC))
}

/// The transaction's amount, its normalized JSON, and what its items must add up to.
fn read_amount(transaction: &Object) -> Result<(Amount, Value, i64), ApiError> {
    let field = "transactions[0].amount";
    let amount = object(transaction, "amount", field)?.ok_or_else(|| validation(field, "Required field missing"))?;
    let currency = amount.get("currency");
    let currency_field = format!("{field}.currency");
    let total = v1_money(amount.get("total"), currency, &format!("{field}.total"), &currency_field)?;
    let mut normalized = json!({ "total": total.value(), "currency": total.currency });
    let Some(details) = object(amount, "details", &format!("{field}.details"))? else {
        return Ok((total, normalized, total.minor));
    };
    let mut sum = 0;
    let mut subtotal = total.minor;
    let mut written = Map::new();
    for (name, sign) in DETAILS {
        if details.get(name).is_none_or(Value::is_null) {
            continue;
        }
        let part = v1_money(details.get(name), currency, &format!("{field}.details.{name}"), &currency_field)?;
        sum += sign * part.minor;
        if name == "subtotal" {
            subtotal = part.minor;
        }
        written.insert(name.to_owned(), json!(part.value()));
    }
    if sum != total.minor {
        return Err(validation(
            &format!("{field}.details"),
            "Transaction amount details (subtotal, tax, shipping) must add up to specified amount total",
        ));
    }
    normalized["details"] = Value::Object(written);
    Ok((total, normalized, subtotal))
}

fn read_items(transaction: &Object, amount: Amount) -> Result<Vec<Item>, ApiError> {
    let Some(item_list) = object(transaction, "item_list", "transactions[0].item_list")? else {
        return Ok(Vec::new());
    };
    let items = match item_list.get("items") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(validation("transactions[0].item_list.items", "Items must be an array")),
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let field = format!("transactions[0].item_list.items[{index}]");
            let Value::Object(item) = item else {
                return Err(validation(&field, "Item must be an object"));
            };
            let name = text(item, "name", &format!("{field}.name"), 127)?
                .ok_or_else(|| validation(&format!("{field}.name"), "Required field missing"))?;
            let quantity = match item.get("quantity") {
                Some(Value::String(text)) => text.parse::<u32>().ok(),
                Some(Value::Number(number)) => number.as_u64().and_then(|n| u32::try_from(n).ok()),
                _ => None,
            }
            .filter(|quantity| (1..=10_000).contains(quantity))
            .ok_or_else(|| validation(&format!("{field}.quantity"), "Quantity must be a whole number from 1"))?;
            let (price_field, currency_field) = (format!("{field}.price"), format!("{field}.currency"));
            let price = v1_money(item.get("price"), item.get("currency"), &price_field, &currency_field)?;
            if price.currency != amount.currency {
                return Err(validation(&format!("{field}.currency"), "Currency must match the transaction's"));
            }
            Ok(Item { name, sku: text(item, "sku", &format!("{field}.sku"), 127)?, quantity, price })
        })
        .collect()
}

fn object<'a>(parent: &'a Object, key: &str, field: &str) -> Result<Option<&'a Object>, ApiError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(validation(field, "Must be an object")),
    }
}

fn text(parent: &Object, key: &str, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() <= max => Ok(Some(text.clone())),
        Some(Value::String(_)) => Err(validation(field, &format!("Value is too long (at most {max} characters)"))),
        Some(_) => Err(validation(field, "Must be a string")),
    }
}

fn url(parent: &Object, key: &str, field: &str) -> Result<Option<String>, ApiError> {
    let Some(url) = text(parent, key, field, 2048)? else {
        return Ok(None);
    };
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(Some(url)),
        _ => Err(validation(field, "Must be an http or https URL")),
    }
}
