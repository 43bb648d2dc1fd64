mod common;
mod paypal_harness;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use paypal_harness::{TestSandbox, spawn_sandbox};

const REPRESENTATION: [(&str, &str); 1] = [("Prefer", "return=representation")];

fn rels(links: &Value) -> Vec<String> {
    links.as_array().unwrap().iter().map(|link| link["rel"].as_str().unwrap().to_owned()).collect()
}

/// An `AUTHORIZE` order for `value` USD, approved by the buyer and authorized; returns (order id,
/// authorization id).
async fn authorized(sandbox: &TestSandbox, token: &str, value: &str) -> (String, String) {
    let order = sandbox.create_order(token, value, json!({ "intent": "AUTHORIZE" })).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(sandbox.approve(&order_id).await.status, StatusCode::OK);
    let answer = sandbox.post(token, &format!("/v2/checkout/orders/{order_id}/authorize"), None, &[]).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let authorization_id =
        answer.body["purchase_units"][0]["payments"]["authorizations"][0]["id"].as_str().unwrap().to_owned();
    (order_id, authorization_id)
}

async fn capture(sandbox: &TestSandbox, token: &str, authorization_id: &str, body: Value) -> common::Answer {
    sandbox
        .post(token, &format!("/v2/payments/authorizations/{authorization_id}/capture"), Some(body), &REPRESENTATION)
        .await
}

fn event_types(sandbox: &TestSandbox) -> Vec<String> {
    sandbox.running.paypal.events().iter().map(|event| event["event_type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn an_authorize_order_advertises_authorize_and_update_then_holds_the_money_in_an_authorization() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order = sandbox.create_order(&token, "50.00", json!({ "intent": "AUTHORIZE" })).await;
    assert_eq!(rels(&order["links"]), ["self", "approve", "update", "authorize"]);
    let order_id = order["id"].as_str().unwrap();

    let early = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/authorize"), None, &[]).await;
    assert_eq!((early.status, early.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "ORDER_NOT_APPROVED"));
    let wrong = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/capture"), None, &[]).await;
    assert_eq!(wrong.issue(), "ACTION_DOES_NOT_MATCH_INTENT");

    sandbox.approve(order_id).await;
    let answer = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/authorize"), None, &[]).await;
    assert_eq!(answer.body["status"], "COMPLETED");
    let authorization = &answer.body["purchase_units"][0]["payments"]["authorizations"][0];
    assert_eq!(authorization["status"], "CREATED");
    assert_eq!(authorization["amount"], json!({ "currency_code": "USD", "value": "50.00" }));
    // Within the honor period there is nothing to reauthorize.
    assert_eq!(rels(&authorization["links"]), ["self", "capture", "void", "up"]);
    let id = authorization["id"].as_str().unwrap();
    let shown = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["supplementary_data"]["related_ids"]["order_id"], order_id);
    let created = chrono::DateTime::parse_from_rfc3339(shown.body["create_time"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(shown.body["expiration_time"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::days(29));

    let again = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/authorize"), None, &[]).await;
    assert_eq!(again.issue(), "ORDER_ALREADY_AUTHORIZED");
    assert!(event_types(&sandbox).contains(&"PAYMENT.AUTHORIZATION.CREATED".to_owned()));
}

#[tokio::test]
async fn partial_captures_leave_the_rest_authorized_until_a_final_capture_closes_it() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (order_id, id) = authorized(&sandbox, &token, "100.00").await;

    let first = capture(&sandbox, &token, &id, json!({ "amount": { "currency_code": "USD", "value": "30.00" } })).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["final_capture"], false);
    assert_eq!(first.body["supplementary_data"]["related_ids"]["authorization_id"], id.as_str());
    let shown = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(shown.body["status"], "PARTIALLY_CAPTURED");

    let too_much =
        capture(&sandbox, &token, &id, json!({ "amount": { "currency_code": "USD", "value": "70.01" } })).await;
    assert_eq!((too_much.status, too_much.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "MAX_CAPTURE_AMOUNT_EXCEEDED"));
    let precision =
        capture(&sandbox, &token, &id, json!({ "amount": { "currency_code": "USD", "value": "1.001" } })).await;
    assert_eq!(precision.issue(), "DECIMAL_PRECISION");
    let currency =
        capture(&sandbox, &token, &id, json!({ "amount": { "currency_code": "EUR", "value": "1.00" } })).await;
    assert_eq!(currency.issue(), "CURRENCY_MISMATCH");

    let last = capture(
        &sandbox,
        &token,
        &id,
        json!({ "amount": { "currency_code": "USD", "value": "20.00" }, "final_capture": true }),
    )
    .await;
    assert_eq!(last.status, StatusCode::CREATED);
    assert_eq!(last.body["final_capture"], true);
    let shown = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(shown.body["status"], "CAPTURED");
    assert_eq!(rels(&shown.body["links"]), ["self", "up"]);
    let closed = capture(&sandbox, &token, &id, json!({})).await;
    assert_eq!(closed.issue(), "AUTHORIZATION_ALREADY_CAPTURED");

    let order = sandbox.get(&token, &format!("/v2/checkout/orders/{order_id}")).await;
    assert_eq!(order.body["purchase_units"][0]["payments"]["captures"].as_array().unwrap().len(), 2);
    let captures = event_types(&sandbox).iter().filter(|t| *t == "PAYMENT.CAPTURE.COMPLETED").count();
    assert_eq!(captures, 2);

    // A capture of an authorization is refunded like any other.
    let capture_id = last.body["id"].as_str().unwrap();
    let refund = sandbox.post(&token, &format!("/v2/payments/captures/{capture_id}/refund"), None, &[]).await;
    assert_eq!(refund.status, StatusCode::CREATED, "{}", refund.body);
}

#[tokio::test]
async fn a_capture_without_amount_takes_everything_and_a_void_after_it_is_refused() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, id) = authorized(&sandbox, &token, "25.00").await;
    let all = capture(&sandbox, &token, &id, json!({})).await;
    assert_eq!(all.body["amount"]["value"], "25.00");
    assert_eq!(all.body["final_capture"], true);
    let void = sandbox.post(&token, &format!("/v2/payments/authorizations/{id}/void"), None, &[]).await;
    assert_eq!((void.status, void.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "PREVIOUSLY_CAPTURED"));
}

#[tokio::test]
async fn a_void_releases_the_authorization_and_raises_its_webhook() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, id) = authorized(&sandbox, &token, "40.00").await;
    let void = sandbox.post(&token, &format!("/v2/payments/authorizations/{id}/void"), None, &[]).await;
    assert_eq!(void.status, StatusCode::NO_CONTENT);
    assert_eq!(void.body, Value::Null);
    let shown = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(shown.body["status"], "VOIDED");
    assert!(event_types(&sandbox).contains(&"PAYMENT.AUTHORIZATION.VOIDED".to_owned()));

    let again = sandbox.post(&token, &format!("/v2/payments/authorizations/{id}/void"), None, &[]).await;
    assert_eq!(again.issue(), "PREVIOUSLY_VOIDED");
    let captured = capture(&sandbox, &token, &id, json!({})).await;
    assert_eq!(captured.issue(), "AUTHORIZATION_VOIDED");
}

#[tokio::test]
async fn reauthorizing_waits_for_the_honor_period_and_is_allowed_once() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, id) = authorized(&sandbox, &token, "60.00").await;
    let path = format!("/v2/payments/authorizations/{id}/reauthorize");
    let early = sandbox.post(&token, &path, None, &REPRESENTATION).await;
    assert_eq!((early.status, early.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "REAUTHORIZATION_NOT_SUPPORTED"));

    sandbox.advance("3d").await;
    // Access tokens live hours, not days.
    let token = sandbox.token().await;
    let shown = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(rels(&shown.body["links"]), ["self", "capture", "void", "reauthorize", "up"]);
    let renewed = sandbox.post(&token, &path, None, &REPRESENTATION).await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.body);
    let renewed_id = renewed.body["id"].as_str().unwrap();
    assert_ne!(renewed_id, id);
    assert_eq!(renewed.body["status"], "CREATED");
    assert_eq!(renewed.body["expiration_time"], shown.body["expiration_time"], "validity counts from the original");
    assert_eq!(rels(&renewed.body["links"]), ["self", "capture", "void", "up"]);

    let original = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(original.body["status"], "VOIDED");
    sandbox.advance("4d").await;
    let token = sandbox.token().await;
    let twice = sandbox.post(&token, &format!("/v2/payments/authorizations/{renewed_id}/reauthorize"), None, &[]).await;
    assert_eq!(twice.issue(), "REAUTHORIZATION_NOT_SUPPORTED");
    let captured = capture(&sandbox, &token, renewed_id, json!({})).await;
    assert_eq!(captured.status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_authorization_expires_after_29_days_on_the_test_clock() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, id) = authorized(&sandbox, &token, "10.00").await;
    sandbox.advance("28d").await;
    let token = sandbox.token().await;
    let shown = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(shown.body["status"], "CREATED");
    sandbox.advance("1d").await;
    let token = sandbox.token().await;
    let shown = sandbox.get(&token, &format!("/v2/payments/authorizations/{id}")).await;
    assert_eq!(shown.body["status"], "EXPIRED");
    assert_eq!(rels(&shown.body["links"]), ["self", "up"]);
    let captured = capture(&sandbox, &token, &id, json!({})).await;
    assert_eq!(captured.issue(), "AUTHORIZATION_EXPIRED");
    let void = sandbox.post(&token, &format!("/v2/payments/authorizations/{id}/void"), None, &[]).await;
    assert_eq!(void.issue(), "CANNOT_BE_VOIDED");
}

#[tokio::test]
async fn unknown_authorizations_are_not_found_in_the_payments_api() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let answer = sandbox.get(&token, "/v2/payments/authorizations/NOSUCHAUTH").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["details"][0]["field"], "authorization_id");
}

#[tokio::test]
async fn a_declined_instrument_sends_the_buyer_back_and_a_second_approval_captures() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order_id = sandbox.new_order_id(&token, "15.00").await;
    sandbox.approve(&order_id).await;
    let outcome = sandbox
        .control(
            Method::POST,
            &format!("/sandbox/paypal/orders/{order_id}/capture-outcome"),
            Some(json!({ "status": "INSTRUMENT_DECLINED" })),
        )
        .await;
    assert_eq!(outcome.status, StatusCode::OK, "{}", outcome.body);

    let path = format!("/v2/checkout/orders/{order_id}/capture");
    let declined = sandbox.post(&token, &path, None, &[("PayPal-Request-Id", "capture-1")]).await;
    assert_eq!((declined.status, declined.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "INSTRUMENT_DECLINED"));
    assert_eq!(rels(&declined.body["links"]), ["information_link", "redirect"]);
    assert_eq!(declined.body["links"][1]["href"], format!("{}/checkoutnow?token={order_id}", sandbox.url));
    let order = sandbox.get(&token, &format!("/v2/checkout/orders/{order_id}")).await;
    assert_eq!(order.body["status"], "PAYER_ACTION_REQUIRED");

    sandbox.approve(&order_id).await;
    let captured = sandbox.post(&token, &path, None, &[("PayPal-Request-Id", "capture-1")]).await;
    assert_eq!(captured.status, StatusCode::CREATED, "{}", captured.body);
    assert_eq!(captured.body["status"], "COMPLETED");
}

#[tokio::test]
async fn payer_action_required_links_to_the_payer_action() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order = sandbox.create_order(&token, "15.00", json!({ "intent": "AUTHORIZE" })).await;
    let order_id = order["id"].as_str().unwrap();
    sandbox.approve(order_id).await;
    let path = format!("/sandbox/paypal/orders/{order_id}/capture-outcome");
    sandbox.control(Method::POST, &path, Some(json!({ "status": "PAYER_ACTION_REQUIRED" }))).await;
    let refused = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/authorize"), None, &[]).await;
    assert_eq!(refused.issue(), "PAYER_ACTION_REQUIRED");
    assert_eq!(refused.body["links"][1]["rel"], "payer-action");
}

#[tokio::test]
async fn patching_an_order_changes_amount_and_texts_before_it_completes() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order_id = sandbox.new_order_id(&token, "10.00").await;
    let path = format!("/v2/checkout/orders/{order_id}");
    let unit = "/purchase_units/@reference_id=='default'";
    let patch = |body: Value| {
        let request = sandbox.http.patch(format!("{}{path}", sandbox.url)).bearer_auth(&token);
        common::send(request, Some(body))
    };
    let patched = patch(json!([
        { "op": "replace", "path": format!("{unit}/amount"), "value": { "currency_code": "USD", "value": "12.50" } },
        { "op": "add", "path": format!("{unit}/description"), "value": "Two mugs" },
        { "op": "add", "path": format!("{unit}/invoice_id"), "value": "INV-7" },
    ]))
    .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let shown = sandbox.get(&token, &path).await;
    let shown_unit = &shown.body["purchase_units"][0];
    assert_eq!(shown_unit["amount"]["value"], "12.50");
    assert_eq!(shown_unit["description"], "Two mugs");
    assert_eq!(shown_unit["invoice_id"], "INV-7");

    let removed = patch(json!([{ "op": "remove", "path": format!("{unit}/description") }])).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert!(sandbox.get(&token, &path).await.body["purchase_units"][0].get("description").is_none());

    let cases = [
        (json!([{ "op": "remove", "path": format!("{unit}/amount") }]), "INVALID_PATCH_OPERATION"),
        (json!([{ "op": "move", "path": format!("{unit}/description") }]), "INVALID_PATCH_OPERATION"),
        (json!([{ "op": "replace", "path": "/purchase_units/0/amount", "value": {} }]), "INVALID_JSON_POINTER_FORMAT"),
        (
            json!([{ "op": "add", "path": "/purchase_units/@reference_id=='other'/custom_id", "value": "x" }]),
            "REFERENCE_ID_NOT_FOUND",
        ),
        (json!([{ "op": "replace", "path": format!("{unit}/payee"), "value": {} }]), "FIELD_NOT_PATCHABLE"),
        (json!([{ "op": "add", "path": format!("{unit}/custom_id") }]), "PATCH_VALUE_REQUIRED"),
        (
            json!([{ "op": "replace", "path": format!("{unit}/amount"), "value": { "currency_code": "USD", "value": "1.234" } }]),
            "DECIMAL_PRECISION",
        ),
    ];
    for (body, issue) in cases {
        let refused = patch(body.clone()).await;
        assert_eq!(refused.issue(), issue, "{body}: {}", refused.body);
    }
    // A refused patch changes nothing, even its valid operations.
    patch(json!([
        { "op": "add", "path": format!("{unit}/custom_id"), "value": "kept-out" },
        { "op": "remove", "path": format!("{unit}/amount") },
    ]))
    .await;
    assert!(sandbox.get(&token, &path).await.body["purchase_units"][0].get("custom_id").is_none());

    sandbox.approve(&order_id).await;
    sandbox.post(&token, &format!("{path}/capture"), None, &[]).await;
    let late = patch(json!([{ "op": "add", "path": format!("{unit}/custom_id"), "value": "x" }])).await;
    assert_eq!(late.issue(), "ORDER_ALREADY_COMPLETED");
}

#[tokio::test]
async fn without_prefer_a_capture_and_a_reauthorization_answer_only_id_status_and_links() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let keys = |body: &Value| {
        let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let (_, id) = authorized(&sandbox, &token, "5.00").await;
    sandbox.advance("3d").await;
    let token = sandbox.token().await;
    let renewed = sandbox.post(&token, &format!("/v2/payments/authorizations/{id}/reauthorize"), None, &[]).await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.body);
    assert_eq!(keys(&renewed.body), ["id", "links", "status"]);
    assert_eq!(renewed.body["status"], "CREATED");

    let renewed_id = renewed.body["id"].as_str().unwrap();
    let captured = sandbox.post(&token, &format!("/v2/payments/authorizations/{renewed_id}/capture"), None, &[]).await;
    assert_eq!(captured.status, StatusCode::CREATED, "{}", captured.body);
    assert_eq!(keys(&captured.body), ["id", "links", "status"]);
    assert_eq!(captured.body["status"], "COMPLETED");
    assert_eq!(rels(&captured.body["links"]), ["self", "refund", "up"]);
}
