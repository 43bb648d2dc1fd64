use chrono::{DateTime, Utc};
use payhub_core::id::{PaymentId, RefundId};
use payhub_core::payment::Failure;
use payhub_core::refund::{Refund, RefundStatus};
use payhub_core::stored::RefundRecord;
use payhub_core::{Currency, Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_time, parsed, time, to_json};
use crate::table::Table;
use crate::{Database, Page, StoreError, Tx, millis};

#[rustfmt::skip]
const REFUNDS: Table<Refund, 17> = Table {
    name: "refunds",
    resource: "refund",
    columns: [
        "id", "mode", "payment_id", "provider", "status", "amount", "currency", "reason", "metadata",
        "provider_options", "provider_refund_id", "failure_code", "failure_message", "version", "next_check_at",
        "created_at", "updated_at",
    ],
    decode: from_row,
};

fn from_row(row: &AnyRow) -> Result<Refund, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let id: String = row.try_get("id")?;
    let payment_id: String = row.try_get("payment_id")?;
    let currency: String = row.try_get("currency")?;
    let failure_code: Option<String> = row.try_get("failure_code")?;
    let failure_message: Option<String> = row.try_get("failure_message")?;
    Ok(Refund::restore(RefundRecord {
        id: RefundId::parse(&id).map_err(|e| corrupt(&e))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        payment_id: PaymentId::parse(&payment_id).map_err(|e| corrupt(&e))?,
        status: parsed(row, "status", RefundStatus::parse)?,
        amount: row.try_get("amount")?,
        currency: Currency::parse(&currency).map_err(|e| corrupt(&e))?,
        reason: row.try_get("reason")?,
        metadata: json(row, "metadata")?,
        provider_options: json(row, "provider_options")?,
        provider_refund_id: row.try_get("provider_refund_id")?,
        failure: failure_code.map(|code| Failure { code, message: failure_message.unwrap_or_default() }),
        version: row.try_get("version")?,
        next_check_at: opt_time(row, "next_check_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    }))
}

impl Tx {
    pub async fn insert_refund(&mut self, r: &Refund, provider: ProviderName) -> Result<(), StoreError> {
        let failure = r.failure();
        let values = [
            r.id.as_str().into(),
            r.mode.as_str().into(),
            r.payment_id.as_str().into(),
            provider.as_str().into(),
            r.status().as_str().into(),
            r.amount.into(),
            r.currency.code().into(),
            (&r.reason).into(),
            to_json(&r.metadata).into(),
            to_json(&r.provider_options).into(),
            r.provider_refund_id().into(),
            failure.map(|f| f.code.as_str()).into(),
            failure.map(|f| f.message.as_str()).into(),
            r.version().into(),
            r.next_check_at.map(millis).into(),
            millis(r.created_at).into(),
            millis(r.updated_at()).into(),
        ];
        self.insert(&REFUNDS, values).await
    }

    pub async fn lock_refund(&mut self, id: &RefundId) -> Result<Option<Refund>, StoreError> {
        self.lock_by_id(&REFUNDS, id.as_str()).await
    }

    pub async fn lock_refund_by_provider_id(
        &mut self,
        provider: ProviderName,
        provider_refund_id: &str,
    ) -> Result<Option<Refund>, StoreError> {
        let filter = "WHERE provider = $1 AND provider_refund_id = $2";
        self.lock_one(&REFUNDS, filter, &[provider.as_str().into(), provider_refund_id.into()]).await
    }

    /// Writes a changed refund back; see [`Tx::update_versioned`].
    pub async fn update_refund(&mut self, r: &mut Refund) -> Result<(), StoreError> {
        let failure = r.failure();
        let changes = [
            ("status", r.status().as_str().into()),
            ("provider_refund_id", r.provider_refund_id().into()),
            ("failure_code", failure.map(|f| f.code.as_str()).into()),
            ("failure_message", failure.map(|f| f.message.as_str()).into()),
            ("next_check_at", r.next_check_at.map(millis).into()),
            ("updated_at", millis(r.updated_at()).into()),
        ];
        self.update_versioned(&REFUNDS, r.id.as_str(), r.version(), changes).await?;
        r.saved();
        Ok(())
    }
}

impl Database {
    pub async fn refund(&self, mode: Mode, id: &RefundId) -> Result<Option<Refund>, StoreError> {
        self.find_in_mode(&REFUNDS, mode, id.as_str()).await
    }

    /// A refund by payhub id or by the provider's refund id, whatever its mode.
    pub async fn find_refund(
        &self,
        refund_id: Option<&RefundId>,
        provider: ProviderName,
        provider_refund_id: &str,
    ) -> Result<Option<Refund>, StoreError> {
        let filter = "WHERE id = $1 OR (provider = $2 AND provider_refund_id = $3) LIMIT 1";
        let params =
            [refund_id.map_or("", |id| id.as_str()).into(), provider.as_str().into(), provider_refund_id.into()];
        self.find_one(&REFUNDS, filter, &params).await
    }

    /// Refunds, newest first, optionally of one payment.
    pub async fn list_refunds(
        &self,
        mode: Mode,
        payment_id: Option<&str>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Refund>, StoreError> {
        self.list_newest_first(&REFUNDS, mode, &[("payment_id", payment_id)], starting_after, limit).await
    }

    /// Claims the refunds whose next provider check is due, until `lease_until`.
    pub async fn claim_refunds_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Refund>, StoreError> {
        self.claim_checks(&REFUNDS, now, lease_until, limit).await
    }
}
