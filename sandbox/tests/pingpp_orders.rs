//! Orders over HTTP: create, pay through a channel, cancel, seed 004's late and double payments,
//! and order refunds with `refund_mode` and `royalty_users`.

mod common;
mod pingpp_harness;

use axum::http::StatusCode;
use common::spawn_receiver;
use pingpp_harness::{TestPingpp, spawn_pingpp};
use reqwest::Method;
use serde_json::{Value, json};

async fn pay_through_api(pingpp: &TestPingpp, order_id: &str, channel: &str, extra: Value) -> Value {
    let answer =
        pingpp.post(&format!("/v1/orders/{order_id}/pay"), json!({ "channel": channel, "extra": extra })).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

async fn buyer_pays(pingpp: &TestPingpp, order_id: &str, body: Option<Value>) -> Value {
    let answer = pingpp.control(Method::POST, &format!("/sandbox/pingpp/orders/{order_id}/pay"), body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_order_is_paid_through_a_channel_and_raises_charge_and_order_succeeded() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    let order = pingpp.create_order(990).await;
    let order_id = id(&order);

    let opened = pay_through_api(&pingpp, &order_id, "alipay_qr", json!({})).await;
    let charge_id = opened["charge"].as_str().unwrap().to_owned();
    let paid = buyer_pays(&pingpp, &order_id, None).await;
    let delivered = receiver.wait_for_type("order.succeeded").await.json();

    assert_eq!(order["object"], "order");
    assert_eq!(order["status"], "created");
    assert_eq!(order_id.len(), 19);
    assert!(opened["charge_essentials"]["credential"]["alipay_qr"].is_string());
    assert_eq!(opened["charge_essentials"]["channel"], "alipay_qr");
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid"], true);
    assert_eq!(paid["amount_paid"], 990);
    assert_eq!(delivered["data"]["object"]["id"], order_id.as_str());
    receiver.wait_for_type("charge.succeeded").await;
    let charges = pingpp.get(&format!("/v1/orders/{order_id}/charges")).await;
    assert_eq!(charges.body["data"][0]["id"], charge_id.as_str());
    let charge = pingpp.get(&format!("/v1/orders/{order_id}/charges/{charge_id}")).await;
    assert_eq!(charge.body["paid"], true);
    assert_eq!(charge.body["order_no"], order["merchant_order_no"]);
}

#[tokio::test]
async fn an_unpaid_order_is_canceled_and_then_refuses_payment_through_the_api() {
    let pingpp = spawn_pingpp().await;
    let order_id = id(&pingpp.create_order(100).await);

    let canceled = pingpp.put(&format!("/v1/orders/{order_id}"), json!({ "status": "canceled" })).await;
    let pay = pingpp.post(&format!("/v1/orders/{order_id}/pay"), json!({ "channel": "alipay_qr" })).await;

    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.body);
    assert_eq!(canceled.body["status"], "canceled");
    assert_eq!(pay.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_order_can_only_be_updated_to_canceled_and_not_once_paid() {
    let pingpp = spawn_pingpp().await;
    let order_id = id(&pingpp.create_order(100).await);
    pay_through_api(&pingpp, &order_id, "wx", json!({})).await;
    buyer_pays(&pingpp, &order_id, None).await;

    let other_status = pingpp.put(&format!("/v1/orders/{order_id}"), json!({ "status": "paid" })).await;
    let cancel = pingpp.put(&format!("/v1/orders/{order_id}"), json!({ "status": "canceled" })).await;

    assert_eq!(other_status.param(), "status");
    assert_eq!(cancel.status, StatusCode::BAD_REQUEST);
    assert_eq!(pingpp.get(&format!("/v1/orders/{order_id}")).await.body["status"], "paid");
}

#[tokio::test]
async fn an_order_paid_after_it_was_canceled_stays_canceled_with_paid_true() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    let order_id = id(&pingpp.create_order(100).await);
    pay_through_api(&pingpp, &order_id, "alipay_wap", json!({ "success_url": "https://s.example/ok" })).await;
    pingpp.put(&format!("/v1/orders/{order_id}"), json!({ "status": "canceled" })).await;

    // The buyer had the Alipay page open and completes the payment anyway.
    let order = buyer_pays(&pingpp, &order_id, None).await;

    assert_eq!(order["status"], "canceled");
    assert_eq!(order["paid"], true);
    assert_eq!(order["amount_paid"], order["actual_amount"]);
    let event = receiver.wait_for_type("order.succeeded").await.json();
    assert_eq!(event["data"]["object"]["status"], "canceled");
}

#[tokio::test]
async fn an_order_paid_through_two_channels_shows_amount_paid_above_actual_amount_and_refunds_both() {
    let pingpp = spawn_pingpp().await;
    let order_id = id(&pingpp.create_order(300).await);
    pay_through_api(&pingpp, &order_id, "alipay", json!({})).await;
    pay_through_api(&pingpp, &order_id, "wx", json!({})).await;

    // The buyer opened Alipay, then WeChat, and completed both.
    let charges = pingpp.get(&format!("/v1/orders/{order_id}/charges")).await.body;
    for charge in charges["data"].as_array().unwrap() {
        pingpp.pay_charge(charge["id"].as_str().unwrap()).await;
    }
    let order = pingpp.get(&format!("/v1/orders/{order_id}")).await.body;
    let refunds =
        pingpp.post(&format!("/v1/orders/{order_id}/order_refunds"), json!({ "description": "paid twice" })).await;

    assert_eq!(order["status"], "paid");
    assert_eq!(order["amount_paid"], 600);
    assert_eq!(order["actual_amount"], 300);
    assert_eq!(refunds.status, StatusCode::OK, "{}", refunds.body);
    assert_eq!(refunds.body["object"], "list");
    let data = refunds.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "one refund per paid charge");
    assert!(data.iter().all(|refund| refund["amount"] == 300));
}

#[tokio::test]
async fn the_buyer_can_pay_a_second_channel_through_the_control_endpoint() {
    let pingpp = spawn_pingpp().await;
    let order_id = id(&pingpp.create_order(300).await);
    pay_through_api(&pingpp, &order_id, "alipay_qr", json!({})).await;
    buyer_pays(&pingpp, &order_id, None).await;

    let twice = buyer_pays(&pingpp, &order_id, Some(json!({ "channel": "wx_pub" }))).await;

    assert_eq!(twice["amount_paid"], 600);
    assert_eq!(twice["charges"]["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_order_refund_with_refund_mode_and_royalty_users_answers_a_list_of_refunds() {
    let pingpp = spawn_pingpp().await;
    let receiver = spawn_receiver().await;
    pingpp.subscribe(&receiver.url).await;
    let order_id = id(&pingpp.create_order(1000).await);
    let opened = pay_through_api(&pingpp, &order_id, "wx_pub_qr", json!({ "product_id": "P" })).await;
    let charge_id = opened["charge"].as_str().unwrap().to_owned();
    buyer_pays(&pingpp, &order_id, None).await;

    let partial = pingpp
        .post(
            &format!("/v1/orders/{order_id}/order_refunds"),
            json!({
                "charge": charge_id,
                "charge_amount": 400,
                "description": "partial",
                "refund_mode": "to_source",
                "funding_source": "unsettled_funds",
                "metadata": { "reason": "damaged" },
                "royalty_users": [{ "user": "u1", "amount_refunded": 10 }],
            }),
        )
        .await;
    let to_balance = pingpp
        .post(
            &format!("/v1/orders/{order_id}/order_refunds"),
            json!({ "description": "the rest", "refund_mode": "to_balance" }),
        )
        .await;
    pingpp.advance("1m").await;
    receiver.wait_for_type("order.refunded").await;

    assert_eq!(partial.status, StatusCode::OK, "{}", partial.body);
    assert_eq!(partial.body["url"], format!("/v1/orders/{order_id}/order_refunds"));
    let first = &partial.body["data"][0];
    assert_eq!(first["amount"], 400);
    assert_eq!(first["status"], "pending");
    assert_eq!(first["refund_mode"], "to_source");
    assert_eq!(first["funding_source"], "unsettled_funds");
    assert_eq!(first["royalty_users"], json!([{ "user": "u1", "amount_refunded": 10 }]));
    assert_eq!(first["metadata"]["reason"], "damaged");
    assert_eq!(to_balance.status, StatusCode::OK, "{}", to_balance.body);
    assert_eq!(to_balance.body["data"][0]["amount"], 600);
    assert_eq!(to_balance.body["data"][0]["status"], "succeeded", "to the balance at once");
    let listed = pingpp.get(&format!("/v1/orders/{order_id}/order_refunds")).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let one = pingpp.get(&format!("/v1/orders/{order_id}/order_refunds/{}", first["id"].as_str().unwrap())).await;
    assert_eq!(one.body["status"], "succeeded");
    let order = pingpp.get(&format!("/v1/orders/{order_id}")).await.body;
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refunded"], true);
    assert_eq!(order["amount_refunded"], 1000);
}

#[tokio::test]
async fn order_refunds_refuse_bad_parameters_by_name() {
    let pingpp = spawn_pingpp().await;
    let order_id = id(&pingpp.create_order(100).await);
    let unpaid = pingpp.post(&format!("/v1/orders/{order_id}/order_refunds"), json!({ "description": "x" })).await;
    pay_through_api(&pingpp, &order_id, "alipay", json!({})).await;
    buyer_pays(&pingpp, &order_id, None).await;
    let path = format!("/v1/orders/{order_id}/order_refunds");

    let cases = [
        (json!({ "description": "x", "charge_amount": 10 }), "charge_amount"),
        (json!({ "description": "x", "refund_mode": "to_card" }), "refund_mode"),
        (json!({}), "description"),
        (json!({ "description": "x", "royalty_users": [{ "user": "u", "amount_refunded": 101 }] }), "royalty_users"),
        (json!({ "description": "x", "charge": "ch_elsewhere" }), "charge"),
        (json!({ "description": "x", "funding_source": "recharge_funds" }), "funding_source"),
    ];

    assert_eq!(unpaid.status, StatusCode::BAD_REQUEST);
    for (body, param) in cases {
        let answer = pingpp.post(&path, body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.param(), param, "{body}: {}", answer.body);
    }
}

#[tokio::test]
async fn an_orders_charges_are_refused_on_the_charge_paths() {
    let pingpp = spawn_pingpp().await;
    let order_id = id(&pingpp.create_order(100).await);
    let charge_id =
        pay_through_api(&pingpp, &order_id, "alipay_qr", json!({})).await["charge"].as_str().unwrap().to_owned();
    buyer_pays(&pingpp, &order_id, None).await;

    let shown = pingpp.get(&format!("/v1/charges/{charge_id}")).await;
    let refund = pingpp.post(&format!("/v1/charges/{charge_id}/refunds"), json!({ "description": "x" })).await;

    assert_eq!(shown.status, StatusCode::BAD_REQUEST);
    assert!(shown.message().contains(&order_id), "{}", shown.body);
    assert_eq!(refund.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unpaid_order_is_canceled_when_it_expires() {
    let pingpp = spawn_pingpp().await;
    let order_id = id(&pingpp.create_order(100).await);
    pay_through_api(&pingpp, &order_id, "wx_pub_qr", json!({ "product_id": "P" })).await;

    pingpp.advance("25h").await;
    let expired = pingpp.get(&format!("/v1/orders/{order_id}")).await.body;
    let late = buyer_pays(&pingpp, &order_id, None).await;

    assert_eq!(expired["status"], "canceled");
    assert_eq!(late["status"], "canceled", "a late payment does not revive it");
    assert_eq!(late["paid"], true);
}

#[tokio::test]
async fn orders_list_newest_first_and_filter_by_status() {
    let pingpp = spawn_pingpp().await;
    let first = id(&pingpp.create_order(100).await);
    let second = id(&pingpp.create_order(200).await);
    pingpp.put(&format!("/v1/orders/{first}"), json!({ "status": "canceled" })).await;

    let all = pingpp.get(&format!("/v1/orders?app={}", payhub_sandbox::SANDBOX_PINGPP_APP_ID)).await;
    let canceled = pingpp.get("/v1/orders?status=canceled").await;

    assert_eq!(all.body["data"][0]["id"], second.as_str());
    assert_eq!(all.body["data"][1]["id"], first.as_str());
    let canceled_ids: Vec<&Value> = canceled.body["data"].as_array().unwrap().iter().map(|o| &o["id"]).collect();
    assert_eq!(canceled_ids, vec![&json!(first)]);
}

#[tokio::test]
async fn an_order_needs_its_required_fields_and_a_fresh_merchant_order_no() {
    let pingpp = spawn_pingpp().await;
    let base = json!({
        "app": payhub_sandbox::SANDBOX_PINGPP_APP_ID, "merchant_order_no": "M1",
        "amount": 100, "subject": "s", "body": "b",
    });
    for field in ["app", "merchant_order_no", "amount", "subject", "body"] {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(field);
        let answer = pingpp.post("/v1/orders", body).await;
        assert_eq!(answer.param(), field);
    }
    let mut usd = base.clone();
    usd["currency"] = json!("usd");
    assert_eq!(pingpp.post("/v1/orders", usd).await.param(), "currency");

    assert_eq!(pingpp.post("/v1/orders", base.clone()).await.status, StatusCode::OK);
    let again = pingpp.post("/v1/orders", base).await;
    assert_eq!(again.param(), "merchant_order_no");
}
