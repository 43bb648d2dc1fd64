//! Every state change is one [`UnitOfWork`]: begun here, filled by the service (locks first,
//! payment before refund), committed here — and only then is the dispatcher woken, and only
//! when the change wrote events, so it never looks for deliveries that are not committed yet.

use chrono::{DateTime, Utc};
use payhub_store::{Committed, UnitOfWork};

use super::ServiceError;
use crate::app::{Hub, Signals};

impl Hub {
    /// Begins a change happening at `now`; `notification` is the inbox row that caused it,
    /// marked processed in the same commit.
    pub(crate) async fn begin(
        &self,
        now: DateTime<Utc>,
        notification: Option<i64>,
    ) -> Result<UnitOfWork<'_>, ServiceError> {
        Ok(self.db.unit_of_work(&self.ids, now, notification).await?)
    }

    pub(crate) async fn commit(&self, unit: UnitOfWork<'_>) -> Result<(), ServiceError> {
        self.signals.committed(unit.commit().await?);
        Ok(())
    }
}

impl Signals {
    /// Wakes the dispatcher and the mailer after a commit that wrote events.
    pub(crate) fn committed(&self, committed: Committed) {
        if committed.announced {
            self.outbox.notify_one();
            self.mail.notify_one();
        }
    }
}
