//! Order refunds: `POST /v1/orders/{id}/order_refunds` (`charge` and `charge_amount` to refund
//! one charge partly — without them every paid charge is refunded in full, which also returns
//! a second payment (seed 004) —, `description` (required), `metadata`, `refund_mode`
//! `to_source` (default) or `to_balance`, `funding_source`, `royalty_users[{user,
//! amount_refunded}]`). It answers a list of the refunds made. `GET` lists them, and
//! `GET /v1/orders/{id}/order_refunds/{re}` shows one.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use super::errors::ApiError;
use super::lifecycle::{self, RefundRequest};
use super::refunds::{parse_description, parse_funding_source};
use super::requests::{self, Fields, ListQuery};
use super::state::{PingppState, RefundMode, RoyaltyRefund};
use super::{Effect, PingppSimulator, answer, ids, render};

pub fn routes() -> Router<Arc<PingppSimulator>> {
    Router::new()
        .route("/v1/orders/{id}/order_refunds", post(create_order_refund).get(list_order_refunds))
        .route("/v1/orders/{id}/order_refunds/{refund_id}", get(show_order_refund))
}

fn parse_refund_mode(fields: &Fields) -> Result<RefundMode, ApiError> {
    match requests::optional_str(fields, "refund_mode")? {
        None => Ok(RefundMode::ToSource),
        Some(text) => RefundMode::parse(&text).ok_or_else(|| {
            ApiError::invalid_param(
                "refund_mode",
                format!("参数 refund_mode 不正确：{text}，可选 to_source 或 to_balance。"),
            )
        }),
    }
}

fn parse_royalty_refunds(fields: &Fields) -> Result<Vec<RoyaltyRefund>, ApiError> {
    let Some(users) = fields.get("royalty_users").filter(|value| !value.is_null()) else {
        return Ok(Vec::new());
    };
    let invalid = || {
        ApiError::invalid_param(
            "royalty_users",
            "参数 royalty_users 应为 [{\"user\": 用户 ID, \"amount_refunded\": 退分润金额}] 的列表。",
        )
    };
    users
        .as_array()
        .ok_or_else(invalid)?
        .iter()
        .map(|entry| {
            let user = entry.get("user").and_then(Value::as_str).unwrap_or_default();
            let amount = entry.get("amount_refunded").and_then(Value::as_i64).unwrap_or(0);
            if user.trim().is_empty() || !(1..=requests::MAX_AMOUNT).contains(&amount) {
                return Err(invalid());
            }
            Ok(RoyaltyRefund { user: user.to_owned(), amount_refunded: amount })
        })
        .collect()
}

/// Which charges to refund, and how much of each.
fn refund_targets(
    state: &PingppState,
    order_id: &str,
    charge: Option<String>,
    charge_amount: Option<i64>,
) -> Result<Vec<(String, i64)>, ApiError> {
    let order = state.order(order_id)?;
    if !order.paid {
        return Err(ApiError::invalid_state(format!("订单 {order_id} 尚未支付，无法退款。")));
    }
    match (charge, charge_amount) {
        (None, Some(_)) => Err(ApiError::invalid_param("charge_amount", "参数 charge_amount 必须和 charge 同时使用。")),
        (Some(charge_id), amount) => {
            if !order.charge_ids.contains(&charge_id) {
                return Err(ApiError::invalid_param("charge", format!("charge {charge_id} 不属于订单 {order_id}。")));
            }
            let charge = state.charge(&charge_id)?;
            let refundable = charge.refundable_amount();
            if refundable <= 0 {
                return Err(ApiError::invalid_param("charge", format!("charge {charge_id} 未支付或已无可退金额。")));
            }
            Ok(vec![(charge_id, amount.unwrap_or(refundable))])
        }
        (None, None) => {
            let targets: Vec<(String, i64)> = state
                .order_charges(order)
                .into_iter()
                .map(|charge| (charge.id.clone(), charge.refundable_amount()))
                .filter(|(_, refundable)| *refundable > 0)
                .collect();
            if targets.is_empty() {
                return Err(ApiError::invalid_state(format!("订单 {order_id} 已无可退金额。")));
            }
            Ok(targets)
        }
    }
}

async fn create_order_refund(
    State(simulator): State<Arc<PingppSimulator>>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    let now = simulator.now();
    let request_id = ids::api_request();
    answer(simulator.transact(|state| {
        let fields = requests::object(&body)?;
        let description = parse_description(&fields)?;
        let metadata = requests::metadata(&fields)?;
        let refund_mode = parse_refund_mode(&fields)?;
        let funding_source = parse_funding_source(&fields)?;
        let royalty_users = parse_royalty_refunds(&fields)?;
        let charge = requests::optional_str(&fields, "charge")?;
        let charge_amount = requests::optional_amount(&fields, "charge_amount")?;
        let targets = refund_targets(state, &order_id, charge, charge_amount)?;
        let total: i64 = targets.iter().map(|(_, amount)| amount).sum();
        let royalty_total: i64 = royalty_users.iter().map(|user| user.amount_refunded).sum();
        if royalty_total > total {
            return Err(ApiError::invalid_param(
                "royalty_users",
                format!("退分润总额 {royalty_total} 大于退款金额 {total}。"),
            ));
        }
        // Checked for every charge before any refund is made, so a refusal changes nothing.
        if funding_source.is_some() {
            for (charge_id, _) in &targets {
                if !state.charge(charge_id)?.channel.is_wechat() {
                    return Err(ApiError::invalid_param("funding_source", "funding_source 仅适用于微信渠道。"));
                }
            }
        }
        let mut refunds = Vec::new();
        let mut effects: Vec<Effect> = Vec::new();
        for (charge_id, amount) in targets {
            let request = RefundRequest {
                amount: Some(amount),
                description: description.clone(),
                metadata: metadata.clone(),
                funding_source: funding_source.clone(),
                refund_mode: Some(refund_mode),
                royalty_users: royalty_users.clone(),
            };
            let (refund, more) =
                lifecycle::create_refund(state, &charge_id, request, now, Some(&request_id)).map_err(|error| {
                    match error.param.as_deref() {
                        Some("amount") => ApiError { param: Some("charge_amount".to_owned()), ..error },
                        _ => error,
                    }
                })?;
            refunds.push(refund);
            effects.extend(more);
        }
        let url = format!("/v1/orders/{order_id}/order_refunds");
        Ok((render::list(url, refunds, false), effects))
    }))
}

async fn list_order_refunds(
    State(simulator): State<Arc<PingppSimulator>>,
    Path(order_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = ListQuery::parse(query.as_deref());
    let state = simulator.state();
    answer(state.order(&order_id).and_then(|order| {
        let charges = state.order_charges(order);
        let mut refunds: Vec<_> =
            charges.iter().flat_map(|charge| charge.refunds.iter().map(move |refund| (*charge, refund))).collect();
        refunds.sort_by_key(|(_, refund)| std::cmp::Reverse(refund.created));
        let newest_first = refunds.iter().collect();
        let (page, has_more) = query.page(newest_first, |(_, refund)| &refund.id)?;
        let data = page.into_iter().map(|(charge, refund)| render::refund(charge, refund)).collect();
        Ok(render::list(format!("/v1/orders/{order_id}/order_refunds"), data, has_more))
    }))
}

async fn show_order_refund(
    State(simulator): State<Arc<PingppSimulator>>,
    Path((order_id, refund_id)): Path<(String, String)>,
) -> Response {
    let state = simulator.state();
    answer(state.order(&order_id).and_then(|order| {
        let (charge, refund) = state.refund(&refund_id)?;
        if !order.charge_ids.contains(&charge.id) {
            return Err(ApiError::not_found("refund", &refund_id));
        }
        Ok(render::refund(charge, refund))
    }))
}
