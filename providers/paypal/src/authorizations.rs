//! v2 Payments authorizations: money held on the buyer's funding source by an order with intent
//! `AUTHORIZE`, captured later (in part or in full), reauthorized after its three-day honor
//! period, or voided. An authorization is valid for 29 days.

use serde::{Deserialize, Serialize};

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::payments::{Capture, SupplementaryData};
use crate::types::{Amount, Link, StatusDetails, link_href, wire_enum};

wire_enum! {
    /// `Authorization.status`.
    pub enum AuthorizationStatus {
        Created => "CREATED",
        Captured => "CAPTURED",
        Denied => "DENIED",
        PartiallyCaptured => "PARTIALLY_CAPTURED",
        Voided => "VOIDED",
        Pending => "PENDING",
        /// Past its `expiration_time` without being captured in full; nothing more can be taken.
        Expired => "EXPIRED",
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    pub id: String,
    pub status: AuthorizationStatus,
    pub status_details: Option<StatusDetails>,
    pub amount: Option<Amount>,
    pub invoice_id: Option<String>,
    pub custom_id: Option<String>,
    /// When the authorization can no longer be captured (RFC 3339).
    pub expiration_time: Option<String>,
    pub supplementary_data: Option<SupplementaryData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl Authorization {
    /// The order this authorization belongs to.
    pub fn order_id(&self) -> Option<&str> {
        self.supplementary_data.as_ref()?.related_ids.as_ref()?.order_id.as_deref()
    }

    /// Whether PayPal offers a capture of it now (its `capture` link).
    pub fn can_capture(&self) -> bool {
        link_href(&self.links, "capture").is_some()
    }
}

/// The body of `POST /v2/payments/authorizations/{id}/capture`. Without `amount`, PayPal captures
/// all that remains authorized.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureAuthorizationRequest {
    pub amount: Option<Amount>,
    pub invoice_id: Option<String>,
    /// `true` closes the authorization after this capture, releasing what is left; PayPal's
    /// default (`false`) leaves the rest capturable.
    pub final_capture: Option<bool>,
    pub note_to_payer: Option<String>,
    pub soft_descriptor: Option<String>,
}

/// The body of `POST /v2/payments/authorizations/{id}/reauthorize`: the original amount when
/// `amount` is absent.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReauthorizeRequest {
    pub amount: Option<Amount>,
}

impl PaypalClient {
    /// `GET /v2/payments/authorizations/{id}`.
    pub async fn get_authorization(&self, authorization_id: &str) -> Result<Authorization, PaypalError> {
        self.api.get(&["v2", "payments", "authorizations", authorization_id]).await
    }

    /// `POST /v2/payments/authorizations/{id}/capture`. `request_id` is the idempotency key: the
    /// same id never captures twice. Refusals include `AUTHORIZATION_EXPIRED`,
    /// `AUTHORIZATION_VOIDED`, `AUTHORIZATION_ALREADY_CAPTURED` and
    /// `MAX_CAPTURE_AMOUNT_EXCEEDED`.
    pub async fn capture_authorization(
        &self,
        request_id: &str,
        authorization_id: &str,
        capture: &CaptureAuthorizationRequest,
    ) -> Result<Capture, PaypalError> {
        self.api.post(&["v2", "payments", "authorizations", authorization_id, "capture"], request_id, capture).await
    }

    /// `POST /v2/payments/authorizations/{id}/reauthorize`, after the three-day honor period and
    /// once per authorization; answers the new authorization.
    pub async fn reauthorize_authorization(
        &self,
        request_id: &str,
        authorization_id: &str,
        request: &ReauthorizeRequest,
    ) -> Result<Authorization, PaypalError> {
        self.api.post(&["v2", "payments", "authorizations", authorization_id, "reauthorize"], request_id, request).await
    }

    /// `POST /v2/payments/authorizations/{id}/void`: releases what is left of the hold.
    /// PayPal answers `204 No Content`.
    pub async fn void_authorization(&self, request_id: &str, authorization_id: &str) -> Result<(), PaypalError> {
        let body = serde_json::Map::new();
        self.api
            .post_no_content(&["v2", "payments", "authorizations", authorization_id, "void"], request_id, &body)
            .await
    }
}
