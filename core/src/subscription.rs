//! Plans, subscriptions and the subscription state machine.
//!
//! ```text
//! approval_pending ──► trialing ──► active ◄──► past_due
//!                  └──────────────► active        │
//!      trialing | active | past_due ──► suspended ┘ (resume ──► active)
//!      any but the final ──► canceled | expired
//! ```
//! Unlike a payment, a subscription moves back and forth (a failed renewal, then a good one),
//! so notifications about it are never applied on their own word: the hub asks the provider
//! for the subscription and applies that snapshot, whatever order the notifications came in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::{EventType, Resource};
use crate::id::{PlanId, SubscriptionId};
use crate::mode::{Mode, ProviderName};
use crate::money::{AmountError, Currency, Money, PositiveAmount};
use crate::payment::NextAction;
use crate::transition::{Cause, Created, Moved, NONE, Transition};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntervalUnit {
    Day,
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Day => "day",
            IntervalUnit::Week => "week",
            IntervalUnit::Month => "month",
            IntervalUnit::Year => "year",
        }
    }
}

/// One phase of a plan: a free or discounted trial, or the regular price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingCycle {
    pub interval_unit: IntervalUnit,
    #[serde(default = "one")]
    pub interval_count: u32,
    /// How many times this cycle bills; 0 for the regular cycle means until canceled.
    #[serde(default)]
    pub total_cycles: u32,
    /// Minor units per cycle; 0 for a free trial.
    pub price: i64,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Active,
    Inactive,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Inactive => "inactive",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [PlanStatus::Active, PlanStatus::Inactive].into_iter().find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    pub id: PlanId,
    pub mode: Mode,
    pub provider: ProviderName,
    pub name: String,
    /// Plans of one product share it at the provider; a subscription moves only between plans
    /// of the same product (PayPal's rule).
    pub product: String,
    pub description: Option<String>,
    pub status: PlanStatus,
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
    /// At most two trial cycles, run in order before the regular one.
    pub trial_cycles: Vec<BillingCycle>,
    pub regular_cycle: BillingCycle,
    /// Charged once when the subscription starts.
    pub setup_fee: i64,
    /// Tax added on top of every charge, in hundredths of a percent (1000 = 10%).
    pub tax_basis_points: u32,
    /// Consecutive failed payments after which the provider suspends the subscription.
    pub payment_failure_threshold: u32,
    /// What a subscriber of this plan is entitled to (e.g. `premium`).
    pub entitlement: String,
    /// The provider's product and plan ids.
    pub provider_product_id: Option<String>,
    pub provider_plan_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A plan's trial cycles, regular cycle and setup fee, within the rules a plan must follow
/// before it goes to a provider (PayPal's limits among them): [`PlanBilling::parse`] is the only
/// way to make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanBilling {
    trial_cycles: Vec<BillingCycle>,
    regular_cycle: BillingCycle,
    setup_fee: i64,
}

impl PlanBilling {
    /// Refusals name the field to change (`trial_cycles[1].total_cycles`) and say why.
    pub fn parse(
        trial_cycles: Vec<BillingCycle>,
        regular_cycle: BillingCycle,
        setup_fee: i64,
    ) -> Result<Self, (String, String)> {
        check_plan(&trial_cycles, &regular_cycle, setup_fee)?;
        Ok(Self { trial_cycles, regular_cycle, setup_fee })
    }

    pub fn into_parts(self) -> (Vec<BillingCycle>, BillingCycle, i64) {
        (self.trial_cycles, self.regular_cycle, self.setup_fee)
    }
}

const FREE_REGULAR_CYCLE: &str = "the regular cycle must cost something; use a trial for free periods";

/// A new price for a plan's regular cycle, refused as [`PlanBilling::parse`] would refuse it.
pub fn regular_price(minor_units: i64) -> Result<PositiveAmount, &'static str> {
    PositiveAmount::parse(minor_units).map_err(|error| match error {
        AmountError::Zero => FREE_REGULAR_CYCLE,
        AmountError::Negative | AmountError::AboveMax(_) => "must not be negative",
    })
}

/// Tax added on top of every charge, in hundredths of a percent: at most 10000 (100%).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxRate(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be at most 10000 (100%)")]
pub struct TaxRateAboveFull;

impl TaxRate {
    pub fn parse(basis_points: u32) -> Result<Self, TaxRateAboveFull> {
        if basis_points > 10_000 { Err(TaxRateAboveFull) } else { Ok(Self(basis_points)) }
    }

    pub fn basis_points(self) -> u32 {
        self.0
    }
}

/// Consecutive failed renewals after which the provider suspends a subscription: 1 to 999, the
/// range PayPal accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureThreshold(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 999")]
pub struct ThresholdOutOfRange;

impl FailureThreshold {
    pub fn parse(failures: u32) -> Result<Self, ThresholdOutOfRange> {
        if (1..=999).contains(&failures) { Ok(Self(failures)) } else { Err(ThresholdOutOfRange) }
    }

    pub fn failures(self) -> u32 {
        self.0
    }
}

fn check_plan(trial_cycles: &[BillingCycle], regular: &BillingCycle, setup_fee: i64) -> Result<(), (String, String)> {
    let field = |name: &str, message: &str| Err((name.to_owned(), message.to_owned()));
    if trial_cycles.len() > 2 {
        return field("trial_cycles", "at most 2 trial cycles are allowed");
    }
    for (i, cycle) in trial_cycles.iter().enumerate() {
        check_cycle(&format!("trial_cycles[{i}]"), cycle)?;
        if cycle.total_cycles == 0 {
            return field(
                &format!("trial_cycles[{i}].total_cycles"),
                "a trial runs a fixed number of cycles (1 or more)",
            );
        }
    }
    check_cycle("regular_cycle", regular)?;
    if regular.price == 0 {
        return field("regular_cycle.price", FREE_REGULAR_CYCLE);
    }
    if setup_fee < 0 {
        return field("setup_fee", "must not be negative");
    }
    Ok(())
}

fn check_cycle(name: &str, cycle: &BillingCycle) -> Result<(), (String, String)> {
    let max = match cycle.interval_unit {
        IntervalUnit::Day => 365,
        IntervalUnit::Week => 52,
        IntervalUnit::Month => 12,
        IntervalUnit::Year => 1,
    };
    if cycle.interval_count == 0 || cycle.interval_count > max {
        return Err((
            format!("{name}.interval_count"),
            format!("must be 1 to {max} for {}s", cycle.interval_unit.as_str()),
        ));
    }
    if cycle.price < 0 {
        return Err((format!("{name}.price"), "must not be negative".into()));
    }
    if cycle.total_cycles > 999 {
        return Err((format!("{name}.total_cycles"), "must be at most 999".into()));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Waiting for the subscriber to approve at the provider.
    ApprovalPending,
    Trialing,
    Active,
    /// The last renewal failed; access continues through the grace period.
    PastDue,
    Suspended,
    Canceled,
    Expired,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 7] = [
        SubscriptionStatus::ApprovalPending,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Suspended,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::ApprovalPending => "approval_pending",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Suspended => "suspended",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn is_final(self) -> bool {
        matches!(self, SubscriptionStatus::Canceled | SubscriptionStatus::Expired)
    }

    pub fn can_become(self, next: SubscriptionStatus) -> bool {
        use SubscriptionStatus::*;
        self != next
            && !self.is_final()
            && match next {
                ApprovalPending => false,
                Trialing => matches!(self, ApprovalPending | Suspended),
                Active | PastDue | Suspended | Canceled | Expired => true,
            }
    }

    /// The event a move into `self` from `from` announces.
    pub fn event_type(self, from: SubscriptionStatus) -> EventType {
        use SubscriptionStatus::*;
        match (from, self) {
            (ApprovalPending, Trialing | Active) => EventType::SubscriptionActivated,
            (Suspended, Trialing | Active) => EventType::SubscriptionResumed,
            (PastDue, Active) | (Trialing, Active) => EventType::SubscriptionUpdated,
            (_, PastDue) => EventType::SubscriptionPastDue,
            (_, Suspended) => EventType::SubscriptionSuspended,
            (_, Canceled) => EventType::SubscriptionCanceled,
            (_, Expired) => EventType::SubscriptionExpired,
            _ => EventType::SubscriptionUpdated,
        }
    }
}

// A subscription as the merchant sees it. What the provider's snapshots move (status, period
// and trial ends, payment counters, cancellation, sync time) is read through getters and moved
// only by [`Subscription::apply_snapshot`] and [`Subscription::revise`].
// (A plain comment: utoipa would publish a doc comment as the schema's description.)
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub mode: Mode,
    pub provider: ProviderName,
    pub(crate) plan_id: PlanId,
    /// The merchant's customer, whose entitlements this subscription grants.
    pub customer_id: String,
    pub(crate) quantity: u32,
    pub(crate) status: SubscriptionStatus,
    /// Paid (or trial) access runs until here, as the provider states it.
    pub(crate) current_period_end: Option<DateTime<Utc>>,
    pub(crate) trial_end: Option<DateTime<Utc>>,
    /// Consecutive failed renewals.
    pub(crate) failed_payments: u32,
    /// Successful charges so far (first payment and renewals).
    pub(crate) payments_count: u32,
    pub(crate) canceled_at: Option<DateTime<Utc>>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub(crate) next_action: Option<NextAction>,
    pub(crate) provider_subscription_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) version: i64,
    #[serde(skip)]
    pub next_check_at: Option<DateTime<Utc>>,
    /// When the last applied provider snapshot was taken; an older snapshot (a slower fetch
    /// racing a newer one) is never applied over it.
    #[serde(skip)]
    pub(crate) synced_at: Option<DateTime<Utc>>,
}

impl Resource for Subscription {
    fn resource_id(&self) -> &str {
        self.id.as_str()
    }
    fn mode(&self) -> Mode {
        self.mode
    }
}

impl Resource for Plan {
    fn resource_id(&self) -> &str {
        self.id.as_str()
    }
    fn mode(&self) -> Mode {
        self.mode
    }
}

/// What the provider says about a subscription, in payhub's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub status: SubscriptionStatus,
    /// The provider's stated next billing time: the end of what has been paid for.
    pub next_billing_time: Option<DateTime<Utc>>,
    pub trial_end: Option<DateTime<Utc>>,
    pub failed_payments: u32,
    /// Successful charges the provider has made (the setup fee not counted).
    pub payments_count: u32,
    pub last_payment: Option<(Money, DateTime<Utc>)>,
}

/// What applying facts changed, for the hub to record and announce.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionChange {
    pub moved: Option<Moved>,
    /// Renewals charged since the last snapshot (each becomes a payment and an event).
    pub new_payments: u32,
    /// A renewal failed since the last snapshot.
    pub payment_failed: bool,
    pub changed: bool,
}

/// What the merchant says about a subscription when asking for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionDetails {
    pub customer_id: String,
    pub quantity: u32,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A subscription not yet created at the provider, which needs its id for the buyer's URLs.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionDraft(Subscription);

impl std::ops::Deref for SubscriptionDraft {
    type Target = Subscription;
    fn deref(&self) -> &Subscription {
        &self.0
    }
}

impl SubscriptionDraft {
    /// The provider made the subscription; the subscriber approves it next.
    pub fn opened(
        mut self,
        provider_subscription_id: String,
        next_action: Option<NextAction>,
        cause: &Cause,
    ) -> Created<Subscription> {
        self.0.provider_subscription_id = Some(provider_subscription_id);
        self.0.next_action = next_action;
        self.0.created(cause)
    }
}

impl Subscription {
    /// A new subscription to `plan`, waiting for the subscriber's approval.
    pub fn draft(
        id: SubscriptionId,
        mode: Mode,
        plan: &Plan,
        details: SubscriptionDetails,
        now: DateTime<Utc>,
    ) -> SubscriptionDraft {
        SubscriptionDraft(Subscription {
            id,
            mode,
            provider: plan.provider,
            plan_id: plan.id.clone(),
            customer_id: details.customer_id,
            quantity: details.quantity,
            status: SubscriptionStatus::ApprovalPending,
            current_period_end: None,
            trial_end: None,
            failed_payments: 0,
            payments_count: 0,
            canceled_at: None,
            return_url: details.return_url,
            cancel_url: details.cancel_url,
            next_action: None,
            provider_subscription_id: None,
            metadata: details.metadata,
            created_at: now,
            updated_at: now,
            version: 1,
            next_check_at: None,
            synced_at: None,
        })
    }

    /// A subscription made at the provider, outside payhub, on one of payhub's plans. It is
    /// recorded as waiting for approval and asked about at once: the provider's snapshot brings
    /// it to its real state.
    pub fn adopt(
        id: SubscriptionId,
        plan: &Plan,
        customer_id: String,
        provider_subscription_id: &str,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Created<Subscription> {
        let details = SubscriptionDetails { customer_id, quantity: 1, ..Default::default() };
        let mut adopted = Subscription::draft(id, plan.mode, plan, details, now).0;
        adopted.provider_subscription_id = Some(provider_subscription_id.to_owned());
        adopted.next_check_at = Some(now);
        adopted.created(cause)
    }

    fn created(self, cause: &Cause) -> Created<Subscription> {
        let transition = Transition::new(self.id.as_str(), NONE, self.status.as_str(), cause.clone(), self.created_at);
        Created::with_transition(self, transition, EventType::SubscriptionCreated)
    }

    /// Changed only by [`Subscription::revise`], once the provider took the change.
    pub fn plan_id(&self) -> &PlanId {
        &self.plan_id
    }

    pub fn quantity(&self) -> u32 {
        self.quantity
    }

    /// Where the subscriber approves (at creation, or a change the provider wants approved).
    pub fn next_action(&self) -> Option<&NextAction> {
        self.next_action.as_ref()
    }

    pub fn provider_subscription_id(&self) -> Option<&str> {
        self.provider_subscription_id.as_deref()
    }

    pub fn status(&self) -> SubscriptionStatus {
        self.status
    }

    pub fn current_period_end(&self) -> Option<DateTime<Utc>> {
        self.current_period_end
    }

    pub fn trial_end(&self) -> Option<DateTime<Utc>> {
        self.trial_end
    }

    pub fn failed_payments(&self) -> u32 {
        self.failed_payments
    }

    pub fn payments_count(&self) -> u32 {
        self.payments_count
    }

    pub fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.canceled_at
    }

    pub fn synced_at(&self) -> Option<DateTime<Utc>> {
        self.synced_at
    }

    /// Applies a provider snapshot taken at `fetched_at`. `None` when a newer snapshot was
    /// applied while this one was in flight (a slower fetch racing a newer one): it is stale
    /// and changes nothing.
    pub fn apply_snapshot(
        &mut self,
        facts: &SubscriptionFacts,
        fetched_at: DateTime<Utc>,
        cause: &Cause,
        now: DateTime<Utc>,
    ) -> Option<SubscriptionChange> {
        if self.synced_at.is_some_and(|applied| fetched_at < applied) {
            return None;
        }
        self.synced_at = Some(fetched_at);
        Some(self.apply(facts, cause, now))
    }

    fn apply(&mut self, facts: &SubscriptionFacts, cause: &Cause, now: DateTime<Utc>) -> SubscriptionChange {
        let before = self.clone();
        let new_payments = facts.payments_count.saturating_sub(self.payments_count);
        let payment_failed = facts.failed_payments > self.failed_payments;
        self.payments_count = self.payments_count.max(facts.payments_count);
        self.failed_payments = facts.failed_payments;
        if facts.next_billing_time.is_some() {
            self.current_period_end = facts.next_billing_time;
        }
        if facts.trial_end.is_some() {
            self.trial_end = facts.trial_end;
        }
        let mut moved = None;
        if self.status.can_become(facts.status) {
            let from = self.status;
            self.status = facts.status;
            if facts.status == SubscriptionStatus::Canceled && self.canceled_at.is_none() {
                self.canceled_at = Some(now);
            }
            if from == SubscriptionStatus::ApprovalPending {
                self.next_action = None;
            }
            let t = Transition::new(self.id.as_str(), from.as_str(), facts.status.as_str(), cause.clone(), now);
            moved = Some(Moved::new(t, facts.status.event_type(from)));
        }
        let changed = *self != before;
        if changed {
            self.updated_at = now;
        }
        SubscriptionChange { moved, new_payments, payment_failed, changed }
    }

    /// Moves the subscription to another plan and/or quantity, as the provider accepted; when
    /// the provider wants the subscriber to approve the change, that is what they do next.
    /// Returns the event announcing it (no status moves, so no transition).
    pub fn revise(
        &mut self,
        plan_id: PlanId,
        quantity: u32,
        approval: Option<NextAction>,
        now: DateTime<Utc>,
    ) -> EventType {
        self.plan_id = plan_id;
        self.quantity = quantity;
        if approval.is_some() {
            self.next_action = approval;
        }
        self.updated_at = now;
        EventType::SubscriptionUpdated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn cycle(unit: IntervalUnit, count: u32, total: u32, price: i64) -> BillingCycle {
        BillingCycle { interval_unit: unit, interval_count: count, total_cycles: total, price }
    }

    pub(crate) fn subscription(status: SubscriptionStatus) -> Subscription {
        let now = fixtures::now();
        Subscription {
            id: SubscriptionId::generate(&fixtures::ids(), now),
            mode: Mode::Test,
            provider: ProviderName::Paypal,
            plan_id: PlanId::generate(&fixtures::ids(), now),
            customer_id: "cus_1".into(),
            quantity: 1,
            status,
            current_period_end: None,
            trial_end: None,
            failed_payments: 0,
            payments_count: 0,
            canceled_at: None,
            return_url: None,
            cancel_url: None,
            next_action: None,
            provider_subscription_id: Some("I-1".into()),
            metadata: Default::default(),
            created_at: now,
            updated_at: now,
            version: 1,
            next_check_at: None,
            synced_at: None,
        }
    }

    fn facts(status: SubscriptionStatus, payments: u32, failed: u32) -> SubscriptionFacts {
        SubscriptionFacts {
            status,
            next_billing_time: Some(fixtures::now() + chrono::Duration::days(7)),
            trial_end: None,
            failed_payments: failed,
            payments_count: payments,
            last_payment: None,
        }
    }

    #[test]
    fn plans_with_three_trials_negative_prices_or_free_regular_cycles_are_refused() {
        let week = cycle(IntervalUnit::Week, 1, 0, 500);
        let trial = cycle(IntervalUnit::Day, 3, 1, 0);
        assert!(check_plan(&[trial.clone(), trial.clone()], &week, 0).is_ok());
        assert_eq!(check_plan(&[trial.clone(), trial.clone(), trial.clone()], &week, 0).unwrap_err().0, "trial_cycles");
        assert_eq!(check_plan(&[], &cycle(IntervalUnit::Week, 1, 0, -1), 0).unwrap_err().0, "regular_cycle.price");
        assert_eq!(
            check_plan(&[], &cycle(IntervalUnit::Month, 13, 0, 100), 0).unwrap_err().0,
            "regular_cycle.interval_count"
        );
        assert_eq!(check_plan(&[], &cycle(IntervalUnit::Week, 1, 0, 0), 0).unwrap_err().0, "regular_cycle.price");
    }

    #[test]
    fn only_a_plan_billing_within_the_rules_can_be_made() {
        let week = cycle(IntervalUnit::Week, 1, 0, 500);
        let trial = cycle(IntervalUnit::Day, 3, 1, 0);
        let billing = PlanBilling::parse(vec![trial.clone()], week.clone(), 100).unwrap();
        assert_eq!(billing.into_parts(), (vec![trial.clone()], week.clone(), 100));
        let open_trial = cycle(IntervalUnit::Day, 3, 0, 0);
        assert_eq!(
            PlanBilling::parse(vec![open_trial], week.clone(), 0).unwrap_err().0,
            "trial_cycles[0].total_cycles"
        );
        assert_eq!(PlanBilling::parse(vec![], week, -1).unwrap_err().0, "setup_fee");
    }

    #[test]
    fn a_new_regular_price_is_refused_as_a_new_plan_would_be() {
        assert_eq!(regular_price(1500).map(PositiveAmount::minor_units), Ok(1500));
        let (_, free) = check_plan(&[], &cycle(IntervalUnit::Week, 1, 0, 0), 0).unwrap_err();
        assert_eq!(regular_price(0), Err(free.as_str()));
        let (_, negative) = check_plan(&[], &cycle(IntervalUnit::Week, 1, 0, -5), 0).unwrap_err();
        assert_eq!(regular_price(-5), Err(negative.as_str()));
    }

    #[test]
    fn tax_rates_stop_at_100_percent_and_failure_thresholds_at_999() {
        assert_eq!(TaxRate::parse(10_000).map(TaxRate::basis_points), Ok(10_000));
        assert_eq!(TaxRate::parse(0).map(TaxRate::basis_points), Ok(0));
        assert_eq!(TaxRate::parse(10_001), Err(TaxRateAboveFull));
        assert_eq!(FailureThreshold::parse(1).map(FailureThreshold::failures), Ok(1));
        assert_eq!(FailureThreshold::parse(999).map(FailureThreshold::failures), Ok(999));
        assert_eq!(FailureThreshold::parse(0), Err(ThresholdOutOfRange));
        assert_eq!(FailureThreshold::parse(1000), Err(ThresholdOutOfRange));
    }

    #[test]
    fn approval_starts_a_trial_and_renewals_are_counted() {
        let mut s = subscription(SubscriptionStatus::ApprovalPending);
        let change = s.apply(&facts(SubscriptionStatus::Trialing, 0, 0), &Cause::Api, fixtures::now());
        assert_eq!(change.moved.unwrap().event(), EventType::SubscriptionActivated);
        let change = s.apply(&facts(SubscriptionStatus::Active, 2, 0), &Cause::Api, fixtures::now());
        assert_eq!(change.new_payments, 2);
        assert_eq!(s.status, SubscriptionStatus::Active);
    }

    #[test]
    fn a_failed_renewal_makes_it_past_due_and_a_good_one_active_again() {
        let mut s = subscription(SubscriptionStatus::Active);
        let change = s.apply(&facts(SubscriptionStatus::PastDue, 0, 1), &Cause::Api, fixtures::now());
        assert!(change.payment_failed);
        assert_eq!(change.moved.unwrap().event(), EventType::SubscriptionPastDue);
        let change = s.apply(&facts(SubscriptionStatus::Active, 1, 0), &Cause::Api, fixtures::now());
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(change.new_payments, 1);
    }

    #[test]
    fn canceled_and_expired_subscriptions_stay_so() {
        let mut s = subscription(SubscriptionStatus::Canceled);
        let change = s.apply(&facts(SubscriptionStatus::Active, 0, 0), &Cause::Api, fixtures::now());
        assert!(change.moved.is_none());
        assert_eq!(s.status, SubscriptionStatus::Canceled);
        assert!(!SubscriptionStatus::Expired.can_become(SubscriptionStatus::Active));
    }

    #[test]
    fn a_resumed_subscription_announces_it() {
        let mut s = subscription(SubscriptionStatus::Suspended);
        let change = s.apply(&facts(SubscriptionStatus::Active, 0, 0), &Cause::Api, fixtures::now());
        assert_eq!(change.moved.unwrap().event(), EventType::SubscriptionResumed);
    }
}
