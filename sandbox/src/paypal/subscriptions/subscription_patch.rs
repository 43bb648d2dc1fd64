//! `PATCH /v1/billing/subscriptions/{id}`: the fields PayPal lets a merchant change on an active
//! or suspended subscription, its billing terms included (which makes the plan overridden).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::PaypalSimulator;
use super::super::amount::parse_price;
use super::super::auth::Merchant;
use super::super::errors::ApiError;
use super::fields::{invalid_value, parse_time, percentage, refused};
use super::json_patch::{PatchOperation, patch_operations, patch_path_error, patch_text};
use super::model::{Subscription, SubscriptionStatus, TenureType};
use super::plan_request::{check_currency, parse_pricing_scheme, set_price};
use super::render::terms_of;
use super::{no_content, owned_subscription, plan_of, status_invalid, subscription_mut};

pub(super) async fn patch_subscription(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    no_content(simulator.transact(|state| {
        let now = simulator.now();
        let operations = patch_operations(&body)?;
        let subscription = owned_subscription(state, &merchant.client_id, &id)?;
        if !matches!(subscription.status, SubscriptionStatus::Active | SubscriptionStatus::Suspended) {
            return Err(status_invalid("patch", "either active or suspended"));
        }
        let plan = plan_of(state, subscription)?;
        let mut terms = terms_of(&state.subscriptions, subscription)
            .cloned()
            .ok_or_else(|| super::not_found("plan_id", &subscription.plan_id))?;
        let currency = plan.currency;
        let mut edited = SubscriptionEdit::from(subscription);
        let mut terms_changed = false;
        for operation in &operations {
            terms_changed |= edited.apply(operation, &mut terms, subscription, currency, now)?;
        }
        let subscription = subscription_mut(state, &id)?;
        edited.write(subscription);
        subscription.update_time = now;
        let mut effects = Vec::new();
        if terms_changed {
            subscription.overridden_terms = Some(terms);
            simulator.reschedule(state, &id, &mut effects)?;
        }
        effects.extend(simulator.subscription_event(state, &id, "BILLING.SUBSCRIPTION.UPDATED"));
        Ok(((), effects))
    }))
}

/// The fields a subscription PATCH may change, edited on a copy so a patch applies whole or not
/// at all.
struct SubscriptionEdit {
    custom_id: Option<String>,
    shipping_amount: Option<super::super::amount::Amount>,
    start_time: DateTime<Utc>,
    outstanding_minor: i64,
    shipping_address: Option<Value>,
}

impl SubscriptionEdit {
    fn from(subscription: &Subscription) -> Self {
        Self {
            custom_id: subscription.custom_id.clone(),
            shipping_amount: subscription.shipping_amount,
            start_time: subscription.start_time,
            outstanding_minor: subscription.billing.outstanding_minor,
            shipping_address: None,
        }
    }

    fn write(self, subscription: &mut Subscription) {
        subscription.custom_id = self.custom_id;
        subscription.shipping_amount = self.shipping_amount;
        subscription.start_time = self.start_time;
        subscription.billing.outstanding_minor = self.outstanding_minor;
        if let (Some(address), Some(subscriber)) = (self.shipping_address, subscription.subscriber.as_object_mut()) {
            subscriber.insert("shipping_address".into(), address);
        }
    }

    /// Applies one operation; says whether the billing terms changed.
    fn apply(
        &mut self,
        operation: &PatchOperation,
        terms: &mut super::model::PlanTerms,
        subscription: &Subscription,
        currency: &'static str,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let (path, value) = (operation.path.as_str(), &operation.value);
        if let Some(rest) = path.strip_prefix("/plan/billing_cycles/@sequence==") {
            return patch_cycle(operation, rest, terms, subscription, currency, now).map(|()| true);
        }
        match path {
            "/custom_id" => {
                operation.expect(&["add", "replace"])?;
                self.custom_id = Some(patch_text(value, path, 127)?);
            }
            "/shipping_amount" => {
                operation.expect(&["add", "replace"])?;
                let amount = parse_price(Some(value), path)?;
                check_currency(amount, currency)?;
                self.shipping_amount = Some(amount).filter(|amount| amount.minor > 0);
            }
            "/subscriber/shipping_address" => {
                operation.expect(&["add", "replace"])?;
                if !value.is_object() {
                    return Err(invalid_value(path, &value.to_string()));
                }
                self.shipping_address = Some(value.clone());
            }
            "/start_time" => {
                operation.expect(&["replace"])?;
                if subscription.approved {
                    return Err(refused(
                        "INVALID_START_TIME",
                        "The start time cannot be updated for a subscription that has been activated.",
                    ));
                }
                self.start_time =
                    value.as_str().and_then(parse_time).ok_or_else(|| invalid_value(path, &value.to_string()))?;
            }
            "/billing_info/outstanding_balance" => {
                operation.expect(&["replace"])?;
                let amount = parse_price(Some(value), path)?;
                check_currency(amount, currency)?;
                if amount.minor > self.outstanding_minor {
                    return Err(refused(
                        "AMOUNT_GREATER_THAN_OUTSTANDING_BALANCE",
                        "The new outstanding balance cannot be greater than the current outstanding balance.",
                    ));
                }
                self.outstanding_minor = amount.minor;
            }
            "/plan/payment_preferences/auto_bill_outstanding" => {
                operation.expect(&["replace"])?;
                terms.preferences.auto_bill_outstanding =
                    value.as_bool().ok_or_else(|| invalid_value(path, &value.to_string()))?;
                return Ok(true);
            }
            "/plan/payment_preferences/payment_failure_threshold" => {
                operation.expect(&["replace"])?;
                terms.preferences.payment_failure_threshold = super::fields::bounded_integer(value, path, 0, 999)?;
                return Ok(true);
            }
            "/plan/taxes/percentage" | "/plan/taxes/inclusive" => {
                operation.expect(&["add", "replace"])?;
                let taxes = terms.taxes.get_or_insert_with(|| super::model::Taxes {
                    percentage: super::model::Percentage { text: "0".to_owned(), thousandths: 0 },
                    inclusive: true,
                });
                if path.ends_with("percentage") {
                    taxes.percentage = percentage(value, path)?;
                } else {
                    taxes.inclusive = value.as_bool().ok_or_else(|| invalid_value(path, &value.to_string()))?;
                }
                return Ok(true);
            }
            _ => return Err(patch_path_error(path)),
        }
        Ok(false)
    }
}

/// `/plan/billing_cycles/@sequence==N/pricing_scheme/fixed_price` or `…/total_cycles`.
fn patch_cycle(
    operation: &PatchOperation,
    rest: &str,
    terms: &mut super::model::PlanTerms,
    subscription: &Subscription,
    currency: &'static str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let path = operation.path.as_str();
    let (sequence, field) = rest.split_once('/').ok_or_else(|| patch_path_error(path))?;
    let sequence: u32 = sequence.parse().map_err(|_| patch_path_error(path))?;
    let index = terms
        .cycles
        .iter()
        .position(|cycle| cycle.sequence == sequence)
        .ok_or_else(super::plan_request::unknown_sequence)?;
    let completed = subscription.billing.completed.get(index).copied().unwrap_or(0);
    let cycle = &mut terms.cycles[index];
    if !cycle.is_infinite() && subscription.approved && completed >= cycle.total_cycles {
        return Err(refused(
            "BILLING_CYCLE_EXECUTION_COMPLETED",
            "Update cannot be performed on a billing cycle that has completed execution.",
        ));
    }
    match field {
        "pricing_scheme/fixed_price" => {
            operation.expect(&["add", "replace"])?;
            let mut scheme = serde_json::Map::new();
            scheme.insert("fixed_price".into(), operation.value.clone());
            let price = parse_pricing_scheme(&scheme, &format!("{path}/.."))?;
            set_price(cycle, price, currency, now)
        }
        "total_cycles" => {
            operation.expect(&["replace"])?;
            let total = super::fields::bounded_integer(&operation.value, path, 0, 999)?;
            if total < completed || (total == 0 && cycle.tenure == TenureType::Trial) {
                return Err(refused(
                    "INVALID_BILLING_TOTAL_CYCLES",
                    "The total cycles cannot be less than the number of billing cycles completed.",
                ));
            }
            cycle.total_cycles = total;
            Ok(())
        }
        _ => Err(patch_path_error(path)),
    }
}
