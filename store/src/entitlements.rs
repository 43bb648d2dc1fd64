use chrono::{DateTime, Utc};
use payhub_core::Mode;
use payhub_core::entitlement::{Entitlement, EntitlementStatus};
use payhub_core::id::{EntitlementId, SubscriptionId};
use payhub_core::stored::EntitlementRecord;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{opt_time, parsed, time};
use crate::table::Table;
use crate::{Database, StoreError, Tx, millis};

#[rustfmt::skip]
const ENTITLEMENTS: Table<Entitlement, 12> = Table {
    name: "entitlements",
    resource: "entitlement",
    columns: [
        "id", "mode", "customer_id", "entitlement", "subscription_id", "status", "valid_until", "revoked_at",
        "revoke_reason", "version", "created_at", "updated_at",
    ],
    decode: from_row,
};

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
        self.lock_one(&ENTITLEMENTS, "WHERE subscription_id = $1", &[subscription_id.as_str().into()]).await
    }

    pub async fn lock_entitlement(&mut self, id: &EntitlementId) -> Result<Option<Entitlement>, StoreError> {
        self.lock_by_id(&ENTITLEMENTS, id.as_str()).await
    }

    pub async fn insert_entitlement(&mut self, e: &Entitlement) -> Result<(), StoreError> {
        let values = [
            e.id.as_str().into(),
            e.mode.as_str().into(),
            (&e.customer_id).into(),
            (&e.entitlement).into(),
            e.subscription_id.as_str().into(),
            e.status().as_str().into(),
            millis(e.valid_until()).into(),
            e.revoked_at().map(millis).into(),
            e.revoke_reason().into(),
            e.version().into(),
            millis(e.created_at).into(),
            millis(e.updated_at()).into(),
        ];
        self.insert(&ENTITLEMENTS, values).await
    }

    /// Writes a changed entitlement back; see [`Tx::update_versioned`].
    pub async fn update_entitlement(&mut self, e: &mut Entitlement) -> Result<(), StoreError> {
        let changes = [
            ("status", e.status().as_str().into()),
            ("valid_until", millis(e.valid_until()).into()),
            ("revoked_at", e.revoked_at().map(millis).into()),
            ("revoke_reason", e.revoke_reason().into()),
            ("updated_at", millis(e.updated_at()).into()),
        ];
        self.update_versioned(&ENTITLEMENTS, e.id.as_str(), e.version(), changes).await?;
        e.saved();
        Ok(())
    }
}

impl Database {
    /// A customer's entitlements, newest first (active and revoked).
    pub async fn customer_entitlements(&self, mode: Mode, customer_id: &str) -> Result<Vec<Entitlement>, StoreError> {
        let filter = "WHERE mode = $1 AND customer_id = $2 ORDER BY id DESC";
        self.find_all(&ENTITLEMENTS, filter, &[mode.as_str().into(), customer_id.into()]).await
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
        let filters = [("customer_id", customer_id), ("entitlement", entitlement)];
        self.list_newest_first(&ENTITLEMENTS, mode, &filters, starting_after, limit).await
    }

    /// Active entitlements whose time has run out, for the lapse sweep.
    pub async fn lapsed_entitlements(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Entitlement>, StoreError> {
        let filter = "WHERE status = 'active' AND valid_until <= $1 ORDER BY valid_until LIMIT $2";
        self.find_all(&ENTITLEMENTS, filter, &[millis(now).into(), i64::from(limit).into()]).await
    }
}
