mod common;
mod paypal_harness;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use paypal_harness::spawn_sandbox;

fn rels(links: &Value) -> Vec<String> {
    links.as_array().unwrap().iter().map(|link| link["rel"].as_str().unwrap().to_owned()).collect()
}

fn href<'a>(links: &'a Value, rel: &str) -> &'a str {
    links.as_array().unwrap().iter().find(|link| link["rel"] == rel).and_then(|link| link["href"].as_str()).unwrap()
}

#[tokio::test]
async fn an_order_is_created_approved_captured_then_refunded_in_part_and_in_full() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let context = json!({ "application_context": { "return_url": "https://shop.example/return", "cancel_url": "https://shop.example/cancel" } });

    let created = sandbox.create_order(&token, "100.00", context).await;
    assert_eq!(created["status"], "CREATED");
    assert_eq!(rels(&created["links"]), ["self", "approve", "update", "capture"]);
    let order_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(order_id.len(), 17);
    assert_eq!(href(&created["links"], "approve"), format!("{}/checkoutnow?token={order_id}", sandbox.url));
    assert!(created.get("purchase_units").is_none(), "the default answer is minimal");

    let shown = sandbox.get(&token, &format!("/v2/checkout/orders/{order_id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["intent"], "CAPTURE");
    assert_eq!(shown.body["purchase_units"][0]["amount"], json!({ "currency_code": "USD", "value": "100.00" }));

    let approved = sandbox.approve(&order_id).await;
    let payer_id = approved.body["payer_id"].as_str().unwrap();
    assert_eq!(
        approved.body["redirect_url"],
        format!("https://shop.example/return?token={order_id}&PayerID={payer_id}")
    );
    let shown = sandbox.get(&token, &format!("/v2/checkout/orders/{order_id}")).await;
    assert_eq!(shown.body["status"], "APPROVED");
    assert_eq!(shown.body["payer"]["payer_id"], payer_id);

    let prefer = [("Prefer", "return=representation")];
    let captured = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/capture"), None, &prefer).await;
    assert_eq!(captured.status, StatusCode::CREATED);
    assert_eq!(captured.body["status"], "COMPLETED");
    let capture = &captured.body["purchase_units"][0]["payments"]["captures"][0];
    assert_eq!(capture["status"], "COMPLETED");
    assert_eq!(capture["final_capture"], true);
    assert_eq!(capture["seller_receivable_breakdown"]["gross_amount"]["value"], "100.00");
    assert_eq!(rels(&capture["links"]), ["self", "refund", "up"]);
    let capture_id = capture["id"].as_str().unwrap().to_owned();

    let shown = sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await;
    assert_eq!(shown.body["supplementary_data"]["related_ids"]["order_id"], order_id.as_str());

    let refund_path = format!("/v2/payments/captures/{capture_id}/refund");
    let partial =
        json!({ "amount": { "currency_code": "USD", "value": "30.00" }, "note_to_payer": "One item was missing" });
    let first = sandbox.post(&token, &refund_path, Some(partial), &[]).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.body["status"], "COMPLETED");
    assert_eq!(rels(&first.body["links"]), ["self", "up"]);
    let shown = sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await;
    assert_eq!(shown.body["status"], "PARTIALLY_REFUNDED");

    let rest = sandbox.post(&token, &refund_path, None, &prefer).await;
    assert_eq!(rest.status, StatusCode::CREATED);
    assert_eq!(rest.body["amount"]["value"], "70.00", "without an amount the rest is refunded");
    assert_eq!(rest.body["seller_payable_breakdown"]["total_refunded_amount"]["value"], "100.00");
    let shown = sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await;
    assert_eq!(shown.body["status"], "REFUNDED");

    let refund_id = first.body["id"].as_str().unwrap();
    let refund = sandbox.get(&token, &format!("/v2/payments/refunds/{refund_id}")).await;
    assert_eq!(refund.body["amount"]["value"], "30.00");
    assert_eq!(refund.body["note_to_payer"], "One item was missing");
    assert_eq!(href(&refund.body["links"], "up"), format!("{}/v2/payments/captures/{capture_id}", sandbox.url));

    let more = sandbox.post(&token, &refund_path, None, &[]).await;
    assert_eq!((more.status, more.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "CAPTURE_FULLY_REFUNDED"));
}

#[tokio::test]
async fn an_amount_that_disagrees_with_its_breakdown_or_items_is_refused_with_paypals_issue() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let usd = |value: &str| json!({ "currency_code": "USD", "value": value });
    let order = |amount: Value, items: Value| json!({ "intent": "CAPTURE", "purchase_units": [{ "amount": amount, "items": items }] });
    let item = json!({ "name": "Coffee", "quantity": "2", "unit_amount": usd("7.50") });
    let cases = [
        (
            order(
                json!({ "currency_code": "USD", "value": "20.00", "breakdown": { "item_total": usd("15.00"), "shipping": usd("4.00") } }),
                json!([item]),
            ),
            "AMOUNT_MISMATCH",
            "/purchase_units/@reference_id=='default'/amount/value",
        ),
        (
            order(
                json!({ "currency_code": "USD", "value": "16.00", "breakdown": { "item_total": usd("16.00") } }),
                json!([item]),
            ),
            "ITEM_TOTAL_MISMATCH",
            "/purchase_units/@reference_id=='default'/amount/breakdown/item_total",
        ),
        (
            order(usd("15.00"), json!([item])),
            "ITEM_TOTAL_REQUIRED",
            "/purchase_units/@reference_id=='default'/amount/breakdown/item_total",
        ),
    ];
    for (body, issue, field) in cases {
        let refused = sandbox.post(&token, "/v2/checkout/orders", Some(body), &[]).await;
        assert_eq!((refused.status, refused.issue()), (StatusCode::UNPROCESSABLE_ENTITY, issue), "{}", refused.body);
        assert_eq!(refused.body["details"][0]["field"], field);
    }
    let agreeing = order(
        json!({ "currency_code": "USD", "value": "19.00", "breakdown": { "item_total": usd("15.00"), "shipping": usd("4.00") } }),
        json!([item]),
    );
    assert_eq!(sandbox.post(&token, "/v2/checkout/orders", Some(agreeing), &[]).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn capture_before_approval_is_refused_with_order_not_approved() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order_id = sandbox.new_order_id(&token, "10.00").await;

    let refused = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/capture"), None, &[]).await;

    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["name"], "UNPROCESSABLE_ENTITY");
    assert_eq!(refused.issue(), "ORDER_NOT_APPROVED");
    assert_eq!(
        refused.body["links"][0]["href"],
        "https://developer.paypal.com/docs/api/orders/v2/#error-ORDER_NOT_APPROVED"
    );
    assert!(refused.body["debug_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(refused.headers["paypal-debug-id"].to_str().unwrap(), refused.body["debug_id"].as_str().unwrap());
}

#[tokio::test]
async fn a_second_capture_is_refused_with_order_already_captured() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (order_id, _) = sandbox.captured_order(&token, "10.00").await;

    let again = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/capture"), None, &[]).await;

    assert_eq!((again.status, again.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "ORDER_ALREADY_CAPTURED"));
}

#[tokio::test]
async fn a_paypal_request_id_replay_returns_the_first_response() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order =
        json!({ "intent": "CAPTURE", "purchase_units": [{ "amount": { "currency_code": "EUR", "value": "25.00" } }] });

    let first =
        sandbox.post(&token, "/v2/checkout/orders", Some(order.clone()), &[("PayPal-Request-Id", "order-7")]).await;
    let replay =
        sandbox.post(&token, "/v2/checkout/orders", Some(order.clone()), &[("PayPal-Request-Id", "order-7")]).await;
    let other = sandbox.post(&token, "/v2/checkout/orders", Some(order), &[("PayPal-Request-Id", "order-8")]).await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!((replay.status, &replay.body), (first.status, &first.body));
    assert_ne!(other.body["id"], first.body["id"]);

    let order_id = first.body["id"].as_str().unwrap();
    sandbox.approve(order_id).await;
    let capture_path = format!("/v2/checkout/orders/{order_id}/capture");
    let captured = sandbox.post(&token, &capture_path, None, &[("PayPal-Request-Id", "capture-7")]).await;
    let recaptured = sandbox.post(&token, &capture_path, None, &[("PayPal-Request-Id", "capture-7")]).await;
    assert_eq!(captured.status, StatusCode::CREATED);
    assert_eq!((recaptured.status, &recaptured.body), (captured.status, &captured.body), "not ORDER_ALREADY_CAPTURED");

    let capture_id = captured.body["purchase_units"][0]["payments"]["captures"][0]["id"].as_str().unwrap();
    let refund_path = format!("/v2/payments/captures/{capture_id}/refund");
    let part = json!({ "amount": { "currency_code": "EUR", "value": "5.00" } });
    let refunded = sandbox.post(&token, &refund_path, Some(part.clone()), &[("PayPal-Request-Id", "refund-7")]).await;
    let replayed = sandbox.post(&token, &refund_path, Some(part), &[("PayPal-Request-Id", "refund-7")]).await;
    assert_eq!(replayed.body, refunded.body);
    let capture = sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await;
    let refund_id = refunded.body["id"].as_str().unwrap();
    let refund = sandbox.get(&token, &format!("/v2/payments/refunds/{refund_id}")).await;
    assert_eq!(capture.body["status"], "PARTIALLY_REFUNDED");
    assert_eq!(refund.body["seller_payable_breakdown"]["total_refunded_amount"]["value"], "5.00", "refunded once");
}

#[tokio::test]
async fn refund_larger_than_remaining_is_rejected_with_refund_amount_exceeded() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "50.00").await;
    let refund_path = format!("/v2/payments/captures/{capture_id}/refund");
    sandbox
        .post(&token, &refund_path, Some(json!({ "amount": { "currency_code": "USD", "value": "20.00" } })), &[])
        .await;

    let refused = sandbox
        .post(&token, &refund_path, Some(json!({ "amount": { "currency_code": "USD", "value": "30.01" } })), &[])
        .await;

    assert_eq!((refused.status, refused.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "REFUND_AMOUNT_EXCEEDED"));
    assert_eq!(
        refused.body["links"][0]["href"],
        "https://developer.paypal.com/docs/api/payments/v2/#error-REFUND_AMOUNT_EXCEEDED"
    );
    let other_currency = sandbox
        .post(&token, &refund_path, Some(json!({ "amount": { "currency_code": "EUR", "value": "1.00" } })), &[])
        .await;
    assert_eq!(other_currency.issue(), "REFUND_CAPTURE_CURRENCY_MISMATCH");
}

#[tokio::test]
async fn invalid_requests_are_refused_with_paypal_issue_names() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let unit = |currency: &str, value: &str| json!([{ "amount": { "currency_code": currency, "value": value } }]);
    let cases = [
        (json!({ "purchase_units": unit("USD", "1.00") }), 400, "MISSING_REQUIRED_PARAMETER"),
        (json!({ "intent": "CAPTURE", "purchase_units": unit("JPY", "100.50") }), 422, "DECIMAL_PRECISION"),
        (json!({ "intent": "CAPTURE", "purchase_units": unit("USD", "1.001") }), 422, "DECIMAL_PRECISION"),
        (json!({ "intent": "CAPTURE", "purchase_units": unit("KRW", "1000") }), 422, "CURRENCY_NOT_SUPPORTED"),
        (json!({ "intent": "CAPTURE", "purchase_units": unit("USD", "abc") }), 400, "INVALID_PARAMETER_SYNTAX"),
        (json!({ "intent": "PAY", "purchase_units": unit("USD", "1.00") }), 400, "INVALID_PARAMETER_VALUE"),
    ];
    for (body, status, issue) in cases {
        let refused = sandbox.post(&token, "/v2/checkout/orders", Some(body.clone()), &[]).await;
        assert_eq!((refused.status.as_u16(), refused.issue()), (status, issue), "{body}");
        let name = if status == 400 { "INVALID_REQUEST" } else { "UNPROCESSABLE_ENTITY" };
        assert_eq!(refused.body["name"], name);
    }

    let malformed = sandbox
        .http
        .post(format!("{}/v2/checkout/orders", sandbox.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"intent\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["details"][0]["issue"], "MALFORMED_REQUEST_JSON");

    let unknown = sandbox.get(&token, "/v2/checkout/orders/0000000000000000X").await;
    assert_eq!((unknown.status, unknown.body["name"].as_str()), (StatusCode::NOT_FOUND, Some("RESOURCE_NOT_FOUND")));
    let unknown_refund = sandbox.get(&token, "/v2/payments/refunds/0000000000000000X").await;
    assert_eq!(unknown_refund.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_order_naming_the_paypal_payment_source_waits_for_the_payers_action() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let source = json!({ "payment_source": { "paypal": { "experience_context": {
        "return_url": "https://shop.example/return", "cancel_url": "https://shop.example/cancel", "user_action": "PAY_NOW"
    } } } });

    let created = sandbox.create_order(&token, "12.34", source).await;

    assert_eq!(created["status"], "PAYER_ACTION_REQUIRED");
    assert_eq!(rels(&created["links"]), ["self", "payer-action"]);
    assert_eq!(created["payment_source"], json!({ "paypal": {} }));
    let order_id = created["id"].as_str().unwrap();
    let approved = sandbox.approve(order_id).await;
    assert!(approved.body["redirect_url"].as_str().unwrap().starts_with("https://shop.example/return?token="));
}

#[tokio::test]
async fn the_buyer_page_shows_the_order_and_redirects_like_paypal_checkout() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let extra = json!({ "purchase_units": [{ "description": "<b>Gift</b> & card", "amount": { "currency_code": "USD", "value": "9.99" } }],
        "application_context": { "brand_name": "Tea \"House\"", "return_url": "https://shop.example/return?cart=1", "cancel_url": "https://shop.example/cancel" } });
    let order_id = sandbox.create_order(&token, "9.99", extra).await["id"].as_str().unwrap().to_owned();

    let page = sandbox.http.get(format!("{}/checkoutnow?token={order_id}", sandbox.url)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("9.99 USD"));
    assert!(html.contains("&lt;b&gt;Gift&lt;/b&gt; &amp; card"), "description is escaped");
    assert!(html.contains("Tea &quot;House&quot;"));
    assert!(!html.contains("<b>Gift"));

    let cancelled = sandbox
        .http
        .post(format!("{}/checkoutnow/cancel", sandbox.url))
        .form(&[("token", &order_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status().as_u16(), 303);
    assert_eq!(cancelled.headers()["location"], format!("https://shop.example/cancel?token={order_id}").as_str());

    let approved = sandbox
        .http
        .post(format!("{}/checkoutnow/approve", sandbox.url))
        .form(&[("token", &order_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status().as_u16(), 303);
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    let payer_id = sandbox.running.paypal.parties().payer_id.clone();
    assert_eq!(location, format!("https://shop.example/return?cart=1&token={order_id}&PayerID={payer_id}"));
    let shown = sandbox.get(&token, &format!("/v2/checkout/orders/{order_id}")).await;
    assert_eq!(shown.body["status"], "APPROVED");
}

#[tokio::test]
async fn an_unapproved_order_is_voided_when_its_approval_window_passes() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order_id = sandbox.new_order_id(&token, "5.00").await;
    let path = format!("/v2/checkout/orders/{order_id}");

    sandbox.advance("2h59m").await;
    assert_eq!(sandbox.get(&token, &path).await.body["status"], "CREATED");
    sandbox.advance("1m").await;

    let voided = sandbox.get(&token, &path).await;
    assert_eq!(voided.body["status"], "VOIDED");
    assert_eq!(rels(&voided.body["links"]), ["self"]);
    let capture = sandbox.post(&token, &format!("{path}/capture"), None, &[]).await;
    assert_eq!(capture.issue(), "ORDER_NOT_APPROVED");
    let approve = sandbox.approve(&order_id).await;
    assert_eq!((approve.status, approve.issue()), (StatusCode::UNPROCESSABLE_ENTITY, "ORDER_EXPIRED"));
}

#[tokio::test]
async fn a_pending_capture_cannot_be_refunded_until_paypal_completes_it() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let order_id = sandbox.new_order_id(&token, "40.00").await;
    sandbox.approve(&order_id).await;
    let outcome = json!({ "status": "PENDING" });
    let set = sandbox
        .control(Method::POST, &format!("/sandbox/paypal/orders/{order_id}/capture-outcome"), Some(outcome))
        .await;
    assert_eq!(set.status, StatusCode::OK);

    let captured = sandbox.post(&token, &format!("/v2/checkout/orders/{order_id}/capture"), None, &[]).await;
    let capture = &captured.body["purchase_units"][0]["payments"]["captures"][0];
    assert_eq!(capture["status"], "PENDING");
    assert_eq!(capture["status_details"]["reason"], "PENDING_REVIEW");
    let capture_id = capture["id"].as_str().unwrap();
    let refund = sandbox.post(&token, &format!("/v2/payments/captures/{capture_id}/refund"), None, &[]).await;
    assert_eq!(refund.issue(), "PENDING_CAPTURE");

    let completed =
        sandbox.control(Method::POST, &format!("/sandbox/paypal/captures/{capture_id}/complete"), None).await;
    assert_eq!(completed.body["status"], "COMPLETED");
    let refund = sandbox.post(&token, &format!("/v2/payments/captures/{capture_id}/refund"), None, &[]).await;
    assert_eq!(refund.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_pending_refund_holds_its_amount_until_it_settles() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let (_, capture_id) = sandbox.captured_order(&token, "100.00").await;
    let outcome =
        sandbox.control(Method::PUT, "/sandbox/paypal/refund-outcome", Some(json!({ "status": "PENDING" }))).await;
    assert_eq!(outcome.status, StatusCode::OK);
    let refund_path = format!("/v2/payments/captures/{capture_id}/refund");

    let pending = sandbox
        .post(
            &token,
            &refund_path,
            Some(json!({ "amount": { "currency_code": "USD", "value": "60.00" } })),
            &[("Prefer", "return=representation")],
        )
        .await;
    assert_eq!(pending.body["status"], "PENDING");
    assert_eq!(pending.body["status_details"]["reason"], "ECHECK");
    let too_much = sandbox
        .post(&token, &refund_path, Some(json!({ "amount": { "currency_code": "USD", "value": "50.00" } })), &[])
        .await;
    assert_eq!(too_much.issue(), "REFUND_AMOUNT_EXCEEDED", "the pending 60.00 is held");

    let refund_id = pending.body["id"].as_str().unwrap();
    let settled = sandbox.control(Method::POST, &format!("/sandbox/paypal/refunds/{refund_id}/complete"), None).await;
    assert_eq!(settled.body["status"], "COMPLETED");
    let capture = sandbox.get(&token, &format!("/v2/payments/captures/{capture_id}")).await;
    assert_eq!(capture.body["status"], "PARTIALLY_REFUNDED");
}
