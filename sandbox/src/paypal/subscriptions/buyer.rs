//! The buyer's side of a subscription: the consent page an `approve` link points to
//! (`GET /webapps/billing/subscriptions?ba_token=BA-…`), and approving or declining there, for a
//! new subscription or a revision. Used by the page and the control endpoints alike.

use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::approval::with_query;
use super::super::buyer_page::{decision_forms, escape, finish, page};
use super::super::errors::ApiError;
use super::super::state::{PaypalState, wrong_state};
use super::super::{Effect, PaypalSimulator};
use super::model::{SubscriptionStatus, UserAction};
use super::render::terms_of;
use super::{not_found, subscription_mut};

/// Where the buyer's browser goes next, as PayPal redirects it after the consent page.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubscriptionRedirect {
    pub subscription_id: String,
    /// `return_url?subscription_id=…&ba_token=…&token=…` (or the `cancel_url`); `None` when the
    /// merchant gave no URL.
    pub redirect_url: Option<String>,
    pub ba_token: String,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_id: Option<String>,
}

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/webapps/billing/subscriptions", get(show))
        .route("/webapps/billing/subscriptions/approve", post(approve))
        .route("/webapps/billing/subscriptions/cancel", post(decline))
}

fn redirect_to(url: Option<&str>, id: &str, ba_token: &str, token: &str) -> Option<String> {
    url.map(|url| with_query(url, &[("subscription_id", id), ("ba_token", ba_token), ("token", token)]))
}

impl PaypalSimulator {
    /// The buyer consents: a new subscription is activated (or `APPROVED` when the merchant
    /// asked to activate it), a pending revision is applied. Approving twice changes nothing.
    pub fn approve_subscription(&self, id: &str) -> Result<SubscriptionRedirect, ApiError> {
        let payer_id = self.parties().payer_id.clone();
        self.transact(|state| {
            let now = self.now();
            let mut effects = Vec::new();
            let subscription = subscription_mut(state, id)?;
            let (return_url, ba_token, token) = match subscription.pending_revision.take() {
                Some(_)
                    if !matches!(subscription.status, SubscriptionStatus::Active | SubscriptionStatus::Suspended) =>
                {
                    return Err(wrong_state(
                        "SUBSCRIPTION_STATUS_INVALID",
                        "The subscription ended before the buyer consented to the change.",
                    ));
                }
                Some(revision) => {
                    subscription.quantity = revision.quantity;
                    subscription.shipping_amount = revision.shipping_amount;
                    subscription.update_time = now;
                    let switch = revision.plan_id != subscription.plan_id;
                    if switch {
                        self.switch_plan(state, id, &revision.plan_id, now, &mut effects)?;
                    }
                    effects.extend(self.subscription_event(state, id, "BILLING.SUBSCRIPTION.UPDATED"));
                    (revision.return_url, revision.ba_token, revision.token)
                }
                None => {
                    let urls =
                        (subscription.return_url.clone(), subscription.ba_token.clone(), subscription.token.clone());
                    self.consent(state, id, now, &mut effects)?;
                    urls
                }
            };
            let redirect = SubscriptionRedirect {
                subscription_id: id.to_owned(),
                redirect_url: redirect_to(return_url.as_deref(), id, &ba_token, &token),
                ba_token,
                token,
                payer_id: Some(payer_id.clone()),
            };
            Ok((redirect, effects))
        })
    }

    fn consent(
        &self,
        state: &mut PaypalState,
        id: &str,
        now: chrono::DateTime<chrono::Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), ApiError> {
        let parties = self.parties();
        let subscription = subscription_mut(state, id)?;
        match subscription.status {
            SubscriptionStatus::ApprovalPending => {}
            SubscriptionStatus::Cancelled | SubscriptionStatus::Expired => {
                return Err(wrong_state(
                    "SUBSCRIPTION_STATUS_INVALID",
                    "The subscription is cancelled or expired and can no longer be approved.",
                ));
            }
            _ => return Ok(()),
        }
        subscription.approved = true;
        if let Some(subscriber) = subscription.subscriber.as_object_mut() {
            subscriber.insert("payer_id".into(), json!(parties.payer_id));
            subscriber.entry("email_address").or_insert_with(|| json!(parties.payer_email));
            subscriber
                .entry("name")
                .or_insert_with(|| json!({ "given_name": parties.payer_given_name, "surname": parties.payer_surname }));
        }
        if subscription.user_action == UserAction::Continue {
            subscription.status = SubscriptionStatus::Approved;
            subscription.status_update_time = now;
            subscription.update_time = now;
            return Ok(());
        }
        self.start_billing(state, id, now, effects)
    }

    /// The buyer declines at the consent page: they are sent to `cancel_url`; the subscription
    /// (or its pending revision) stays as it was, as at PayPal.
    pub fn decline_subscription(&self, id: &str) -> Result<SubscriptionRedirect, ApiError> {
        let state = self.state();
        let subscription = state.subscriptions.subscriptions.get(id).ok_or_else(|| not_found("subscription_id", id))?;
        let (ba_token, token) = match &subscription.pending_revision {
            Some(revision) => (revision.ba_token.clone(), revision.token.clone()),
            None => (subscription.ba_token.clone(), subscription.token.clone()),
        };
        let cancel_url = subscription
            .pending_revision
            .as_ref()
            .and_then(|revision| revision.cancel_url.clone())
            .or_else(|| subscription.cancel_url.clone());
        Ok(SubscriptionRedirect {
            subscription_id: id.to_owned(),
            redirect_url: redirect_to(cancel_url.as_deref(), id, &ba_token, &token),
            ba_token,
            token,
            payer_id: None,
        })
    }

    fn subscription_for_token(&self, ba_token: &str) -> Option<String> {
        self.state().subscriptions.ba_tokens.get(ba_token).cloned()
    }
}

#[derive(Deserialize)]
struct Token {
    ba_token: Option<String>,
}

async fn show(State(simulator): State<Arc<PaypalSimulator>>, query: Result<Query<Token>, QueryRejection>) -> Response {
    let Some(ba_token) = query.ok().and_then(|Query(query)| query.ba_token).filter(|token| !token.is_empty()) else {
        return page(StatusCode::BAD_REQUEST, "Missing token", "<p>This page needs <code>?ba_token=BA-…</code>.</p>");
    };
    let Some(id) = simulator.subscription_for_token(&ba_token) else {
        return page(
            StatusCode::NOT_FOUND,
            "Subscription not found",
            &format!("<p>No subscription for <code>{}</code>.</p>", escape(&ba_token)),
        );
    };
    let state = simulator.state();
    let Some(subscription) = state.subscriptions.subscriptions.get(&id) else {
        return page(StatusCode::NOT_FOUND, "Subscription not found", "<p>The subscription is gone.</p>");
    };
    let plan_id = subscription
        .pending_revision
        .as_ref()
        .map_or(subscription.plan_id.as_str(), |revision| revision.plan_id.as_str());
    let plan_name = state.subscriptions.plans.get(plan_id).map_or("a plan", |plan| plan.name.as_str());
    let merchant = subscription.brand_name.as_deref().unwrap_or("payhub sandbox merchant");
    let mut lines = String::new();
    if let Some(terms) = terms_of(&state.subscriptions, subscription) {
        for cycle in &terms.cycles {
            let price =
                cycle.latest().price.map_or("Free".to_owned(), |price| format!("{} {}", price.value(), price.currency));
            let times =
                if cycle.is_infinite() { "until cancelled".to_owned() } else { format!("× {}", cycle.total_cycles) };
            lines.push_str(&format!(
                "<tr><td>{} every {} {}</td><td class=\"amount\">{} {}</td></tr>",
                escape(cycle.tenure.as_str()),
                cycle.frequency.count,
                escape(cycle.frequency.unit.as_str()),
                escape(&price),
                escape(&times),
            ));
        }
    }
    let open =
        matches!(subscription.status, SubscriptionStatus::ApprovalPending) || subscription.pending_revision.is_some();
    let actions = if open {
        decision_forms("/webapps/billing/subscriptions", ("ba_token", &ba_token), "Agree and subscribe", merchant)
    } else {
        format!("<p>This subscription is {} and needs no approval.</p>", escape(subscription.status.as_str()))
    };
    let body = format!(
        "<p>Subscribe to <strong>{plan}</strong> from <strong>{merchant}</strong> as {buyer}</p><table>{lines}</table>{actions}",
        plan = escape(plan_name),
        merchant = escape(merchant),
        buyer = escape(&simulator.parties().payer_email),
    );
    page(StatusCode::OK, "Review your subscription", &body)
}

async fn approve(State(simulator): State<Arc<PaypalSimulator>>, form: Result<Form<Token>, FormRejection>) -> Response {
    match token_subscription(&simulator, form) {
        Ok(id) => {
            finish(simulator.approve_subscription(&id).map(|redirect| redirect.redirect_url), "Subscription approved")
        }
        Err(refusal) => refusal.page(),
    }
}

async fn decline(State(simulator): State<Arc<PaypalSimulator>>, form: Result<Form<Token>, FormRejection>) -> Response {
    match token_subscription(&simulator, form) {
        Ok(id) => {
            finish(simulator.decline_subscription(&id).map(|redirect| redirect.redirect_url), "Subscription cancelled")
        }
        Err(refusal) => refusal.page(),
    }
}

/// Why a consent form names no subscription.
enum FormRefusal {
    NoToken,
    UnknownToken,
}

impl FormRefusal {
    fn page(self) -> Response {
        match self {
            Self::NoToken => page(StatusCode::BAD_REQUEST, "Missing token", "<p>The form carried no subscription.</p>"),
            Self::UnknownToken => page(StatusCode::NOT_FOUND, "Subscription not found", "<p>No such subscription.</p>"),
        }
    }
}

fn token_subscription(
    simulator: &PaypalSimulator,
    form: Result<Form<Token>, FormRejection>,
) -> Result<String, FormRefusal> {
    let Ok(Form(Token { ba_token: Some(ba_token) })) = form else {
        return Err(FormRefusal::NoToken);
    };
    simulator.subscription_for_token(&ba_token).ok_or(FormRefusal::UnknownToken)
}

/// The redirect as control endpoints answer it.
pub fn redirect_json(redirect: &SubscriptionRedirect) -> Value {
    json!(redirect)
}
