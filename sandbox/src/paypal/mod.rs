//! The PayPal simulator: OAuth2, Orders v2, Payments v2 (captures and refunds), Catalog
//! Products and Subscriptions v1 with their renewals ([`subscriptions`]), Customer Disputes v1
//! ([`disputes`]), v1 payments and IPN ([`legacy`]), webhook subscriptions, the event log,
//! signed webhook delivery and the buyers' approval pages, on
//! PayPal's own paths. What it does beyond PayPal is listed in [`control`].
//!
//! Choices where PayPal's documentation is silent or the sandbox must differ:
//! - Orders left unapproved (`CREATED`, `PAYER_ACTION_REQUIRED`) for [`ORDER_APPROVAL_WINDOW`]
//!   become `VOIDED`. PayPal's reference does not say how long an unapproved order lives;
//!   integrators report about three hours, which is what the sandbox uses. No webhook is sent
//!   for it (a reconciler has to ask), and capturing such an order is refused with
//!   `ORDER_NOT_APPROVED`. Approved orders do not expire here.
//! - A `PayPal-Request-Id` replay returns the first response's status and body, for the caller
//!   (client id) and path that made it; only successes are remembered, so a retry after a 5xx runs
//!   again. Responses are remembered for 6 hours on orders and 45 days on payments, as PayPal keeps
//!   its keys, and 72 hours on notifications.
//! - Webhook URLs may be plain `http` (PayPal demands https on port 443).
//! - Authorizations ([`authorizations`]) are valid for [`AUTHORIZATION_VALIDITY`] and honored
//!   for [`AUTHORIZATION_HONOR_PERIOD`], on the test clock. One past its validity reads
//!   `EXPIRED` at once (PayPal raises no webhook for it). Reauthorizing answers a new
//!   authorization, valid until the original's expiration time, and voids the original without
//!   a webhook.
//! - Updating an order (`PATCH`) covers the fields listed in [`order_patch`]; other paths the
//!   spec allows answer `NOT_PATCHABLE`.
//! - Fees are illustrative: 3.49% plus 49 minor units (0.49 USD, 49 JPY), refunded pro rata.

mod amount;
mod approval;
mod auth;
mod authorizations;
mod body;
mod buyer_page;
pub mod control;
mod disputes;
mod errors;
mod event_log;
mod events;
mod faults;
pub mod legacy;
mod order_patch;
mod order_request;
mod orders;
mod payments;
mod render;
mod settlement;
pub mod signing;
mod state;
mod subscriptions;
mod webhooks;

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use payhub_core::Clock;
use rand::SeedableRng;
use serde_json::Value;

use crate::Sandbox;
use crate::ids;

pub use self::approval::BuyerRedirect;
pub use self::disputes::control::OpenDispute;
pub use self::disputes::{DisputeReason, DisputeStage};
pub use self::errors::{ApiError, ErrorDetail};
use self::events::NewEvent;
use self::signing::SigningKey;
use self::state::PaypalState;
pub use self::state::{CaptureOutcome, RefundOutcome};
pub use self::subscriptions::{FailureReason, SubscriptionRedirect};
pub use crate::faults::Faults;

/// Credentials the simulator accepts out of the box (more apps: [`PaypalSimulator::add_client`]).
pub const SANDBOX_PAYPAL_CLIENT_ID: &str = "payhub-sandbox-client";
pub const SANDBOX_PAYPAL_CLIENT_SECRET: &str = "payhub-sandbox-secret";

/// How long a buyer has to approve an order before it is voided.
pub const ORDER_APPROVAL_WINDOW: Duration = Duration::hours(3);

/// How long an authorization may be captured: PayPal's 29 days.
pub const AUTHORIZATION_VALIDITY: Duration = Duration::days(29);

/// How long PayPal guarantees an authorization's funds; reauthorizing is allowed only after it.
pub const AUTHORIZATION_HONOR_PERIOD: Duration = Duration::days(3);

/// The sandbox's one buyer and one merchant; their ids derive from the seed so they stay the same
/// from run to run.
pub struct Parties {
    pub payer_id: String,
    pub payer_email: String,
    pub payer_given_name: String,
    pub payer_surname: String,
    pub merchant_id: String,
    pub merchant_email: String,
    pub app_id: String,
}

impl Parties {
    fn from_seed(seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5041_5950_414c);
        Self {
            payer_id: ids::account_id_from(&mut rng),
            payer_email: "buyer@personal.payhub-sandbox.test".to_owned(),
            payer_given_name: "Sandbox".to_owned(),
            payer_surname: "Buyer".to_owned(),
            merchant_id: ids::account_id_from(&mut rng),
            merchant_email: "merchant@business.payhub-sandbox.test".to_owned(),
            app_id: format!("APP-{}", ids::upper_alphanumeric_from(&mut rng, 17)),
        }
    }
}

/// Work that follows a state change once the state lock is released.
pub(crate) enum Effect {
    Emit(NewEvent),
    /// An event whose resource is a v1 object (a sale, a sale refund).
    EmitV1(NewEvent),
    ExpireOrder {
        order_id: String,
        at: DateTime<Utc>,
    },
    Billing(subscriptions::Due),
    DisputeDeadline {
        dispute_id: String,
        at: DateTime<Utc>,
    },
    Ipn(legacy::IpnNotice),
}

pub struct PaypalSimulator {
    me: Weak<PaypalSimulator>,
    sandbox: Arc<Sandbox>,
    base_url: String,
    key: SigningKey,
    parties: Parties,
    state: Mutex<PaypalState>,
}

impl PaypalSimulator {
    /// A simulator whose links, approval URL and cert URL start with `base_url`.
    pub fn new(sandbox: Arc<Sandbox>, base_url: impl Into<String>) -> anyhow::Result<Arc<Self>> {
        let key = SigningKey::load()?;
        let parties = Parties::from_seed(sandbox.seed());
        let mut state = PaypalState::default();
        state.clients.insert(SANDBOX_PAYPAL_CLIENT_ID.to_owned(), SANDBOX_PAYPAL_CLIENT_SECRET.to_owned());
        Ok(Arc::new_cyclic(|me| Self {
            me: me.clone(),
            sandbox,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key,
            parties,
            state: Mutex::new(state),
        }))
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    pub fn parties(&self) -> &Parties {
        &self.parties
    }

    /// The URL webhooks name in `PAYPAL-CERT-URL`.
    pub fn cert_url(&self) -> String {
        format!("{}/v1/notifications/certs/{}", self.base_url, self.key.cert_id())
    }

    /// Accepts another app's credentials (each app has its own tokens, orders and webhooks).
    pub fn add_client(&self, client_id: &str, secret: &str) {
        self.state().clients.insert(client_id.to_owned(), secret.to_owned());
    }

    /// PayPal's API, the buyer page, the cert URL and the control endpoints, on one router.
    pub fn router(self: &Arc<Self>) -> Router {
        let api = Router::new()
            .merge(auth::routes())
            .merge(orders::routes())
            .merge(payments::routes())
            .merge(authorizations::routes())
            .merge(webhooks::routes())
            .merge(event_log::routes())
            .merge(subscriptions::routes())
            .merge(disputes::routes())
            .merge(legacy::routes())
            .route_layer(middleware::from_fn_with_state(self.clone(), crate::faults::inject::<Self>));
        let me = self.clone();
        let cert = get(move |path| async move { signing::serve_cert(&me.key, path).await });
        Router::new()
            .merge(api)
            .merge(buyer_page::routes())
            .merge(subscriptions::buyer_routes())
            .merge(control::routes())
            .merge(legacy::control::routes())
            .merge(legacy::website_routes())
            .route("/v1/notifications/certs/{cert_id}", cert)
            .route("/healthz", get(|| async { "ok" }))
            // A method not served on a known path answers like an unknown path: an operation of
            // PayPal's API the simulator lacks (updating a v1 payment) must look absent to a
            // client, not refused as if PayPal had no such operation.
            .method_not_allowed_fallback(|| async { ApiError::no_such_path() })
            .with_state(self.clone())
            .merge(crate::control::router(self.sandbox.clone()))
            .fallback(|| async { ApiError::no_such_path() })
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.sandbox.clock().now()
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, PaypalState> {
        // Nothing panics while holding the lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `change` under the state lock, then carries out its effects.
    pub(crate) fn transact<T>(
        &self,
        change: impl FnOnce(&mut PaypalState) -> Result<(T, Vec<Effect>), ApiError>,
    ) -> Result<T, ApiError> {
        let (value, effects) = change(&mut self.state())?;
        self.apply(effects);
        Ok(value)
    }

    /// Like [`Self::transact`] for a POST honouring `PayPal-Request-Id`: a replay gets the
    /// remembered response; a first success is remembered for `retention`.
    pub(crate) fn idempotent_post(
        &self,
        client_id: &str,
        path: &str,
        headers: &HeaderMap,
        retention: Duration,
        change: impl FnOnce(&mut PaypalState) -> Result<((StatusCode, Value), Vec<Effect>), ApiError>,
    ) -> Response {
        self.idempotent_post_replayed_as(None, client_id, path, headers, retention, change)
    }

    /// Like [`Self::idempotent_post`], where a replay answers `replay_status` (v1 sale refunds
    /// answer a replay 200 instead of the first 201) rather than the first response's status.
    pub(crate) fn idempotent_post_replayed_as(
        &self,
        replay_status: Option<StatusCode>,
        client_id: &str,
        path: &str,
        headers: &HeaderMap,
        retention: Duration,
        change: impl FnOnce(&mut PaypalState) -> Result<((StatusCode, Value), Vec<Effect>), ApiError>,
    ) -> Response {
        let request_id = header_text(headers, "paypal-request-id");
        let now = self.now();
        let outcome = {
            let mut state = self.state();
            let key = request_id.map(|id| (client_id.to_owned(), path.to_owned(), id.to_owned()));
            if let Some(remembered) = key.as_ref().and_then(|key| state.remembered.get(key))
                && remembered.expires_at > now
            {
                let status = replay_status.unwrap_or(StatusCode::from_u16(remembered.status).unwrap_or(StatusCode::OK));
                return json_response(status, &remembered.body);
            }
            change(&mut state).map(|((status, body), effects)| {
                if let Some(key) = key {
                    let remembered = state::RememberedResponse {
                        status: status.as_u16(),
                        body: body.clone(),
                        expires_at: now + retention,
                    };
                    state.remembered.insert(key, remembered);
                }
                (status, body, effects)
            })
        };
        match outcome {
            Ok((status, body, effects)) => {
                self.apply(effects);
                json_response(status, &body)
            }
            Err(error) => error.into_response(),
        }
    }

    pub(crate) fn apply(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Emit(event) => self.emit(event),
                Effect::EmitV1(event) => self.emit_versioned(event, "1.0"),
                Effect::ExpireOrder { order_id, at } => self.schedule_expiry(order_id, at),
                Effect::Billing(due) => self.queue_billing(due),
                Effect::DisputeDeadline { dispute_id, at } => self.schedule_dispute_deadline(dispute_id, at),
                Effect::Ipn(notice) => self.send_ipn(notice),
            }
        }
    }

    fn schedule_expiry(&self, order_id: String, at: DateTime<Utc>) {
        let me = self.me.clone();
        let label = format!("paypal: void order {order_id} if still unapproved");
        self.sandbox.scheduler().schedule_at(at, label, move || async move {
            if let Some(simulator) = me.upgrade() {
                simulator.void_if_unapproved(&order_id);
            }
        });
    }
}

/// PayPal's timestamps: RFC 3339 in UTC with whole seconds ("2018-04-01T21:20:49Z").
pub(crate) fn paypal_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

/// The resource with `status`, or the error in its own status and dialect.
pub(crate) fn answer(status: StatusCode, outcome: Result<Value, ApiError>) -> Response {
    match outcome {
        Ok(body) => json_response(status, &body),
        Err(error) => error.into_response(),
    }
}

pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|text| !text.is_empty())
}

/// `Prefer: return=representation` asks for the whole resource; PayPal's default is minimal.
pub(crate) fn wants_representation(headers: &HeaderMap) -> bool {
    header_text(headers, "prefer").is_some_and(|prefer| {
        prefer.split([',', ';']).any(|part| part.trim().eq_ignore_ascii_case("return=representation"))
    })
}

/// A JSON body, where an empty body means `{}` (PayPal's capture and refund calls allow one).
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|_| ApiError::malformed_json())
}
