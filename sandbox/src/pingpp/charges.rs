//! Charges: `POST /v1/charges`, `GET /v1/charges` (needs `app[id]`), `GET /v1/charges/{id}`,
//! `POST /v1/charges/{id}/reverse`, and the charge drafting that order payments share.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::channels::{Channel, CredentialInput, credential};
use super::errors::ApiError;
use super::requests::{self, Fields, ListQuery};
use super::state::{Charge, PingppState};
use super::{Effect, PingppSimulator, answer, ids, lifecycle, render};

/// Ping++'s default time to pay, for charges and orders alike.
pub const DEFAULT_TIME_TO_PAY: Duration = Duration::days(1);
const SUBJECT_MAX_CHARS: usize = 32;
const BODY_MAX_CHARS: usize = 128;
const DESCRIPTION_MAX_CHARS: usize = 255;

pub fn routes() -> Router<Arc<PingppSimulator>> {
    Router::new()
        .route("/v1/charges", post(create_charge).get(list_charges))
        .route("/v1/charges/{id}", get(show_charge))
        .route("/v1/charges/{id}/reverse", post(reverse_charge))
        .route("/notify/charges/{id}", get(simulate_payment))
}

/// Everything a new charge needs, validated.
pub struct ChargeDraft {
    pub app: String,
    pub channel: Channel,
    pub order_no: String,
    pub amount: i64,
    pub client_ip: String,
    pub subject: String,
    pub body: String,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
    pub metadata: Value,
    pub time_expire: DateTime<Utc>,
    pub order_id: Option<String>,
}

impl ChargeDraft {
    pub fn into_charge(self, now: DateTime<Utc>) -> Charge {
        let id = ids::charge();
        let credential = credential(
            self.channel,
            &CredentialInput {
                charge_id: &id,
                order_no: &self.order_no,
                amount: self.amount,
                subject: &self.subject,
                extra: &self.extra,
                created: now,
            },
        );
        Charge {
            id,
            app: self.app,
            channel: self.channel,
            order_no: self.order_no,
            client_ip: self.client_ip,
            amount: self.amount,
            subject: self.subject,
            body: self.body,
            description: self.description,
            extra: self.extra,
            metadata: self.metadata,
            credential,
            created: now,
            time_expire: self.time_expire,
            paid: false,
            time_paid: None,
            transaction_no: None,
            reversed: false,
            failure_code: None,
            failure_msg: None,
            refunds: Vec::new(),
            order_id: self.order_id,
        }
    }
}

pub fn parse_channel(fields: &Fields) -> Result<Channel, ApiError> {
    let name = requests::required_str(fields, "channel")?;
    Channel::parse(&name)
        .ok_or_else(|| ApiError::invalid_param("channel", format!("参数 channel 不正确：不支持的支付渠道 {name}。")))
}

pub fn parse_client_ip(fields: &Fields, required: bool) -> Result<Option<String>, ApiError> {
    let ip = requests::optional_str(fields, "client_ip")?;
    match &ip {
        None if required => Err(ApiError::missing_param("client_ip")),
        Some(ip) if ip.parse::<IpAddr>().is_err() => {
            Err(ApiError::invalid_param("client_ip", "参数 client_ip 应为 IP 地址，如 127.0.0.1。"))
        }
        _ => Ok(ip),
    }
}

pub fn parse_subject_and_body(fields: &Fields) -> Result<(String, String), ApiError> {
    let subject = requests::limited_str(fields, "subject", SUBJECT_MAX_CHARS)?
        .ok_or_else(|| ApiError::missing_param("subject"))?;
    let body = requests::limited_str(fields, "body", BODY_MAX_CHARS)?.ok_or_else(|| ApiError::missing_param("body"))?;
    Ok((subject, body))
}

pub fn parse_description(fields: &Fields) -> Result<Option<String>, ApiError> {
    requests::limited_str(fields, "description", DESCRIPTION_MAX_CHARS)
}

/// The app must be one the account owns.
pub fn known_app(state: &PingppState, app: &str, param: &str) -> Result<(), ApiError> {
    if state.knows_app(app) {
        Ok(())
    } else {
        Err(ApiError::invalid_param(param, format!("无法找到应用 {app}，请检查 app id。")))
    }
}

fn parse_draft(fields: &Fields, now: DateTime<Utc>) -> Result<ChargeDraft, ApiError> {
    let app = requests::app_id(fields)?;
    let channel = parse_channel(fields)?;
    let amount = requests::required_amount(fields, "amount")?;
    requests::currency(fields, true)?;
    let order_no = requests::required_str(fields, "order_no")?;
    channel.check_order_no(&order_no)?;
    let client_ip = parse_client_ip(fields, true)?.unwrap_or_default();
    let (subject, body) = parse_subject_and_body(fields)?;
    let extra = requests::extra(fields)?;
    channel.check_extra(&extra)?;
    Ok(ChargeDraft {
        app,
        channel,
        order_no,
        amount,
        client_ip,
        subject,
        body,
        description: parse_description(fields)?,
        extra,
        metadata: requests::metadata(fields)?,
        time_expire: requests::future_time(fields, "time_expire", now)?.unwrap_or(now + DEFAULT_TIME_TO_PAY),
        order_id: None,
    })
}

/// Adds the charge unless its channel refuses it; a balance charge is paid on the spot.
pub fn open_charge(
    state: &mut PingppState,
    draft: ChargeDraft,
    now: DateTime<Utc>,
    request: Option<&str>,
) -> Result<(String, Vec<Effect>), ApiError> {
    state.channel_accepts(draft.channel)?;
    let charge = draft.into_charge(now);
    let (id, pays_now) = (charge.id.clone(), charge.channel.pays_on_creation());
    state.insert_charge(charge);
    let effects = if pays_now { lifecycle::pay_charge(state, &id, None, now, request)? } else { Vec::new() };
    Ok((id, effects))
}

async fn create_charge(State(simulator): State<Arc<PingppSimulator>>, body: Bytes) -> Response {
    let now = simulator.now();
    let request_id = ids::api_request();
    answer(simulator.transact(|state| {
        let fields = requests::object(&body)?;
        let draft = parse_draft(&fields, now)?;
        known_app(state, &draft.app, "app[id]")?;
        let (id, effects) = open_charge(state, draft, now, Some(&request_id))?;
        Ok((render::charge(state.charge(&id)?), effects))
    }))
}

/// Charges made through an order are read and refunded through the order (Ping++'s rule).
pub fn standalone_charge<'a>(state: &'a PingppState, id: &str) -> Result<&'a Charge, ApiError> {
    let charge = state.charge(id)?;
    match &charge.order_id {
        Some(order_id) => Err(ApiError::invalid_state(format!(
            "charge {id} 属于订单 {order_id}，请通过 /v1/orders/{order_id}/charges/{id} 查询，通过 /v1/orders/{order_id}/order_refunds 退款。"
        ))),
        None => Ok(charge),
    }
}

async fn show_charge(State(simulator): State<Arc<PingppSimulator>>, Path(id): Path<String>) -> Response {
    let state = simulator.state();
    answer(standalone_charge(&state, &id).map(render::charge))
}

async fn list_charges(State(simulator): State<Arc<PingppSimulator>>, RawQuery(query): RawQuery) -> Response {
    let query = ListQuery::parse(query.as_deref());
    let state = simulator.state();
    answer(charge_list(&state, &query))
}

fn charge_list(state: &PingppState, query: &ListQuery) -> Result<Value, ApiError> {
    let app = query.get("app[id]").ok_or_else(|| ApiError::missing_param("app[id]"))?;
    known_app(state, app, "app[id]")?;
    let (paid, refunded, reversed) = (query.flag("paid")?, query.flag("refunded")?, query.flag("reversed")?);
    let channel = query.get("channel");
    let mut matching = Vec::new();
    for charge in state.charges().iter().rev() {
        let wanted = charge.app == app
            && paid.is_none_or(|paid| charge.paid == paid)
            && refunded.is_none_or(|refunded| charge.refunds.is_empty() != refunded)
            && reversed.is_none_or(|reversed| charge.reversed == reversed)
            && channel.is_none_or(|channel| charge.channel.as_str() == channel)
            && query.created_within(charge.created)?;
        if wanted {
            matching.push(charge);
        }
    }
    let (page, has_more) = query.page(matching, |charge| &charge.id)?;
    let data = page.into_iter().map(render::charge).collect();
    Ok(render::list("/v1/charges", data, has_more))
}

/// Closes an unpaid charge so it can no longer be paid. A paid charge is refunded instead.
async fn reverse_charge(State(simulator): State<Arc<PingppSimulator>>, Path(id): Path<String>) -> Response {
    answer(simulator.transact(|state| {
        standalone_charge(state, &id)?;
        let charge = state.charge_mut(&id)?;
        if charge.paid {
            return Err(ApiError::invalid_state(format!("charge {id} 已支付，无法撤销，请使用退款接口。")));
        }
        charge.reversed = true;
        Ok((render::charge(charge), Vec::new()))
    }))
}

/// Ping++'s own test-mode "模拟付款" (what its JavaScript SDK calls in test mode): pays the
/// charge as the buyer would and answers the text `success`.
async fn simulate_payment(State(simulator): State<Arc<PingppSimulator>>, Path(id): Path<String>) -> Response {
    match simulator.pay_charge(&id, None) {
        Ok(_) => "success".into_response(),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(fields: Value) -> Result<ChargeDraft, ApiError> {
        parse_draft(fields.as_object().unwrap(), Utc::now())
    }

    fn valid() -> Value {
        json!({
            "order_no": "A123456789", "app": { "id": "app_x" }, "channel": "alipay_qr",
            "amount": 100, "currency": "cny", "client_ip": "127.0.0.1",
            "subject": "s", "body": "b",
        })
    }

    #[test]
    fn each_missing_required_field_is_named() {
        for field in ["order_no", "app", "channel", "amount", "currency", "client_ip", "subject", "body"] {
            let mut fields = valid();
            fields.as_object_mut().unwrap().remove(field);
            let error = draft(fields).err().unwrap_or_else(|| panic!("{field} accepted"));
            assert_eq!(error.param.as_deref(), Some(field));
        }
        assert!(draft(valid()).is_ok());
    }

    #[test]
    fn channel_extras_are_required_where_ping_plus_plus_requires_them() {
        let mut fields = valid();
        fields["channel"] = json!("wx_pub");
        let error = draft(fields.clone()).err().unwrap();
        assert_eq!(error.param.as_deref(), Some("extra[open_id]"));
        fields["extra"] = json!({ "open_id": "o123" });
        assert!(draft(fields).is_ok());
    }
}
