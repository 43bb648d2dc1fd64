use std::sync::Arc;

use sqlx::{Any, AnyConnection, Executor, Transaction};

use crate::mail::RecipientsCache;
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

    /// A statement without parameters (transaction control), sent as is.
    pub(crate) async fn execute_plain(&mut self, sql: &'static str) -> Result<(), StoreError> {
        self.conn().execute(sql).await?;
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            Inner::Pooled(tx) => tx,
            Inner::Writer(part) => part.conn(),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }
}
