//! Every state change is one [`UnitOfWork`]: begun here, filled by the service (locks first,
//! payment before refund), committed here — and only then is the dispatcher woken, and only
//! when the change wrote events, so it never looks for deliveries that are not committed yet.

use chrono::{DateTime, Utc};
use payhub_store::UnitOfWork;

use super::ServiceError;
use crate::app::Hub;

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
        if unit.commit().await?.announced {
            self.signals.outbox.notify_one();
            self.signals.mail.notify_one();
        }
        Ok(())
    }
}
