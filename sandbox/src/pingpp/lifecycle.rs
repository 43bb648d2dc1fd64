//! How charges, refunds and orders change, and the events each change raises. Everything here
//! runs under the state lock and returns [`Effect`]s to carry out once it is released.
//!
//! Choices where Ping++'s documentation is silent (each deliberate, none a guess at random):
//! - A payment on a charge that belongs to an order raises `charge.succeeded` and then
//!   `order.succeeded` with the order as it stands. It does so every time money lands, also on an
//!   order that was canceled (status stays `canceled`, `paid` turns true) or already paid through
//!   another channel (`amount_paid` exceeds `actual_amount`): seed 004's two anomalies, which the
//!   merchant must notice and refund.
//! - The buyer's payment is never refused for being late: seed 004 shows channels accepting a
//!   payment after the order timed out. Reversed and failed charges cannot be paid.
//! - A refund that succeeds raises `refund.succeeded`, and for an order's charge then
//!   `order.refunded`. A refund that fails raises nothing (Ping++ publishes no `refund.failed`
//!   event): only polling shows `status: failed` with `failure_code` and `failure_msg`.
//! - An order becomes `refunded` once its refunds reach `amount_paid`; a canceled order stays
//!   `canceled` whatever is refunded.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::channels::Channel;
use super::errors::ApiError;
use super::render;
use super::state::{OrderStatus, PingppState, Refund, RefundMode, RefundPlan, RefundStatus, RoyaltyRefund};
use super::{Effect, NewEvent, ids};

fn event(app: &str, event_type: &'static str, object: Value, request: Option<&str>) -> Effect {
    Effect::Emit(NewEvent { app: app.to_owned(), event_type, object, request: request.map(str::to_owned) })
}

/// The buyer pays (scans the QR code, confirms in the app): the charge is paid and, when it
/// pays an order, the order takes the money in.
pub fn pay_charge(
    state: &mut PingppState,
    charge_id: &str,
    transaction_no: Option<String>,
    now: DateTime<Utc>,
    request: Option<&str>,
) -> Result<Vec<Effect>, ApiError> {
    let charge = state.charge_mut(charge_id)?;
    if charge.paid {
        return Err(ApiError::invalid_state(format!("charge {charge_id} 已支付。")));
    }
    if charge.reversed {
        return Err(ApiError::invalid_state(format!("charge {charge_id} 已撤销，无法支付。")));
    }
    if charge.failure_code.is_some() {
        return Err(ApiError::invalid_state(format!("charge {charge_id} 已失败，无法支付。")));
    }
    charge.paid = true;
    charge.time_paid = Some(now);
    charge.transaction_no = Some(transaction_no.unwrap_or_else(|| charge.channel.transaction_no(now)));
    let mut effects = vec![event(&charge.app, "charge.succeeded", render::charge(charge), request)];
    let (amount, order_id) = (charge.amount, charge.order_id.clone());
    if let Some(order_id) = order_id {
        let order = state.order_mut(&order_id)?;
        order.amount_paid += amount;
        if !order.paid {
            order.paid = true;
            order.time_paid = Some(now);
        }
        if order.status == OrderStatus::Created {
            order.status = OrderStatus::Paid;
        }
        let order = state.order(&order_id)?;
        effects.push(event(&order.app, "order.succeeded", render::order(state, order), request));
    }
    Ok(effects)
}

/// The channel reports the payment failed: the charge keeps `paid: false`, carries the failure,
/// and no event is raised (Ping++ has none for it).
pub fn fail_charge(
    state: &mut PingppState,
    charge_id: &str,
    failure_code: String,
    failure_msg: String,
) -> Result<Value, ApiError> {
    let charge = state.charge_mut(charge_id)?;
    if charge.paid || charge.reversed {
        return Err(ApiError::invalid_state(format!("charge {charge_id} 已支付或已撤销，无法置为失败。")));
    }
    charge.failure_code = Some(failure_code);
    charge.failure_msg = Some(failure_msg);
    Ok(render::charge(charge))
}

/// A refund as asked for, already validated for shape.
pub struct RefundRequest {
    pub amount: Option<i64>,
    pub description: String,
    pub metadata: Value,
    pub funding_source: Option<String>,
    pub refund_mode: Option<RefundMode>,
    pub royalty_users: Vec<RoyaltyRefund>,
}

/// Creates a refund on a paid charge. Refunds to the user's balance (the balance channel,
/// `refund_mode: to_balance`) succeed at once; the others start `pending` and follow the
/// refund plan.
pub fn create_refund(
    state: &mut PingppState,
    charge_id: &str,
    request: RefundRequest,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> Result<(Value, Vec<Effect>), ApiError> {
    let charge = state.charge(charge_id)?;
    if !charge.paid {
        return Err(ApiError::invalid_state(format!("charge {charge_id} 尚未支付，无法退款。")));
    }
    let refundable = charge.refundable_amount();
    if refundable <= 0 {
        return Err(ApiError::invalid_state(format!("charge {charge_id} 已无可退金额。")));
    }
    let amount = request.amount.unwrap_or(refundable);
    if amount > refundable {
        return Err(ApiError::invalid_param("amount", format!("退款金额 {amount} 大于可退金额 {refundable}。")));
    }
    if request.funding_source.is_some() && !charge.channel.is_wechat() {
        return Err(ApiError::invalid_param("funding_source", "funding_source 仅适用于微信渠道。"));
    }
    let immediate = charge.channel == Channel::Balance || request.refund_mode == Some(RefundMode::ToBalance);
    let id = ids::refund();
    let refund = Refund {
        order_no: id.trim_start_matches("re_").to_owned(),
        id: id.clone(),
        charge_id: charge_id.to_owned(),
        amount,
        status: RefundStatus::Pending,
        created: now,
        time_succeed: None,
        description: request.description,
        failure_code: None,
        failure_msg: None,
        metadata: request.metadata,
        transaction_no: None,
        funding_source: request.funding_source,
        refund_mode: request.refund_mode,
        royalty_users: request.royalty_users,
    };
    state.add_refund(refund)?;
    let effects = if immediate {
        settle_refund(state, &id, Settlement::Succeed, now, request_id)?.1
    } else {
        match state.refund_plan {
            RefundPlan::Settle { after, succeed } => {
                vec![Effect::SettleRefund { refund_id: id.clone(), at: now + after, succeed }]
            }
            RefundPlan::Hold => Vec::new(),
        }
    };
    let (charge, refund) = state.refund(&id)?;
    Ok((render::refund(charge, refund), effects))
}

pub enum Settlement {
    Succeed,
    Fail { code: String, message: String },
}

/// A pending refund succeeds or fails.
pub fn settle_refund(
    state: &mut PingppState,
    refund_id: &str,
    settlement: Settlement,
    now: DateTime<Utc>,
    request: Option<&str>,
) -> Result<(Value, Vec<Effect>), ApiError> {
    let (charge, refund) = state.refund(refund_id)?;
    if refund.status != RefundStatus::Pending {
        return Err(ApiError::invalid_state(format!("退款 {refund_id} 已是 {} 状态。", refund.status.as_str())));
    }
    let channel = charge.channel;
    let refund = state.refund_mut(refund_id)?;
    let succeeded = match settlement {
        Settlement::Succeed => {
            refund.status = RefundStatus::Succeeded;
            refund.time_succeed = Some(now);
            refund.transaction_no = Some(channel.refund_transaction_no(now));
            true
        }
        Settlement::Fail { code, message } => {
            refund.status = RefundStatus::Failed;
            refund.failure_code = Some(code);
            refund.failure_msg = Some(message);
            false
        }
    };
    let (charge, refund) = state.refund(refund_id)?;
    let body = render::refund(charge, refund);
    let mut effects = Vec::new();
    if succeeded {
        effects.push(event(&charge.app, "refund.succeeded", body.clone(), request));
        if let Some(order_id) = charge.order_id.clone() {
            let refunded = state.order_refunded_amount(state.order(&order_id)?);
            let order = state.order_mut(&order_id)?;
            if order.status == OrderStatus::Paid && refunded >= order.amount_paid {
                order.status = OrderStatus::Refunded;
            }
            let order = state.order(&order_id)?;
            effects.push(event(&order.app, "order.refunded", render::order(state, order), request));
        }
    }
    Ok((body, effects))
}

/// An unpaid order that reaches `time_expire` is canceled by timeout (no event). Its charges
/// stay payable: a buyer who already opened the channel's page can still pay (seed 004).
pub fn expire_order(state: &mut PingppState, order_id: &str) {
    if let Ok(order) = state.order_mut(order_id)
        && order.status == OrderStatus::Created
    {
        order.status = OrderStatus::Canceled;
    }
}
