//! The buyer's way back from the provider. The query string that comes with it is never
//! trusted (seed 003): payhub only uses it to find the payment, then asks the provider where
//! it stands, captures an approved payment, and sends the buyer on to the merchant.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use payhub_core::id::{PaymentId, SubscriptionId};
use payhub_core::payment::{Payment, PaymentStatus};
use payhub_core::subscription::SubscriptionStatus;
use payhub_core::transition::Cause;
use serde::Deserialize;
use tracing::warn;

use crate::app::Hub;

#[derive(Debug, Deserialize)]
pub struct BuyerReturn {
    /// payhub's payment id, put there by payhub when it created the payment.
    payment: Option<String>,
    /// PayPal's transaction id on a PDT-enabled return; confirmed with PayPal before it counts.
    tx: Option<String>,
}

pub async fn buyer_return(
    State(hub): State<Hub>,
    Path(provider): Path<String>,
    Query(query): Query<BuyerReturn>,
) -> Response {
    let Some(payment) = find(&hub, &provider, query.payment.as_deref()).await else {
        return page(StatusCode::NOT_FOUND, "Payment not found", "This link does not belong to a payment.");
    };
    let current = if matches!(payment.status(), PaymentStatus::RequiresAction | PaymentStatus::Processing) {
        let confirmed = match (query.tx.as_deref(), hub.provider(payment.mode, payment.provider)) {
            (Some(tx), Ok(provider)) => provider.confirm_return(&payment, tx).await,
            _ => None,
        };
        match hub.sync_payment(&payment, confirmed, &Cause::BuyerReturn, None).await {
            Ok(applied) => applied.payment,
            Err(e) => {
                // Webhooks and the reconciler settle it; the buyer should not be stuck here.
                warn!(payment = %payment.id, error = %e, "could not complete the payment on the buyer's return");
                payment
            }
        }
    } else {
        payment
    };
    onward(&current, current.return_url.as_deref())
}

pub async fn buyer_cancel(
    State(hub): State<Hub>,
    Path(provider): Path<String>,
    Query(query): Query<BuyerReturn>,
) -> Response {
    let Some(payment) = find(&hub, &provider, query.payment.as_deref()).await else {
        return page(StatusCode::NOT_FOUND, "Payment not found", "This link does not belong to a payment.");
    };
    let current = if payment.status() == PaymentStatus::RequiresAction {
        match hub.end_unpaid_payment(&payment, PaymentStatus::Canceled, &Cause::BuyerReturn).await {
            Ok(p) => p,
            Err(e) => {
                warn!(payment = %payment.id, error = %e, "could not cancel the payment on the buyer's return");
                payment
            }
        }
    } else {
        payment
    };
    let target = current.cancel_url.as_deref().or(current.return_url.as_deref());
    onward(&current, target)
}

#[derive(Debug, Deserialize)]
pub struct SubscriberReturn {
    subscription: Option<String>,
}

/// The subscriber comes back from approving (or not) at the provider; payhub asks the
/// provider where the subscription stands before sending them on.
pub async fn subscriber_return(State(hub): State<Hub>, Query(query): Query<SubscriberReturn>) -> Response {
    let found = match query.subscription.as_deref() {
        Some(id) => match SubscriptionId::parse_exact(id) {
            Some(id) => hub.db.find_subscription(&id).await.ok().flatten(),
            None => None,
        },
        None => None,
    };
    let Some(subscription) = found else {
        return page(StatusCode::NOT_FOUND, "Subscription not found", "This link does not belong to a subscription.");
    };
    let current = match hub.sync_subscription(&subscription, &Cause::BuyerReturn, None).await {
        Ok(current) => current,
        Err(e) => {
            warn!(subscription = %subscription.id, error = %e, "could not check the subscription on the subscriber's return");
            subscription
        }
    };
    let target = if current.status() == SubscriptionStatus::ApprovalPending {
        current.cancel_url.as_deref().or(current.return_url.as_deref())
    } else {
        current.return_url.as_deref()
    };
    match target.and_then(|u| url::Url::parse(u).ok()) {
        Some(mut url) => {
            url.query_pairs_mut()
                .append_pair("subscription_id", current.id.as_str())
                .append_pair("status", current.status().as_str());
            Redirect::to(url.as_str()).into_response()
        }
        None if current.status() == SubscriptionStatus::ApprovalPending => {
            page(StatusCode::OK, "Subscription not started", "Nothing was charged.")
        }
        None => page(StatusCode::OK, "Subscription active", "Thank you. You can close this window."),
    }
}

async fn find(hub: &Hub, provider: &str, id: Option<&str>) -> Option<Payment> {
    let payment = hub.db.find_payment(&PaymentId::parse_exact(id?)?).await.ok().flatten()?;
    (payment.provider.as_str() == provider).then_some(payment)
}

/// Sends the buyer to the merchant with the payment's id and status (for display only: the
/// merchant confirms with `GET /v1/payments/{id}`), or shows a page when there is no URL.
fn onward(payment: &Payment, merchant_url: Option<&str>) -> Response {
    match merchant_url.and_then(|u| url::Url::parse(u).ok()) {
        Some(mut url) => {
            url.query_pairs_mut()
                .append_pair("payment_id", payment.id.as_str())
                .append_pair("status", payment.status().as_str());
            Redirect::to(url.as_str()).into_response()
        }
        None => {
            let (title, message) = match payment.status() {
                PaymentStatus::Succeeded => ("Payment complete", "Thank you. You can close this window."),
                PaymentStatus::Processing => ("Payment processing", "The provider is still confirming your payment."),
                PaymentStatus::Canceled => ("Payment canceled", "No money was taken."),
                _ => ("Payment not completed", "The payment was not completed."),
            };
            page(StatusCode::OK, title, message)
        }
    }
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    // Only static strings reach this template.
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\"><h1>{title}</h1><p>{message}</p></body></html>"
    );
    (status, Html(html)).into_response()
}
