use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Transaction};

use crate::mail::RecipientsCache;
use crate::param::{Param, query};
use crate::sqlite::{Answer, Prepared};
use crate::writer::WriterPart;
use crate::{Dialect, StoreError};

/// A write transaction. Everything a state change implies (the resource, its transition record,
/// its normalized event and the event's outbox rows) is written through one `Tx` and committed
/// together, or not at all. Dropped without `commit`, it is rolled back.
pub struct Tx {
    inner: Inner,
    dialect: Dialect,
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
        Self { inner: Inner::Pooled(inner), dialect, mail_recipients }
    }

    pub(crate) fn on_writer(part: WriterPart, dialect: Dialect, mail_recipients: Arc<RecipientsCache>) -> Self {
        Self { inner: Inner::Writer(part), dialect, mail_recipients }
    }

    /// Returns once everything written through this transaction is durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            Inner::Pooled(tx) => tx.commit().await?,
            Inner::Writer(part) => part.commit().await?,
        }
        Ok(())
    }

    /// A statement without parameters (transaction control).
    pub(crate) async fn execute_plain(&mut self, sql: &'static str) -> Result<(), StoreError> {
        match &mut self.inner {
            Inner::Pooled(tx) => {
                tx.execute(sql).await?;
            }
            Inner::Writer(part) => part.conn().control(sql)?,
        }
        Ok(())
    }

    /// A write whose count nobody reads (an insert of a resource, a transition, an event, a
    /// delivery).
    pub(crate) async fn execute(&mut self, sql: &str, params: Vec<Param<'_>>) -> Result<(), StoreError> {
        self.execute_count(sql, params).await.map(drop)
    }

    /// A write, and how many rows it changed.
    pub(crate) async fn execute_count(&mut self, sql: &str, params: Vec<Param<'_>>) -> Result<u64, StoreError> {
        Ok(match &mut self.inner {
            Inner::Pooled(tx) => query(sql.to_owned(), &params).execute(&mut **tx).await?.rows_affected(),
            Inner::Writer(part) => part.conn().run(sql, &params, Prepared::Cached)?.changed,
        })
    }

    /// The rows of `sql`.
    pub(crate) async fn fetch_all(&mut self, sql: &str, params: Vec<Param<'_>>) -> Result<Vec<AnyRow>, StoreError> {
        self.rows(sql, params, Prepared::Cached).await
    }

    /// The rows of a statement whose text is seldom sent twice (a batch of many rows): it is
    /// not kept prepared.
    pub(crate) async fn fetch_all_once(
        &mut self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Vec<AnyRow>, StoreError> {
        self.rows(sql, params, Prepared::Once).await
    }

    /// The first row of `sql`. A locking read locks that row alone (PostgreSQL stops at it).
    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Option<AnyRow>, StoreError> {
        Ok(match &mut self.inner {
            Inner::Pooled(tx) => query(sql.to_owned(), &params).fetch_optional(&mut **tx).await?,
            Inner::Writer(part) => part.conn().run(sql, &params, Prepared::Cached)?.rows.into_iter().next(),
        })
    }

    /// The one row of `sql`; none is an error.
    pub(crate) async fn fetch_one(&mut self, sql: &str, params: Vec<Param<'_>>) -> Result<AnyRow, StoreError> {
        self.fetch_optional(sql, params).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    async fn rows(&mut self, sql: &str, params: Vec<Param<'_>>, prepared: Prepared) -> Result<Vec<AnyRow>, StoreError> {
        Ok(match &mut self.inner {
            Inner::Pooled(tx) => {
                query(sql.to_owned(), &params).persistent(prepared == Prepared::Cached).fetch_all(&mut **tx).await?
            }
            Inner::Writer(part) => {
                let Answer { rows, .. } = part.conn().run(sql, &params, prepared)?;
                rows
            }
        })
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
        let row = db.read_one(COUNT, &[resource_id.into()]).await.unwrap();
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
    async fn writes_are_in_place_for_the_next_statement_and_the_commit() {
        on_both(async |db: Database| {
            let mut tx = db.begin().await.unwrap();
            tx.execute(INSERT_TRANSITION, transition(Some("pay_written_1"))).await.unwrap();
            tx.execute(INSERT_TRANSITION, transition(Some("pay_written_2"))).await.unwrap();
            let rows = tx.fetch_all(COUNT, vec!["pay_written_2".into()]).await.unwrap();
            assert_eq!(rows[0].try_get::<i64, _>("n").unwrap(), 1);
            // A read answering one row sees the writes before it, and its own `$1` is its value.
            tx.execute(INSERT_TRANSITION, transition(Some("pay_written_3"))).await.unwrap();
            let unwritten = tx.fetch_optional(COUNT, vec!["pay_written_unwritten".into()]).await.unwrap().unwrap();
            assert_eq!(unwritten.try_get::<i64, _>("n").unwrap(), 0, "its `$1` is its own value");
            tx.execute(INSERT_TRANSITION, transition(Some("pay_written_4"))).await.unwrap();
            tx.commit().await.unwrap();
            for id in ["pay_written_1", "pay_written_2", "pay_written_3", "pay_written_4"] {
                assert_eq!(stored(&db, id).await, 1, "{id}");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn a_transaction_that_wrote_nothing_commits_and_the_next_one_begins_afresh() {
        on_both(async |db: Database| {
            db.begin().await.unwrap().commit().await.expect("nothing to commit is committed");
            let mut tx = db.begin().await.unwrap();
            tx.execute(INSERT_TRANSITION, transition(Some("pay_after_empty"))).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(stored(&db, "pay_after_empty").await, 1);
        })
        .await;
    }

    /// How the middle one of three parts that share a transaction ends.
    #[derive(Clone, Copy)]
    enum Ending {
        Commit,
        /// A write the schema refuses ends it.
        Refused,
        /// Its caller is cancelled after its writes, before the commit.
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
                tx.execute(INSERT_TRANSITION, transition(Some(resource_id))).await?;
                match ending {
                    Ending::Commit => tx.commit().await,
                    Ending::Refused => {
                        tx.execute(INSERT_TRANSITION, transition(None)).await?;
                        tx.commit().await
                    }
                    Ending::CutOff => {
                        drop(tx);
                        Ok(())
                    }
                }
            })
        };
        let mut first = db.begin().await.unwrap();
        first.execute(INSERT_TRANSITION, transition(Some("pay_part_1"))).await.unwrap();
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
    async fn a_part_whose_write_is_refused_is_undone_alone_between_parts_that_commit() {
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
    async fn a_part_cut_off_after_its_writes_is_undone_alone() {
        on_both(async |db: Database| {
            // Undone to its own savepoint, though later parts set one of the same name.
            let (cut_off, last) = three_parts(&db, Ending::CutOff).await;
            cut_off.expect("it was dropped");
            last.expect("the part after the cut-off one commits");
            only_the_middle_part_is_undone(&db).await;
        })
        .await;
    }

    #[tokio::test]
    async fn a_write_the_database_refuses_fails_its_transaction_and_leaves_nothing() {
        on_both(async |db: Database| {
            let mut tx = db.begin().await.unwrap();
            tx.execute(INSERT_TRANSITION, transition(Some("pay_refused"))).await.unwrap();
            let outcome = match tx.execute(INSERT_TRANSITION, transition(None)).await {
                Ok(()) => tx.commit().await,
                Err(refused) => {
                    drop(tx);
                    Err(refused)
                }
            };
            assert!(
                matches!(&outcome, Err(StoreError::Constraint { constraint, .. }) if constraint.kind == ConstraintKind::NotNull),
                "{outcome:?}"
            );
            assert_eq!(stored(&db, "pay_refused").await, 0, "the whole transaction is undone");

            let mut tx = db.begin().await.unwrap();
            tx.execute(INSERT_TRANSITION, transition(Some("pay_after"))).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(stored(&db, "pay_after").await, 1, "the writer takes the next transaction");
        })
        .await;
    }
}
