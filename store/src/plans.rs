use payhub_core::id::PlanId;
use payhub_core::subscription::{Plan, PlanStatus};
use payhub_core::{Currency, Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, parsed, time, to_json};
use crate::table::Table;
use crate::{Database, Page, StoreError, Tx, millis};

#[rustfmt::skip]
const PLANS: Table<Plan, 18> = Table {
    name: "plans",
    resource: "plan",
    columns: [
        "id", "mode", "provider", "name", "product", "description", "status", "currency", "trial_cycles",
        "regular_cycle", "setup_fee", "tax_basis_points", "payment_failure_threshold", "entitlement",
        "provider_product_id", "provider_plan_id", "created_at", "updated_at",
    ],
    decode: from_row,
};

fn from_row(row: &AnyRow) -> Result<Plan, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let id: String = row.try_get("id")?;
    let currency: String = row.try_get("currency")?;
    let small = |column: &str| -> Result<u32, StoreError> {
        let value: i64 = row.try_get(column)?;
        u32::try_from(value).map_err(|e| corrupt(&e))
    };
    Ok(Plan {
        id: PlanId::parse(&id).map_err(|e| corrupt(&e))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        provider: parsed(row, "provider", |s| s.parse().ok())?,
        name: row.try_get("name")?,
        product: row.try_get("product")?,
        description: row.try_get("description")?,
        status: parsed(row, "status", PlanStatus::parse)?,
        currency: Currency::parse(&currency).map_err(|e| corrupt(&e))?,
        trial_cycles: json(row, "trial_cycles")?,
        regular_cycle: json(row, "regular_cycle")?,
        setup_fee: row.try_get("setup_fee")?,
        tax_basis_points: small("tax_basis_points")?,
        payment_failure_threshold: small("payment_failure_threshold")?,
        entitlement: row.try_get("entitlement")?,
        provider_product_id: row.try_get("provider_product_id")?,
        provider_plan_id: row.try_get("provider_plan_id")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

impl Tx {
    pub async fn insert_plan(&mut self, p: &Plan) -> Result<(), StoreError> {
        let values = [
            p.id.as_str().into(),
            p.mode.as_str().into(),
            p.provider.as_str().into(),
            (&p.name).into(),
            (&p.product).into(),
            (&p.description).into(),
            p.status.as_str().into(),
            p.currency.code().into(),
            to_json(&p.trial_cycles).into(),
            to_json(&p.regular_cycle).into(),
            p.setup_fee.into(),
            i64::from(p.tax_basis_points).into(),
            i64::from(p.payment_failure_threshold).into(),
            (&p.entitlement).into(),
            (&p.provider_product_id).into(),
            (&p.provider_plan_id).into(),
            millis(p.created_at).into(),
            millis(p.updated_at).into(),
        ];
        self.insert(&PLANS, values).await
    }

    /// Writes back what can change on a plan: its status and its prices.
    pub async fn update_plan(&mut self, p: &Plan) -> Result<(), StoreError> {
        self.execute(
            "UPDATE plans SET status = $1, trial_cycles = $2, regular_cycle = $3, name = $4, description = $5, \
             updated_at = $6 WHERE id = $7",
            vec![
                p.status.as_str().into(),
                to_json(&p.trial_cycles).into(),
                to_json(&p.regular_cycle).into(),
                (&p.name).into(),
                (&p.description).into(),
                millis(p.updated_at).into(),
                p.id.as_str().into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn lock_plan(&mut self, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        self.lock_by_id(&PLANS, id.as_str()).await
    }
}

impl Database {
    pub async fn plan(&self, mode: Mode, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        self.find_in_mode(&PLANS, mode, id.as_str()).await
    }

    /// A plan of the same product (whose provider product a new plan can share).
    pub async fn plan_of_product(
        &self,
        mode: Mode,
        provider: ProviderName,
        product: &str,
    ) -> Result<Option<Plan>, StoreError> {
        let filter = "WHERE mode = $1 AND provider = $2 AND product = $3 \
                      AND provider_product_id IS NOT NULL ORDER BY id LIMIT 1";
        self.find_one(&PLANS, filter, &[mode.as_str().into(), provider.as_str().into(), product.into()]).await
    }

    /// The plan a provider's plan id belongs to.
    pub async fn plan_by_provider_id(
        &self,
        mode: Mode,
        provider: ProviderName,
        provider_plan_id: &str,
    ) -> Result<Option<Plan>, StoreError> {
        let filter = "WHERE mode = $1 AND provider = $2 AND provider_plan_id = $3";
        self.find_one(&PLANS, filter, &[mode.as_str().into(), provider.as_str().into(), provider_plan_id.into()]).await
    }

    pub async fn list_plans(
        &self,
        mode: Mode,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Plan>, StoreError> {
        self.list_newest_first(&PLANS, mode, &[], starting_after, limit).await
    }
}
