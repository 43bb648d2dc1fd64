//! Reading `POST /v1/billing/subscriptions` and `POST …/revise` bodies.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::super::amount::{Amount, parse_price};
use super::super::errors::{ApiError, ErrorDetail};
use super::fields::{
    Object, child, choice, missing, quantity, refused, required_text, required_web_url, syntax, text, time,
};
use super::model::{Plan, PlanStatus, PlanTerms, UserAction};
use super::plan_request::{apply_override, check_currency};

/// How far in the past a `start_time` may lie and still be taken as "now" (clocks differ).
const START_TIME_TOLERANCE: Duration = Duration::hours(24);

pub struct SubscriptionRequest {
    pub plan_id: String,
    pub start_time: DateTime<Utc>,
    pub quantity: Option<u32>,
    pub shipping_amount: Option<Amount>,
    pub subscriber: Value,
    pub custom_id: Option<String>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub brand_name: Option<String>,
    pub user_action: UserAction,
    pub overridden_terms: Option<PlanTerms>,
}

pub struct ApplicationContext {
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub brand_name: Option<String>,
    pub user_action: Option<UserAction>,
}

pub fn read_context(request: &Object) -> Result<ApplicationContext, ApiError> {
    let pointer = "/application_context";
    let Some(context) = child(request, "application_context", pointer)? else {
        return Ok(ApplicationContext { return_url: None, cancel_url: None, brand_name: None, user_action: None });
    };
    Ok(ApplicationContext {
        // The document requires both once an application_context is given.
        return_url: Some(required_web_url(context, "return_url", &format!("{pointer}/return_url"))?),
        cancel_url: Some(required_web_url(context, "cancel_url", &format!("{pointer}/cancel_url"))?),
        brand_name: text(context, "brand_name", &format!("{pointer}/brand_name"), 127)?,
        user_action: choice(context, "user_action", &format!("{pointer}/user_action"), UserAction::parse)?,
    })
}

/// The plan named by `plan_id`, which must be the caller's and `ACTIVE`.
pub fn usable_plan<'a>(
    plans: &'a std::collections::HashMap<String, Plan>,
    client_id: &str,
    plan_id: &str,
) -> Result<&'a Plan, ApiError> {
    let plan = plans.get(plan_id).filter(|plan| plan.client_id == client_id).ok_or_else(|| {
        ApiError::invalid_request(
            ErrorDetail::body("/plan_id", "INVALID_RESOURCE_ID", "Requested resource ID was not found.")
                .with_value(plan_id),
        )
    })?;
    if plan.status != PlanStatus::Active {
        return Err(refused(
            "PLAN_STATUS_INVALID",
            "Invalid plan status for subscription creation; plan status should be active.",
        ));
    }
    Ok(plan)
}

pub fn check_quantity(plan: &Plan, quantity: Option<u32>) -> Result<(), ApiError> {
    if quantity.is_some() && !plan.quantity_supported {
        return Err(refused(
            "SUBSCRIPTION_CANNOT_HAVE_QUANTITY",
            "Subscription can't have quantity as the plan does not support quantity.",
        ));
    }
    Ok(())
}

pub fn shipping_amount(request: &Object, plan: &Plan) -> Result<Option<Amount>, ApiError> {
    match request.get("shipping_amount") {
        None | Some(Value::Null) => Ok(None),
        money => {
            let amount = parse_price(money, "/shipping_amount")?;
            check_currency(amount, plan.currency)?;
            Ok(Some(amount).filter(|amount| amount.minor > 0))
        }
    }
}

pub fn parse_subscription(
    request: &Object,
    plans: &std::collections::HashMap<String, Plan>,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<SubscriptionRequest, ApiError> {
    let plan_id = required_text(request, "plan_id", "/plan_id", 50)?;
    let plan = usable_plan(plans, client_id, &plan_id)?;
    let start_time = match time(request, "start_time", "/start_time")? {
        Some(start) if start < now - START_TIME_TOLERANCE => {
            return Err(ApiError::invalid_request(
                ErrorDetail::body(
                    "/start_time",
                    "INVALID_PARAMETER_VALUE",
                    "Start time must be a valid future date and time.",
                )
                .with_value(super::super::paypal_time(start)),
            ));
        }
        Some(start) => start.max(now),
        None => now,
    };
    let quantity = quantity(request, "quantity", "/quantity")?;
    check_quantity(plan, quantity)?;
    let subscriber = match request.get("subscriber") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(Value::Object(subscriber)) => Value::Object(subscriber.clone()),
        Some(other) => return Err(syntax("/subscriber", &other.to_string())),
    };
    let context = read_context(request)?;
    let overridden_terms = match child(request, "plan", "/plan")? {
        Some(overrides) => {
            let mut terms = plan.terms.clone();
            apply_override(&mut terms, overrides, plan.currency, now)?;
            Some(terms)
        }
        None => None,
    };
    Ok(SubscriptionRequest {
        shipping_amount: shipping_amount(request, plan)?,
        plan_id,
        start_time,
        quantity,
        subscriber,
        custom_id: text(request, "custom_id", "/custom_id", 127)?,
        return_url: context.return_url,
        cancel_url: context.cancel_url,
        brand_name: context.brand_name,
        user_action: context.user_action.unwrap_or(UserAction::SubscribeNow),
        overridden_terms,
    })
}

/// A revise body must change something.
pub fn require_change(request: &Object) -> Result<(), ApiError> {
    let changes = ["plan_id", "quantity", "shipping_amount", "shipping_address", "plan"];
    if changes.iter().any(|key| request.get(*key).is_some_and(|value| !value.is_null())) {
        Ok(())
    } else {
        Err(missing("/plan_id"))
    }
}
