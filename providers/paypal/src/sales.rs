//! Payments v1 sales: the payments subscriptions make (initial payment and every renewal), and
//! their refunds. v1 writes money as `{total, currency}` ([`SaleAmount`]) and fees as
//! `{value, currency}` ([`SaleFee`]); states are lower case.

use serde::{Deserialize, Serialize};

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::types::{Link, wire_enum};

wire_enum! {
    /// `Sale.state`.
    pub enum SaleState {
        Completed => "completed",
        PartiallyRefunded => "partially_refunded",
        Pending => "pending",
        Refunded => "refunded",
        Denied => "denied",
    }
}

wire_enum! {
    /// `state` of a sale refund.
    pub enum SaleRefundState {
        Pending => "pending",
        Completed => "completed",
        Cancelled => "cancelled",
        Failed => "failed",
    }
}

/// v1 money: a decimal string `total` and a `currency` code.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleAmount {
    pub total: String,
    pub currency: String,
    pub details: Option<SaleAmountDetails>,
}

impl SaleAmount {
    pub fn new(currency: impl Into<String>, total: impl Into<String>) -> Self {
        Self { total: total.into(), currency: currency.into(), details: None }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleAmountDetails {
    pub subtotal: Option<String>,
    pub tax: Option<String>,
    pub shipping: Option<String>,
}

/// v1 fee and breakdown amounts: `{value, currency}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleFee {
    pub value: String,
    pub currency: String,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sale {
    pub id: String,
    pub state: SaleState,
    pub amount: SaleAmount,
    /// The subscription (`I-…`) this sale paid for.
    pub billing_agreement_id: Option<String>,
    /// The subscription's `custom_id`.
    pub custom: Option<String>,
    pub invoice_number: Option<String>,
    pub transaction_fee: Option<SaleFee>,
    pub payment_mode: Option<String>,
    pub reason_code: Option<String>,
    pub protection_eligibility: Option<String>,
    pub parent_payment: Option<String>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaleRefund {
    pub id: String,
    pub state: SaleRefundState,
    pub amount: SaleAmount,
    pub sale_id: Option<String>,
    pub refund_from_transaction_fee: Option<SaleFee>,
    pub refund_from_received_amount: Option<SaleFee>,
    /// Everything refunded from the sale so far, this refund included.
    pub total_refunded_amount: Option<SaleFee>,
    pub invoice_number: Option<String>,
    pub description: Option<String>,
    pub reason: Option<String>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The body of `POST /v1/payments/sale/{id}/refund`; without `amount`, what is left of the sale
/// is refunded.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRefundRequest {
    pub amount: Option<SaleAmount>,
    pub invoice_number: Option<String>,
    pub description: Option<String>,
    pub reason: Option<String>,
}

impl PaypalClient {
    /// `GET /v1/payments/sale/{id}`.
    pub async fn get_sale(&self, sale_id: &str) -> Result<Sale, PaypalError> {
        self.api.get(&["v1", "payments", "sale", sale_id]).await
    }

    /// `POST /v1/payments/sale/{id}/refund`. `request_id` is the idempotency key.
    pub async fn refund_sale(
        &self,
        request_id: &str,
        sale_id: &str,
        refund: &SaleRefundRequest,
    ) -> Result<SaleRefund, PaypalError> {
        self.api.post(&["v1", "payments", "sale", sale_id, "refund"], request_id, refund).await
    }
}
