//! Orders with intent `AUTHORIZE`, their authorizations, order updates and funding failures,
//! through the client against the PayPal simulator.

use payhub_paypal::{
    Amount, AuthorizationStatus, CaptureAuthorizationRequest, CaptureStatus, CreateOrderRequest, ExperienceContext,
    Issue, OrderStatus, PatchOperation, PaypalClient, PurchaseUnitRequest, ReauthorizeRequest,
};
use payhub_sandbox::RunningSandbox;
use payhub_sandbox::paypal::CaptureOutcome;
use serde_json::json;

use crate::disputes_client::sandbox_and_client;

fn context() -> ExperienceContext {
    ExperienceContext {
        return_url: "https://shop.example/return".into(),
        cancel_url: "https://shop.example/cancel".into(),
        ..ExperienceContext::default()
    }
}

/// An approved `AUTHORIZE` order of `value` USD; returns its id.
async fn approved_order(sandbox: &RunningSandbox, client: &PaypalClient, key: &str, value: &str) -> String {
    let unit =
        PurchaseUnitRequest { custom_id: Some(key.into()), ..PurchaseUnitRequest::new(Amount::new("USD", value)) };
    let order = client.create_order(key, &CreateOrderRequest::authorize(vec![unit], context())).await.expect("order");
    sandbox.paypal.approve_order(&order.id).expect("approved");
    order.id
}

#[tokio::test]
async fn an_authorized_order_is_captured_in_part_then_finally() {
    let (sandbox, client) = sandbox_and_client().await;
    let order_id = approved_order(&sandbox, &client, "auth-1", "80.00").await;
    let authorized = client.authorize_order("authorize-1", &order_id).await.expect("authorized");
    assert_eq!(authorized.status, OrderStatus::Completed);
    let authorization = authorized.authorizations().next().expect("an authorization").clone();
    assert_eq!(authorization.status, AuthorizationStatus::Created);
    assert_eq!(authorization.order_id(), Some(order_id.as_str()));
    assert!(authorization.can_capture());
    assert!(authorization.expiration_time.is_some());

    let part = CaptureAuthorizationRequest { amount: Some(Amount::new("USD", "30.00")), ..Default::default() };
    let capture = client.capture_authorization("cap-1", &authorization.id, &part).await.expect("captured");
    assert_eq!((capture.status, capture.final_capture), (CaptureStatus::Completed, Some(false)));
    let replay = client.capture_authorization("cap-1", &authorization.id, &part).await.expect("replayed");
    assert_eq!(replay.id, capture.id, "the same request id never captures twice");
    let shown = client.get_authorization(&authorization.id).await.expect("shown");
    assert_eq!(shown.status, AuthorizationStatus::PartiallyCaptured);

    let rest = CaptureAuthorizationRequest { final_capture: Some(true), ..Default::default() };
    let last = client.capture_authorization("cap-2", &authorization.id, &rest).await.expect("captured");
    assert_eq!(last.amount, Some(Amount::new("USD", "50.00")));
    let closed = client.capture_authorization("cap-3", &authorization.id, &rest).await.expect_err("closed");
    assert_eq!(closed.known_issue(), Some(Issue::AuthorizationAlreadyCaptured));
    let void = client.void_authorization("void-1", &authorization.id).await.expect_err("captured");
    assert_eq!(void.known_issue(), Some(Issue::PreviouslyCaptured));
}

#[tokio::test]
async fn an_authorization_is_voided_and_reauthorized_after_its_honor_period() {
    let (sandbox, client) = sandbox_and_client().await;
    let order_id = approved_order(&sandbox, &client, "auth-2", "20.00").await;
    let authorized = client.authorize_order("authorize-2", &order_id).await.expect("authorized");
    let first = authorized.authorizations().next().expect("an authorization").id.clone();
    sandbox.clock.advance(chrono::Duration::days(4));
    let renewed =
        client.reauthorize_authorization("reauth-1", &first, &ReauthorizeRequest::default()).await.expect("renewed");
    assert_ne!(renewed.id, first);
    client.void_authorization("void-2", &renewed.id).await.expect("voided");
    let shown = client.get_authorization(&renewed.id).await.expect("shown");
    assert_eq!(shown.status, AuthorizationStatus::Voided);
    let refused = client
        .capture_authorization("cap-4", &renewed.id, &CaptureAuthorizationRequest::default())
        .await
        .expect_err("voided");
    assert_eq!(refused.known_issue(), Some(Issue::AuthorizationVoided));
}

#[tokio::test]
async fn a_declined_instrument_names_where_the_buyer_goes_next() {
    let (sandbox, client) = sandbox_and_client().await;
    let order_id = approved_order(&sandbox, &client, "auth-3", "12.00").await;
    sandbox.paypal.set_capture_outcome(&order_id, CaptureOutcome::InstrumentDeclined).expect("outcome set");
    let declined = client.authorize_order("authorize-3", &order_id).await.expect_err("declined");
    assert_eq!(declined.known_issue(), Some(Issue::InstrumentDeclined));
    assert_eq!(
        declined.buyer_redirect(),
        Some(format!("{}/checkoutnow?token={order_id}", sandbox.paypal_url).as_str())
    );
    sandbox.paypal.approve_order(&order_id).expect("approved again");
    let authorized = client.authorize_order("authorize-3", &order_id).await.expect("authorized");
    assert!(authorized.authorizations().next().is_some());
}

#[tokio::test]
async fn an_order_is_patched_before_approval() {
    let (_sandbox, client) = sandbox_and_client().await;
    let unit = PurchaseUnitRequest::new(Amount::new("USD", "10.00"));
    let order = client.create_order("patch-1", &CreateOrderRequest::capture(vec![unit], context())).await.unwrap();
    let path = "/purchase_units/@reference_id=='default'";
    let operations = [
        PatchOperation::replace(format!("{path}/amount"), json!({ "currency_code": "USD", "value": "11.00" })),
        PatchOperation::add(format!("{path}/invoice_id"), json!("INV-42")),
    ];
    client.patch_order(&order.id, &operations).await.expect("patched");
    let shown = client.get_order(&order.id).await.expect("shown");
    assert_eq!(shown.purchase_units[0].amount, Some(Amount::new("USD", "11.00")));
    assert_eq!(shown.purchase_units[0].invoice_id.as_deref(), Some("INV-42"));
}
