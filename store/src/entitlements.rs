use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::entitlement::{Entitlement, EntitlementStatus};
use payhub_core::id::{EntitlementId, SubscriptionId};
use payhub_core::stored::EntitlementRecord;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{opt_time, parsed, time, trusted};
use crate::{Database, StoreError, Tx, millis, page};

const COLUMNS: &str = "id, mode, customer_id, entitlement, subscription_id, status, valid_until, revoked_at, \
    revoke_reason, version, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Entitlement, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let id: String = row.try_get("id")?;
    let subscription_id: String = row.try_get("subscription_id")?;
    Ok(Entitlement::restore(EntitlementRecord {
        id: EntitlementId::parse(&id).map_err(|e| corrupt(&e))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        customer_id: row.try_get("customer_id")?,
        entitlement: row.try_get("entitlement")?,
        subscription_id: SubscriptionId::parse(&subscription_id).map_err(|e| corrupt(&e))?,
        status: parsed(row, "status", EntitlementStatus::parse)?,
        valid_until: time(row, "valid_until")?,
        revoked_at: opt_time(row, "revoked_at")?,
        revoke_reason: row.try_get("revoke_reason")?,
        version: row.try_get("version")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    }))
}

impl Tx {
    pub async fn lock_entitlement_of(
        &mut self,
        subscription_id: &SubscriptionId,
    ) -> Result<Option<Entitlement>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM entitlements WHERE subscription_id = $1{}", self.dialect().for_update());
        let row = sqlx::query(trusted(sql)).bind(subscription_id.as_str()).fetch_optional(self.conn()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn lock_entitlement(&mut self, id: &EntitlementId) -> Result<Option<Entitlement>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM entitlements WHERE id = $1{}", self.dialect().for_update());
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.conn()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn insert_entitlement(&mut self, e: &Entitlement) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO entitlements ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
        sqlx::query(trusted(sql))
            .bind(e.id.as_str())
            .bind(e.mode.as_str())
            .bind(&e.customer_id)
            .bind(&e.entitlement)
            .bind(e.subscription_id.as_str())
            .bind(e.status().as_str())
            .bind(millis(e.valid_until()))
            .bind(e.revoked_at().map(millis))
            .bind(e.revoke_reason())
            .bind(e.version())
            .bind(millis(e.created_at))
            .bind(millis(e.updated_at()))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn update_entitlement(&mut self, e: &mut Entitlement) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE entitlements SET status = $1, valid_until = $2, revoked_at = $3, revoke_reason = $4, updated_at = $5, \
             version = version + 1 WHERE id = $6 AND version = $7",
        )
        .bind(e.status().as_str())
        .bind(millis(e.valid_until()))
        .bind(e.revoked_at().map(millis))
        .bind(e.revoke_reason())
        .bind(millis(e.updated_at()))
        .bind(e.id.as_str())
        .bind(e.version())
        .execute(self.conn())
        .await?;
        if result.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("entitlement {}", e.id)));
        }
        e.saved();
        Ok(())
    }
}

impl Database {
    /// A customer's entitlements, newest first (active and revoked).
    pub async fn customer_entitlements(&self, mode: Mode, customer_id: &str) -> Result<Vec<Entitlement>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM entitlements WHERE mode = $1 AND customer_id = $2 ORDER BY id DESC");
        let rows = sqlx::query(trusted(sql)).bind(mode.as_str()).bind(customer_id).fetch_all(self.reader()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Entitlements newest first, narrowed by customer and by what they grant.
    pub async fn list_entitlements(
        &self,
        mode: Mode,
        customer_id: Option<&str>,
        entitlement: Option<&str>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<crate::Page<Entitlement>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM entitlements WHERE mode = $1 AND ($2 = '' OR customer_id = $2) \
             AND ($3 = '' OR entitlement = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(customer_id.unwrap_or(""))
            .bind(entitlement.unwrap_or(""))
            .bind(starting_after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.reader())
            .await?;
        page(rows, limit, from_row)
    }

    /// Active entitlements whose time has run out, for the lapse sweep.
    pub async fn lapsed_entitlements(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Entitlement>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM entitlements WHERE status = 'active' AND valid_until <= $1 ORDER BY valid_until LIMIT $2"
        );
        let rows = sqlx::query(trusted(sql)).bind(millis(now)).bind(i64::from(limit)).fetch_all(self.reader()).await?;
        rows.iter().map(from_row).collect()
    }
}
