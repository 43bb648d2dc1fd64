//! REST v1 payments (`/v1/payments/payment`): create with intent `sale`, send the buyer to the
//! approval URL, execute with the payer id PayPal put on the return URL; the sale it makes is a
//! [`Sale`], refunded with [`PaypalClient::refund_sale`].

use serde::{Deserialize, Serialize};

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::sales::{Sale, SaleAmount, SaleRefund};
use crate::types::{Link, link_href, wire_enum};

wire_enum! {
    /// `Payment.state` (v1).
    pub enum V1PaymentState {
        Created => "created",
        Approved => "approved",
        Failed => "failed",
        PartiallyCompleted => "partially_completed",
        InProgress => "in_progress",
    }
}

/// The body of `POST /v1/payments/payment`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateV1PaymentRequest {
    pub intent: String,
    pub payer: V1PayerRequest,
    pub transactions: Vec<V1TransactionRequest>,
    pub redirect_urls: RedirectUrls,
    pub note_to_payer: Option<String>,
}

impl CreateV1PaymentRequest {
    /// An immediate payment (intent `sale`) by a PayPal buyer.
    pub fn sale(transaction: V1TransactionRequest, redirect_urls: RedirectUrls) -> Self {
        Self {
            intent: "sale".into(),
            payer: V1PayerRequest { payment_method: "paypal".into() },
            transactions: vec![transaction],
            redirect_urls,
            note_to_payer: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1PayerRequest {
    pub payment_method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUrls {
    pub return_url: String,
    pub cancel_url: String,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1TransactionRequest {
    pub amount: SaleAmount,
    pub description: Option<String>,
    /// Echoed in the sale and in IPN `custom`.
    pub custom: Option<String>,
    /// Echoed in IPN `invoice`; PayPal refuses a number it has seen paid.
    pub invoice_number: Option<String>,
    /// Where PayPal sends this payment's IPN (instead of the account's URL).
    pub notify_url: Option<String>,
    pub item_list: Option<ItemList>,
}

impl V1TransactionRequest {
    pub fn new(amount: SaleAmount) -> Self {
        Self { amount, description: None, custom: None, invoice_number: None, notify_url: None, item_list: None }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemList {
    #[serde(default)]
    pub items: Vec<V1Item>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Item {
    pub name: String,
    /// PayPal writes quantities as strings in requests and numbers in answers.
    #[serde(with = "quantity")]
    pub quantity: String,
    pub price: String,
    pub currency: String,
    pub sku: Option<String>,
}

mod quantity {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(quantity: &str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(quantity)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => Ok(text),
            other => Ok(other.to_string()),
        }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct V1Payment {
    pub id: String,
    pub intent: Option<String>,
    pub state: V1PaymentState,
    pub payer: Option<V1Payer>,
    #[serde(default)]
    pub transactions: Vec<V1Transaction>,
    pub failure_reason: Option<String>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

impl V1Payment {
    /// Where to send the buyer (`approval_url`).
    pub fn approval_url(&self) -> Option<&str> {
        link_href(&self.links, "approval_url")
    }

    /// The sales the payment made (after execute).
    pub fn sales(&self) -> impl Iterator<Item = &Sale> {
        self.transactions
            .iter()
            .flat_map(|transaction| transaction.related_resources.iter())
            .filter_map(|r| r.sale.as_ref())
    }

    /// The buyer who approved, once one did.
    pub fn payer_id(&self) -> Option<&str> {
        self.payer.as_ref()?.payer_info.as_ref()?.payer_id.as_deref()
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct V1Payer {
    pub payment_method: Option<String>,
    pub status: Option<String>,
    pub payer_info: Option<PayerInfo>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayerInfo {
    pub payer_id: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct V1Transaction {
    pub amount: SaleAmount,
    pub description: Option<String>,
    pub custom: Option<String>,
    pub invoice_number: Option<String>,
    pub notify_url: Option<String>,
    pub item_list: Option<ItemList>,
    #[serde(default)]
    pub related_resources: Vec<RelatedResource>,
}

/// One entry of `related_resources`; only sales are read.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelatedResource {
    pub sale: Option<Sale>,
}

/// A page of `GET /v1/payments/payment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct V1PaymentList {
    #[serde(default)]
    pub payments: Vec<V1Payment>,
    #[serde(default)]
    pub count: u32,
    pub next_id: Option<String>,
}

#[derive(Serialize)]
struct Execution<'a> {
    payer_id: &'a str,
}

impl PaypalClient {
    /// `POST /v1/payments/payment`. `request_id` is the idempotency key.
    pub async fn create_v1_payment(
        &self,
        request_id: &str,
        payment: &CreateV1PaymentRequest,
    ) -> Result<V1Payment, PaypalError> {
        self.api.post(&["v1", "payments", "payment"], request_id, payment).await
    }

    /// `GET /v1/payments/payment/{id}`: the truth about a payment, whatever a return URL said.
    pub async fn get_v1_payment(&self, payment_id: &str) -> Result<V1Payment, PaypalError> {
        self.api.get(&["v1", "payments", "payment", payment_id]).await
    }

    /// `GET /v1/payments/payment`, newest first; `start_id` is the previous page's `next_id`.
    pub async fn list_v1_payments(&self, count: u32, start_id: Option<&str>) -> Result<V1PaymentList, PaypalError> {
        let mut query = vec![("count", count.to_string())];
        if let Some(start_id) = start_id {
            query.push(("start_id", start_id.to_owned()));
        }
        self.api.get_with_query(&["v1", "payments", "payment"], &query).await
    }

    /// `POST /v1/payments/payment/{id}/execute` with the approving buyer's `payer_id`.
    pub async fn execute_v1_payment(
        &self,
        request_id: &str,
        payment_id: &str,
        payer_id: &str,
    ) -> Result<V1Payment, PaypalError> {
        self.api.post(&["v1", "payments", "payment", payment_id, "execute"], request_id, &Execution { payer_id }).await
    }

    /// `GET /v1/payments/refund/{id}`.
    pub async fn get_sale_refund(&self, refund_id: &str) -> Result<SaleRefund, PaypalError> {
        self.api.get(&["v1", "payments", "refund", refund_id]).await
    }
}
