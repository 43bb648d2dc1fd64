//! The Ping++ simulator: charges with their refunds, orders with their charges and refunds, the
//! event log and signed webhook delivery, on Ping++'s own paths under `/v1`, on a listener of its
//! own. The official server SDKs (Python `pingpp` included, request signing included) and
//! payhub's Ping++ client work against it with only the API base changed. What it does beyond
//! Ping++ is listed in [`control`].
//!
//! One account, one app: [`SANDBOX_PINGPP_SECRET_KEY`] authenticates (as `Bearer sk_…` or as the
//! Basic user with an empty password, as the Go SDK sends it) and owns [`SANDBOX_PINGPP_APP_ID`].
//!
//! Choices where Ping++'s documentation is silent or the sandbox must differ:
//! - Request signing is off until a merchant public key is uploaded
//!   (`PUT /sandbox/pingpp/merchant-key`), as on a new Ping++ account; then every POST and PUT
//!   must carry a valid `Pingplusplus-Signature` ([`keys`]). A missing or wrong signature is
//!   answered 400 `invalid_request_error` with Ping++'s messages: its SDKs raise an
//!   `InvalidRequestException` for it, which they do for 400 and 404 only. The timestamp is not
//!   held to a window (Ping++ publishes none, and the test clock moves while SDKs sign with real
//!   time).
//! - Only JSON bodies are read; unknown parameters are ignored.
//! - `time_expire` defaults to a day after creation for charges and orders. An unpaid order is
//!   canceled when it expires; a charge is not refused payment for being late (`lifecycle.rs`).
//! - Charges made through an order are refused on `/v1/charges/{id}` and its refund paths, as
//!   Ping++ says to use the order's paths for them.
//! - Balance-channel charges are paid when created (the user's balance is debited on the spot);
//!   refunds to the balance succeed at once. Other refunds answer `pending` and succeed a few
//!   seconds later ([`QUICK_SETTLEMENT`]), unless `PUT /sandbox/pingpp/refund-outcome`
//!   says otherwise: bank-card refunds can take days (seed 001).
//! - Webhooks: see [`WEBHOOK_RETRY_DELAYS`] for the retry schedule. A paid charge's `credential` reads `{}`.

mod auth;
mod channels;
mod charges;
pub mod control;
mod errors;
mod events;
mod faults;
mod ids;
pub mod keys;
mod lifecycle;
mod order_refunds;
mod orders;
mod refunds;
mod render;
mod requests;
mod state;

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use payhub_core::Clock;
use serde_json::Value;

use crate::Sandbox;

pub use self::channels::Channel;
pub use self::errors::ApiError;
pub use self::events::RETRY_DELAYS as WEBHOOK_RETRY_DELAYS;
use self::keys::PlatformKey;
pub use self::keys::{pingpp_merchant_private_key_pem, pingpp_merchant_public_key_pem, pingpp_public_key_pem};
use self::state::PingppState;
pub use self::state::{QUICK_SETTLEMENT, RefundPlan};
pub use crate::faults::Faults;

/// The sandbox account's app, shaped like Ping++'s (`app_` and 16 characters).
pub const SANDBOX_PINGPP_APP_ID: &str = "app_payhubSandbox001";
/// The sandbox account's test secret key (`sk_test_` and 24 characters).
pub const SANDBOX_PINGPP_SECRET_KEY: &str = "sk_test_payhubSandboxSecretKey01";

/// An event about to be raised for one app.
pub(crate) struct NewEvent {
    pub app: String,
    pub event_type: &'static str,
    pub object: Value,
    /// The API request that caused it (`iar_…`), or none when the buyer or a channel did.
    pub request: Option<String>,
}

/// Work that follows a state change once the state lock is released.
pub(crate) enum Effect {
    Emit(NewEvent),
    SettleRefund { refund_id: String, at: DateTime<Utc>, succeed: bool },
    ExpireOrder { order_id: String, at: DateTime<Utc> },
}

pub struct PingppSimulator {
    me: Weak<PingppSimulator>,
    sandbox: Arc<Sandbox>,
    base_url: String,
    key: PlatformKey,
    state: Mutex<PingppState>,
}

impl PingppSimulator {
    /// A simulator reachable at `base_url` (what `pingpp.api_base` is set to).
    pub fn new(sandbox: Arc<Sandbox>, base_url: impl Into<String>) -> anyhow::Result<Arc<Self>> {
        let key = PlatformKey::load()?;
        let mut state = PingppState::default();
        state.apps.push(SANDBOX_PINGPP_APP_ID.to_owned());
        Ok(Arc::new_cyclic(|me| Self {
            me: me.clone(),
            sandbox,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key,
            state: Mutex::new(state),
        }))
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Ping++'s API, the control endpoints and the shared clock and chaos endpoints, on one
    /// router.
    pub fn router(self: &Arc<Self>) -> Router {
        let api = Router::new()
            .merge(charges::routes())
            .merge(refunds::routes())
            .merge(orders::routes())
            .merge(order_refunds::routes())
            .merge(events::routes())
            .route_layer(middleware::from_fn_with_state(self.clone(), auth::authenticate))
            .route_layer(middleware::from_fn_with_state(self.clone(), crate::faults::inject::<Self>));
        Router::new()
            .merge(api)
            .merge(control::routes())
            .route("/healthz", get(|| async { "ok" }))
            .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
            .with_state(self.clone())
            .merge(crate::control::router(self.sandbox.clone()))
            .fallback(|uri: axum::http::Uri| async move { ApiError::no_such_path(uri.path()) })
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.sandbox.clock().now()
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, PingppState> {
        // Nothing panics while holding the lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `change` under the state lock, then carries out its effects.
    pub(crate) fn transact<T>(
        &self,
        change: impl FnOnce(&mut PingppState) -> Result<(T, Vec<Effect>), ApiError>,
    ) -> Result<T, ApiError> {
        let (value, effects) = change(&mut self.state())?;
        self.apply(effects);
        Ok(value)
    }

    pub(crate) fn apply(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Emit(event) => self.emit(event),
                Effect::SettleRefund { refund_id, at, succeed } => self.schedule_settlement(refund_id, at, succeed),
                Effect::ExpireOrder { order_id, at } => self.schedule_expiry(order_id, at),
            }
        }
    }

    fn schedule_settlement(&self, refund_id: String, at: DateTime<Utc>, succeed: bool) {
        let me = self.me.clone();
        let outcome = if succeed { "succeed" } else { "fail" };
        let label = format!("pingpp: refund {refund_id} to {outcome} if still pending");
        self.sandbox.scheduler().schedule_at(at, label, move || async move {
            if let Some(simulator) = me.upgrade() {
                // An Err means it was settled meanwhile through a control endpoint.
                let _ = if succeed {
                    simulator.succeed_refund(&refund_id)
                } else {
                    simulator.fail_refund(&refund_id, None, None)
                };
            }
        });
    }

    fn schedule_expiry(&self, order_id: String, at: DateTime<Utc>) {
        let me = self.me.clone();
        let label = format!("pingpp: cancel order {order_id} if still unpaid");
        self.sandbox.scheduler().schedule_at(at, label, move || async move {
            if let Some(simulator) = me.upgrade() {
                lifecycle::expire_order(&mut simulator.state(), &order_id);
            }
        });
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

/// `200` with the body, or Ping++'s error.
pub(crate) fn answer(outcome: Result<Value, ApiError>) -> Response {
    match outcome {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}
