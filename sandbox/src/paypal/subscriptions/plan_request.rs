//! Reading plan bodies (`POST /v1/billing/plans`, `update-pricing-schemes`, a subscription's
//! `plan` override) with the rules PayPal states: at most two trial cycles and one regular cycle,
//! sequences 1, 2, 3 with trials first, one free trial at most, finite trials, intervals of at
//! most a year, and one currency throughout.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::amount::{Amount, parse_price};
use super::super::errors::ApiError;
use super::fields::{
    Object, array, bounded_integer, child, choice, flag, integer, invalid_value, missing, percentage, refused,
    refused_field, required_text, syntax, text,
};
use super::model::{
    BillingCycle, Frequency, IntervalUnit, PaymentPreferences, PlanStatus, PlanTerms, PriceVersion,
    SetupFeeFailureAction, Taxes, TenureType,
};

const MAX_TRIAL_CYCLES: usize = 2;

pub struct PlanRequest {
    pub product_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: PlanStatus,
    pub terms: PlanTerms,
    pub quantity_supported: bool,
    pub currency: &'static str,
}

pub fn parse_plan(request: &Object, now: DateTime<Utc>) -> Result<PlanRequest, ApiError> {
    let product_id = required_text(request, "product_id", "/product_id", 50)?;
    let name = required_text(request, "name", "/name", 127)?;
    let description = text(request, "description", "/description", 127)?;
    // "The initial state of the plan. Allowed input values are CREATED and ACTIVE."
    let status = match choice(request, "status", "/status", PlanStatus::parse)? {
        None => PlanStatus::Active,
        Some(PlanStatus::Inactive) => return Err(invalid_value("/status", "INACTIVE")),
        Some(status) => status,
    };
    let items = array(request, "billing_cycles", "/billing_cycles")?.ok_or_else(|| missing("/billing_cycles"))?;
    let cycles = parse_cycles(items, now)?;
    let preferences = child(request, "payment_preferences", "/payment_preferences")?
        .ok_or_else(|| missing("/payment_preferences"))
        .and_then(|object| parse_preferences(object, "/payment_preferences"))?;
    let taxes = child(request, "taxes", "/taxes")?.map(|object| parse_taxes(object, "/taxes")).transpose()?;
    let quantity_supported = flag(request, "quantity_supported", "/quantity_supported")?.unwrap_or(false);
    let terms = PlanTerms { cycles, preferences, taxes };
    let currency = plan_currency(&terms)?;
    Ok(PlanRequest { product_id, name, description, status, terms, quantity_supported, currency })
}

/// A plan has at most 12 billing cycles (up to 2 trials and 1 regular).
const MAX_BILLING_CYCLES: usize = 12;

fn parse_cycles(items: &[Value], now: DateTime<Utc>) -> Result<Vec<BillingCycle>, ApiError> {
    if items.is_empty() {
        return Err(ApiError::invalid_request(super::super::errors::ErrorDetail::body(
            "/billing_cycles",
            "INVALID_ARRAY_MIN_ITEMS",
            "The number of items in an array parameter is too small.",
        )));
    }
    // The document's bound, checked before the cycles' business rules as PayPal does.
    if items.len() > MAX_BILLING_CYCLES {
        return Err(ApiError::invalid_request(super::super::errors::ErrorDetail::body(
            "/billing_cycles",
            "INVALID_ARRAY_MAX_ITEMS",
            "The number of items in an array parameter is too large.",
        )));
    }
    let mut cycles = items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_cycle(item, &format!("/billing_cycles/{index}"), now))
        .collect::<Result<Vec<_>, _>>()?;
    check_cycle_rules(&cycles)?;
    cycles.sort_by_key(|cycle| cycle.sequence);
    Ok(cycles)
}

fn parse_cycle(item: &Value, pointer: &str, now: DateTime<Utc>) -> Result<BillingCycle, ApiError> {
    let cycle = item.as_object().ok_or_else(|| syntax(pointer, &item.to_string()))?;
    let tenure = choice(cycle, "tenure_type", &format!("{pointer}/tenure_type"), TenureType::parse)?
        .ok_or_else(|| missing(&format!("{pointer}/tenure_type")))?;
    let sequence = integer(cycle, "sequence", &format!("{pointer}/sequence"), 1, 99)?
        .ok_or_else(|| missing(&format!("{pointer}/sequence")))?;
    let frequency = child(cycle, "frequency", &format!("{pointer}/frequency"))?
        .ok_or_else(|| missing(&format!("{pointer}/frequency")))
        .and_then(|frequency| parse_frequency(frequency, &format!("{pointer}/frequency")))?;
    let total_cycles = integer(cycle, "total_cycles", &format!("{pointer}/total_cycles"), 0, 999)?.unwrap_or(1);
    let price = match child(cycle, "pricing_scheme", &format!("{pointer}/pricing_scheme"))? {
        Some(scheme) => parse_pricing_scheme(scheme, &format!("{pointer}/pricing_scheme"))?,
        None => None,
    };
    if tenure == TenureType::Trial && total_cycles == 0 {
        return Err(refused_field(
            &format!("{pointer}/total_cycles"),
            "INVALID_TRIAL_BILLING_TOTAL_CYCLES",
            "Total cycles for trial billing must be greater than '0'.",
        ));
    }
    if tenure == TenureType::Regular && price.is_none() {
        return Err(missing(&format!("{pointer}/pricing_scheme/fixed_price")));
    }
    Ok(BillingCycle {
        tenure,
        sequence,
        frequency,
        total_cycles,
        prices: vec![PriceVersion { version: 1, price, create_time: now }],
    })
}

fn parse_frequency(frequency: &Object, pointer: &str) -> Result<Frequency, ApiError> {
    let unit = choice(frequency, "interval_unit", &format!("{pointer}/interval_unit"), IntervalUnit::parse)?
        .ok_or_else(|| missing(&format!("{pointer}/interval_unit")))?;
    let count =
        integer(frequency, "interval_count", &format!("{pointer}/interval_count"), 1, unit.max_count())?.unwrap_or(1);
    Ok(Frequency { unit, count })
}

/// A cycle's price: `None` for a free one. Tiered and volume pricing are not simulated.
pub fn parse_pricing_scheme(scheme: &Object, pointer: &str) -> Result<Option<Amount>, ApiError> {
    if scheme.contains_key("tiers") || scheme.contains_key("pricing_model") {
        return Err(refused_field(
            &format!("{pointer}/pricing_model"),
            "INVALID_PRICING_MODEL",
            "The sandbox simulates fixed prices only; tiered and volume pricing are not supported.",
        ));
    }
    match scheme.get("fixed_price") {
        None | Some(Value::Null) => Ok(None),
        money => {
            let price = parse_price(money, &format!("{pointer}/fixed_price"))?;
            Ok((price.minor > 0).then_some(price))
        }
    }
}

fn check_cycle_rules(cycles: &[BillingCycle]) -> Result<(), ApiError> {
    let trials: Vec<&BillingCycle> = cycles.iter().filter(|cycle| cycle.tenure == TenureType::Trial).collect();
    let regular = cycles.iter().filter(|cycle| cycle.tenure == TenureType::Regular).count();
    if trials.len() > MAX_TRIAL_CYCLES {
        return Err(refused(
            "MORE_THAN_TWO_TRIAL_BILLING_CYCLE_NOT_SUPPORTED",
            "Only two trial billing cycles are allowed.",
        ));
    }
    if trials.iter().filter(|cycle| cycle.latest().price.is_none()).count() > 1 {
        return Err(refused(
            "MULTIPLE_FREE_TRIAL_BILLING_CYCLES_NOT_SUPPORTED",
            "Only one free trial billing cycle is allowed.",
        ));
    }
    if regular == 0 {
        return Err(refused("MISSING_REGULAR_BILLING_CYCLE", "Plan should have at least one regular billing cycle."));
    }
    if regular > 1 {
        return Err(refused(
            "MULTIPLE_REGULAR_BILLING_CYCLES_NOT_SUPPORTED",
            "Only one regular billing cycle is allowed.",
        ));
    }
    let mut sequences: Vec<u32> = cycles.iter().map(|cycle| cycle.sequence).collect();
    sequences.sort_unstable();
    if sequences.iter().zip(1..).any(|(sequence, expected)| *sequence != expected) {
        return Err(refused(
            "INVALID_BILLING_CYCLE_SEQUENCE",
            "Billing cycle sequence should start with `1` and be consecutive.",
        ));
    }
    let regular_sequence =
        cycles.iter().find(|cycle| cycle.tenure == TenureType::Regular).map_or(0, |cycle| cycle.sequence);
    if trials.iter().any(|trial| trial.sequence > regular_sequence) {
        return Err(refused(
            "INVALID_BILLING_CYCLE_SEQUENCE",
            "Trial Billing cycle should precede regular billing cycle.",
        ));
    }
    Ok(())
}

pub fn parse_preferences(preferences: &Object, pointer: &str) -> Result<PaymentPreferences, ApiError> {
    let setup_fee = match preferences.get("setup_fee") {
        None | Some(Value::Null) => None,
        money => Some(parse_price(money, &format!("{pointer}/setup_fee"))?).filter(|fee| fee.minor > 0),
    };
    Ok(PaymentPreferences {
        auto_bill_outstanding: flag(preferences, "auto_bill_outstanding", &format!("{pointer}/auto_bill_outstanding"))?
            .unwrap_or(true),
        setup_fee,
        setup_fee_failure_action: choice(
            preferences,
            "setup_fee_failure_action",
            &format!("{pointer}/setup_fee_failure_action"),
            SetupFeeFailureAction::parse,
        )?
        .unwrap_or(SetupFeeFailureAction::Cancel),
        payment_failure_threshold: integer(
            preferences,
            "payment_failure_threshold",
            &format!("{pointer}/payment_failure_threshold"),
            0,
            999,
        )?
        .unwrap_or(0),
    })
}

pub fn parse_taxes(taxes: &Object, pointer: &str) -> Result<Taxes, ApiError> {
    let percentage = taxes
        .get("percentage")
        .filter(|value| !value.is_null())
        .ok_or_else(|| missing(&format!("{pointer}/percentage")))
        .and_then(|value| percentage(value, &format!("{pointer}/percentage")))?;
    Ok(Taxes { percentage, inclusive: flag(taxes, "inclusive", &format!("{pointer}/inclusive"))?.unwrap_or(true) })
}

/// The one currency of a plan's prices and setup fee.
pub fn plan_currency(terms: &PlanTerms) -> Result<&'static str, ApiError> {
    let mut currencies = terms
        .cycles
        .iter()
        .flat_map(|cycle| cycle.prices.iter().filter_map(|version| version.price))
        .chain(terms.preferences.setup_fee)
        .map(|amount| amount.currency);
    let first = currencies.next().ok_or_else(|| missing("/billing_cycles/0/pricing_scheme/fixed_price"))?;
    if currencies.any(|currency| currency != first) {
        return Err(refused("CURRENCY_MISMATCH", "All currency codes in the request should be of similar value."));
    }
    Ok(first)
}

/// Applies a subscription's `plan` override (`billing_cycles[{sequence, pricing_scheme,
/// total_cycles}]`, `payment_preferences`, `taxes`) to a copy of the plan's terms.
pub fn apply_override(
    terms: &mut PlanTerms,
    overrides: &Object,
    currency: &'static str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(items) = array(overrides, "billing_cycles", "/plan/billing_cycles")? {
        for (index, item) in items.iter().enumerate() {
            let pointer = format!("/plan/billing_cycles/{index}");
            let cycle_override = item.as_object().ok_or_else(|| syntax(&pointer, &item.to_string()))?;
            let sequence = sequence_field(cycle_override, "sequence", &format!("{pointer}/sequence"))?;
            let cycle = cycle_mut(terms, sequence)?;
            if let Some(scheme) = child(cycle_override, "pricing_scheme", &format!("{pointer}/pricing_scheme"))? {
                let price = parse_pricing_scheme(scheme, &format!("{pointer}/pricing_scheme"))?;
                set_price(cycle, price, currency, now)?;
            }
            if let Some(total) = integer(cycle_override, "total_cycles", &format!("{pointer}/total_cycles"), 0, 999)? {
                cycle.total_cycles = total;
            }
        }
    }
    if let Some(preferences) = child(overrides, "payment_preferences", "/plan/payment_preferences")? {
        let pointer = "/plan/payment_preferences";
        let current = &mut terms.preferences;
        if let Some(flag) = flag(preferences, "auto_bill_outstanding", &format!("{pointer}/auto_bill_outstanding"))? {
            current.auto_bill_outstanding = flag;
        }
        if let Some(threshold) =
            integer(preferences, "payment_failure_threshold", &format!("{pointer}/payment_failure_threshold"), 0, 999)?
        {
            current.payment_failure_threshold = threshold;
        }
        if let Some(action) = choice(
            preferences,
            "setup_fee_failure_action",
            &format!("{pointer}/setup_fee_failure_action"),
            SetupFeeFailureAction::parse,
        )? {
            current.setup_fee_failure_action = action;
        }
        if preferences.get("setup_fee").is_some_and(|fee| !fee.is_null()) {
            let fee = parse_price(preferences.get("setup_fee"), &format!("{pointer}/setup_fee"))?;
            check_currency(fee, currency)?;
            current.setup_fee = Some(fee).filter(|fee| fee.minor > 0);
        }
    }
    if let Some(taxes) = child(overrides, "taxes", "/plan/taxes")? {
        terms.taxes = Some(parse_taxes(taxes, "/plan/taxes")?);
    }
    Ok(())
}

/// Adds a new price version to a cycle (`update-pricing-schemes`, overrides, patches).
pub fn set_price(
    cycle: &mut BillingCycle,
    price: Option<Amount>,
    currency: &'static str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(price) = price {
        check_currency(price, currency)?;
    } else if cycle.tenure == TenureType::Regular {
        return Err(invalid_value("/pricing_scheme/fixed_price", "0"));
    }
    let version = cycle.latest().version + 1;
    cycle.prices.push(PriceVersion { version, price, create_time: now });
    Ok(())
}

pub fn check_currency(amount: Amount, currency: &'static str) -> Result<(), ApiError> {
    if amount.currency == currency {
        Ok(())
    } else {
        Err(refused("CURRENCY_MISMATCH", "The currency code is different from the plan's currency code."))
    }
}

pub fn unknown_sequence() -> ApiError {
    refused("INVALID_BILLING_CYCLE_SEQUENCE", "The provided billing cycle sequence is not available.")
}

/// The required sequence (1 to 99) an override or a price update names its billing cycle by.
pub fn sequence_field(object: &Object, key: &str, pointer: &str) -> Result<u32, ApiError> {
    object.get(key).ok_or_else(|| missing(pointer)).and_then(|value| bounded_integer(value, pointer, 1, 99))
}

/// The billing cycle with that sequence.
pub fn cycle_mut(terms: &mut PlanTerms, sequence: u32) -> Result<&mut BillingCycle, ApiError> {
    terms.cycles.iter_mut().find(|cycle| cycle.sequence == sequence).ok_or_else(unknown_sequence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cycle(tenure: &str, sequence: u32, value: Option<&str>) -> Value {
        let mut cycle = json!({
            "frequency": { "interval_unit": "WEEK", "interval_count": 1 },
            "tenure_type": tenure,
            "sequence": sequence,
            "total_cycles": if tenure == "TRIAL" { 1 } else { 0 },
        });
        if let Some(value) = value {
            cycle["pricing_scheme"] = json!({ "fixed_price": { "currency_code": "USD", "value": value } });
        }
        cycle
    }

    fn plan(cycles: Vec<Value>) -> Value {
        json!({
            "product_id": "PROD-6XB24663H4094933M",
            "name": "Weekly",
            "billing_cycles": cycles,
            "payment_preferences": { "payment_failure_threshold": 3 },
        })
    }

    fn issue(body: Value) -> (u16, String) {
        let error = parse_plan(body.as_object().unwrap(), Utc::now()).err().expect("refused");
        (error.status.as_u16(), error.first_issue().unwrap_or_default().to_owned())
    }

    #[test]
    fn a_free_trial_then_weekly_plan_reads_with_paypal_defaults() {
        let request = parse_plan(
            plan(vec![cycle("REGULAR", 2, Some("9.99")), cycle("TRIAL", 1, Some("0"))]).as_object().unwrap(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(request.status, PlanStatus::Active);
        assert_eq!(request.terms.cycles[0].tenure, TenureType::Trial, "sorted by sequence");
        assert_eq!(request.terms.cycles[0].latest().price, None, "a zero price is a free trial");
        assert_eq!(request.terms.cycles[1].latest().price.map(|price| price.minor), Some(999));
        assert!(request.terms.preferences.auto_bill_outstanding);
        assert_eq!(request.terms.preferences.setup_fee_failure_action, SetupFeeFailureAction::Cancel);
        assert_eq!(request.currency, "USD");
    }

    #[test]
    fn billing_cycle_rules_are_refused_with_paypals_issues() {
        let three_trials = plan(vec![
            cycle("TRIAL", 1, Some("1")),
            cycle("TRIAL", 2, Some("2")),
            cycle("TRIAL", 3, Some("3")),
            cycle("REGULAR", 4, Some("9")),
        ]);
        assert_eq!(issue(three_trials), (422, "MORE_THAN_TWO_TRIAL_BILLING_CYCLE_NOT_SUPPORTED".into()));
        let two_free =
            plan(vec![cycle("TRIAL", 1, None), cycle("TRIAL", 2, Some("0")), cycle("REGULAR", 3, Some("9"))]);
        assert_eq!(issue(two_free).1, "MULTIPLE_FREE_TRIAL_BILLING_CYCLES_NOT_SUPPORTED");
        assert_eq!(issue(plan(vec![cycle("TRIAL", 1, Some("1"))])).1, "MISSING_REGULAR_BILLING_CYCLE");
        let two_regular = plan(vec![cycle("REGULAR", 1, Some("1")), cycle("REGULAR", 2, Some("2"))]);
        assert_eq!(issue(two_regular).1, "MULTIPLE_REGULAR_BILLING_CYCLES_NOT_SUPPORTED");
        let gap = plan(vec![cycle("TRIAL", 1, Some("1")), cycle("REGULAR", 3, Some("2"))]);
        assert_eq!(issue(gap).1, "INVALID_BILLING_CYCLE_SEQUENCE");
        let trial_last = plan(vec![cycle("REGULAR", 1, Some("1")), cycle("TRIAL", 2, Some("2"))]);
        assert_eq!(issue(trial_last).1, "INVALID_BILLING_CYCLE_SEQUENCE");
    }

    #[test]
    fn schema_problems_are_400s_naming_the_field() {
        let mut bad_unit = plan(vec![cycle("REGULAR", 1, Some("1"))]);
        bad_unit["billing_cycles"][0]["frequency"]["interval_unit"] = json!("FORTNIGHT");
        assert_eq!(issue(bad_unit), (400, "INVALID_PARAMETER_VALUE".into()));
        let mut long_interval = plan(vec![cycle("REGULAR", 1, Some("1"))]);
        long_interval["billing_cycles"][0]["frequency"]["interval_count"] = json!(53);
        assert_eq!(issue(long_interval), (400, "INVALID_INTEGER_MAX_VALUE".into()));
        let mut bad_currency = plan(vec![cycle("REGULAR", 1, Some("1"))]);
        bad_currency["billing_cycles"][0]["pricing_scheme"]["fixed_price"]["currency_code"] = json!("XXX");
        assert_eq!(issue(bad_currency), (422, "CURRENCY_NOT_SUPPORTED".into()));
        let mut mixed = plan(vec![cycle("TRIAL", 1, Some("1")), cycle("REGULAR", 2, Some("2"))]);
        mixed["billing_cycles"][0]["pricing_scheme"]["fixed_price"]["currency_code"] = json!("EUR");
        assert_eq!(issue(mixed), (422, "CURRENCY_MISMATCH".into()));
        let mut no_name = plan(vec![cycle("REGULAR", 1, Some("1"))]);
        no_name.as_object_mut().unwrap().remove("name");
        assert_eq!(issue(no_name), (400, "MISSING_REQUIRED_PARAMETER".into()));
    }
}
