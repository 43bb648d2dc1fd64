//! When to ask a provider about an object that is not final yet.
//!
//! Reconciliation is a schedule, not a scan: every non-final object carries the time of its
//! next check, and the interval grows with the object's age — a payment the buyer is approving
//! right now is checked within minutes, a bank-card refund pending for days is checked hourly.

use chrono::{DateTime, Duration, Utc};

use crate::dispute::{Dispute, REMINDER_BEFORE_DUE};
use crate::payment::{Payment, PaymentStatus};
use crate::refund::{Refund, RefundStatus};
use crate::subscription::{Subscription, SubscriptionStatus};

/// A quarter of the object's age, kept within `[min, max]`.
fn backoff(created_at: DateTime<Utc>, now: DateTime<Utc>, min: Duration, max: Duration) -> Duration {
    let age = now - created_at;
    (age / 4).clamp(min, max)
}

pub fn next_payment_check(payment: &Payment, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let interval = match payment.status {
        PaymentStatus::RequiresAction => backoff(payment.created_at, now, Duration::minutes(2), Duration::minutes(30)),
        PaymentStatus::Processing => backoff(payment.created_at, now, Duration::minutes(5), Duration::hours(6)),
        // The hold is checked daily, and just after it expires (the provider says `expired`
        // then, which no notification announces).
        PaymentStatus::RequiresCapture => {
            let daily = now + Duration::days(1);
            let just_after_expiry = payment.authorization_expires_at().map(|expiry| expiry + Duration::minutes(1));
            return Some(just_after_expiry.map_or(daily, |at| daily.min(at.max(now + Duration::minutes(1)))));
        }
        _ => return None,
    };
    Some(now + interval)
}

pub fn next_refund_check(refund: &Refund, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match refund.status {
        RefundStatus::Pending => Some(now + backoff(refund.created_at, now, Duration::minutes(1), Duration::hours(1))),
        _ => None,
    }
}

/// A subscription is asked about an hour after its paid period ends (the renewal should have
/// happened; providers charge hours late, so it is asked again hourly until it has), when
/// waiting for approval like a payment, and every few hours while suspended.
pub fn next_subscription_check(subscription: &Subscription, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let margin = Duration::hours(1);
    match subscription.status {
        SubscriptionStatus::ApprovalPending => {
            Some(now + backoff(subscription.created_at, now, Duration::minutes(2), Duration::minutes(30)))
        }
        SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue => {
            match subscription.current_period_end {
                Some(end) if end + margin > now => Some(end + margin),
                _ => Some(now + margin),
            }
        }
        SubscriptionStatus::Suspended => Some(now + Duration::hours(6)),
        SubscriptionStatus::Canceled | SubscriptionStatus::Expired => None,
    }
}

/// An open dispute is asked about every few hours (a case whose notifications were all lost is
/// still followed), and always just before the moments that matter: the day-before reminder,
/// an hour before the due date, and right after it (the provider decides then).
pub fn next_dispute_check(dispute: &Dispute, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !dispute.is_open() {
        return None;
    }
    let regular = now + Duration::hours(6);
    let Some(due) = dispute.response_due_at() else {
        return Some(regular);
    };
    let moments = [due - REMINDER_BEFORE_DUE, due - Duration::hours(1), due + Duration::minutes(1)];
    Some(moments.into_iter().filter(|at| *at > now).min().map_or(regular, |at| at.min(regular)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::tests::payment;

    #[test]
    fn a_held_payment_is_checked_daily_and_just_after_its_hold_expires() {
        let p = payment(PaymentStatus::RequiresCapture, 100);
        let now = p.created_at;
        assert_eq!(next_payment_check(&p, now), Some(now + Duration::days(1)));
        let mut p = p;
        p.authorization_expires_at = Some(now + Duration::hours(5));
        assert_eq!(next_payment_check(&p, now), Some(now + Duration::hours(5) + Duration::minutes(1)));
        let later = now + Duration::days(3);
        assert_eq!(next_payment_check(&p, later), Some(later + Duration::minutes(1)), "overdue: asked at once");
    }

    #[test]
    fn a_fresh_payment_is_checked_within_minutes_and_an_old_one_every_half_hour() {
        let mut p = payment(PaymentStatus::RequiresAction, 100);
        let now = p.created_at;
        assert_eq!(next_payment_check(&p, now), Some(now + Duration::minutes(2)));
        p.created_at = now - Duration::hours(10);
        assert_eq!(next_payment_check(&p, now), Some(now + Duration::minutes(30)));
    }

    #[test]
    fn final_payments_are_never_checked() {
        for status in [PaymentStatus::Succeeded, PaymentStatus::Failed, PaymentStatus::Refunded] {
            let p = payment(status, 100);
            assert_eq!(next_payment_check(&p, p.created_at), None);
        }
    }
}
