use chrono::{DateTime, Utc};
use payhub_core::id::{PaymentId, SubscriptionId};
use payhub_core::payment::{CaptureMethod, Failure, Payment, PaymentOrigin, PaymentStatus, ProviderRefs};
use payhub_core::stored::PaymentRecord;
use payhub_core::{Currency, Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_json, opt_time, parsed, time, to_json};
use crate::param::Param;
use crate::table::Table;
use crate::{Database, Page, StoreError, Tx, millis};

#[rustfmt::skip]
const PAYMENTS: Table<Payment, 35> = Table {
    name: "payments",
    resource: "payment",
    columns: [
        "id", "mode", "provider", "channel", "status", "amount", "currency", "amount_captured", "amount_refunded",
        "amount_refund_pending", "merchant_reference", "description", "customer_id", "metadata", "return_url",
        "cancel_url", "provider_options", "next_action", "provider_payment_id", "provider_capture_id",
        "failure_code", "failure_message", "anomaly", "subscription_id", "version", "next_check_at", "created_at",
        "updated_at", "disputed", "origin", "capture_method", "amount_capturable", "provider_authorization_id",
        "authorization_expires_at", "pending_reason",
    ],
    decode: from_row,
};

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
        capture_method: parsed(row, "capture_method", CaptureMethod::parse)?,
        amount_capturable: row.try_get("amount_capturable")?,
        authorization_expires_at: opt_time(row, "authorization_expires_at")?,
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
            authorization_id: row.try_get("provider_authorization_id")?,
        },
        failure: failure_code.map(|code| Failure { code, message: failure_message.unwrap_or_default() }),
        pending_reason: row.try_get("pending_reason")?,
        anomaly: opt_json(row, "anomaly")?,
        disputed: row.try_get::<i64, _>("disputed")? != 0,
        subscription_id: row
            .try_get::<Option<String>, _>("subscription_id")?
            .map(|id| SubscriptionId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?,
        origin: {
            let origin: String = row.try_get("origin")?;
            PaymentOrigin::parse(&origin).ok_or_else(|| StoreError::Corrupt(format!("payment origin {origin:?}")))?
        },
        version: row.try_get("version")?,
        next_check_at: opt_time(row, "next_check_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    }))
}

impl Tx {
    pub async fn insert_payment(&mut self, p: &Payment) -> Result<(), StoreError> {
        let failure = p.failure();
        let values = [
            p.id.as_str().into(),
            p.mode.as_str().into(),
            p.provider.as_str().into(),
            (&p.channel).into(),
            p.status().as_str().into(),
            p.amount.into(),
            p.currency.code().into(),
            p.amount_captured().into(),
            p.amount_refunded().into(),
            p.amount_refund_pending().into(),
            (&p.merchant_reference).into(),
            (&p.description).into(),
            (&p.customer_id).into(),
            to_json(&p.metadata).into(),
            (&p.return_url).into(),
            (&p.cancel_url).into(),
            to_json(&p.provider_options).into(),
            p.next_action().map(to_json).into(),
            (&p.provider_refs().payment_id).into(),
            (&p.provider_refs().capture_id).into(),
            failure.map(|f| f.code.as_str()).into(),
            failure.map(|f| f.message.as_str()).into(),
            p.anomaly().map(to_json).into(),
            p.subscription_id.as_ref().map(|id| id.as_str()).into(),
            p.version().into(),
            p.next_check_at.map(millis).into(),
            millis(p.created_at).into(),
            millis(p.updated_at()).into(),
            i64::from(p.disputed()).into(),
            p.origin.as_str().into(),
            p.capture_method.as_str().into(),
            p.amount_capturable().into(),
            (&p.provider_refs().authorization_id).into(),
            p.authorization_expires_at().map(millis).into(),
            p.pending_reason().into(),
        ];
        self.insert(&PAYMENTS, values).await
    }

    /// Reads a payment for update, holding its row lock until the transaction ends.
    pub async fn lock_payment(&mut self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.lock_by_id(&PAYMENTS, id.as_str()).await
    }

    /// Finds and locks the payment a provider object belongs to, by the provider's payment id
    /// (PayPal order, Ping++ charge) or capture id.
    pub async fn lock_payment_by_provider_ref(
        &mut self,
        provider: ProviderName,
        provider_ref: &str,
    ) -> Result<Option<Payment>, StoreError> {
        self.lock_one(&PAYMENTS, BY_PROVIDER_REF, &[provider.as_str().into(), provider_ref.into()]).await
    }

    /// Writes a changed payment back; see [`Tx::update_versioned`].
    pub async fn update_payment(&mut self, p: &mut Payment) -> Result<(), StoreError> {
        let failure = p.failure();
        let changes = [
            ("status", p.status().as_str().into()),
            ("amount_refunded", p.amount_refunded().into()),
            ("amount_refund_pending", p.amount_refund_pending().into()),
            ("next_action", p.next_action().map(to_json).into()),
            ("provider_payment_id", (&p.provider_refs().payment_id).into()),
            ("provider_capture_id", (&p.provider_refs().capture_id).into()),
            ("failure_code", failure.map(|f| f.code.as_str()).into()),
            ("failure_message", failure.map(|f| f.message.as_str()).into()),
            ("next_check_at", p.next_check_at.map(millis).into()),
            ("updated_at", millis(p.updated_at()).into()),
            ("amount_captured", p.amount_captured().into()),
            ("anomaly", p.anomaly().map(to_json).into()),
            ("disputed", i64::from(p.disputed()).into()),
            ("amount_capturable", p.amount_capturable().into()),
            ("provider_authorization_id", (&p.provider_refs().authorization_id).into()),
            ("authorization_expires_at", p.authorization_expires_at().map(millis).into()),
            ("pending_reason", p.pending_reason().into()),
        ];
        self.update_versioned(&PAYMENTS, p.id.as_str(), p.version(), changes).await?;
        p.saved();
        Ok(())
    }
}

/// A provider object names the payment by the provider's payment id or by its capture id.
const BY_PROVIDER_REF: &str = "WHERE provider = $1 AND (provider_payment_id = $2 OR provider_capture_id = $2) LIMIT 1";

impl Database {
    pub async fn payment(&self, mode: Mode, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.find_in_mode(&PAYMENTS, mode, id.as_str()).await
    }

    /// A payment by id whatever its mode (for workers, which act on behalf of the provider).
    pub async fn find_payment(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.find_by_id(&PAYMENTS, id.as_str()).await
    }

    /// The payment a provider object belongs to, by the provider's payment or capture id.
    pub async fn find_payment_by_provider_ref(
        &self,
        provider: ProviderName,
        provider_ref: &str,
    ) -> Result<Option<Payment>, StoreError> {
        self.find_one(&PAYMENTS, BY_PROVIDER_REF, &[provider.as_str().into(), provider_ref.into()]).await
    }

    /// Newest first; `starting_after` is the last id of the previous page.
    pub async fn list_payments(
        &self,
        mode: Mode,
        filter: &PaymentFilter,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Payment>, StoreError> {
        let filters = [("status", filter.status.map(|s| s.as_str())), ("customer_id", filter.customer_id.as_deref())];
        self.list_newest_first(&PAYMENTS, mode, &filters, starting_after, limit).await
    }

    /// Claims the payments whose next provider check is due, until `lease_until`, so the
    /// reconciler can ask the provider about them.
    pub async fn claim_payments_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Payment>, StoreError> {
        self.claim_checks(&PAYMENTS, now, lease_until, limit).await
    }

    /// Sets the next check of payments the reconciler looked at, in one statement: each
    /// `(id, version, next_check_at)` is written only while the payment is still at `version`,
    /// so a change applied meanwhile (which set its own next check) is never undone. Returns how
    /// many were written.
    pub async fn reschedule_payment_checks(
        &self,
        checks: &[(&PaymentId, i64, Option<DateTime<Utc>>)],
    ) -> Result<u64, StoreError> {
        if checks.is_empty() {
            return Ok(0);
        }
        let mut params: Vec<Param<'_>> = Vec::with_capacity(checks.len() * 3);
        let (mut ids, mut next, mut versions) = (Vec::new(), Vec::new(), Vec::new());
        for (id, version, next_check_at) in checks {
            let n = params.len() + 1;
            params.extend([id.as_str().into(), (*version).into(), next_check_at.map(millis).into()]);
            ids.push(format!("${n}"));
            versions.push(format!(" WHEN ${n} THEN ${}", n + 1));
            next.push(format!(" WHEN ${n} THEN ${}", n + 2));
        }
        let sql = format!(
            "UPDATE payments SET next_check_at = CASE id{} END WHERE id IN ({}) AND version = CASE id{} END",
            next.concat(),
            ids.join(", "),
            versions.concat()
        );
        let mut tx = self.begin().await?;
        let written = tx.execute_count(&sql, params).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// The payments of a subscription (its charges and renewals), newest first.
    pub async fn subscription_payments(&self, subscription_id: &SubscriptionId) -> Result<Vec<Payment>, StoreError> {
        self.find_all(&PAYMENTS, "WHERE subscription_id = $1 ORDER BY id DESC", &[subscription_id.as_str().into()])
            .await
    }
}
