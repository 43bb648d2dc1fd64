//! REST v1 payments and IPN: create, approve, execute, refund through the v1 API; IPN messages in
//! the account's charset, resent until answered 200, and judged by the postback on their exact
//! bytes; PDT.

mod common;
mod paypal_harness;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use common::spawn_receiver;
use paypal_harness::{TestSandbox, coffee_payment, spawn_sandbox};

/// A v1 payment created, approved by the buyer and executed; returns (payment, sale id).
async fn executed_payment(sandbox: &TestSandbox, token: &str, notify_url: Option<&str>) -> (Value, String) {
    let created = sandbox.post(token, "/v1/payments/payment", Some(coffee_payment(notify_url)), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let approved = sandbox.control(Method::POST, &format!("/sandbox/paypal/payments/{id}/approve"), None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let payer_id = approved.body["payer_id"].as_str().unwrap().to_owned();
    let executed = sandbox
        .post(token, &format!("/v1/payments/payment/{id}/execute"), Some(json!({ "payer_id": payer_id })), &[])
        .await;
    assert_eq!(executed.status, StatusCode::OK, "{}", executed.body);
    let sale_id = executed.body["transactions"][0]["related_resources"][0]["sale"]["id"].as_str().unwrap().to_owned();
    (executed.body, sale_id)
}

#[tokio::test]
async fn a_v1_payment_is_approved_on_the_buyer_page_link_and_executed_into_a_completed_sale() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let created = sandbox.post(&token, "/v1/payments/payment", Some(coffee_payment(None)), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["state"], "created");
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("PAY-"), "{id}");
    let links = created.body["links"].as_array().unwrap();
    let approval_url = links.iter().find(|link| link["rel"] == "approval_url").unwrap()["href"].as_str().unwrap();
    assert!(approval_url.starts_with(&format!("{}/cgi-bin/webscr?cmd=_express-checkout&token=EC-", sandbox.url)));

    let early = sandbox
        .post(&token, &format!("/v1/payments/payment/{id}/execute"), Some(json!({ "payer_id": "X" })), &[])
        .await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST);
    assert_eq!(early.body["name"], "PAYMENT_NOT_APPROVED_FOR_EXECUTION");
    assert!(early.body["information_link"].as_str().unwrap().contains("/payments/v1/"), "{}", early.body);
    assert!(early.body["debug_id"].is_string());

    let page = sandbox.http.get(approval_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("研磨咖啡 40 oz"), "{page}");
    let ec_token = approval_url.rsplit('=').next().unwrap();
    let decided = sandbox
        .http
        .post(format!("{}/cgi-bin/webscr", sandbox.url))
        .form(&[("cmd", "_express-checkout-approve"), ("token", ec_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    let location = url::Url::parse(decided.headers()["location"].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["paymentId"], id);
    assert_eq!(query["token"], ec_token);

    let executed = sandbox
        .post(&token, &format!("/v1/payments/payment/{id}/execute"), Some(json!({ "payer_id": query["PayerID"] })), &[])
        .await;
    assert_eq!(executed.status, StatusCode::OK, "{}", executed.body);
    assert_eq!(executed.body["state"], "approved");
    let sale = &executed.body["transactions"][0]["related_resources"][0]["sale"];
    assert_eq!(sale["state"], "completed");
    assert_eq!(sale["parent_payment"], id);
    assert_eq!(sale["amount"]["total"], "20.00");

    let again = sandbox
        .post(&token, &format!("/v1/payments/payment/{id}/execute"), Some(json!({ "payer_id": query["PayerID"] })), &[])
        .await;
    assert_eq!(again.body["name"], "PAYMENT_ALREADY_DONE");
    let listed = sandbox.get(&token, "/v1/payments/payment?count=5").await;
    assert_eq!(listed.body["payments"][0]["id"], id);
    let events = sandbox.get(&token, "/v1/notifications/webhooks-events").await;
    let types: Vec<&str> =
        events.body["events"].as_array().unwrap().iter().filter_map(|e| e["event_type"].as_str()).collect();
    assert!(types.contains(&"PAYMENTS.PAYMENT.CREATED") && types.contains(&"PAYMENT.SALE.COMPLETED"), "{types:?}");
}

#[tokio::test]
async fn amounts_that_do_not_add_up_are_refused_in_the_v1_error_shape() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let mut body = coffee_payment(None);
    body["transactions"][0]["amount"]["details"]["tax"] = json!("9.99");
    let refused = sandbox.post(&token, "/v1/payments/payment", Some(body), &[]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["name"], "VALIDATION_ERROR");
    assert_eq!(refused.body["details"][0]["field"], "transactions[0].amount.details");
}

#[tokio::test]
async fn partial_and_full_sale_refunds_answer_a_replay_with_200_and_send_refunded_ipn() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    let (_, sale_id) = executed_payment(&sandbox, &token, Some(&receiver.url)).await;
    let path = format!("/v1/payments/sale/{sale_id}/refund");
    let partial = json!({ "amount": { "total": "5.00", "currency": "USD" } });
    let headers = [("PayPal-Request-Id", "refund-1")];
    let first = sandbox.post(&token, &path, Some(partial.clone()), &headers).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let replay = sandbox.post(&token, &path, Some(partial), &headers).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body["id"], first.body["id"]);
    let rest = sandbox.post(&token, &path, Some(json!({})), &[]).await;
    assert_eq!(rest.body["amount"]["total"], "15.00");
    let sale = sandbox.get(&token, &format!("/v1/payments/sale/{sale_id}")).await;
    assert_eq!(sale.body["state"], "refunded");
    let refund = sandbox.get(&token, &format!("/v1/payments/refund/{}", first.body["id"].as_str().unwrap())).await;
    assert_eq!(refund.body["sale_id"], sale_id.as_str());

    let received = receiver.wait_for(3).await;
    let statuses: Vec<String> = received.iter().map(|message| field(&message.body, "payment_status")).collect();
    assert_eq!(statuses, ["Completed", "Refunded", "Refunded"]);
    assert_eq!(field(&received[1].body, "mc_gross"), "-5.00");
    assert_eq!(field(&received[1].body, "parent_txn_id"), sale_id);
    assert_eq!(received[1].header("content-type"), "application/x-www-form-urlencoded");
}

/// A field of a UTF-8 or ASCII form body.
fn field(body: &[u8], name: &str) -> String {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn ipn_is_sent_in_the_account_charset_and_only_its_exact_bytes_are_verified() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    let settings = json!({ "notify_url": receiver.url, "charset": "gb2312" });
    let set = sandbox.control(Method::PUT, "/sandbox/paypal/ipn", Some(settings)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let (_, sale_id) = executed_payment(&sandbox, &token, None).await;
    let message = receiver.wait_for(1).await.remove(0);
    let body = message.body.to_vec();
    assert_eq!(field(&body, "charset"), "gb2312");
    assert_eq!(field(&body, "test_ipn"), "1");
    let raw_name = url::form_urlencoded::parse(&body).find(|(key, _)| key == "item_name1").unwrap();
    assert_ne!(raw_name.1, "研磨咖啡 40 oz", "the bytes are gb2312, not UTF-8");
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = body
        .split(|&b| b == b'&')
        .map(|pair| {
            let (key, value) = pair.split_at(pair.iter().position(|&b| b == b'=').unwrap());
            (key.to_vec(), percent_decode(&value[1..]))
        })
        .collect();
    let item = &pairs.iter().find(|(key, _)| key == b"item_name1").unwrap().1;
    let (decoded, _, malformed) = encoding_rs::GBK.decode(item);
    assert!(!malformed);
    assert_eq!(decoded, "研磨咖啡 40 oz");
    assert_eq!(field(&body, "txn_id"), sale_id);

    let postback = |bytes: Vec<u8>| {
        let http = sandbox.http.clone();
        let url = format!("{}/cgi-bin/webscr", sandbox.url);
        async move { http.post(url).body(bytes).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(postback([b"cmd=_notify-validate&".as_slice(), &body].concat()).await, "VERIFIED");
    let mut altered = body.clone();
    let at = altered.windows(9).position(|w| w == b"mc_gross=").unwrap() + 9;
    altered[at] = b'9';
    assert_eq!(postback([b"cmd=_notify-validate&".as_slice(), &altered].concat()).await, "INVALID");
    assert_eq!(postback(b"cmd=_notify-validate&txn_id=FORGED&payment_status=Completed".to_vec()).await, "INVALID");

    let identity = sandbox.control(Method::GET, "/sandbox/paypal/ipn", None).await.body["pdt_identity_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let pdt = postback(format!("cmd=_notify-synch&tx={sale_id}&at={identity}").into_bytes()).await;
    assert!(pdt.starts_with("SUCCESS\n"), "{pdt}");
    assert!(pdt.contains("payment_status=Completed"), "{pdt}");
    let wrong = postback(format!("cmd=_notify-synch&tx={sale_id}&at=WRONG").into_bytes()).await;
    assert!(wrong.starts_with("FAIL"), "{wrong}");
}

fn percent_decode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(std::str::from_utf8(&value[i + 1..i + 3]).unwrap(), 16).unwrap());
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

#[tokio::test]
async fn an_unanswered_ipn_is_resent_on_the_clock_until_it_gets_a_200() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    receiver.answer_with(503);
    let (_, _) = executed_payment(&sandbox, &token, Some(&receiver.url)).await;
    receiver.wait_for(1).await;
    receiver.answer_with(200);
    sandbox.advance("1m").await;
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].body, received[1].body, "a resend carries the same bytes");
    sandbox.advance("10m").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 2, "answered 200, so no more resends");
    let history = sandbox.control(Method::GET, "/sandbox/paypal/ipn/history", None).await;
    let deliveries = history.body["messages"][0]["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0]["status_code"], 503);
}

#[tokio::test]
async fn a_reversal_for_an_unauthorized_claim_sends_reversed_then_canceled_reversal() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let receiver = spawn_receiver().await;
    let (_, sale_id) = executed_payment(&sandbox, &token, Some(&receiver.url)).await;
    let reverse = json!({ "reason_code": "unauthorized_claim" });
    let reversed =
        sandbox.control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/reverse"), Some(reverse)).await;
    assert_eq!(reversed.status, StatusCode::CREATED, "{}", reversed.body);
    let refused = sandbox.post(&token, &format!("/v1/payments/sale/{sale_id}/refund"), Some(json!({})), &[]).await;
    assert_eq!(refused.body["name"], "TRANSACTION_REFUSED");
    let canceled =
        sandbox.control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/cancel-reversal"), None).await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.body);
    let received = receiver.wait_for(3).await;
    assert_eq!(field(&received[1].body, "payment_status"), "Reversed");
    assert_eq!(field(&received[1].body, "reason_code"), "unauthorized_claim");
    assert_eq!(field(&received[1].body, "mc_gross"), "-20.00");
    assert_eq!(field(&received[2].body, "payment_status"), "Canceled_Reversal");
}

/// A webhook delivery checked by PayPal's own verification call; returns its event.
async fn verified_event(sandbox: &TestSandbox, token: &str, delivery: &common::Received, webhook_id: &str) -> Value {
    let request = delivery.verification_request(delivery.json(), webhook_id);
    let verdict = sandbox.post(token, "/v1/notifications/verify-webhook-signature", Some(request), &[]).await;
    assert_eq!(verdict.body["verification_status"], "SUCCESS", "{}", verdict.body);
    delivery.json()
}

#[tokio::test]
async fn an_authorize_payment_executes_into_an_authorization_announced_by_a_signed_webhook() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let hooks = spawn_receiver().await;
    let webhook_id = sandbox.subscribe(&token, &hooks.url, &["PAYMENT.AUTHORIZATION.CREATED"]).await;
    let mut body = coffee_payment(None);
    body["intent"] = json!("authorize");
    let created = sandbox.post(&token, "/v1/payments/payment", Some(body), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["intent"], "authorize");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let approved = sandbox.control(Method::POST, &format!("/sandbox/paypal/payments/{id}/approve"), None).await;
    let execute = json!({ "payer_id": approved.body["payer_id"] });
    let executed = sandbox.post(&token, &format!("/v1/payments/payment/{id}/execute"), Some(execute), &[]).await;
    assert_eq!(executed.status, StatusCode::OK, "{}", executed.body);
    assert_eq!(executed.body["state"], "approved");
    let related = &executed.body["transactions"][0]["related_resources"];
    assert_eq!(related.as_array().unwrap().len(), 1, "an authorization and no sale: {related}");
    let authorization = &related[0]["authorization"];
    assert_eq!(authorization["state"], "authorized");
    assert_eq!(authorization["parent_payment"], id.as_str());
    assert_eq!(authorization["amount"]["total"], "20.00");
    assert!(authorization["valid_until"].is_string());

    let authorization_id = authorization["id"].as_str().unwrap();
    let shown = sandbox.get(&token, &format!("/v1/payments/authorization/{authorization_id}")).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(&shown.body, authorization);
    let unknown = sandbox.get(&token, "/v1/payments/authorization/4T3K7A2B9C").await;
    assert_eq!((unknown.status, unknown.body["name"].as_str()), (StatusCode::NOT_FOUND, Some("INVALID_RESOURCE_ID")));

    let delivery = hooks.wait_for(1).await.remove(0);
    let event = verified_event(&sandbox, &token, &delivery, &webhook_id).await;
    assert_eq!(event["event_type"], "PAYMENT.AUTHORIZATION.CREATED");
    assert_eq!(event["resource_type"], "authorization");
    assert_eq!(event["resource"]["id"], authorization_id);
}

#[tokio::test]
async fn a_pending_sale_carries_its_reason_and_a_failed_one_is_denied_with_signed_webhooks_and_ipn() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.token().await;
    let hooks = spawn_receiver().await;
    let ipn = spawn_receiver().await;
    let webhook_id = sandbox.subscribe(&token, &hooks.url, &["PAYMENT.SALE.PENDING", "PAYMENT.SALE.DENIED"]).await;
    let created = sandbox.post(&token, "/v1/payments/payment", Some(coffee_payment(Some(&ipn.url))), &[]).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let outcome = format!("/sandbox/paypal/payments/{id}/sale-outcome");
    let unknown =
        sandbox.control(Method::POST, &outcome, Some(json!({ "state": "pending", "pending_reason": "x" }))).await;
    assert_eq!((unknown.status, unknown.body["name"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")));
    assert_eq!(unknown.body["details"][0]["field"], "pending_reason");
    let chosen =
        sandbox.control(Method::POST, &outcome, Some(json!({ "state": "pending", "pending_reason": "echeck" }))).await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.body);
    assert_eq!(chosen.body["pending_reason"], "echeck");

    let approved = sandbox.control(Method::POST, &format!("/sandbox/paypal/payments/{id}/approve"), None).await;
    let execute = json!({ "payer_id": approved.body["payer_id"] });
    let executed = sandbox.post(&token, &format!("/v1/payments/payment/{id}/execute"), Some(execute), &[]).await;
    let sale = &executed.body["transactions"][0]["related_resources"][0]["sale"];
    assert_eq!((sale["state"].as_str(), sale["reason_code"].as_str()), (Some("pending"), Some("ECHECK")));
    let sale_id = sale["id"].as_str().unwrap().to_owned();
    let pending = verified_event(&sandbox, &token, &hooks.wait_for(1).await[0], &webhook_id).await;
    assert_eq!(pending["event_type"], "PAYMENT.SALE.PENDING");
    assert_eq!(pending["resource"]["reason_code"], "ECHECK");
    let notice = ipn.wait_for(1).await.remove(0);
    assert_eq!(field(&notice.body, "payment_status"), "Pending");
    assert_eq!(field(&notice.body, "pending_reason"), "echeck");

    let failed = sandbox.control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/fail"), None).await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.body);
    assert_eq!(failed.body["state"], "denied");
    assert!(failed.body.get("reason_code").is_none(), "{}", failed.body);
    let denied = verified_event(&sandbox, &token, &hooks.wait_for(2).await[1], &webhook_id).await;
    assert_eq!(denied["event_type"], "PAYMENT.SALE.DENIED");
    assert_eq!(denied["resource"]["id"], sale_id.as_str());
    let notice = ipn.wait_for(2).await.remove(1);
    assert_eq!(field(&notice.body, "payment_status"), "Failed");
    assert_eq!(field(&notice.body, "txn_id"), sale_id);
    let again = sandbox.control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/fail"), None).await;
    assert_eq!(again.body["name"], "TRANSACTION_REFUSED");
}
