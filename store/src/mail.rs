//! The mail outbox: events the merchant's people are mailed about, one row per event and
//! recipient, queued in the event's own transaction like webhook deliveries, claimed under a
//! lease and retried until the mail server takes them. The unique (event, recipient) pair means
//! one mail per event and recipient, however often the event's transaction is retried.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use payhub_core::Event;
use payhub_core::id::EventId;
use sqlx::Row;

use crate::codec::{json, parsed, to_json};
use crate::deliveries::DeliveryOutcome;
use crate::lease::LeaseClaim;
use crate::{Database, StoreError, Tx, millis};

/// Someone mailed about events of the named types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecipient {
    pub address: String,
    pub event_types: Vec<String>,
}

/// A mail claimed by this instance until its lease ends.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub id: i64,
    pub event_id: EventId,
    pub recipient: String,
    /// Attempts so far, including this one.
    pub attempt: i64,
}

/// One try at handing a mail to the mail server.
#[derive(Debug, Clone)]
pub struct MailAttempt {
    pub at: DateTime<Utc>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Where an event's mail to one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailState {
    pub recipient: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

pub(crate) const MAILS_DUE: LeaseClaim =
    LeaseClaim::attempts("mails", "next_attempt_at", &["id", "event_id", "recipient", "attempts"]);

/// How long this process trusts its copy of the recipients before reading the table again.
/// Its own changes take effect at once; another instance's (configured differently) within
/// this time.
const RECIPIENTS_FRESH_FOR: Duration = Duration::from_secs(5);

/// The recipients as this process last read or wrote them. Every event would otherwise read
/// the table in its transaction, though it changes only when an instance starts.
#[derive(Debug, Default)]
pub(crate) struct RecipientsCache(Mutex<Option<(Instant, Arc<Vec<MailRecipient>>)>>);

impl RecipientsCache {
    fn fresh(&self) -> Option<Arc<Vec<MailRecipient>>> {
        let cached = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cached.as_ref().filter(|(read, _)| read.elapsed() < RECIPIENTS_FRESH_FOR).map(|(_, r)| r.clone())
    }

    fn keep(&self, recipients: Arc<Vec<MailRecipient>>) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), recipients));
    }
}

impl Tx {
    async fn mail_recipients(&mut self) -> Result<Arc<Vec<MailRecipient>>, StoreError> {
        if let Some(recipients) = self.mail_recipients.fresh() {
            return Ok(recipients);
        }
        let rows = self.fetch_all("SELECT address, event_types FROM mail_recipients", vec![]).await?;
        let recipients = rows
            .iter()
            .map(|row| Ok(MailRecipient { address: row.try_get("address")?, event_types: json(row, "event_types")? }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let recipients = Arc::new(recipients);
        self.mail_recipients.keep(recipients.clone());
        Ok(recipients)
    }

    /// Queues the event's mail to every recipient who wants its type, in the caller's
    /// transaction.
    pub(crate) async fn queue_mails(&mut self, event: &Event) -> Result<(), StoreError> {
        for recipient in self.mail_recipients().await?.iter() {
            let address = &recipient.address;
            if recipient.event_types.iter().any(|t| t == event.event_type.as_str()) {
                self.execute(
                    "INSERT INTO mails (event_id, recipient, status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, 'pending', 0, $3, $3) ON CONFLICT (event_id, recipient) DO NOTHING",
                    vec![event.id.as_str().into(), address.into(), millis(event.created_at).into()],
                )
                .await?;
            }
        }
        Ok(())
    }
}

impl Database {
    /// Replaces who is mailed about what: the configuration is the truth, so a recipient
    /// removed from it gets no new mail.
    pub async fn set_mail_recipients(&self, recipients: &[MailRecipient]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.execute("DELETE FROM mail_recipients", vec![]).await?;
        for recipient in recipients {
            tx.execute(
                "INSERT INTO mail_recipients (address, event_types) VALUES ($1, $2)",
                vec![(&recipient.address).into(), to_json(&recipient.event_types).into()],
            )
            .await?;
        }
        tx.commit().await?;
        self.mail_recipients.keep(Arc::new(recipients.to_vec()));
        Ok(())
    }

    /// Claims up to `limit` due mails until `lease_until`. A crash after the mail server took a
    /// mail and before it was recorded sends it again with the same `Message-ID`.
    pub async fn claim_due_mails(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        let rows = self.claim_leased(&MAILS_DUE, now, lease_until, limit).await?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedMail {
                    id: row.try_get("id")?,
                    event_id: parsed(row, "event_id", |s| EventId::parse(s).ok())?,
                    recipient: row.try_get("recipient")?,
                    attempt: row.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Records one attempt and its outcome, releasing the lease.
    pub async fn record_mail_attempt(
        &self,
        mail: &ClaimedMail,
        attempt: &MailAttempt,
        outcome: DeliveryOutcome,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let sql = "INSERT INTO mail_attempts (mail_id, attempt, attempted_at, error, duration_ms) \
                   VALUES ($1, $2, $3, $4, $5)";
        let params = vec![
            mail.id.into(),
            mail.attempt.into(),
            millis(attempt.at).into(),
            (&attempt.error).into(),
            attempt.duration_ms.into(),
        ];
        tx.execute(sql, params).await?;
        let (status, next_attempt_at, sent_at) = match outcome {
            DeliveryOutcome::Delivered => ("sent", attempt.at, Some(millis(attempt.at))),
            DeliveryOutcome::RetryAt(at) => ("pending", at, None),
            DeliveryOutcome::GaveUp => ("failed", attempt.at, None),
        };
        tx.execute(
            "UPDATE mails SET status = $1, next_attempt_at = $2, sent_at = $3, locked_until = NULL, last_error = $4 \
             WHERE id = $5",
            vec![
                status.into(),
                millis(next_attempt_at).into(),
                sent_at.into(),
                (&attempt.error).into(),
                mail.id.into(),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// Where an event's mails stand, by recipient.
    pub async fn mails_of_event(&self, event_id: &EventId) -> Result<Vec<MailState>, StoreError> {
        let sql = "SELECT recipient, status, attempts, last_error FROM mails WHERE event_id = $1 ORDER BY recipient";
        let rows = self.read_all(sql, &[event_id.as_str().into()]).await?;
        rows.iter()
            .map(|r| {
                Ok(MailState {
                    recipient: r.try_get("recipient")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }
}
