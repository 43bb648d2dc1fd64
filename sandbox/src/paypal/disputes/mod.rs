//! Customer Disputes v1 as PayPal runs it for a merchant: list (filters and `next_page_token`
//! paging), show, patch (`communication_details`), and the actions (accept-claim, make-offer,
//! provide-evidence, provide-supporting-info, send-message, acknowledge-return-item, appeal,
//! escalate), with PayPal's sandbox-only `adjudicate` and `require-evidence`. The buyer's side
//! (opening a case, escalating it, answering an offer, writing) is in [`control`]; the test clock
//! decides what the parties leave undone. `CUSTOMER.DISPUTE.CREATED`, `…UPDATED` and `…RESOLVED`
//! carry the full dispute.
//!
//! Choices where PayPal's documentation is silent:
//! - a dispute opens `WAITING_FOR_SELLER_RESPONSE`; each time PayPal waits for the seller, the
//!   seller has 10 days (`seller_response_due_date`; within an inquiry, no later than the
//!   inquiry's end). A seller still silent then loses: `RESOLVED_BUYER_FAVOUR`, the disputed
//!   amount debited (adjudication `NO_SELLER_RESPONSE`);
//! - an inquiry not settled 20 days after it opened becomes a claim (`CHARGEBACK`) waiting for
//!   the seller; a buyer silent past `buyer_response_due_date` on a claim leaves it to PayPal
//!   (`UNDER_REVIEW`);
//! - a message or an offer from the seller hands the inquiry to the buyer; evidence puts the case
//!   under PayPal's review, where `adjudicate` and `require-evidence` apply;
//! - an accepted offer resolves in the buyer's favour for the offered amount, except a refund
//!   with return, which waits for the seller to acknowledge the returned item; an accepted claim
//!   resolves `ACCEPTED` for the refunded amount;
//! - a claim decided for the buyer may be appealed for 10 days (`APPEALABLE`); the appeal goes to
//!   `PRE_ARBITRATION` under review;
//! - money taken from the seller is taken from the capture (or sale): it can no longer be
//!   refunded, and no `PAYMENT.CAPTURE.*` event is raised for it. While a dispute is open the
//!   transaction cannot be refunded at all (`TRANSACTION_DISPUTED`);
//! - refusals of an action the dispute's state does not allow are 422 `ACTION_NOT_ALLOWED`;
//!   documents are judged by their file name's extension;
//! - `dispute_state` `OPEN_INQUIRIES` lists every unresolved inquiry; a dispute's own
//!   `dispute_state` says whose turn it is;
//! - `accept-offer` and `deny-offer` are the buyer's: a merchant's token is refused with 403;
//! - an action repeated with the same `PayPal-Request-Id` gets the first answer and changes
//!   nothing (kept 72 hours).

mod api;
pub mod control;
mod input;
mod model;
mod render;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use chrono::{DateTime, Duration, Utc};

use super::errors::{ApiError, ErrorDetail};
use super::events::NewEvent;
use super::state::PaypalState;
use super::{Effect, PaypalSimulator};

use self::model::{Dispute, Moved};
pub use self::model::{DisputeBook, Reason as DisputeReason, Stage as DisputeStage};

pub const DISPUTES_DOC: &str = "https://developer.paypal.com/docs/api/customer-disputes/v1/";

/// PayPal remembers a `PayPal-Request-Id` of a dispute action for as long as its other v1 APIs.
const KEY_RETENTION: Duration = Duration::hours(72);

/// PayPal's API routes of this part (behind the token check and the fault controls).
pub fn routes() -> Router<Arc<PaypalSimulator>> {
    api::routes().layer(DefaultBodyLimit::max(input::MAX_REQUEST_BYTES))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("dispute_id", id).documented_at(DISPUTES_DOC)
}

fn not_allowed(dispute: &Dispute, operation: &str) -> ApiError {
    let description = format!(
        "{operation} is not allowed on a dispute that is {} at {}; its links list what is.",
        dispute.status.as_str(),
        dispute.stage.as_str()
    );
    ApiError::unprocessable(ErrorDetail::new("ACTION_NOT_ALLOWED", &description)).documented_at(DISPUTES_DOC)
}

impl PaypalSimulator {
    /// Runs `change` on a dispute (of `client_id`, or any app's with `None`) under the state lock,
    /// then raises `CUSTOMER.DISPUTE.UPDATED` or `…RESOLVED` and schedules its next deadline.
    /// A change that returns `None` changed nothing and raises nothing.
    pub(crate) fn change_dispute(
        &self,
        client_id: Option<&str>,
        id: &str,
        change: impl FnOnce(&mut Dispute, DateTime<Utc>) -> Result<Option<Moved>, ApiError>,
    ) -> Result<(), ApiError> {
        self.transact(|state| Ok(((), self.dispute_changed(state, client_id, id, change)?)))
    }

    /// [`Self::change_dispute`] on state already locked; returns the effects to carry out.
    pub(crate) fn dispute_changed(
        &self,
        state: &mut PaypalState,
        client_id: Option<&str>,
        id: &str,
        change: impl FnOnce(&mut Dispute, DateTime<Utc>) -> Result<Option<Moved>, ApiError>,
    ) -> Result<Vec<Effect>, ApiError> {
        let now = self.now();
        let dispute = state
            .disputes
            .disputes
            .get_mut(id)
            .filter(|dispute| client_id.is_none_or(|client| dispute.client_id == client))
            .ok_or_else(|| not_found(id))?;
        let Some(moved) = change(dispute, now)? else {
            return Ok(Vec::new());
        };
        dispute.update_time = now;
        let (event_type, verb) = match moved {
            Moved::Updated => ("CUSTOMER.DISPUTE.UPDATED", "updated"),
            Moved::Resolved => ("CUSTOMER.DISPUTE.RESOLVED", "resolved"),
        };
        let effects = self.dispute_effects(dispute, event_type, verb, now);
        if moved == Moved::Resolved
            && let Some((_, refunded)) = dispute.outcome
        {
            let transaction_id = dispute.transaction.id.clone();
            take_back(state, &transaction_id, refunded.minor, now);
        }
        Ok(effects)
    }

    /// The webhook about a dispute's change and the check of its next deadline.
    fn dispute_effects(
        &self,
        dispute: &Dispute,
        event_type: &'static str,
        verb: &str,
        now: DateTime<Utc>,
    ) -> Vec<Effect> {
        let mut effects = vec![Effect::Emit(NewEvent {
            client_id: dispute.client_id.clone(),
            event_type,
            resource_type: "dispute",
            summary: format!("A dispute was {verb} with Case # {}", dispute.id),
            resource: self.dispute_json(dispute, now),
        })];
        if let Some(at) = dispute.next_deadline() {
            effects.push(Effect::DisputeDeadline { dispute_id: dispute.id.clone(), at });
        }
        effects
    }

    pub(crate) fn schedule_dispute_deadline(&self, dispute_id: String, at: DateTime<Utc>) {
        let me = self.me.clone();
        let label = format!("paypal: dispute {dispute_id} deadline");
        self.sandbox.scheduler().schedule_at(at, label, move || async move {
            if let Some(simulator) = me.upgrade() {
                // The dispute may have moved since; `on_deadline` only acts on what is still due.
                let _ = simulator.change_dispute(None, &dispute_id, |dispute, now| Ok(dispute.on_deadline(now)));
            }
        });
    }
}

/// Money PayPal takes from the seller for the buyer comes off the disputed capture or sale, so it
/// cannot be refunded a second time.
fn take_back(state: &mut PaypalState, transaction_id: &str, minor: i64, now: DateTime<Utc>) {
    if minor <= 0 {
        return;
    }
    if let Some(capture) = state.captures.get_mut(transaction_id) {
        let minor = minor.min(capture.refundable_minor());
        capture.settle_refund(minor, now);
    } else if let Some(sale) = state.subscriptions.sales.get_mut(transaction_id) {
        sale.refunded_minor = (sale.refunded_minor + minor).min(sale.total.minor);
        sale.update_time = now;
    }
}

/// A refund of a transaction with an open dispute is refused while the case is open.
pub(crate) fn refuse_if_disputed(state: &PaypalState, transaction_id: &str) -> Result<(), ApiError> {
    match state.disputes.open_on(transaction_id) {
        Some(dispute) => Err(ApiError::unprocessable(ErrorDetail::new(
            "TRANSACTION_DISPUTED",
            &format!("The transaction is under dispute {} and cannot be refunded while it is open.", dispute.id),
        ))),
        None => Ok(()),
    }
}
