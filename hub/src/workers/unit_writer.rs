//! Group commit for the units of work that create payments.
//!
//! A created payment is recorded in one unit of work (the payment, its transition, its event
//! and outbox rows, and the request's answer under its Idempotency-Key), and answered only once
//! that unit is committed: a commit, and with it an fsync, per request. Requests hand their unit
//! to this writer instead, which records everything queued so far in one transaction, each
//! request's part under its own savepoint, so one part's failure (a payment id already taken,
//! say) undoes that part alone and its request alone hears the error. Each request is answered
//! only after the commit that holds its part. At low load a batch is one unit, recorded exactly
//! as before; under load, batches grow by themselves while the previous commit is in flight.
//! The provider is called before a request hands its unit over, so no transaction waits on it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payhub_core::payment::Payment;
use payhub_core::transition::Created;
use payhub_core::{IdGenerator, Mode};
use payhub_store::{Database, StoreError, StoredResponse, UnitOfWork};
use tokio::sync::{mpsc, oneshot};

use super::claim_writer::{closed, each_alone};
use crate::app::Signals;

/// Most parts per transaction. On PostgreSQL each part is a subtransaction, and a transaction
/// with more than 64 of them that wrote overflows the server's per-backend cache of them, which
/// slows every other session's visibility checks.
const MAX_BATCH: usize = 32;

/// A payment creation to record.
pub struct NewPayment {
    pub created: Created<Payment>,
    /// The request's answer, recorded under its Idempotency-Key in the same commit as the
    /// payment; `None` when the provider refused the payment, whose answer is a problem
    /// document the Idempotency-Key layer records afterwards.
    pub answer: Option<KeyAnswer>,
    /// When the change happened (the time of its unit of work).
    pub now: DateTime<Utc>,
}

pub struct KeyAnswer {
    pub mode: Mode,
    pub key: String,
    pub response: StoredResponse,
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

#[derive(Clone)]
pub struct UnitWriter {
    sender: mpsc::Sender<(NewPayment, Reply)>,
}

impl UnitWriter {
    /// Starts the writer task; events are named by `ids`, and after a commit that wrote events
    /// `signals` wakes the dispatcher and the mailer. It ends when every handle is dropped,
    /// after draining the queue.
    pub fn start(db: Database, ids: Arc<IdGenerator>, signals: Arc<Signals>) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run(db, ids, signals, receiver));
        Self { sender }
    }

    /// Records a payment creation; returns once it is committed.
    pub async fn create_payment(&self, payment: NewPayment) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.sender.send((payment, reply)).await.map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }
}

async fn run(
    db: Database,
    ids: Arc<IdGenerator>,
    signals: Arc<Signals>,
    mut receiver: mpsc::Receiver<(NewPayment, Reply)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (parts, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let outcomes = each_alone(&parts, |parts| commit(&db, &ids, &signals, parts)).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }
}

/// Records `parts` in one transaction and commits it: the outcome of each part, or the error
/// that failed the transaction itself (then nothing is recorded).
async fn commit(
    db: &Database,
    ids: &IdGenerator,
    signals: &Signals,
    parts: &[NewPayment],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let Some(first) = parts.first() else { return Ok(Vec::new()) };
    let mut unit = db.unit_of_work(ids, first.now, None).await?;
    let outcomes = if let [alone] = parts {
        // A unit of one part needs no savepoint: its failure is the transaction's.
        record(&mut unit, alone).await?;
        vec![Ok(())]
    } else {
        let mut outcomes = Vec::with_capacity(parts.len());
        for payment in parts {
            let part = unit.begin_part(payment.now).await?;
            let outcome = record(&mut unit, payment).await;
            if outcome.is_err() {
                unit.undo_part(part).await?;
            }
            outcomes.push(outcome);
        }
        outcomes
    };
    signals.committed(unit.commit().await?);
    Ok(outcomes)
}

async fn record(unit: &mut UnitOfWork<'_>, payment: &NewPayment) -> Result<(), StoreError> {
    unit.create_payment(&payment.created).await?;
    if let Some(KeyAnswer { mode, key, response }) = &payment.answer {
        unit.complete_idempotency_key(*mode, key, response).await?;
    }
    Ok(())
}
