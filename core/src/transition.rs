//! Every state change is recorded with what caused it, so "why is this payment refunded?" has an
//! answer at 3 a.m.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What made a resource change state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// A merchant's API call.
    Api,
    /// The buyer came back through the return URL (its query string is never trusted; the
    /// provider was asked).
    BuyerReturn,
    /// A verified provider notification, by its inbox row and provider event id.
    Notification { inbox_id: i64, provider_event_id: String },
    /// The reconciler asked the provider.
    Reconciler,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Api => f.write_str("api"),
            Cause::BuyerReturn => f.write_str("buyer_return"),
            Cause::Notification { provider_event_id, .. } => write!(f, "notification {provider_event_id}"),
            Cause::Reconciler => f.write_str("reconciler"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub resource_id: String,
    pub from: String,
    pub to: String,
    pub cause: Cause,
    pub at: DateTime<Utc>,
}

impl Transition {
    pub fn new(resource_id: &str, from: &str, to: &str, cause: Cause, at: DateTime<Utc>) -> Self {
        Self { resource_id: resource_id.into(), from: from.into(), to: to.into(), cause, at }
    }
}
