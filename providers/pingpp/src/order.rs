//! Orders: Ping++'s merchant-order layer above charges. An order is paid by one or more charges
//! and refunded through order refunds.
//!
//! Two edge cases need a refund by the merchant (Ping++'s own order guide): an order paid after
//! it was canceled (`status` canceled, `paid` true), and an order paid through two channels at
//! once (`amount_paid` greater than `actual_amount`). [`Order::overpaid_amount`] finds both.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::charge::Charge;
use crate::client::PingppClient;
use crate::error::PingppError;
use crate::refund::{FundingSource, Refund};
use crate::types::{List, ListParams, Metadata, app_id, null_as_default, wire_enum};

wire_enum! {
    /// Where an order stands.
    pub enum OrderStatus {
        Created => "created",
        Paid => "paid",
        Refunded => "refunded",
        Canceled => "canceled",
    }
}

wire_enum! {
    /// Where an order refund goes.
    pub enum RefundMode {
        /// Back the way it was paid (the default).
        ToSource => "to_source",
        /// To the user's Ping++ balance.
        ToBalance => "to_balance",
    }
}

/// A Ping++ order. Amounts are integer fen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub livemode: bool,
    #[serde(default, deserialize_with = "app_id")]
    pub app: String,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub merchant_order_no: String,
    pub status: OrderStatus,
    #[serde(default, deserialize_with = "null_as_default")]
    pub paid: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub refunded: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub amount: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub coupon_amount: i64,
    /// What the buyer has to pay: `amount` less coupons.
    #[serde(default, deserialize_with = "null_as_default")]
    pub actual_amount: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub amount_paid: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub amount_refunded: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub currency: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subject: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub body: String,
    #[serde(default)]
    pub client_ip: Option<String>,
    #[serde(default)]
    pub time_paid: Option<i64>,
    #[serde(default)]
    pub time_expire: Option<i64>,
    /// The id of the current charge.
    #[serde(default)]
    pub charge: Option<String>,
    #[serde(default)]
    pub charges: Option<List<Charge>>,
    /// The paying charge's channel, transaction number, failure and credential.
    #[serde(default)]
    pub charge_essentials: Value,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    #[serde(default)]
    pub description: Option<String>,
}

impl Order {
    /// Money taken that the order does not account for, in fen: everything paid into a
    /// canceled order, or what was paid beyond `actual_amount` (two channels paid at once).
    pub fn overpaid_amount(&self) -> i64 {
        let kept = if self.status == OrderStatus::Canceled { 0 } else { self.actual_amount };
        (self.amount_paid - self.amount_refunded - kept).max(0)
    }
}

/// A user who shares in an order's proceeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoyaltyUser {
    pub user: String,
    /// Integer fen.
    pub amount: i64,
}

/// The body of `POST /v1/orders`. `app` is filled from the client's configuration when `None`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CreateOrder {
    pub app: Option<String>,
    pub merchant_order_no: String,
    /// Integer fen.
    pub amount: i64,
    pub currency: String,
    pub subject: String,
    pub body: String,
    pub uid: Option<String>,
    pub client_ip: Option<String>,
    pub description: Option<String>,
    pub coupon: Option<String>,
    pub actual_amount: Option<i64>,
    pub time_expire: Option<i64>,
    pub metadata: Option<Metadata>,
    pub receipt_app: Option<String>,
    pub service_app: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub royalty_users: Vec<RoyaltyUser>,
    pub royalty_template: Option<String>,
}

impl CreateOrder {
    /// An order in `cny`, in the configured app.
    pub fn new(
        merchant_order_no: impl Into<String>,
        amount: i64,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            merchant_order_no: merchant_order_no.into(),
            amount,
            currency: "cny".to_owned(),
            subject: subject.into(),
            body: body.into(),
            ..Self::default()
        }
    }
}

/// The body of `POST /v1/orders/{id}/pay`: which channel pays how much.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayOrder {
    pub channel: String,
    /// Integer fen paid through this channel.
    pub charge_amount: i64,
    /// The order number of the charge this creates; Ping++ picks one when `None`.
    pub charge_order_no: Option<String>,
    pub time_expire: Option<i64>,
    /// Channel-specific parameters, as for a charge.
    pub extra: Option<Value>,
}

impl PayOrder {
    pub fn new(channel: impl Into<String>, charge_amount: i64) -> Self {
        Self { channel: channel.into(), charge_amount, charge_order_no: None, time_expire: None, extra: None }
    }
}

/// A royalty user's share to take back in an order refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoyaltyRefund {
    pub user: String,
    /// Integer fen.
    pub amount_refunded: i64,
}

/// The body of `POST /v1/orders/{id}/order_refunds`. With no `charge`, every charge of the
/// order is refunded in full.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CreateOrderRefund {
    /// The charge of the order to refund.
    pub charge: Option<String>,
    /// Integer fen; only with `charge`. The charge's refundable rest when `None`.
    pub charge_amount: Option<i64>,
    /// Required by Ping++.
    pub description: String,
    pub metadata: Option<Metadata>,
    pub refund_mode: Option<RefundMode>,
    /// When not every royalty is taken back in full, every royalty user with their share.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub royalty_users: Vec<RoyaltyRefund>,
    /// WeChat channels only.
    pub funding_source: Option<FundingSource>,
}

impl CreateOrderRefund {
    pub fn new(description: impl Into<String>) -> Self {
        Self { description: description.into(), ..Self::default() }
    }
}

#[derive(Serialize)]
struct CancelOrder {
    status: &'static str,
}

impl PingppClient {
    /// `POST /v1/orders`. Never repeated automatically.
    pub async fn create_order(&self, req: &CreateOrder) -> Result<Order, PingppError> {
        let body = CreateOrder { app: Some(self.app_or_configured(&req.app)), ..req.clone() };
        self.api.post(&["orders"], &body).await
    }

    /// `GET /v1/orders/{id}`.
    pub async fn get_order(&self, id: &str) -> Result<Order, PingppError> {
        self.api.get(&["orders", id], &[]).await
    }

    /// `GET /v1/orders?app=…`, the app taken from the configuration.
    pub async fn list_orders(&self, params: &ListParams) -> Result<List<Order>, PingppError> {
        self.api.get(&["orders"], &self.app_scoped_query("app", params)).await
    }

    /// `PUT /v1/orders/{id}` with `{"status": "canceled"}`. A buyer may still complete a payment
    /// already open in a wallet; see [`Order::overpaid_amount`].
    pub async fn cancel_order(&self, id: &str) -> Result<Order, PingppError> {
        let cancel = CancelOrder { status: "canceled" };
        self.api.put(&["orders", id], &cancel).await
    }

    /// `POST /v1/orders/{id}/pay`: creates the charge that pays the order; the answer's `charge`
    /// and `charge_essentials.credential` are what the buyer's side needs.
    pub async fn pay_order(&self, id: &str, req: &PayOrder) -> Result<Order, PingppError> {
        self.api.post(&["orders", id, "pay"], req).await
    }

    /// `GET /v1/orders/{order_id}/charges`.
    pub async fn order_charges(&self, order_id: &str) -> Result<List<Charge>, PingppError> {
        self.api.get(&["orders", order_id, "charges"], &[]).await
    }

    /// `GET /v1/orders/{order_id}/charges/{charge_id}`.
    pub async fn get_order_charge(&self, order_id: &str, charge_id: &str) -> Result<Charge, PingppError> {
        self.api.get(&["orders", order_id, "charges", charge_id], &[]).await
    }

    /// `POST /v1/orders/{order_id}/order_refunds`; answers a list, one refund per charge.
    /// Never repeated automatically.
    pub async fn create_order_refund(
        &self,
        order_id: &str,
        req: &CreateOrderRefund,
    ) -> Result<List<Refund>, PingppError> {
        self.api.post(&["orders", order_id, "order_refunds"], req).await
    }

    /// `GET /v1/orders/{order_id}/order_refunds/{refund_id}`.
    pub async fn get_order_refund(&self, order_id: &str, refund_id: &str) -> Result<Refund, PingppError> {
        self.api.get(&["orders", order_id, "order_refunds", refund_id], &[]).await
    }

    /// `GET /v1/orders/{order_id}/order_refunds`.
    pub async fn list_order_refunds(&self, order_id: &str) -> Result<List<Refund>, PingppError> {
        self.api.get(&["orders", order_id, "order_refunds"], &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(status: &str, actual: i64, paid: i64, refunded: i64) -> Order {
        serde_json::from_value(json!({
            "id": "2001708140000017551", "status": status, "paid": paid > 0,
            "amount": actual, "actual_amount": actual, "amount_paid": paid,
            "amount_refunded": refunded
        }))
        .expect("order")
    }

    #[test]
    fn money_paid_into_a_canceled_order_is_overpaid() {
        assert_eq!(order("canceled", 100, 100, 0).overpaid_amount(), 100);
        assert_eq!(order("canceled", 100, 100, 100).overpaid_amount(), 0);
    }

    #[test]
    fn paying_through_two_channels_overpays_by_the_second_payment() {
        assert_eq!(order("paid", 100, 200, 0).overpaid_amount(), 100);
        assert_eq!(order("paid", 100, 100, 0).overpaid_amount(), 0);
        assert_eq!(order("created", 100, 0, 0).overpaid_amount(), 0);
    }

    #[test]
    fn order_refund_request_carries_royalty_users_and_mode_only_when_set() {
        let plain = CreateOrderRefund::new("Order refund test.");
        assert_eq!(serde_json::to_value(&plain).expect("json"), json!({"description": "Order refund test."}));
        let shared = CreateOrderRefund {
            charge: Some("ch_eDaTe9OG0qPOz14S4KWH80eP".into()),
            charge_amount: Some(10),
            refund_mode: Some(RefundMode::ToSource),
            royalty_users: vec![RoyaltyRefund { user: "test_user_001".into(), amount_refunded: 10 }],
            ..CreateOrderRefund::new("Your description")
        };
        assert_eq!(
            serde_json::to_value(&shared).expect("json"),
            json!({"charge": "ch_eDaTe9OG0qPOz14S4KWH80eP", "charge_amount": 10,
                   "description": "Your description", "refund_mode": "to_source",
                   "royalty_users": [{"user": "test_user_001", "amount_refunded": 10}]})
        );
    }
}
