//! PayPal subscriptions: payhub's plans become a PayPal product and plan, subscriptions are
//! approved by the buyer at PayPal, and a subscription's truth is its PayPal object plus its
//! transactions (renewals arrive only as `PAYMENT.SALE.COMPLETED`, so they are counted here).

use chrono::{DateTime, Duration, Utc};
use payhub_core::Money;
use payhub_core::subscription::{
    BillingCycle, IntervalUnit, Plan, Subscription, SubscriptionFacts, SubscriptionStatus,
};
use payhub_paypal::{
    BillingCycle as PaypalCycle, CaptureStatus, CreatePlanRequest, CreateProductRequest, CreateSubscriptionRequest,
    Frequency, IntervalUnit as PaypalUnit, PaymentPreferences, PaypalClient, PricingScheme, PricingSchemeUpdate,
    ReviseSubscriptionRequest, Subscription as PaypalSubscription, SubscriptionApplicationContext,
    SubscriptionStatus as PaypalStatus, Taxes, TenureType,
};

use super::mapping::{from_paypal_amount, to_paypal_amount};
use super::provider_error;
use crate::providers::{
    BuyerAction, BuyerUrls, Checkout, ProviderError, ProviderPlan, SubscriptionCharge, SubscriptionCommand,
    SubscriptionSnapshot,
};

fn protocol(detail: String) -> ProviderError {
    ProviderError::Protocol { provider: payhub_core::ProviderName::Paypal, detail }
}

fn amount(plan: &Plan, minor: i64) -> Result<payhub_paypal::Amount, ProviderError> {
    to_paypal_amount(&Money::new(minor, plan.currency)).map_err(protocol)
}

fn frequency(cycle: &BillingCycle) -> Frequency {
    let unit = match cycle.interval_unit {
        IntervalUnit::Day => PaypalUnit::Day,
        IntervalUnit::Week => PaypalUnit::Week,
        IntervalUnit::Month => PaypalUnit::Month,
        IntervalUnit::Year => PaypalUnit::Year,
    };
    Frequency::new(unit, cycle.interval_count)
}

/// The plan's cycles in PayPal's terms: trials first (sequence 1, 2), then the regular cycle.
fn billing_cycles(plan: &Plan) -> Result<Vec<PaypalCycle>, ProviderError> {
    let mut cycles = Vec::new();
    for (i, trial) in plan.trial_cycles.iter().enumerate() {
        let price = if trial.price > 0 { Some(amount(plan, trial.price)?) } else { None };
        cycles.push(PaypalCycle::trial(i as u32 + 1, frequency(trial), trial.total_cycles, price));
    }
    let sequence = plan.trial_cycles.len() as u32 + 1;
    let regular = &plan.regular_cycle;
    cycles.push(PaypalCycle::regular(sequence, frequency(regular), regular.total_cycles, amount(plan, regular.price)?));
    Ok(cycles)
}

fn percentage(basis_points: u32) -> String {
    let (whole, fraction) = (basis_points / 100, basis_points % 100);
    if fraction == 0 { whole.to_string() } else { format!("{whole}.{fraction:02}") }
}

pub async fn create_plan(client: &PaypalClient, plan: &Plan) -> Result<ProviderPlan, ProviderError> {
    let product_id = match &plan.provider_product_id {
        Some(id) => id.clone(),
        None => {
            let mut product = CreateProductRequest::new(&plan.product, "SERVICE");
            product.description = plan.description.clone();
            client.create_product(&format!("product-{}", plan.id), &product).await.map_err(provider_error)?.id
        }
    };
    let request = CreatePlanRequest {
        product_id: product_id.clone(),
        name: plan.name.clone(),
        billing_cycles: billing_cycles(plan)?,
        payment_preferences: PaymentPreferences {
            auto_bill_outstanding: Some(true),
            setup_fee: if plan.setup_fee > 0 { Some(amount(plan, plan.setup_fee)?) } else { None },
            setup_fee_failure_action: Some("CONTINUE".into()),
            payment_failure_threshold: Some(plan.payment_failure_threshold),
        },
        description: plan.description.clone(),
        status: Some(payhub_paypal::PlanStatus::Active),
        taxes: (plan.tax_basis_points > 0)
            .then(|| Taxes { percentage: percentage(plan.tax_basis_points), inclusive: Some(false) }),
        quantity_supported: Some(true),
    };
    let created = client.create_plan(&format!("plan-{}", plan.id), &request).await.map_err(provider_error)?;
    Ok(ProviderPlan { product_id: Some(product_id), plan_id: created.id })
}

fn plan_id(plan: &Plan) -> Result<&str, ProviderError> {
    plan.provider_plan_id.as_deref().ok_or_else(|| protocol(format!("plan {} has no PayPal plan", plan.id)))
}

fn subscription_id(subscription: &Subscription) -> Result<&str, ProviderError> {
    subscription
        .provider_subscription_id()
        .ok_or_else(|| protocol(format!("subscription {} has no PayPal subscription", subscription.id)))
}

pub async fn set_plan_active(client: &PaypalClient, plan: &Plan, active: bool) -> Result<(), ProviderError> {
    let id = plan_id(plan)?;
    let request_id = format!(
        "{}-{}-{}",
        if active { "activate" } else { "deactivate" },
        plan.id,
        plan.updated_at.timestamp_millis()
    );
    let outcome = if active {
        client.activate_plan(&request_id, id).await
    } else {
        client.deactivate_plan(&request_id, id).await
    };
    outcome.map_err(provider_error)
}

pub async fn update_plan_prices(client: &PaypalClient, plan: &Plan) -> Result<(), ProviderError> {
    let sequence = plan.trial_cycles.len() as u32 + 1;
    let update = PricingSchemeUpdate {
        billing_cycle_sequence: sequence,
        pricing_scheme: PricingScheme::fixed(amount(plan, plan.regular_cycle.price)?),
    };
    let request_id = format!("pricing-{}-{}", plan.id, plan.regular_cycle.price);
    client.update_plan_pricing(&request_id, plan_id(plan)?, &[update]).await.map_err(provider_error)
}

pub async fn create_subscription(
    client: &PaypalClient,
    subscription: &Subscription,
    plan: &Plan,
    urls: &BuyerUrls,
) -> Result<Checkout, ProviderError> {
    let request = CreateSubscriptionRequest {
        plan_id: plan_id(plan)?.to_owned(),
        quantity: (subscription.quantity() > 1).then(|| subscription.quantity().to_string()),
        // Echoed on the subscription: ties it to payhub's even if it was found another way.
        custom_id: Some(subscription.id.to_string()),
        application_context: Some(SubscriptionApplicationContext {
            return_url: urls.return_url.clone(),
            cancel_url: urls.cancel_url.clone(),
            user_action: Some("SUBSCRIBE_NOW".into()),
            shipping_preference: Some("NO_SHIPPING".into()),
            ..SubscriptionApplicationContext::default()
        }),
        ..CreateSubscriptionRequest::default()
    };
    let created = client.create_subscription(subscription.id.as_str(), &request).await.map_err(provider_error)?;
    let approve = created
        .approval_url()
        .map(str::to_owned)
        .ok_or_else(|| protocol(format!("subscription {} came without an approve link", created.id)))?;
    Ok(Checkout { provider_payment_id: created.id, capture_id: None, buyer_action: BuyerAction::Redirect(approve) })
}

pub async fn fetch_subscription(
    client: &PaypalClient,
    subscription: &Subscription,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<SubscriptionSnapshot, ProviderError> {
    let id = subscription_id(subscription)?;
    // Transactions first, then the subscription: a renewal charged between the two calls is
    // then seen with the next billing time that follows it (at worst on the next sync),
    // never paired with the billing time before it — which would grant too short a period.
    // PayPal answers transactions for a window; a day either side covers clock skew.
    let since = subscription.created_at - Duration::days(1);
    let transactions =
        client.subscription_transactions(id, since, now + Duration::days(1)).await.map_err(provider_error)?;
    let remote = client.get_subscription(id).await.map_err(provider_error)?;
    let mut charges = Vec::new();
    for transaction in transactions.transactions {
        let completed = matches!(
            transaction.status,
            Some(CaptureStatus::Completed | CaptureStatus::PartiallyRefunded | CaptureStatus::Refunded)
        );
        let gross = transaction.amount_with_breakdown.as_ref().and_then(|b| b.gross_amount.as_ref());
        let (Some(gross), true) = (gross, completed) else { continue };
        let amount = from_paypal_amount(gross).map_err(protocol)?;
        let at = transaction.time.as_deref().and_then(parse_time).unwrap_or(now);
        charges.push(SubscriptionCharge { provider_id: transaction.id, amount, at });
    }
    charges.sort_by_key(|c| c.at);
    Ok(SubscriptionSnapshot { facts: facts(&remote, plan, charges.len() as u32), charges })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// PayPal's subscription in payhub's terms. PayPal has no "trialing" or "past due": a
/// subscription is trialing while no regular cycle has completed (and the plan has a trial),
/// and past due while it is active with failed payments outstanding.
pub fn facts(remote: &PaypalSubscription, plan: &Plan, payments_count: u32) -> SubscriptionFacts {
    let billing = remote.billing_info.clone().unwrap_or_default();
    let regular_completed = billing
        .cycle_executions
        .iter()
        .filter(|c| c.tenure_type == TenureType::Regular)
        .map(|c| c.cycles_completed)
        .sum::<u32>();
    let next_billing_time = billing.next_billing_time.as_deref().and_then(parse_time);
    let in_trial = !plan.trial_cycles.is_empty() && regular_completed == 0;
    let status = match &remote.status {
        PaypalStatus::ApprovalPending | PaypalStatus::Approved => SubscriptionStatus::ApprovalPending,
        PaypalStatus::Active if billing.failed_payments_count > 0 => SubscriptionStatus::PastDue,
        PaypalStatus::Active if in_trial => SubscriptionStatus::Trialing,
        PaypalStatus::Active => SubscriptionStatus::Active,
        PaypalStatus::Suspended => SubscriptionStatus::Suspended,
        PaypalStatus::Cancelled => SubscriptionStatus::Canceled,
        PaypalStatus::Expired => SubscriptionStatus::Expired,
        PaypalStatus::Other(_) => SubscriptionStatus::ApprovalPending,
    };
    let last_payment = billing.last_payment.as_ref().and_then(|p| {
        let amount = from_paypal_amount(p.amount.as_ref()?).ok()?;
        Some((amount, parse_time(p.time.as_deref()?)?))
    });
    SubscriptionFacts {
        status,
        next_billing_time,
        trial_end: if in_trial { next_billing_time } else { None },
        failed_payments: billing.failed_payments_count,
        payments_count,
        last_payment,
    }
}

pub async fn command(
    client: &PaypalClient,
    subscription: &Subscription,
    command: SubscriptionCommand,
) -> Result<(), ProviderError> {
    let id = subscription_id(subscription)?;
    // One request id per command and state, so a retry after a timeout is not a second command.
    let request_id = format!("{command:?}-{}-{}", subscription.id, subscription.version()).to_lowercase();
    let outcome = match command {
        SubscriptionCommand::Cancel => client.cancel_subscription(&request_id, id, "Canceled by the merchant").await,
        SubscriptionCommand::Suspend => client.suspend_subscription(&request_id, id, "Suspended by the merchant").await,
        SubscriptionCommand::Resume => client.activate_subscription(&request_id, id, "Resumed by the merchant").await,
    };
    outcome.map_err(provider_error)
}

pub async fn revise(
    client: &PaypalClient,
    subscription: &Subscription,
    plan: &Plan,
    quantity: u32,
) -> Result<Option<String>, ProviderError> {
    let id = subscription_id(subscription)?;
    let request = ReviseSubscriptionRequest {
        plan_id: Some(plan_id(plan)?.to_owned()),
        quantity: Some(quantity.to_string()),
        ..ReviseSubscriptionRequest::default()
    };
    let request_id = format!("revise-{}-{}-{quantity}", subscription.id, plan.id);
    let revised = client.revise_subscription(&request_id, id, &request).await.map_err(provider_error)?;
    Ok(revised.approval_url().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_percentages_are_written_as_paypal_expects() {
        assert_eq!(percentage(1000), "10");
        assert_eq!(percentage(750), "7.50");
        assert_eq!(percentage(5), "0.05");
    }
}
