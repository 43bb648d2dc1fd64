//! The inbox: verified provider notifications, committed before the provider gets its 2xx, then
//! applied by the processor. The unique (provider, provider_event_id) pair is what makes a
//! redelivery — by the provider, or by two instances racing — count once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use payhub_core::{Mode, ProviderName};
use sqlx::{PgPool, Row};

use crate::codec::{parsed, to_json, trusted};
use crate::lease::LeaseClaim;
use crate::param::Param;
use crate::{Database, StoreError, Tx, millis};

#[derive(Debug, Clone)]
pub struct NewInboxEntry {
    pub provider: ProviderName,
    pub mode: Mode,
    pub provider_event_id: String,
    pub event_type: String,
    pub body: Vec<u8>,
    /// The provider's headers that matter for audit (signature, transmission id…).
    pub headers: Vec<(String, String)>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxInsert {
    Inserted,
    /// Already in the inbox: acknowledged again, applied once.
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct ClaimedNotification {
    pub id: i64,
    pub provider: ProviderName,
    pub mode: Mode,
    pub provider_event_id: String,
    pub event_type: String,
    pub body: Vec<u8>,
    /// Attempts so far, including this one.
    pub attempt: i64,
}

/// Due notifications, the longest due first and those due at once in arrival order: the order
/// of the index of pending notifications (`inbox_due`, on `next_attempt_at, id`), so a claim
/// reads only the rows it takes, however many are due at the same time. Ordered by id alone,
/// both databases walked the inbox from its oldest row, every notification already processed
/// included: 45–50 ms a claim behind 40,000 of them; with the index on `next_attempt_at` alone,
/// PostgreSQL sorted all the notifications due at one time (58 ms a claim behind 50,000)
/// (BENCHMARKS.md, "The inbox claim").
pub(crate) const NOTIFICATIONS_DUE: LeaseClaim = LeaseClaim::attempts(
    "inbox",
    "next_attempt_at, id",
    &["id", "provider", "mode", "provider_event_id", "event_type", "body", "attempts"],
);

impl Database {
    /// Stores a batch of notifications in one transaction (group commit): one fsync for the
    /// whole batch, and every caller learns whether its own entry was new.
    pub async fn insert_inbox_batch(&self, entries: &[NewInboxEntry]) -> Result<Vec<InboxInsert>, StoreError> {
        // The same event twice in one batch: the later copies are duplicates of the first.
        let mut seen = HashSet::new();
        let firsts: Vec<bool> =
            entries.iter().map(|e| seen.insert((e.provider, e.provider_event_id.as_str()))).collect();
        let unique: Vec<&NewInboxEntry> =
            entries.iter().zip(&firsts).filter(|(_, first)| **first).map(|(e, _)| e).collect();
        let inserted = match self.inbox_batches() {
            Some(pool) => insert_rows_as_arrays(pool, &unique).await?,
            None => {
                let mut tx = self.begin().await?;
                let inserted = insert_rows_at_once(&mut tx, &unique).await?;
                tx.commit().await?;
                inserted
            }
        };
        let mut inserted = inserted.into_iter();
        Ok(firsts
            .into_iter()
            .map(|first| match first && inserted.next().unwrap_or(false) {
                true => InboxInsert::Inserted,
                false => InboxInsert::Duplicate,
            })
            .collect())
    }

    /// Claims due notifications until `lease_until`, oldest first.
    pub async fn claim_due_notifications(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedNotification>, StoreError> {
        let rows = self.claim_leased(&NOTIFICATIONS_DUE, now, lease_until, limit).await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedNotification {
                    id: row.try_get("id")?,
                    provider: parsed(row, "provider", |s| s.parse().ok())?,
                    mode: parsed(row, "mode", |s| s.parse().ok())?,
                    provider_event_id: row.try_get("provider_event_id")?,
                    event_type: row.try_get("event_type")?,
                    body: row.try_get("body")?,
                    attempt: row.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING gives no order guarantee; apply in arrival order.
        claimed.sort_by_key(|n| n.id);
        Ok(claimed)
    }

    /// Puts a notification back for a later attempt (the provider was unreachable, say), or
    /// parks it as `failed` for a human when `park` is set. Nothing is ever deleted.
    pub async fn retry_notification(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        park: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE inbox SET status = $1, next_attempt_at = $2, locked_until = NULL, last_error = $3 \
             WHERE id = $4 AND status = 'pending'",
            vec![
                if park { "failed" } else { "pending" }.into(),
                millis(next_attempt_at).into(),
                error.into(),
                id.into(),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// Closes a notification that has nothing to apply (an event type payhub does not act on,
    /// or one about an object payhub never created), keeping the reason next to it.
    pub async fn settle_notification(&self, id: i64, now: DateTime<Utc>, note: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE inbox SET status = 'processed', processed_at = $1, locked_until = NULL, last_error = $2 \
             WHERE id = $3",
            vec![millis(now).into(), note.into(), id.into()],
        )
        .await?;
        tx.commit().await
    }

    /// Notifications accepted but not yet applied (a readiness and alerting figure).
    pub async fn inbox_backlog(&self) -> Result<i64, StoreError> {
        let row = self.read_aside_one("SELECT COUNT(*) AS n FROM inbox WHERE status = 'pending'", &[]).await?;
        Ok(row.try_get("n")?)
    }

    /// Whether any notification waits to be applied: the first entry of the index of pending
    /// notifications, however long the backlog (a count reads all of it).
    pub async fn inbox_has_pending(&self) -> Result<bool, StoreError> {
        Ok(self.read_optional("SELECT id FROM inbox WHERE status = 'pending' LIMIT 1", &[]).await?.is_some())
    }

    /// The status of one stored notification (`pending`, `processed`, `failed`), for tests and ops.
    pub async fn notification_status(
        &self,
        provider: ProviderName,
        provider_event_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = "SELECT status FROM inbox WHERE provider = $1 AND provider_event_id = $2";
        let row = self.read_optional(sql, &[provider.as_str().into(), provider_event_id.into()]).await?;
        Ok(row.map(|r| r.try_get("status")).transpose()?)
    }

    /// What the processor noted on one stored notification (why it was not applied, or why it
    /// waits), for tests and ops.
    pub async fn notification_note(
        &self,
        provider: ProviderName,
        provider_event_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = "SELECT last_error FROM inbox WHERE provider = $1 AND provider_event_id = $2";
        let row = self.read_optional(sql, &[provider.as_str().into(), provider_event_id.into()]).await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("last_error")).transpose()?.flatten())
    }
}

/// A notification the processor gave up on, kept for a person: why, and how often it tried.
#[derive(Debug, Clone)]
pub struct ParkedNotification {
    pub id: i64,
    pub provider: ProviderName,
    pub provider_event_id: String,
    pub event_type: String,
    pub attempts: i64,
    pub received_at: DateTime<Utc>,
    pub reason: String,
}

impl Database {
    /// The newest `limit` parked notifications of `mode`, and how many there are in all.
    pub async fn parked_notifications(
        &self,
        mode: Mode,
        limit: u32,
    ) -> Result<(Vec<ParkedNotification>, i64), StoreError> {
        let sql = "SELECT id, provider, provider_event_id, event_type, attempts, received_at, last_error FROM inbox \
                   WHERE mode = $1 AND status = 'failed' ORDER BY id DESC LIMIT $2";
        let rows = self.read_all(sql, &[mode.as_str().into(), i64::from(limit).into()]).await?;
        let parked = rows
            .iter()
            .map(|r| {
                Ok(ParkedNotification {
                    id: r.try_get("id")?,
                    provider: parsed(r, "provider", |s| s.parse().ok())?,
                    provider_event_id: r.try_get("provider_event_id")?,
                    event_type: r.try_get("event_type")?,
                    attempts: r.try_get("attempts")?,
                    received_at: crate::codec::time(r, "received_at")?,
                    reason: r.try_get::<Option<String>, _>("last_error")?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let sql = "SELECT COUNT(*) AS n FROM inbox WHERE mode = $1 AND status = 'failed'";
        let count = self.read_aside_one(sql, &[mode.as_str().into()]).await?;
        Ok((parked, count.try_get("n")?))
    }

    /// Puts a parked notification of `mode` back in the queue, due now and with a fresh count
    /// of attempts; the reason it was parked stays beside it until it is applied. Returns
    /// whether such a parked notification existed.
    pub async fn requeue_notification(&self, mode: Mode, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let sql = "UPDATE inbox SET status = 'pending', attempts = 0, next_attempt_at = $1, locked_until = NULL \
                   WHERE id = $2 AND mode = $3 AND status = 'failed'";
        Ok(self.write(sql, &[millis(now).into(), id.into(), mode.as_str().into()]).await? == 1)
    }
}

impl Tx {
    /// Marks a notification applied, in the same transaction as its effects.
    pub async fn mark_notification_processed(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.execute(
            "UPDATE inbox SET status = 'processed', processed_at = $1, locked_until = NULL, \
             last_error = NULL WHERE id = $2",
            vec![millis(now).into(), id.into()],
        )
        .await
    }
}

const INSERT_INTO_INBOX: &str = "INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, \
    status, attempts, next_attempt_at, received_at) ";

/// SQLite runs in-process, so the cost of a batch is per statement: one multi-row insert.
/// Its parameters are anonymous (`?`): SQLite looks named ones up by name, which grows with
/// the square of their number. Returns, per entry, whether it was new.
async fn insert_rows_at_once(tx: &mut Tx, entries: &[&NewInboxEntry]) -> Result<Vec<bool>, StoreError> {
    let mut inserted = Vec::with_capacity(entries.len());
    // SQLite allows 32766 parameters; 8 a row, in chunks well below that.
    for chunk in entries.chunks(500) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "{INSERT_INTO_INBOX}VALUES {rows} ON CONFLICT (provider, provider_event_id) DO NOTHING \
             RETURNING provider, provider_event_id"
        );
        let mut values: Vec<Param<'_>> = Vec::with_capacity(8 * chunk.len());
        for entry in chunk {
            let received = millis(entry.received_at);
            values.extend([
                entry.provider.as_str().into(),
                entry.mode.as_str().into(),
                (&entry.provider_event_id).into(),
                (&entry.event_type).into(),
                entry.body.as_slice().into(),
                to_json(&entry.headers).into(),
                received.into(),
                received.into(),
            ]);
        }
        let returned = tx.fetch_all_once(&sql, values).await?;
        inserted.extend(which_are_new(chunk, returned.iter().map(provider_and_event_id))?);
    }
    Ok(inserted)
}

/// A returned row's provider and event id.
fn provider_and_event_id<R: Row>(row: &R) -> Result<(String, String), sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok((row.try_get("provider")?, row.try_get("provider_event_id")?))
}

/// Per entry, whether the insert returned its row (new) or skipped it (already stored). An
/// event id is unique per provider only: another provider's may be new.
fn which_are_new(
    entries: &[&NewInboxEntry],
    returned: impl Iterator<Item = Result<(String, String), sqlx::Error>>,
) -> Result<Vec<bool>, StoreError> {
    let mut new: HashMap<String, HashSet<String>> = HashMap::new();
    for row in returned {
        let (provider, event_id) = row?;
        new.entry(provider).or_default().insert(event_id);
    }
    let is_new =
        |e: &&NewInboxEntry| new.get(e.provider.as_str()).is_some_and(|ids| ids.contains(&e.provider_event_id));
    Ok(entries.iter().map(is_new).collect())
}

/// PostgreSQL: the whole batch in one statement and one round trip, each column bound as one
/// array in the binary format, so the statement is prepared once whatever the batch size and
/// nothing is re-encoded as text. Sent alone, the statement is its own transaction: its rows are
/// durable, all of them or none, when it returns. `ORDINALITY` keeps the inbox's ids in
/// arrival order.
async fn insert_rows_as_arrays(pool: &PgPool, entries: &[&NewInboxEntry]) -> Result<Vec<bool>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let column = |value: fn(&NewInboxEntry) -> &str| entries.iter().map(|e| value(e)).collect::<Vec<&str>>();
    let headers: Vec<String> = entries.iter().map(|e| to_json(&e.headers)).collect();
    let received: Vec<i64> = entries.iter().map(|e| millis(e.received_at)).collect();
    let bodies: Vec<&[u8]> = entries.iter().map(|e| e.body.as_slice()).collect();
    let sql = format!(
        "{INSERT_INTO_INBOX}SELECT provider, mode, provider_event_id, event_type, body, headers, 'pending', 0, \
         received_at, received_at \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::bigint[]) \
         WITH ORDINALITY AS batch (provider, mode, provider_event_id, event_type, body, headers, received_at, n) \
         ORDER BY n \
         ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING provider, provider_event_id"
    );
    let returned = sqlx::query(trusted(sql))
        .bind(column(|e| e.provider.as_str()))
        .bind(column(|e| e.mode.as_str()))
        .bind(column(|e| &e.provider_event_id))
        .bind(column(|e| &e.event_type))
        .bind(bodies)
        .bind(headers)
        .bind(received)
        .fetch_all(pool)
        .await?;
    which_are_new(entries, returned.iter().map(provider_and_event_id))
}
