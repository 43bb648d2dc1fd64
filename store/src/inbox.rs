//! The inbox: verified provider notifications, committed before the provider gets its 2xx, then
//! applied by the processor. The unique (provider, provider_event_id) pair is what makes a
//! redelivery — by the provider, or by two instances racing — count once.

use chrono::{DateTime, Utc};
use payhub_core::{Mode, ProviderName};
use sqlx::Row;

use crate::codec::{parsed, to_json, trusted};
use crate::lease::LeaseClaim;
use crate::{Database, Dialect, StoreError, Tx, millis};

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

/// Notifications are applied in arrival order.
pub(crate) const NOTIFICATIONS_DUE: LeaseClaim = LeaseClaim::attempts(
    "inbox",
    "id",
    &["id", "provider", "mode", "provider_event_id", "event_type", "body", "attempts"],
);

impl Database {
    /// Stores a batch of notifications in one transaction (group commit): one fsync for the
    /// whole batch, and every caller learns whether its own entry was new.
    pub async fn insert_inbox_batch(&self, entries: &[NewInboxEntry]) -> Result<Vec<InboxInsert>, StoreError> {
        // The same event twice in one batch: the later copies are duplicates of the first.
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<bool> =
            entries.iter().map(|e| seen.insert((e.provider, e.provider_event_id.as_str()))).collect();
        let unique: Vec<&NewInboxEntry> =
            entries.iter().zip(&firsts).filter(|(_, first)| **first).map(|(e, _)| e).collect();
        let mut tx = self.begin().await?;
        let inserted = match tx.dialect() {
            Dialect::Sqlite => insert_rows_at_once(&mut tx, &unique).await?,
            Dialect::Postgres => insert_rows_unnested(&mut tx, &unique).await?,
        };
        tx.commit().await?;
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
        sqlx::query(
            "UPDATE inbox SET status = $1, next_attempt_at = $2, locked_until = NULL, last_error = $3 \
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(if park { "failed" } else { "pending" })
        .bind(millis(next_attempt_at))
        .bind(error)
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// Closes a notification that has nothing to apply (an event type payhub does not act on,
    /// or one about an object payhub never created), keeping the reason next to it.
    pub async fn settle_notification(&self, id: i64, now: DateTime<Utc>, note: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE inbox SET status = 'processed', processed_at = $1, locked_until = NULL, last_error = $2 \
             WHERE id = $3",
        )
        .bind(millis(now))
        .bind(note)
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// Notifications accepted but not yet applied (a readiness and alerting figure).
    pub async fn inbox_backlog(&self) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM inbox WHERE status = 'pending'").fetch_one(self.reader()).await?;
        Ok(row.try_get("n")?)
    }

    /// The status of one stored notification (`pending`, `processed`, `failed`), for tests and ops.
    pub async fn notification_status(
        &self,
        provider: ProviderName,
        provider_event_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT status FROM inbox WHERE provider = $1 AND provider_event_id = $2")
            .bind(provider.as_str())
            .bind(provider_event_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| r.try_get("status")).transpose()?)
    }

    /// What the processor noted on one stored notification (why it was not applied, or why it
    /// waits), for tests and ops.
    pub async fn notification_note(
        &self,
        provider: ProviderName,
        provider_event_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT last_error FROM inbox WHERE provider = $1 AND provider_event_id = $2")
            .bind(provider.as_str())
            .bind(provider_event_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("last_error")).transpose()?.flatten())
    }
}

impl Tx {
    /// Marks a notification applied, in the same transaction as its effects.
    pub async fn mark_notification_processed(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbox SET status = 'processed', processed_at = $1, locked_until = NULL, \
             last_error = NULL WHERE id = $2",
        )
        .bind(millis(now))
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

const INSERT_INTO_INBOX: &str = "INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, \
    status, attempts, next_attempt_at, received_at) VALUES ";

/// SQLite runs in-process, so the cost of a batch is per statement: one multi-row insert.
/// Its parameters are anonymous (`?`): SQLite looks named ones up by name, which grows with
/// the square of their number. Returns, per entry, whether it was new.
async fn insert_rows_at_once(tx: &mut Tx, entries: &[&NewInboxEntry]) -> Result<Vec<bool>, StoreError> {
    let mut inserted = Vec::with_capacity(entries.len());
    // SQLite allows 32766 parameters; 7 a row, in chunks well below that.
    for chunk in entries.chunks(500) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "{INSERT_INTO_INBOX}{rows} ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING provider_event_id"
        );
        let mut query = sqlx::query(trusted(sql)).persistent(false);
        for entry in chunk {
            let received = millis(entry.received_at);
            query = query
                .bind(entry.provider.as_str())
                .bind(entry.mode.as_str())
                .bind(&entry.provider_event_id)
                .bind(&entry.event_type)
                .bind(&entry.body)
                .bind(to_json(&entry.headers))
                .bind(received)
                .bind(received);
        }
        let new: std::collections::HashSet<String> = query
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>("provider_event_id"))
            .collect::<Result<_, _>>()?;
        inserted.extend(chunk.iter().map(|e| new.contains(&e.provider_event_id)));
    }
    Ok(inserted)
}

/// PostgreSQL: one statement per batch, whatever its size. Each column travels as one array
/// parameter (in PostgreSQL's text form: the `Any` driver binds no arrays) and `UNNEST` turns
/// the arrays back into rows, so a batch costs one round trip and one plan, not one per row.
/// Rows go in in (provider, event id) order: batches committing side by side on other
/// connections then take the unique index's locks in the same order and cannot deadlock.
async fn insert_rows_unnested(tx: &mut Tx, entries: &[&NewInboxEntry]) -> Result<Vec<bool>, StoreError> {
    let mut sorted = entries.to_vec();
    sorted
        .sort_by(|a, b| (a.provider.as_str(), &a.provider_event_id).cmp(&(b.provider.as_str(), &b.provider_event_id)));
    let texts = |value: fn(&NewInboxEntry) -> String| text_array(sorted.iter().map(|e| value(e)));
    let received = sorted.iter().map(|e| millis(e.received_at).to_string()).collect::<Vec<_>>().join(",");
    let rows = sqlx::query(
        "INSERT INTO inbox (provider, mode, provider_event_id, event_type, body, headers, status, attempts, \
         next_attempt_at, received_at) \
         SELECT provider, mode, provider_event_id, event_type, decode(body, 'hex'), headers, 'pending', 0, \
         received_at, received_at \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) \
         AS batch (provider, mode, provider_event_id, event_type, body, headers, received_at) \
         ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING provider, provider_event_id",
    )
    .bind(texts(|e| e.provider.as_str().to_owned()))
    .bind(texts(|e| e.mode.as_str().to_owned()))
    .bind(texts(|e| e.provider_event_id.clone()))
    .bind(texts(|e| e.event_type.clone()))
    .bind(texts(|e| hex(&e.body)))
    .bind(texts(|e| to_json(&e.headers)))
    .bind(format!("{{{received}}}"))
    .fetch_all(tx.conn())
    .await?;
    let new: std::collections::HashSet<(String, String)> = rows
        .iter()
        .map(|row| Ok((row.try_get("provider")?, row.try_get("provider_event_id")?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(entries.iter().map(|e| new.contains(&(e.provider.as_str().to_owned(), e.provider_event_id.clone()))).collect())
}

/// A PostgreSQL array literal of texts: every element quoted, its quotes and backslashes
/// escaped, so any text (commas, braces, `NULL`) arrives as itself.
fn text_array(values: impl Iterator<Item = String>) -> String {
    let mut literal = String::from("{");
    for (i, value) in values.enumerate() {
        if i > 0 {
            literal.push(',');
        }
        literal.push('"');
        for c in value.chars() {
            if c == '"' || c == '\\' {
                literal.push('\\');
            }
            literal.push(c);
        }
        literal.push('"');
    }
    literal.push('}');
    literal
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::text_array;

    #[test]
    fn array_literals_keep_quotes_backslashes_and_separators_as_they_are() {
        let values = ["plain", "a,b", "say \"hi\"", "back\\slash", "NULL", "{}", ""].map(String::from);
        assert_eq!(text_array(values.into_iter()), r#"{"plain","a,b","say \"hi\"","back\\slash","NULL","{}",""}"#);
    }
}
