//! Recurring billing as PayPal runs it: Catalog Products v1, Subscriptions v1 (plans and
//! subscriptions), the v1 sales those subscriptions make with their refunds, the buyer's consent
//! page, and the billing engine that charges renewals on the shared test clock.
//!
//! What a merchant sees, as PayPal does it (seed 002):
//! - a subscription is created `APPROVAL_PENDING` with an `approve` link to the buyer's consent
//!   page (`/webapps/billing/subscriptions?ba_token=BA-…`); approval sends the buyer to
//!   `return_url?subscription_id=I-…&ba_token=BA-…&token=…`;
//! - approval (with `user_action` `SUBSCRIBE_NOW`, PayPal's default) activates it and charges
//!   the setup fee and the first cycle at once: `BILLING.SUBSCRIPTION.ACTIVATED`, then a
//!   `PAYMENT.SALE.COMPLETED` per payment; with `CONTINUE` it waits `APPROVED` for the
//!   merchant's `POST …/activate`;
//! - every renewal raises `PAYMENT.SALE.COMPLETED` only, a v1 sale whose `billing_agreement_id`
//!   is the subscription id; never `BILLING.SUBSCRIPTION.UPDATED`;
//! - `next_billing_time` is stated at 10:00 UTC and the charge comes `drift` later
//!   (`PUT /sandbox/paypal/billing-drift`, seed 002 saw 3 hours).
//!
//! Choices where PayPal's documentation is silent:
//! - a failed payment still uses up its cycle; its amount goes to `outstanding_balance`, which
//!   the next cycle's payment includes when `auto_bill_outstanding` is on (PayPal's retry five
//!   days later is not simulated). `payment_failure_threshold` consecutive failures suspend the
//!   subscription; a threshold of 0 never does. Such a subscription can be activated again only
//!   once its outstanding balance is captured (`SUBSCRIPTION_CANNOT_BE_ACTIVATED`);
//! - re-activating skips, without billing, the billing times that passed while suspended;
//! - after its last cycle a subscription expires at the end of that cycle's period;
//! - `POST …/revise` with a new plan or quantity always asks for the buyer's consent (an
//!   `approve` link); once approved the new plan's regular cycle starts at the billing time
//!   already stated, its trials skipped, and `BILLING.SUBSCRIPTION.UPDATED` is raised;
//! - a plan's price change reaches existing subscriptions' payments 10 days later, as PayPal
//!   documents; new subscriptions pay it at once;
//! - only fixed pricing is simulated (tiered and volume plans answer `INVALID_PRICING_MODEL`);
//! - a `start_time` more than a day in the past is refused; an earlier one is taken as now;
//! - unapproved subscriptions never expire, and the transactions list shows completed sales
//!   (with their refund status) but not failed attempts;
//! - when the clock jumps over many billing times at once, the sales carry their own billing
//!   times, while webhook envelopes carry the time they were raised (the end of the jump).

mod agreements;
mod billing;
mod buyer;
mod catalog;
pub mod control;
mod fields;
mod json_patch;
mod model;
mod plan_request;
mod plans;
mod product_categories;
mod render;
mod sales;
mod subscription_patch;
mod subscription_request;

use std::sync::Arc;

use axum::Router;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{ApiError, ErrorDetail};
use super::state::PaypalState;
use super::{PaypalSimulator, json_response};

pub(crate) use self::billing::Due;
pub use self::buyer::SubscriptionRedirect;
pub use self::model::{FailureReason, SubscriptionBook};
use self::model::{Plan, Subscription};
pub(crate) use self::model::{Sale, SaleOrigin, SaleState};

pub const CATALOG_DOC: &str = "https://developer.paypal.com/docs/api/catalog-products/v1/";
pub const SUBSCRIPTIONS_DOC: &str = "https://developer.paypal.com/docs/api/subscriptions/v1/";
pub const SALES_DOC: &str = "https://developer.paypal.com/docs/api/payments/v1/";

/// PayPal keeps the catalog and subscriptions APIs' `PayPal-Request-Id` keys for 72 hours.
const KEY_RETENTION: Duration = Duration::hours(72);

/// PayPal's API routes of this part (behind the token check and the fault controls).
pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new().merge(catalog::routes()).merge(plans::routes()).merge(agreements::routes()).merge(sales::routes())
}

/// The buyer's consent page.
pub fn buyer_routes() -> Router<Arc<PaypalSimulator>> {
    buyer::routes()
}

fn not_found(field: &str, value: &str) -> ApiError {
    ApiError::not_found(field, value).documented_at(SUBSCRIPTIONS_DOC)
}

fn status_invalid(action: &str, expected: &str) -> ApiError {
    fields::refused(
        "SUBSCRIPTION_STATUS_INVALID",
        &format!("Invalid subscription status for {action} action; subscription status should be {expected}."),
    )
}

/// 204 for a plan or subscription action that has nothing to show, or the error, linked to the
/// subscriptions reference.
fn no_content(outcome: Result<(), ApiError>) -> Response {
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.documented_at(SUBSCRIPTIONS_DOC).into_response(),
    }
}

/// Any app's subscription, for the billing engine and the control endpoints.
fn subscription_mut<'a>(state: &'a mut PaypalState, id: &str) -> Result<&'a mut Subscription, ApiError> {
    state.subscriptions.subscriptions.get_mut(id).ok_or_else(|| not_found("subscription_id", id))
}

/// The subscription when it belongs to `client_id`.
fn owned_subscription<'a>(state: &'a PaypalState, client_id: &str, id: &str) -> Result<&'a Subscription, ApiError> {
    state
        .subscriptions
        .subscriptions
        .get(id)
        .filter(|subscription| subscription.client_id == client_id)
        .ok_or_else(|| not_found("subscription_id", id))
}

/// The plan a subscription was made from (or switched to).
fn plan_of<'a>(state: &'a PaypalState, subscription: &Subscription) -> Result<&'a Plan, ApiError> {
    state.subscriptions.plans.get(&subscription.plan_id).ok_or_else(|| not_found("plan_id", &subscription.plan_id))
}

/// The query of PayPal's list calls.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    page_size: Option<String>,
    page: Option<String>,
    total_required: Option<String>,
    product_id: Option<String>,
    plan_ids: Option<String>,
    statuses: Option<String>,
}

pub struct Page {
    size: usize,
    number: usize,
    total_required: bool,
    query: PageQuery,
}

impl Page {
    const DEFAULT_SIZE: usize = 10;
    const MAX_SIZE: usize = 20;

    fn read(query: Result<Query<PageQuery>, QueryRejection>) -> Result<Self, ApiError> {
        let Ok(Query(query)) = query else {
            return Err(query_error("query", ""));
        };
        let number_in = |name: &str, value: &Option<String>, max: usize, default: usize| match value {
            None => Ok(default),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|number| (1..=max).contains(number))
                .ok_or_else(|| query_error(name, text)),
        };
        let size = number_in("page_size", &query.page_size, Self::MAX_SIZE, Self::DEFAULT_SIZE)?;
        let number = number_in("page", &query.page, 100_000, 1)?;
        let total_required = match query.total_required.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(query_error("total_required", other)),
        };
        Ok(Self { size, number, total_required, query })
    }

    fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = (self.number - 1).saturating_mul(self.size).min(items.len());
        let end = start.saturating_add(self.size).min(items.len());
        &items[start..end]
    }

    /// A list call's answer: this page of `items` under `key`, `total_items`/`total_pages` when
    /// asked for, and the page links of the list at `url`.
    fn answer<T>(&self, key: &str, items: &[T], url: &str, render: impl Fn(&T) -> Value) -> Response {
        let shown: Vec<Value> = self.slice(items).iter().map(render).collect();
        let total = items.len();
        let mut body = json!({ key: shown });
        if self.total_required {
            body["total_items"] = json!(total);
            body["total_pages"] = json!(total.div_ceil(self.size));
        }
        body["links"] = json!(catalog::page_links(url, self, total));
        json_response(StatusCode::OK, &body)
    }
}

pub(super) fn query_error(field: &str, value: &str) -> ApiError {
    ApiError::invalid_request(
        ErrorDetail {
            field: Some(field.to_owned()),
            location: Some("query"),
            ..ErrorDetail::new("INVALID_PARAMETER_VALUE", "The value of a field is invalid.")
        }
        .with_value(value),
    )
}
