use chrono::{DateTime, Utc};
use payhub_core::id::{PaymentId, SubscriptionId};
use payhub_core::payment::{Failure, Payment, PaymentStatus, ProviderRefs};
use payhub_core::stored::PaymentRecord;
use payhub_core::{Currency, Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_json, opt_time, parsed, time, to_json, trusted};
use crate::{Database, Page, StoreError, Tx, millis, page};

const COLUMNS: &str = "id, mode, provider, channel, status, amount, currency, amount_captured, \
    amount_refunded, amount_refund_pending, merchant_reference, description, customer_id, metadata, \
    return_url, cancel_url, provider_options, next_action, provider_payment_id, provider_capture_id, failure_code, \
    failure_message, anomaly, subscription_id, version, next_check_at, created_at, updated_at";

/// Narrows a payment list.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub status: Option<PaymentStatus>,
    pub customer_id: Option<String>,
}

fn from_row(row: &AnyRow) -> Result<Payment, StoreError> {
    let id: String = row.try_get("id")?;
    let currency: String = row.try_get("currency")?;
    let failure_code: Option<String> = row.try_get("failure_code")?;
    let failure_message: Option<String> = row.try_get("failure_message")?;
    Ok(Payment::restore(PaymentRecord {
        id: PaymentId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        provider: parsed(row, "provider", |s| s.parse().ok())?,
        channel: row.try_get("channel")?,
        status: parsed(row, "status", PaymentStatus::parse)?,
        amount: row.try_get("amount")?,
        currency: Currency::parse(&currency).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        amount_captured: row.try_get("amount_captured")?,
        amount_refunded: row.try_get("amount_refunded")?,
        amount_refund_pending: row.try_get("amount_refund_pending")?,
        merchant_reference: row.try_get("merchant_reference")?,
        description: row.try_get("description")?,
        customer_id: row.try_get("customer_id")?,
        metadata: json(row, "metadata")?,
        return_url: row.try_get("return_url")?,
        cancel_url: row.try_get("cancel_url")?,
        provider_options: json(row, "provider_options")?,
        next_action: opt_json(row, "next_action")?,
        provider_refs: ProviderRefs {
            payment_id: row.try_get("provider_payment_id")?,
            capture_id: row.try_get("provider_capture_id")?,
        },
        failure: failure_code.map(|code| Failure { code, message: failure_message.unwrap_or_default() }),
        anomaly: opt_json(row, "anomaly")?,
        subscription_id: row
            .try_get::<Option<String>, _>("subscription_id")?
            .map(|id| SubscriptionId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?,
        version: row.try_get("version")?,
        next_check_at: opt_time(row, "next_check_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    }))
}

impl Tx {
    pub async fn insert_payment(&mut self, p: &Payment) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO payments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
        );
        sqlx::query(trusted(sql))
            .bind(p.id.as_str())
            .bind(p.mode.as_str())
            .bind(p.provider.as_str())
            .bind(&p.channel)
            .bind(p.status().as_str())
            .bind(p.amount)
            .bind(p.currency.code())
            .bind(p.amount_captured())
            .bind(p.amount_refunded())
            .bind(p.amount_refund_pending())
            .bind(&p.merchant_reference)
            .bind(&p.description)
            .bind(&p.customer_id)
            .bind(to_json(&p.metadata))
            .bind(&p.return_url)
            .bind(&p.cancel_url)
            .bind(to_json(&p.provider_options))
            .bind(p.next_action.as_ref().map(to_json))
            .bind(&p.provider_refs.payment_id)
            .bind(&p.provider_refs.capture_id)
            .bind(p.failure().map(|f| f.code.clone()))
            .bind(p.failure().map(|f| f.message.clone()))
            .bind(p.anomaly().map(to_json))
            .bind(p.subscription_id.as_ref().map(|id| id.as_str().to_owned()))
            .bind(p.version())
            .bind(p.next_check_at.map(millis))
            .bind(millis(p.created_at))
            .bind(millis(p.updated_at()))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Reads a payment for update, holding its row lock until the transaction ends.
    pub async fn lock_payment(&mut self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1{}", self.dialect().for_update());
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.conn()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Finds and locks the payment a provider object belongs to, by the provider's payment id
    /// (PayPal order, Ping++ charge) or capture id.
    pub async fn lock_payment_by_provider_ref(
        &mut self,
        provider: ProviderName,
        provider_ref: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE provider = $1 \
             AND (provider_payment_id = $2 OR provider_capture_id = $2) LIMIT 1{}",
            self.dialect().for_update()
        );
        let row =
            sqlx::query(trusted(sql)).bind(provider.as_str()).bind(provider_ref).fetch_optional(self.conn()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Writes a changed payment back. The version check makes a lost update impossible even if a
    /// caller forgot the row lock; the in-memory version is bumped to match.
    pub async fn update_payment(&mut self, p: &mut Payment) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE payments SET status = $1, amount_refunded = $2, amount_refund_pending = $3, \
             next_action = $4, provider_payment_id = $5, provider_capture_id = $6, \
             failure_code = $7, failure_message = $8, next_check_at = $9, updated_at = $10, \
             amount_captured = $13, anomaly = $14, version = version + 1 \
             WHERE id = $11 AND version = $12",
        )
        .bind(p.status().as_str())
        .bind(p.amount_refunded())
        .bind(p.amount_refund_pending())
        .bind(p.next_action.as_ref().map(to_json))
        .bind(&p.provider_refs.payment_id)
        .bind(&p.provider_refs.capture_id)
        .bind(p.failure().map(|f| f.code.clone()))
        .bind(p.failure().map(|f| f.message.clone()))
        .bind(p.next_check_at.map(millis))
        .bind(millis(p.updated_at()))
        .bind(p.id.as_str())
        .bind(p.version())
        .bind(p.amount_captured())
        .bind(p.anomaly().map(to_json))
        .execute(self.conn())
        .await?;
        if result.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("payment {}", p.id)));
        }
        p.saved();
        Ok(())
    }
}

impl Database {
    pub async fn payment(&self, mode: Mode, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1 AND mode = $2");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).bind(mode.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A payment by id whatever its mode (for workers, which act on behalf of the provider).
    pub async fn find_payment(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1");
        let row = sqlx::query(trusted(sql)).bind(id.as_str()).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The payment a provider object belongs to, by the provider's payment or capture id.
    pub async fn find_payment_by_provider_ref(
        &self,
        provider: ProviderName,
        provider_ref: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE provider = $1 \
             AND (provider_payment_id = $2 OR provider_capture_id = $2) LIMIT 1"
        );
        let row =
            sqlx::query(trusted(sql)).bind(provider.as_str()).bind(provider_ref).fetch_optional(self.reader()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Newest first; `starting_after` is the last id of the previous page.
    pub async fn list_payments(
        &self,
        mode: Mode,
        filter: &PaymentFilter,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Payment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE mode = $1 AND ($2 = '' OR id < $2) \
             AND ($3 = '' OR status = $3) AND ($4 = '' OR customer_id = $4) \
             ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(trusted(sql))
            .bind(mode.as_str())
            .bind(starting_after.unwrap_or(""))
            .bind(filter.status.map(|s| s.as_str()).unwrap_or(""))
            .bind(filter.customer_id.as_deref().unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(self.reader())
            .await?;
        page(rows, limit, from_row)
    }

    /// Payments the reconciler should ask the provider about now, oldest due first.
    /// Claims the payments whose next provider check is due, until `lease_until`.
    pub async fn claim_payments_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Payment>, StoreError> {
        let rows = self.claim_due("payments", COLUMNS, now, lease_until, limit).await?;
        rows.iter().map(from_row).collect()
    }
}

/// The payments of a subscription, newest first.
pub(crate) async fn by_subscription(
    db: &Database,
    subscription_id: &SubscriptionId,
) -> Result<Vec<Payment>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE subscription_id = $1 ORDER BY id DESC");
    let rows = sqlx::query(trusted(sql)).bind(subscription_id.as_str()).fetch_all(db.reader()).await?;
    rows.iter().map(from_row).collect()
}
