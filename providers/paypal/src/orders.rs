//! v2 Checkout Orders: create an order, send the buyer to approve it, update it, capture it (or
//! authorize it, to capture later through [`crate::Authorization`]).

use serde::{Deserialize, Serialize};

use crate::authorizations::Authorization;
use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::payments::{Capture, Refund};
use crate::plans::PatchOperation;
use crate::types::{Amount, Link, link_href, wire_enum};

wire_enum! {
    /// `Order.status`.
    pub enum OrderStatus {
        Created => "CREATED",
        Saved => "SAVED",
        Approved => "APPROVED",
        Voided => "VOIDED",
        Completed => "COMPLETED",
        PayerActionRequired => "PAYER_ACTION_REQUIRED",
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: OrderStatus,
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purchase_units: Vec<PurchaseUnit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    pub payer: Option<serde_json::Value>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl Order {
    /// Where to send the buyer to approve the order. Orders created with a `payment_source`
    /// answer a `payer-action` link; older integrations get `approve`.
    pub fn approval_url(&self) -> Option<&str> {
        link_href(&self.links, "payer-action").or_else(|| link_href(&self.links, "approve"))
    }

    /// Every capture of every purchase unit.
    pub fn captures(&self) -> impl Iterator<Item = &Capture> {
        self.payments().flat_map(|payments| payments.captures.iter())
    }

    /// Every authorization of every purchase unit (orders with intent `AUTHORIZE`).
    pub fn authorizations(&self) -> impl Iterator<Item = &Authorization> {
        self.payments().flat_map(|payments| payments.authorizations.iter())
    }

    fn payments(&self) -> impl Iterator<Item = &PaymentCollection> {
        self.purchase_units.iter().filter_map(|unit| unit.payments.as_ref())
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PurchaseUnit {
    pub reference_id: Option<String>,
    pub amount: Option<Amount>,
    pub custom_id: Option<String>,
    pub invoice_id: Option<String>,
    pub description: Option<String>,
    pub payments: Option<PaymentCollection>,
}

/// `purchase_units[].payments`: what happened to the money of a purchase unit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentCollection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizations: Vec<Authorization>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<Capture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<Refund>,
}

/// The body of `POST /v2/checkout/orders`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrderRequest {
    /// `CAPTURE` (take the money at once) or `AUTHORIZE`.
    pub intent: String,
    pub purchase_units: Vec<PurchaseUnitRequest>,
    pub payment_source: Option<PaymentSource>,
}

impl CreateOrderRequest {
    /// An order captured right after approval, paid from the buyer's PayPal wallet.
    pub fn capture(purchase_units: Vec<PurchaseUnitRequest>, paypal: ExperienceContext) -> Self {
        Self { intent: "CAPTURE".into(), purchase_units, payment_source: Some(PaymentSource::paypal(paypal)) }
    }

    /// An order whose money is held after approval ([`PaypalClient::authorize_order`]) and
    /// captured later.
    pub fn authorize(purchase_units: Vec<PurchaseUnitRequest>, paypal: ExperienceContext) -> Self {
        Self { intent: "AUTHORIZE".into(), purchase_units, payment_source: Some(PaymentSource::paypal(paypal)) }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseUnitRequest {
    pub reference_id: Option<String>,
    pub amount: Amount,
    /// Free for the merchant's use (up to 127 characters); comes back on captures and webhooks.
    pub custom_id: Option<String>,
    /// The merchant's invoice number; PayPal refuses a second order with the same one.
    pub invoice_id: Option<String>,
    pub description: Option<String>,
}

impl PurchaseUnitRequest {
    pub fn new(amount: Amount) -> Self {
        Self { reference_id: None, amount, custom_id: None, invoice_id: None, description: None }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSource {
    pub paypal: Option<PaypalWallet>,
}

impl PaymentSource {
    pub fn paypal(experience_context: ExperienceContext) -> Self {
        Self { paypal: Some(PaypalWallet { experience_context: Some(experience_context) }) }
    }
}

/// `payment_source.paypal`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaypalWallet {
    pub experience_context: Option<ExperienceContext>,
}

/// `payment_source.paypal.experience_context`: where PayPal sends the buyer back and how the
/// approval page looks.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperienceContext {
    pub return_url: String,
    pub cancel_url: String,
    pub brand_name: Option<String>,
    /// `PAY_NOW` shows "Pay Now" and suits an order captured right after approval; `CONTINUE`
    /// (PayPal's default) suits a flow with a review step.
    pub user_action: Option<String>,
    /// `GET_FROM_FILE`, `NO_SHIPPING` or `SET_PROVIDED_ADDRESS`.
    pub shipping_preference: Option<String>,
}

impl PaypalClient {
    /// `POST /v2/checkout/orders`. `request_id` is the idempotency key: repeating the call with
    /// the same id (after a timeout, say) answers the order created the first time.
    pub async fn create_order(&self, request_id: &str, order: &CreateOrderRequest) -> Result<Order, PaypalError> {
        self.api.post(&["v2", "checkout", "orders"], request_id, order).await
    }

    /// `GET /v2/checkout/orders/{id}`.
    pub async fn get_order(&self, order_id: &str) -> Result<Order, PaypalError> {
        self.api.get(&["v2", "checkout", "orders", order_id]).await
    }

    /// `POST /v2/checkout/orders/{id}/capture`, once the buyer approved. An order that was not
    /// approved fails with issue `ORDER_NOT_APPROVED`; a repeated capture with a new request id
    /// fails with `ORDER_ALREADY_CAPTURED`.
    pub async fn capture_order(&self, request_id: &str, order_id: &str) -> Result<Order, PaypalError> {
        // An empty JSON object rather than no body: PayPal wants a JSON content type here.
        let body = serde_json::Map::new();
        self.api.post(&["v2", "checkout", "orders", order_id, "capture"], request_id, &body).await
    }

    /// `POST /v2/checkout/orders/{id}/authorize`, once the buyer approved an order with intent
    /// `AUTHORIZE`: the answer's [`Order::authorizations`] hold the money. Refusals include
    /// `ORDER_NOT_APPROVED`, `ORDER_ALREADY_AUTHORIZED` and the funding failures
    /// `INSTRUMENT_DECLINED` / `PAYER_ACTION_REQUIRED` ([`PaypalError::buyer_redirect`]).
    pub async fn authorize_order(&self, request_id: &str, order_id: &str) -> Result<Order, PaypalError> {
        let body = serde_json::Map::new();
        self.api.post(&["v2", "checkout", "orders", order_id, "authorize"], request_id, &body).await
    }

    /// `PATCH /v2/checkout/orders/{id}` (a `CREATED` or `APPROVED` order), e.g.
    /// `PatchOperation::replace("/purchase_units/@reference_id=='default'/amount", …)`.
    pub async fn patch_order(&self, order_id: &str, operations: &[PatchOperation]) -> Result<(), PaypalError> {
        self.api.patch(&["v2", "checkout", "orders", order_id], operations).await
    }
}
