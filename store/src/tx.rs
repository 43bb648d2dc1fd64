use std::sync::Arc;

use sqlx::{Any, AnyConnection, Executor, Transaction};

use crate::mail::RecipientsCache;
use crate::{Dialect, StoreError};

/// A write transaction. Everything a state change implies (the resource, its transition record,
/// its normalized event and the event's outbox rows) is written through one `Tx` and committed
/// together, or not at all.
pub struct Tx {
    inner: Transaction<'static, Any>,
    dialect: Dialect,
    pub(crate) mail_recipients: Arc<RecipientsCache>,
}

impl Tx {
    pub(crate) fn new(
        inner: Transaction<'static, Any>,
        dialect: Dialect,
        mail_recipients: Arc<RecipientsCache>,
    ) -> Self {
        Self { inner, dialect, mail_recipients }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await?;
        Ok(())
    }

    /// A statement without parameters (transaction control), sent as is.
    pub(crate) async fn execute_plain(&mut self, sql: &'static str) -> Result<(), StoreError> {
        self.conn().execute(sql).await?;
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }
}
