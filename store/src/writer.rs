//! SQLite's one writer connection, and the group commit of the units of work that share it.
//!
//! Every write to a SQLite file goes through one connection, so write transactions run one after
//! another. Each costs a COMMIT, and with it an fsync (`synchronous = FULL`). Here a transaction
//! that finishes while others wait for the writer does not commit: the next one continues it,
//! under a savepoint of its own so that its failure undoes its part alone, and the last of the
//! queue commits them all, one fsync for the group. Every part's `commit` returns only after that
//! COMMIT has, with its outcome, so a caller still hears "committed" only once its writes are
//! durable. With nobody waiting, a transaction is BEGIN … COMMIT on its own.
//!
//! A part runs from its `begin` to its `commit` holding the writer: parts never interleave, so
//! sharing a transaction changes what each part reads in no way a serial order would not.
//!
//! Statements run inline on the calling thread (`crate::sqlite`); a COMMIT, which waits for the
//! disk, runs on a blocking thread. A later part sets its savepoint as it begins, under one name
//! for every part: a part's undo rolls back to the latest savepoint of that name, which is its
//! own, since no part after it has begun.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};
use tracing::warn;

use crate::StoreError;
use crate::sqlite::SqliteConn;

/// Most parts in one transaction: bounds how long the first part waits to hear its commit.
const MAX_PARTS: usize = 64;
/// Set before a transaction's second part: the savepoint `grp`, whose release before COMMIT
/// proves the transaction is still the one begun (SQLite rolls a whole transaction back on some
/// errors, a full disk say, and later statements would otherwise run in one of their own), and
/// the second part's own.
const GROUP_AND_PART: &str = "SAVEPOINT grp; SAVEPOINT unit";
/// Set before each later part.
const PART: &str = "SAVEPOINT unit";
const UNDO_PART: &str = "ROLLBACK TO SAVEPOINT unit";
/// How long a transaction waits for the writer before it gives up (a unit holding it for this
/// long is stuck; the pool it replaces waited as long).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

type Outcome = Result<(), String>;

pub(crate) struct Writer {
    /// The database file.
    path: String,
    slot: Arc<Mutex<Slot>>,
    /// Parts waiting for the writer: while any wait, a finished part leaves the transaction
    /// open for them.
    queued: AtomicUsize,
    /// Finished parts waiting for their commit. When the last waiter leaves without taking the
    /// writer while some are owed, a flush takes the writer to commit them, so no finished
    /// part waits forever.
    owed: AtomicUsize,
}

pub(crate) struct Slot {
    conn: SqliteConn,
    /// A transaction is open: a finished part began it, or the part holding the writer is its
    /// first.
    open: bool,
    /// The savepoint `grp` is set: a second part joined the transaction.
    grouped: bool,
    /// Finished parts waiting to hear the outcome of the transaction's commit.
    committers: Vec<oneshot::Sender<Outcome>>,
    /// The database was closed: no more transactions begin.
    closed: bool,
}

impl Writer {
    pub(crate) fn connect(path: &str, pragmas: &'static str) -> Result<Arc<Self>, StoreError> {
        let slot = Slot {
            conn: SqliteConn::open(path, pragmas)?,
            open: false,
            grouped: false,
            committers: Vec::new(),
            closed: false,
        };
        Ok(Arc::new(Self {
            path: path.to_owned(),
            slot: Arc::new(Mutex::new(slot)),
            queued: AtomicUsize::new(0),
            owed: AtomicUsize::new(0),
        }))
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Begins a part: a transaction of its own, or the next part of the open one, under its
    /// own savepoint.
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<WriterPart, StoreError> {
        let mut slot = self.take().await?;
        if slot.closed {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        if !slot.open {
            slot.conn.begin()?;
            slot.open = true;
            return Ok(WriterPart { writer: self.clone(), slot: Some(slot), later: false });
        }
        match slot.conn.control(if slot.grouped { PART } else { GROUP_AND_PART }) {
            Ok(()) => {
                slot.grouped = true;
                Ok(WriterPart { writer: self.clone(), slot: Some(slot), later: true })
            }
            Err(e) => {
                self.fail(&mut slot, &e.to_string());
                self.release(slot).await;
                Err(e)
            }
        }
    }

    /// Takes the writer, waiting in line for it.
    async fn take(self: &Arc<Self>) -> Result<OwnedMutexGuard<Slot>, StoreError> {
        let waiting = Waiting::join(self);
        let taken = tokio::time::timeout(ACQUIRE_TIMEOUT, self.slot.clone().lock_owned()).await;
        let Ok(slot) = taken else {
            // `waiting` leaves the line as it drops, flushing if it was the last.
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        };
        waiting.taken();
        Ok(slot)
    }

    /// A finished part: queued for the open transaction's commit, or committing it.
    async fn commit(self: &Arc<Self>, mut slot: OwnedMutexGuard<Slot>) -> Result<(), StoreError> {
        let (sender, outcome) = oneshot::channel();
        slot.committers.push(sender);
        self.owed.fetch_add(1, SeqCst);
        if slot.committers.len() < MAX_PARTS && self.queued.load(SeqCst) > 0 {
            // Someone waits for the writer: the transaction stays open for them.
            drop(slot);
        } else {
            // Committed on a task of its own, so that a caller cancelled meanwhile cannot keep
            // the others from hearing the outcome.
            let writer = self.clone();
            tokio::spawn(async move { writer.commit_all(&mut slot).await });
        }
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::CommitFailed(message)),
            Err(_) => Err(StoreError::CommitFailed("the writer stopped before the commit".into())),
        }
    }

    /// Commits the open transaction and tells every finished part in it. The transaction is
    /// over for the writer as the COMMIT starts; the blocking thread that runs it tells the
    /// parts, even if the caller here stops waiting.
    async fn commit_all(&self, slot: &mut Slot) {
        // One list: SQLite stops at the first statement that fails, so a transaction whose
        // `grp` is gone is not committed.
        let sql = if slot.grouped { "RELEASE SAVEPOINT grp; COMMIT" } else { "COMMIT" };
        let committers = std::mem::take(&mut slot.committers);
        self.owed.fetch_sub(committers.len(), SeqCst);
        slot.open = false;
        slot.grouped = false;
        slot.conn
            .in_background(move |conn| {
                let outcome = conn.control(sql).map_err(|e| {
                    // An error when nothing is open (SQLite may have rolled it back itself)
                    // changes nothing.
                    let _ = conn.control("ROLLBACK");
                    e.to_string()
                });
                tell(committers, &outcome);
            })
            .await;
    }

    /// Rolls back whatever transaction is open and tells every finished part in it that it
    /// failed.
    fn fail(&self, slot: &mut Slot, reason: &str) {
        // An error when nothing is open (SQLite may have rolled it back itself) changes nothing.
        let _ = slot.conn.control("ROLLBACK");
        slot.open = false;
        slot.grouped = false;
        let committers = std::mem::take(&mut slot.committers);
        self.owed.fetch_sub(committers.len(), SeqCst);
        tell(committers, &Err(reason.to_owned()));
    }

    /// Lets the writer go. When nobody waits for it, finished parts are committed now.
    async fn release(&self, mut slot: OwnedMutexGuard<Slot>) {
        if !slot.committers.is_empty() && self.queued.load(SeqCst) == 0 {
            self.commit_all(&mut slot).await;
        }
    }

    /// Takes the writer to commit what is owed when no one else will.
    fn flush_later(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let writer = self.clone();
        runtime.spawn(async move {
            match writer.take().await {
                Ok(slot) => writer.release(slot).await,
                Err(e) => warn!(error = %e, "could not take the SQLite writer to finish a commit"),
            }
        });
    }

    /// Holds the writer with no transaction of its own open, while `work` writes to the file
    /// on a connection of its own (migrations).
    pub(crate) async fn exclusive<T>(self: &Arc<Self>, work: impl AsyncFnOnce() -> T) -> Result<T, StoreError> {
        let _idle = self.take_idle().await?;
        Ok(work().await)
    }

    /// Commits what is finished; no transaction begins after this. (The connection itself
    /// closes when the last handle to the database is dropped.)
    pub(crate) async fn close(self: &Arc<Self>) {
        if let Ok(mut slot) = self.take_idle().await {
            slot.closed = true;
        }
    }

    /// Takes the writer and commits the finished parts waiting for it, so that no transaction
    /// is open.
    async fn take_idle(self: &Arc<Self>) -> Result<OwnedMutexGuard<Slot>, StoreError> {
        let mut slot = self.take().await?;
        if !slot.committers.is_empty() {
            self.commit_all(&mut slot).await;
        }
        Ok(slot)
    }
}

/// Tells every finished part of a transaction how its commit ended.
fn tell(committers: Vec<oneshot::Sender<Outcome>>, outcome: &Outcome) {
    for committer in committers {
        let _ = committer.send(outcome.clone());
    }
}

/// A place in the line for the writer.
struct Waiting<'a> {
    writer: Option<&'a Arc<Writer>>,
}

impl<'a> Waiting<'a> {
    fn join(writer: &'a Arc<Writer>) -> Self {
        writer.queued.fetch_add(1, SeqCst);
        Self { writer: Some(writer) }
    }

    /// Leaves the line with the writer.
    fn taken(mut self) {
        if let Some(writer) = self.writer.take() {
            writer.queued.fetch_sub(1, SeqCst);
        }
    }
}

impl Drop for Waiting<'_> {
    /// Leaves the line without the writer (cancelled or timed out). A finished part may have
    /// left the transaction open because this one was waiting: if no one else waits, a flush
    /// commits it. (The part adds itself to `owed` before it reads `queued`, and this reads
    /// `owed` after it leaves `queued`, so at least one of the two sees the other.)
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take()
            && writer.queued.fetch_sub(1, SeqCst) == 1
            && writer.owed.load(SeqCst) > 0
        {
            writer.flush_later();
        }
    }
}

/// A transaction's hold on the writer, from its `begin` to its `commit`.
pub(crate) struct WriterPart {
    writer: Arc<Writer>,
    /// Held until the part ends.
    slot: Option<OwnedMutexGuard<Slot>>,
    /// A later part of its transaction, under its own savepoint; the first began it.
    later: bool,
}

impl WriterPart {
    pub(crate) fn conn(&self) -> &SqliteConn {
        // Only `commit` takes the slot, and it consumes the part.
        &self.slot.as_ref().expect("a part holds the writer until it ends").conn
    }

    /// Commits the part: returns once the transaction holding it is committed.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let slot = self.slot.take().expect("a part holds the writer until it ends");
        self.writer.commit(slot).await
    }
}

impl Drop for WriterPart {
    /// A part that ends without committing (an error, a cancelled request) is undone here and
    /// now: back to its savepoint, or the whole transaction if it began it (no other part is
    /// in it then).
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else { return };
        if !self.later {
            // It began the transaction: nothing else is in it.
            self.writer.fail(&mut slot, "");
        } else if let Err(e) = slot.conn.control(UNDO_PART) {
            // The transaction is no longer the one the other parts wrote in.
            self.writer.fail(&mut slot, &e.to_string());
        }
        drop(slot);
        if self.writer.queued.load(SeqCst) == 0 && self.writer.owed.load(SeqCst) > 0 {
            self.writer.flush_later();
        }
    }
}
