//! Control endpoints of the Ping++ simulator: the parts Ping++'s API leaves to the buyer, the
//! channels and Ping++'s dashboard, made scriptable. None needs a key. Errors use Ping++'s error
//! shape. Rust tests can call the in-process twins on [`PingppSimulator`] instead: `pay_charge`,
//! `fail_charge`, `pay_order`, `succeed_refund`, `fail_refund`, `set_refund_plan`, `refuse_channel`,
//! `accept_channel`,
//! `set_merchant_public_key`, `clear_merchant_public_key`, `add_webhook_url`,
//! `remove_webhook_url`, `set_faults`, `deliveries`, `events`.
//!
//! | endpoint | body | effect |
//! |---|---|---|
//! | `POST /sandbox/pingpp/charges/{id}/pay` | optional `{"transaction_no"}` | the buyer pays (scans the QR code, confirms in the app): `paid`, `time_paid`, `transaction_no`, `charge.succeeded` raised; for an order's charge the order takes the money (`amount_paid` grows, `paid` turns true, `created` becomes `paid` while `canceled` stays `canceled`) and `order.succeeded` is raised; answers the charge |
//! | `POST /sandbox/pingpp/charges/{id}/fail` | optional `{"failure_code", "failure_msg"}` | the channel reports the payment failed: the charge carries the failure (default `channel_returns_fail`), stays unpaid and cannot be paid; no event; answers the charge |
//! | `POST /sandbox/pingpp/orders/{id}/pay` | optional `{"channel", "extra"}` | the buyer pays the order: without `channel`, its current charge; with `channel`, a new charge on that channel (missing `extra` filled in) that is paid at once, whatever the order's status — a second channel after the first (`amount_paid` above `actual_amount`) or after the order was canceled (seed 004); answers the order |
//! | `POST /sandbox/pingpp/refunds/{id}/succeed` | | a `pending` refund succeeds: `refund.succeeded` (and `order.refunded` for an order) raised; answers the refund |
//! | `POST /sandbox/pingpp/refunds/{id}/fail` | optional `{"failure_code", "failure_msg"}` | a `pending` refund fails (default `refund_failed`); the amount is refundable again; no event (Ping++ has none); answers the refund |
//! | `PUT /sandbox/pingpp/refund-outcome` | `{"status": "succeeded" \| "pending" \| "failed", "settle_after": "3d"}` | what refunds created from now on become: `succeeded` (default: after 5 s) or `failed` after `settle_after`; `pending` stays pending until a control call, or with `settle_after` succeeds after that much test-clock time (bank-card refunds take days, seed 001). Refunds to the balance always succeed at once. `GET` shows it |
//! | `PUT /sandbox/pingpp/merchant-key` | a PEM public key, raw or as `{"public_key": "…"}` (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`, RSA 2048–8192 bits) | request signing on: every POST and PUT must carry a valid `Pingplusplus-Signature`; `DELETE` turns it off; `GET` shows `{"enabled", "public_key"}` |
//! | `PUT /sandbox/pingpp/webhook` | `{"url", "app"?}` | adds a webhook URL for the app (default the sandbox app; several allowed, each once); answers the endpoints |
//! | `DELETE /sandbox/pingpp/webhook` | optional `{"url"}` | removes that URL, or every URL; retries to a removed URL stop |
//! | `GET /sandbox/pingpp/webhook` | | `{"webhooks": [{"id", "app", "url"}]}` |
//! | `PUT /sandbox/pingpp/channels/{channel}/refusal` | optional `{"failure_code", "failure_msg"}` | the channel refuses what Ping++ passes on: every new charge on it (`POST /v1/charges`, `POST /v1/orders/{id}/pay`) answers 402 `channel_error` with `code` `failure_code` (default `channel_returns_fail`) and `param` `channel`, and nothing is created; `DELETE` makes it accept again |
//! | `PUT /sandbox/pingpp/faults` | `{"fail_next": 1, "status": 500, "hang_ms": 0, "path_prefix": "/v1/charges"}` | the next `fail_next` API calls (or only those under `path_prefix`) answer `status` (403 or 429: `rate_limit_error`; 5xx: `api_error`) without being processed, after `hang_ms`; with `hang_ms` and no `status` they are processed and answered late; `GET` shows what is left |
//! | `GET /sandbox/pingpp/deliveries` | | every webhook delivery attempt: `{"deliveries": [{"event_id", "event_type", "subscription_id", "url", "attempt", "at", "status_code", "error", "delivered", "dropped", "duplicate", "transmission_id", "next_attempt_at"}]}` |
//! | `GET /sandbox/pingpp/events` | | every event raised, oldest first: `{"events": [...]}` |
//!
//! Ping++'s own test-mode payment, `GET /notify/charges/{id}?livemode=false` (with the secret
//! key), also pays a charge and answers `success`. The shared clock and chaos endpoints
//! (`/sandbox/clock…`, `/sandbox/scheduler`, `/sandbox/chaos`) are served here too
//! ([`crate::control`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::keys::MerchantPublicKey;
use super::lifecycle::{self, Settlement};
use super::orders::{OrderPayment, open_order_charge};
use super::requests;
use super::state::{ChannelRefusal, RefundPlan, WebhookEndpoint};
use super::{Channel, PingppSimulator, SANDBOX_PINGPP_APP_ID, answer, ids, json_response, render};
use crate::delivery::DeliveryRecord;
use crate::faults::Faults;

/// Stand-ins for the `extra` a channel requires, when a control call opens a charge.
const PLACEHOLDER_EXTRA: [(&str, &str); 5] = [
    ("success_url", "https://merchant.payhub-sandbox.test/paid"),
    ("result_url", "https://merchant.payhub-sandbox.test/paid"),
    ("open_id", "o-payhub-sandbox-buyer"),
    ("product_id", "payhub-sandbox-product"),
    ("user", "payhub-sandbox-buyer"),
];

pub fn routes() -> Router<Arc<PingppSimulator>> {
    Router::new()
        .route("/sandbox/pingpp/charges/{id}/pay", post(pay_charge))
        .route("/sandbox/pingpp/charges/{id}/fail", post(fail_charge))
        .route("/sandbox/pingpp/orders/{id}/pay", post(pay_order))
        .route("/sandbox/pingpp/refunds/{id}/succeed", post(succeed_refund))
        .route("/sandbox/pingpp/refunds/{id}/fail", post(fail_refund))
        .route("/sandbox/pingpp/refund-outcome", put(set_refund_outcome).get(show_refund_outcome))
        .route("/sandbox/pingpp/merchant-key", put(set_merchant_key).get(show_merchant_key).delete(clear_merchant_key))
        .route("/sandbox/pingpp/webhook", put(add_webhook).get(show_webhooks).delete(remove_webhook))
        .route("/sandbox/pingpp/channels/{channel}/refusal", put(refuse_channel).delete(accept_channel))
        .route("/sandbox/pingpp/faults", crate::faults::endpoint())
        .route("/sandbox/pingpp/deliveries", get(deliveries))
        .route("/sandbox/pingpp/events", get(events))
}

type Shared = State<Arc<PingppSimulator>>;

fn bad_control(message: impl Into<String>) -> ApiError {
    ApiError::invalid_state(message)
}

async fn pay_charge(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    answer(requests::object(&body).and_then(|fields| {
        let transaction_no = requests::optional_str(&fields, "transaction_no")?;
        simulator.pay_charge(&id, transaction_no)
    }))
}

fn failure(body: &[u8], default_code: &str, default_msg: &str) -> Result<(String, String), ApiError> {
    let fields = requests::object(body)?;
    Ok((
        requests::optional_str(&fields, "failure_code")?.unwrap_or_else(|| default_code.to_owned()),
        requests::optional_str(&fields, "failure_msg")?.unwrap_or_else(|| default_msg.to_owned()),
    ))
}

async fn fail_charge(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    answer(
        failure(&body, "channel_returns_fail", "渠道返回支付失败。")
            .and_then(|(code, message)| simulator.fail_charge(&id, &code, &message)),
    )
}

fn channel_named(name: &str) -> Result<Channel, ApiError> {
    Channel::parse(name).ok_or_else(|| ApiError::invalid_param("channel", format!("不支持的支付渠道 {name}。")))
}

async fn refuse_channel(State(simulator): Shared, Path(channel): Path<String>, body: Bytes) -> Response {
    let refusal = channel_named(&channel).and_then(|channel| {
        let (code, message) = failure(&body, "channel_returns_fail", "渠道拒绝了该请求。")?;
        simulator.refuse_channel(channel, &code, &message);
        Ok(json!({ "channel": channel.as_str(), "failure_code": code, "failure_msg": message }))
    });
    answer(refusal)
}

async fn accept_channel(State(simulator): Shared, Path(channel): Path<String>) -> Response {
    answer(channel_named(&channel).map(|channel| {
        simulator.accept_channel(channel);
        json!({ "channel": channel.as_str(), "refused": false })
    }))
}

async fn pay_order(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    answer(requests::object(&body).and_then(|fields| {
        let channel = match requests::optional_str(&fields, "channel")? {
            None => None,
            Some(_) => Some(super::charges::parse_channel(&fields)?),
        };
        let extra = requests::extra(&fields)?;
        simulator.pay_order(&id, channel.map(|channel| (channel, extra)))
    }))
}

async fn succeed_refund(State(simulator): Shared, Path(id): Path<String>) -> Response {
    answer(simulator.succeed_refund(&id))
}

async fn fail_refund(State(simulator): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    answer(
        failure(&body, "refund_failed", "退款失败。")
            .and_then(|(code, message)| simulator.fail_refund(&id, Some(&code), Some(&message))),
    )
}

fn plan_json(plan: RefundPlan) -> Value {
    match plan {
        RefundPlan::Hold => json!({ "status": "pending", "settle_after": null }),
        RefundPlan::Settle { after, succeed } => json!({
            "status": if succeed { "succeeded" } else { "failed" },
            "settle_after_seconds": after.num_seconds(),
        }),
    }
}

fn parse_plan(body: &[u8]) -> Result<RefundPlan, ApiError> {
    let fields = requests::object(body)?;
    let after = match fields.get("settle_after").filter(|value| !value.is_null()) {
        None => None,
        Some(value) => Some(
            crate::control::parse_step(value).map_err(|message| ApiError::invalid_param("settle_after", message))?,
        ),
    };
    let status = requests::optional_str(&fields, "status")?.unwrap_or_default();
    match (status.as_str(), after) {
        ("succeeded", after) => {
            Ok(RefundPlan::Settle { after: after.unwrap_or(super::state::QUICK_SETTLEMENT), succeed: true })
        }
        ("failed", after) => {
            Ok(RefundPlan::Settle { after: after.unwrap_or(super::state::QUICK_SETTLEMENT), succeed: false })
        }
        ("pending", Some(after)) => Ok(RefundPlan::Settle { after, succeed: true }),
        ("pending", None) => Ok(RefundPlan::Hold),
        _ => Err(ApiError::invalid_param("status", "status must be one of succeeded, pending, failed")),
    }
}

async fn set_refund_outcome(State(simulator): Shared, body: Bytes) -> Response {
    answer(parse_plan(&body).map(|plan| {
        simulator.set_refund_plan(plan);
        plan_json(plan)
    }))
}

async fn show_refund_outcome(State(simulator): Shared) -> Response {
    let plan = simulator.state().refund_plan;
    json_response(StatusCode::OK, &plan_json(plan))
}

/// The PEM from a raw body or from `{"public_key": "…"}`.
fn submitted_pem(body: &[u8]) -> Result<String, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_param("public_key", "the key must be UTF-8 PEM text"))?;
    if text.trim_start().starts_with('{') {
        let fields = requests::object(body)?;
        return requests::required_str(&fields, "public_key");
    }
    Ok(text.to_owned())
}

async fn set_merchant_key(State(simulator): Shared, body: Bytes) -> Response {
    let outcome = submitted_pem(&body).and_then(|pem| {
        simulator.set_merchant_public_key(&pem).map_err(|message| ApiError::invalid_param("public_key", message))
    });
    match outcome {
        Ok(()) => show_merchant_key(State(simulator)).await,
        Err(error) => error.into_response(),
    }
}

async fn show_merchant_key(State(simulator): Shared) -> Response {
    let state = simulator.state();
    let key = state.merchant_key.as_ref();
    json_response(StatusCode::OK, &json!({ "enabled": key.is_some(), "public_key": key.map(MerchantPublicKey::pem) }))
}

async fn clear_merchant_key(State(simulator): Shared) -> Response {
    simulator.clear_merchant_public_key();
    show_merchant_key(State(simulator)).await
}

fn webhooks_json(simulator: &PingppSimulator) -> Value {
    json!({ "webhooks": simulator.state().webhooks.clone() })
}

async fn add_webhook(State(simulator): Shared, body: Bytes) -> Response {
    let outcome = requests::object(&body).and_then(|fields| {
        let url = requests::required_str(&fields, "url")?;
        let app = requests::optional_str(&fields, "app")?.unwrap_or_else(|| SANDBOX_PINGPP_APP_ID.to_owned());
        simulator.add_webhook_url_for(&app, &url)?;
        Ok(webhooks_json(&simulator))
    });
    answer(outcome)
}

async fn show_webhooks(State(simulator): Shared) -> Response {
    json_response(StatusCode::OK, &webhooks_json(&simulator))
}

async fn remove_webhook(State(simulator): Shared, body: Bytes) -> Response {
    answer(requests::object(&body).and_then(|fields| {
        match requests::optional_str(&fields, "url")? {
            Some(url) => simulator.remove_webhook_url(&url),
            None => simulator.state().webhooks.clear(),
        }
        Ok(webhooks_json(&simulator))
    }))
}

async fn deliveries(State(simulator): Shared) -> Response {
    json_response(StatusCode::OK, &json!({ "deliveries": simulator.deliveries() }))
}

async fn events(State(simulator): Shared) -> Response {
    json_response(StatusCode::OK, &json!({ "events": simulator.events() }))
}

impl PingppSimulator {
    /// The buyer pays the charge; answers it as paid.
    pub fn pay_charge(&self, id: &str, transaction_no: Option<String>) -> Result<Value, ApiError> {
        let now = self.now();
        self.transact(|state| {
            let effects = lifecycle::pay_charge(state, id, transaction_no, now, None)?;
            Ok((render::charge(state.charge(id)?), effects))
        })
    }

    pub fn fail_charge(&self, id: &str, code: &str, message: &str) -> Result<Value, ApiError> {
        self.transact(|state| {
            let charge = lifecycle::fail_charge(state, id, code.to_owned(), message.to_owned())?;
            Ok((charge, Vec::new()))
        })
    }

    /// The buyer pays the order: its latest unpaid charge, or with `channel` a fresh charge on
    /// that channel whatever the order's status (seed 004's late and double payments).
    pub fn pay_order(&self, order_id: &str, channel: Option<(Channel, Map<String, Value>)>) -> Result<Value, ApiError> {
        let now = self.now();
        self.transact(|state| {
            let (charge_id, mut effects) = match channel {
                Some((channel, mut extra)) => {
                    for (field, value) in PLACEHOLDER_EXTRA {
                        extra.entry(field).or_insert_with(|| json!(value));
                    }
                    let payment = OrderPayment { channel, extra, time_expire: None, charge_order_no: None };
                    open_order_charge(state, order_id, payment, false, now, None)?
                }
                None => {
                    let order = state.order(order_id)?;
                    let unpaid = state
                        .order_charges(order)
                        .into_iter()
                        .rev()
                        .find(|charge| !charge.paid && !charge.reversed)
                        .map(|charge| charge.id.clone())
                        .ok_or_else(|| {
                            bad_control(format!(
                                "order {order_id} has no unpaid charge; pay it through the API first or name a channel"
                            ))
                        })?;
                    (unpaid, Vec::new())
                }
            };
            // A balance charge opened just now was paid on creation.
            if !state.charge(&charge_id)?.paid {
                effects.extend(lifecycle::pay_charge(state, &charge_id, None, now, None)?);
            }
            Ok((render::order(state, state.order(order_id)?), effects))
        })
    }

    pub fn succeed_refund(&self, id: &str) -> Result<Value, ApiError> {
        let now = self.now();
        self.transact(|state| lifecycle::settle_refund(state, id, Settlement::Succeed, now, None))
    }

    pub fn fail_refund(&self, id: &str, code: Option<&str>, message: Option<&str>) -> Result<Value, ApiError> {
        let now = self.now();
        let settlement = Settlement::Fail {
            code: code.unwrap_or("refund_failed").to_owned(),
            message: message.unwrap_or("退款失败。").to_owned(),
        };
        self.transact(|state| lifecycle::settle_refund(state, id, settlement, now, None))
    }

    pub fn set_refund_plan(&self, plan: RefundPlan) {
        self.state().refund_plan = plan;
    }

    /// Turns request signing on with the merchant's public key (PEM).
    pub fn set_merchant_public_key(&self, pem: &str) -> Result<(), String> {
        let key = MerchantPublicKey::parse(pem)?;
        self.state().merchant_key = Some(key);
        Ok(())
    }

    pub fn clear_merchant_public_key(&self) {
        self.state().merchant_key = None;
    }

    /// Adds a webhook URL for the sandbox app.
    pub fn add_webhook_url(&self, url: &str) -> Result<(), ApiError> {
        self.add_webhook_url_for(SANDBOX_PINGPP_APP_ID, url)
    }

    pub fn add_webhook_url_for(&self, app: &str, url: &str) -> Result<(), ApiError> {
        let parsed =
            url::Url::parse(url).ok().filter(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.has_host());
        if parsed.is_none() {
            return Err(ApiError::invalid_param("url", "url must be an absolute http or https URL"));
        }
        let mut state = self.state();
        if !state.knows_app(app) {
            return Err(ApiError::invalid_param("app", format!("unknown app {app}")));
        }
        let known = state.webhooks.iter().any(|endpoint| endpoint.app == app && endpoint.url == url);
        if !known {
            state.webhooks.push(WebhookEndpoint {
                id: ids::webhook_endpoint(),
                app: app.to_owned(),
                url: url.to_owned(),
            });
        }
        Ok(())
    }

    pub fn remove_webhook_url(&self, url: &str) {
        self.state().webhooks.retain(|endpoint| endpoint.url != url);
    }

    /// From now on `channel` refuses new charges: they answer 402 `channel_error` with `code`.
    pub fn refuse_channel(&self, channel: Channel, code: &str, message: &str) {
        let refusal = ChannelRefusal { code: code.to_owned(), message: message.to_owned() };
        self.state().channel_refusals.insert(channel, refusal);
    }

    pub fn accept_channel(&self, channel: Channel) {
        self.state().channel_refusals.remove(&channel);
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        crate::faults::replace(self, faults)
    }

    /// This simulator's webhook delivery attempts, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.sandbox.dispatcher().log_of("pingpp")
    }

    /// Every event raised so far, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.state().events().iter().map(|event| event.json.clone()).collect()
    }
}
