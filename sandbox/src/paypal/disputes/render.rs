//! Disputes as PayPal's API shows them: the full `dispute`, the `dispute_info` summary of a list,
//! and the HATEOAS links that follow the dispute's state.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::super::{PaypalSimulator, paypal_time};
use super::model::{
    AcceptClaimType, AcknowledgementType, Dispute, DisputeStatus, Document, OfferType, Reason, SellerAction, Stage,
};

impl PaypalSimulator {
    pub(crate) fn dispute_url(&self, id: &str) -> String {
        format!("{}/v1/customer/disputes/{id}", self.base_url())
    }

    /// `links` of a dispute: `self`, then one per action the seller may take now.
    fn dispute_links(&self, dispute: &Dispute, now: DateTime<Utc>) -> Vec<Value> {
        let url = self.dispute_url(&dispute.id);
        let mut links = vec![json!({ "href": url, "rel": "self", "method": "GET" })];
        links.extend(dispute.seller_actions(now).into_iter().map(
            |action| json!({ "href": format!("{url}/{}", action.path()), "rel": action.as_str(), "method": "POST" }),
        ));
        links
    }

    /// The answer of every action: a link back to the dispute (`subsequent_action`).
    pub(crate) fn dispute_action_answer(&self, id: &str) -> Value {
        json!({ "links": [{ "href": self.dispute_url(id), "rel": "self", "method": "GET" }] })
    }

    /// The `dispute_info` of a list.
    pub(crate) fn dispute_summary_json(&self, dispute: &Dispute, now: DateTime<Utc>) -> Value {
        let mut summary = Map::new();
        summary.insert("dispute_id".into(), json!(dispute.id));
        summary.insert("create_time".into(), json!(paypal_time(dispute.create_time)));
        summary.insert("update_time".into(), json!(paypal_time(dispute.update_time)));
        summary.insert("reason".into(), json!(dispute.reason.as_str()));
        summary.insert("status".into(), json!(dispute.status.as_str()));
        summary.insert("dispute_state".into(), json!(dispute.state(now).as_str()));
        summary.insert("dispute_amount".into(), dispute.amount.to_json());
        summary.insert("dispute_life_cycle_stage".into(), json!(dispute.stage.as_str()));
        summary.insert("dispute_channel".into(), json!("INTERNAL"));
        insert_due_dates(&mut summary, dispute);
        summary
            .insert("links".into(), json!([{ "href": self.dispute_url(&dispute.id), "rel": "self", "method": "GET" }]));
        Value::Object(summary)
    }

    /// The full `dispute`, as `GET /v1/customer/disputes/{id}` and the webhooks show it.
    pub(crate) fn dispute_json(&self, dispute: &Dispute, now: DateTime<Utc>) -> Value {
        let mut body = Map::new();
        body.insert("dispute_id".into(), json!(dispute.id));
        body.insert("create_time".into(), json!(paypal_time(dispute.create_time)));
        body.insert("update_time".into(), json!(paypal_time(dispute.update_time)));
        body.insert("disputed_transactions".into(), json!([self.disputed_transaction_json(dispute)]));
        body.insert("reason".into(), json!(dispute.reason.as_str()));
        body.insert("status".into(), json!(dispute.status.as_str()));
        body.insert("dispute_amount".into(), dispute.amount.to_json());
        body.insert("dispute_life_cycle_stage".into(), json!(dispute.stage.as_str()));
        body.insert("dispute_channel".into(), json!("INTERNAL"));
        if let Some((outcome, refunded)) = dispute.outcome {
            body.insert(
                "dispute_outcome".into(),
                json!({ "outcome_code": outcome.as_str(), "amount_refunded": refunded.to_json() }),
            );
        }
        if !dispute.adjudications.is_empty() {
            let adjudications: Vec<Value> = dispute
                .adjudications
                .iter()
                .map(|adjudication| {
                    json!({
                        "type": adjudication.kind,
                        "adjudication_time": paypal_time(adjudication.time),
                        "reason": adjudication.reason,
                        "dispute_life_cycle_stage": adjudication.stage.as_str(),
                    })
                })
                .collect();
            body.insert("adjudications".into(), json!(adjudications));
        }
        if !dispute.money_movements.is_empty() {
            let movements: Vec<Value> = dispute
                .money_movements
                .iter()
                .map(|movement| {
                    json!({
                        "affected_party": "SELLER",
                        "amount": movement.amount.to_json(),
                        "initiated_time": paypal_time(movement.time),
                        "type": "DEBIT",
                        "reason": "DISPUTE_SETTLEMENT",
                    })
                })
                .collect();
            body.insert("money_movements".into(), json!(movements));
        }
        if !dispute.messages.is_empty() {
            let messages: Vec<Value> = dispute
                .messages
                .iter()
                .map(|message| {
                    let mut json = Map::new();
                    json.insert("posted_by".into(), json!(message.posted_by.as_str()));
                    json.insert("time_posted".into(), json!(paypal_time(message.time)));
                    json.insert("content".into(), json!(message.content));
                    insert_documents(&mut json, &message.documents);
                    Value::Object(json)
                })
                .collect();
            body.insert("messages".into(), json!(messages));
        }
        if !dispute.evidences.is_empty() {
            let evidences: Vec<Value> = dispute
                .evidences
                .iter()
                .map(|evidence| {
                    let mut json = Map::new();
                    json.insert("evidence_type".into(), json!(evidence.evidence_type));
                    if let Some(info) = &evidence.evidence_info {
                        json.insert("evidence_info".into(), info.clone());
                    }
                    insert_documents(&mut json, &evidence.documents);
                    if let Some(notes) = &evidence.notes {
                        json.insert("notes".into(), json!(notes));
                    }
                    json.insert("source".into(), json!("SUBMITTED_BY_SELLER"));
                    json.insert("date".into(), json!(paypal_time(evidence.date)));
                    json.insert("dispute_life_cycle_stage".into(), json!(evidence.stage.as_str()));
                    Value::Object(json)
                })
                .collect();
            body.insert("evidences".into(), json!(evidences));
        }
        if !dispute.supporting_info.is_empty() {
            let infos: Vec<Value> = dispute
                .supporting_info
                .iter()
                .map(|info| {
                    let mut json = Map::new();
                    if let Some(notes) = &info.notes {
                        json.insert("notes".into(), json!(notes));
                    }
                    insert_documents(&mut json, &info.documents);
                    json.insert("source".into(), json!("SUBMITTED_BY_SELLER"));
                    json.insert("provided_time".into(), json!(paypal_time(info.time)));
                    json.insert("dispute_life_cycle_stage".into(), json!(info.stage.as_str()));
                    Value::Object(json)
                })
                .collect();
            body.insert("supporting_info".into(), json!(infos));
        }
        insert_due_dates(&mut body, dispute);
        if let Some(offer) = offer_json(dispute) {
            body.insert("offer".into(), offer);
        }
        if dispute.is_open() {
            body.insert("refund_details".into(), json!({ "allowed_refund_amount": dispute.amount.to_json() }));
        }
        if let Some(details) = &dispute.communication {
            let mut json = Map::new();
            if let Some(email) = &details.email {
                json.insert("email".into(), json!(email));
            }
            if let Some(note) = &details.note {
                json.insert("note".into(), json!(note));
            }
            json.insert("time_posted".into(), json!(paypal_time(details.time)));
            body.insert("communication_details".into(), Value::Object(json));
        }
        let options = allowed_response_options(dispute, now);
        if !options.is_empty() {
            body.insert("allowed_response_options".into(), Value::Object(options));
        }
        body.insert("links".into(), json!(self.dispute_links(dispute, now)));
        Value::Object(body)
    }

    fn disputed_transaction_json(&self, dispute: &Dispute) -> Value {
        let transaction = &dispute.transaction;
        let parties = self.parties();
        let mut json = Map::new();
        json.insert("buyer_transaction_id".into(), json!(buyer_transaction_id(&transaction.id)));
        json.insert("seller_transaction_id".into(), json!(transaction.id));
        json.insert("create_time".into(), json!(paypal_time(transaction.create_time)));
        json.insert("transaction_status".into(), json!("COMPLETED"));
        json.insert("gross_amount".into(), transaction.gross.to_json());
        if let Some(invoice) = &transaction.invoice_number {
            json.insert("invoice_number".into(), json!(invoice));
        }
        if let Some(custom) = &transaction.custom {
            json.insert("custom".into(), json!(custom));
        }
        json.insert(
            "buyer".into(),
            json!({ "name": format!("{} {}", parties.payer_given_name, parties.payer_surname) }),
        );
        json.insert(
            "seller".into(),
            json!({ "email": parties.merchant_email, "merchant_id": parties.merchant_id, "name": "Sandbox Merchant" }),
        );
        Value::Object(json)
    }
}

/// The buyer's side of a transaction has its own id at PayPal; the sandbox derives it.
fn buyer_transaction_id(seller_transaction_id: &str) -> String {
    seller_transaction_id.chars().rev().collect()
}

fn insert_due_dates(json: &mut Map<String, Value>, dispute: &Dispute) {
    if let Some(due) = dispute.buyer_due {
        json.insert("buyer_response_due_date".into(), json!(paypal_time(due)));
    }
    if let Some(due) = dispute.seller_due {
        json.insert("seller_response_due_date".into(), json!(paypal_time(due)));
    }
}

/// `documents` has at least one item when present.
fn insert_documents(json: &mut Map<String, Value>, documents: &[Document]) {
    if !documents.is_empty() {
        let documents: Vec<Value> = documents.iter().map(|document| json!({ "name": document.name })).collect();
        json.insert("documents".into(), json!(documents));
    }
}

fn offer_json(dispute: &Dispute) -> Option<Value> {
    let latest = dispute.offers.last()?;
    let history: Vec<Value> = dispute
        .offers
        .iter()
        .map(|event| {
            let mut json = Map::new();
            json.insert("offer_time".into(), json!(paypal_time(event.time)));
            json.insert("actor".into(), json!(event.actor.as_str()));
            json.insert("event_type".into(), json!(event.event_type.as_str()));
            json.insert("offer_type".into(), json!(event.offer_type.as_str()));
            if let Some(amount) = event.amount {
                json.insert("offer_amount".into(), amount.to_json());
            }
            if let Some(notes) = &event.notes {
                json.insert("notes".into(), json!(notes));
            }
            json.insert("dispute_life_cycle_stage".into(), json!(event.stage.as_str()));
            Value::Object(json)
        })
        .collect();
    let mut offer = Map::new();
    offer.insert("buyer_requested_amount".into(), dispute.amount.to_json());
    if let Some(amount) = dispute.offers.iter().rev().find_map(|event| event.amount) {
        offer.insert("seller_offered_amount".into(), amount.to_json());
    }
    offer.insert("offer_type".into(), json!(latest.offer_type.as_str()));
    offer.insert("history".into(), json!(history));
    Some(Value::Object(offer))
}

/// The offer types a seller may propose for a reason: a return only makes sense for goods not
/// as described, a replacement only for goods.
pub fn offer_types(reason: Reason) -> Vec<OfferType> {
    match reason {
        Reason::NotAsDescribed => vec![
            OfferType::Refund,
            OfferType::RefundWithReturn,
            OfferType::RefundWithReplacement,
            OfferType::ReplacementWithoutRefund,
        ],
        Reason::NotReceived => {
            vec![OfferType::Refund, OfferType::RefundWithReplacement, OfferType::ReplacementWithoutRefund]
        }
        _ => vec![OfferType::Refund],
    }
}

/// The accept-claim types for a reason: a return only for goods not as described; a partial
/// refund only while the case is an inquiry.
pub fn accept_claim_types(dispute: &Dispute) -> Vec<AcceptClaimType> {
    let mut types = vec![AcceptClaimType::Refund];
    if dispute.reason == Reason::NotAsDescribed {
        types.push(AcceptClaimType::RefundWithReturn);
        types.push(AcceptClaimType::RefundWithReturnShipmentLabel);
    }
    if dispute.stage == Stage::Inquiry {
        types.push(AcceptClaimType::PartialRefund);
    }
    types
}

fn allowed_response_options(dispute: &Dispute, now: DateTime<Utc>) -> Map<String, Value> {
    let actions = dispute.seller_actions(now);
    let mut options = Map::new();
    let names = |names: Vec<&'static str>| json!(names);
    if actions.contains(&SellerAction::AcceptClaim) && dispute.status != DisputeStatus::Resolved {
        let types = accept_claim_types(dispute).into_iter().map(AcceptClaimType::as_str).collect();
        options.insert("accept_claim".into(), json!({ "accept_claim_types": names(types) }));
    }
    if actions.contains(&SellerAction::MakeOffer) {
        let types = offer_types(dispute.reason).into_iter().map(OfferType::as_str).collect();
        options.insert("make_offer".into(), json!({ "offer_types": names(types) }));
    }
    if actions.contains(&SellerAction::AcknowledgeReturnItem) {
        let types = [
            AcknowledgementType::ItemReceived,
            AcknowledgementType::ItemNotReceived,
            AcknowledgementType::Damaged,
            AcknowledgementType::EmptyPackageOrDifferent,
            AcknowledgementType::MissingItems,
        ]
        .into_iter()
        .map(AcknowledgementType::as_str)
        .collect();
        options.insert("acknowledge_return_item".into(), json!({ "acknowledgement_types": names(types) }));
    }
    options
}
