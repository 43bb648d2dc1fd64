//! Disputes: payhub follows the provider's account of each case and never decides one itself.
//!
//! Every way of hearing about a dispute ends in [`Hub::sync_dispute`], which reads the case from
//! the provider and applies it: a notification (only a hint), the reconciler (before each due
//! date), the periodic sweep of the disputes the provider changed (so a case whose notifications
//! were all lost is still found), and the merchant's own responses (read back after answering).

use chrono::{DateTime, Duration, Utc};
use payhub_core::dispute::{Dispute, DisputeFacts, DisputeMessage, DisputeParty, DisputeStatus};
use payhub_core::id::DisputeId;
use payhub_core::schedule::next_dispute_check;
use payhub_core::transition::Cause;
use payhub_core::{EventType, Mode, ProviderName};
use payhub_store::UnitOfWork;
use tracing::warn;

use super::ServiceError;
use crate::app::Hub;
use crate::providers::{Capability, DisputeResponse, ProviderError};

/// How far back the first sweep of a provider looks.
const FIRST_SWEEP_LOOKBACK: Duration = Duration::days(30);
/// Provider timestamps have whole seconds and clocks drift: each sweep overlaps the last a
/// little (reading a case twice changes nothing).
const SWEEP_OVERLAP: Duration = Duration::minutes(2);

/// What following a provider's dispute came to.
pub enum DisputeSync {
    Applied(Box<Dispute>),
    /// About a payment payhub does not have (not made through payhub, or another mode).
    Unmatched(String),
}

impl Hub {
    /// Reads a dispute from the provider and applies it.
    pub async fn sync_dispute(
        &self,
        mode: Mode,
        provider: ProviderName,
        provider_dispute_id: &str,
        cause: &Cause,
        notification: Option<i64>,
    ) -> Result<DisputeSync, ServiceError> {
        let _in_order = self.case_readings.lock(&format!("{}/{provider_dispute_id}", provider.as_str())).await;
        let facts = self
            .provider(mode, provider)?
            .fetch_dispute(provider_dispute_id)
            .await
            .map_err(|error| ServiceError::Provider { error, resource_id: None })?;
        self.apply_dispute_facts(mode, provider, &facts, cause, notification).await
    }

    /// Applies a provider's account: creates the dispute the first time (flagging its payment),
    /// otherwise merges it; announces what changed and schedules the next check.
    pub async fn apply_dispute_facts(
        &self,
        mode: Mode,
        provider: ProviderName,
        facts: &DisputeFacts,
        cause: &Cause,
        notification: Option<i64>,
    ) -> Result<DisputeSync, ServiceError> {
        let now = self.clock.now();
        let mut unit = self.begin(now, notification).await?;
        let mut existing =
            unit.lock_dispute_by_provider_id(provider, &facts.provider_dispute_id).await?.filter(|d| d.mode == mode);
        // A case the provider opened after payhub recorded the payment's reversal (keyed by the
        // transaction) is that same claim: the dispute goes on under the provider's id.
        if existing.is_none()
            && let Some(transaction_id) = facts.transaction_id.as_deref().filter(|t| *t != facts.provider_dispute_id)
        {
            existing = unit
                .lock_dispute_by_provider_id(provider, transaction_id)
                .await?
                .filter(|d| d.mode == mode && d.is_open())
                .map(|mut recorded| {
                    recorded.provider_dispute_id = facts.provider_dispute_id.clone();
                    recorded
                });
        }
        let (dispute, lost_now) = match existing {
            Some(mut dispute) => {
                let before = dispute.status();
                let merge = dispute.merge(facts, cause, now);
                // Every reading of the case may be the one in its last day: the reminder goes
                // with whichever comes first (one that just asked for action needs none).
                let reminded = !merge.action_required && dispute.remind(now);
                dispute.next_check_at = next_dispute_check(&dispute, now);
                unit.update_dispute(&mut dispute).await?;
                if let Some(moved) = &merge.moved {
                    unit.record(moved, &dispute).await?;
                } else if merge.changed {
                    unit.announce(EventType::DisputeUpdated, &dispute).await?;
                }
                if merge.action_required || reminded {
                    unit.announce(EventType::DisputeActionRequired, &dispute).await?;
                }
                let lost_now = before != DisputeStatus::Lost && dispute.status() == DisputeStatus::Lost;
                (dispute, lost_now)
            }
            None => {
                let Some(transaction_id) = facts.transaction_id.as_deref() else {
                    return Ok(DisputeSync::Unmatched(format!(
                        "dispute {} names no payment",
                        facts.provider_dispute_id
                    )));
                };
                let Some(mut payment) =
                    unit.lock_payment_by_provider_ref(provider, transaction_id).await?.filter(|p| p.mode == mode)
                else {
                    return Ok(DisputeSync::Unmatched(format!(
                        "dispute {} is about {transaction_id}, which is no payhub payment",
                        facts.provider_dispute_id
                    )));
                };
                let mut created = Dispute::open(DisputeId::generate(&self.ids, now), &payment, facts, cause, now);
                let next_check = next_dispute_check(created.resource(), now);
                created.resource_mut().next_check_at = next_check;
                unit.create_dispute(&created).await?;
                let dispute = created.into_resource();
                if dispute.needs_response() {
                    unit.announce(EventType::DisputeActionRequired, &dispute).await?;
                }
                if payment.mark_disputed(now) {
                    unit.update_payment(&mut payment).await?;
                    unit.announce(EventType::PaymentDisputed, &payment).await?;
                }
                let lost_now = dispute.status() == DisputeStatus::Lost;
                (dispute, lost_now)
            }
        };
        if lost_now && self.settings.disputes.revoke_entitlement_on_loss {
            self.revoke_for_lost_dispute(&mut unit, &dispute, now).await?;
        }
        self.commit(unit).await?;
        Ok(DisputeSync::Applied(Box::new(dispute)))
    }

    /// A reversal: the money of a payment held on a buyer's claim. The case the provider keeps
    /// for the payment is its dispute when there is one (a PayPal chargeback or claim usually
    /// has one, and following it gives the merchant its due date and answers); otherwise payhub
    /// records the dispute as the reversal states it, to be decided by the provider.
    pub async fn apply_reversal(
        &self,
        mode: Mode,
        provider: ProviderName,
        facts: &DisputeFacts,
        cause: &Cause,
        notification: Option<i64>,
    ) -> Result<DisputeSync, ServiceError> {
        if let Some(transaction_id) = &facts.transaction_id
            && let Some(case) = self.provider_case(mode, provider, transaction_id).await?
        {
            return self.sync_dispute(mode, provider, &case, cause, notification).await;
        }
        self.apply_dispute_facts(mode, provider, facts, cause, notification).await
    }

    /// The claim behind a reversal was settled for the merchant: the provider's case says so
    /// itself; a dispute recorded from the reversal is won.
    pub async fn apply_reversal_canceled(
        &self,
        mode: Mode,
        provider: ProviderName,
        transaction_id: &str,
        cause: &Cause,
        notification: Option<i64>,
    ) -> Result<DisputeSync, ServiceError> {
        if let Some(case) = self.provider_case(mode, provider, transaction_id).await? {
            return self.sync_dispute(mode, provider, &case, cause, notification).await;
        }
        let recorded = self.db.find_dispute_by_provider_id(provider, transaction_id).await?.filter(|d| d.mode == mode);
        let Some(dispute) = recorded else {
            return Ok(DisputeSync::Unmatched(format!("no reversal of {transaction_id} is recorded")));
        };
        let mut won = dispute.account();
        won.status = DisputeStatus::Won;
        won.amount_refunded = Some(0);
        won.provider_outcome = Some("CANCELED_REVERSAL".into());
        won.messages.push(DisputeMessage {
            from: DisputeParty::Arbiter,
            text: format!("{provider} canceled the reversal of {transaction_id}: the money is the merchant's again"),
            at: Some(self.clock.now()),
        });
        self.apply_dispute_facts(mode, provider, &won, cause, notification).await
    }

    async fn provider_case(
        &self,
        mode: Mode,
        provider: ProviderName,
        transaction_id: &str,
    ) -> Result<Option<String>, ServiceError> {
        match self
            .provider_offering(mode, provider, Capability::Disputes)?
            .dispute_for_transaction(transaction_id)
            .await
        {
            Ok(case) => Ok(case),
            // An account whose API credentials may not read disputes still has its reversals
            // recorded; a provider that cannot answer now is asked again (the notification waits).
            Err(error @ ProviderError::Rejected { .. }) => {
                warn!(provider = %provider, %transaction_id, %error, "could not look for the provider's case; recording the reversal");
                Ok(None)
            }
            Err(error) => Err(ServiceError::Provider { error, resource_id: None }),
        }
    }

    /// A dispute lost on a subscription's payment ends the access that payment paid for.
    async fn revoke_for_lost_dispute(
        &self,
        unit: &mut UnitOfWork<'_>,
        dispute: &Dispute,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let Some(payment) = self.db.payment(dispute.mode, &dispute.payment_id).await? else { return Ok(()) };
        let Some(subscription_id) = &payment.subscription_id else { return Ok(()) };
        if let Some(mut entitlement) = unit.lock_entitlement_of(subscription_id).await? {
            let reason = format!("dispute {} was lost", dispute.id);
            let event = entitlement.end_at(now, &reason, now);
            unit.update_entitlement(&mut entitlement).await?;
            if let Some(event) = event {
                unit.announce(event, &entitlement).await?;
            }
        }
        Ok(())
    }

    /// The merchant's answer to a dispute: refused when the case does not allow it now,
    /// otherwise sent to the provider and the case read back.
    pub async fn respond_to_dispute(
        &self,
        mode: Mode,
        id: &DisputeId,
        response: DisputeResponse,
        request_id: &str,
    ) -> Result<Dispute, ServiceError> {
        let not_found = || ServiceError::NotFound { resource: "dispute", id: id.to_string() };
        let dispute = self.db.dispute(mode, id).await?.ok_or_else(not_found)?;
        let action = response.action();
        if !dispute.allows(action) {
            return Err(ServiceError::DisputeActionNotAllowed {
                dispute_id: dispute.id.to_string(),
                action: action.as_str(),
                status: dispute.status().as_str(),
                allowed: dispute.allowed_actions().iter().map(|a| a.as_str()).collect(),
            });
        }
        if let DisputeResponse::Offer { kind, .. } = &response
            && !dispute.reason().allows_offer(*kind)
        {
            // Refused here, with what would do, rather than by the provider as a bare 422.
            let allowed: Vec<&str> = dispute.reason().allowed_offers().iter().map(|k| k.as_str()).collect();
            return Err(ServiceError::invalid(
                "kind",
                format!(
                    "a `{}` dispute takes only {} offers; the provider refuses a `{}` offer for it",
                    dispute.reason().as_str(),
                    allowed.join(", "),
                    kind.as_str()
                ),
            ));
        }
        let provider = self.provider_offering(mode, dispute.provider, Capability::Disputes)?;
        provider
            .respond_to_dispute(&dispute, &response, request_id)
            .await
            .map_err(|error| ServiceError::Provider { error, resource_id: Some(dispute.id.to_string()) })?;
        match self.sync_dispute(mode, dispute.provider, &dispute.provider_dispute_id, &Cause::Api, None).await? {
            DisputeSync::Applied(dispute) => Ok(*dispute),
            DisputeSync::Unmatched(note) => Err(ServiceError::Conflict { message: note, status: "unmatched".into() }),
        }
    }

    /// The reconciler's look at a dispute: read it again (which also reminds the merchant a day
    /// before an unanswered case is due, and schedules the next look).
    pub async fn check_dispute(&self, dispute: &Dispute) -> Result<(), ServiceError> {
        self.sync_dispute(dispute.mode, dispute.provider, &dispute.provider_dispute_id, &Cause::Reconciler, None)
            .await
            .map(drop)
    }

    /// Moves the next check of a dispute the provider could not be asked about.
    pub async fn reschedule_dispute_check(&self, id: &DisputeId) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut unit = self.begin(now, None).await?;
        if let Some(mut dispute) = unit.lock_dispute(id).await? {
            dispute.next_check_at = next_dispute_check(&dispute, now);
            unit.update_dispute(&mut dispute).await?;
        }
        self.commit(unit).await
    }

    /// Asks every provider that has disputes which cases changed since the last sweep, and
    /// follows each. Returns how many cases were read. The mark moves only after every case was
    /// applied, so a failure means the next sweep reads them again.
    pub async fn sweep_disputes(&self) -> Result<usize, ServiceError> {
        let mut read = 0;
        for &name in ProviderName::ALL {
            for mode in self.providers.modes_of(name) {
                let Ok(provider) = self.provider_offering(mode, name, Capability::Disputes) else { continue };
                let now = self.clock.now();
                let mut unit = self.begin(now, None).await?;
                let mark = unit.dispute_sweep_mark(name, mode).await?;
                drop(unit);
                if mark.is_some_and(|mark| now - mark < chrono_interval(self)) {
                    continue;
                }
                let since = mark.map_or(now - FIRST_SWEEP_LOOKBACK, |mark| mark - SWEEP_OVERLAP);
                let ids = provider
                    .disputes_updated_since(since)
                    .await
                    .map_err(|error| ServiceError::Provider { error, resource_id: None })?;
                for id in &ids {
                    if let DisputeSync::Unmatched(note) =
                        self.sync_dispute(mode, name, id, &Cause::Reconciler, None).await?
                    {
                        warn!(provider = %name, dispute = %id, %note, "a provider dispute about no payhub payment");
                    }
                }
                read += ids.len();
                let mut unit = self.begin(now, None).await?;
                unit.set_dispute_sweep_mark(name, mode, now).await?;
                self.commit(unit).await?;
            }
        }
        Ok(read)
    }
}

fn chrono_interval(hub: &Hub) -> Duration {
    Duration::from_std(hub.settings.disputes.sweep_interval).unwrap_or(Duration::minutes(5))
}
