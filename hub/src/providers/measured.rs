//! Every provider call timed and its failures counted, by operation: a provider wrapped once,
//! when it is configured, so no caller has to remember.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use payhub_core::dispute::{Dispute, DisputeFacts};
use payhub_core::options::PaymentOptions;
use payhub_core::payment::{CaptureMethod, Payment};
use payhub_core::refund::{Refund, RefundFacts};
use payhub_core::subscription::{Plan, Subscription};
use payhub_core::{Money, ProviderName};

use super::{
    BuyerUrls, Capability, Checkout, Confirmation, Diagnosis, DisputeResponse, ForeignSubscription, Interpretation,
    NotificationRejected, PaymentProvider, PaymentSnapshot, ProviderError, ProviderPlan, SubscriptionCommand,
    SubscriptionSnapshot, VerifiedNotification,
};
use crate::metrics::provider_call;

/// The operations measured, as their `operation` label reads.
pub const OPERATIONS: &[&str] = &[
    "create_payment",
    "fetch_payment",
    "capture_payment",
    "cancel_payment",
    "create_refund",
    "fetch_refund",
    "verify_notification",
    "authorize_payment",
    "capture_held_payment",
    "release_held_payment",
    "create_plan",
    "set_plan_active",
    "update_plan_prices",
    "create_subscription",
    "fetch_subscription",
    "command_subscription",
    "revise_subscription",
    "find_subscription",
    "fetch_dispute",
    "disputes_updated_since",
    "dispute_for_transaction",
    "respond_to_dispute",
];

/// A provider whose calls are measured.
pub struct Measured(pub Arc<dyn PaymentProvider>);

impl Measured {
    /// Wraps `provider`, with a zero series for each of its operations.
    pub fn wrap(provider: Arc<dyn PaymentProvider>) -> Arc<dyn PaymentProvider> {
        // Providers are configured before the router exists: a series registered before the
        // recorder would be lost.
        crate::http::ops::metrics_handle();
        for operation in OPERATIONS {
            crate::metrics::register_provider_call(provider.name(), operation);
        }
        Arc::new(Measured(provider))
    }
}

#[async_trait]
impl PaymentProvider for Measured {
    fn name(&self) -> ProviderName {
        self.0.name()
    }
    fn capabilities(&self) -> &'static [Capability] {
        self.0.capabilities()
    }
    fn offers(&self, capability: Capability) -> bool {
        self.0.offers(capability)
    }
    fn channels(&self) -> &'static [&'static str] {
        self.0.channels()
    }
    fn currencies(&self) -> &'static [&'static str] {
        self.0.currencies()
    }
    fn check_amount(&self, amount: &Money) -> Result<(), String> {
        self.0.check_amount(amount)
    }
    fn check_options(&self, channel: &str, options: &PaymentOptions) -> Result<(), (String, String)> {
        self.0.check_options(channel, options)
    }
    fn check_capture_method(&self, options: &PaymentOptions, method: CaptureMethod) -> Result<(), (String, String)> {
        self.0.check_capture_method(options, method)
    }
    fn interpret(&self, event_type: &str, body: &[u8]) -> Result<Interpretation, NotificationRejected> {
        self.0.interpret(event_type, body)
    }
    async fn confirm_notification(&self, event_type: &str, body: &[u8]) -> Confirmation {
        self.0.confirm_notification(event_type, body).await
    }
    async fn confirm_return(&self, payment: &Payment, tx: &str) -> Option<PaymentSnapshot> {
        self.0.confirm_return(payment, tx).await
    }
    async fn diagnose(&self, hub_url: &str) -> Vec<Diagnosis> {
        self.0.diagnose(hub_url).await
    }

    async fn create_payment(&self, payment: &Payment, urls: &BuyerUrls) -> Result<Checkout, ProviderError> {
        provider_call(self.0.name(), "create_payment", self.0.create_payment(payment, urls)).await
    }
    async fn fetch_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        provider_call(self.0.name(), "fetch_payment", self.0.fetch_payment(payment)).await
    }
    async fn capture_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        provider_call(self.0.name(), "capture_payment", self.0.capture_payment(payment)).await
    }
    async fn cancel_payment(&self, payment: &Payment) -> Result<(), ProviderError> {
        provider_call(self.0.name(), "cancel_payment", self.0.cancel_payment(payment)).await
    }
    async fn create_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError> {
        provider_call(self.0.name(), "create_refund", self.0.create_refund(payment, refund)).await
    }
    async fn fetch_refund(&self, payment: &Payment, refund: &Refund) -> Result<RefundFacts, ProviderError> {
        provider_call(self.0.name(), "fetch_refund", self.0.fetch_refund(payment, refund)).await
    }
    async fn verify_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedNotification, NotificationRejected> {
        provider_call(self.0.name(), "verify_notification", self.0.verify_notification(headers, body, now)).await
    }
    async fn authorize_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        provider_call(self.0.name(), "authorize_payment", self.0.authorize_payment(payment)).await
    }
    async fn capture_held_payment(&self, payment: &Payment, amount: &Money) -> Result<PaymentSnapshot, ProviderError> {
        provider_call(self.0.name(), "capture_held_payment", self.0.capture_held_payment(payment, amount)).await
    }
    async fn release_held_payment(&self, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
        provider_call(self.0.name(), "release_held_payment", self.0.release_held_payment(payment)).await
    }
    async fn create_plan(&self, plan: &Plan) -> Result<ProviderPlan, ProviderError> {
        provider_call(self.0.name(), "create_plan", self.0.create_plan(plan)).await
    }
    async fn set_plan_active(&self, plan: &Plan, active: bool) -> Result<(), ProviderError> {
        provider_call(self.0.name(), "set_plan_active", self.0.set_plan_active(plan, active)).await
    }
    async fn update_plan_prices(&self, plan: &Plan) -> Result<(), ProviderError> {
        provider_call(self.0.name(), "update_plan_prices", self.0.update_plan_prices(plan)).await
    }
    async fn create_subscription(
        &self,
        subscription: &Subscription,
        plan: &Plan,
        urls: &BuyerUrls,
    ) -> Result<Checkout, ProviderError> {
        provider_call(self.0.name(), "create_subscription", self.0.create_subscription(subscription, plan, urls)).await
    }
    async fn fetch_subscription(
        &self,
        subscription: &Subscription,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionSnapshot, ProviderError> {
        provider_call(self.0.name(), "fetch_subscription", self.0.fetch_subscription(subscription, plan, now)).await
    }
    async fn command_subscription(
        &self,
        subscription: &Subscription,
        command: SubscriptionCommand,
    ) -> Result<(), ProviderError> {
        provider_call(self.0.name(), "command_subscription", self.0.command_subscription(subscription, command)).await
    }
    async fn revise_subscription(
        &self,
        subscription: &Subscription,
        plan: &Plan,
        quantity: u32,
    ) -> Result<Option<String>, ProviderError> {
        let call = self.0.revise_subscription(subscription, plan, quantity);
        provider_call(self.0.name(), "revise_subscription", call).await
    }
    async fn find_subscription(&self, provider_subscription_id: &str) -> Result<ForeignSubscription, ProviderError> {
        provider_call(self.0.name(), "find_subscription", self.0.find_subscription(provider_subscription_id)).await
    }
    async fn fetch_dispute(&self, provider_dispute_id: &str) -> Result<DisputeFacts, ProviderError> {
        provider_call(self.0.name(), "fetch_dispute", self.0.fetch_dispute(provider_dispute_id)).await
    }
    async fn disputes_updated_since(&self, since: DateTime<Utc>) -> Result<Vec<String>, ProviderError> {
        provider_call(self.0.name(), "disputes_updated_since", self.0.disputes_updated_since(since)).await
    }
    async fn dispute_for_transaction(&self, transaction_id: &str) -> Result<Option<String>, ProviderError> {
        provider_call(self.0.name(), "dispute_for_transaction", self.0.dispute_for_transaction(transaction_id)).await
    }
    async fn respond_to_dispute(
        &self,
        dispute: &Dispute,
        response: &DisputeResponse,
        request_id: &str,
    ) -> Result<(), ProviderError> {
        let call = self.0.respond_to_dispute(dispute, response, request_id);
        provider_call(self.0.name(), "respond_to_dispute", call).await
    }
}
