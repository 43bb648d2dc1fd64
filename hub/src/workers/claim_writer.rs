//! Group commit for Idempotency-Key claims.
//!
//! A request's key must be claimed durably before its provider is called (a crash after the
//! call must find the key held), which costs a commit, and with it an fsync, per request.
//! Requests hand their claim to this writer instead, which claims everything queued so far in
//! one transaction and then answers each waiting request: each still learns its outcome only
//! after its key is on disk. At low load a batch is one claim and nothing waits; under load,
//! batches grow by themselves while the previous commit is in flight.

use chrono::{DateTime, Utc};
use payhub_core::SharedClock;
use payhub_store::{Database, IdempotencyClaim, KeyClaim, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most claims per transaction: one statement inserts them all (six parameters each).
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<IdempotencyClaim, StoreError>>;

#[derive(Clone)]
pub struct ClaimWriter {
    sender: mpsc::Sender<(KeyClaim, Reply)>,
}

impl ClaimWriter {
    /// Starts the writer task, claiming keys for the instance `instance_id`; it ends when every
    /// handle is dropped, after draining the queue.
    pub fn start(db: Database, clock: SharedClock, instance_id: String) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run(db, clock, instance_id, receiver));
        Self { sender }
    }

    /// Claims a key; returns once the claim is committed.
    pub async fn claim(&self, claim: KeyClaim) -> Result<IdempotencyClaim, StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.sender.send((claim, reply)).await.map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }
}

/// The writer is gone (the process is shutting down): the request is answered 503 and its
/// client retries.
pub(super) fn closed() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

async fn run(db: Database, clock: SharedClock, instance_id: String, mut receiver: mpsc::Receiver<(KeyClaim, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (claims, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let outcomes = commit(&db, &instance_id, &claims, clock.now()).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }
}

/// Claims the batch in one transaction.
async fn commit(
    db: &Database,
    instance_id: &str,
    claims: &[KeyClaim],
    now: DateTime<Utc>,
) -> Vec<Result<IdempotencyClaim, StoreError>> {
    each_alone(claims, |claims| async move {
        Ok(db.claim_idempotency_keys(instance_id, claims, now).await?.into_iter().map(Ok).collect())
    })
    .await
}

/// The outcome of each of `items`, written together by `together` (which gives each item's
/// outcome, or the error that failed them all). If the batch fails, each item is tried alone,
/// so each request hears its own outcome (one item's bad value does not refuse the others) —
/// unless the pool found no connection for its whole acquire timeout: the database is down,
/// and a wait as long per item would leave the last request waiting many times its client's
/// patience.
pub(super) async fn each_alone<'a, T, O, Batch>(
    items: &'a [T],
    together: impl Fn(&'a [T]) -> Batch,
) -> Vec<Result<O, StoreError>>
where
    Batch: Future<Output = Result<Vec<Result<O, StoreError>>, StoreError>>,
{
    match together(items).await {
        Ok(outcomes) => outcomes,
        Err(StoreError::Database(sqlx::Error::PoolTimedOut)) => {
            items.iter().map(|_| Err(StoreError::Database(sqlx::Error::PoolTimedOut))).collect()
        }
        Err(_) if items.len() > 1 => {
            let mut outcomes = Vec::with_capacity(items.len());
            for item in items.chunks(1) {
                let alone = together(item).await.and_then(|mut outcome| {
                    outcome.pop().ok_or_else(|| StoreError::Corrupt("a batch of one gave no outcome".into()))
                });
                outcomes.push(alone.and_then(|outcome| outcome));
            }
            outcomes
        }
        Err(e) => vec![Err(e)],
    }
}
