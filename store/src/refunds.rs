use chrono::{DateTime, Utc};
use payhub_core::id::{PaymentId, RefundId};
use payhub_core::payment::Failure;
use payhub_core::refund::{Refund, RefundStatus};
use payhub_core::stored::RefundRecord;
use payhub_core::{Currency, Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_time, parsed, time, to_json, trusted};
use crate::{Database, Page, StoreError, Tx, millis, page};

const COLUMNS: &str = "id, mode, payment_id, provider, status, amount, currency, reason, metadata, \
    provider_options, provider_refund_id, failure_code, failure_message, version, next_check_at, created_at, updated_at";

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
        let sql = format!(
            "INSERT INTO refunds ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17)"
        );
        sqlx::query(trusted(sql))
            .bind(r.id.as_str())
            .bind(r.mode.as_str())
            .bind(r.payment_id.as_str())
            .bind(provider.as_str())
            .bind(r.status().as_str())
            .bind(r.amount)
            .bind(r.currency.code())
            .bind(&r.reason)
            .bind(to_json(&r.metadata))
            .bind(to_json(&r.provider_options))
            .bind(&r.provider_refund_id)
            .bind(r.failure().map(|f| f.code.clone()))
            .bind(r.failure().map(|f| f.message.clone()))
            .bind(r.version())
            .bind(r.next_check_at.map(millis))
            .bind(millis(r.created_at))
            .bind(millis(r.updated_at()))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn lock_refund(&mut self, id: &RefundId) -> Result<Option<Refund>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM refunds WHERE id = $1{}", self.dialect().for_update());
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.conn()).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn lock_refund_by_provider_id(
        &mut self,
        provider: ProviderName,
        provider_refund_id: &str,
    ) -> Result<Option<Refund>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM refunds WHERE provider = $1 AND provider_refund_id = $2{}",
            self.dialect().for_update()
        );
        let row = sqlx::query(trusted(sql))
            .bind(provider.as_str())
            .bind(provider_refund_id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn update_refund(&mut self, r: &mut Refund) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE refunds SET status = $1, provider_refund_id = $2, failure_code = $3, \
             failure_message = $4, next_check_at = $5, updated_at = $6, version = version + 1 \
             WHERE id = $7 AND version = $8",
        )
        .bind(r.status().as_str())
        .bind(&r.provider_refund_id)
        .bind(r.failure().map(|f| f.code.clone()))
        .bind(r.failure().map(|f| f.message.clone()))
        .bind(r.next_check_at.map(millis))
        .bind(millis(r.updated_at()))
        .bind(r.id.as_str())
        .bind(r.version())
        .execute(self.conn())
        .await?;
        if result.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("refund {}", r.id)));
        }
        r.saved();
        Ok(())
    }
}

impl Database {
    pub async fn refund(&self, mode: Mode, id: &RefundId) -> Result<Option<Refund>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM refunds WHERE id = $1 AND mode = $2");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).bind(mode.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A refund by payhub id or by the provider's refund id, whatever its mode.
    pub async fn find_refund(
        &self,
        refund_id: Option<&RefundId>,
        provider: ProviderName,
        provider_refund_id: &str,
    ) -> Result<Option<Refund>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM refunds WHERE id = $1 OR (provider = $2 AND provider_refund_id = $3) LIMIT 1"
        );
        let row = sqlx::query(trusted(sql))
            .bind(refund_id.map_or("", |id| id.as_str()))
            .bind(provider.as_str())
            .bind(provider_refund_id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Refunds, newest first, optionally of one payment.
    pub async fn list_refunds(
        &self,
        mode: Mode,
        payment_id: Option<&str>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Refund>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM refunds WHERE mode = $1 AND ($2 = '' OR payment_id = $2) \
             AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(payment_id.unwrap_or(""))
            .bind(starting_after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.reader())
            .await?;
        page(rows, limit, from_row)
    }

    /// Claims the refunds whose next provider check is due, until `lease_until`.
    pub async fn claim_refunds_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Refund>, StoreError> {
        let rows = self.claim_due("refunds", COLUMNS, now, lease_until, limit).await?;
        rows.iter().map(from_row).collect()
    }
}
