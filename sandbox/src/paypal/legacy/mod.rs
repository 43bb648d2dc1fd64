//! PayPal's legacy integration: REST v1 payments (`/v1/payments/payment`: create with intent
//! `sale`, the buyer's approval, execute) and Instant Payment Notification (IPN) with its
//! postback and PDT at `/cgi-bin/webscr`. The sales these payments make share the v1 sale and
//! refund endpoints with subscriptions' renewals.
//!
//! Choices where PayPal's documentation is silent or the sandbox must differ:
//! - Intents `sale` and `authorize` are simulated; `order` answers `VALIDATION_ERROR` on `intent`.
//!   Executing an `authorize` payment makes an authorization (readable at
//!   `/v1/payments/authorization/{id}`, announced by `PAYMENT.AUTHORIZATION.CREATED`) and no sale
//!   or IPN; capturing, voiding and reauthorizing it are not simulated, so its links name only
//!   itself and its payment. The payer's `payment_method` must be `paypal` (direct card payments
//!   are gone).
//! - The approval link is `/cgi-bin/webscr?cmd=_express-checkout&token=EC-…`, as PayPal's; the
//!   sandbox's buyer page there posts its decision back to `/cgi-bin/webscr`.
//! - IPN is sent for every v1 sale (payments' and subscriptions') once a notify URL is known: the
//!   payment's `notify_url`, else the account's (`PUT /sandbox/paypal/ipn`). Messages are
//!   form-encoded in the account's charset (PayPal's default, `windows-1252`, until changed) and
//!   resent after any answer other than 200 on [`ipn::RESEND_DELAYS`].
//! - The control endpoints are listed in [`control`].

mod authorizations;
pub mod control;
pub mod ipn;
mod payment_request;
mod payments;
mod render;
mod webscr;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::PaypalSimulator;
use super::amount::Amount;
use super::errors::ApiError;
use super::subscriptions::SaleState;

pub(crate) use self::ipn::{IpnBook, IpnNotice};
pub(crate) use self::payment_request::PaymentRequest;

/// Where PayPal's v1 payments reference points for every error.
pub const PAYMENTS_V1_DOC: &str = "https://developer.paypal.com/docs/api/payments/v1/";

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    payments::routes().merge(authorizations::routes())
}

/// The buyer page, the postback and PDT: PayPal's website, outside its REST API.
pub fn website_routes() -> Router<Arc<PaypalSimulator>> {
    webscr::routes()
}

crate::wire::wire_enum!(V1PaymentState { Created => "created", Approved => "approved", Failed => "failed" });
crate::wire::wire_enum!(V1Intent { Sale => "sale", Authorize => "authorize" });
crate::wire::wire_enum!(V1AuthorizationState { Authorized => "authorized" });
crate::wire::wire_enum!(
    parsed
    /// Why a sale is pending, spelled as IPN's `pending_reason` (the sale-outcome control takes
    /// these names too).
    PendingReason {
        PaymentReview => "paymentreview",
        Echeck => "echeck",
        MultiCurrency => "multi_currency",
        Unilateral => "unilateral",
        Verify => "verify",
        Address => "address",
        Intl => "intl",
        RegulatoryReview => "regulatory_review",
    }
);

impl PendingReason {
    /// The same reason as a v1 sale's `reason_code` writes it.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::PaymentReview => "PAYMENT_REVIEW",
            Self::Echeck => "ECHECK",
            Self::MultiCurrency => "RECEIVING_PREFERENCE_MANDATES_MANUAL_ACTION",
            Self::Unilateral => "UNILATERAL",
            Self::Verify => "VERIFICATION_REQUIRED",
            Self::Address => "UNCONFIRMED_SHIPPING_ADDRESS",
            Self::Intl => "INTERNATIONAL_WITHDRAWAL",
            Self::RegulatoryReview => "REGULATORY_REVIEW",
        }
    }
}

/// One line of a transaction's `item_list`.
pub struct Item {
    pub name: String,
    pub sku: Option<String>,
    pub quantity: u32,
    pub price: Amount,
}

pub struct V1Payment {
    pub id: String,
    pub client_id: String,
    /// The `EC-…` token of the approval link and return URL.
    pub token: String,
    pub state: V1PaymentState,
    /// What the merchant asked for: intent, amount, cart, redirect and notify URLs.
    pub details: PaymentRequest,
    /// Set once the buyer approved at PayPal.
    pub payer_id: Option<String>,
    pub sale_id: Option<String>,
    /// The authorization execute made, for intent `authorize`.
    pub authorization_id: Option<String>,
    /// What the sale made by execute becomes (`POST /sandbox/paypal/payments/{id}/sale-outcome`).
    pub sale_outcome: SaleState,
    /// Why that sale is pending, when it is.
    pub pending_reason: PendingReason,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

#[derive(Default)]
pub struct LegacyBook {
    pub payments: HashMap<String, V1Payment>,
    /// Payment ids in creation order, as the list call pages them.
    pub payment_order: Vec<String>,
    /// `EC-…` approval tokens to their payment.
    pub tokens: HashMap<String, String>,
    pub authorizations: HashMap<String, V1Authorization>,
    pub ipn: IpnBook,
    /// Sales a buyer's claim reversed, by sale id.
    pub reversals: HashMap<String, Reversal>,
}

/// Money an executed `authorize` payment holds on the buyer's account.
pub struct V1Authorization {
    pub id: String,
    pub client_id: String,
    pub payment_id: String,
    /// The transaction's amount as the payment wrote it (`{total, currency, details}`).
    pub amount_json: Value,
    pub state: V1AuthorizationState,
    pub valid_until: DateTime<Utc>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// Money PayPal took back from a sale while a buyer's claim is open.
pub struct Reversal {
    pub txn_id: String,
    pub minor: i64,
    pub fee_minor: i64,
    pub reason_code: String,
    pub canceled: bool,
}

impl LegacyBook {
    pub fn payment(&self, client_id: Option<&str>, id: &str) -> Result<&V1Payment, ApiError> {
        self.payments
            .get(id)
            .filter(|payment| client_id.is_none_or(|client| payment.client_id == client))
            .ok_or_else(no_such_resource)
    }

    pub fn payment_mut(&mut self, client_id: Option<&str>, id: &str) -> Result<&mut V1Payment, ApiError> {
        self.payments
            .get_mut(id)
            .filter(|payment| client_id.is_none_or(|client| payment.client_id == client))
            .ok_or_else(no_such_resource)
    }
}

/// A v1 error body (`name`, `message`, `information_link`, `debug_id`).
pub(crate) fn v1_error(status: StatusCode, name: &str, message: &str) -> ApiError {
    ApiError::v1(status, name, message).documented_at(PAYMENTS_V1_DOC)
}

/// A payment executed (or approved into a sale) already.
pub(crate) fn already_done() -> ApiError {
    v1_error(StatusCode::BAD_REQUEST, "PAYMENT_ALREADY_DONE", "Payment has been done already for this cart.")
}

/// A sale in a state that does not allow what was asked.
pub(crate) fn refused(message: &str) -> ApiError {
    v1_error(StatusCode::BAD_REQUEST, "TRANSACTION_REFUSED", message)
}

pub(crate) fn no_such_resource() -> ApiError {
    v1_error(StatusCode::NOT_FOUND, "INVALID_RESOURCE_ID", "Requested resource ID was not found.")
}

pub(crate) fn validation(field: &str, issue: &str) -> ApiError {
    ApiError::v1_validation(field, issue).documented_at(PAYMENTS_V1_DOC)
}
