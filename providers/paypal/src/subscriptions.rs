//! Subscriptions v1: create one for an active plan, send the buyer to approve it, then follow,
//! change, pause, resume, cancel and charge it.
//!
//! Renewals are not announced as subscription events: PayPal sends only `PAYMENT.SALE.COMPLETED`,
//! a v1 [`crate::Sale`] whose `billing_agreement_id` is the subscription id. And the
//! `next_billing_time` PayPal states can be hours earlier than the charge.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::payments::CaptureStatus;
use crate::plans::{PatchOperation, TenureType};
use crate::types::{Amount, Link, link_href, wire_enum};

wire_enum! {
    /// `Subscription.status`.
    pub enum SubscriptionStatus {
        /// Created; the buyer has not approved it yet.
        ApprovalPending => "APPROVAL_PENDING",
        /// Approved by the buyer, waiting for the merchant to activate it.
        Approved => "APPROVED",
        Active => "ACTIVE",
        Suspended => "SUSPENDED",
        Cancelled => "CANCELLED",
        Expired => "EXPIRED",
    }
}

/// How far one billing cycle got (`billing_info.cycle_executions[]`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleExecution {
    pub tenure_type: TenureType,
    pub sequence: u32,
    #[serde(default)]
    pub cycles_completed: u32,
    /// 0 for a cycle that runs until cancelled.
    pub cycles_remaining: Option<u32>,
    pub current_pricing_scheme_version: Option<u32>,
    pub total_cycles: Option<u32>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPayment {
    pub amount: Option<Amount>,
    pub time: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedPayment {
    pub amount: Option<Amount>,
    pub time: Option<String>,
    /// e.g. `PAYMENT_DENIED`, `PAYER_CANNOT_PAY`.
    pub reason_code: Option<String>,
    pub next_payment_retry_time: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingInfo {
    pub outstanding_balance: Option<Amount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cycle_executions: Vec<CycleExecution>,
    pub last_payment: Option<LastPayment>,
    /// What PayPal states; the charge may come hours later (seed 002).
    pub next_billing_time: Option<String>,
    pub final_payment_time: Option<String>,
    /// Consecutive failed payments.
    #[serde(default)]
    pub failed_payments_count: u32,
    pub last_failed_payment: Option<FailedPayment>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// `I-…`.
    pub id: String,
    pub status: SubscriptionStatus,
    pub plan_id: Option<String>,
    pub start_time: Option<String>,
    pub quantity: Option<String>,
    pub shipping_amount: Option<Amount>,
    /// The buyer: `name`, `email_address`, `payer_id`, `shipping_address`.
    pub subscriber: Option<Value>,
    /// Present once the buyer approved.
    pub billing_info: Option<BillingInfo>,
    pub custom_id: Option<String>,
    pub plan_overridden: Option<bool>,
    pub status_change_note: Option<String>,
    pub status_update_time: Option<String>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

impl Subscription {
    /// Where to send the buyer to approve the subscription (while `APPROVAL_PENDING`).
    pub fn approval_url(&self) -> Option<&str> {
        link_href(&self.links, "approve")
    }
}

/// `application_context` of a subscription request: where the buyer returns and what the
/// approval page says.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionApplicationContext {
    pub return_url: String,
    pub cancel_url: String,
    pub brand_name: Option<String>,
    pub locale: Option<String>,
    /// `GET_FROM_FILE`, `NO_SHIPPING` or `SET_PROVIDED_ADDRESS`.
    pub shipping_preference: Option<String>,
    /// `SUBSCRIBE_NOW` (PayPal activates on approval) or `CONTINUE` (you call
    /// [`PaypalClient::activate_subscription`]).
    pub user_action: Option<String>,
}

/// The body of `POST /v1/billing/subscriptions`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateSubscriptionRequest {
    pub plan_id: String,
    pub start_time: Option<String>,
    /// Only for plans with `quantity_supported`.
    pub quantity: Option<String>,
    pub shipping_amount: Option<Amount>,
    pub subscriber: Option<Value>,
    /// Yours (up to 127 characters); comes back on the subscription and its sales (`custom`).
    pub custom_id: Option<String>,
    pub application_context: Option<SubscriptionApplicationContext>,
    /// Overrides of the plan for this subscription (`billing_cycles`, `payment_preferences`, `taxes`).
    pub plan: Option<Value>,
}

/// The body of `POST /v1/billing/subscriptions/{id}/revise`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviseSubscriptionRequest {
    pub plan_id: Option<String>,
    pub quantity: Option<String>,
    pub shipping_amount: Option<Amount>,
    pub shipping_address: Option<Value>,
    pub application_context: Option<SubscriptionApplicationContext>,
    pub plan: Option<Value>,
}

/// The answer to a revision: what the subscription becomes once the buyer consents.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RevisedSubscription {
    pub plan_id: Option<String>,
    pub quantity: Option<String>,
    pub shipping_amount: Option<Amount>,
    pub plan_overridden: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

impl RevisedSubscription {
    /// Where the buyer consents to the change, when PayPal asks for consent.
    pub fn approval_url(&self) -> Option<&str> {
        link_href(&self.links, "approve")
    }
}

/// The body of `POST /v1/billing/subscriptions/{id}/capture`: charge (part of) the
/// outstanding balance now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureSubscriptionRequest {
    pub note: String,
    /// `OUTSTANDING_BALANCE`.
    pub capture_type: String,
    pub amount: Amount,
}

impl CaptureSubscriptionRequest {
    pub fn outstanding_balance(note: impl Into<String>, amount: Amount) -> Self {
        Self { note: note.into(), capture_type: "OUTSTANDING_BALANCE".to_owned(), amount }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountWithBreakdown {
    pub gross_amount: Option<Amount>,
    pub fee_amount: Option<Amount>,
    pub net_amount: Option<Amount>,
}

/// A payment of a subscription, as its transaction list and the capture call show it. `id` is
/// the sale's id.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    pub status: Option<CaptureStatus>,
    pub amount_with_breakdown: Option<AmountWithBreakdown>,
    pub payer_email: Option<String>,
    pub payer_name: Option<Value>,
    pub time: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransactionList {
    #[serde(default)]
    pub transactions: Vec<Transaction>,
    pub total_items: Option<u64>,
    pub total_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[derive(Serialize)]
struct Reason<'a> {
    reason: &'a str,
}

fn paypal_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl PaypalClient {
    /// `POST /v1/billing/subscriptions`: the subscription is `APPROVAL_PENDING`; send the buyer
    /// to [`Subscription::approval_url`].
    pub async fn create_subscription(
        &self,
        request_id: &str,
        subscription: &CreateSubscriptionRequest,
    ) -> Result<Subscription, PaypalError> {
        self.api.post(&["v1", "billing", "subscriptions"], request_id, subscription).await
    }

    /// `GET /v1/billing/subscriptions/{id}`.
    pub async fn get_subscription(&self, subscription_id: &str) -> Result<Subscription, PaypalError> {
        self.api.get(&["v1", "billing", "subscriptions", subscription_id]).await
    }

    /// `GET /v1/billing/subscriptions/{id}?fields=…`: with `fields` such as `last_failed_payment`
    /// and `plan`, PayPal adds those parts (`billing_info.last_failed_payment`, the whole `plan`)
    /// to the answer.
    pub async fn get_subscription_with_fields(
        &self,
        subscription_id: &str,
        fields: &[&str],
    ) -> Result<Subscription, PaypalError> {
        let path = ["v1", "billing", "subscriptions", subscription_id];
        self.api.get_with_query(&path, &[("fields", fields.join(","))]).await
    }

    /// `PATCH /v1/billing/subscriptions/{id}` (an `ACTIVE` or `SUSPENDED` subscription).
    pub async fn patch_subscription(
        &self,
        subscription_id: &str,
        operations: &[PatchOperation],
    ) -> Result<(), PaypalError> {
        self.api.patch(&["v1", "billing", "subscriptions", subscription_id], operations).await
    }

    /// `POST /v1/billing/subscriptions/{id}/revise`: a new plan or quantity, which takes effect
    /// once the buyer consents at [`RevisedSubscription::approval_url`].
    pub async fn revise_subscription(
        &self,
        request_id: &str,
        subscription_id: &str,
        revision: &ReviseSubscriptionRequest,
    ) -> Result<RevisedSubscription, PaypalError> {
        self.api.post(&["v1", "billing", "subscriptions", subscription_id, "revise"], request_id, revision).await
    }

    /// `POST /v1/billing/subscriptions/{id}/suspend` (from `ACTIVE`).
    pub async fn suspend_subscription(
        &self,
        request_id: &str,
        subscription_id: &str,
        reason: &str,
    ) -> Result<(), PaypalError> {
        self.change_status(request_id, subscription_id, "suspend", reason).await
    }

    /// `POST /v1/billing/subscriptions/{id}/cancel` (from `ACTIVE` or `SUSPENDED`).
    pub async fn cancel_subscription(
        &self,
        request_id: &str,
        subscription_id: &str,
        reason: &str,
    ) -> Result<(), PaypalError> {
        self.change_status(request_id, subscription_id, "cancel", reason).await
    }

    /// `POST /v1/billing/subscriptions/{id}/activate` (from `SUSPENDED`, or `APPROVED` when
    /// created with `user_action` `CONTINUE`).
    pub async fn activate_subscription(
        &self,
        request_id: &str,
        subscription_id: &str,
        reason: &str,
    ) -> Result<(), PaypalError> {
        self.change_status(request_id, subscription_id, "activate", reason).await
    }

    async fn change_status(
        &self,
        request_id: &str,
        subscription_id: &str,
        action: &str,
        reason: &str,
    ) -> Result<(), PaypalError> {
        self.api
            .post_no_content(
                &["v1", "billing", "subscriptions", subscription_id, action],
                request_id,
                &Reason { reason },
            )
            .await
    }

    /// `POST /v1/billing/subscriptions/{id}/capture`: charges the outstanding balance (or part).
    /// PayPal answers `202 Accepted` without a body (`None`: the charge shows in
    /// [`Self::subscription_transactions`]) or `200` with the transaction.
    pub async fn capture_subscription(
        &self,
        request_id: &str,
        subscription_id: &str,
        capture: &CaptureSubscriptionRequest,
    ) -> Result<Option<Transaction>, PaypalError> {
        self.api
            .post_maybe_empty(&["v1", "billing", "subscriptions", subscription_id, "capture"], request_id, capture)
            .await
    }

    /// `GET /v1/billing/subscriptions/{id}/transactions` between two times.
    pub async fn subscription_transactions(
        &self,
        subscription_id: &str,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
    ) -> Result<TransactionList, PaypalError> {
        self.api
            .get_with_query(
                &["v1", "billing", "subscriptions", subscription_id, "transactions"],
                &[("start_time", paypal_time(start_time)), ("end_time", paypal_time(end_time))],
            )
            .await
    }
}
