//! Money as integer minor units plus an ISO 4217 currency, never floats.
//!
//! Providers speak two dialects: PayPal sends decimal strings ("10.00", "-55.90", "1000" for JPY)
//! and Ping++ sends integer fen. Both are converted here, exactly, at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 currency with a defined number of minor units (so not XAU, XXX, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    iso: iso_currency::Currency,
    exponent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an ISO 4217 currency code (use upper-case codes such as USD, EUR, CNY)")]
    UnknownCurrency(String),
    #[error("`{0}` has no minor unit, so it cannot be used for payments")]
    CurrencyWithoutMinorUnit(String),
    #[error("`{value}` is not a decimal amount (expected digits with an optional `.` and up to {exponent} decimals)")]
    Malformed { value: String, exponent: u8 },
    #[error("`{value}` has more decimals than {currency} allows ({exponent})")]
    TooPrecise { value: String, currency: String, exponent: u8 },
    #[error("`{0}` is too large to represent")]
    Overflow(String),
    #[error("cannot combine amounts in {0} and {1}")]
    CurrencyMismatch(String, String),
}

impl Currency {
    /// Parses an upper-case ISO 4217 code. Lower-case codes (Ping++'s `cny`) go through
    /// [`Currency::parse_case_insensitive`], so a typo in the hub's own API is not silently accepted.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let iso =
            iso_currency::Currency::from_code(code).ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))?;
        let exponent = iso
            .exponent()
            .and_then(|e| u8::try_from(e).ok())
            .ok_or_else(|| MoneyError::CurrencyWithoutMinorUnit(code.to_owned()))?;
        Ok(Self { iso, exponent })
    }

    pub fn parse_case_insensitive(code: &str) -> Result<Self, MoneyError> {
        Self::parse(&code.to_ascii_uppercase())
    }

    pub fn code(&self) -> &'static str {
        self.iso.code()
    }

    /// Number of decimal places of the minor unit (2 for USD, 0 for JPY, 3 for BHD).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units of a currency. Negative amounts exist (PayPal reversal notices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// Converts a provider's decimal string exactly. Fewer decimals than the currency allows are
    /// fine ("10.5" USD is 1050); more are accepted only when the extra digits are zeros.
    pub fn from_decimal_str(value: &str, currency: Currency) -> Result<Self, MoneyError> {
        let exponent = currency.exponent;
        let malformed = || MoneyError::Malformed { value: value.to_owned(), exponent };
        let (negative, unsigned) = match value.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, f)) if !f.is_empty() => (w, f),
            Some(_) => return Err(malformed()),
            None => (unsigned, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(malformed());
        }
        let significant = fraction.trim_end_matches('0');
        if significant.len() > usize::from(exponent) {
            return Err(MoneyError::TooPrecise {
                value: value.to_owned(),
                currency: currency.code().to_owned(),
                exponent,
            });
        }
        // i128 keeps the intermediate exact even for i64::MIN, whose magnitude is not an i64.
        let overflow = || MoneyError::Overflow(value.to_owned());
        let whole: i128 = whole.parse().map_err(|_| overflow())?;
        let fraction: i128 = format!("{significant:0<width$}", width = usize::from(exponent)).parse().unwrap_or(0);
        let magnitude = whole
            .checked_mul(10i128.pow(u32::from(exponent)))
            .and_then(|m| m.checked_add(fraction))
            .ok_or_else(overflow)?;
        let signed = if negative { -magnitude } else { magnitude };
        let amount = i64::try_from(signed).map_err(|_| overflow())?;
        Ok(Self::new(amount, currency))
    }

    /// The decimal string providers expect: exactly `exponent` decimals ("10.00", "1000" for JPY).
    pub fn to_decimal_string(&self) -> String {
        let exponent = u32::from(self.currency.exponent);
        let sign = if self.amount < 0 { "-" } else { "" };
        let magnitude = self.amount.unsigned_abs();
        if exponent == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = 10u64.pow(exponent);
        format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = exponent as usize)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or_else(|| MoneyError::Overflow(format!("{} + {}", self, other)))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.amount
            .checked_sub(other.amount)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or_else(|| MoneyError::Overflow(format!("{} - {}", self, other)))
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency.code().to_owned(), other.currency.code().to_owned()))
        }
    }
}

/// Ten billion major units: far above any real payment, far below overflow.
pub const MAX_PAYMENT_AMOUNT: i64 = 1_000_000_000_000;

/// What a merchant may ask a buyer to pay, in minor units of the payment's currency.
pub type PaymentAmount = PositiveAmount<MAX_PAYMENT_AMOUNT>;

/// A positive number of minor units no larger than `MAX`, as merchants ask to be paid or
/// refunded. Zero and negative amounts exist in payhub (a PayPal reversal notice), but never in
/// a merchant's request: [`PositiveAmount::parse`] is the only way to make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PositiveAmount<const MAX: i64 = { i64::MAX }>(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must not be negative")]
    Negative,
    #[error("must not be zero")]
    Zero,
    #[error("must be at most {0}")]
    AboveMax(i64),
}

impl<const MAX: i64> PositiveAmount<MAX> {
    pub fn parse(minor_units: i64) -> Result<Self, AmountError> {
        if minor_units < 0 {
            Err(AmountError::Negative)
        } else if minor_units == 0 {
            Err(AmountError::Zero)
        } else if minor_units > MAX {
            Err(AmountError::AboveMax(MAX))
        } else {
            Ok(Self(minor_units))
        }
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }

    pub fn of(self, currency: Currency) -> Money {
        Money::new(self.0, currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn paypal_decimal_strings_convert_exactly() {
        let jpy = Currency::parse("JPY").unwrap();
        let bhd = Currency::parse("BHD").unwrap();
        assert_eq!(Money::from_decimal_str("10.00", usd()).unwrap().amount, 1000);
        assert_eq!(Money::from_decimal_str("10.5", usd()).unwrap().amount, 1050);
        assert_eq!(Money::from_decimal_str("0.01", usd()).unwrap().amount, 1);
        assert_eq!(Money::from_decimal_str("-55.90", usd()).unwrap().amount, -5590);
        assert_eq!(Money::from_decimal_str("10.500", usd()).unwrap().amount, 1050);
        assert_eq!(Money::from_decimal_str("1000", jpy).unwrap().amount, 1000);
        assert_eq!(Money::from_decimal_str("1.234", bhd).unwrap().amount, 1234);
        // The float trap: 0.1 + 0.2 style values stay exact.
        assert_eq!(Money::from_decimal_str("0.29", usd()).unwrap().amount, 29);
    }

    #[test]
    fn inexact_or_malformed_amounts_are_refused() {
        let jpy = Currency::parse("JPY").unwrap();
        for bad in ["", ".", "1.", ".5", "1,00", "1e3", "+1", " 1", "1.0.0", "abc", "--1", "-"] {
            assert!(
                matches!(Money::from_decimal_str(bad, usd()), Err(MoneyError::Malformed { .. })),
                "{bad:?} should be malformed"
            );
        }
        assert!(matches!(Money::from_decimal_str("10.005", usd()), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Money::from_decimal_str("10.5", jpy), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Money::from_decimal_str("92233720368547758.08", usd()), Err(MoneyError::Overflow(_))));
    }

    #[test]
    fn currencies_are_validated() {
        assert!(matches!(Currency::parse("usd"), Err(MoneyError::UnknownCurrency(_))));
        assert_eq!(Currency::parse_case_insensitive("cny").unwrap().code(), "CNY");
        assert!(matches!(Currency::parse("XXX"), Err(MoneyError::CurrencyWithoutMinorUnit(_))));
        assert!(matches!(Currency::parse("ZZZ"), Err(MoneyError::UnknownCurrency(_))));
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies() {
        let eur = Currency::parse("EUR").unwrap();
        let err = Money::new(1, usd()).checked_add(Money::new(1, eur)).unwrap_err();
        assert_eq!(err, MoneyError::CurrencyMismatch("USD".into(), "EUR".into()));
    }

    #[test]
    fn requested_amounts_are_positive_and_bounded() {
        assert_eq!(PaymentAmount::parse(1).map(PositiveAmount::minor_units), Ok(1));
        assert_eq!(
            PaymentAmount::parse(MAX_PAYMENT_AMOUNT).map(|a| a.of(usd())),
            Ok(Money::new(MAX_PAYMENT_AMOUNT, usd()))
        );
        assert_eq!(PaymentAmount::parse(0), Err(AmountError::Zero));
        assert_eq!(PaymentAmount::parse(-5), Err(AmountError::Negative));
        assert_eq!(PaymentAmount::parse(MAX_PAYMENT_AMOUNT + 1), Err(AmountError::AboveMax(MAX_PAYMENT_AMOUNT)));
        // Without a bound of its own (a refund's is what the payment has left), only the sign counts.
        assert_eq!(PositiveAmount::<{ i64::MAX }>::parse(i64::MAX).map(PositiveAmount::minor_units), Ok(i64::MAX));
        assert_eq!(PositiveAmount::<{ i64::MAX }>::parse(i64::MIN), Err(AmountError::Negative));
    }

    proptest! {
        #[test]
        fn decimal_string_round_trips(amount in any::<i64>(), code in prop::sample::select(vec!["USD", "JPY", "BHD", "CNY", "EUR", "HUF", "CLF"])) {
            let currency = Currency::parse(code).unwrap();
            let money = Money::new(amount, currency);
            let text = money.to_decimal_string();
            prop_assert_eq!(Money::from_decimal_str(&text, currency).unwrap(), money);
        }

        #[test]
        fn decimal_string_has_exactly_the_currency_decimals(amount in -1_000_000_000i64..1_000_000_000) {
            let text = Money::new(amount, usd()).to_decimal_string();
            let decimals = text.split_once('.').map(|(_, f)| f.len());
            prop_assert_eq!(decimals, Some(2));
        }

        #[test]
        fn trailing_zeros_never_change_the_value(whole in 0u32..1_000_000, cents in 0u32..100, zeros in 0usize..5) {
            let text = format!("{whole}.{cents:02}{}", "0".repeat(zeros));
            let money = Money::from_decimal_str(&text, usd()).unwrap();
            prop_assert_eq!(money.amount, i64::from(whole) * 100 + i64::from(cents));
        }
    }
}
