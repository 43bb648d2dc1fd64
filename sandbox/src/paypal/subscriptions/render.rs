//! Products, plans, subscriptions, sales and sale refunds as PayPal writes them.
//!
//! Amounts inside a subscription's `billing_info` (and its `shipping_amount`) are written the way
//! the subscriptions API writes them in seed 002's payloads: without trailing zeros but with one
//! decimal kept (`"10.0"`, `"0.0"`, `"1.15"`). Plans and v1 sales use the currency's decimals.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::super::amount::Amount;
use super::super::render::{link, put, text};
use super::super::state::PaypalState;
use super::super::{PaypalSimulator, paypal_time};
use super::model::{
    BillingCycle, Plan, PlanStatus, PlanTerms, PriceVersion, Product, Sale, SaleOrigin, SaleRefund, Subscription,
    SubscriptionBook, SubscriptionStatus, billing_instant,
};

/// A price change reaches existing subscriptions' payments only after this long.
pub const PRICE_CHANGE_NOTICE: Duration = Duration::days(10);

/// `{"currency_code", "value"}` in the subscriptions API's short form ("10.0").
pub fn billing_money(amount: Amount) -> Value {
    let full = amount.value();
    let value = match full.split_once('.') {
        Some((whole, fraction)) => {
            let trimmed = fraction.trim_end_matches('0');
            format!("{whole}.{}", if trimmed.is_empty() { "0" } else { trimmed })
        }
        None => full,
    };
    json!({ "currency_code": amount.currency, "value": value })
}

/// The v1 payments money shape `{"value", "currency"}` (fees, refund breakdowns).
pub fn v1_money(amount: Amount) -> Value {
    json!({ "value": amount.value(), "currency": amount.currency })
}

/// The price version a subscription pays at `at`: versions older than the subscription apply at
/// once, later ones after [`PRICE_CHANGE_NOTICE`] (PayPal: "payments within 10 days of price
/// change are not affected").
pub fn price_at(cycle: &BillingCycle, subscribed_at: DateTime<Utc>, at: DateTime<Utc>) -> &PriceVersion {
    cycle
        .prices
        .iter()
        .rev()
        .find(|version| {
            version.version == 1
                || version.create_time <= subscribed_at
                || version.create_time + PRICE_CHANGE_NOTICE <= at
        })
        .unwrap_or_else(|| cycle.latest())
}

/// The terms a subscription bills by: its own override, or its plan's.
pub fn terms_of<'a>(book: &'a SubscriptionBook, subscription: &'a Subscription) -> Option<&'a PlanTerms> {
    subscription.overridden_terms.as_ref().or_else(|| book.plans.get(&subscription.plan_id).map(|plan| &plan.terms))
}

impl PaypalSimulator {
    pub(crate) fn product_url(&self, id: &str) -> String {
        format!("{}/v1/catalogs/products/{id}", self.base_url())
    }

    pub(crate) fn plan_url(&self, id: &str) -> String {
        format!("{}/v1/billing/plans/{id}", self.base_url())
    }

    pub(crate) fn subscription_url(&self, id: &str) -> String {
        format!("{}/v1/billing/subscriptions/{id}", self.base_url())
    }

    pub(crate) fn sale_url(&self, id: &str) -> String {
        format!("{}/v1/payments/sale/{id}", self.base_url())
    }

    /// The buyer's consent page, where a subscription's `approve` link points.
    pub(crate) fn subscription_approval_url(&self, ba_token: &str) -> String {
        format!("{}/webapps/billing/subscriptions?ba_token={ba_token}", self.base_url())
    }

    pub(crate) fn product_json(&self, product: &Product) -> Value {
        let url = self.product_url(&product.id);
        let mut body = Map::new();
        body.insert("id".into(), json!(product.id));
        body.insert("name".into(), json!(product.name));
        put(&mut body, "description", text(&product.description));
        body.insert("type".into(), json!(product.kind.as_str()));
        put(&mut body, "category", text(&product.category));
        put(&mut body, "image_url", text(&product.image_url));
        put(&mut body, "home_url", text(&product.home_url));
        body.insert("create_time".into(), json!(paypal_time(product.create_time)));
        body.insert("update_time".into(), json!(paypal_time(product.update_time)));
        body.insert("links".into(), json!([link(url.clone(), "self", "GET"), link(url, "edit", "PATCH")]));
        Value::Object(body)
    }

    /// A product as `GET /v1/catalogs/products` lists it.
    pub(crate) fn product_summary_json(&self, product: &Product) -> Value {
        let mut body = Map::new();
        body.insert("id".into(), json!(product.id));
        body.insert("name".into(), json!(product.name));
        put(&mut body, "description", text(&product.description));
        body.insert("create_time".into(), json!(paypal_time(product.create_time)));
        body.insert("links".into(), json!([link(self.product_url(&product.id), "self", "GET")]));
        Value::Object(body)
    }

    fn plan_links(&self, plan: &Plan) -> Vec<Value> {
        let url = self.plan_url(&plan.id);
        let mut links = vec![link(url.clone(), "self", "GET"), link(url.clone(), "edit", "PATCH")];
        match plan.status {
            PlanStatus::Active => links.push(link(format!("{url}/deactivate"), "deactivate", "POST")),
            PlanStatus::Created | PlanStatus::Inactive => {
                links.push(link(format!("{url}/activate"), "activate", "POST"))
            }
        }
        links.push(link(format!("{url}/update-pricing-schemes"), "edit", "POST"));
        links
    }

    /// The minimal plan: what `POST /v1/billing/plans` answers without `Prefer:
    /// return=representation`, and what the list shows (seed 002's list).
    pub(crate) fn plan_summary_json(&self, plan: &Plan) -> Value {
        let mut body = plan_head(plan);
        body.insert("create_time".into(), json!(paypal_time(plan.create_time)));
        body.insert("links".into(), json!([link(self.plan_url(&plan.id), "self", "GET")]));
        Value::Object(body)
    }

    pub(crate) fn plan_json(&self, plan: &Plan) -> Value {
        let mut body = plan_head(plan);
        let cycles: Vec<Value> = plan.terms.cycles.iter().map(cycle_json).collect();
        body.insert("billing_cycles".into(), json!(cycles));
        let preferences = &plan.terms.preferences;
        let mut payment = Map::new();
        payment.insert("service_type".into(), json!("PREPAID"));
        payment.insert("auto_bill_outstanding".into(), json!(preferences.auto_bill_outstanding));
        put(&mut payment, "setup_fee", preferences.setup_fee.map(Amount::to_json));
        payment.insert("setup_fee_failure_action".into(), json!(preferences.setup_fee_failure_action.as_str()));
        payment.insert("payment_failure_threshold".into(), json!(preferences.payment_failure_threshold));
        body.insert("payment_preferences".into(), Value::Object(payment));
        put(
            &mut body,
            "taxes",
            plan.terms
                .taxes
                .as_ref()
                .map(|taxes| json!({ "percentage": taxes.percentage.text, "inclusive": taxes.inclusive })),
        );
        body.insert("quantity_supported".into(), json!(plan.quantity_supported));
        body.insert("create_time".into(), json!(paypal_time(plan.create_time)));
        body.insert("update_time".into(), json!(paypal_time(plan.update_time)));
        body.insert("links".into(), json!(self.plan_links(plan)));
        Value::Object(body)
    }

    fn subscription_links(&self, subscription: &Subscription) -> Vec<Value> {
        let url = self.subscription_url(&subscription.id);
        let with_type = |href: String, rel: &str, method: &str| {
            let mut link = link(href, rel, method);
            link["encType"] = json!("application/json");
            link
        };
        match subscription.status {
            SubscriptionStatus::ApprovalPending => vec![
                link(self.subscription_approval_url(&subscription.ba_token), "approve", "GET"),
                link(url.clone(), "edit", "PATCH"),
                link(url, "self", "GET"),
            ],
            SubscriptionStatus::Approved => vec![
                with_type(format!("{url}/activate"), "activate", "POST"),
                with_type(url.clone(), "edit", "PATCH"),
                with_type(url, "self", "GET"),
            ],
            SubscriptionStatus::Active => vec![
                with_type(format!("{url}/cancel"), "cancel", "POST"),
                with_type(url.clone(), "edit", "PATCH"),
                with_type(url.clone(), "self", "GET"),
                with_type(format!("{url}/suspend"), "suspend", "POST"),
                with_type(format!("{url}/capture"), "capture", "POST"),
            ],
            SubscriptionStatus::Suspended => vec![
                with_type(format!("{url}/cancel"), "cancel", "POST"),
                with_type(format!("{url}/activate"), "activate", "POST"),
                with_type(url.clone(), "edit", "PATCH"),
                with_type(url.clone(), "self", "GET"),
                with_type(format!("{url}/capture"), "capture", "POST"),
            ],
            SubscriptionStatus::Cancelled | SubscriptionStatus::Expired => {
                vec![with_type(url, "self", "GET")]
            }
        }
    }

    /// What `POST /v1/billing/subscriptions` answers without `Prefer: return=representation`.
    pub(crate) fn subscription_created_minimal(&self, subscription: &Subscription) -> Value {
        json!({
            "id": subscription.id,
            "status": subscription.status.as_str(),
            "status_update_time": paypal_time(subscription.status_update_time),
            "create_time": paypal_time(subscription.create_time),
            "links": self.subscription_links(subscription),
        })
    }

    /// The subscription, as `GET /v1/billing/subscriptions/{id}` (with the `fields` asked for)
    /// and the `BILLING.SUBSCRIPTION.*` webhooks show it.
    pub(crate) fn subscription_json(
        &self,
        state: &PaypalState,
        subscription: &Subscription,
        fields: OptionalFields,
    ) -> Value {
        let book = &state.subscriptions;
        let mut body = Map::new();
        body.insert("id".into(), json!(subscription.id));
        body.insert("plan_id".into(), json!(subscription.plan_id));
        body.insert("start_time".into(), json!(paypal_time(subscription.start_time)));
        body.insert("quantity".into(), json!(subscription.billed_quantity().to_string()));
        put(&mut body, "shipping_amount", subscription.shipping_amount.map(billing_money));
        body.insert("subscriber".into(), subscription.subscriber.clone());
        if subscription.approved
            && let Some(terms) = terms_of(book, subscription)
            && let Some(unit) = currency_unit(terms)
        {
            body.insert("billing_info".into(), self.billing_info_json(subscription, terms, unit, fields));
        }
        if fields.plan
            && let Some(plan) = book.plans.get(&subscription.plan_id)
        {
            body.insert("plan".into(), self.plan_json(plan));
        }
        body.insert("create_time".into(), json!(paypal_time(subscription.create_time)));
        body.insert("update_time".into(), json!(paypal_time(subscription.update_time)));
        put(&mut body, "custom_id", text(&subscription.custom_id));
        body.insert("plan_overridden".into(), json!(subscription.overridden_terms.is_some()));
        body.insert("links".into(), json!(self.subscription_links(subscription)));
        body.insert("status".into(), json!(subscription.status.as_str()));
        put(&mut body, "status_change_note", text(&subscription.status_change_note));
        body.insert("status_update_time".into(), json!(paypal_time(subscription.status_update_time)));
        Value::Object(body)
    }

    fn billing_info_json(
        &self,
        subscription: &Subscription,
        terms: &PlanTerms,
        unit: Amount,
        fields: OptionalFields,
    ) -> Value {
        let progress = &subscription.billing;
        let money = |minor: i64| billing_money(unit.with_minor(minor));
        let now = self.now();
        let executions: Vec<Value> = terms
            .cycles
            .iter()
            .enumerate()
            .map(|(index, cycle)| {
                let completed = progress.completed.get(index).copied().unwrap_or(0);
                json!({
                    "tenure_type": cycle.tenure.as_str(),
                    "sequence": cycle.sequence,
                    "cycles_completed": completed,
                    "cycles_remaining": if cycle.is_infinite() { 0 } else { cycle.total_cycles.saturating_sub(completed) },
                    "current_pricing_scheme_version": price_at(cycle, subscription.create_time, now).version,
                    "total_cycles": cycle.total_cycles,
                })
            })
            .collect();
        let mut body = Map::new();
        body.insert("outstanding_balance".into(), money(progress.outstanding_minor));
        body.insert("cycle_executions".into(), json!(executions));
        put(
            &mut body,
            "last_payment",
            progress.last_payment.map(|(minor, time)| json!({ "amount": money(minor), "time": paypal_time(time) })),
        );
        let billing_continues =
            matches!(subscription.status, SubscriptionStatus::Active | SubscriptionStatus::Suspended);
        put(
            &mut body,
            "next_billing_time",
            progress.next_billing_time.filter(|_| billing_continues).map(|time| json!(paypal_time(time))),
        );
        put(
            &mut body,
            "final_payment_time",
            final_payment_time(subscription, terms).map(|time| json!(paypal_time(time))),
        );
        body.insert("failed_payments_count".into(), json!(progress.failed_payments_count));
        put(
            &mut body,
            "last_failed_payment",
            progress.last_failed_payment.as_ref().filter(|_| fields.last_failed_payment).map(|failed| {
                json!({
                    "amount": money(failed.minor),
                    "time": paypal_time(failed.time),
                    "reason_code": failed.reason.as_str(),
                })
            }),
        );
        Value::Object(body)
    }

    /// A v1 sale, as `GET /v1/payments/sale/{id}` and `PAYMENT.SALE.*` webhooks show it (seed 002).
    pub(crate) fn sale_json(&self, sale: &Sale) -> Value {
        let url = self.sale_url(&sale.id);
        let mut details = Map::new();
        details.insert("subtotal".into(), json!(sale.total.with_minor(sale.subtotal_minor).value()));
        if sale.tax_minor > 0 {
            details.insert("tax".into(), json!(sale.total.with_minor(sale.tax_minor).value()));
        }
        if sale.shipping_minor > 0 {
            details.insert("shipping".into(), json!(sale.total.with_minor(sale.shipping_minor).value()));
        }
        let mut body = Map::new();
        body.insert("id".into(), json!(sale.id));
        body.insert("state".into(), json!(sale.state.as_str()));
        if let Some(reason) = sale.pending_reason {
            body.insert("reason_code".into(), json!(reason.reason_code()));
        }
        body.insert(
            "amount".into(),
            json!({ "total": sale.total.value(), "currency": sale.total.currency, "details": details }),
        );
        body.insert("payment_mode".into(), json!("INSTANT_TRANSFER"));
        body.insert("protection_eligibility".into(), json!("ELIGIBLE"));
        body.insert(
            "protection_eligibility_type".into(),
            json!("ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE"),
        );
        body.insert("transaction_fee".into(), v1_money(sale.total.with_minor(sale.fee_minor)));
        put(&mut body, "custom", text(&sale.custom));
        let mut links = vec![link(url.clone(), "self", "GET"), link(format!("{url}/refund"), "refund", "POST")];
        match &sale.origin {
            SaleOrigin::Subscription(subscription_id) => {
                body.insert("billing_agreement_id".into(), json!(subscription_id));
                body.insert("invoice_number".into(), json!(""));
            }
            SaleOrigin::Payment { payment_id, invoice_number } => {
                body.insert("parent_payment".into(), json!(payment_id));
                put(&mut body, "invoice_number", text(invoice_number));
                links.push(link(self.v1_payment_url(payment_id), "parent_payment", "GET"));
            }
        }
        body.insert("create_time".into(), json!(paypal_time(sale.create_time)));
        body.insert("update_time".into(), json!(paypal_time(sale.update_time)));
        body.insert("links".into(), Value::Array(links));
        Value::Object(body)
    }

    /// A v1 sale refund, as `POST …/sale/{id}/refund` answers and `PAYMENT.SALE.REFUNDED` shows.
    pub(crate) fn sale_refund_json(&self, refund: &SaleRefund) -> Value {
        let fee = refund.amount.with_minor(refund.fee_refunded_minor);
        let received = refund.amount.with_minor(refund.amount.minor - refund.fee_refunded_minor);
        let total = refund.amount.with_minor(refund.total_refunded_minor);
        let mut body = Map::new();
        body.insert("id".into(), json!(refund.id));
        body.insert("state".into(), json!("completed"));
        body.insert("amount".into(), json!({ "total": refund.amount.value(), "currency": refund.amount.currency }));
        body.insert("refund_from_received_amount".into(), v1_money(received));
        body.insert("refund_from_transaction_fee".into(), v1_money(fee));
        body.insert("total_refunded_amount".into(), v1_money(total));
        body.insert("sale_id".into(), json!(refund.sale_id));
        put(&mut body, "invoice_number", text(&refund.invoice_number));
        put(&mut body, "description", text(&refund.description));
        put(&mut body, "reason", text(&refund.reason));
        body.insert("create_time".into(), json!(paypal_time(refund.create_time)));
        body.insert("update_time".into(), json!(paypal_time(refund.create_time)));
        body.insert(
            "links".into(),
            json!([
                link(format!("{}/v1/payments/refund/{}", self.base_url(), refund.id), "self", "GET"),
                link(self.sale_url(&refund.sale_id), "sale", "GET"),
            ]),
        );
        Value::Object(body)
    }

    /// One entry of `GET /v1/billing/subscriptions/{id}/transactions`.
    pub(crate) fn transaction_json(&self, sale: &Sale) -> Value {
        let parties = self.parties();
        let status = match sale.state {
            super::model::SaleState::Completed => "COMPLETED",
            super::model::SaleState::PartiallyRefunded => "PARTIALLY_REFUNDED",
            super::model::SaleState::Refunded => "REFUNDED",
            super::model::SaleState::Pending => "PENDING",
            super::model::SaleState::Denied => "DECLINED",
        };
        json!({
            "status": status,
            "id": sale.id,
            "amount_with_breakdown": {
                "gross_amount": sale.total.to_json(),
                "fee_amount": sale.total.with_minor(sale.fee_minor).to_json(),
                "net_amount": sale.total.with_minor(sale.total.minor - sale.fee_minor).to_json(),
            },
            "payer_name": { "given_name": parties.payer_given_name, "surname": parties.payer_surname },
            "payer_email": parties.payer_email,
            "time": paypal_time(sale.create_time),
        })
    }
}

/// The fields the minimal and the whole plan open with.
fn plan_head(plan: &Plan) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("id".into(), json!(plan.id));
    body.insert("product_id".into(), json!(plan.product_id));
    body.insert("name".into(), json!(plan.name));
    body.insert("status".into(), json!(plan.status.as_str()));
    put(&mut body, "description", text(&plan.description));
    body.insert("usage_type".into(), json!("LICENSED"));
    body
}

/// Any amount of the terms, for its currency and decimals.
pub fn currency_unit(terms: &PlanTerms) -> Option<Amount> {
    terms.cycles.iter().find_map(|cycle| cycle.latest().price).or(terms.preferences.setup_fee)
}

fn cycle_json(cycle: &BillingCycle) -> Value {
    let version = cycle.latest();
    let mut scheme = Map::new();
    scheme.insert("version".into(), json!(version.version));
    put(&mut scheme, "fixed_price", version.price.map(Amount::to_json));
    scheme.insert("create_time".into(), json!(paypal_time(cycle.prices[0].create_time)));
    scheme.insert("update_time".into(), json!(paypal_time(version.create_time)));
    json!({
        "frequency": { "interval_unit": cycle.frequency.unit.as_str(), "interval_count": cycle.frequency.count },
        "tenure_type": cycle.tenure.as_str(),
        "sequence": cycle.sequence,
        "total_cycles": cycle.total_cycles,
        "pricing_scheme": scheme,
    })
}

/// When the last payment falls, if every remaining billing cycle is finite.
pub fn final_payment_time(subscription: &Subscription, terms: &PlanTerms) -> Option<DateTime<Utc>> {
    let progress = &subscription.billing;
    let mut anchor = progress.segment_anchor?;
    let mut steps = progress.steps;
    let mut last = None;
    for (index, cycle) in terms.cycles.iter().enumerate().skip(progress.position) {
        if cycle.is_infinite() {
            return None;
        }
        let completed = progress.completed.get(index).copied().unwrap_or(0);
        let remaining = cycle.total_cycles.saturating_sub(completed);
        if remaining > 0 {
            last = cycle.frequency.after(anchor, steps + remaining - 1);
        }
        anchor = cycle.frequency.after(anchor, steps + remaining)?;
        steps = 0;
    }
    last.map(billing_instant).or_else(|| progress.last_payment.map(|(_, time)| time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paypal::subscriptions::model::{Frequency, IntervalUnit, TenureType};

    fn usd(minor: i64) -> Amount {
        Amount { currency: "USD", decimals: 2, minor }
    }

    #[test]
    fn billing_amounts_drop_trailing_zeros_but_keep_one_decimal_as_paypal_writes_them() {
        assert_eq!(billing_money(usd(1000))["value"], "10.0");
        assert_eq!(billing_money(usd(0))["value"], "0.0");
        assert_eq!(billing_money(usd(115))["value"], "1.15");
        assert_eq!(billing_money(usd(99))["value"], "0.99");
        let yen = Amount { currency: "JPY", decimals: 0, minor: 500 };
        assert_eq!(billing_money(yen)["value"], "500");
    }

    #[test]
    fn a_price_change_reaches_existing_subscribers_ten_days_later_and_new_ones_at_once() {
        let start = Utc::now();
        let changed = start + Duration::days(30);
        let cycle = BillingCycle {
            tenure: TenureType::Regular,
            sequence: 1,
            frequency: Frequency { unit: IntervalUnit::Month, count: 1 },
            total_cycles: 0,
            prices: vec![
                PriceVersion { version: 1, price: Some(usd(500)), create_time: start },
                PriceVersion { version: 2, price: Some(usd(700)), create_time: changed },
            ],
        };
        assert_eq!(price_at(&cycle, start, changed + Duration::days(9)).version, 1);
        assert_eq!(price_at(&cycle, start, changed + Duration::days(10)).version, 2);
        assert_eq!(price_at(&cycle, changed + Duration::days(1), changed + Duration::days(1)).version, 2);
    }
}

/// What PayPal leaves out of a subscription unless `fields` names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionalFields {
    /// `billing_info.last_failed_payment`.
    pub last_failed_payment: bool,
    /// The plan, whole.
    pub plan: bool,
}

impl OptionalFields {
    /// What the `BILLING.SUBSCRIPTION.*` webhooks carry: the failed payment that a
    /// `…PAYMENT.FAILED` is about, not the plan.
    pub const WEBHOOK: Self = Self { last_failed_payment: true, plan: false };

    /// `fields=last_failed_payment,plan` (PayPal's only two, 1 to 100 characters); `None` when a
    /// name is not one of them.
    pub fn parse(fields: &str) -> Option<Self> {
        if fields.is_empty() || fields.len() > 100 {
            return None;
        }
        fields.split(',').map(str::trim).try_fold(Self::default(), |chosen, name| match name {
            "last_failed_payment" => Some(Self { last_failed_payment: true, ..chosen }),
            "plan" => Some(Self { plan: true, ..chosen }),
            _ => None,
        })
    }
}
