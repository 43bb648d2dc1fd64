//! Entitlements: what a customer may use, and until when.
//!
//! Granted when a subscription activates, extended on each paid renewal to the end of the paid
//! period plus a grace period — providers charge hours after the billing time they state
//! (seed 002 saw 21:00 for 18:00), and a paying user must never lose access meanwhile — and
//! revoked when the period ends without payment, on cancellation at period end (or at once when
//! the merchant asks), on expiry, or when the paying payment is fully refunded.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::{EventType, Resource};
use crate::id::{EntitlementId, SubscriptionId};
use crate::mode::Mode;
use crate::transition::Created;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntitlementStatus {
    Active,
    Revoked,
}

impl EntitlementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntitlementStatus::Active => "active",
            EntitlementStatus::Revoked => "revoked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [EntitlementStatus::Active, EntitlementStatus::Revoked].into_iter().find(|s| s.as_str() == value)
    }
}

// An entitlement as the merchant sees it. Its status and validity are moved only by the
// methods below, each of which returns the event to announce.
// (A plain comment: utoipa would publish a doc comment as the schema's description.)
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Entitlement {
    pub id: EntitlementId,
    pub mode: Mode,
    pub customer_id: String,
    /// What is granted (the plan's `entitlement`, e.g. `premium`).
    pub entitlement: String,
    pub subscription_id: SubscriptionId,
    pub(crate) status: EntitlementStatus,
    /// Access ends here unless extended (the paid period's end plus the grace period).
    pub(crate) valid_until: DateTime<Utc>,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
    pub(crate) revoke_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) version: i64,
}

impl Resource for Entitlement {
    fn resource_id(&self) -> &str {
        self.id.as_str()
    }
    fn mode(&self) -> Mode {
        self.mode
    }
}

impl Entitlement {
    /// Access granted until `until`. Entitlements record no transitions: their history is
    /// their events.
    pub fn grant(
        id: EntitlementId,
        mode: Mode,
        customer_id: &str,
        entitlement: &str,
        subscription_id: SubscriptionId,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Created<Self> {
        let granted = Self {
            id,
            mode,
            customer_id: customer_id.to_owned(),
            entitlement: entitlement.to_owned(),
            subscription_id,
            status: EntitlementStatus::Active,
            valid_until: until,
            revoked_at: None,
            revoke_reason: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Created::announced(granted, EventType::EntitlementGranted)
    }

    pub fn status(&self) -> EntitlementStatus {
        self.status
    }

    pub fn valid_until(&self) -> DateTime<Utc> {
        self.valid_until
    }

    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at
    }

    pub fn revoke_reason(&self) -> Option<&str> {
        self.revoke_reason.as_deref()
    }

    /// Whether the customer may use it at `now`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.status == EntitlementStatus::Active && self.valid_until > now
    }

    /// Moves the end of access to `until` if that is later (a paid renewal); a revoked
    /// entitlement comes back (a resumed subscription). Returns the event to announce.
    pub fn extend_to(&mut self, until: DateTime<Utc>, now: DateTime<Utc>) -> Option<EventType> {
        if until <= now {
            return None;
        }
        match self.status {
            EntitlementStatus::Revoked => {
                self.status = EntitlementStatus::Active;
                self.revoked_at = None;
                self.revoke_reason = None;
                self.valid_until = until;
                self.updated_at = now;
                Some(EventType::EntitlementGranted)
            }
            EntitlementStatus::Active if until > self.valid_until => {
                self.valid_until = until;
                self.updated_at = now;
                Some(EventType::EntitlementExtended)
            }
            EntitlementStatus::Active => None,
        }
    }

    /// Ends access no later than `at` (now, or the end of the paid period). Returns the event
    /// when access ended now.
    pub fn end_at(&mut self, at: DateTime<Utc>, reason: &str, now: DateTime<Utc>) -> Option<EventType> {
        if self.status == EntitlementStatus::Revoked {
            return None;
        }
        if at > now {
            // Access continues to the end of what was paid for; the lapse revokes it then.
            if at < self.valid_until {
                self.valid_until = at;
                self.updated_at = now;
            }
            self.revoke_reason = Some(reason.to_owned());
            return None;
        }
        self.status = EntitlementStatus::Revoked;
        self.valid_until = self.valid_until.min(now);
        self.revoked_at = Some(now);
        self.revoke_reason = Some(reason.to_owned());
        self.updated_at = now;
        Some(EventType::EntitlementRevoked)
    }

    /// Revokes an entitlement whose time ran out. Returns the event when it did.
    pub fn lapse(&mut self, now: DateTime<Utc>) -> Option<EventType> {
        if self.status == EntitlementStatus::Active && self.valid_until <= now {
            let reason = self.revoke_reason.clone().unwrap_or_else(|| "the paid period and its grace ended".into());
            return self.end_at(now, &reason, now);
        }
        None
    }
}

/// How long access outlasts the stated end of a paid period.
pub fn with_grace(period_end: DateTime<Utc>, grace: Duration) -> DateTime<Utc> {
    period_end + grace
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn entitlement(until: DateTime<Utc>, now: DateTime<Utc>) -> Entitlement {
        let ids = fixtures::ids();
        Entitlement::grant(
            EntitlementId::generate(&ids, now),
            Mode::Test,
            "cus_1",
            "premium",
            SubscriptionId::generate(&ids, now),
            until,
            now,
        )
        .into_resource()
    }

    #[test]
    fn a_renewal_extends_access_and_an_earlier_end_never_shortens_it() {
        let now = fixtures::now();
        let mut e = entitlement(now + Duration::days(7), now);
        assert_eq!(e.extend_to(now + Duration::days(14), now), Some(EventType::EntitlementExtended));
        assert_eq!(e.extend_to(now + Duration::days(10), now), None);
        assert_eq!(e.valid_until, now + Duration::days(14));
    }

    #[test]
    fn cancel_at_period_end_keeps_access_until_then_and_the_lapse_revokes_it() {
        let now = fixtures::now();
        let period_end = now + Duration::days(5);
        let mut e = entitlement(period_end + Duration::days(1), now);
        assert_eq!(e.end_at(period_end, "subscription canceled", now), None);
        assert!(e.is_active_at(now + Duration::days(4)));
        assert!(!e.is_active_at(period_end));
        assert_eq!(e.lapse(now + Duration::days(4)), None);
        assert_eq!(e.lapse(period_end), Some(EventType::EntitlementRevoked));
        assert_eq!(e.revoke_reason.as_deref(), Some("subscription canceled"));
    }

    #[test]
    fn an_immediate_revoke_ends_access_now_and_a_resume_grants_it_again() {
        let now = fixtures::now();
        let mut e = entitlement(now + Duration::days(5), now);
        assert_eq!(e.end_at(now, "refunded", now), Some(EventType::EntitlementRevoked));
        assert!(!e.is_active_at(now));
        assert_eq!(e.end_at(now, "again", now), None);
        assert_eq!(e.extend_to(now + Duration::days(7), now), Some(EventType::EntitlementGranted));
        assert!(e.is_active_at(now + Duration::days(6)));
    }
}
