//! Rebuilding resources from stored rows.
//!
//! The store hands back exactly what it wrote, so it needs to set every field, the ones the
//! state machines own included. It does so through a plain record and `restore`, which only
//! reassembles a resource: it moves no status and records nothing. It is not a way to change a
//! resource — read a resource, call its methods, and write what they return. Nothing but the
//! store (and tests that stand in for it) should build a record.

use chrono::{DateTime, Utc};

use crate::dispute::{
    Dispute, DisputeAction, DisputeEvidence, DisputeMessage, DisputeOffer, DisputeOutcome, DisputeReason, DisputeStage,
    DisputeStatus,
};
use crate::entitlement::{Entitlement, EntitlementStatus};
use crate::id::{DisputeId, EntitlementId, PaymentId, PlanId, RefundId, SubscriptionId};
use crate::mode::{Mode, ProviderName};
use crate::money::Currency;
use crate::options::{PaymentOptions, RefundOptions};
use crate::payment::{Anomaly, Failure, NextAction, Payment, PaymentOrigin, PaymentStatus, ProviderRefs};
use crate::refund::{Refund, RefundStatus};
use crate::subscription::{Subscription, SubscriptionStatus};

type Metadata = serde_json::Map<String, serde_json::Value>;

/// A stored payment row, field for field.
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub id: PaymentId,
    pub mode: Mode,
    pub provider: ProviderName,
    pub channel: String,
    pub status: PaymentStatus,
    pub amount: i64,
    pub currency: Currency,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub amount_refund_pending: i64,
    pub capture_method: crate::payment::CaptureMethod,
    pub amount_capturable: i64,
    pub authorization_expires_at: Option<DateTime<Utc>>,
    pub merchant_reference: Option<String>,
    pub description: Option<String>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<SubscriptionId>,
    pub origin: PaymentOrigin,
    pub metadata: Metadata,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub provider_options: PaymentOptions,
    pub next_action: Option<NextAction>,
    pub provider_refs: ProviderRefs,
    pub failure: Option<Failure>,
    pub pending_reason: Option<String>,
    pub anomaly: Option<Anomaly>,
    pub disputed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub next_check_at: Option<DateTime<Utc>>,
}

impl Payment {
    /// Reassembles a stored payment; see the [module](self) for why this is no backdoor.
    pub fn restore(r: PaymentRecord) -> Self {
        Payment {
            id: r.id,
            mode: r.mode,
            provider: r.provider,
            channel: r.channel,
            status: r.status,
            amount: r.amount,
            currency: r.currency,
            amount_captured: r.amount_captured,
            amount_refunded: r.amount_refunded,
            amount_refund_pending: r.amount_refund_pending,
            capture_method: r.capture_method,
            amount_capturable: r.amount_capturable,
            authorization_expires_at: r.authorization_expires_at,
            merchant_reference: r.merchant_reference,
            description: r.description,
            customer_id: r.customer_id,
            subscription_id: r.subscription_id,
            origin: r.origin,
            metadata: r.metadata,
            return_url: r.return_url,
            cancel_url: r.cancel_url,
            provider_options: r.provider_options,
            next_action: r.next_action,
            provider_refs: r.provider_refs,
            failure: r.failure,
            pending_reason: r.pending_reason,
            anomaly: r.anomaly,
            disputed: r.disputed,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            next_check_at: r.next_check_at,
        }
    }
}

/// A stored refund row, field for field.
#[derive(Debug, Clone)]
pub struct RefundRecord {
    pub id: RefundId,
    pub mode: Mode,
    pub payment_id: PaymentId,
    pub status: RefundStatus,
    pub amount: i64,
    pub currency: Currency,
    pub reason: Option<String>,
    pub metadata: Metadata,
    pub provider_options: RefundOptions,
    pub provider_refund_id: Option<String>,
    pub failure: Option<Failure>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub next_check_at: Option<DateTime<Utc>>,
}

impl Refund {
    /// Reassembles a stored refund; see the [module](self) for why this is no backdoor.
    pub fn restore(r: RefundRecord) -> Self {
        Refund {
            id: r.id,
            mode: r.mode,
            payment_id: r.payment_id,
            status: r.status,
            amount: r.amount,
            currency: r.currency,
            reason: r.reason,
            metadata: r.metadata,
            provider_options: r.provider_options,
            provider_refund_id: r.provider_refund_id,
            failure: r.failure,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            next_check_at: r.next_check_at,
        }
    }
}

/// A stored subscription row, field for field.
#[derive(Debug, Clone)]
pub struct SubscriptionRecord {
    pub id: SubscriptionId,
    pub mode: Mode,
    pub provider: ProviderName,
    pub plan_id: PlanId,
    pub customer_id: String,
    pub quantity: u32,
    pub status: SubscriptionStatus,
    pub current_period_end: Option<DateTime<Utc>>,
    pub trial_end: Option<DateTime<Utc>>,
    pub failed_payments: u32,
    pub payments_count: u32,
    pub canceled_at: Option<DateTime<Utc>>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub next_action: Option<NextAction>,
    pub provider_subscription_id: Option<String>,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub next_check_at: Option<DateTime<Utc>>,
    pub synced_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Reassembles a stored subscription; see the [module](self) for why this is no backdoor.
    pub fn restore(r: SubscriptionRecord) -> Self {
        Subscription {
            id: r.id,
            mode: r.mode,
            provider: r.provider,
            plan_id: r.plan_id,
            customer_id: r.customer_id,
            quantity: r.quantity,
            status: r.status,
            current_period_end: r.current_period_end,
            trial_end: r.trial_end,
            failed_payments: r.failed_payments,
            payments_count: r.payments_count,
            canceled_at: r.canceled_at,
            return_url: r.return_url,
            cancel_url: r.cancel_url,
            next_action: r.next_action,
            provider_subscription_id: r.provider_subscription_id,
            metadata: r.metadata,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            next_check_at: r.next_check_at,
            synced_at: r.synced_at,
        }
    }
}

/// A stored entitlement row, field for field.
#[derive(Debug, Clone)]
pub struct EntitlementRecord {
    pub id: EntitlementId,
    pub mode: Mode,
    pub customer_id: String,
    pub entitlement: String,
    pub subscription_id: SubscriptionId,
    pub status: EntitlementStatus,
    pub valid_until: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Entitlement {
    /// Reassembles a stored entitlement; see the [module](self) for why this is no backdoor.
    pub fn restore(r: EntitlementRecord) -> Self {
        Entitlement {
            id: r.id,
            mode: r.mode,
            customer_id: r.customer_id,
            entitlement: r.entitlement,
            subscription_id: r.subscription_id,
            status: r.status,
            valid_until: r.valid_until,
            revoked_at: r.revoked_at,
            revoke_reason: r.revoke_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

/// A stored dispute row, field for field.
#[derive(Debug, Clone)]
pub struct DisputeRecord {
    pub id: DisputeId,
    pub mode: Mode,
    pub provider: ProviderName,
    pub payment_id: PaymentId,
    pub provider_dispute_id: String,
    pub status: DisputeStatus,
    pub stage: DisputeStage,
    pub reason: DisputeReason,
    pub amount: i64,
    pub currency: Currency,
    pub response_due_at: Option<DateTime<Utc>>,
    pub buyer_message: Option<String>,
    pub messages: Vec<DisputeMessage>,
    pub offers: Vec<DisputeOffer>,
    pub evidence: Vec<DisputeEvidence>,
    pub outcome: Option<DisputeOutcome>,
    pub allowed_actions: Vec<DisputeAction>,
    pub reminded_for: Option<DateTime<Utc>>,
    pub provider_updated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub next_check_at: Option<DateTime<Utc>>,
}

impl Dispute {
    /// Reassembles a stored dispute; see the [module](self) for why this is no backdoor.
    pub fn restore(r: DisputeRecord) -> Self {
        Dispute {
            id: r.id,
            mode: r.mode,
            provider: r.provider,
            payment_id: r.payment_id,
            provider_dispute_id: r.provider_dispute_id,
            status: r.status,
            stage: r.stage,
            reason: r.reason,
            amount: r.amount,
            currency: r.currency,
            response_due_at: r.response_due_at,
            buyer_message: r.buyer_message,
            messages: r.messages,
            offers: r.offers,
            evidence: r.evidence,
            outcome: r.outcome,
            allowed_actions: r.allowed_actions,
            reminded_for: r.reminded_for,
            provider_updated_at: r.provider_updated_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            next_check_at: r.next_check_at,
        }
    }

    pub fn buyer_message(&self) -> Option<&str> {
        self.buyer_message.as_deref()
    }
}

/// The bookkeeping of every stored resource: when it last changed, and its optimistic-concurrency
/// version, which moves on only when the store has written the row with a version check.
macro_rules! row_bookkeeping {
    ($($resource:ty),*) => {$(
        impl $resource {
            pub fn updated_at(&self) -> DateTime<Utc> {
                self.updated_at
            }

            pub fn version(&self) -> i64 {
                self.version
            }

            /// The store calls this once it has written the row with a version check: the
            /// stored version moved on by one, and the next write must expect it.
            pub fn saved(&mut self) {
                self.version += 1;
            }
        }
    )*};
}

row_bookkeeping!(Payment, Refund, Subscription, Entitlement, Dispute);
