//! PayPal Customer Disputes in payhub's terms: a PayPal dispute becomes [`DisputeFacts`], and a
//! merchant's [`DisputeResponse`] becomes the PayPal action its state offers.

use chrono::{DateTime, Utc};
use payhub_core::ProviderName;
use payhub_core::dispute::Dispute;
use payhub_core::dispute::{
    DisputeAction as Action, DisputeEvidence, DisputeFacts, DisputeMessage, DisputeOffer, DisputeParty, DisputeReason,
    DisputeStage, DisputeStatus,
};
use payhub_paypal::{
    AcceptClaimRequest, AcceptClaimType, AcknowledgeReturnItemRequest, AcknowledgementType, Dispute as PaypalDispute,
    DisputeAction, DisputeQuery, DisputeReason as PaypalReason, DisputeStage as PaypalStage,
    DisputeStatus as PaypalStatus, Document, EvidenceItem, EvidenceSubmission, MakeOfferRequest, OfferType,
    OutcomeCode, PaypalClient,
};

use super::mapping::{from_paypal_amount, to_paypal_amount};
use super::{provider_error, rejected_amount};
use crate::providers::{DisputeDocument, DisputeResponse, OfferKind, ProviderError};

/// PayPal lists at most 50 disputes a page.
const PAGE_SIZE: u32 = 50;

fn protocol(detail: String) -> ProviderError {
    ProviderError::Protocol { provider: ProviderName::Paypal, detail }
}

fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?).ok().map(|at| at.with_timezone(&Utc))
}

pub(super) async fn fetch(client: &PaypalClient, id: &str) -> Result<DisputeFacts, ProviderError> {
    let dispute = client.get_dispute(id).await.map_err(provider_error)?;
    dispute_facts(&dispute)
}

pub(super) async fn updated_since(client: &PaypalClient, since: DateTime<Utc>) -> Result<Vec<String>, ProviderError> {
    let mut query =
        DisputeQuery { update_time_after: Some(since), page_size: Some(PAGE_SIZE), ..DisputeQuery::default() };
    let mut ids = Vec::new();
    loop {
        let page = client.list_disputes(&query).await.map_err(provider_error)?;
        ids.extend(page.items.iter().map(|summary| summary.dispute_id.clone()));
        match page.next_page_token() {
            Some(token) if !page.items.is_empty() => query.next_page_token = Some(token),
            _ => return Ok(ids),
        }
    }
}

/// The case PayPal keeps about a capture or sale, newest first when there are several.
pub(super) async fn for_transaction(
    client: &PaypalClient,
    transaction_id: &str,
) -> Result<Option<String>, ProviderError> {
    let query = DisputeQuery { disputed_transaction_id: Some(transaction_id.to_owned()), ..DisputeQuery::default() };
    let page = client.list_disputes(&query).await.map_err(provider_error)?;
    Ok(page.items.into_iter().map(|summary| summary.dispute_id).next())
}

/// PayPal's account of a dispute in payhub's vocabulary.
pub fn dispute_facts(dispute: &PaypalDispute) -> Result<DisputeFacts, ProviderError> {
    let amount = dispute
        .dispute_amount
        .as_ref()
        .or_else(|| dispute.disputed_transactions.first().and_then(|t| t.gross_amount.as_ref()))
        .ok_or_else(|| protocol(format!("dispute {} has no amount", dispute.dispute_id)))?;
    let amount = from_paypal_amount(amount).map_err(protocol)?;
    let outcome = dispute.dispute_outcome.as_ref();
    let status = status(dispute);
    let amount_refunded = outcome
        .and_then(|outcome| outcome.amount_refunded.as_ref())
        .and_then(|refunded| from_paypal_amount(refunded).ok())
        .map(|refunded| refunded.amount);
    Ok(DisputeFacts {
        provider_dispute_id: dispute.dispute_id.clone(),
        transaction_id: dispute.seller_transaction_id().map(str::to_owned),
        reason: reason(dispute.reason.as_ref()),
        stage: match dispute.dispute_life_cycle_stage {
            Some(PaypalStage::Chargeback) => DisputeStage::Chargeback,
            Some(PaypalStage::PreArbitration | PaypalStage::Arbitration) => DisputeStage::Arbitration,
            _ => DisputeStage::Inquiry,
        },
        status,
        amount,
        response_due_at: if status == DisputeStatus::NeedsResponse {
            time(dispute.seller_response_due_date.as_deref())
        } else {
            None
        },
        messages: dispute
            .messages
            .iter()
            .filter_map(|message| {
                Some(DisputeMessage {
                    from: party(message.posted_by.as_deref()),
                    text: message.content.clone()?,
                    at: time(message.time_posted.as_deref()),
                })
            })
            .collect(),
        offers: dispute
            .offer
            .iter()
            .flat_map(|offer| &offer.history)
            .map(|event| DisputeOffer {
                from: party(event.actor.as_deref()),
                kind: event.offer_type.as_ref().map_or("refund", offer_kind_name).to_owned(),
                amount: event.offer_amount.as_ref().and_then(|a| from_paypal_amount(a).ok()).map(|a| a.amount),
                status: event.event_type.as_deref().unwrap_or("PROPOSED").to_ascii_lowercase(),
                at: time(event.offer_time.as_deref()),
            })
            .collect(),
        evidence: dispute
            .evidences
            .iter()
            .map(|evidence| DisputeEvidence {
                kind: evidence.evidence_type.clone().unwrap_or_default(),
                note: evidence.notes.clone(),
                documents: evidence.documents.iter().filter_map(|document| document.name.clone()).collect(),
                at: time(evidence.date.as_deref()),
            })
            .collect(),
        amount_refunded,
        provider_outcome: outcome
            .and_then(|outcome| outcome.outcome_code.as_ref())
            .map(|code| code.as_str().to_owned()),
        allowed_actions: allowed_actions(dispute),
        provider_updated_at: time(dispute.update_time.as_deref()),
    })
}

fn status(dispute: &PaypalDispute) -> DisputeStatus {
    match &dispute.status {
        PaypalStatus::WaitingForSellerResponse => DisputeStatus::NeedsResponse,
        PaypalStatus::WaitingForBuyerResponse => DisputeStatus::WaitingForBuyer,
        PaypalStatus::Resolved => match dispute.dispute_outcome.as_ref().and_then(|o| o.outcome_code.as_ref()) {
            Some(OutcomeCode::Accepted) => DisputeStatus::Accepted,
            // The buyer was paid (by the seller, or by PayPal out of the seller's account).
            Some(OutcomeCode::ResolvedBuyerFavour) => DisputeStatus::Lost,
            // Decided for the seller, withdrawn, or paid out by PayPal itself: the seller keeps it.
            _ => DisputeStatus::Won,
        },
        _ => DisputeStatus::UnderReview,
    }
}

fn reason(reason: Option<&PaypalReason>) -> DisputeReason {
    match reason {
        Some(PaypalReason::MerchandiseOrServiceNotReceived) => DisputeReason::NotReceived,
        Some(PaypalReason::MerchandiseOrServiceNotAsDescribed) => DisputeReason::NotAsDescribed,
        Some(PaypalReason::Unauthorised) => DisputeReason::Unauthorized,
        Some(PaypalReason::CreditNotProcessed) => DisputeReason::CreditNotProcessed,
        Some(PaypalReason::DuplicateTransaction) => DisputeReason::Duplicate,
        Some(PaypalReason::IncorrectAmount) => DisputeReason::IncorrectAmount,
        Some(PaypalReason::PaymentByOtherMeans) => DisputeReason::PaidByOtherMeans,
        Some(PaypalReason::CanceledRecurringBilling) => DisputeReason::CanceledRecurringBilling,
        Some(PaypalReason::ProblemWithRemittance) => DisputeReason::ProblemWithRemittance,
        _ => DisputeReason::Other,
    }
}

fn party(posted_by: Option<&str>) -> DisputeParty {
    match posted_by {
        Some("SELLER") => DisputeParty::Seller,
        Some("ARBITER") => DisputeParty::Arbiter,
        _ => DisputeParty::Buyer,
    }
}

fn offer_kind_name(offer: &OfferType) -> &'static str {
    match offer {
        OfferType::RefundWithReturn => OfferKind::RefundWithReturn.as_str(),
        OfferType::RefundWithReplacement => OfferKind::RefundWithReplacement.as_str(),
        OfferType::ReplacementWithoutRefund => OfferKind::ReplacementWithoutRefund.as_str(),
        _ => OfferKind::Refund.as_str(),
    }
}

/// What PayPal's links offer the seller, in payhub's action names.
fn allowed_actions(dispute: &PaypalDispute) -> Vec<Action> {
    [
        (DisputeAction::AcceptClaim, Action::Accept),
        (DisputeAction::MakeOffer, Action::Offer),
        (DisputeAction::ProvideEvidence, Action::Evidence),
        (DisputeAction::SendMessage, Action::Message),
        (DisputeAction::AcknowledgeReturnItem, Action::AcknowledgeReturn),
        (DisputeAction::Appeal, Action::Appeal),
    ]
    .into_iter()
    .filter(|(paypal, _)| dispute.allows(*paypal))
    .map(|(_, action)| action)
    .collect()
}

fn documents(documents: &[DisputeDocument]) -> Vec<Document> {
    documents
        .iter()
        .map(|document| Document {
            file_name: document.file_name.clone(),
            content_type: document.content_type.clone(),
            content: document.content.clone(),
        })
        .collect()
}

fn evidence(kind: &str, note: &Option<String>) -> EvidenceSubmission {
    EvidenceSubmission {
        evidences: vec![EvidenceItem { evidence_type: kind.to_owned(), evidence_info: None, notes: note.clone() }],
    }
}

pub(super) async fn respond(
    client: &PaypalClient,
    dispute: &Dispute,
    response: &DisputeResponse,
    request_id: &str,
) -> Result<(), ProviderError> {
    let id = dispute.provider_dispute_id.as_str();
    let paypal_amount = |amount: &Option<payhub_core::Money>| {
        amount.as_ref().map(|amount| to_paypal_amount(amount).map_err(rejected_amount)).transpose()
    };
    let answered = match response {
        DisputeResponse::Accept { note, amount } => {
            let request = AcceptClaimRequest {
                note: note.clone(),
                accept_claim_type: amount.as_ref().map(|_| AcceptClaimType::PartialRefund),
                refund_amount: paypal_amount(amount)?,
                ..AcceptClaimRequest::default()
            };
            client.accept_claim(request_id, id, &request, &[]).await
        }
        DisputeResponse::Offer { kind, amount, note } => {
            let request = MakeOfferRequest {
                note: note.clone(),
                offer_type: match kind {
                    OfferKind::Refund => OfferType::Refund,
                    OfferKind::RefundWithReturn => OfferType::RefundWithReturn,
                    OfferKind::RefundWithReplacement => OfferType::RefundWithReplacement,
                    OfferKind::ReplacementWithoutRefund => OfferType::ReplacementWithoutRefund,
                },
                offer_amount: paypal_amount(amount)?,
                invoice_id: None,
                return_shipping_address: None,
            };
            client.make_offer(request_id, id, &request).await
        }
        DisputeResponse::Evidence { kind, note, documents: files } => {
            client.provide_evidence(request_id, id, &evidence(kind, note), &documents(files)).await
        }
        DisputeResponse::Message { text, documents: files } => {
            client.send_dispute_message(request_id, id, text, &documents(files)).await
        }
        DisputeResponse::AcknowledgeReturn { received, note } => {
            let request = AcknowledgeReturnItemRequest {
                note: note.clone(),
                acknowledgement_type: if *received {
                    AcknowledgementType::ItemReceived
                } else {
                    AcknowledgementType::ItemNotReceived
                },
            };
            client.acknowledge_return_item(request_id, id, &request, &[]).await
        }
        DisputeResponse::Appeal { kind, note, documents: files } => {
            client.appeal_dispute(request_id, id, &evidence(kind, note), &documents(files)).await
        }
    };
    answered.map(drop).map_err(provider_error)
}
