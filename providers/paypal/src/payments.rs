//! v2 Payments: captures and their refunds.

use serde::{Deserialize, Serialize};

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::types::{Amount, Link, StatusDetails, link_href, wire_enum};

wire_enum! {
    /// `Capture.status`.
    pub enum CaptureStatus {
        Completed => "COMPLETED",
        Declined => "DECLINED",
        PartiallyRefunded => "PARTIALLY_REFUNDED",
        /// Money not yet available; `status_details.reason` says why (e.g. `PENDING_REVIEW`).
        Pending => "PENDING",
        Refunded => "REFUNDED",
        Failed => "FAILED",
    }
}

wire_enum! {
    /// `Refund.status`.
    pub enum RefundStatus {
        Cancelled => "CANCELLED",
        Failed => "FAILED",
        /// `status_details.reason` is `ECHECK` when the refund waits for an eCheck to clear.
        Pending => "PENDING",
        Completed => "COMPLETED",
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    pub id: String,
    pub status: CaptureStatus,
    pub amount: Option<Amount>,
    pub final_capture: Option<bool>,
    pub status_details: Option<StatusDetails>,
    pub custom_id: Option<String>,
    pub invoice_id: Option<String>,
    pub supplementary_data: Option<SupplementaryData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl Capture {
    /// The order this capture belongs to. Captures fetched on their own and those in
    /// `PAYMENT.CAPTURE.*` webhooks carry it here; a capture inside an order does not need it.
    pub fn order_id(&self) -> Option<&str> {
        self.supplementary_data.as_ref()?.related_ids.as_ref()?.order_id.as_deref()
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementaryData {
    pub related_ids: Option<RelatedIds>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedIds {
    pub order_id: Option<String>,
    pub authorization_id: Option<String>,
    pub capture_id: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub status: RefundStatus,
    pub amount: Option<Amount>,
    pub status_details: Option<StatusDetails>,
    pub invoice_id: Option<String>,
    pub custom_id: Option<String>,
    pub note_to_payer: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl Refund {
    /// The refunded capture. A refund names it only through its `up` link
    /// (`…/v2/payments/captures/{id}`).
    pub fn capture_id(&self) -> Option<&str> {
        let href = link_href(&self.links, "up")?;
        let path = href.split(['?', '#']).next().unwrap_or(href);
        let mut segments = path.split('/');
        segments.find(|segment| *segment == "captures")?;
        segments.next().filter(|id| !id.is_empty())
    }
}

/// The body of `POST /v2/payments/captures/{id}/refund`. Without `amount`, PayPal refunds what
/// is left of the capture.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub amount: Option<Amount>,
    pub invoice_id: Option<String>,
    pub custom_id: Option<String>,
    pub note_to_payer: Option<String>,
}

impl PaypalClient {
    /// `GET /v2/payments/captures/{id}`.
    pub async fn get_capture(&self, capture_id: &str) -> Result<Capture, PaypalError> {
        self.api.get(&["v2", "payments", "captures", capture_id]).await
    }

    /// `POST /v2/payments/captures/{id}/refund`. `request_id` is the idempotency key: the same
    /// id never refunds twice. Refunding more than remains fails with an issue such as
    /// `REFUND_AMOUNT_EXCEEDED` or `CAPTURE_FULLY_REFUNDED`.
    pub async fn refund_capture(
        &self,
        request_id: &str,
        capture_id: &str,
        refund: &RefundRequest,
    ) -> Result<Refund, PaypalError> {
        self.api.post(&["v2", "payments", "captures", capture_id, "refund"], request_id, refund).await
    }

    /// `GET /v2/payments/refunds/{id}`.
    pub async fn get_refund(&self, refund_id: &str) -> Result<Refund, PaypalError> {
        self.api.get(&["v2", "payments", "refunds", refund_id]).await
    }
}
