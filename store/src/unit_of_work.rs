//! The unit of work: one state change of payhub's resources, committed whole or not at all.
//!
//! A change writes the resources it touched, the transitions that moved them, the normalized
//! events that announce them (whose outbox rows [`Tx::insert_event`] queues in the same
//! transaction) and, when a provider notification caused it, marks that inbox row processed —
//! so a crash anywhere leaves all of it or none of it, and a redelivered notification is
//! applied once.
//!
//! Lock order: a payment before any of its refunds, everywhere, so two units touching both can
//! never deadlock.

use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use payhub_core::dispute::Dispute;
use payhub_core::entitlement::Entitlement;
use payhub_core::event::Resource;
use payhub_core::payment::Payment;
use payhub_core::refund::Refund;
use payhub_core::subscription::Subscription;
use payhub_core::transition::{Created, Moved, Transition};
use payhub_core::{Event, EventType, IdGenerator, ProviderName};

use crate::{Database, StoreError, Tx};

pub struct UnitOfWork<'a> {
    tx: Tx,
    /// Names the events (and their deliveries) the unit writes.
    ids: &'a IdGenerator,
    now: DateTime<Utc>,
    notification: Option<i64>,
    announced: bool,
}

/// A part of a unit of work that can be undone alone (see [`UnitOfWork::begin_part`]).
#[derive(Debug, Clone, Copy)]
pub struct Part {
    /// Whether the unit had written events before the part began.
    announced_before: bool,
}

/// What a committed unit of work leaves for others to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "events written mean the dispatcher has deliveries to make"]
pub struct Committed {
    /// Events were written: the outbox has deliveries waiting.
    pub announced: bool,
}

impl Database {
    /// Begins a unit of work happening at `now`. `notification` is the inbox row that caused it,
    /// marked processed when the unit commits.
    pub async fn unit_of_work<'a>(
        &self,
        ids: &'a IdGenerator,
        now: DateTime<Utc>,
        notification: Option<i64>,
    ) -> Result<UnitOfWork<'a>, StoreError> {
        Ok(UnitOfWork { tx: self.begin().await?, ids, now, notification, announced: false })
    }
}

impl UnitOfWork<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Where the ids of resources created in this unit come from.
    pub fn ids(&self) -> &IdGenerator {
        self.ids
    }

    /// Records a status move and its event, with `resource` as it now is.
    pub async fn record<T: Resource>(&mut self, moved: &Moved, resource: &T) -> Result<(), StoreError> {
        self.record_transition_and_event(moved.transition(), moved.event(), resource).await
    }

    /// Announces a change that moved no status (an entitlement extended, a plan updated).
    pub async fn announce<T: Resource>(&mut self, event: EventType, resource: &T) -> Result<(), StoreError> {
        self.tx.insert_event(&Event::about(event, resource, self.ids, self.now), self.ids).await?;
        self.announced = true;
        Ok(())
    }

    pub async fn create_payment(&mut self, created: &Created<Payment>) -> Result<(), StoreError> {
        self.tx.insert_payment(created.resource()).await?;
        self.record_creation(created).await
    }

    /// A new refund, of a payment this unit has locked (and reserved the amount on).
    pub async fn create_refund(&mut self, created: &Created<Refund>, provider: ProviderName) -> Result<(), StoreError> {
        self.tx.insert_refund(created.resource(), provider).await?;
        self.record_creation(created).await
    }

    pub async fn create_subscription(&mut self, created: &Created<Subscription>) -> Result<(), StoreError> {
        self.tx.insert_subscription(created.resource()).await?;
        self.record_creation(created).await
    }

    pub async fn create_entitlement(&mut self, created: &Created<Entitlement>) -> Result<(), StoreError> {
        self.tx.insert_entitlement(created.resource()).await?;
        self.record_creation(created).await
    }

    /// A new dispute, of a payment this unit has locked.
    pub async fn create_dispute(&mut self, created: &Created<Dispute>) -> Result<(), StoreError> {
        self.tx.insert_dispute(created.resource()).await?;
        self.record_creation(created).await
    }

    async fn record_creation<T: Resource>(&mut self, created: &Created<T>) -> Result<(), StoreError> {
        match created.transition() {
            Some(transition) => self.record_transition_and_event(transition, created.event(), created.resource()).await,
            None => self.announce(created.event(), created.resource()).await,
        }
    }

    async fn record_transition_and_event<T: Resource>(
        &mut self,
        transition: &Transition,
        event: EventType,
        resource: &T,
    ) -> Result<(), StoreError> {
        self.tx.record_transition(transition).await?;
        self.tx.insert_event(&Event::about(event, resource, self.ids, transition.at), self.ids).await?;
        self.announced = true;
        Ok(())
    }

    /// Begins a part of the unit happening at `now`, under its own savepoint: several changes
    /// can then share one commit, and one change's failure undoes only its part
    /// ([`UnitOfWork::undo_part`]). Parts nest (each savepoint stays open until the commit,
    /// which releases them all), so a kept part costs no statement to close.
    pub async fn begin_part(&mut self, now: DateTime<Utc>) -> Result<Part, StoreError> {
        self.tx.execute_plain("SAVEPOINT part").await?;
        self.now = now;
        Ok(Part { announced_before: self.announced })
    }

    /// Undoes everything written since `part` began (the latest part, as parts are written one
    /// after another); the unit goes on with what came before it.
    pub async fn undo_part(&mut self, part: Part) -> Result<(), StoreError> {
        // The latest savepoint of that name is the part's.
        self.tx.execute_plain("ROLLBACK TO SAVEPOINT part").await?;
        self.announced = part.announced_before;
        Ok(())
    }

    /// Marks the causing notification processed and commits everything.
    pub async fn commit(mut self) -> Result<Committed, StoreError> {
        if let Some(inbox_id) = self.notification {
            self.tx.mark_notification_processed(inbox_id, self.now).await?;
        }
        self.tx.commit().await?;
        Ok(Committed { announced: self.announced })
    }
}

/// Locks, reads and the writes of resources whose change has no event of its own (a refund
/// learning its provider id, a new check time) go through the transaction itself.
impl Deref for UnitOfWork<'_> {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl DerefMut for UnitOfWork<'_> {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}
