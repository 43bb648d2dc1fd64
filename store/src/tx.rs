use std::sync::Arc;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Executor, Transaction};

use crate::codec::trusted;
use crate::mail::RecipientsCache;
use crate::param::{Held, Param, query};
use crate::writer::{Savepoint, WriterPart};
use crate::{Dialect, StoreError};

/// A write transaction. Everything a state change implies (the resource, its transition record,
/// its normalized event and the event's outbox rows) is written through one `Tx` and committed
/// together, or not at all. Dropped without `commit`, it is rolled back.
pub struct Tx {
    inner: Inner,
    dialect: Dialect,
    /// Writes nobody reads the answer of, held on SQLite's writer until the next statement
    /// (see [`Tx::write`]).
    held: Held,
    /// The next row inserted is held too (see [`Tx::hold_next_insert`]).
    hold_next_insert: bool,
    pub(crate) mail_recipients: Arc<RecipientsCache>,
}

enum Inner {
    /// A transaction of its own on a pooled connection (PostgreSQL).
    Pooled(Transaction<'static, Any>),
    /// A part of a transaction on SQLite's writer, which may share its commit with the parts
    /// queued behind it (see [`crate::writer`]).
    Writer(WriterPart),
}

impl Tx {
    pub(crate) fn pooled(
        inner: Transaction<'static, Any>,
        dialect: Dialect,
        mail_recipients: Arc<RecipientsCache>,
    ) -> Self {
        Self { inner: Inner::Pooled(inner), dialect, held: Held::default(), hold_next_insert: false, mail_recipients }
    }

    pub(crate) fn on_writer(part: WriterPart, dialect: Dialect, mail_recipients: Arc<RecipientsCache>) -> Self {
        Self { inner: Inner::Writer(part), dialect, held: Held::default(), hold_next_insert: false, mail_recipients }
    }

    /// Returns once everything written through this transaction is durable.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let ready = self.send_commit_writes().await?;
        match self.inner {
            Inner::Pooled(tx) => tx.commit().await?,
            Inner::Writer(part) => part.commit(ready).await?,
        }
        Ok(())
    }

    /// Sends the writes still held. On SQLite's writer they set the next part's savepoint after
    /// them, in the same hand-off (see `crate::writer`), which is returned; with none held nothing
    /// is sent (a first part that sent nothing has no transaction to commit).
    async fn send_commit_writes(&mut self) -> Result<Option<Savepoint>, StoreError> {
        let ready = match &self.inner {
            Inner::Writer(_) if self.held.is_empty() => return Ok(None),
            Inner::Writer(part) => {
                let (savepoint, set) = part.next_savepoint();
                self.held.push(set, Vec::new());
                Some(savepoint)
            }
            Inner::Pooled(_) => None,
        };
        self.send_held().await?;
        Ok(ready)
    }

    /// A statement without parameters (transaction control), sent with the held writes ahead
    /// of it.
    pub(crate) async fn execute_plain(&mut self, sql: &'static str) -> Result<(), StoreError> {
        if self.nothing_ahead() {
            self.connection().execute(sql).await?;
            return Ok(());
        }
        self.execute(sql.to_owned(), Vec::new()).await
    }

    /// A write whose count nobody reads but whose error its caller may (an insert), sent now
    /// with the held writes ahead of it.
    pub(crate) async fn execute(&mut self, sql: String, params: Vec<Param<'_>>) -> Result<(), StoreError> {
        self.hold_head();
        let (sql, params) = self.held.ahead_of(sql, params);
        query(sql, &params).execute(self.connection()).await?;
        Ok(())
    }

    /// Holds the next row inserted through a table like a [`Tx::write`]: for a unit of work's new
    /// resource, whose transition and event are written next in the same call, so that a refusal
    /// (an id already taken) still fails that call, with the same error.
    pub(crate) fn hold_next_insert(&mut self) {
        self.hold_next_insert = true;
    }

    /// Inserts a row: held if [`Tx::hold_next_insert`] asked for it, sent now otherwise.
    pub(crate) async fn insert_row(&mut self, sql: String, params: Vec<Param<'_>>) -> Result<(), StoreError> {
        if std::mem::take(&mut self.hold_next_insert) {
            return self.write(&sql, params).await;
        }
        self.execute(sql, params).await
    }

    /// Drops the held writes unsent: for an undo that would roll them back anyway.
    pub(crate) fn forget_held(&mut self) {
        self.held.take();
    }

    /// A write nobody reads the answer of (no rows, no count): an insert of a transition, an
    /// event, a delivery. On SQLite's writer it is held and goes to the SQLite thread with the
    /// transaction's next statement, in one hand-off instead of one each (a hand-off costs more
    /// than such a statement: see BENCHMARKS.md, "Apply on SQLite"); on PostgreSQL it is sent
    /// now. Either way it is in the transaction before anything after it, and an error it
    /// meets fails that next statement or the commit, which undoes the transaction as any error does.
    pub(crate) async fn write(&mut self, sql: &str, params: Vec<Param<'_>>) -> Result<(), StoreError> {
        match self.inner {
            Inner::Writer(_) => self.held.push(sql, params),
            Inner::Pooled(_) => {
                query(sql.to_owned(), &params).execute(self.connection()).await?;
            }
        }
        Ok(())
    }

    /// The rows of `sql`, sent with the held writes ahead of it.
    pub(crate) async fn fetch_all(&mut self, sql: String, params: Vec<Param<'_>>) -> Result<Vec<AnyRow>, StoreError> {
        self.hold_head();
        let (sql, params) = self.held.ahead_of(sql, params);
        Ok(query(sql, &params).fetch_all(self.connection()).await?)
    }

    /// The first row of `sql`, sent with the held writes (and a writer part's unsent head) ahead
    /// of it. With none ahead, a locking read locks that row alone (PostgreSQL stops at it).
    pub(crate) async fn fetch_optional(
        &mut self,
        sql: String,
        params: Vec<Param<'_>>,
    ) -> Result<Option<AnyRow>, StoreError> {
        if self.nothing_ahead() {
            return Ok(query(sql, &params).fetch_optional(self.connection()).await?);
        }
        // sqlx's `Any` driver answers `fetch_optional` from the list's first answer, which is a
        // held write's or the head's (no row): the rows are read whole instead (SQLite only, no row locks).
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    /// The rows of a query whose values its caller binds (`bind` is given the query on `sql`):
    /// the held writes go first, on their own, and a writer part's unsent head goes with it.
    pub(crate) async fn fetch_all_bound(
        &mut self,
        sql: String,
        persistent: bool,
        bind: impl FnOnce(Query<'static, Any, AnyArguments>) -> Query<'static, Any, AnyArguments>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        if !self.held.is_empty() {
            self.send_held().await?;
        }
        // BEGIN takes no values, so the caller's placeholders keep their numbers.
        self.hold_head();
        let sql = match self.held.take() {
            Some((ahead, _)) => format!("{ahead};\n{sql}"),
            None => sql,
        };
        Ok(bind(sqlx::query(trusted(sql)).persistent(persistent)).fetch_all(self.connection()).await?)
    }

    /// The connection, for a statement of its own once the held writes have gone.
    pub(crate) async fn conn(&mut self) -> Result<&mut AnyConnection, StoreError> {
        self.send_held().await?;
        Ok(self.connection())
    }

    async fn send_held(&mut self) -> Result<(), StoreError> {
        self.hold_head();
        if let Some((sql, params)) = self.held.take() {
            query(sql, &params).execute(self.connection()).await?;
        }
        Ok(())
    }

    /// Whether the next statement goes alone: no writes are held, and it is not the first of a
    /// transaction on SQLite's writer (whose BEGIN goes with it).
    fn nothing_ahead(&self) -> bool {
        self.held.is_empty() && !matches!(&self.inner, Inner::Writer(part) if part.unsent())
    }

    /// Puts BEGIN first among the held statements when the send about to be made is a first
    /// part's first (see `crate::writer`).
    fn hold_head(&mut self) {
        if let Inner::Writer(part) = &mut self.inner
            && let Some(head) = part.sending()
        {
            self.held.put_first(head);
        }
    }

    fn connection(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            Inner::Pooled(tx) => tx,
            Inner::Writer(part) => part.conn(),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use crate::param::Param;
    use crate::testing::{Backend, TestDatabase};
    use crate::{ConstraintKind, Database, StoreError};

    const INSERT_TRANSITION: &str =
        "INSERT INTO transitions (resource_id, from_status, to_status, cause, at) VALUES ($1, $2, $3, $4, $5)";

    const COUNT: &str = "SELECT COUNT(*) AS n FROM transitions WHERE resource_id = $1";

    fn transition(resource_id: Option<&str>) -> Vec<Param<'_>> {
        vec![resource_id.into(), "pending".into(), "succeeded".into(), "{}".into(), 1_i64.into()]
    }

    async fn stored(db: &Database, resource_id: &str) -> i64 {
        let row = sqlx::query(COUNT).bind(resource_id).fetch_one(db.reader()).await.unwrap();
        row.try_get("n").unwrap()
    }

    async fn on_both(check: impl AsyncFn(Database)) {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if let Some(t) = TestDatabase::fresh(backend).await {
                check(t.db.clone()).await;
            }
        }
    }

    #[tokio::test]
    async fn held_writes_are_in_place_for_the_next_statement_and_the_commit() {
        on_both(async |db: Database| {
            let mut tx = db.begin().await.unwrap();
            tx.write(INSERT_TRANSITION, transition(Some("pay_held_1"))).await.unwrap();
            tx.write(INSERT_TRANSITION, transition(Some("pay_held_2"))).await.unwrap();
            let rows = tx.fetch_all(COUNT.to_owned(), vec!["pay_held_2".into()]).await.unwrap();
            assert_eq!(rows[0].try_get::<i64, _>("n").unwrap(), 1);
            // A read answering one row runs the writes held ahead of it all the same, and its own
            // `$1` is its value, not the held insert's first (which would count one row).
            tx.write(INSERT_TRANSITION, transition(Some("pay_held_3"))).await.unwrap();
            let unwritten =
                tx.fetch_optional(COUNT.to_owned(), vec!["pay_held_unwritten".into()]).await.unwrap().unwrap();
            assert_eq!(unwritten.try_get::<i64, _>("n").unwrap(), 0, "its `$1` is its own value");
            tx.write(INSERT_TRANSITION, transition(Some("pay_held_4"))).await.unwrap();
            tx.commit().await.unwrap();
            for id in ["pay_held_1", "pay_held_2", "pay_held_3", "pay_held_4"] {
                assert_eq!(stored(&db, id).await, 1, "{id}");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn a_transaction_that_wrote_nothing_commits_and_the_next_one_begins_afresh() {
        on_both(async |db: Database| {
            // On SQLite's writer it sends nothing at all: its BEGIN would have gone with a first
            // statement.
            db.begin().await.unwrap().commit().await.expect("nothing to commit is committed");
            let mut tx = db.begin().await.unwrap();
            tx.write(INSERT_TRANSITION, transition(Some("pay_after_empty"))).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(stored(&db, "pay_after_empty").await, 1);
        })
        .await;
    }

    /// How the middle one of three parts that share a transaction ends.
    #[derive(Clone, Copy)]
    enum Ending {
        Commit,
        /// A held write the schema refuses goes with its commit.
        Refused,
        /// Its commit's writes go (on SQLite's writer, with the next part's savepoint after
        /// them), then its caller is cancelled before the commit itself.
        CutOff,
    }

    /// Three parts, each writing a transition for its resource: the first holds the writer
    /// while the other two line up for it, so on SQLite the three share one transaction. The
    /// middle one ends as `middle` says. Returns the outcomes of the middle and the last.
    async fn three_parts(db: &Database, middle: Ending) -> (Result<(), StoreError>, Result<(), StoreError>) {
        let line_up = |resource_id: &'static str, ending: Ending| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await?;
                tx.write(INSERT_TRANSITION, transition(Some(resource_id))).await?;
                match ending {
                    Ending::Commit => tx.commit().await,
                    Ending::Refused => {
                        tx.write(INSERT_TRANSITION, transition(None)).await?;
                        tx.commit().await
                    }
                    Ending::CutOff => tx.send_commit_writes().await.map(drop),
                }
            })
        };
        let mut first = db.begin().await.unwrap();
        first.write(INSERT_TRANSITION, transition(Some("pay_part_1"))).await.unwrap();
        let middle = line_up("pay_part_2", middle);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let last = line_up("pay_part_3", Ending::Commit);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        first.commit().await.unwrap();
        (middle.await.unwrap(), last.await.unwrap())
    }

    async fn only_the_middle_part_is_undone(db: &Database) {
        assert_eq!(stored(db, "pay_part_1").await, 1, "the part before is kept");
        assert_eq!(stored(db, "pay_part_2").await, 0, "the middle part is undone whole");
        assert_eq!(stored(db, "pay_part_3").await, 1, "the part after is kept");
    }

    #[tokio::test]
    async fn a_part_whose_writes_sent_with_its_commit_are_refused_is_undone_alone_between_parts_that_commit() {
        on_both(async |db: Database| {
            let (refused, last) = three_parts(&db, Ending::Refused).await;
            assert!(
                matches!(&refused, Err(StoreError::Constraint { constraint, .. }) if constraint.kind == ConstraintKind::NotNull),
                "{refused:?}"
            );
            last.expect("the part after the refused one commits");
            only_the_middle_part_is_undone(&db).await;
        })
        .await;
    }

    #[tokio::test]
    async fn a_part_cut_off_after_sending_its_commit_writes_is_undone_alone() {
        on_both(async |db: Database| {
            // Undone to its own savepoint, not to the one it set for the part after it.
            let (cut_off, last) = three_parts(&db, Ending::CutOff).await;
            cut_off.expect("its commit's writes went");
            last.expect("the part after the cut-off one commits");
            only_the_middle_part_is_undone(&db).await;
        })
        .await;
    }

    #[tokio::test]
    async fn a_held_write_the_database_refuses_fails_its_transaction_and_leaves_nothing() {
        on_both(async |db: Database| {
            let mut tx = db.begin().await.unwrap();
            tx.write(INSERT_TRANSITION, transition(Some("pay_refused"))).await.unwrap();
            // PostgreSQL refuses it at once; SQLite's writer holds it, and the commit meets it.
            let outcome = match tx.write(INSERT_TRANSITION, transition(None)).await {
                Ok(()) => tx.commit().await,
                Err(refused) => Err(refused),
            };
            assert!(
                matches!(&outcome, Err(StoreError::Constraint { constraint, .. }) if constraint.kind == ConstraintKind::NotNull),
                "{outcome:?}"
            );
            assert_eq!(stored(&db, "pay_refused").await, 0, "the whole transaction is undone");

            let mut tx = db.begin().await.unwrap();
            tx.write(INSERT_TRANSITION, transition(Some("pay_after"))).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(stored(&db, "pay_after").await, 1, "the writer takes the next transaction");
        })
        .await;
    }
}
