use payhub_core::id::PlanId;
use payhub_core::subscription::{Plan, PlanStatus};
use payhub_core::{Currency, Mode};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, parsed, time, to_json, trusted};
use crate::{Database, Page, StoreError, Tx, millis, page};

const COLUMNS: &str = "id, mode, provider, name, product, description, status, currency, trial_cycles, regular_cycle, \
    setup_fee, tax_basis_points, payment_failure_threshold, entitlement, provider_product_id, provider_plan_id, \
    created_at, updated_at";

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
        let sql = format!(
            "INSERT INTO plans ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        sqlx::query(trusted(sql))
            .bind(p.id.as_str())
            .bind(p.mode.as_str())
            .bind(p.provider.as_str())
            .bind(&p.name)
            .bind(&p.product)
            .bind(&p.description)
            .bind(p.status.as_str())
            .bind(p.currency.code())
            .bind(to_json(&p.trial_cycles))
            .bind(to_json(&p.regular_cycle))
            .bind(p.setup_fee)
            .bind(i64::from(p.tax_basis_points))
            .bind(i64::from(p.payment_failure_threshold))
            .bind(&p.entitlement)
            .bind(&p.provider_product_id)
            .bind(&p.provider_plan_id)
            .bind(millis(p.created_at))
            .bind(millis(p.updated_at))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Writes back what can change on a plan: its status and its prices.
    pub async fn update_plan(&mut self, p: &Plan) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE plans SET status = $1, trial_cycles = $2, regular_cycle = $3, name = $4, description = $5, \
             updated_at = $6 WHERE id = $7",
        )
        .bind(p.status.as_str())
        .bind(to_json(&p.trial_cycles))
        .bind(to_json(&p.regular_cycle))
        .bind(&p.name)
        .bind(&p.description)
        .bind(millis(p.updated_at))
        .bind(p.id.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn lock_plan(&mut self, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM plans WHERE id = $1{}", self.dialect().for_update());
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.conn()).await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl Database {
    pub async fn plan(&self, mode: Mode, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM plans WHERE id = $1 AND mode = $2");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).bind(mode.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A plan of the same product (whose provider product a new plan can share).
    pub async fn plan_of_product(
        &self,
        mode: Mode,
        provider: payhub_core::ProviderName,
        product: &str,
    ) -> Result<Option<Plan>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM plans WHERE mode = $1 AND provider = $2 AND product = $3 \
             AND provider_product_id IS NOT NULL ORDER BY id LIMIT 1"
        );
        let row = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(provider.as_str())
            .bind(product)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The plan a provider's plan id belongs to.
    pub async fn plan_by_provider_id(
        &self,
        mode: Mode,
        provider: payhub_core::ProviderName,
        provider_plan_id: &str,
    ) -> Result<Option<Plan>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM plans WHERE mode = $1 AND provider = $2 AND provider_plan_id = $3");
        let row = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(provider.as_str())
            .bind(provider_plan_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_plans(
        &self,
        mode: Mode,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Plan>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM plans WHERE mode = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3");
        let rows = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(starting_after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.reader())
            .await?;
        page(rows, limit, from_row)
    }
}
