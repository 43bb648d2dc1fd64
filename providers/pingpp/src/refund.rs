//! Refunds of a charge. A refund to a bank card can stay `pending` for days; that is normal,
//! and the `refund.succeeded` webhook or a later `get_refund` tells the outcome.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::PingppClient;
use crate::error::PingppError;
use crate::types::{List, ListParams, Metadata, null_as_default, wire_enum};

wire_enum! {
    /// Where a refund stands.
    pub enum RefundStatus {
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
    }
}

wire_enum! {
    /// Which funds a WeChat refund is paid from.
    pub enum FundingSource {
        /// Funds not yet settled to the merchant.
        UnsettledFunds => "unsettled_funds",
        /// The merchant's available balance.
        RechargeFunds => "recharge_funds",
    }
}

/// A Ping++ refund (`re_…`). Amounts are integer fen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    /// Ping++'s own refund number.
    #[serde(default, deserialize_with = "null_as_default")]
    pub order_no: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub amount: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub succeed: bool,
    pub status: RefundStatus,
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: i64,
    #[serde(default)]
    pub time_succeed: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_msg: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    /// The id of the refunded charge.
    #[serde(default, deserialize_with = "null_as_default")]
    pub charge: String,
    /// The merchant's `order_no` of the refunded charge.
    #[serde(default)]
    pub charge_order_no: Option<String>,
    #[serde(default)]
    pub transaction_no: Option<String>,
    #[serde(default)]
    pub funding_source: Option<FundingSource>,
    #[serde(default)]
    pub extra: Value,
}

/// The body of `POST /v1/charges/{id}/refunds`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateRefund {
    /// Integer fen; the whole refundable rest when `None`.
    pub amount: Option<i64>,
    /// Required by Ping++.
    pub description: String,
    pub metadata: Option<Metadata>,
    /// WeChat channels only.
    pub funding_source: Option<FundingSource>,
}

impl CreateRefund {
    /// A refund of `amount` fen, or of everything still refundable when `None`.
    pub fn new(amount: Option<i64>, description: impl Into<String>) -> Self {
        Self { amount, description: description.into(), metadata: None, funding_source: None }
    }
}

impl PingppClient {
    /// `POST /v1/charges/{charge_id}/refunds`. Never repeated automatically: after a timeout,
    /// list the charge's refunds before asking again, or the buyer may be refunded twice.
    pub async fn create_refund(&self, charge_id: &str, req: &CreateRefund) -> Result<Refund, PingppError> {
        self.api.post(&["charges", charge_id, "refunds"], req).await
    }

    /// `GET /v1/charges/{charge_id}/refunds/{refund_id}`.
    pub async fn get_refund(&self, charge_id: &str, refund_id: &str) -> Result<Refund, PingppError> {
        self.api.get(&["charges", charge_id, "refunds", refund_id], &[]).await
    }

    /// `GET /v1/charges/{charge_id}/refunds`.
    pub async fn list_refunds(&self, charge_id: &str, params: &ListParams) -> Result<List<Refund>, PingppError> {
        self.api.get(&["charges", charge_id, "refunds"], &params.to_pairs()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refund_request_leaves_out_what_is_unset() {
        let full = CreateRefund::new(None, "退款");
        assert_eq!(serde_json::to_value(&full).expect("json"), json!({"description": "退款"}));
        let partial = CreateRefund {
            funding_source: Some(FundingSource::UnsettledFunds),
            ..CreateRefund::new(Some(30), "partial")
        };
        assert_eq!(
            serde_json::to_value(&partial).expect("json"),
            json!({"amount": 30, "description": "partial", "funding_source": "unsettled_funds"})
        );
    }

    #[test]
    fn unknown_refund_status_is_kept_verbatim() {
        let refund: Refund = serde_json::from_value(json!({"id": "re_1", "status": "processing"})).expect("refund");
        assert_eq!(refund.status, RefundStatus::Other("processing".into()));
        assert_eq!(refund.status.as_str(), "processing");
    }
}
