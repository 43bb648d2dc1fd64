//! Subscriptions (PayPal's billing agreements, hence `billing_agreement_id` on their sales):
//! create, list, show, revise, suspend, cancel, activate, capture the outstanding balance, and
//! list transactions (`/v1/billing/subscriptions…`); PATCH is in [`super::subscription_patch`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::amount::parse_money;
use super::super::auth::Merchant;
use super::super::errors::{ApiError, ErrorDetail};
use super::super::render::link;
use super::super::state::PaypalState;
use super::super::{Effect, PaypalSimulator, wants_representation};
use super::billing::Charge;
use super::fields::{body_object, invalid_value, missing, parse_time, refused, required_text, text};
use super::model::{Revision, Subscription, SubscriptionStatus};
use super::plan_request::check_currency;
use super::render::{OptionalFields, currency_unit};
use super::subscription_patch::patch_subscription;
use super::subscription_request::{check_quantity, parse_subscription, read_context, require_change, usable_plan};
use super::{
    KEY_RETENTION, Page, PageQuery, SUBSCRIPTIONS_DOC, no_content, owned_subscription, plan_of, query_error,
    status_invalid, subscription_mut,
};
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

/// 200 with the body, or the error linked to the subscriptions reference.
fn answer(outcome: Result<Value, ApiError>) -> Response {
    super::super::answer(StatusCode::OK, outcome.map_err(|error| error.documented_at(SUBSCRIPTIONS_DOC)))
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
            simulator.subscription_json(state, subscription, OptionalFields::default())
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
    let url = format!("{}/v1/billing/subscriptions", simulator.base_url());
    page.answer("subscriptions", &mine, &url, |subscription| {
        simulator.subscription_json(&state, subscription, OptionalFields::default())
    })
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    fields: Option<String>,
}

async fn show_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let fields = match query.fields.as_deref() {
        None => Ok(OptionalFields::default()),
        Some(fields) => OptionalFields::parse(fields).ok_or_else(|| super::query_error("fields", fields)),
    };
    let state = simulator.state();
    answer(fields.and_then(|fields| {
        owned_subscription(&state, &merchant.client_id, &id)
            .map(|subscription| simulator.subscription_json(&state, subscription, fields))
    }))
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
    no_content(stop(&simulator, &merchant.client_id, &id, &body, SubscriptionStatus::Suspended))
}

async fn cancel_subscription(
    State(simulator): Shared,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    no_content(stop(&simulator, &merchant.client_id, &id, &body, SubscriptionStatus::Cancelled))
}

/// A merchant's `suspend` or `cancel`: the required `reason` becomes the `status_change_note`
/// and billing stops at once.
fn stop(
    simulator: &PaypalSimulator,
    client_id: &str,
    id: &str,
    body: &[u8],
    to: SubscriptionStatus,
) -> Result<(), ApiError> {
    use SubscriptionStatus::{Active, Suspended};
    let (action, from, expected, event_type): (_, &[_], _, _) = match to {
        Suspended => ("suspend", &[Active], "active", "BILLING.SUBSCRIPTION.SUSPENDED"),
        _ => ("cancel", &[Active, Suspended], "active or suspended", "BILLING.SUBSCRIPTION.CANCELLED"),
    };
    simulator.transact(|state| {
        let note = reason(body, true)?;
        let now = simulator.now();
        owned_subscription(state, client_id, id)?;
        let subscription = subscription_mut(state, id)?;
        if !from.contains(&subscription.status) {
            return Err(status_invalid(action, expected));
        }
        subscription.move_to(to, now);
        subscription.status_change_note = note;
        let effects = simulator.subscription_event(state, id, event_type).into_iter().collect();
        Ok(((), effects))
    })
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
    answer(simulator.transact(|state| {
        let request = body_object(&body, true)?;
        require_change(&request)?;
        let subscription = owned_subscription(state, &merchant.client_id, &id)?;
        if !matches!(subscription.status, SubscriptionStatus::Active | SubscriptionStatus::Suspended) {
            return Err(status_invalid("revise", "active or suspended"));
        }
        let current_plan = plan_of(state, subscription)?;
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
    }))
}

fn strip_nulls(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.retain(|_, value| !value.is_null());
    }
    body
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
    let response = simulator.idempotent_post(&client_id, &path, &headers, KEY_RETENTION, |state| {
        let mut effects = Vec::new();
        let transaction = capture(&simulator, state, &client_id, &id, &body, &mut effects)
            .map_err(|error| error.documented_at(SUBSCRIPTIONS_DOC))?;
        Ok(((StatusCode::ACCEPTED, transaction), effects))
    });
    // PayPal answers `202 Accepted` with no body; the charge shows in the transactions.
    if response.status() == StatusCode::ACCEPTED {
        return StatusCode::ACCEPTED.into_response();
    }
    response
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
    answer(outcome)
}
