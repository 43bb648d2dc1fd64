//! The Ping++ simulator's memory: charges with their refunds, orders, the event log, webhook
//! endpoints, the merchant's request-signing key and the outcomes tests asked for. One `Mutex`
//! guards it all; no lock is held across an `.await`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::channels::Channel;
use super::errors::ApiError;
use super::keys::MerchantPublicKey;
use crate::faults::Faults;
use crate::wire::wire_enum;

wire_enum!(RefundStatus { Pending => "pending", Succeeded => "succeeded", Failed => "failed" });

wire_enum!(parsed OrderStatus { Created => "created", Paid => "paid", Canceled => "canceled", Refunded => "refunded" });

wire_enum!(parsed RefundMode { ToSource => "to_source", ToBalance => "to_balance" });

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoyaltyRefund {
    pub user: String,
    pub amount_refunded: i64,
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub charge_id: String,
    /// The refund's own serial, as Ping++'s `order_no` on a refund.
    pub order_no: String,
    pub amount: i64,
    pub status: RefundStatus,
    pub created: DateTime<Utc>,
    pub time_succeed: Option<DateTime<Utc>>,
    pub description: String,
    pub failure_code: Option<String>,
    pub failure_msg: Option<String>,
    pub metadata: Value,
    pub transaction_no: Option<String>,
    pub funding_source: Option<String>,
    /// Set on refunds made through an order (`/v1/orders/{id}/order_refunds`).
    pub refund_mode: Option<RefundMode>,
    pub royalty_users: Vec<RoyaltyRefund>,
}

#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub app: String,
    pub channel: Channel,
    pub order_no: String,
    pub client_ip: String,
    pub amount: i64,
    pub subject: String,
    pub body: String,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
    pub metadata: Value,
    pub credential: Value,
    pub created: DateTime<Utc>,
    pub time_expire: DateTime<Utc>,
    pub paid: bool,
    pub time_paid: Option<DateTime<Utc>>,
    pub transaction_no: Option<String>,
    pub reversed: bool,
    pub failure_code: Option<String>,
    pub failure_msg: Option<String>,
    /// Newest last.
    pub refunds: Vec<Refund>,
    /// The order this charge pays, when it was made by `POST /v1/orders/{id}/pay`.
    pub order_id: Option<String>,
}

impl Charge {
    pub fn refunded_amount(&self) -> i64 {
        self.refunds_summing(|status| status == RefundStatus::Succeeded)
    }

    /// What is left to refund: refunds that succeeded or are still pending are spoken for.
    pub fn refundable_amount(&self) -> i64 {
        if !self.paid {
            return 0;
        }
        self.amount - self.refunds_summing(|status| status != RefundStatus::Failed)
    }

    fn refunds_summing(&self, counted: impl Fn(RefundStatus) -> bool) -> i64 {
        self.refunds.iter().filter(|refund| counted(refund.status)).map(|refund| refund.amount).sum()
    }
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub app: String,
    pub uid: Option<String>,
    pub merchant_order_no: String,
    pub amount: i64,
    pub actual_amount: i64,
    pub coupon: Option<String>,
    pub subject: String,
    pub body: String,
    pub client_ip: Option<String>,
    pub description: Option<String>,
    pub metadata: Value,
    pub receipt_app: String,
    pub service_app: String,
    pub royalty_users: Value,
    pub created: DateTime<Utc>,
    pub time_expire: DateTime<Utc>,
    pub status: OrderStatus,
    pub paid: bool,
    pub time_paid: Option<DateTime<Utc>>,
    /// Sum of every charge paid on the order; above `actual_amount` when the buyer paid twice.
    pub amount_paid: i64,
    /// Oldest first; the last one is the charge the order is currently being paid with.
    pub charge_ids: Vec<String>,
}

/// An event as raised; deliveries send its JSON serialized once, byte for byte.
pub struct EventRecord {
    pub id: String,
    pub json: Value,
}

/// A webhook URL configured for an app (in Ping++'s dashboard; here by control endpoint).
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub app: String,
    pub url: String,
}

/// What refunds made through the API turn into (`PUT /sandbox/pingpp/refund-outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPlan {
    /// Settle (succeed or fail) this long after creation, on the test clock.
    Settle { after: Duration, succeed: bool },
    /// Stay pending until a control endpoint settles them.
    Hold,
}

/// Ping++ answers a refund with `pending` and sends `refund.succeeded` shortly after for most
/// channels; the sandbox waits this long.
pub const QUICK_SETTLEMENT: Duration = Duration::seconds(5);

impl Default for RefundPlan {
    fn default() -> Self {
        Self::Settle { after: QUICK_SETTLEMENT, succeed: true }
    }
}

/// What a channel answers, while it refuses, to every new charge on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRefusal {
    pub code: String,
    pub message: String,
}

#[derive(Default)]
pub struct PingppState {
    pub apps: Vec<String>,
    charges: Vec<Charge>,
    charge_index: HashMap<String, usize>,
    orders: Vec<Order>,
    order_index: HashMap<String, usize>,
    refund_index: HashMap<String, String>,
    events: Vec<EventRecord>,
    event_index: HashMap<String, usize>,
    pub webhooks: Vec<WebhookEndpoint>,
    pub merchant_key: Option<MerchantPublicKey>,
    pub refund_plan: RefundPlan,
    pub faults: Faults,
    pub channel_refusals: HashMap<Channel, ChannelRefusal>,
}

impl PingppState {
    /// A new charge on `channel` is passed on to it; a refusing channel makes it a 402.
    pub fn channel_accepts(&self, channel: Channel) -> Result<(), ApiError> {
        match self.channel_refusals.get(&channel) {
            Some(refusal) => Err(ApiError::channel_refused(channel.as_str(), &refusal.code, &refusal.message)),
            None => Ok(()),
        }
    }

    pub fn knows_app(&self, app: &str) -> bool {
        self.apps.iter().any(|known| known == app)
    }

    pub fn charges(&self) -> &[Charge] {
        &self.charges
    }

    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }

    pub fn insert_charge(&mut self, charge: Charge) {
        self.charge_index.insert(charge.id.clone(), self.charges.len());
        self.charges.push(charge);
    }

    pub fn insert_order(&mut self, order: Order) {
        self.order_index.insert(order.id.clone(), self.orders.len());
        self.orders.push(order);
    }

    pub fn insert_event(&mut self, event: EventRecord) {
        self.event_index.insert(event.id.clone(), self.events.len());
        self.events.push(event);
    }

    pub fn add_refund(&mut self, refund: Refund) -> Result<(), ApiError> {
        let charge = self.charge_mut(&refund.charge_id)?;
        let (id, charge_id) = (refund.id.clone(), refund.charge_id.clone());
        charge.refunds.push(refund);
        self.refund_index.insert(id, charge_id);
        Ok(())
    }

    pub fn charge(&self, id: &str) -> Result<&Charge, ApiError> {
        self.charge_index.get(id).map(|index| &self.charges[*index]).ok_or_else(|| ApiError::not_found("charge", id))
    }

    pub fn charge_mut(&mut self, id: &str) -> Result<&mut Charge, ApiError> {
        match self.charge_index.get(id) {
            Some(index) => Ok(&mut self.charges[*index]),
            None => Err(ApiError::not_found("charge", id)),
        }
    }

    pub fn order(&self, id: &str) -> Result<&Order, ApiError> {
        self.order_index.get(id).map(|index| &self.orders[*index]).ok_or_else(|| ApiError::not_found("order", id))
    }

    pub fn order_mut(&mut self, id: &str) -> Result<&mut Order, ApiError> {
        match self.order_index.get(id) {
            Some(index) => Ok(&mut self.orders[*index]),
            None => Err(ApiError::not_found("order", id)),
        }
    }

    /// A refund and the charge it belongs to.
    pub fn refund(&self, id: &str) -> Result<(&Charge, &Refund), ApiError> {
        let not_found = || ApiError::not_found("refund", id);
        let charge_id = self.refund_index.get(id).ok_or_else(not_found)?;
        let charge = self.charge(charge_id)?;
        let refund = charge.refunds.iter().find(|refund| refund.id == id).ok_or_else(not_found)?;
        Ok((charge, refund))
    }

    pub fn refund_mut(&mut self, id: &str) -> Result<&mut Refund, ApiError> {
        let not_found = || ApiError::not_found("refund", id);
        let charge_id = self.refund_index.get(id).cloned().ok_or_else(not_found)?;
        self.charge_mut(&charge_id)?.refunds.iter_mut().find(|refund| refund.id == id).ok_or_else(not_found)
    }

    pub fn event(&self, id: &str) -> Result<&EventRecord, ApiError> {
        self.event_index.get(id).map(|index| &self.events[*index]).ok_or_else(|| ApiError::not_found("event", id))
    }

    /// The charges of an order, oldest first.
    pub fn order_charges(&self, order: &Order) -> Vec<&Charge> {
        order.charge_ids.iter().filter_map(|id| self.charge(id).ok()).collect()
    }

    pub fn order_refunded_amount(&self, order: &Order) -> i64 {
        self.order_charges(order).iter().map(|charge| charge.refunded_amount()).sum()
    }
}
