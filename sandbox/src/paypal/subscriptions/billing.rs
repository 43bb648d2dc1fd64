//! The billing engine: what PayPal does on its own once a buyer approved a subscription. It
//! charges the setup fee and the first cycle at activation, queues every later cycle on the
//! shared scheduler at its billing time, counts consecutive failures up to the plan's threshold,
//! and expires the subscription after its last cycle.
//!
//! Billing times are stated at 10:00 UTC of the billing day (`next_billing_time`); the charge
//! and its `PAYMENT.SALE.COMPLETED` come [`SubscriptionBook::drift`] later, as seed 002 saw
//! (stated 18:00 in China, charged at 21:00). Queued charges carry the subscription's
//! `generation`: suspending, cancelling or revising bumps it, so a stale charge does nothing.

use chrono::{DateTime, Utc};

use super::super::errors::ApiError;
use super::super::events::NewEvent;
use super::super::payments::paypal_fee;
use super::super::state::PaypalState;
use super::super::{Effect, PaypalSimulator};
use super::model::{
    BillingProgress, FailedPayment, PlanTerms, Sale, SaleOrigin, SaleState, SetupFeeFailureAction, Subscription,
    SubscriptionStatus, Taxes, TenureType, billing_instant,
};
use super::render::OptionalFields;
use super::render::{currency_unit, price_at, terms_of};
use super::{not_found, subscription_mut};
use crate::ids;

/// A billing action to queue on the scheduler once the state lock is released.
pub(crate) enum Due {
    Charge { subscription_id: String, generation: u64, at: DateTime<Utc> },
    Expire { subscription_id: String, generation: u64, at: DateTime<Utc> },
}

/// What one payment is made of, in the plan's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub unit: super::super::amount::Amount,
    pub subtotal_minor: i64,
    pub tax_minor: i64,
    pub shipping_minor: i64,
}

impl Charge {
    pub fn total_minor(&self) -> i64 {
        self.subtotal_minor + self.tax_minor + self.shipping_minor
    }
}

enum Payment {
    Paid,
    Failed,
}

/// `price × quantity` with the plan's tax (added on top, or carved out when inclusive).
pub fn cycle_charge(
    price_minor: i64,
    quantity: i64,
    taxes: Option<&Taxes>,
    shipping_minor: i64,
    unit: super::super::amount::Amount,
) -> Charge {
    let gross = price_minor.saturating_mul(quantity);
    let rate = taxes.map_or(0, |taxes| taxes.percentage.thousandths);
    let (subtotal_minor, tax_minor) = match taxes {
        Some(taxes) if taxes.inclusive => {
            let net = round_div(i128::from(gross) * 100_000, 100_000 + i128::from(rate));
            (net, gross - net)
        }
        _ => (gross, round_div(i128::from(gross) * i128::from(rate), 100_000)),
    };
    Charge { unit, subtotal_minor, tax_minor, shipping_minor }
}

/// `numerator / denominator` rounded half up, for non-negative amounts.
fn round_div(numerator: i128, denominator: i128) -> i64 {
    i64::try_from((numerator + denominator / 2) / denominator.max(1)).unwrap_or(i64::MAX)
}

impl PaypalSimulator {
    pub(crate) fn queue_billing(&self, due: Due) {
        let me = self.me.clone();
        let (at, label) = match &due {
            Due::Charge { subscription_id, at, .. } => (*at, format!("paypal: bill subscription {subscription_id}")),
            Due::Expire { subscription_id, at, .. } => (*at, format!("paypal: expire subscription {subscription_id}")),
        };
        self.sandbox.scheduler().schedule_at(at, label, move || async move {
            if let Some(simulator) = me.upgrade() {
                simulator.run_billing(due);
            }
        });
    }

    fn run_billing(&self, due: Due) {
        let outcome = self.transact(|state| {
            let mut effects = Vec::new();
            match &due {
                Due::Charge { subscription_id, generation, at } => {
                    if is_current(state, subscription_id, *generation) {
                        self.bill_cycle(state, subscription_id, *at, &mut effects)?;
                    }
                }
                Due::Expire { subscription_id, generation, at } => {
                    if is_current(state, subscription_id, *generation) {
                        self.expire(state, subscription_id, *at, &mut effects)?;
                    }
                }
            }
            Ok(((), effects))
        });
        if let Err(error) = outcome {
            tracing::warn!(message = %error.message, "a queued subscription billing action failed");
        }
    }

    /// The subscription becomes `ACTIVE` and billing starts: the setup fee and, unless the
    /// subscription starts later, the first cycle are charged at once. `ACTIVATED` comes first,
    /// showing the state after those payments, then their `PAYMENT.SALE.COMPLETED`s.
    pub(crate) fn start_billing(
        &self,
        state: &mut PaypalState,
        id: &str,
        at: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), ApiError> {
        let terms = subscription_terms(state, id)?;
        let first = {
            let subscription = subscription_mut(state, id)?;
            let first = subscription.start_time.max(at);
            subscription.move_to(SubscriptionStatus::Active, at);
            subscription.billing = BillingProgress {
                completed: vec![0; terms.cycles.len()],
                segment_anchor: Some(first.date_naive()),
                ..BillingProgress::default()
            };
            first
        };
        let mut payments = Vec::new();
        if let Some(fee) = terms.preferences.setup_fee {
            let charge = Charge { unit: fee, subtotal_minor: fee.minor, tax_minor: 0, shipping_minor: 0 };
            if let Payment::Failed = self.pay(state, id, charge, at, &mut payments)? {
                if terms.preferences.setup_fee_failure_action == SetupFeeFailureAction::Cancel {
                    let subscription = subscription_mut(state, id)?;
                    subscription.move_to(SubscriptionStatus::Cancelled, at);
                    subscription.status_change_note = Some("The setup fee payment failed.".to_owned());
                    effects.append(&mut payments);
                    effects.extend(self.subscription_event(state, id, "BILLING.SUBSCRIPTION.CANCELLED"));
                    return Ok(());
                }
                subscription_mut(state, id)?.billing.outstanding_minor += fee.minor;
            }
        }
        if first <= at {
            self.bill_cycle(state, id, at, &mut payments)?;
        } else {
            let drift = state.subscriptions.drift;
            let subscription = subscription_mut(state, id)?;
            subscription.billing.next_billing_time = Some(first);
            payments.push(Effect::Billing(Due::Charge {
                subscription_id: id.to_owned(),
                generation: subscription.generation,
                at: first + drift,
            }));
        }
        effects.extend(self.subscription_event(state, id, "BILLING.SUBSCRIPTION.ACTIVATED"));
        effects.append(&mut payments);
        Ok(())
    }

    /// Bills the current cycle at `at` (free cycles just pass), then queues what comes next.
    fn bill_cycle(
        &self,
        state: &mut PaypalState,
        id: &str,
        at: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), ApiError> {
        let terms = subscription_terms(state, id)?;
        let (charge, carried) = {
            let subscription = subscription_mut(state, id)?;
            let Some(cycle) = terms.cycles.get(subscription.billing.position) else {
                return self.expire(state, id, at, effects);
            };
            let unit = currency_unit(&terms).ok_or_else(|| not_found("plan_id", &subscription.plan_id))?;
            let price = price_at(cycle, subscription.create_time, at).price.map_or(0, |price| price.minor);
            let shipping =
                if price > 0 { subscription.shipping_amount.map_or(0, |shipping| shipping.minor) } else { 0 };
            let mut charge = cycle_charge(price, subscription.billed_quantity(), terms.taxes.as_ref(), shipping, unit);
            let carried =
                if terms.preferences.auto_bill_outstanding { subscription.billing.outstanding_minor } else { 0 };
            charge.subtotal_minor += carried;
            (charge, carried)
        };
        if charge.total_minor() > 0 {
            match self.pay(state, id, charge, at, effects)? {
                Payment::Paid => subscription_mut(state, id)?.billing.outstanding_minor -= carried,
                Payment::Failed => {
                    let subscription = subscription_mut(state, id)?;
                    subscription.billing.outstanding_minor += charge.total_minor() - carried;
                    if reached_threshold(subscription, &terms) {
                        subscription.move_to(SubscriptionStatus::Suspended, at);
                        subscription.billing.suspended_for_failures = true;
                        advance_cycle(subscription, &terms);
                        set_next_billing_time(subscription, &terms);
                        effects.extend(self.subscription_event(state, id, "BILLING.SUBSCRIPTION.SUSPENDED"));
                        return Ok(());
                    }
                }
            }
        }
        let drift = state.subscriptions.drift;
        let subscription = subscription_mut(state, id)?;
        advance_cycle(subscription, &terms);
        effects.push(Effect::Billing(next_due(subscription, &terms, drift)));
        Ok(())
    }

    /// Takes one payment from the buyer, or fails it when the tests asked for failures.
    fn pay(
        &self,
        state: &mut PaypalState,
        id: &str,
        charge: Charge,
        at: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<Payment, ApiError> {
        let subscription = subscription_mut(state, id)?;
        let total = charge.unit.with_minor(charge.total_minor());
        if subscription.fail_next > 0 {
            subscription.fail_next -= 1;
            subscription.billing.failed_payments_count += 1;
            subscription.billing.last_failed_payment =
                Some(FailedPayment { minor: total.minor, time: at, reason: subscription.fail_reason });
            subscription.update_time = at;
            effects.extend(self.subscription_event(state, id, "BILLING.SUBSCRIPTION.PAYMENT.FAILED"));
            return Ok(Payment::Failed);
        }
        self.record_sale(state, id, charge, at, effects)?;
        Ok(Payment::Paid)
    }

    /// A completed payment: a v1 sale, `last_payment`, and its `PAYMENT.SALE.COMPLETED`.
    /// Returns the sale's id.
    pub(crate) fn record_sale(
        &self,
        state: &mut PaypalState,
        id: &str,
        charge: Charge,
        at: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<String, ApiError> {
        let subscription = subscription_mut(state, id)?;
        let total = charge.unit.with_minor(charge.total_minor());
        let sale = Sale {
            id: ids::upper_alphanumeric(17),
            client_id: subscription.client_id.clone(),
            origin: SaleOrigin::Subscription(subscription.id.clone()),
            custom: subscription.custom_id.clone(),
            total,
            subtotal_minor: charge.subtotal_minor,
            tax_minor: charge.tax_minor,
            shipping_minor: charge.shipping_minor,
            fee_minor: paypal_fee(total),
            state: SaleState::Completed,
            pending_reason: None,
            refunded_minor: 0,
            create_time: at,
            update_time: at,
        };
        subscription.billing.failed_payments_count = 0;
        subscription.billing.last_payment = Some((total.minor, at));
        subscription.update_time = at;
        subscription.sale_ids.push(sale.id.clone());
        effects.push(Effect::EmitV1(self.sale_completed_event(&sale)));
        let sale_id = sale.id.clone();
        state.subscriptions.sales.insert(sale.id.clone(), sale);
        Ok(sale_id)
    }

    /// Requeues billing after the subscription's terms changed (a patched `total_cycles` may
    /// end the current billing cycle early).
    pub(crate) fn reschedule(
        &self,
        state: &mut PaypalState,
        id: &str,
        effects: &mut Vec<Effect>,
    ) -> Result<(), ApiError> {
        let terms = subscription_terms(state, id)?;
        let drift = state.subscriptions.drift;
        let subscription = subscription_mut(state, id)?;
        hand_over_if_ran_out(&mut subscription.billing, &terms);
        requeue(subscription, &terms, drift, effects);
        Ok(())
    }

    fn expire(
        &self,
        state: &mut PaypalState,
        id: &str,
        at: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), ApiError> {
        let subscription = subscription_mut(state, id)?;
        subscription.move_to(SubscriptionStatus::Expired, at);
        subscription.billing.next_billing_time = None;
        effects.extend(self.subscription_event(state, id, "BILLING.SUBSCRIPTION.EXPIRED"));
        Ok(())
    }

    /// Billing resumes after a suspension: billing times that passed meanwhile are skipped, not
    /// billed, and the next one is queued.
    pub(crate) fn resume_billing(
        &self,
        state: &mut PaypalState,
        id: &str,
        now: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), ApiError> {
        let terms = subscription_terms(state, id)?;
        let drift = state.subscriptions.drift;
        let subscription = subscription_mut(state, id)?;
        subscription.move_to(SubscriptionStatus::Active, now);
        subscription.billing.suspended_for_failures = false;
        while subscription.billing.position < terms.cycles.len()
            && next_boundary(subscription, &terms).is_some_and(|next| next < now)
        {
            subscription.billing.steps += 1;
        }
        let due = match next_due(subscription, &terms, drift) {
            Due::Expire { subscription_id, generation, at } => {
                Due::Expire { subscription_id, generation, at: at.max(now) }
            }
            charge => charge,
        };
        effects.push(Effect::Billing(due));
        effects.extend(self.subscription_event(state, id, "BILLING.SUBSCRIPTION.RE-ACTIVATED"));
        Ok(())
    }

    /// Switches an approved revision's plan in: the new plan's trials are skipped and its regular
    /// cycle starts at the billing time already stated.
    pub(crate) fn switch_plan(
        &self,
        state: &mut PaypalState,
        id: &str,
        plan_id: &str,
        now: DateTime<Utc>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), ApiError> {
        let terms = state
            .subscriptions
            .plans
            .get(plan_id)
            .map(|plan| plan.terms.clone())
            .ok_or_else(|| not_found("plan_id", plan_id))?;
        let drift = state.subscriptions.drift;
        let subscription = subscription_mut(state, id)?;
        let anchor = subscription.billing.next_billing_time.unwrap_or(now).date_naive();
        subscription.plan_id = plan_id.to_owned();
        subscription.overridden_terms = None;
        subscription.billing.completed = terms
            .cycles
            .iter()
            .map(|cycle| if cycle.tenure == TenureType::Trial { cycle.total_cycles } else { 0 })
            .collect();
        subscription.billing.position =
            terms.cycles.iter().position(|cycle| cycle.tenure == TenureType::Regular).unwrap_or(0);
        subscription.billing.segment_anchor = Some(anchor);
        subscription.billing.steps = 0;
        requeue(subscription, &terms, drift, effects);
        Ok(())
    }

    /// A `BILLING.SUBSCRIPTION.*` event whose resource is the subscription as it stands.
    pub(crate) fn subscription_event(&self, state: &PaypalState, id: &str, event_type: &'static str) -> Option<Effect> {
        let subscription = state.subscriptions.subscriptions.get(id)?;
        let summary = match event_type {
            "BILLING.SUBSCRIPTION.CREATED" => "Subscription created",
            "BILLING.SUBSCRIPTION.ACTIVATED" => "Subscription activated",
            "BILLING.SUBSCRIPTION.UPDATED" => "Subscription updated",
            "BILLING.SUBSCRIPTION.SUSPENDED" => "Subscription suspended",
            "BILLING.SUBSCRIPTION.RE-ACTIVATED" => "Subscription re-activated",
            "BILLING.SUBSCRIPTION.CANCELLED" => "Subscription cancelled",
            "BILLING.SUBSCRIPTION.EXPIRED" => "Subscription expired",
            "BILLING.SUBSCRIPTION.PAYMENT.FAILED" => "Subscription payment failed",
            _ => "Subscription changed",
        };
        Some(Effect::Emit(NewEvent {
            client_id: subscription.client_id.clone(),
            event_type,
            resource_type: "subscription",
            summary: summary.to_owned(),
            resource: self.subscription_json(state, subscription, OptionalFields::WEBHOOK),
        }))
    }

    /// `PAYMENT.SALE.COMPLETED`: the only event PayPal sends for a renewal (seed 002).
    pub(crate) fn sale_completed_event(&self, sale: &Sale) -> NewEvent {
        NewEvent {
            client_id: sale.client_id.clone(),
            event_type: "PAYMENT.SALE.COMPLETED",
            resource_type: "sale",
            summary: format!("Payment completed for {}", sale.total.summary()),
            resource: self.sale_json(sale),
        }
    }
}

fn is_current(state: &PaypalState, id: &str, generation: u64) -> bool {
    state.subscriptions.subscriptions.get(id).is_some_and(|subscription| {
        subscription.generation == generation && subscription.status == SubscriptionStatus::Active
    })
}

/// A copy of the terms the subscription bills by (its own override, or its plan's).
pub(crate) fn subscription_terms(state: &PaypalState, id: &str) -> Result<PlanTerms, ApiError> {
    let book = &state.subscriptions;
    let subscription = book.subscriptions.get(id).ok_or_else(|| not_found("subscription_id", id))?;
    terms_of(book, subscription).cloned().ok_or_else(|| not_found("plan_id", &subscription.plan_id))
}

fn reached_threshold(subscription: &Subscription, terms: &PlanTerms) -> bool {
    let threshold = terms.preferences.payment_failure_threshold;
    threshold > 0 && subscription.billing.failed_payments_count >= threshold
}

/// One more interval of the current cycle ran; a finite cycle that ran out hands over to the
/// next one.
fn advance_cycle(subscription: &mut Subscription, terms: &PlanTerms) {
    let progress = &mut subscription.billing;
    if progress.position >= terms.cycles.len() {
        return;
    }
    if let Some(completed) = progress.completed.get_mut(progress.position) {
        *completed += 1;
    }
    progress.steps += 1;
    hand_over_if_ran_out(progress, terms);
}

/// A finite billing cycle that ran all its cycles hands over to the next one, which starts where
/// its last interval ended.
fn hand_over_if_ran_out(progress: &mut BillingProgress, terms: &PlanTerms) {
    if let Some(cycle) = terms.cycles.get(progress.position)
        && !cycle.is_infinite()
        && progress.completed.get(progress.position).copied().unwrap_or(0) >= cycle.total_cycles
    {
        progress.segment_anchor =
            progress.segment_anchor.and_then(|anchor| cycle.frequency.after(anchor, progress.steps));
        progress.position += 1;
        progress.steps = 0;
    }
}

/// After the terms or the position in them changed: queued actions are dropped (new generation)
/// and an active subscription's next one is queued; any other only states its next billing time.
fn requeue(subscription: &mut Subscription, terms: &PlanTerms, drift: chrono::Duration, effects: &mut Vec<Effect>) {
    subscription.generation += 1;
    if subscription.status == SubscriptionStatus::Active {
        effects.push(Effect::Billing(next_due(subscription, terms, drift)));
    } else {
        set_next_billing_time(subscription, terms);
    }
}

/// The next billing time of the current cycle, or `None` once every cycle ran.
fn next_boundary(subscription: &Subscription, terms: &PlanTerms) -> Option<DateTime<Utc>> {
    let progress = &subscription.billing;
    let cycle = terms.cycles.get(progress.position)?;
    let anchor = progress.segment_anchor?;
    cycle.frequency.after(anchor, progress.steps).map(billing_instant)
}

fn set_next_billing_time(subscription: &mut Subscription, terms: &PlanTerms) {
    subscription.billing.next_billing_time = next_boundary(subscription, terms);
}

/// The next charge (stated time plus drift), or the expiry at the end of the last cycle.
fn next_due(subscription: &mut Subscription, terms: &PlanTerms, drift: chrono::Duration) -> Due {
    set_next_billing_time(subscription, terms);
    let subscription_id = subscription.id.clone();
    let generation = subscription.generation;
    match subscription.billing.next_billing_time {
        Some(next) => Due::Charge { subscription_id, generation, at: next + drift },
        None => {
            let end = subscription.billing.segment_anchor.map(billing_instant).unwrap_or(subscription.update_time);
            Due::Expire { subscription_id, generation, at: end }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::Percentage;
    use super::*;

    fn usd(minor: i64) -> super::super::super::amount::Amount {
        super::super::super::amount::Amount { currency: "USD", decimals: 2, minor }
    }

    fn taxes(percent: &str, thousandths: i64, inclusive: bool) -> Taxes {
        Taxes { percentage: Percentage { text: percent.to_owned(), thousandths }, inclusive }
    }

    #[test]
    fn exclusive_tax_is_added_on_top_and_rounded_half_up() {
        let charge = cycle_charge(1000, 1, Some(&taxes("10", 10_000, false)), 0, usd(0));
        assert_eq!((charge.subtotal_minor, charge.tax_minor, charge.total_minor()), (1000, 100, 1100));
        let odd = cycle_charge(999, 1, Some(&taxes("8.25", 8_250, false)), 0, usd(0));
        assert_eq!(odd.tax_minor, 82, "8.25% of 9.99 is 0.824");
    }

    #[test]
    fn inclusive_tax_is_carved_out_of_the_price() {
        let charge = cycle_charge(1100, 1, Some(&taxes("10", 10_000, true)), 0, usd(0));
        assert_eq!((charge.subtotal_minor, charge.tax_minor, charge.total_minor()), (1000, 100, 1100));
    }

    #[test]
    fn quantity_and_shipping_are_part_of_the_payment() {
        let charge = cycle_charge(250, 4, None, 500, usd(0));
        assert_eq!(charge.total_minor(), 1500);
    }
}
