//! SQLite's one writer connection, and the group commit of the units of work that share it.
//!
//! Every write to a SQLite file goes through one connection, so write transactions run one after
//! another. Each costs a COMMIT, and with it an fsync (`synchronous = FULL`), plus BEGIN and
//! COMMIT as statements, each a hand-off to sqlx's worker thread and back; a pool in front of
//! the connection added a ping on every release. Here a transaction that finishes while others
//! wait for the writer does not commit: the next one continues it, under a savepoint of its own
//! so that its failure undoes its part alone, and the last of the queue commits them all, one
//! fsync for the group. Every part's `commit` returns only after that COMMIT has, with its
//! outcome, so a caller still hears "committed" only once its writes are durable. With nobody
//! waiting, a transaction is BEGIN … COMMIT on its own, as before.
//!
//! A part runs from its `begin` to its `commit` holding the writer, as it held the pool's one
//! connection before: parts never interleave, so sharing a transaction changes what each part
//! reads in no way a serial order would not.
//!
//! Transaction control rides with statements where it safely can, since each hand-off to the
//! SQLite thread costs more than such a statement (see BENCHMARKS.md, "Apply on SQLite"). A
//! transaction's BEGIN goes with its first part's first statement: if that part ends, whatever
//! ran is rolled back whole, and nothing else is in the transaction. A later part's savepoint is
//! set by the part before it, at the end of the writes that part sends with its commit, so the
//! part finds it in place. The two take different names in turn: a part's undo rolls back to
//! the latest savepoint of its name, which is then its own, whether or not the one it was
//! setting for the next part had run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use sqlx::{AnyConnection, Connection, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};
use tracing::warn;

use crate::StoreError;

/// Most parts in one transaction: bounds how long the first part waits to hear its commit.
const MAX_PARTS: usize = 64;
/// Sent with a transaction's first statement.
const BEGIN_TRANSACTION: &str = "BEGIN";
/// Set before a transaction's second part: the savepoint `grp`, whose release before COMMIT
/// proves the transaction is still the one begun (SQLite rolls a whole transaction back on some
/// errors, a full disk say, and later statements would otherwise run in one of their own), and
/// the second part's own.
const GROUP_AND_SECOND_PART: &str = "SAVEPOINT grp; SAVEPOINT unit_a";
/// How long a transaction waits for the writer before it gives up (a unit holding it for this
/// long is stuck; the pool it replaces waited as long).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

type Outcome = Result<(), String>;

pub(crate) struct Writer {
    url: String,
    pragmas: &'static str,
    slot: Arc<Mutex<Slot>>,
    /// Parts waiting for the writer: while any wait, a finished part leaves the transaction
    /// open for them.
    queued: AtomicUsize,
    /// Work a holder of the writer owes: finished parts waiting for their commit, and a part
    /// to undo. When the last waiter leaves without taking the writer and work is owed, a flush
    /// takes the writer to do it, so no finished part waits forever.
    owed: AtomicUsize,
}

pub(crate) struct Slot {
    conn: AnyConnection,
    /// A transaction is open: a finished part began it, or the part holding the writer is its
    /// first.
    open: bool,
    /// The savepoint `grp` is set: a second part joined the transaction.
    grouped: bool,
    /// A savepoint set at the end of the open transaction, for the next part to take as its own.
    ready: Option<Savepoint>,
    /// Finished parts waiting to hear the outcome of the transaction's commit.
    committers: Vec<oneshot::Sender<Outcome>>,
    /// A part that ended without committing, not undone yet.
    undo: Option<Undo>,
    /// The database was closed: no more transactions begin.
    closed: bool,
    /// A transaction-control statement was cut off (its caller was cancelled) and may or may
    /// not have run: the next holder rolls back whatever is open before anything else.
    in_doubt: bool,
}

#[derive(Debug, Clone, Copy)]
enum Undo {
    /// The first part of its transaction: the whole transaction goes.
    Transaction,
    /// A later part: back to its savepoint.
    Part(Savepoint),
}

/// The savepoint a later part's undo rolls back to. Parts take the two names in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Savepoint {
    A,
    B,
}

impl Savepoint {
    /// The name the part after this one takes.
    fn next(self) -> Self {
        match self {
            Savepoint::A => Savepoint::B,
            Savepoint::B => Savepoint::A,
        }
    }

    fn set(self) -> &'static str {
        match self {
            Savepoint::A => "SAVEPOINT unit_a",
            Savepoint::B => "SAVEPOINT unit_b",
        }
    }

    fn roll_back(self) -> &'static str {
        match self {
            Savepoint::A => "ROLLBACK TO SAVEPOINT unit_a",
            Savepoint::B => "ROLLBACK TO SAVEPOINT unit_b",
        }
    }
}

impl Writer {
    pub(crate) async fn connect(url: String, pragmas: &'static str) -> Result<Arc<Self>, StoreError> {
        let conn = open(&url, pragmas).await?;
        let slot = Slot {
            conn,
            open: false,
            grouped: false,
            ready: None,
            committers: Vec::new(),
            undo: None,
            closed: false,
            in_doubt: false,
        };
        Ok(Arc::new(Self {
            url,
            pragmas,
            slot: Arc::new(Mutex::new(slot)),
            queued: AtomicUsize::new(0),
            owed: AtomicUsize::new(0),
        }))
    }

    /// Begins a part: a transaction of its own, whose BEGIN goes with its first statement, or
    /// the next part of the open one, under its own savepoint.
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<WriterPart, StoreError> {
        let mut slot = self.take().await?;
        if slot.closed {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        if !slot.open {
            slot.open = true;
            return Ok(WriterPart { writer: self.clone(), slot: Some(slot), savepoint: None, begun: false });
        }
        let grouped = slot.grouped;
        let savepoint = match slot.ready.take() {
            Some(savepoint) => savepoint,
            // The part before sent nothing with its commit: this one sets its own.
            None => match slot.control(if grouped { Savepoint::A.set() } else { GROUP_AND_SECOND_PART }).await {
                Ok(()) => {
                    slot.grouped = true;
                    Savepoint::A
                }
                Err(e) => {
                    self.fail(&mut slot, &e.to_string()).await;
                    self.release(slot).await;
                    return Err(e.into());
                }
            },
        };
        Ok(WriterPart { writer: self.clone(), slot: Some(slot), savepoint: Some(savepoint), begun: true })
    }

    /// Takes the writer (waiting in line for it) and settles what the last holder left.
    async fn take(self: &Arc<Self>) -> Result<OwnedMutexGuard<Slot>, StoreError> {
        let waiting = Waiting::join(self);
        let taken = tokio::time::timeout(ACQUIRE_TIMEOUT, self.slot.clone().lock_owned()).await;
        let Ok(mut slot) = taken else {
            // `waiting` leaves the line as it drops, flushing if it was the last.
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        };
        waiting.taken();
        if slot.in_doubt {
            // A BEGIN may have run where none was recorded, a COMMIT may not have: roll back
            // whatever is open, and with it any part left to undo.
            slot.in_doubt = false;
            if slot.undo.take().is_some() {
                self.owed.fetch_sub(1, SeqCst);
            }
            self.fail(&mut slot, "a statement beginning or ending the transaction was cut off").await;
        }
        self.settle(&mut slot).await;
        Ok(slot)
    }

    /// Undoes a part that ended without committing.
    async fn settle(&self, slot: &mut Slot) {
        let Some(undo) = slot.undo.take() else { return };
        self.owed.fetch_sub(1, SeqCst);
        match undo {
            // No other part is in the transaction: it goes whole.
            Undo::Transaction => self.fail(slot, "").await,
            Undo::Part(savepoint) => match slot.control(savepoint.roll_back()).await {
                // The savepoint stays, at the end of the transaction again: the next part's.
                Ok(()) => slot.ready = Some(savepoint),
                // The transaction is no longer the one the other parts wrote in.
                Err(e) => self.fail(slot, &e.to_string()).await,
            },
        }
    }

    /// A finished part: queued for the open transaction's commit, or committing it. `ready` is
    /// the savepoint it set for the next part, if it did.
    async fn commit(
        self: &Arc<Self>,
        mut slot: OwnedMutexGuard<Slot>,
        ready: Option<Savepoint>,
    ) -> Result<(), StoreError> {
        slot.ready = ready;
        slot.grouped |= ready.is_some();
        let (sender, outcome) = oneshot::channel();
        slot.committers.push(sender);
        self.owed.fetch_add(1, SeqCst);
        if slot.committers.len() < MAX_PARTS && self.queued.load(SeqCst) > 0 {
            // Someone waits for the writer: the transaction stays open for them.
            drop(slot);
        } else {
            // Committed on a task of its own, so that a caller cancelled meanwhile cannot cut
            // the COMMIT off and leave the other parts' outcome in doubt.
            let writer = self.clone();
            tokio::spawn(async move { writer.commit_all(&mut slot).await });
        }
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::CommitFailed(message)),
            Err(_) => Err(StoreError::CommitFailed("the writer stopped before the commit".into())),
        }
    }

    /// Commits the open transaction and tells every finished part in it.
    async fn commit_all(&self, slot: &mut Slot) {
        // One list, one hand-off: SQLite stops at the first statement that fails, so a
        // transaction whose `grp` is gone is not committed.
        let committed = slot.control(if slot.grouped { "RELEASE SAVEPOINT grp; COMMIT" } else { "COMMIT" }).await;
        match committed {
            Ok(()) => self.ended(slot, Ok(())),
            Err(e) => self.fail(slot, &e.to_string()).await,
        }
    }

    /// Rolls back whatever transaction is open and tells every finished part in it that it
    /// failed.
    async fn fail(&self, slot: &mut Slot, reason: &str) {
        // An error when nothing is open (SQLite may have rolled it back itself) changes nothing.
        if let Err(e) = slot.control("ROLLBACK").await {
            self.reconnect_if_lost(slot, &e).await;
        }
        self.ended(slot, Err(reason.to_owned()));
    }

    /// The transaction is over: every finished part in it hears `outcome`.
    fn ended(&self, slot: &mut Slot, outcome: Outcome) {
        slot.open = false;
        slot.grouped = false;
        slot.ready = None;
        let committers = std::mem::take(&mut slot.committers);
        self.owed.fetch_sub(committers.len(), SeqCst);
        for committer in committers {
            let _ = committer.send(outcome.clone());
        }
    }

    /// A connection whose worker thread died or whose file went away is replaced (the pool it
    /// replaces did the same); an error the database answered leaves it in place.
    async fn reconnect_if_lost(&self, slot: &mut Slot, error: &sqlx::Error) {
        if matches!(error, sqlx::Error::Database(_)) {
            return;
        }
        match open(&self.url, self.pragmas).await {
            Ok(conn) => slot.conn = conn,
            Err(e) => warn!(error = %e, "could not reopen the SQLite writer connection"),
        }
    }

    /// Lets the writer go. When nobody waits for it, finished parts are committed now.
    async fn release(&self, mut slot: OwnedMutexGuard<Slot>) {
        if !slot.committers.is_empty() && self.queued.load(SeqCst) == 0 {
            self.commit_all(&mut slot).await;
        }
    }

    /// Takes the writer to do the work owed when no one else will.
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

    /// The connection itself, with no transaction of this writer's open, for migrations.
    pub(crate) async fn exclusive(self: &Arc<Self>) -> Result<OwnedMutexGuard<Slot>, StoreError> {
        let mut slot = self.take().await?;
        if slot.open {
            self.commit_all(&mut slot).await;
        }
        Ok(slot)
    }

    /// Commits what is finished; no transaction begins after this. (The connection itself
    /// closes when the last handle to the database is dropped.)
    pub(crate) async fn close(self: &Arc<Self>) {
        if let Ok(mut slot) = self.exclusive().await {
            slot.closed = true;
        }
    }
}

impl Slot {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    /// Sends a transaction-control statement, marked in doubt until it is answered.
    async fn control(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        self.in_doubt = true;
        let answered = self.conn.execute(sql).await;
        self.in_doubt = false;
        answered.map(|_| ())
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

    /// Leaves the line with the writer: its new holder settles what is owed.
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
    /// A later part's own savepoint; none for the first part of a transaction.
    savepoint: Option<Savepoint>,
    /// Something of the part may have run: its first statement (with BEGIN, for a first part)
    /// was sent.
    begun: bool,
}

impl WriterPart {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        // Only `commit` takes the slot, and it consumes the part.
        self.slot.as_mut().map(|slot| slot.conn()).expect("a part holds the writer until it ends")
    }

    /// What goes ahead of the statement about to be sent: BEGIN, if it is a first part's first.
    pub(crate) fn sending(&mut self) -> Option<&'static str> {
        (!std::mem::replace(&mut self.begun, true)).then_some(BEGIN_TRANSACTION)
    }

    /// Whether nothing of the part has been sent.
    pub(crate) fn unsent(&self) -> bool {
        !self.begun
    }

    /// The savepoint for the part after this one, set after the writes this part sends with its
    /// commit, and the statement that sets it (with `grp` after a first part).
    pub(crate) fn next_savepoint(&self) -> (Savepoint, &'static str) {
        match self.savepoint {
            None => (Savepoint::A, GROUP_AND_SECOND_PART),
            Some(own) => (own.next(), own.next().set()),
        }
    }

    /// Commits the part; `ready` is the savepoint it set for the next part, if it did.
    pub(crate) async fn commit(mut self, ready: Option<Savepoint>) -> Result<(), StoreError> {
        if !self.begun {
            // Nothing was sent: there is nothing to commit, and the drop leaves the writer as
            // it was.
            return Ok(());
        }
        let slot = self.slot.take().expect("a part holds the writer until it ends");
        self.writer.commit(slot, ready).await
    }
}

impl Drop for WriterPart {
    /// A part that ends without committing (an error, a cancelled request) is undone by the
    /// writer's next holder, or by a flush if no one waits.
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else { return };
        if self.begun {
            slot.undo = Some(self.savepoint.map_or(Undo::Transaction, Undo::Part));
            self.writer.owed.fetch_add(1, SeqCst);
        } else {
            // Nothing of it ran: the transaction it was to begin never began.
            slot.open = false;
        }
        drop(slot);
        if self.writer.queued.load(SeqCst) == 0 {
            self.writer.flush_later();
        }
    }
}

async fn open(url: &str, pragmas: &'static str) -> Result<AnyConnection, StoreError> {
    let mut conn = AnyConnection::connect(url).await?;
    conn.execute(pragmas).await?;
    Ok(conn)
}
