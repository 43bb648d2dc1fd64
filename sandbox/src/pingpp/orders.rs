//! Orders: `POST /v1/orders`, `GET /v1/orders`, `GET /v1/orders/{id}`, `PUT /v1/orders/{id}`
//! (`status: canceled` cancels), `POST /v1/orders/{id}/pay` (opens a charge on a channel; paying
//! again on another channel while unpaid opens another, which is how a buyer ends up paying
//! twice, seed 004), `GET /v1/orders/{id}/charges[/{ch}]`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::charges::{
    ChargeDraft, DEFAULT_TIME_TO_PAY, known_app, parse_channel, parse_client_ip, parse_description,
    parse_subject_and_body,
};
use super::errors::ApiError;
use super::requests::{self, Fields, ListQuery};
use super::state::{Order, OrderStatus, PingppState};
use super::{Effect, PingppSimulator, answer, ids, render};

const MERCHANT_ORDER_NO_MAX: usize = 64;

pub fn routes() -> Router<Arc<PingppSimulator>> {
    Router::new()
        .route("/v1/orders", post(create_order).get(list_orders))
        .route("/v1/orders/{id}", get(show_order).put(update_order))
        .route("/v1/orders/{id}/pay", post(pay_order))
        .route("/v1/orders/{id}/charges", get(list_order_charges))
        .route("/v1/orders/{id}/charges/{charge_id}", get(show_order_charge))
}

/// `royalty_users: [{user, amount}]` on an order: who shares in it.
fn parse_royalty_users(fields: &Fields, actual_amount: i64) -> Result<Value, ApiError> {
    let Some(users) = fields.get("royalty_users").filter(|value| !value.is_null()) else {
        return Ok(json!([]));
    };
    let invalid = || {
        ApiError::invalid_param(
            "royalty_users",
            "参数 royalty_users 应为 [{\"user\": 用户 ID, \"amount\": 分润金额}] 的列表。",
        )
    };
    let users = users.as_array().ok_or_else(invalid)?;
    let mut total: i64 = 0;
    for user in users {
        let name = user.get("user").and_then(Value::as_str).unwrap_or_default();
        let amount = user.get("amount").and_then(Value::as_i64).unwrap_or(0);
        if name.trim().is_empty() || amount <= 0 {
            return Err(invalid());
        }
        total = total.saturating_add(amount);
    }
    if total > actual_amount {
        return Err(ApiError::invalid_param(
            "royalty_users",
            format!("分润总额 {total} 大于订单实付金额 {actual_amount}。"),
        ));
    }
    Ok(Value::Array(users.clone()))
}

fn parse_order(fields: &Fields, now: DateTime<Utc>) -> Result<Order, ApiError> {
    let app = requests::app_id(fields)?;
    let merchant_order_no = requests::required_str(fields, "merchant_order_no")?;
    if merchant_order_no.len() > MERCHANT_ORDER_NO_MAX || !merchant_order_no.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(ApiError::invalid_param(
            "merchant_order_no",
            format!("参数 merchant_order_no 应为 1-{MERCHANT_ORDER_NO_MAX} 位数字或字母。"),
        ));
    }
    let amount = requests::required_amount(fields, "amount")?;
    let actual_amount = requests::optional_amount(fields, "actual_amount")?.unwrap_or(amount);
    if actual_amount > amount {
        return Err(ApiError::invalid_param("actual_amount", "参数 actual_amount 不能大于 amount。"));
    }
    requests::currency(fields, false)?;
    let (subject, body) = parse_subject_and_body(fields)?;
    let receipt_app = requests::optional_str(fields, "receipt_app")?.unwrap_or_else(|| app.clone());
    let service_app = requests::optional_str(fields, "service_app")?.unwrap_or_else(|| app.clone());
    Ok(Order {
        id: ids::order(now),
        uid: requests::optional_str(fields, "uid")?,
        merchant_order_no,
        amount,
        actual_amount,
        coupon: requests::optional_str(fields, "coupon")?,
        subject,
        body,
        client_ip: parse_client_ip(fields, false)?,
        description: parse_description(fields)?,
        metadata: requests::metadata(fields)?,
        royalty_users: parse_royalty_users(fields, actual_amount)?,
        receipt_app,
        service_app,
        created: now,
        time_expire: requests::future_time(fields, "time_expire", now)?.unwrap_or(now + DEFAULT_TIME_TO_PAY),
        status: OrderStatus::Created,
        paid: false,
        time_paid: None,
        amount_paid: 0,
        charge_ids: Vec::new(),
        app,
    })
}

async fn create_order(State(simulator): State<Arc<PingppSimulator>>, body: Bytes) -> Response {
    let now = simulator.now();
    answer(simulator.transact(|state| {
        let fields = requests::object(&body)?;
        let order = parse_order(&fields, now)?;
        known_app(state, &order.app, "app")?;
        let duplicate = state
            .orders()
            .iter()
            .any(|existing| existing.app == order.app && existing.merchant_order_no == order.merchant_order_no);
        if duplicate {
            return Err(ApiError::invalid_param(
                "merchant_order_no",
                format!("商户订单号 {} 已存在。", order.merchant_order_no),
            ));
        }
        let (id, time_expire) = (order.id.clone(), order.time_expire);
        state.insert_order(order);
        let expiry = Effect::ExpireOrder { order_id: id.clone(), at: time_expire };
        Ok((render::order(state, state.order(&id)?), vec![expiry]))
    }))
}

async fn show_order(State(simulator): State<Arc<PingppSimulator>>, Path(id): Path<String>) -> Response {
    let state = simulator.state();
    answer(state.order(&id).map(|order| render::order(&state, order)))
}

/// `PUT /v1/orders/{id}` with `status: canceled` (and optionally the buyer's `user`, which must
/// match the order's `uid`) cancels an unpaid order; it is the only change Ping++ allows.
async fn update_order(State(simulator): State<Arc<PingppSimulator>>, Path(id): Path<String>, body: Bytes) -> Response {
    answer(simulator.transact(|state| {
        let fields = requests::object(&body)?;
        let status = requests::required_str(&fields, "status")?;
        if status != "canceled" {
            return Err(ApiError::invalid_param(
                "status",
                format!("参数 status 不正确：{status}，只能更新为 canceled。"),
            ));
        }
        let user = requests::optional_str(&fields, "user")?;
        let order = state.order_mut(&id)?;
        if let (Some(user), Some(uid)) = (&user, &order.uid)
            && user != uid
        {
            return Err(ApiError::invalid_param("user", "参数 user 与订单的 uid 不一致。"));
        }
        match order.status {
            OrderStatus::Created => order.status = OrderStatus::Canceled,
            OrderStatus::Canceled => {}
            OrderStatus::Paid | OrderStatus::Refunded => {
                return Err(ApiError::invalid_state(format!("订单 {id} 已支付，无法取消。")));
            }
        }
        Ok((render::order(state, state.order(&id)?), Vec::new()))
    }))
}

/// What `POST /v1/orders/{id}/pay` asks for.
pub struct OrderPayment {
    pub channel: super::Channel,
    pub extra: serde_json::Map<String, Value>,
    pub time_expire: Option<DateTime<Utc>>,
    pub charge_order_no: Option<String>,
}

/// Opens a charge for the order's `actual_amount` on a channel. `check_state` is false only for
/// the buyer-side control endpoint, which plays a channel page opened before the order changed.
pub fn open_order_charge(
    state: &mut PingppState,
    order_id: &str,
    payment: OrderPayment,
    check_state: bool,
    now: DateTime<Utc>,
    request: Option<&str>,
) -> Result<(String, Vec<Effect>), ApiError> {
    let order = state.order(order_id)?;
    if check_state {
        if order.status != OrderStatus::Created {
            return Err(ApiError::invalid_state(format!(
                "订单 {order_id} 状态为 {}，无法支付。",
                order.status.as_str()
            )));
        }
        if order.time_expire <= now {
            return Err(ApiError::invalid_state(format!("订单 {order_id} 已过期。")));
        }
    }
    let mut extra = payment.extra;
    if let Some(uid) = &order.uid {
        extra.entry("user").or_insert_with(|| Value::String(uid.clone()));
    }
    payment.channel.check_extra(&extra)?;
    let (param, order_no) = match payment.charge_order_no {
        Some(order_no) => ("charge_order_no", order_no),
        None => ("merchant_order_no", order.merchant_order_no.clone()),
    };
    payment.channel.check_order_no(&order_no).map_err(|error| ApiError { param: Some(param.to_owned()), ..error })?;
    let draft = ChargeDraft {
        app: order.app.clone(),
        channel: payment.channel,
        order_no,
        amount: order.actual_amount,
        client_ip: order.client_ip.clone().unwrap_or_else(|| "127.0.0.1".to_owned()),
        subject: order.subject.clone(),
        body: order.body.clone(),
        description: order.description.clone(),
        extra,
        metadata: order.metadata.clone(),
        time_expire: payment.time_expire.unwrap_or(order.time_expire).max(now + chrono::Duration::minutes(1)),
        order_id: Some(order_id.to_owned()),
    };
    let charge = draft.into_charge(now);
    let charge_id = charge.id.clone();
    let pays_now = charge.channel.pays_on_creation();
    state.insert_charge(charge);
    state.order_mut(order_id)?.charge_ids.push(charge_id.clone());
    let effects =
        if pays_now { super::lifecycle::pay_charge(state, &charge_id, None, now, request)? } else { Vec::new() };
    Ok((charge_id, effects))
}

async fn pay_order(State(simulator): State<Arc<PingppSimulator>>, Path(id): Path<String>, body: Bytes) -> Response {
    let now = simulator.now();
    let request_id = ids::api_request();
    answer(simulator.transact(|state| {
        let fields = requests::object(&body)?;
        let payment = OrderPayment {
            channel: parse_channel(&fields)?,
            extra: requests::extra(&fields)?,
            time_expire: requests::future_time(&fields, "time_expire", now)?,
            charge_order_no: requests::optional_str(&fields, "charge_order_no")?,
        };
        let actual_amount = state.order(&id)?.actual_amount;
        if let Some(amount) = requests::optional_amount(&fields, "charge_amount")?
            && amount != actual_amount
        {
            return Err(ApiError::invalid_param(
                "charge_amount",
                format!("参数 charge_amount 应等于订单实付金额 {actual_amount}（余额组合支付未模拟）。"),
            ));
        }
        state.channel_accepts(payment.channel)?;
        let (_, effects) = open_order_charge(state, &id, payment, true, now, Some(&request_id))?;
        Ok((render::order(state, state.order(&id)?), effects))
    }))
}

async fn list_orders(State(simulator): State<Arc<PingppSimulator>>, RawQuery(query): RawQuery) -> Response {
    let query = ListQuery::parse(query.as_deref());
    let state = simulator.state();
    answer(order_list(&state, &query))
}

fn order_list(state: &PingppState, query: &ListQuery) -> Result<Value, ApiError> {
    let app = query.get("app").or_else(|| query.get("app[id]"));
    if let Some(app) = app {
        known_app(state, app, "app")?;
    }
    let (paid, refunded) = (query.flag("paid")?, query.flag("refunded")?);
    let status = match query.get("status") {
        None => None,
        Some(text) => Some(
            OrderStatus::parse(text)
                .ok_or_else(|| ApiError::invalid_param("status", format!("参数 status 不正确：{text}。")))?,
        ),
    };
    let (uid, merchant_order_no) = (query.get("uid"), query.get("merchant_order_no"));
    let mut matching = Vec::new();
    for order in state.orders().iter().rev() {
        let wanted = app.is_none_or(|app| order.app == app)
            && paid.is_none_or(|paid| order.paid == paid)
            && refunded.is_none_or(|refunded| (state.order_refunded_amount(order) > 0) == refunded)
            && status.is_none_or(|status| order.status == status)
            && uid.is_none_or(|uid| order.uid.as_deref() == Some(uid))
            && merchant_order_no.is_none_or(|no| order.merchant_order_no == no)
            && query.created_within(order.created)?;
        if wanted {
            matching.push(order);
        }
    }
    let (page, has_more) = query.page(matching, |order| &order.id)?;
    let data = page.into_iter().map(|order| render::order(state, order)).collect();
    Ok(render::list("/v1/orders", data, has_more))
}

async fn list_order_charges(
    State(simulator): State<Arc<PingppSimulator>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = ListQuery::parse(query.as_deref());
    let state = simulator.state();
    answer(state.order(&id).and_then(|order| {
        let newest_first = state.order_charges(order).into_iter().rev().collect();
        let (page, has_more) = query.page(newest_first, |charge| &charge.id)?;
        let data = page.into_iter().map(render::charge).collect();
        Ok(render::list(format!("/v1/orders/{id}/charges"), data, has_more))
    }))
}

async fn show_order_charge(
    State(simulator): State<Arc<PingppSimulator>>,
    Path((id, charge_id)): Path<(String, String)>,
) -> Response {
    let state = simulator.state();
    answer(state.order(&id).and_then(|order| {
        if !order.charge_ids.contains(&charge_id) {
            return Err(ApiError::not_found("charge", &charge_id));
        }
        state.charge(&charge_id).map(render::charge)
    }))
}
