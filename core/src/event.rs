//! Normalized events: one stream for the merchant, whatever provider and notification caused it.
//! An event carries a snapshot of the resource as the API shows it at that moment.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::id::{EventId, IdGenerator};
use crate::mode::Mode;

macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum EventType {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }
        }
    };
}

event_types! {
    PaymentCreated => "payment.created",
    PaymentActionRequired => "payment.action_required",
    PaymentAuthorized => "payment.authorized",
    PaymentProcessing => "payment.processing",
    PaymentSucceeded => "payment.succeeded",
    PaymentFailed => "payment.failed",
    PaymentCanceled => "payment.canceled",
    PaymentExpired => "payment.expired",
    PaymentRefunded => "payment.refunded",
    PaymentAnomalyDetected => "payment.anomaly_detected",
    PaymentDisputed => "payment.disputed",
    RefundCreated => "refund.created",
    RefundSucceeded => "refund.succeeded",
    RefundFailed => "refund.failed",
    PlanCreated => "plan.created",
    PlanUpdated => "plan.updated",
    SubscriptionCreated => "subscription.created",
    SubscriptionActivated => "subscription.activated",
    SubscriptionUpdated => "subscription.updated",
    SubscriptionRenewed => "subscription.renewed",
    SubscriptionPaymentFailed => "subscription.payment_failed",
    SubscriptionPastDue => "subscription.past_due",
    SubscriptionSuspended => "subscription.suspended",
    SubscriptionResumed => "subscription.resumed",
    SubscriptionCanceled => "subscription.canceled",
    SubscriptionExpired => "subscription.expired",
    EntitlementGranted => "entitlement.granted",
    EntitlementExtended => "entitlement.extended",
    EntitlementRevoked => "entitlement.revoked",
    DisputeCreated => "dispute.created",
    DisputeUpdated => "dispute.updated",
    DisputeActionRequired => "dispute.action_required",
    DisputeResolved => "dispute.resolved",
}

impl EventType {
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_str() == value)
    }

    /// Whether an endpoint's filter selects this type. Filters are exact names, a family such as
    /// `payment.*`, or `*` for everything.
    pub fn matches(self, filter: &str) -> bool {
        match filter.strip_suffix(".*") {
            _ if filter == "*" => true,
            Some(family) => self.as_str().strip_prefix(family).is_some_and(|rest| rest.starts_with('.')),
            None => self.as_str() == filter,
        }
    }

    /// Checks a filter given by a merchant, so a typo does not silently select nothing.
    pub fn is_valid_filter(filter: &str) -> bool {
        Self::ALL.iter().any(|t| t.matches(filter))
    }
}

/// The event types a merchant endpoint subscribes to: at least one filter, each selecting some
/// event (an exact name, a family such as `payment.*`, or `*`), so a typo cannot silently select
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilters(Vec<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventFilterError {
    #[error("name at least one type, a family like `payment.*`, or `*`")]
    Empty,
    #[error("`{0}` selects no event; known types: {known}", known = EventType::names())]
    SelectsNothing(String),
}

impl EventFilters {
    pub fn parse(filters: Vec<String>) -> Result<Self, EventFilterError> {
        if filters.is_empty() {
            return Err(EventFilterError::Empty);
        }
        match filters.iter().find(|f| !EventType::is_valid_filter(f)) {
            Some(unknown) => Err(EventFilterError::SelectsNothing(unknown.clone())),
            None => Ok(Self(filters)),
        }
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl EventType {
    fn names() -> String {
        Self::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: EventId,
    pub mode: Mode,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The id of the resource the event is about (`pay_…`, `re_…`).
    pub resource_id: String,
    /// The event's place among its resource's events: 1 for the first, then one more for each
    /// event after it. Deliveries arrive in any order; a receiver keeps the highest it has seen
    /// and drops an event with a lower one as stale. 0 until the event is stored.
    pub sequence: u64,
    /// The resource as `GET` would have returned it when the event happened.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A resource that events are about.
pub trait Resource: Serialize {
    fn resource_id(&self) -> &str;
    fn mode(&self) -> Mode;
}

impl Event {
    /// An event about `resource`, carrying its current state.
    pub fn about<T: Resource>(event_type: EventType, resource: &T, ids: &IdGenerator, now: DateTime<Utc>) -> Self {
        Self::new(event_type, resource.mode(), resource.resource_id(), resource, ids, now)
    }

    pub fn new<T: Serialize>(
        event_type: EventType,
        mode: Mode,
        resource_id: &str,
        resource: &T,
        ids: &IdGenerator,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: EventId::generate(ids, now),
            mode,
            event_type,
            resource_id: resource_id.to_owned(),
            sequence: 0,
            // Resources are plain data; serializing them cannot fail.
            data: serde_json::to_value(resource).unwrap_or(serde_json::Value::Null),
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_exact_names_families_and_everything() {
        assert!(EventType::RefundSucceeded.matches("refund.succeeded"));
        assert!(EventType::RefundSucceeded.matches("refund.*"));
        assert!(EventType::RefundSucceeded.matches("*"));
        assert!(!EventType::RefundSucceeded.matches("payment.*"));
        assert!(!EventType::PaymentSucceeded.matches("pay.*"));
        assert!(EventType::is_valid_filter("payment.*"));
        assert!(!EventType::is_valid_filter("payment.succeded"));
    }

    #[test]
    fn an_endpoint_filter_must_select_some_event() {
        let filters = vec!["refund.*".to_owned(), "payment.succeeded".to_owned(), "*".to_owned()];
        assert_eq!(EventFilters::parse(filters.clone()).map(EventFilters::into_vec), Ok(filters));
        assert_eq!(EventFilters::parse(vec![]), Err(EventFilterError::Empty));
        let typo = EventFilters::parse(vec!["refund.*".into(), "payment.succeded".into()]).unwrap_err();
        assert_eq!(typo, EventFilterError::SelectsNothing("payment.succeded".into()));
        assert!(typo.to_string().contains("payment.succeeded"), "names the known types: {typo}");
    }

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
