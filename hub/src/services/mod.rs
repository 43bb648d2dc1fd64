//! What requests and notifications do to payhub's resources. Core decides every state change
//! (constructors and transition methods return the transition and events to record); a service
//! writes it as one unit of work (`unit_of_work.rs`): lock the rows, write the resource, its
//! transition and its events (with their outbox rows), mark the causing notification
//! processed, commit, then wake the dispatcher.

pub mod admins;
pub mod api_keys;
pub mod apply;
mod captures;
pub mod disputes;
pub mod endpoints;
pub mod external_payments;
mod failures;
pub mod keyed_locks;
pub mod payments;
pub mod redelivery;
pub mod refunds;
pub mod subscriptions;
mod unit_of_work;

use payhub_core::id::RequestId;
use payhub_core::payment::RefundRejection;
use payhub_core::{Mode, Money, ProviderName};
use payhub_store::StoreError;

use crate::providers::ProviderError;

/// The API request a service runs for, as its Idempotency-Key claimed it.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// Names the resource the request creates (`PaymentId::created_by`), and so, through
    /// payhub's ids, the provider's idempotency key for it.
    pub request_id: RequestId,
    /// An earlier run of this request died with its process after perhaps creating the
    /// resource, here or at the provider: it is to be found, not made twice.
    pub resumed: bool,
    /// The Idempotency-Key the request holds (in the caller's mode): a service whose work is one
    /// unit of work records the request's answer under it in that unit's commit.
    pub key: String,
}

/// What a request that creates a resource answers.
#[derive(Debug)]
pub struct Answer {
    pub response: payhub_store::StoredResponse,
    /// Recorded for the request's Idempotency-Key in the commit that created the resource; the
    /// Idempotency-Key layer has nothing left to record.
    pub recorded: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no {resource} `{id}`")]
    NotFound { resource: &'static str, id: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{message}")]
    Conflict { message: String, status: String },
    #[error("refund of {requested} exceeds the {remaining} still refundable")]
    RefundExceeds { requested: Money, remaining: Money },
    #[error("{0}")]
    RefundRefused(RefundRejection),
    #[error("payment is disputed in {dispute_id}; it cannot be refunded while the dispute is open")]
    PaymentDisputed { dispute_id: String },
    #[error("dispute {dispute_id} is {status}; `{action}` is not allowed now")]
    DisputeActionNotAllowed {
        dispute_id: String,
        action: &'static str,
        status: &'static str,
        allowed: Vec<&'static str>,
    },
    #[error("{provider} is not configured for {mode} mode")]
    ProviderNotConfigured { provider: ProviderName, mode: Mode },
    /// The provider failed; `resource_id` names what payhub recorded about the attempt.
    #[error("{error}")]
    Provider { error: ProviderError, resource_id: Option<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid { field: field.into(), message: message.into() }
    }
}

impl From<RefundRejection> for ServiceError {
    fn from(rejection: RefundRejection) -> Self {
        match rejection {
            RefundRejection::ExceedsRemaining { requested, remaining } => {
                ServiceError::RefundExceeds { requested, remaining }
            }
            other => ServiceError::RefundRefused(other),
        }
    }
}
