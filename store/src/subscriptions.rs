use chrono::{DateTime, Utc};
use payhub_core::id::{PlanId, SubscriptionId};
use payhub_core::stored::SubscriptionRecord;
use payhub_core::subscription::{Subscription, SubscriptionStatus};
use payhub_core::{Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_json, opt_time, parsed, time, to_json};
use crate::table::Table;
use crate::{Database, Page, StoreError, Tx, millis};

#[rustfmt::skip]
const SUBSCRIPTIONS: Table<Subscription, 22> = Table {
    name: "subscriptions",
    resource: "subscription",
    columns: [
        "id", "mode", "provider", "plan_id", "customer_id", "quantity", "status", "current_period_end", "trial_end",
        "failed_payments", "payments_count", "canceled_at", "return_url", "cancel_url", "next_action",
        "provider_subscription_id", "metadata", "version", "next_check_at", "synced_at", "created_at", "updated_at",
    ],
    decode: from_row,
};

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
        let values = [
            s.id.as_str().into(),
            s.mode.as_str().into(),
            s.provider.as_str().into(),
            s.plan_id().as_str().into(),
            (&s.customer_id).into(),
            i64::from(s.quantity()).into(),
            s.status().as_str().into(),
            s.current_period_end().map(millis).into(),
            s.trial_end().map(millis).into(),
            i64::from(s.failed_payments()).into(),
            i64::from(s.payments_count()).into(),
            s.canceled_at().map(millis).into(),
            (&s.return_url).into(),
            (&s.cancel_url).into(),
            s.next_action().map(to_json).into(),
            s.provider_subscription_id().into(),
            to_json(&s.metadata).into(),
            s.version().into(),
            s.next_check_at.map(millis).into(),
            s.synced_at().map(millis).into(),
            millis(s.created_at).into(),
            millis(s.updated_at()).into(),
        ];
        self.insert(&SUBSCRIPTIONS, values).await
    }

    pub async fn lock_subscription(&mut self, id: &SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        self.lock_by_id(&SUBSCRIPTIONS, id.as_str()).await
    }

    /// Writes a changed subscription back; see [`Tx::update_versioned`].
    pub async fn update_subscription(&mut self, s: &mut Subscription) -> Result<(), StoreError> {
        let changes = [
            ("plan_id", s.plan_id().as_str().into()),
            ("quantity", i64::from(s.quantity()).into()),
            ("status", s.status().as_str().into()),
            ("current_period_end", s.current_period_end().map(millis).into()),
            ("trial_end", s.trial_end().map(millis).into()),
            ("failed_payments", i64::from(s.failed_payments()).into()),
            ("payments_count", i64::from(s.payments_count()).into()),
            ("canceled_at", s.canceled_at().map(millis).into()),
            ("next_action", s.next_action().map(to_json).into()),
            ("provider_subscription_id", s.provider_subscription_id().into()),
            ("next_check_at", s.next_check_at.map(millis).into()),
            ("updated_at", millis(s.updated_at()).into()),
            ("synced_at", s.synced_at().map(millis).into()),
        ];
        self.update_versioned(&SUBSCRIPTIONS, s.id.as_str(), s.version(), changes).await?;
        s.saved();
        Ok(())
    }
}

impl Database {
    pub async fn subscription(&self, mode: Mode, id: &SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        self.find_in_mode(&SUBSCRIPTIONS, mode, id.as_str()).await
    }

    /// A subscription by id whatever its mode (the subscriber's return, workers).
    pub async fn find_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        self.find_by_id(&SUBSCRIPTIONS, id.as_str()).await
    }

    /// The subscription behind a provider's subscription id, whatever its mode.
    pub async fn find_subscription_by_provider_id(
        &self,
        provider: ProviderName,
        provider_id: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let filter = "WHERE provider = $1 AND provider_subscription_id = $2";
        self.find_one(&SUBSCRIPTIONS, filter, &[provider.as_str().into(), provider_id.into()]).await
    }

    pub async fn list_subscriptions(
        &self,
        mode: Mode,
        customer_id: Option<&str>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Subscription>, StoreError> {
        self.list_subscriptions_in_status(mode, customer_id, None, starting_after, limit).await
    }

    /// Subscriptions newest first, narrowed by customer and by status.
    pub async fn list_subscriptions_in_status(
        &self,
        mode: Mode,
        customer_id: Option<&str>,
        status: Option<&str>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Subscription>, StoreError> {
        let filters = [("customer_id", customer_id), ("status", status)];
        self.list_newest_first(&SUBSCRIPTIONS, mode, &filters, starting_after, limit).await
    }

    /// Claims the subscriptions whose next provider check is due, until `lease_until`.
    pub async fn claim_subscriptions_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        self.claim_checks(&SUBSCRIPTIONS, now, lease_until, limit).await
    }
}
