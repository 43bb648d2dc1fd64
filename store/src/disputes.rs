use chrono::{DateTime, Utc};
use payhub_core::dispute::{Dispute, DisputeReason, DisputeStage, DisputeStatus};
use payhub_core::id::{DisputeId, PaymentId};
use payhub_core::stored::DisputeRecord;
use payhub_core::{Currency, Mode, ProviderName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, opt_json, opt_time, parsed, time, to_json};
use crate::table::Table;
use crate::{Database, Page, StoreError, Tx, millis, page};

#[rustfmt::skip]
const DISPUTES: Table<Dispute, 23> = Table {
    name: "disputes",
    resource: "dispute",
    columns: [
        "id", "mode", "provider", "payment_id", "provider_dispute_id", "status", "stage", "reason", "amount",
        "currency", "response_due_at", "buyer_message", "messages", "offers", "evidence", "outcome",
        "allowed_actions", "reminded_for", "provider_updated_at", "version", "next_check_at", "created_at",
        "updated_at",
    ],
    decode: from_row,
};

/// Narrows a dispute list; each filter applies when set.
#[derive(Debug, Clone, Default)]
pub struct DisputeFilter {
    pub status: Option<DisputeStatus>,
    pub payment_id: Option<PaymentId>,
    /// Only disputes whose response is due before this time.
    pub due_before: Option<DateTime<Utc>>,
}

fn from_row(row: &AnyRow) -> Result<Dispute, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let id: String = row.try_get("id")?;
    let payment_id: String = row.try_get("payment_id")?;
    let currency: String = row.try_get("currency")?;
    Ok(Dispute::restore(DisputeRecord {
        id: DisputeId::parse(&id).map_err(|e| corrupt(&e))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        provider: parsed(row, "provider", |s| s.parse().ok())?,
        payment_id: PaymentId::parse(&payment_id).map_err(|e| corrupt(&e))?,
        provider_dispute_id: row.try_get("provider_dispute_id")?,
        status: parsed(row, "status", DisputeStatus::parse)?,
        stage: parsed(row, "stage", DisputeStage::parse)?,
        reason: parsed(row, "reason", DisputeReason::parse)?,
        amount: row.try_get("amount")?,
        currency: Currency::parse(&currency).map_err(|e| corrupt(&e))?,
        response_due_at: opt_time(row, "response_due_at")?,
        buyer_message: row.try_get("buyer_message")?,
        messages: json(row, "messages")?,
        offers: json(row, "offers")?,
        evidence: json(row, "evidence")?,
        outcome: opt_json(row, "outcome")?,
        allowed_actions: json(row, "allowed_actions")?,
        reminded_for: opt_time(row, "reminded_for")?,
        provider_updated_at: opt_time(row, "provider_updated_at")?,
        version: row.try_get("version")?,
        next_check_at: opt_time(row, "next_check_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    }))
}

impl Tx {
    pub async fn insert_dispute(&mut self, d: &Dispute) -> Result<(), StoreError> {
        let values = [
            d.id.as_str().into(),
            d.mode.as_str().into(),
            d.provider.as_str().into(),
            d.payment_id.as_str().into(),
            d.provider_dispute_id.as_str().into(),
            d.status().as_str().into(),
            d.stage().as_str().into(),
            d.reason().as_str().into(),
            d.amount.into(),
            d.currency.code().into(),
            d.response_due_at().map(millis).into(),
            d.buyer_message().into(),
            to_json(&d.messages()).into(),
            to_json(&d.offers()).into(),
            to_json(&d.evidence()).into(),
            d.outcome().map(to_json).into(),
            to_json(&d.allowed_actions()).into(),
            d.reminded_for().map(millis).into(),
            d.provider_updated_at().map(millis).into(),
            d.version().into(),
            d.next_check_at.map(millis).into(),
            millis(d.created_at).into(),
            millis(d.updated_at()).into(),
        ];
        self.insert(&DISPUTES, values).await
    }

    pub async fn lock_dispute(&mut self, id: &DisputeId) -> Result<Option<Dispute>, StoreError> {
        self.lock_by_id(&DISPUTES, id.as_str()).await
    }

    pub async fn lock_dispute_by_provider_id(
        &mut self,
        provider: ProviderName,
        provider_dispute_id: &str,
    ) -> Result<Option<Dispute>, StoreError> {
        let filter = "WHERE provider = $1 AND provider_dispute_id = $2";
        self.lock_one(&DISPUTES, filter, &[provider.as_str().into(), provider_dispute_id.into()]).await
    }

    /// Writes a changed dispute back; see [`Tx::update_versioned`].
    pub async fn update_dispute(&mut self, d: &mut Dispute) -> Result<(), StoreError> {
        let changes = [
            // A dispute recorded from a reversal takes the provider's case id once it has one.
            ("provider_dispute_id", d.provider_dispute_id.as_str().into()),
            ("status", d.status().as_str().into()),
            ("stage", d.stage().as_str().into()),
            ("reason", d.reason().as_str().into()),
            ("amount", d.amount.into()),
            ("response_due_at", d.response_due_at().map(millis).into()),
            ("buyer_message", d.buyer_message().into()),
            ("messages", to_json(&d.messages()).into()),
            ("offers", to_json(&d.offers()).into()),
            ("evidence", to_json(&d.evidence()).into()),
            ("outcome", d.outcome().map(to_json).into()),
            ("allowed_actions", to_json(&d.allowed_actions()).into()),
            ("reminded_for", d.reminded_for().map(millis).into()),
            ("provider_updated_at", d.provider_updated_at().map(millis).into()),
            ("next_check_at", d.next_check_at.map(millis).into()),
            ("updated_at", millis(d.updated_at()).into()),
        ];
        self.update_versioned(&DISPUTES, d.id.as_str(), d.version(), changes).await?;
        d.saved();
        Ok(())
    }

    /// Where the last sweep of a provider's disputes in `mode` got to.
    pub async fn dispute_sweep_mark(
        &mut self,
        provider: ProviderName,
        mode: Mode,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let sql = format!(
            "SELECT swept_until FROM dispute_sweeps WHERE provider = $1 AND mode = $2{}",
            self.dialect().for_update()
        );
        let row = self.fetch_optional(&sql, vec![provider.as_str().into(), mode.as_str().into()]).await?;
        row.map(|row| time(&row, "swept_until")).transpose()
    }

    pub async fn set_dispute_sweep_mark(
        &mut self,
        provider: ProviderName,
        mode: Mode,
        swept_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO dispute_sweeps (provider, mode, swept_until) VALUES ($1, $2, $3) \
                   ON CONFLICT (provider, mode) DO UPDATE SET swept_until = excluded.swept_until";
        self.execute(sql, vec![provider.as_str().into(), mode.as_str().into(), millis(swept_until).into()]).await?;
        Ok(())
    }
}

impl Database {
    pub async fn dispute(&self, mode: Mode, id: &DisputeId) -> Result<Option<Dispute>, StoreError> {
        self.find_in_mode(&DISPUTES, mode, id.as_str()).await
    }

    pub async fn find_dispute_by_provider_id(
        &self,
        provider: ProviderName,
        provider_dispute_id: &str,
    ) -> Result<Option<Dispute>, StoreError> {
        let filter = "WHERE provider = $1 AND provider_dispute_id = $2";
        self.find_one(&DISPUTES, filter, &[provider.as_str().into(), provider_dispute_id.into()]).await
    }

    /// The disputes of a payment, newest first.
    pub async fn payment_disputes(&self, payment_id: &PaymentId) -> Result<Vec<Dispute>, StoreError> {
        self.find_all(&DISPUTES, "WHERE payment_id = $1 ORDER BY id DESC", &[payment_id.as_str().into()]).await
    }

    /// Newest first, narrowed by `filter`; `starting_after` is the last id of the previous page.
    pub async fn list_disputes(
        &self,
        mode: Mode,
        filter: &DisputeFilter,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Dispute>, StoreError> {
        // Each filter applies unless its parameter is empty (0 for the due date), so one
        // statement serves every combination.
        let sql = format!(
            "{} WHERE mode = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR status = $3) \
             AND ($4 = '' OR payment_id = $4) AND ($5 = 0 OR (response_due_at IS NOT NULL AND response_due_at < $5)) \
             ORDER BY id DESC LIMIT $6",
            DISPUTES.select()
        );
        let params = [
            mode.as_str().into(),
            starting_after.unwrap_or("").into(),
            filter.status.map_or("", DisputeStatus::as_str).into(),
            filter.payment_id.as_ref().map_or("", |id| id.as_str()).into(),
            filter.due_before.map_or(0, millis).into(),
            (i64::from(limit) + 1).into(),
        ];
        let rows = self.read_all(&sql, &params).await?;
        page(rows, limit, DISPUTES.decode)
    }

    /// Claims the disputes whose next provider check is due, until `lease_until`.
    pub async fn claim_disputes_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Dispute>, StoreError> {
        self.claim_checks(&DISPUTES, now, lease_until, limit).await
    }
}
