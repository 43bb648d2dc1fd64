//! The PayPal simulator's memory: apps and tokens, orders, captures, refunds, the catalog and
//! subscriptions, webhook subscriptions, the event log, sent transmissions, remembered idempotent
//! responses and the outcomes tests asked for. One `Mutex` guards it all; no lock is held across an `.await`.

use std::collections::HashMap;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::amount::Amount;
use super::errors::{ApiError, ErrorDetail};
use crate::faults::Faults;
use crate::wire::wire_enum;

wire_enum!(parsed Intent { Capture => "CAPTURE", Authorize => "AUTHORIZE" });

wire_enum!(OrderStatus {
    Created => "CREATED",
    PayerActionRequired => "PAYER_ACTION_REQUIRED",
    Approved => "APPROVED",
    Completed => "COMPLETED",
    Voided => "VOIDED",
});

wire_enum!(CaptureStatus {
    Completed => "COMPLETED",
    Pending => "PENDING",
    Declined => "DECLINED",
    PartiallyRefunded => "PARTIALLY_REFUNDED",
    Refunded => "REFUNDED",
});

wire_enum!(RefundStatus { Completed => "COMPLETED", Pending => "PENDING", Failed => "FAILED" });

wire_enum!(AuthorizationStatus {
    Created => "CREATED",
    PartiallyCaptured => "PARTIALLY_CAPTURED",
    Captured => "CAPTURED",
    Voided => "VOIDED",
    Expired => "EXPIRED",
});

wire_enum!(
    parsed
    /// What the next capture (or authorization) of an order turns into
    /// (`POST /sandbox/paypal/orders/{id}/capture-outcome`). The last two are funding failures:
    /// the call is refused with that issue and the buyer has to approve again.
    CaptureOutcome {
        Completed => "COMPLETED",
        Pending => "PENDING",
        Declined => "DECLINED",
        InstrumentDeclined => "INSTRUMENT_DECLINED",
        PayerActionRequired => "PAYER_ACTION_REQUIRED",
    }
);

wire_enum!(
    parsed
    /// What refunds made through the API turn into (`PUT /sandbox/paypal/refund-outcome`).
    RefundOutcome { Completed => "COMPLETED", Pending => "PENDING" }
);

pub struct Token {
    pub client_id: String,
    pub expires_at: DateTime<Utc>,
}

pub struct PurchaseUnit {
    pub reference_id: String,
    pub amount: Amount,
    /// The request's `amount` object with its normalized `value`, kept for its `breakdown`.
    pub amount_json: Value,
    pub description: Option<String>,
    pub custom_id: Option<String>,
    pub invoice_id: Option<String>,
    pub soft_descriptor: Option<String>,
    pub items: Option<Value>,
    pub shipping: Option<Value>,
    pub capture_ids: Vec<String>,
    pub authorization_ids: Vec<String>,
}

pub struct Order {
    pub id: String,
    pub client_id: String,
    pub intent: Intent,
    pub status: OrderStatus,
    pub purchase_units: Vec<PurchaseUnit>,
    /// The request named `payment_source.paypal`, so responses show `payment_source.paypal`.
    pub paypal_source_requested: bool,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub brand_name: Option<String>,
    pub approved: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: Option<DateTime<Utc>>,
    pub next_capture_outcome: Option<CaptureOutcome>,
}

pub struct Capture {
    pub id: String,
    pub order_id: String,
    pub client_id: String,
    pub amount: Amount,
    pub status: CaptureStatus,
    pub status_reason: Option<&'static str>,
    pub fee_minor: i64,
    pub invoice_id: Option<String>,
    pub custom_id: Option<String>,
    pub refunded_minor: i64,
    pub pending_refund_minor: i64,
    pub reversed: bool,
    /// The authorization this capture took money from (orders with intent `AUTHORIZE`).
    pub authorization_id: Option<String>,
    pub final_capture: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// Money held on the buyer's funding source by an order with intent `AUTHORIZE`, captured later.
pub struct Authorization {
    pub id: String,
    pub order_id: String,
    pub client_id: String,
    pub amount: Amount,
    pub captured_minor: i64,
    /// As last changed by a call; [`Authorization::status_at`] adds expiry.
    pub status: AuthorizationStatus,
    pub invoice_id: Option<String>,
    pub custom_id: Option<String>,
    pub capture_ids: Vec<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub expiration_time: DateTime<Utc>,
    /// Until then the funds are guaranteed and reauthorizing is refused.
    pub honor_period_end: DateTime<Utc>,
    /// Reauthorizing is allowed once per original authorization: set on the original once it
    /// was reauthorized, and on the reauthorization itself.
    pub reauthorization_used: bool,
}

impl Authorization {
    /// The status at `now`: an open authorization past its expiration time is `EXPIRED`.
    pub fn status_at(&self, now: DateTime<Utc>) -> AuthorizationStatus {
        match self.status {
            AuthorizationStatus::Created | AuthorizationStatus::PartiallyCaptured if now >= self.expiration_time => {
                AuthorizationStatus::Expired
            }
            status => status,
        }
    }

    pub fn is_open_at(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status_at(now), AuthorizationStatus::Created | AuthorizationStatus::PartiallyCaptured)
    }

    pub fn remaining_minor(&self) -> i64 {
        self.amount.minor - self.captured_minor
    }
}

impl Capture {
    /// What may still be refunded: the captured amount less completed and pending refunds.
    pub fn refundable_minor(&self) -> i64 {
        self.amount.minor - self.refunded_minor - self.pending_refund_minor
    }

    /// The part of the capture's fee given back with a refund of `minor`.
    pub fn fee_share(&self, minor: i64) -> i64 {
        super::payments::refunded_fee(self.fee_minor, self.amount.minor, minor)
    }

    /// Moves the status after a refund settles.
    pub fn settle_refund(&mut self, minor: i64, at: DateTime<Utc>) {
        self.refunded_minor += minor;
        self.status = if self.refunded_minor >= self.amount.minor {
            CaptureStatus::Refunded
        } else {
            CaptureStatus::PartiallyRefunded
        };
        self.update_time = at;
    }
}

pub struct Refund {
    pub id: String,
    pub capture_id: String,
    pub client_id: String,
    pub amount: Amount,
    pub status: RefundStatus,
    pub fee_refunded_minor: i64,
    /// Everything refunded from the capture once this refund settled (PayPal's
    /// `total_refunded_amount`).
    pub total_refunded_minor: i64,
    pub invoice_id: Option<String>,
    pub custom_id: Option<String>,
    pub note_to_payer: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub struct Webhook {
    pub id: String,
    pub client_id: String,
    pub url: String,
    pub event_types: Vec<String>,
}

impl Webhook {
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|wanted| wanted == "*" || wanted == event_type)
    }
}

pub struct EventRecord {
    pub id: String,
    pub client_id: String,
    pub event_type: String,
    pub create_time: DateTime<Utc>,
    /// The exact bytes every transmission of this event carries.
    pub body: Bytes,
    pub json: Value,
}

/// One signed POST, kept so `verify-webhook-signature` can answer for it.
pub struct Transmission {
    pub webhook_id: String,
    pub event_id: String,
    pub transmission_time: String,
    pub signature: String,
    pub body: Bytes,
}

pub struct RememberedResponse {
    pub status: u16,
    pub body: Value,
    pub expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct PaypalState {
    pub clients: HashMap<String, String>,
    pub tokens: HashMap<String, Token>,
    pub latest_token: HashMap<String, String>,
    pub orders: HashMap<String, Order>,
    pub captures: HashMap<String, Capture>,
    pub authorizations: HashMap<String, Authorization>,
    pub refunds: HashMap<String, Refund>,
    /// In creation order, as `GET /v1/notifications/webhooks` lists them.
    pub webhooks: Vec<Webhook>,
    pub events: Vec<EventRecord>,
    pub transmissions: HashMap<String, Transmission>,
    pub remembered: HashMap<(String, String, String), RememberedResponse>,
    pub refund_outcome: Option<RefundOutcome>,
    pub faults: Faults,
    /// Products, plans, subscriptions and their sales.
    pub subscriptions: super::subscriptions::SubscriptionBook,
    pub disputes: super::disputes::DisputeBook,
    /// v1 payments, reversals and IPN.
    pub legacy: super::legacy::LegacyBook,
}

impl PaypalState {
    pub fn order(&self, client_id: Option<&str>, id: &str) -> Result<&Order, ApiError> {
        self.orders
            .get(id)
            .filter(|order| client_id.is_none_or(|client| order.client_id == client))
            .ok_or_else(|| ApiError::not_found("order_id", id))
    }

    pub fn order_mut(&mut self, client_id: Option<&str>, id: &str) -> Result<&mut Order, ApiError> {
        self.orders
            .get_mut(id)
            .filter(|order| client_id.is_none_or(|client| order.client_id == client))
            .ok_or_else(|| ApiError::not_found("order_id", id))
    }

    pub fn capture(&self, client_id: Option<&str>, id: &str) -> Result<&Capture, ApiError> {
        self.captures
            .get(id)
            .filter(|capture| client_id.is_none_or(|client| capture.client_id == client))
            .ok_or_else(|| ApiError::not_found("capture_id", id).in_payments_api())
    }

    pub fn capture_mut(&mut self, client_id: Option<&str>, id: &str) -> Result<&mut Capture, ApiError> {
        self.captures
            .get_mut(id)
            .filter(|capture| client_id.is_none_or(|client| capture.client_id == client))
            .ok_or_else(|| ApiError::not_found("capture_id", id).in_payments_api())
    }

    pub fn authorization(&self, client_id: Option<&str>, id: &str) -> Result<&Authorization, ApiError> {
        self.authorizations
            .get(id)
            .filter(|authorization| client_id.is_none_or(|client| authorization.client_id == client))
            .ok_or_else(|| ApiError::not_found("authorization_id", id).in_payments_api())
    }

    pub fn authorization_mut(&mut self, client_id: Option<&str>, id: &str) -> Result<&mut Authorization, ApiError> {
        self.authorizations
            .get_mut(id)
            .filter(|authorization| client_id.is_none_or(|client| authorization.client_id == client))
            .ok_or_else(|| ApiError::not_found("authorization_id", id).in_payments_api())
    }

    /// The purchase unit of `order_id` that holds `authorization_id`, to list what follows from it.
    pub fn unit_holding_authorization(&mut self, order_id: &str, authorization_id: &str) -> Option<&mut PurchaseUnit> {
        let order = self.orders.get_mut(order_id)?;
        order.purchase_units.iter_mut().find(|unit| unit.authorization_ids.iter().any(|id| id == authorization_id))
    }

    pub fn refund(&self, client_id: Option<&str>, id: &str) -> Result<&Refund, ApiError> {
        self.refunds
            .get(id)
            .filter(|refund| client_id.is_none_or(|client| refund.client_id == client))
            .ok_or_else(|| ApiError::not_found("refund_id", id).in_payments_api())
    }

    pub fn webhook(&self, client_id: &str, id: &str) -> Result<&Webhook, ApiError> {
        self.webhooks
            .iter()
            .find(|webhook| webhook.id == id && webhook.client_id == client_id)
            .ok_or_else(ApiError::v1_not_found)
    }

    pub fn event(&self, client_id: &str, id: &str) -> Result<&EventRecord, ApiError> {
        self.events
            .iter()
            .find(|event| event.id == id && event.client_id == client_id)
            .ok_or_else(ApiError::v1_not_found)
    }
}

/// A control request about a resource in the wrong state, said plainly.
pub fn wrong_state(issue: &str, description: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::new(issue, description))
}
