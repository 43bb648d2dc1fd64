use chrono::{DateTime, Utc};
use payhub_core::id::{PlanId, SubscriptionId};
use payhub_core::stored::SubscriptionRecord;
use payhub_core::subscription::{Subscription, SubscriptionStatus};
use payhub_core::{Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_json, opt_time, parsed, time, to_json, trusted};
use crate::{Database, Page, StoreError, Tx, millis, page};

const COLUMNS: &str = "id, mode, provider, plan_id, customer_id, quantity, status, current_period_end, trial_end, \
    failed_payments, payments_count, canceled_at, return_url, cancel_url, next_action, provider_subscription_id, \
    metadata, version, next_check_at, synced_at, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Subscription, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let id: String = row.try_get("id")?;
    let plan_id: String = row.try_get("plan_id")?;
    let count = |column: &str| -> Result<u32, StoreError> {
        let value: i64 = row.try_get(column)?;
        u32::try_from(value).map_err(|e| corrupt(&e))
    };
    Ok(Subscription::restore(SubscriptionRecord {
        id: SubscriptionId::parse(&id).map_err(|e| corrupt(&e))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        provider: parsed(row, "provider", |s| s.parse().ok())?,
        plan_id: PlanId::parse(&plan_id).map_err(|e| corrupt(&e))?,
        customer_id: row.try_get("customer_id")?,
        quantity: count("quantity")?,
        status: parsed(row, "status", SubscriptionStatus::parse)?,
        current_period_end: opt_time(row, "current_period_end")?,
        trial_end: opt_time(row, "trial_end")?,
        failed_payments: count("failed_payments")?,
        payments_count: count("payments_count")?,
        canceled_at: opt_time(row, "canceled_at")?,
        return_url: row.try_get("return_url")?,
        cancel_url: row.try_get("cancel_url")?,
        next_action: opt_json(row, "next_action")?,
        provider_subscription_id: row.try_get("provider_subscription_id")?,
        metadata: json(row, "metadata")?,
        version: row.try_get("version")?,
        next_check_at: opt_time(row, "next_check_at")?,
        synced_at: opt_time(row, "synced_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    }))
}

impl Tx {
    pub async fn insert_subscription(&mut self, s: &Subscription) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21, $22)"
        );
        sqlx::query(trusted(sql))
            .bind(s.id.as_str())
            .bind(s.mode.as_str())
            .bind(s.provider.as_str())
            .bind(s.plan_id.as_str())
            .bind(&s.customer_id)
            .bind(i64::from(s.quantity))
            .bind(s.status().as_str())
            .bind(s.current_period_end().map(millis))
            .bind(s.trial_end().map(millis))
            .bind(i64::from(s.failed_payments()))
            .bind(i64::from(s.payments_count()))
            .bind(s.canceled_at().map(millis))
            .bind(&s.return_url)
            .bind(&s.cancel_url)
            .bind(s.next_action.as_ref().map(to_json))
            .bind(&s.provider_subscription_id)
            .bind(to_json(&s.metadata))
            .bind(s.version())
            .bind(s.next_check_at.map(millis))
            .bind(s.synced_at().map(millis))
            .bind(millis(s.created_at))
            .bind(millis(s.updated_at()))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn lock_subscription(&mut self, id: &SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE id = $1{}", self.dialect().for_update());
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.conn()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn update_subscription(&mut self, s: &mut Subscription) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE subscriptions SET plan_id = $1, quantity = $2, status = $3, current_period_end = $4, trial_end = $5, \
             failed_payments = $6, payments_count = $7, canceled_at = $8, next_action = $9, \
             provider_subscription_id = $10, next_check_at = $11, updated_at = $12, synced_at = $15, \
             version = version + 1 WHERE id = $13 AND version = $14",
        )
        .bind(s.plan_id.as_str())
        .bind(i64::from(s.quantity))
        .bind(s.status().as_str())
        .bind(s.current_period_end().map(millis))
        .bind(s.trial_end().map(millis))
        .bind(i64::from(s.failed_payments()))
        .bind(i64::from(s.payments_count()))
        .bind(s.canceled_at().map(millis))
        .bind(s.next_action.as_ref().map(to_json))
        .bind(&s.provider_subscription_id)
        .bind(s.next_check_at.map(millis))
        .bind(millis(s.updated_at()))
        .bind(s.id.as_str())
        .bind(s.version())
        .bind(s.synced_at().map(millis))
        .execute(self.conn())
        .await?;
        if result.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("subscription {}", s.id)));
        }
        s.saved();
        Ok(())
    }
}

impl Database {
    pub async fn subscription(&self, mode: Mode, id: &SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE id = $1 AND mode = $2");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).bind(mode.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A subscription by id whatever its mode (the subscriber's return, workers).
    pub async fn find_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE id = $1");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The subscription behind a provider's subscription id, whatever its mode.
    pub async fn find_subscription_by_provider_id(
        &self,
        provider: ProviderName,
        provider_id: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE provider = $1 AND provider_subscription_id = $2");
        let row =
            sqlx::query(trusted(sql)).bind(provider.as_str()).bind(provider_id).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_subscriptions(
        &self,
        mode: Mode,
        customer_id: Option<&str>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Subscription>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE mode = $1 AND ($2 = '' OR customer_id = $2) \
             AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(customer_id.unwrap_or(""))
            .bind(starting_after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.reader())
            .await?;
        page(rows, limit, from_row)
    }

    /// Claims the subscriptions whose next provider check is due, until `lease_until`.
    pub async fn claim_subscriptions_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        let rows = self.claim_due("subscriptions", COLUMNS, now, lease_until, limit).await?;
        rows.iter().map(from_row).collect()
    }

    /// The payments of a subscription (its charges and renewals), newest first.
    pub async fn subscription_payments(
        &self,
        subscription_id: &SubscriptionId,
    ) -> Result<Vec<payhub_core::payment::Payment>, StoreError> {
        crate::payments::by_subscription(self, subscription_id).await
    }
}
