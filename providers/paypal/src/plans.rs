//! Subscriptions v1 plans: what is billed, how often and how many times.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::types::{Amount, Link, wire_enum};

wire_enum! {
    /// `Plan.status`. Subscriptions can only be created for an `ACTIVE` plan.
    pub enum PlanStatus {
        Created => "CREATED",
        Inactive => "INACTIVE",
        Active => "ACTIVE",
    }
}

wire_enum! {
    /// `billing_cycles[].tenure_type`: up to two trials, then one regular cycle.
    pub enum TenureType {
        Trial => "TRIAL",
        Regular => "REGULAR",
    }
}

wire_enum! {
    /// `frequency.interval_unit`.
    pub enum IntervalUnit {
        Day => "DAY",
        Week => "WEEK",
        Month => "MONTH",
        Year => "YEAR",
    }
}

fn one() -> u32 {
    1
}

/// How often a cycle bills: every `interval_count` `interval_unit`s (at most a year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frequency {
    pub interval_unit: IntervalUnit,
    #[serde(default = "one")]
    pub interval_count: u32,
}

impl Frequency {
    pub fn new(interval_unit: IntervalUnit, interval_count: u32) -> Self {
        Self { interval_unit, interval_count }
    }
}

/// A cycle's price. A free trial has no `fixed_price` (or a zero one).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingScheme {
    pub fixed_price: Option<Amount>,
    /// Bumped by every price change; read-only.
    pub version: Option<u32>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl PricingScheme {
    pub fn fixed(price: Amount) -> Self {
        Self { fixed_price: Some(price), ..Self::default() }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingCycle {
    pub frequency: Frequency,
    pub tenure_type: TenureType,
    /// The order the cycles run in: 1, 2, 3, trials first.
    pub sequence: u32,
    /// How many times the cycle runs; 0 for a regular cycle that runs until cancelled.
    pub total_cycles: Option<u32>,
    pub pricing_scheme: Option<PricingScheme>,
}

impl BillingCycle {
    /// A trial of `total_cycles` cycles, free when `price` is `None`.
    pub fn trial(sequence: u32, frequency: Frequency, total_cycles: u32, price: Option<Amount>) -> Self {
        Self {
            frequency,
            tenure_type: TenureType::Trial,
            sequence,
            total_cycles: Some(total_cycles),
            pricing_scheme: price.map(PricingScheme::fixed),
        }
    }

    /// The regular cycle; `total_cycles` 0 bills until the subscription is cancelled.
    pub fn regular(sequence: u32, frequency: Frequency, total_cycles: u32, price: Amount) -> Self {
        Self {
            frequency,
            tenure_type: TenureType::Regular,
            sequence,
            total_cycles: Some(total_cycles),
            pricing_scheme: Some(PricingScheme::fixed(price)),
        }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPreferences {
    /// Whether a failed payment's amount is billed with the next cycle (PayPal's default: yes).
    pub auto_bill_outstanding: Option<bool>,
    pub setup_fee: Option<Amount>,
    /// `CONTINUE` or `CANCEL` (PayPal's default) when the setup fee cannot be collected.
    pub setup_fee_failure_action: Option<String>,
    /// Consecutive failed payments before the subscription is suspended.
    pub payment_failure_threshold: Option<u32>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxes {
    /// A decimal string, e.g. `"10"` or `"8.25"`.
    pub percentage: String,
    /// Whether the price already includes the tax.
    pub inclusive: Option<bool>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `P-…`.
    pub id: String,
    pub status: PlanStatus,
    pub product_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Empty in list answers and minimal representations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub billing_cycles: Vec<BillingCycle>,
    pub payment_preferences: Option<PaymentPreferences>,
    pub taxes: Option<Taxes>,
    pub quantity_supported: Option<bool>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The body of `POST /v1/billing/plans`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePlanRequest {
    pub product_id: String,
    pub name: String,
    pub billing_cycles: Vec<BillingCycle>,
    pub payment_preferences: PaymentPreferences,
    pub description: Option<String>,
    /// `CREATED` or `ACTIVE` (PayPal's default).
    pub status: Option<PlanStatus>,
    pub taxes: Option<Taxes>,
    pub quantity_supported: Option<bool>,
}

/// An answer of `GET /v1/billing/plans`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanList {
    #[serde(default)]
    pub plans: Vec<Plan>,
    pub total_items: Option<u64>,
    pub total_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// Filters and paging of `GET /v1/billing/plans`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanQuery {
    pub product_id: Option<String>,
    pub plan_ids: Vec<String>,
    pub page_size: Option<u32>,
    pub page: Option<u32>,
    pub total_required: bool,
}

impl PlanQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(product_id) = &self.product_id {
            pairs.push(("product_id", product_id.clone()));
        }
        if !self.plan_ids.is_empty() {
            pairs.push(("plan_ids", self.plan_ids.join(",")));
        }
        if let Some(size) = self.page_size {
            pairs.push(("page_size", size.to_string()));
        }
        if let Some(page) = self.page {
            pairs.push(("page", page.to_string()));
        }
        if self.total_required {
            pairs.push(("total_required", "true".to_owned()));
        }
        pairs
    }
}

/// One JSON Patch operation, as plans and subscriptions are updated.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    pub op: String,
    pub path: String,
    pub value: Option<Value>,
}

impl PatchOperation {
    pub fn replace(path: impl Into<String>, value: Value) -> Self {
        Self { op: "replace".to_owned(), path: path.into(), value: Some(value) }
    }

    pub fn add(path: impl Into<String>, value: Value) -> Self {
        Self { op: "add".to_owned(), path: path.into(), value: Some(value) }
    }
}

/// A new price for one billing cycle (`update-pricing-schemes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingSchemeUpdate {
    pub billing_cycle_sequence: u32,
    pub pricing_scheme: PricingScheme,
}

#[derive(Serialize)]
struct PricingSchemes<'a> {
    pricing_schemes: &'a [PricingSchemeUpdate],
}

impl PaypalClient {
    /// `POST /v1/billing/plans`.
    pub async fn create_plan(&self, request_id: &str, plan: &CreatePlanRequest) -> Result<Plan, PaypalError> {
        self.api.post(&["v1", "billing", "plans"], request_id, plan).await
    }

    /// `GET /v1/billing/plans/{id}`.
    pub async fn get_plan(&self, plan_id: &str) -> Result<Plan, PaypalError> {
        self.api.get(&["v1", "billing", "plans", plan_id]).await
    }

    /// `GET /v1/billing/plans` with filters and paging.
    pub async fn list_plans(&self, query: &PlanQuery) -> Result<PlanList, PaypalError> {
        self.api.get_with_query(&["v1", "billing", "plans"], &query.pairs()).await
    }

    /// `PATCH /v1/billing/plans/{id}`: name, description, payment preferences, tax percentage.
    pub async fn patch_plan(&self, plan_id: &str, operations: &[PatchOperation]) -> Result<(), PaypalError> {
        self.api.patch(&["v1", "billing", "plans", plan_id], operations).await
    }

    /// `POST /v1/billing/plans/{id}/activate` (from `CREATED` or `INACTIVE`).
    pub async fn activate_plan(&self, request_id: &str, plan_id: &str) -> Result<(), PaypalError> {
        self.change_plan_status(request_id, plan_id, "activate").await
    }

    /// `POST /v1/billing/plans/{id}/deactivate` (from `ACTIVE`); existing subscriptions go on.
    pub async fn deactivate_plan(&self, request_id: &str, plan_id: &str) -> Result<(), PaypalError> {
        self.change_plan_status(request_id, plan_id, "deactivate").await
    }

    async fn change_plan_status(&self, request_id: &str, plan_id: &str, action: &str) -> Result<(), PaypalError> {
        // An empty JSON object rather than no body: PayPal wants a JSON content type here.
        let body = serde_json::Map::new();
        self.api.post_no_content(&["v1", "billing", "plans", plan_id, action], request_id, &body).await
    }

    /// `POST /v1/billing/plans/{id}/update-pricing-schemes`. Existing subscriptions pay the new
    /// price from payments more than 10 days after the change.
    pub async fn update_plan_pricing(
        &self,
        request_id: &str,
        plan_id: &str,
        updates: &[PricingSchemeUpdate],
    ) -> Result<(), PaypalError> {
        self.api
            .post_no_content(
                &["v1", "billing", "plans", plan_id, "update-pricing-schemes"],
                request_id,
                &PricingSchemes { pricing_schemes: updates },
            )
            .await
    }
}
