//! Plans, subscriptions and the entitlements they grant.
//!
//! Subscription notifications are never applied on their own word: renewals arrive only as
//! PayPal `PAYMENT.SALE.COMPLETED`, events come out of order, and the stated next billing time
//! is hours early. So every notification, every command and every reconciler pass asks the
//! provider for the whole subscription and its charges, and applies that snapshot: new charges
//! become payments, the status moves, and the entitlement follows what was paid for.

use std::num::NonZeroU32;

use chrono::{DateTime, Duration, Utc};
use payhub_core::entitlement::Entitlement;
use payhub_core::id::{EntitlementId, PaymentId, PlanId, SubscriptionId};
use payhub_core::merchant::{AbsoluteUrl, MerchantText, Metadata, Reference};
use payhub_core::payment::{NextAction, Payment, PaymentStatus};
use payhub_core::schedule::next_subscription_check;
use payhub_core::subscription::{
    FailureThreshold, Plan, PlanBilling, PlanStatus, Subscription, SubscriptionChange, SubscriptionDetails,
    SubscriptionStatus, TaxRate,
};
use payhub_core::transition::Cause;
use payhub_core::{Currency, EventType, Mode, PositiveAmount, ProviderName};
use payhub_store::UnitOfWork;
use tracing::info;

use super::payments::check_currency_taken;
use super::{Reservation, ServiceError};
use crate::app::Hub;
use crate::providers::{
    BuyerAction, BuyerUrls, Capability, SubscriptionCharge, SubscriptionCommand, SubscriptionSnapshot,
};

/// A merchant's plan, every value valid in itself (parsed at the API's edge);
/// [`Hub::create_plan`] checks what depends on the provider.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub provider: ProviderName,
    pub name: PlanText,
    /// The plan's name when the merchant named no product.
    pub product: PlanText,
    pub description: Option<String>,
    pub currency: Currency,
    pub billing: PlanBilling,
    pub tax: TaxRate,
    pub payment_failure_threshold: FailureThreshold,
    pub entitlement: EntitlementName,
}

/// Names of plans and products: PayPal's 127 characters.
pub type PlanText = MerchantText<127>;
/// What a subscriber is entitled to (`premium`).
pub type EntitlementName = MerchantText<64>;

/// A merchant's subscription, every value valid in itself (parsed at the API's edge);
/// [`Hub::create_subscription`] checks that its plan exists and is active.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    pub plan_id: PlanId,
    pub customer_id: Reference,
    pub quantity: NonZeroU32,
    pub return_url: Option<AbsoluteUrl>,
    pub cancel_url: Option<AbsoluteUrl>,
    pub metadata: Metadata,
}

/// What a merchant changes about a subscription: another plan of its product, a quantity, or both.
#[derive(Debug, Clone)]
pub struct SubscriptionChangeRequest {
    pub plan_id: Option<PlanId>,
    pub quantity: Option<NonZeroU32>,
}

fn provider_error(resource_id: &str) -> impl Fn(crate::providers::ProviderError) -> ServiceError + '_ {
    move |error| ServiceError::Provider { error, resource_id: Some(resource_id.to_owned()) }
}

/// What became of a subscription payhub did not know when the provider told of it.
#[derive(Debug)]
pub enum Adoption {
    Adopted(Box<Subscription>),
    /// Not payhub's to adopt, and why.
    Unmatched(String),
    /// payhub's own, its creating request not committed yet: ask again later.
    Pending(String),
}

impl Hub {
    pub async fn create_plan(&self, mode: Mode, request: PlanRequest) -> Result<Plan, ServiceError> {
        let provider = self.provider_offering(mode, request.provider, Capability::Subscriptions)?;
        check_currency_taken(provider.as_ref(), request.currency)?;
        let (trial_cycles, regular_cycle, setup_fee) = request.billing.into_parts();
        let now = self.clock.now();
        let mut plan = Plan {
            id: PlanId::generate(&self.ids, now),
            mode,
            provider: provider.name(),
            name: request.name.into_string(),
            product: request.product.into_string(),
            description: request.description,
            status: PlanStatus::Active,
            currency: request.currency,
            trial_cycles,
            regular_cycle,
            setup_fee,
            tax_basis_points: request.tax.basis_points(),
            payment_failure_threshold: request.payment_failure_threshold.failures(),
            entitlement: request.entitlement.into_string(),
            provider_product_id: None,
            provider_plan_id: None,
            created_at: now,
            updated_at: now,
        };
        plan.provider_product_id =
            self.db.plan_of_product(mode, plan.provider, &plan.product).await?.and_then(|p| p.provider_product_id);
        let ids = provider.create_plan(&plan).await.map_err(provider_error(plan.id.as_str()))?;
        plan.provider_product_id = ids.product_id;
        plan.provider_plan_id = Some(ids.plan_id);
        let mut unit = self.begin(now, None).await?;
        unit.insert_plan(&plan).await?;
        unit.announce(EventType::PlanCreated, &plan).await?;
        self.commit(unit).await?;
        Ok(plan)
    }

    /// Activates or deactivates a plan (no new subscriptions on an inactive plan).
    pub async fn set_plan_active(&self, mode: Mode, id: &PlanId, active: bool) -> Result<Plan, ServiceError> {
        self.change_plan(mode, id, |plan| {
            plan.status = if active { PlanStatus::Active } else { PlanStatus::Inactive };
            Ok(())
        })
        .await
    }

    /// Changes the regular price; existing subscribers pay it from their next cycle.
    pub async fn change_plan_price(
        &self,
        mode: Mode,
        id: &PlanId,
        price: PositiveAmount,
    ) -> Result<Plan, ServiceError> {
        self.change_plan(mode, id, |plan| {
            plan.regular_cycle.price = price.minor_units();
            Ok(())
        })
        .await
    }

    async fn change_plan(
        &self,
        mode: Mode,
        id: &PlanId,
        change: impl FnOnce(&mut Plan) -> Result<(), ServiceError>,
    ) -> Result<Plan, ServiceError> {
        let mut plan = self
            .db
            .plan(mode, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "plan", id: id.to_string() })?;
        let before = plan.clone();
        change(&mut plan)?;
        let provider = self.provider(mode, plan.provider)?;
        if plan.status != before.status {
            provider
                .set_plan_active(&plan, plan.status == PlanStatus::Active)
                .await
                .map_err(provider_error(id.as_str()))?;
        }
        if plan.regular_cycle != before.regular_cycle {
            provider.update_plan_prices(&plan).await.map_err(provider_error(id.as_str()))?;
        }
        let now = self.clock.now();
        plan.updated_at = now;
        let mut unit = self.begin(now, None).await?;
        unit.update_plan(&plan).await?;
        unit.announce(EventType::PlanUpdated, &plan).await?;
        self.commit(unit).await?;
        Ok(plan)
    }

    pub async fn create_subscription(
        &self,
        mode: Mode,
        reservation: &Reservation,
        request: SubscriptionRequest,
    ) -> Result<Subscription, ServiceError> {
        let id = SubscriptionId::created_by(&reservation.request_id);
        if reservation.resumed
            && let Some(subscription) = self.db.subscription(mode, &id).await?
        {
            return Ok(subscription);
        }
        let plan =
            self.db.plan(mode, &request.plan_id).await?.ok_or_else(|| {
                ServiceError::invalid("plan_id", format!("no plan `{}` in this mode", request.plan_id))
            })?;
        if plan.status != PlanStatus::Active {
            return Err(ServiceError::invalid("plan_id", format!("plan {} is inactive; activate it first", plan.id)));
        }
        let provider = self.provider(mode, plan.provider)?;
        let now = self.clock.now();
        let details = SubscriptionDetails {
            customer_id: request.customer_id.into_string(),
            quantity: request.quantity.get(),
            return_url: request.return_url.map(AbsoluteUrl::into_string),
            cancel_url: request.cancel_url.map(AbsoluteUrl::into_string),
            metadata: request.metadata.into_map(),
        };
        let draft = Subscription::draft(id, mode, &plan, details, now);
        let urls = self.subscription_urls(&draft);
        let checkout =
            provider.create_subscription(&draft, &plan, &urls).await.map_err(provider_error(draft.id.as_str()))?;
        let approval = match checkout.buyer_action {
            BuyerAction::Redirect(url) => Some(NextAction::RedirectToUrl { redirect_url: url }),
            _ => None,
        };
        let mut created = draft.opened(checkout.provider_payment_id, approval, &Cause::Api);
        let subscription = created.resource_mut();
        subscription.next_check_at = next_subscription_check(subscription, now);
        let mut unit = self.begin(now, None).await?;
        unit.create_subscription(&created).await?;
        self.commit(unit).await?;
        Ok(created.into_resource())
    }

    fn subscription_urls(&self, subscription: &Subscription) -> BuyerUrls {
        let base = self.settings.public_url.trim_end_matches('/');
        BuyerUrls {
            return_url: format!("{base}/checkout/subscriptions/return?subscription={}", subscription.id),
            cancel_url: format!("{base}/checkout/subscriptions/cancel?subscription={}", subscription.id),
        }
    }

    /// Adopts a subscription payhub did not create, when it is on one of payhub's plans: a
    /// renewal of it must not be dropped, and its subscriber's entitlement must follow it.
    /// `Unmatched` when the subscription is not on any payhub plan.
    ///
    /// A subscription whose `custom_id` is a payhub id was created by payhub: the provider
    /// notified before the creating request committed its row. It is not adopted as a copy;
    /// the notification waits for that row. Only when `creator_overdue` (that request had all
    /// the time it needs, so it died between the provider call and its commit) is it adopted,
    /// under the id payhub gave it.
    pub async fn import_subscription(
        &self,
        mode: Mode,
        provider_name: ProviderName,
        provider_subscription_id: &str,
        creator_overdue: bool,
        cause: &Cause,
    ) -> Result<Adoption, ServiceError> {
        let provider = self.provider(mode, provider_name)?;
        let foreign = provider
            .find_subscription(provider_subscription_id)
            .await
            .map_err(provider_error(provider_subscription_id))?;
        let not_on_a_plan = || {
            Adoption::Unmatched(format!("{provider_name} subscription {provider_subscription_id} is on no payhub plan"))
        };
        let Some(provider_plan_id) = foreign.provider_plan_id else { return Ok(not_on_a_plan()) };
        let Some(plan) = self.db.plan_by_provider_id(mode, provider_name, &provider_plan_id).await? else {
            return Ok(not_on_a_plan());
        };
        let ours = foreign.custom_id.as_deref().and_then(|custom| SubscriptionId::parse(custom).ok());
        if let Some(id) = &ours
            && !creator_overdue
        {
            return Ok(Adoption::Pending(format!(
                "{provider_name} subscription {provider_subscription_id} is payhub's {id}, not committed yet"
            )));
        }
        // payhub's own custom_id is its subscription id, never the merchant's customer.
        let customer_id = foreign
            .custom_id
            .filter(|_| ours.is_none())
            .or_else(|| foreign.subscriber.map(|s| format!("{provider_name}:{s}")))
            .unwrap_or_else(|| format!("{provider_name}:{provider_subscription_id}"));
        let now = self.clock.now();
        let adopted = Subscription::adopt(
            ours.unwrap_or_else(|| SubscriptionId::generate(&self.ids, now)),
            &plan,
            customer_id,
            provider_subscription_id,
            cause,
            now,
        );
        let mut unit = self.begin(now, None).await?;
        unit.create_subscription(&adopted).await?;
        self.commit(unit).await?;
        let subscription = adopted.into_resource();
        info!(subscription = %subscription.id, provider_subscription_id, "adopted a subscription made outside payhub");
        Ok(Adoption::Adopted(Box::new(subscription)))
    }

    /// Asks the provider for the whole subscription and applies it.
    pub async fn sync_subscription(
        &self,
        subscription: &Subscription,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<Subscription, ServiceError> {
        let plan = self.plan_of(subscription).await?;
        let provider = self.provider(subscription.mode, subscription.provider)?;
        let fetched_at = self.clock.now();
        let snapshot = provider
            .fetch_subscription(subscription, &plan, fetched_at)
            .await
            .map_err(provider_error(subscription.id.as_str()))?;
        self.apply_subscription(&subscription.id, &plan, &snapshot, fetched_at, cause, inbox_id).await
    }

    async fn plan_of(&self, subscription: &Subscription) -> Result<Plan, ServiceError> {
        self.db
            .plan(subscription.mode, subscription.plan_id())
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "plan", id: subscription.plan_id().to_string() })
    }

    async fn apply_subscription(
        &self,
        id: &SubscriptionId,
        plan: &Plan,
        snapshot: &SubscriptionSnapshot,
        fetched_at: DateTime<Utc>,
        cause: &Cause,
        inbox_id: Option<i64>,
    ) -> Result<Subscription, ServiceError> {
        let now = self.clock.now();
        let grace = Duration::from_std(self.settings.entitlement_grace).unwrap_or(Duration::hours(24));
        let mut unit = self.begin(now, inbox_id).await?;
        let mut subscription = unit
            .lock_subscription(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "subscription", id: id.to_string() })?;
        // Read under the subscription's lock, which every recording of its charges takes.
        let recorded = self.db.subscription_payments(id).await?.len();
        let was = subscription.status();
        let Some(change) = subscription.apply_snapshot(&snapshot.facts, fetched_at, cause, now) else {
            // A newer snapshot was applied while this one was in flight.
            self.commit(unit).await?;
            return Ok(subscription);
        };
        let new_charges = record_new_charges(&mut unit, &subscription, &snapshot.charges, recorded, cause).await?;
        subscription.next_check_at = next_subscription_check(&subscription, now);
        unit.update_subscription(&mut subscription).await?;
        if let Some(moved) = &change.moved {
            unit.record(moved, &subscription).await?;
            let t = moved.transition();
            info!(subscription = %subscription.id, from = %t.from, to = %t.to, %cause, "subscription moved");
        }
        if change.payment_failed {
            unit.announce(EventType::SubscriptionPaymentFailed, &subscription).await?;
        }
        follow_entitlement(&mut unit, &subscription, plan, &change, new_charges, was, grace).await?;
        self.commit(unit).await?;
        Ok(subscription)
    }

    /// Cancels, suspends or resumes at the provider, then applies what the provider says.
    pub async fn command_subscription(
        &self,
        mode: Mode,
        id: &SubscriptionId,
        command: SubscriptionCommand,
        immediately: bool,
    ) -> Result<Subscription, ServiceError> {
        let subscription = self
            .db
            .subscription(mode, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "subscription", id: id.to_string() })?;
        use SubscriptionStatus::*;
        let allowed = match command {
            SubscriptionCommand::Cancel => !subscription.status().is_final(),
            SubscriptionCommand::Suspend => matches!(subscription.status(), Trialing | Active | PastDue),
            SubscriptionCommand::Resume => subscription.status() == Suspended,
        };
        if !allowed {
            let verb = match command {
                SubscriptionCommand::Cancel => "canceled",
                SubscriptionCommand::Suspend => "suspended",
                SubscriptionCommand::Resume => "resumed",
            };
            return Err(ServiceError::Conflict {
                message: format!(
                    "subscription {} is {}; it cannot be {verb}",
                    subscription.id,
                    subscription.status().as_str()
                ),
                status: subscription.status().as_str().into(),
            });
        }
        let provider = self.provider(mode, subscription.provider)?;
        provider.command_subscription(&subscription, command).await.map_err(provider_error(id.as_str()))?;
        let synced = self.sync_subscription(&subscription, &Cause::Api, None).await?;
        if command == SubscriptionCommand::Cancel && immediately {
            self.end_entitlement(&synced, self.clock.now(), "subscription canceled by the merchant").await?;
        }
        Ok(synced)
    }

    /// Moves a subscription to another plan and/or quantity at the provider.
    pub async fn change_subscription(
        &self,
        mode: Mode,
        id: &SubscriptionId,
        change: SubscriptionChangeRequest,
    ) -> Result<Subscription, ServiceError> {
        let subscription = self
            .db
            .subscription(mode, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "subscription", id: id.to_string() })?;
        if subscription.status().is_final() {
            return Err(ServiceError::Conflict {
                message: format!(
                    "subscription {} is {}; it can no longer change",
                    subscription.id,
                    subscription.status().as_str()
                ),
                status: subscription.status().as_str().into(),
            });
        }
        let plan = match &change.plan_id {
            Some(plan_id) => {
                self.db.plan(mode, plan_id).await?.filter(|p| p.status == PlanStatus::Active).ok_or_else(|| {
                    ServiceError::invalid("plan_id", format!("no active plan `{plan_id}` in this mode"))
                })?
            }
            None => self.plan_of(&subscription).await?,
        };
        let current = self.plan_of(&subscription).await?;
        if plan.product != current.product {
            return Err(ServiceError::invalid(
                "plan_id",
                format!(
                    "a subscription moves only between plans of its product `{}`; {} is of `{}`",
                    current.product, plan.id, plan.product
                ),
            ));
        }
        let quantity = change.quantity.map_or(subscription.quantity(), NonZeroU32::get);
        let provider = self.provider(mode, subscription.provider)?;
        let approval =
            provider.revise_subscription(&subscription, &plan, quantity).await.map_err(provider_error(id.as_str()))?;
        let now = self.clock.now();
        let mut unit = self.begin(now, None).await?;
        let mut locked = unit
            .lock_subscription(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "subscription", id: id.to_string() })?;
        let approval = approval.map(|url| NextAction::RedirectToUrl { redirect_url: url });
        let event = locked.revise(plan.id.clone(), quantity, approval, now);
        unit.update_subscription(&mut locked).await?;
        unit.announce(event, &locked).await?;
        self.commit(unit).await?;
        Ok(locked)
    }

    async fn end_entitlement(
        &self,
        subscription: &Subscription,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut unit = self.begin(now, None).await?;
        if let Some(mut entitlement) = unit.lock_entitlement_of(&subscription.id).await? {
            let event = entitlement.end_at(at, reason, now);
            unit.update_entitlement(&mut entitlement).await?;
            if let Some(event) = event {
                unit.announce(event, &entitlement).await?;
            }
        }
        self.commit(unit).await
    }

    /// Revokes the entitlement a fully refunded subscription payment paid for.
    pub async fn revoke_for_refund(&self, payment: &Payment) -> Result<(), ServiceError> {
        let Some(subscription_id) = &payment.subscription_id else { return Ok(()) };
        if payment.status() != PaymentStatus::Refunded {
            return Ok(());
        }
        let Some(subscription) = self.db.subscription(payment.mode, subscription_id).await? else {
            return Ok(());
        };
        // Only the payment for the current period takes the access away; refunding an old
        // renewal does not undo a newer one.
        let latest = self.db.subscription_payments(subscription_id).await?;
        if latest.first().map(|p| &p.id) != Some(&payment.id) {
            return Ok(());
        }
        self.end_entitlement(&subscription, self.clock.now(), &format!("payment {} was refunded", payment.id)).await
    }

    /// Revokes every entitlement whose time ran out; returns how many.
    pub async fn lapse_entitlements(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let due = self.db.lapsed_entitlements(now, 100).await?;
        let mut revoked = 0;
        for candidate in due {
            let mut unit = self.begin(now, None).await?;
            if let Some(mut entitlement) = unit.lock_entitlement(&candidate.id).await?
                && let Some(event) = entitlement.lapse(now)
            {
                unit.update_entitlement(&mut entitlement).await?;
                unit.announce(event, &entitlement).await?;
                revoked += 1;
                info!(entitlement = %entitlement.id, customer = %entitlement.customer_id, "entitlement lapsed");
            }
            self.commit(unit).await?;
        }
        Ok(revoked)
    }
}

/// Records each provider charge not seen before as a succeeded payment of the subscription
/// (`recorded` are already), announcing renewals. Returns how many were new.
///
/// Which charge renews is told by the charges themselves, never by the order notifications
/// arrived in (an activation applied before its first charge must not make that charge a
/// renewal): without a trial the first charge is the one made at approval; after a trial's end
/// every charge renews.
async fn record_new_charges(
    unit: &mut UnitOfWork<'_>,
    subscription: &Subscription,
    charges: &[SubscriptionCharge],
    recorded: usize,
    cause: &Cause,
) -> Result<u32, ServiceError> {
    let now = unit.now();
    let mut new = 0;
    let mut in_order: Vec<&SubscriptionCharge> = charges.iter().collect();
    in_order.sort_by_key(|charge| charge.at);
    for charge in in_order {
        if unit.lock_payment_by_provider_ref(subscription.provider, &charge.provider_id).await?.is_some() {
            continue;
        }
        let id = PaymentId::generate(unit.ids(), now);
        let payment =
            Payment::subscription_charge(id, subscription, &charge.provider_id, charge.amount, charge.at, cause, now);
        unit.create_payment(&payment).await?;
        let after_trial = subscription.trial_end().is_some_and(|end| charge.at >= end);
        if recorded + new as usize > 0 || after_trial {
            unit.announce(EventType::SubscriptionRenewed, subscription).await?;
        }
        new += 1;
    }
    Ok(new)
}

/// Keeps the subscription's entitlement in step: granted on activation, extended by each
/// charge (to the paid period's end plus grace), ended at the period end on cancel or expiry.
async fn follow_entitlement(
    unit: &mut UnitOfWork<'_>,
    subscription: &Subscription,
    plan: &Plan,
    change: &SubscriptionChange,
    new_charges: u32,
    was: SubscriptionStatus,
    grace: Duration,
) -> Result<(), ServiceError> {
    use SubscriptionStatus::*;
    let now = unit.now();
    let status = subscription.status();
    let existing = unit.lock_entitlement_of(&subscription.id).await?;
    let started = was == ApprovalPending && matches!(status, Trialing | Active | PastDue);
    let resumed = was == Suspended && matches!(status, Trialing | Active);
    let paid = new_charges > 0 && !status.is_final();
    let (event, entitlement) = match (existing, subscription.current_period_end()) {
        (None, Some(end)) if started || paid => {
            let granted = Entitlement::grant(
                EntitlementId::generate(unit.ids(), now),
                subscription.mode,
                &subscription.customer_id,
                &plan.entitlement,
                subscription.id.clone(),
                end + grace,
                now,
            );
            unit.create_entitlement(&granted).await?;
            return Ok(());
        }
        (Some(mut entitlement), Some(end)) if started || paid || resumed => {
            let event = entitlement.extend_to(end + grace, now);
            unit.update_entitlement(&mut entitlement).await?;
            (event, entitlement)
        }
        (Some(mut entitlement), end) if change.moved.is_some() && status.is_final() => {
            // Canceled or expired: access runs to the end of what was paid for, no grace.
            let reason = format!("subscription {}", status.as_str());
            let event = entitlement.end_at(end.unwrap_or(now), &reason, now);
            unit.update_entitlement(&mut entitlement).await?;
            (event, entitlement)
        }
        _ => return Ok(()),
    };
    if let Some(event) = event {
        unit.announce(event, &entitlement).await?;
    }
    Ok(())
}
