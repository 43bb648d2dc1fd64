//! Plans: create, list, show, patch, activate, deactivate and change prices
//! (`/v1/billing/plans…`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::amount::parse_price;
use super::super::auth::Merchant;
use super::super::errors::{ApiError, ErrorDetail};
use super::super::events::NewEvent;
use super::super::state::PaypalState;
use super::super::{Effect, PaypalSimulator, answer, wants_representation};
use super::fields::{Object, bounded_integer, child, invalid_value, missing, percentage, refused, syntax};
use super::json_patch::{PatchOperation, patch_operations, patch_path_error, patch_text};
use super::model::{Plan, PlanStatus, SetupFeeFailureAction};
use super::plan_request::{check_currency, cycle_mut, parse_plan, parse_pricing_scheme, sequence_field, set_price};
use super::{KEY_RETENTION, Page, PageQuery, SUBSCRIPTIONS_DOC, no_content, not_found};
use crate::ids;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/billing/plans", post(create_plan).get(list_plans))
        .route("/v1/billing/plans/{id}", get(show_plan).patch(patch_plan))
        .route("/v1/billing/plans/{id}/activate", post(activate_plan))
        .route("/v1/billing/plans/{id}/deactivate", post(deactivate_plan))
        .route("/v1/billing/plans/{id}/update-pricing-schemes", post(update_pricing))
}

type Shared = State<Arc<PaypalSimulator>>;

fn plan_mut<'a>(state: &'a mut PaypalState, client_id: &str, id: &str) -> Result<&'a mut Plan, ApiError> {
    state
        .subscriptions
        .plans
        .get_mut(id)
        .filter(|plan| plan.client_id == client_id)
        .ok_or_else(|| not_found("plan_id", id))
}

impl PaypalSimulator {
    fn plan_event(&self, plan: &Plan, event_type: &'static str, summary: &str) -> Effect {
        Effect::Emit(NewEvent {
            client_id: plan.client_id.clone(),
            event_type,
            resource_type: "plan",
            summary: summary.to_owned(),
            resource: self.plan_json(plan),
        })
    }
}

async fn create_plan(State(simulator): Shared, merchant: Merchant, headers: HeaderMap, body: Bytes) -> Response {
    let representation = wants_representation(&headers);
    let client_id = merchant.client_id;
    simulator.idempotent_post(&client_id, "/v1/billing/plans", &headers, KEY_RETENTION, |state| {
        let create = |state: &mut PaypalState| {
            let now = simulator.now();
            let request = parse_plan(&super::fields::body_object(&body, true)?, now)?;
            let product =
                state.subscriptions.products.get(&request.product_id).filter(|product| product.client_id == client_id);
            if product.is_none() {
                return Err(ApiError::invalid_request(
                    ErrorDetail::body("/product_id", "INVALID_RESOURCE_ID", "Requested resource ID was not found.")
                        .with_value(request.product_id.as_str()),
                ));
            }
            Ok(Plan {
                id: format!("P-{}", ids::upper_alphanumeric(24)),
                client_id: client_id.clone(),
                product_id: request.product_id,
                name: request.name,
                description: request.description,
                status: request.status,
                terms: request.terms,
                quantity_supported: request.quantity_supported,
                currency: request.currency,
                create_time: now,
                update_time: now,
            })
        };
        let plan = create(state).map_err(|error| error.documented_at(SUBSCRIPTIONS_DOC))?;
        let body = if representation { simulator.plan_json(&plan) } else { simulator.plan_summary_json(&plan) };
        // A plan created ACTIVE raises BILLING.PLAN.CREATED only; ACTIVATED follows the activate call.
        let effects = vec![simulator.plan_event(&plan, "BILLING.PLAN.CREATED", "A billing plan was created.")];
        let book = &mut state.subscriptions;
        book.plan_order.push(plan.id.clone());
        book.plans.insert(plan.id.clone(), plan);
        Ok(((StatusCode::CREATED, body), effects))
    })
}

async fn list_plans(
    State(simulator): Shared,
    merchant: Merchant,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let page = match Page::read(query) {
        Ok(page) => page,
        Err(error) => return error.documented_at(SUBSCRIPTIONS_DOC).into_response(),
    };
    let wanted_ids: Option<Vec<&str>> =
        page.query.plan_ids.as_deref().map(|ids| ids.split(',').map(str::trim).filter(|id| !id.is_empty()).collect());
    let state = simulator.state();
    let book = &state.subscriptions;
    let plans: Vec<&Plan> = book
        .plan_order
        .iter()
        .filter_map(|id| book.plans.get(id))
        .filter(|plan| plan.client_id == merchant.client_id)
        .filter(|plan| page.query.product_id.as_deref().is_none_or(|product| plan.product_id == product))
        .filter(|plan| wanted_ids.as_ref().is_none_or(|ids| ids.contains(&plan.id.as_str())))
        .collect();
    let full = wants_representation(&headers);
    let render = |plan: &&Plan| if full { simulator.plan_json(plan) } else { simulator.plan_summary_json(plan) };
    page.answer("plans", &plans, &format!("{}/v1/billing/plans", simulator.base_url()), render)
}

async fn show_plan(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>) -> Response {
    let state = simulator.state();
    let plan = state.subscriptions.plans.get(&id).filter(|plan| plan.client_id == merchant.client_id);
    answer(StatusCode::OK, plan.map(|plan| simulator.plan_json(plan)).ok_or_else(|| not_found("plan_id", &id)))
}

async fn activate_plan(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>) -> Response {
    no_content(set_plan_status(&simulator, &merchant.client_id, &id, PlanStatus::Active))
}

async fn deactivate_plan(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>) -> Response {
    no_content(set_plan_status(&simulator, &merchant.client_id, &id, PlanStatus::Inactive))
}

fn set_plan_status(simulator: &PaypalSimulator, client_id: &str, id: &str, status: PlanStatus) -> Result<(), ApiError> {
    simulator.transact(|state| {
        let now = simulator.now();
        let plan = plan_mut(state, client_id, id)?;
        let (allowed, description, event_type, summary) = match status {
            PlanStatus::Active => (
                matches!(plan.status, PlanStatus::Created | PlanStatus::Inactive),
                "Invalid plan status for activate action; plan status should be either created or inactive.",
                "BILLING.PLAN.ACTIVATED",
                "A billing plan was activated.",
            ),
            _ => (
                plan.status == PlanStatus::Active,
                "Invalid plan status for deactivate action; plan status should be active.",
                "BILLING.PLAN.DEACTIVATED",
                "A billing plan was deactivated.",
            ),
        };
        if !allowed {
            return Err(refused("PLAN_STATUS_INVALID", description));
        }
        plan.status = status;
        plan.update_time = now;
        let plan = &*plan;
        Ok(((), vec![simulator.plan_event(plan, event_type, summary)]))
    })
}

/// Changes a plan that is not inactive (refused with `refusal` otherwise) and raises
/// `BILLING.PLAN.UPDATED`. `change` checks everything on copies before it writes, so a change
/// applies whole or not at all.
fn update_plan(
    simulator: &PaypalSimulator,
    client_id: &str,
    id: &str,
    refusal: (&str, &str),
    change: impl FnOnce(&mut Plan, DateTime<Utc>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    simulator.transact(|state| {
        let now = simulator.now();
        let plan = plan_mut(state, client_id, id)?;
        if plan.status == PlanStatus::Inactive {
            return Err(refused(refusal.0, refusal.1));
        }
        change(plan, now)?;
        plan.update_time = now;
        let plan = &*plan;
        Ok(((), vec![simulator.plan_event(plan, "BILLING.PLAN.UPDATED", "A billing plan was updated.")]))
    })
}

async fn patch_plan(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>, body: Bytes) -> Response {
    let refusal = ("PLAN_STATUS_INACTIVE", "Status update is the only patchable filed on an inactive plan.");
    no_content(patch_operations(&body).and_then(|operations| {
        update_plan(&simulator, &merchant.client_id, &id, refusal, |plan, _| {
            let mut patched = plan.terms.clone();
            let mut name = plan.name.clone();
            let mut description = plan.description.clone();
            for operation in &operations {
                apply_plan_patch(operation, &mut patched, &mut name, &mut description, plan.currency)?;
            }
            plan.terms = patched;
            plan.name = name;
            plan.description = description;
            Ok(())
        })
    }))
}

fn apply_plan_patch(
    operation: &PatchOperation,
    terms: &mut super::model::PlanTerms,
    name: &mut String,
    description: &mut Option<String>,
    currency: &'static str,
) -> Result<(), ApiError> {
    let (path, value) = (operation.path.as_str(), &operation.value);
    operation.expect(&["replace"])?;
    let preferences = &mut terms.preferences;
    match path {
        "/name" => *name = patch_text(value, path, 127)?,
        "/description" => *description = Some(patch_text(value, path, 127)?),
        "/payment_preferences/auto_bill_outstanding" => {
            preferences.auto_bill_outstanding = value.as_bool().ok_or_else(|| syntax(path, &value.to_string()))?;
        }
        "/payment_preferences/payment_failure_threshold" => {
            preferences.payment_failure_threshold = bounded_integer(value, path, 0, 999)?;
        }
        "/payment_preferences/setup_fee_failure_action" => {
            preferences.setup_fee_failure_action = value
                .as_str()
                .and_then(SetupFeeFailureAction::parse)
                .ok_or_else(|| invalid_value(path, &value.to_string()))?;
        }
        "/payment_preferences/setup_fee" => {
            let fee = parse_price(Some(value), path)?;
            check_currency(fee, currency)?;
            preferences.setup_fee = Some(fee).filter(|fee| fee.minor > 0);
        }
        "/taxes/percentage" => {
            let rate = percentage(value, path)?;
            match &mut terms.taxes {
                Some(taxes) => taxes.percentage = rate,
                None => terms.taxes = Some(super::model::Taxes { percentage: rate, inclusive: true }),
            }
        }
        _ => return Err(patch_path_error(path)),
    }
    Ok(())
}

async fn update_pricing(State(simulator): Shared, merchant: Merchant, Path(id): Path<String>, body: Bytes) -> Response {
    let refusal = ("PRICING_SCHEME_UPDATE_NOT_ALLOWED", "Pricing scheme update is not allowed for the plan.");
    no_content(super::fields::body_object(&body, true).and_then(|request| {
        update_plan(&simulator, &merchant.client_id, &id, refusal, |plan, now| {
            let mut terms = plan.terms.clone();
            apply_pricing_schemes(&request, &mut terms, plan.currency, now)?;
            plan.terms = terms;
            Ok(())
        })
    }))
}

fn apply_pricing_schemes(
    request: &Object,
    terms: &mut super::model::PlanTerms,
    currency: &'static str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let items = match request.get("pricing_schemes") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        None | Some(Value::Null) => return Err(missing("/pricing_schemes")),
        Some(other) => return Err(syntax("/pricing_schemes", &other.to_string())),
    };
    for (index, item) in items.iter().enumerate() {
        let pointer = format!("/pricing_schemes/{index}");
        let update = item.as_object().ok_or_else(|| syntax(&pointer, &item.to_string()))?;
        let sequence = sequence_field(update, "billing_cycle_sequence", &format!("{pointer}/billing_cycle_sequence"))?;
        let scheme = child(update, "pricing_scheme", &format!("{pointer}/pricing_scheme"))?
            .ok_or_else(|| missing(&format!("{pointer}/pricing_scheme")))?;
        let price = parse_pricing_scheme(scheme, &format!("{pointer}/pricing_scheme"))?;
        set_price(cycle_mut(terms, sequence)?, price, currency, now)?;
    }
    Ok(())
}
