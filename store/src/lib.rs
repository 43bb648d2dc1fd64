//! payhub's persistence, one store over two databases.
//!
//! SQLite is the embedded default (one node); PostgreSQL lets several instances share work.
//! Queries are written once, at run time, over a deliberately portable schema (times as Unix
//! milliseconds, JSON as text, bodies as bytes) through sqlx's `Any` driver: compile-time checked
//! macros would need two copies of every query, and the few real dialect differences (row locks,
//! `SKIP LOCKED`) are a word or two, chosen by [`Dialect`]. Each dialect has its own migrations.
//! One statement leaves the `Any` driver: PostgreSQL's inbox batch binds its columns as arrays,
//! which `Any` cannot, through a small pool of the native driver (`inbox.rs`).
//!
//! Concurrency: on PostgreSQL, rows are locked with `SELECT … FOR UPDATE` inside transactions and
//! work is claimed with `FOR UPDATE SKIP LOCKED` plus a lease. On SQLite every write goes through
//! one connection (SQLite has one writer anyway), which serializes read-modify-write transactions
//! without `SQLITE_BUSY` surprises, and transactions queued for it share commits (`writer.rs`); its
//! statements run on the calling thread, not through sqlx (`sqlite.rs`);
//! reads use connections of their own, on the calling thread too, and see committed data (WAL;
//! `read.rs`).

mod admins;
mod api_keys;
mod codec;
mod connect;
mod deliveries;
mod disputes;
mod endpoints;
mod entitlements;
mod error;
mod events;
mod figures;
mod idempotency;
mod inbox;
mod instances;
mod lease;
mod mail;
mod param;
mod payments;
mod plans;
mod read;
mod refunds;
mod rejected;
mod sqlite;
mod subscriptions;
mod table;
mod timeline;
mod transitions;
mod tx;
mod unit_of_work;
mod writer;

pub use admins::AdminSession;
pub use api_keys::{ApiKeyRecord, NewApiKey};
pub use connect::{Database, Dialect, POSTGRES_INBOX_BATCHES_IN_FLIGHT};
pub use deliveries::{
    ClaimedDelivery, ClaimingFor, DeliveryAttempt, DeliveryOutcome, DeliveryState, EndpointHealth, FailedAttempt,
    RecordedAttempt, Replayed, ReplayedEvents,
};
pub use disputes::DisputeFilter;
pub use endpoints::{EndpointSecrets, EndpointStatus, NewWebhookEndpoint, WebhookEndpoint};
pub use error::{Constraint, ConstraintKind, StoreError};
pub use events::EventPage;
pub use figures::{CHECKED_KINDS, ChecksDue, HourFigures, PaymentFigures, RefundFigures};
pub use idempotency::{Claimant, IdempotencyClaim, KeyClaim, RequestRun, StoredResponse};
pub use inbox::{ClaimedNotification, InboxInsert, NewInboxEntry, ParkedNotification};
pub use instances::{INSTANCE_SILENT_AFTER, InstanceIdentity, Liveness};
pub use lease::Shares;
pub use mail::{ClaimedMail, MailAttempt, MailRecipient, MailState};
pub use payments::PaymentFilter;
pub use rejected::{Kept, RejectedNotification, RejectionCount, RejectionRetention};
pub use timeline::{AttemptRecord, NotificationSummary};
pub use tx::Tx;
pub use unit_of_work::{Committed, Part, UnitOfWork};

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

/// A page of a cursor-paginated list, newest first.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

/// Turns `limit + 1` fetched rows into a page and its `has_more` flag.
pub(crate) fn page<T>(
    rows: Vec<AnyRow>,
    limit: u32,
    decode: impl Fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let has_more = rows.len() > limit as usize;
    let items = rows.iter().take(limit as usize).map(decode).collect::<Result<_, _>>()?;
    Ok(Page { items, has_more })
}

/// Converts a time to the stored representation (Unix milliseconds).
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

#[cfg(feature = "testing")]
pub mod testing;
