//! PayPal's money objects `{currency_code, value}`: validated the way PayPal does and held as
//! integer minor units, never floats.
//!
//! PayPal's decimals differ from ISO 4217 in places (HUF and TWD take no decimals at PayPal), so
//! the table of currencies PayPal accepts lives here rather than in payhub-core.

use serde_json::{Value, json};

use super::errors::{ApiError, ErrorDetail};

/// Currencies PayPal's REST APIs accept, with the decimals PayPal allows for each.
const CURRENCIES: &[(&str, u8)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 0),
    ("ILS", 2),
    ("JPY", 0),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RUB", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TWD", 0),
    ("USD", 2),
];

/// PayPal's `value` field allows at most 32 characters; whole units beyond 15 digits cannot be
/// held exactly in i64 minor units anyway.
const MAX_VALUE_LEN: usize = 32;
const MAX_WHOLE_DIGITS: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub currency: &'static str,
    pub decimals: u8,
    pub minor: i64,
}

impl Amount {
    pub fn with_minor(self, minor: i64) -> Self {
        Self { minor, ..self }
    }

    /// The decimal string PayPal sends back: exactly the currency's decimals ("10.00", "1000").
    pub fn value(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if self.decimals == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = 10u64.pow(u32::from(self.decimals));
        format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = usize::from(self.decimals))
    }

    pub fn to_json(self) -> Value {
        json!({ "currency_code": self.currency, "value": self.value() })
    }

    /// How PayPal writes amounts in webhook summaries ("$ 2.51 USD").
    pub fn summary(&self) -> String {
        let symbol = match self.currency {
            "USD" | "AUD" | "CAD" | "NZD" | "SGD" | "HKD" | "MXN" => "$ ",
            "EUR" => "€ ",
            "GBP" => "£ ",
            "JPY" | "CNY" => "¥ ",
            _ => "",
        };
        format!("{symbol}{} {}", self.value(), self.currency)
    }
}

/// A v1 money value (`{"total": "10.00", "currency": "USD"}`, or an item's `price` beside its
/// `currency`), read through the v2 validator; a refusal is v1's `VALIDATION_ERROR` naming the
/// value's field or the currency's, whichever is wrong.
pub fn parse_v1_money(
    value: Option<&Value>,
    currency: Option<&Value>,
    value_field: &str,
    currency_field: &str,
) -> Result<Amount, ApiError> {
    let money = json!({ "currency_code": currency, "value": value });
    parse_money(Some(&money), "/amount").map_err(|error| {
        let detail = error.details.first();
        let issue = detail.map_or("INVALID_PARAMETER_VALUE", |detail| detail.issue.as_str());
        let about_currency = detail.and_then(|detail| detail.field.as_deref()) == Some("/amount/currency_code");
        ApiError::v1_validation(if about_currency { currency_field } else { value_field }, issue)
    })
}

/// Validates the money object at JSON pointer `field` (`None` when absent from the request).
pub fn parse_money(money: Option<&Value>, field: &str) -> Result<Amount, ApiError> {
    read_money(money, field, false)
}

/// An optional money object at JSON pointer `field`: absent or `null` is `None`, anything else
/// must be valid money.
pub fn optional_money(money: Option<&Value>, field: &str) -> Result<Option<Amount>, ApiError> {
    match money {
        None | Some(Value::Null) => Ok(None),
        money => parse_money(money, field).map(Some),
    }
}

/// Like [`parse_money`], but zero is a valid price: a plan's free trial (`"0"`) or a waived
/// setup fee.
pub fn parse_price(money: Option<&Value>, field: &str) -> Result<Amount, ApiError> {
    read_money(money, field, true)
}

fn read_money(money: Option<&Value>, field: &str, zero_allowed: bool) -> Result<Amount, ApiError> {
    let money = money.ok_or_else(|| missing(field))?;
    let object = money.as_object().ok_or_else(|| syntax(field, &money.to_string()))?;
    let currency_field = format!("{field}/currency_code");
    let code = match object.get("currency_code") {
        None | Some(Value::Null) => return Err(missing(&currency_field)),
        Some(Value::String(code)) => code,
        Some(other) => return Err(syntax(&currency_field, &other.to_string())),
    };
    if code.chars().count() != 3 {
        return Err(ApiError::invalid_request(
            ErrorDetail::body(
                &currency_field,
                "INVALID_STRING_LENGTH",
                "The value of a field is either too short or too long.",
            )
            .with_value(code.as_str()),
        ));
    }
    let (currency, decimals) = CURRENCIES
        .iter()
        .copied()
        .find(|(known, _)| *known == code)
        .ok_or_else(|| {
            ApiError::unprocessable(
                ErrorDetail::body(
                    &currency_field,
                    "CURRENCY_NOT_SUPPORTED",
                    "Currency code is not currently supported. Please refer https://developer.paypal.com/api/rest/reference/currency-codes/ for list of supported currency codes.",
                )
                .with_value(code.as_str()),
            )
        })?;
    let value_field = format!("{field}/value");
    let value = match object.get("value") {
        None | Some(Value::Null) => return Err(missing(&value_field)),
        Some(Value::String(value)) => value,
        Some(other) => return Err(syntax(&value_field, &other.to_string())),
    };
    let minor = parse_value(value, decimals, &value_field, zero_allowed)?;
    Ok(Amount { currency, decimals, minor })
}

fn parse_value(value: &str, decimals: u8, field: &str, zero_allowed: bool) -> Result<i64, ApiError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(ApiError::invalid_request(
            ErrorDetail::body(field, "INVALID_STRING_LENGTH", "The value of a field is either too short or too long.")
                .with_value(value),
        ));
    }
    // PayPal's pattern: ^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$
    let (negative, unsigned) = value.strip_prefix('-').map_or((false, value), |rest| (true, rest));
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = digits(whole)
        && digits(fraction)
        && if unsigned.contains('.') { !fraction.is_empty() } else { !whole.is_empty() };
    if !well_formed || whole.len() > MAX_WHOLE_DIGITS {
        return Err(syntax(field, value));
    }
    if fraction.len() > usize::from(decimals) {
        let description = if decimals == 0 {
            "If the currency does not support decimals, only integer amounts are supported."
        } else {
            "If the currency supports decimals, only two decimal place precision is supported."
        };
        return Err(ApiError::unprocessable(
            ErrorDetail::body(field, "DECIMAL_PRECISION", description).with_value(value),
        ));
    }
    let scale = 10i64.pow(u32::from(decimals));
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| syntax(field, value))? };
    let fraction: i64 = format!("{fraction:0<width$}", width = usize::from(decimals)).parse().unwrap_or(0);
    let magnitude = whole * scale + fraction;
    if negative || (magnitude == 0 && !zero_allowed) {
        return Err(ApiError::unprocessable(
            ErrorDetail::body(
                field,
                "CANNOT_BE_ZERO_OR_NEGATIVE",
                "Must be greater than zero. If the currency supports decimals, only two decimal place precision is supported.",
            )
            .with_value(value),
        ));
    }
    Ok(magnitude)
}

fn missing(field: &str) -> ApiError {
    ApiError::invalid_request(ErrorDetail::body(
        field,
        "MISSING_REQUIRED_PARAMETER",
        "A required field / parameter is missing.",
    ))
}

fn syntax(field: &str, value: &str) -> ApiError {
    ApiError::invalid_request(
        ErrorDetail::body(
            field,
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
        )
        .with_value(value),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(money: Value) -> (u16, String) {
        let error = parse_money(Some(&money), "/amount").unwrap_err();
        (error.status.as_u16(), error.first_issue().unwrap_or_default().to_owned())
    }

    #[test]
    fn amounts_are_read_exactly_into_minor_units() {
        let usd = parse_money(Some(&json!({"currency_code": "USD", "value": "100.5"})), "/amount").unwrap();
        assert_eq!((usd.minor, usd.value()), (10050, "100.50".to_owned()));
        let jpy = parse_money(Some(&json!({"currency_code": "JPY", "value": "1000"})), "/amount").unwrap();
        assert_eq!((jpy.minor, jpy.value()), (1000, "1000".to_owned()));
        let cents = parse_money(Some(&json!({"currency_code": "EUR", "value": ".29"})), "/amount").unwrap();
        assert_eq!(cents.minor, 29);
    }

    #[test]
    fn invalid_amounts_get_paypal_issue_names() {
        assert_eq!(issue(json!({"currency_code": "JPY", "value": "100.5"})), (422, "DECIMAL_PRECISION".into()));
        assert_eq!(issue(json!({"currency_code": "USD", "value": "1.005"})), (422, "DECIMAL_PRECISION".into()));
        assert_eq!(issue(json!({"currency_code": "KRW", "value": "100"})), (422, "CURRENCY_NOT_SUPPORTED".into()));
        assert_eq!(issue(json!({"currency_code": "US", "value": "100"})), (400, "INVALID_STRING_LENGTH".into()));
        assert_eq!(issue(json!({"value": "100"})), (400, "MISSING_REQUIRED_PARAMETER".into()));
        assert_eq!(issue(json!({"currency_code": "USD"})), (400, "MISSING_REQUIRED_PARAMETER".into()));
        assert_eq!(issue(json!({"currency_code": "USD", "value": 100})), (400, "INVALID_PARAMETER_SYNTAX".into()));
        assert_eq!(issue(json!({"currency_code": "USD", "value": "1e3"})), (400, "INVALID_PARAMETER_SYNTAX".into()));
        assert_eq!(issue(json!({"currency_code": "USD", "value": "1."})), (400, "INVALID_PARAMETER_SYNTAX".into()));
        assert_eq!(issue(json!({"currency_code": "USD", "value": "0.00"})), (422, "CANNOT_BE_ZERO_OR_NEGATIVE".into()));
        assert_eq!(
            issue(json!({"currency_code": "USD", "value": "-5.00"})),
            (422, "CANNOT_BE_ZERO_OR_NEGATIVE".into())
        );
        assert_eq!(
            issue(json!({"currency_code": "USD", "value": "9999999999999999"})),
            (400, "INVALID_PARAMETER_SYNTAX".into())
        );
    }

    #[test]
    fn summaries_read_like_paypal_ones() {
        let amount = Amount { currency: "USD", decimals: 2, minor: 251 };
        assert_eq!(amount.summary(), "$ 2.51 USD");
    }
}
