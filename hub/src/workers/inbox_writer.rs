//! Group commit for the inbox.
//!
//! A durable commit costs an fsync (~150 µs here); one per notification would cap ingest near
//! 6k/s on SQLite. Ingress handlers instead hand their verified notification to this writer,
//! which commits everything queued so far in one transaction and then answers each waiting
//! request. Each request still gets its 2xx only after its own row is on disk. At low load a
//! batch is a single row and nothing waits; under load, batches grow by themselves while the
//! previous commits are in flight.
//!
//! On PostgreSQL a few batches commit at once, each on its own connection: the server flushes
//! their commits together, and one batch's round trip no longer waits for the previous one's.
//! SQLite has one writer connection, so its batches commit one after another.

use std::sync::Arc;

use payhub_store::{Database, Dialect, InboxInsert, NewInboxEntry, POSTGRES_INBOX_BATCHES_IN_FLIGHT, StoreError};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{error, warn};

/// Most rows per transaction; large enough to amortize the fsync, small enough to keep a
/// commit's latency low.
const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<InboxInsert, InboxWriteError>>;

#[derive(Clone)]
pub struct InboxWriter {
    sender: mpsc::Sender<(NewInboxEntry, Reply)>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum InboxWriteError {
    #[error("the inbox is not accepting notifications (shutting down)")]
    Closed,
    /// The database could not take the notification now (connection lost, lock contention):
    /// the sender should deliver it again later.
    #[error("could not store the notification: {0}")]
    Unavailable(String),
    /// The database refuses this notification whatever the timing (a value it cannot hold):
    /// delivering it again cannot help; the caller must keep it elsewhere.
    #[error("the notification cannot be stored: {0}")]
    Unstorable(String),
}

impl InboxWriter {
    /// Starts the writer task; it ends when every handle is dropped, after draining the queue.
    pub fn start(db: Database, on_commit: impl Fn() + Send + Sync + 'static) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run(db, receiver, on_commit));
        Self { sender }
    }

    /// Stores a notification durably; returns once it is committed (or known as a duplicate).
    pub async fn write(&self, entry: NewInboxEntry) -> Result<InboxInsert, InboxWriteError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send((entry, reply)).await.map_err(|_| InboxWriteError::Closed)?;
        answer.await.map_err(|_| InboxWriteError::Closed)?
    }
}

async fn run(
    db: Database,
    mut receiver: mpsc::Receiver<(NewInboxEntry, Reply)>,
    on_commit: impl Fn() + Send + Sync + 'static,
) {
    let in_flight = match db.dialect() {
        Dialect::Postgres => POSTGRES_INBOX_BATCHES_IN_FLIGHT,
        Dialect::Sqlite => 1,
    };
    let lanes = Arc::new(Semaphore::new(in_flight));
    let on_commit = Arc::new(on_commit);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // A free lane first, then the batch: while every lane is busy the queue grows into the
        // next batch.
        let Ok(lane) = lanes.clone().acquire_owned().await else { break };
        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            break;
        }
        let (entries, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let (db, on_commit) = (db.clone(), on_commit.clone());
        tokio::spawn(async move {
            let results = commit(&db, &entries).await;
            drop(lane);
            if results.iter().any(Result::is_ok) {
                on_commit();
            }
            // Each sender hears of its own row only once that row's transaction has committed.
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        });
    }
    // Drained: the batches still committing answer their senders before the writer ends.
    let _ = lanes.acquire_many(in_flight as u32).await;
}

/// Commits the batch in one transaction. A database that refuses the values of the batch has
/// been handed one row it cannot hold: the rows are then committed one by one, so that row
/// alone is refused and the others are still stored. Any other failure (a lost connection, a
/// full disk, a missing table) is the database's, not the rows': every sender hears "later".
async fn commit(db: &Database, entries: &[NewInboxEntry]) -> Vec<Result<InboxInsert, InboxWriteError>> {
    match insert(db, entries).await {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) if e.refuses_the_values() => {
            warn!(error = %e, rows = entries.len(), "the database refused an inbox batch; storing its rows one by one");
            let mut results = Vec::with_capacity(entries.len());
            for entry in entries {
                results.push(commit_one(db, entry).await);
            }
            results
        }
        Err(e) => {
            error!(error = %e, rows = entries.len(), "inbox commit failed; the providers will redeliver");
            entries.iter().map(|_| Err(InboxWriteError::Unavailable(e.to_string()))).collect()
        }
    }
}

async fn commit_one(db: &Database, entry: &NewInboxEntry) -> Result<InboxInsert, InboxWriteError> {
    match insert(db, std::slice::from_ref(entry)).await {
        Ok(results) => {
            results.first().copied().ok_or_else(|| InboxWriteError::Unavailable("the store returned no outcome".into()))
        }
        Err(e) if e.refuses_the_values() => {
            error!(error = %e, event = %entry.provider_event_id, "a verified notification cannot be stored");
            Err(InboxWriteError::Unstorable(e.to_string()))
        }
        Err(e) => Err(InboxWriteError::Unavailable(e.to_string())),
    }
}

async fn insert(db: &Database, entries: &[NewInboxEntry]) -> Result<Vec<InboxInsert>, StoreError> {
    match db.insert_inbox_batch(entries).await {
        // A transient failure (a dropped connection) gets one immediate second chance before
        // the senders are told to come back later. Not a pool that found no connection for
        // its whole acquire timeout: the database is down, and a second wait as long would
        // outlast the provider's patience, which then hears no answer instead of a 503.
        Err(e) if e.is_transient() && !matches!(e, StoreError::Database(sqlx::Error::PoolTimedOut)) => {
            db.insert_inbox_batch(entries).await
        }
        other => other,
    }
}
