//! The disputes client against the PayPal simulator: every call goes over HTTP as it would to
//! PayPal, documents as multipart.

use std::net::SocketAddr;
use std::time::Duration;

use payhub_paypal::{
    AcceptClaimRequest, AcceptClaimType, AdjudicationOutcome, Amount, ClientConfig, CreateOrderRequest, Dispute,
    DisputeAction, DisputeQuery, DisputeStage, DisputeState, DisputeStatus, Document, EvidenceItem, EvidenceSubmission,
    ExperienceContext, MakeOfferRequest, OfferType, OutcomeCode, PaypalClient, PaypalError, PurchaseUnitRequest,
    Secret,
};
use payhub_sandbox::paypal::{DisputeReason, DisputeStage as OpenedAt, OpenDispute};
use payhub_sandbox::{
    RunningSandbox, SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET, SandboxOptions, TestClock,
};
use serde_json::json;

pub(crate) async fn sandbox_and_client() -> (RunningSandbox, PaypalClient) {
    // Installs the process's TLS provider, which the sandbox's own HTTP client needs too.
    let _ = payhub_paypal::default_http_client();
    let options = SandboxOptions {
        paypal_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        pingpp_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        public_host: None,
        clock: TestClock::new(),
        seed: 7,
    };
    let sandbox = payhub_sandbox::start(options).await.expect("the sandbox starts");
    let config = ClientConfig {
        base_url: sandbox.paypal_url.clone(),
        client_id: SANDBOX_PAYPAL_CLIENT_ID.into(),
        client_secret: Secret::new(SANDBOX_PAYPAL_CLIENT_SECRET),
        timeout: Duration::from_secs(5),
    };
    (sandbox, PaypalClient::new(config).expect("client"))
}

/// A captured order of `value` USD; returns the capture id.
async fn captured(sandbox: &RunningSandbox, client: &PaypalClient, value: &str) -> String {
    let context = ExperienceContext {
        return_url: "https://shop.example/return".into(),
        cancel_url: "https://shop.example/cancel".into(),
        ..ExperienceContext::default()
    };
    let request = CreateOrderRequest::capture(vec![PurchaseUnitRequest::new(Amount::new("USD", value))], context);
    let order = client.create_order(&format!("order-{value}"), &request).await.expect("order");
    sandbox.paypal.approve_order(&order.id).expect("approved");
    let captured = client.capture_order(&format!("capture-{value}"), &order.id).await.expect("captured");
    captured.captures().next().expect("a capture").id.clone()
}

fn open(sandbox: &RunningSandbox, capture_id: &str, reason: DisputeReason, stage: OpenedAt) -> String {
    let request = OpenDispute { reason, amount: None, stage, message: Some("Where is it?".into()) };
    let opened = sandbox.paypal.open_dispute(capture_id, request).expect("dispute opened");
    opened["dispute_id"].as_str().unwrap().to_owned()
}

fn pdf(name: &str) -> Document {
    Document { file_name: name.into(), content_type: "application/pdf".into(), content: b"%PDF-1.4".to_vec() }
}

fn issue(error: &PaypalError) -> &str {
    error.issue().unwrap_or_default()
}

#[tokio::test]
async fn a_case_is_found_answered_with_documents_and_settled_through_the_client() {
    let (sandbox, client) = sandbox_and_client().await;
    let capture_id = captured(&sandbox, &client, "42.00").await;
    let id = open(&sandbox, &capture_id, DisputeReason::NotReceived, OpenedAt::Inquiry);

    let query = DisputeQuery { disputed_transaction_id: Some(capture_id.clone()), ..DisputeQuery::default() };
    let found = client.list_disputes(&query).await.expect("listed");
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].dispute_state, Some(DisputeState::RequiredAction));

    let dispute: Dispute = client.get_dispute(&id).await.expect("shown");
    assert_eq!(dispute.status, DisputeStatus::WaitingForSellerResponse);
    assert_eq!(dispute.seller_transaction_id(), Some(capture_id.as_str()));
    assert_eq!(dispute.dispute_amount, Some(Amount::new("USD", "42.00")));
    assert!(dispute.seller_response_due_date.is_some());
    assert_eq!(dispute.messages[0].content.as_deref(), Some("Where is it?"));
    assert!(dispute.allows(DisputeAction::SendMessage) && !dispute.allows(DisputeAction::Appeal));

    client.send_dispute_message("message-1", &id, "Shipped on Monday", &[pdf("label.pdf")]).await.expect("sent");
    let dispute = client.get_dispute(&id).await.expect("shown");
    assert_eq!(dispute.status, DisputeStatus::WaitingForBuyerResponse);
    assert_eq!(dispute.messages[1].documents[0].name.as_deref(), Some("label.pdf"));

    client.escalate_dispute("escalate-1", &id, "Let PayPal decide").await.expect("escalated");
    let evidence = EvidenceSubmission {
        evidences: vec![EvidenceItem {
            evidence_type: "PROOF_OF_FULFILLMENT".into(),
            evidence_info: Some(json!({ "tracking_info": [{ "carrier_name": "UPS", "tracking_number": "1Z999" }] })),
            notes: Some("Delivered".into()),
        }],
    };
    let refused = client.provide_evidence("evidence-0", &id, &evidence, &[pdf("notes.txt")]).await.unwrap_err();
    assert!(matches!(refused, PaypalError::Decode(_)), "refused before sending: {refused}");
    let dispute = client.get_dispute(&id).await.expect("shown");
    assert_eq!(dispute.status, DisputeStatus::UnderReview, "escalated by the seller, PayPal reviews it");
    assert_eq!(dispute.dispute_life_cycle_stage, Some(DisputeStage::Chargeback));

    let not_now = client.provide_evidence("evidence-1", &id, &evidence, &[pdf("receipt.pdf")]).await.unwrap_err();
    assert_eq!(issue(&not_now), "ACTION_NOT_ALLOWED");
    client.provide_supporting_info("info-1", &id, Some("Signed by the buyer"), &[pdf("pod.pdf")]).await.expect("sent");

    client.adjudicate_dispute("adjudicate-1", &id, AdjudicationOutcome::SellerFavor).await.expect("decided");
    let dispute = client.get_dispute(&id).await.expect("shown");
    assert_eq!(dispute.status, DisputeStatus::Resolved);
    let outcome = dispute.dispute_outcome.expect("an outcome");
    assert_eq!(outcome.outcome_code, Some(OutcomeCode::ResolvedSellerFavour));
    assert!(dispute.links.iter().all(|link| link.rel == "self"));
}

#[tokio::test]
async fn offers_claims_and_paging_are_typed_both_ways() {
    let (sandbox, client) = sandbox_and_client().await;
    let mut ids = Vec::new();
    for value in ["10.00", "11.00", "12.00"] {
        let capture_id = captured(&sandbox, &client, value).await;
        ids.push(open(&sandbox, &capture_id, DisputeReason::NotAsDescribed, OpenedAt::Inquiry));
    }

    let offer = MakeOfferRequest {
        note: "Half back".into(),
        offer_type: OfferType::Refund,
        offer_amount: Some(Amount::new("USD", "5.00")),
        invoice_id: None,
        return_shipping_address: None,
    };
    client.make_offer("offer-1", &ids[0], &offer).await.expect("offered");
    let dispute = client.get_dispute(&ids[0]).await.expect("shown");
    let made = dispute.offer.expect("an offer");
    assert_eq!(made.seller_offered_amount, Some(Amount::new("USD", "5.00")));
    assert_eq!(made.offer_type, Some(OfferType::Refund));
    let by_seller = client.accept_dispute_offer("accept-1", &ids[0], None).await.unwrap_err();
    assert!(matches!(by_seller, PaypalError::Api { status: 403, .. }), "{by_seller}");

    let partial = AcceptClaimRequest {
        note: Some("Sorry".into()),
        accept_claim_type: Some(AcceptClaimType::PartialRefund),
        refund_amount: Some(Amount::new("USD", "4.00")),
        ..AcceptClaimRequest::default()
    };
    let claimed = ids[1].clone();
    client.accept_claim("claim-1", &claimed, &partial, &[]).await.expect("accepted");
    let accepted = client.get_dispute(&ids[1]).await.expect("shown").dispute_outcome.expect("an outcome");
    assert_eq!(accepted.outcome_code, Some(OutcomeCode::Accepted));
    assert_eq!(accepted.amount_refunded, Some(Amount::new("USD", "4.00")));

    client.update_dispute_communication(&ids[2], Some("disputes@shop.example"), None).await.expect("patched");
    let patched = client.get_dispute(&ids[2]).await.expect("shown");
    assert_eq!(patched.communication_details.expect("details")["email"], "disputes@shop.example");

    let mut query = DisputeQuery { page_size: Some(2), ..DisputeQuery::default() };
    let first = client.list_disputes(&query).await.expect("first page");
    assert_eq!(first.items.len(), 2);
    query.next_page_token = Some(first.next_page_token().expect("a next page"));
    let second = client.list_disputes(&query).await.expect("second page");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_page_token(), None);
    let mut seen: Vec<String> =
        first.items.iter().chain(&second.items).map(|summary| summary.dispute_id.clone()).collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);

    let resolved = DisputeQuery { dispute_states: vec![DisputeState::Resolved], ..DisputeQuery::default() };
    let listed = client.list_disputes(&resolved).await.expect("listed");
    let listed: Vec<&str> = listed.items.iter().map(|summary| summary.dispute_id.as_str()).collect();
    assert_eq!(listed, [claimed.as_str()], "only the accepted claim is resolved");
}
