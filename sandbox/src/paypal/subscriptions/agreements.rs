//! Subscriptions (PayPal's billing agreements, hence `billing_agreement_id` on their sales):
//! create, list, show, patch, revise, suspend, cancel, activate, capture the outstanding
//! balance, and list transactions (`/v1/billing/subscriptions…`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::amount::{parse_money, parse_price};
use super::super::auth::Merchant;
use super::super::errors::{ApiError, ErrorDetail};
use super::super::render::link;
use super::super::state::PaypalState;
use super::super::{Effect, PaypalSimulator, json_response, wants_representation};
use super::billing::Charge;
use super::fields::{body_object, invalid_value, missing, parse_time, percentage, refused, required_text, text};
use super::model::{Revision, Subscription, SubscriptionStatus, TenureType};
use super::plan_request::{check_currency, parse_pricing_scheme, set_price};
use super::plans::{PatchOperation, patch_operations, patch_path_error};
use super::render::{currency_unit, terms_of};
use super::subscription_request::{check_quantity, parse_subscription, read_context, require_change, usable_plan};
use super::{KEY_RETENTION, Page, PageQuery, SUBSCRIPTIONS_DOC, owned_subscription, query_error, subscription_mut};
use crate::ids;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/billing/subscriptions", post(create_subscription).get(list_subscriptions))
        .route("/v1/billing/subscriptions/{id}", get(show_subscription).patch(patch_subscription))
        .route("/v1/billing/subscriptions/{id}/revise", post(revise_subscription))
        .route("/v1/billing/subscriptions/{id}/suspend", post(suspend_subscription))
        .route("/v1/billing/subscriptions/{id}/cancel", post(cancel_subscription))
        .route("/v1/billing/subscriptions/{id}/activate", post(activate_subscription))
        .route("/v1/billing/subscriptions/{id}/capture", post(capture_subscription))
        .route("/v1/billing/subscriptions/{id}/transactions", get(list_transactions))
}

type Shared = State<Arc<PaypalSimulator>>;

fn answer(status: StatusCode, outcome: Result<Value, ApiError>) -> Response {
    match outcome {
        Ok(body) => json_response(status, &body),
        Err(error) => error.documented_at(SUBSCRIPTIONS_DOC).into_response(),
    }
}

fn no_content(outcome: Result<(), ApiError>) -> Response {
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.documented_at(SUBSCRIPTIONS_DOC).into_response(),
    }
}

fn status_invalid(action: &str, expected: &str) -> ApiError {
    refused(
        "SUBSCRIPTION_STATUS_INVALID",
        &format!("Invalid subscription status for {action} action; subscription status should be {expected}."),
    )
}

async fn create_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let representation = wants_representation(&headers);
    let client_id = merchant.client_id;
    simulator.idempotent_post(&client_id, "/v1/billing/subscriptions", &headers, KEY_RETENTION, |state| {
        let now = simulator.now();
        let request = body_object(&body, true)
            .and_then(|request| parse_subscription(&request, &state.subscriptions.plans, &client_id, now))
            .map_err(|error| error.documented_at(SUBSCRIPTIONS_DOC))?;
        let subscription = Subscription {
            id: format!("I-{}", ids::upper_alphanumeric(12)),
            client_id: client_id.clone(),
            plan_id: request.plan_id,
            status: SubscriptionStatus::ApprovalPending,
            status_update_time: now,
            status_change_note: None,
            quantity: request.quantity,
            custom_id: request.custom_id,
            subscriber: request.subscriber,
            shipping_amount: request.shipping_amount,
            start_time: request.start_time,
            create_time: now,
            update_time: now,
            return_url: request.return_url,
            cancel_url: request.cancel_url,
            brand_name: request.brand_name,
            user_action: request.user_action,
            ba_token: format!("BA-{}", ids::upper_alphanumeric(17)),
            token: ids::upper_alphanumeric(17),
            approved: false,
            overridden_terms: request.overridden_terms,
            billing: Default::default(),
            generation: 0,
            fail_next: 0,
            fail_reason: super::model::FailureReason::PaymentDenied,
            pending_revision: None,
            sale_ids: Vec::new(),
        };
        let id = subscription.id.clone();
        let book = &mut state.subscriptions;
        book.ba_tokens.insert(subscription.ba_token.clone(), id.clone());
        book.subscription_order.push(id.clone());
        book.subscriptions.insert(id.clone(), subscription);
        let subscription = owned_subscription(state, &client_id, &id)?;
        let body = if representation {
            simulator.subscription_json(state, subscription)
        } else {
            simulator.subscription_created_minimal(subscription)
        };
        let effects = simulator.subscription_event(state, &id, "BILLING.SUBSCRIPTION.CREATED").into_iter().collect();
        Ok(((StatusCode::CREATED, body), effects))
    })
}

async fn list_subscriptions(
    State(simulator): Shared,
    merchant: Merchant,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let page = match Page::read(query) {
        Ok(page) => page,
        Err(error) => return error.documented_at(SUBSCRIPTIONS_DOC).into_response(),
    };
    let list = |text: &Option<String>| {
        text.as_deref().map(|text| {
            text.split(',').map(|item| item.trim().to_owned()).filter(|item| !item.is_empty()).collect::<Vec<_>>()
        })
    };
    let (plan_ids, statuses) = (list(&page.query.plan_ids), list(&page.query.statuses));
    let state = simulator.state();
    let book = &state.subscriptions;
    let mine: Vec<&Subscription> = book
        .subscription_order
        .iter()
        .filter_map(|id| book.subscriptions.get(id))
        .filter(|subscription| subscription.client_id == merchant.client_id)
        .filter(|subscription| plan_ids.as_ref().is_none_or(|ids| ids.contains(&subscription.plan_id)))
        .filter(|subscription| {
            statuses
                .as_ref()
                .is_none_or(|statuses| statuses.iter().any(|status| status == subscription.status.as_str()))
        })
        .collect();
    let shown: Vec<Value> =
        page.slice(&mine).iter().map(|subscription| simulator.subscription_json(&state, subscription)).collect();
    let mut body = json!({ "subscriptions": shown });
    page.describe(&mut body, mine.len(), &format!("{}/v1/billing/subscriptions", simulator.base_url()));
    json_response(StatusCode::OK, &body)
}

async fn show_subscription(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>) -> Response {
    let state = simulator.state();
    answer(
        StatusCode::OK,
        owned_subscription(&state, &merchant.client_id, &id)
            .map(|subscription| simulator.subscription_json(&state, subscription)),
    )
}

/// `{"reason": "…"}`, required or not.
fn reason(body: &[u8], required: bool) -> Result<Option<String>, ApiError> {
    let request = body_object(body, required)?;
    if required {
        required_text(&request, "reason", "/reason", 128).map(Some)
    } else {
        text(&request, "reason", "/reason", 128)
    }
}

async fn suspend_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    no_content(simulator.transact(|state| {
        let note = reason(&body, true)?;
        let now = simulator.now();
        owned_subscription(state, &merchant.client_id, &id)?;
        let subscription = subscription_mut(state, &id)?;
        if subscription.status != SubscriptionStatus::Active {
            return Err(status_invalid("suspend", "active"));
        }
        subscription.status = SubscriptionStatus::Suspended;
        subscription.status_change_note = note;
        subscription.status_update_time = now;
        subscription.update_time = now;
        subscription.generation += 1;
        let effects = simulator.subscription_event(state, &id, "BILLING.SUBSCRIPTION.SUSPENDED").into_iter().collect();
        Ok(((), effects))
    }))
}

async fn cancel_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    no_content(simulator.transact(|state| {
        let note = reason(&body, true)?;
        let now = simulator.now();
        owned_subscription(state, &merchant.client_id, &id)?;
        let subscription = subscription_mut(state, &id)?;
        if !matches!(subscription.status, SubscriptionStatus::Active | SubscriptionStatus::Suspended) {
            return Err(status_invalid("cancel", "active or suspended"));
        }
        subscription.status = SubscriptionStatus::Cancelled;
        subscription.status_change_note = note;
        subscription.status_update_time = now;
        subscription.update_time = now;
        subscription.generation += 1;
        let effects = simulator.subscription_event(state, &id, "BILLING.SUBSCRIPTION.CANCELLED").into_iter().collect();
        Ok(((), effects))
    }))
}

async fn activate_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    no_content(simulator.transact(|state| {
        let note = reason(&body, false)?;
        let now = simulator.now();
        let subscription = owned_subscription(state, &merchant.client_id, &id)?;
        let mut effects = Vec::new();
        match subscription.status {
            SubscriptionStatus::Approved => simulator.start_billing(state, &id, now, &mut effects)?,
            SubscriptionStatus::Suspended => {
                let billing = &subscription.billing;
                if billing.suspended_for_failures && billing.outstanding_minor > 0 {
                    return Err(refused(
                        "SUBSCRIPTION_CANNOT_BE_ACTIVATED",
                        "Subscription cannot be activated after payment failure threshold has reached.",
                    ));
                }
                simulator.resume_billing(state, &id, now, &mut effects)?;
            }
            _ => return Err(status_invalid("activate", "suspended")),
        }
        subscription_mut(state, &id)?.status_change_note = note;
        Ok(((), effects))
    }))
}

async fn revise_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer(
        StatusCode::OK,
        simulator.transact(|state| {
            let request = body_object(&body, true)?;
            require_change(&request)?;
            let subscription = owned_subscription(state, &merchant.client_id, &id)?;
            if !matches!(subscription.status, SubscriptionStatus::Active | SubscriptionStatus::Suspended) {
                return Err(status_invalid("revise", "active or suspended"));
            }
            let current_plan = state
                .subscriptions
                .plans
                .get(&subscription.plan_id)
                .ok_or_else(|| super::not_found("plan_id", &subscription.plan_id))?;
            let plan_id = text(&request, "plan_id", "/plan_id", 50)?.unwrap_or_else(|| subscription.plan_id.clone());
            let plan = usable_plan(&state.subscriptions.plans, &merchant.client_id, &plan_id)?;
            if plan.product_id != current_plan.product_id {
                return Err(refused(
                    "PLAN_PRODUCT_NOT_COMPATIBLE",
                    "The old and the new plans should be for the same product.",
                ));
            }
            check_currency(currency_unit(&plan.terms).ok_or_else(|| missing("/plan_id"))?, current_plan.currency)?;
            let quantity = super::fields::quantity(&request, "quantity", "/quantity")?;
            check_quantity(plan, quantity.or(subscription.quantity))?;
            let shipping_amount = super::subscription_request::shipping_amount(&request, plan)?;
            let context = read_context(&request)?;
            let revision = Revision {
                plan_id: plan_id.clone(),
                quantity: quantity.or(subscription.quantity),
                shipping_amount: shipping_amount.or(subscription.shipping_amount),
                return_url: context.return_url.or_else(|| subscription.return_url.clone()),
                cancel_url: context.cancel_url.or_else(|| subscription.cancel_url.clone()),
                ba_token: format!("BA-{}", ids::upper_alphanumeric(17)),
                token: ids::upper_alphanumeric(17),
            };
            let body = json!({
                "plan_id": revision.plan_id,
                "quantity": revision.quantity.unwrap_or(1).to_string(),
                "shipping_amount": revision.shipping_amount.map(super::render::billing_money),
                "plan_overridden": false,
                "links": [
                    link(simulator.subscription_approval_url(&revision.ba_token), "approve", "GET"),
                    link(simulator.subscription_url(&id), "edit", "PATCH"),
                    link(simulator.subscription_url(&id), "self", "GET"),
                    link(format!("{}/cancel", simulator.subscription_url(&id)), "cancel", "POST"),
                    link(format!("{}/suspend", simulator.subscription_url(&id)), "suspend", "POST"),
                    link(format!("{}/capture", simulator.subscription_url(&id)), "capture", "POST"),
                ],
            });
            let body = strip_nulls(body);
            let book = &mut state.subscriptions;
            book.ba_tokens.insert(revision.ba_token.clone(), id.clone());
            if let Some(subscription) = book.subscriptions.get_mut(&id) {
                subscription.pending_revision = Some(revision);
            }
            Ok((body, Vec::new()))
        }),
    )
}

fn strip_nulls(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.retain(|_, value| !value.is_null());
    }
    body
}

async fn patch_subscription(
    State(simulator): Shared,
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
        let plan = state
            .subscriptions
            .plans
            .get(&subscription.plan_id)
            .ok_or_else(|| super::not_found("plan_id", &subscription.plan_id))?;
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

fn patch_text(value: &Value, path: &str, max: usize) -> Result<String, ApiError> {
    match value {
        Value::String(text) if (1..=max).contains(&text.chars().count()) => Ok(text.clone()),
        other => Err(invalid_value(path, &other.to_string())),
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

async fn capture_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = merchant.client_id;
    let path = format!("/v1/billing/subscriptions/{id}/capture");
    simulator.idempotent_post(&client_id, &path, &headers, KEY_RETENTION, |state| {
        let mut effects = Vec::new();
        let transaction = capture(&simulator, state, &client_id, &id, &body, &mut effects)
            .map_err(|error| error.documented_at(SUBSCRIPTIONS_DOC))?;
        Ok(((StatusCode::ACCEPTED, transaction), effects))
    })
}

/// Charges (part of) the outstanding balance now.
fn capture(
    simulator: &PaypalSimulator,
    state: &mut PaypalState,
    client_id: &str,
    id: &str,
    body: &[u8],
    effects: &mut Vec<Effect>,
) -> Result<Value, ApiError> {
    let request = body_object(body, true)?;
    required_text(&request, "note", "/note", 128)?;
    match required_text(&request, "capture_type", "/capture_type", 24)?.as_str() {
        "OUTSTANDING_BALANCE" => {}
        other => return Err(invalid_value("/capture_type", other)),
    }
    let amount = parse_money(request.get("amount"), "/amount")?;
    let subscription = owned_subscription(state, client_id, id)?;
    if !matches!(
        subscription.status,
        SubscriptionStatus::Active | SubscriptionStatus::Suspended | SubscriptionStatus::Expired
    ) {
        return Err(status_invalid("capture", "active or suspended or expired"));
    }
    let outstanding = subscription.billing.outstanding_minor;
    if outstanding <= 0 {
        return Err(refused("ZERO_OUTSTANDING_BALANCE", "Current outstanding balance should be greater than zero."));
    }
    let currency = state.subscriptions.plans.get(&subscription.plan_id).map_or(amount.currency, |plan| plan.currency);
    if amount.currency != currency {
        return Err(refused(
            "CURRENCY_MISMATCH",
            "The currency code is different from the subscription's currency code.",
        ));
    }
    if amount.minor > outstanding {
        return Err(ApiError::unprocessable(
            ErrorDetail::body(
                "/amount/value",
                "AMOUNT_GREATER_THAN_OUTSTANDING_BALANCE",
                "The capture amount can not be greater than the current outstanding balance.",
            )
            .with_value(amount.value()),
        ));
    }
    let now = simulator.now();
    let charge = Charge { unit: amount, subtotal_minor: amount.minor, tax_minor: 0, shipping_minor: 0 };
    let sale_id = simulator.record_sale(state, id, charge, now, effects)?;
    subscription_mut(state, id)?.billing.outstanding_minor -= amount.minor;
    let sale = state.subscriptions.sales.get(&sale_id).ok_or_else(|| super::not_found("sale_id", &sale_id))?;
    Ok(simulator.transaction_json(sale))
}

#[derive(Deserialize)]
struct TransactionQuery {
    start_time: Option<String>,
    end_time: Option<String>,
}

async fn list_transactions(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    query: Result<Query<TransactionQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let range = || {
        let Ok(Query(query)) = query else {
            return Err(query_error("start_time", ""));
        };
        let read = |name: &str, value: Option<String>| {
            let text = value.ok_or_else(|| {
                ApiError::invalid_request(ErrorDetail {
                    field: Some(name.to_owned()),
                    location: Some("query"),
                    ..ErrorDetail::new("MISSING_REQUIRED_PARAMETER", "A required field is missing.")
                })
            })?;
            parse_time(&text).ok_or_else(|| query_error(name, &text))
        };
        Ok((read("start_time", query.start_time)?, read("end_time", query.end_time)?))
    };
    let (start, end) = match range() {
        Ok(range) => range,
        Err(error) => return error.documented_at(SUBSCRIPTIONS_DOC).into_response(),
    };
    let state = simulator.state();
    let outcome = owned_subscription(&state, &merchant.client_id, &id).map(|subscription| {
        let transactions: Vec<Value> = subscription
            .sale_ids
            .iter()
            .filter_map(|sale_id| state.subscriptions.sales.get(sale_id))
            .filter(|sale| sale.create_time >= start && sale.create_time <= end)
            .map(|sale| simulator.transaction_json(sale))
            .collect();
        let url = format!(
            "{}/transactions?start_time={}&end_time={}",
            simulator.subscription_url(&id),
            super::super::paypal_time(start),
            super::super::paypal_time(end)
        );
        json!({
            "transactions": transactions,
            "total_items": transactions.len(),
            "total_pages": 1,
            "links": [link(url, "self", "GET")],
        })
    });
    answer(StatusCode::OK, outcome)
}
