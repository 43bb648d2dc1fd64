//! Charges over HTTP: credentials per channel family, validation in Ping++'s error shape,
//! authentication, request signing, lists and faults.

mod common;
mod pingpp_harness;

use axum::http::StatusCode;
use payhub_sandbox::{SANDBOX_PINGPP_APP_ID, SANDBOX_PINGPP_SECRET_KEY, pingpp_merchant_public_key_pem};
use pingpp_harness::{Auth, TestPingpp, charge_request, spawn_pingpp};
use reqwest::Method;
use serde_json::{Value, json};

fn credential<'a>(charge: &'a Value, channel: &str) -> &'a Value {
    assert_eq!(charge["credential"]["object"], "credential", "{charge}");
    &charge["credential"][channel]
}

#[tokio::test]
async fn qr_charges_carry_a_bare_link_the_merchant_renders_as_a_qr_code_itself() {
    let pingpp = spawn_pingpp().await;

    let alipay = pingpp.create_charge("alipay_qr", 100, json!({})).await;
    let wechat = pingpp.create_charge("wx_pub_qr", 100, json!({ "product_id": "P1" })).await;

    let alipay_link = credential(&alipay, "alipay_qr").as_str().unwrap();
    assert!(alipay_link.starts_with("https://qr.alipay.com/"), "{alipay_link}");
    let wechat_link = credential(&wechat, "wx_pub_qr").as_str().unwrap();
    assert!(wechat_link.starts_with("weixin://wxpay/bizpayurl?pr="), "{wechat_link}");
    for charge in [&alipay, &wechat] {
        assert!(charge["id"].as_str().unwrap().starts_with("ch_"));
        assert_eq!(charge["object"], "charge");
        assert_eq!(charge["paid"], false);
        assert_eq!(charge["livemode"], false);
        assert_eq!(charge["currency"], "cny");
        assert_eq!(charge["app"], SANDBOX_PINGPP_APP_ID);
        assert_eq!(charge["time_paid"], Value::Null);
        assert_eq!(charge["refunds"]["object"], "list");
    }
}

#[tokio::test]
async fn app_channels_carry_what_the_native_sdks_pay_with() {
    let pingpp = spawn_pingpp().await;

    let alipay = pingpp.create_charge("alipay", 100, json!({})).await;
    let wechat = pingpp.create_charge("wx", 100, json!({})).await;
    let unionpay = pingpp.create_charge("upacp", 100, json!({})).await;

    assert!(credential(&alipay, "alipay")["orderInfo"].is_string());
    let wx = credential(&wechat, "wx");
    for field in ["appId", "partnerId", "prepayId", "nonceStr", "timeStamp", "sign"] {
        assert!(!wx[field].is_null(), "wx credential lacks {field}: {wx}");
    }
    assert_eq!(wx["packageValue"], "Sign=WXPay");
    assert!(credential(&unionpay, "upacp")["tn"].is_string());
}

#[tokio::test]
async fn web_channels_carry_the_payment_page_form_or_link() {
    let pingpp = spawn_pingpp().await;
    let success_url = "https://shop.example/paid";

    let alipay_wap = pingpp.create_charge("alipay_wap", 100, json!({ "success_url": success_url })).await;
    let alipay_pc = pingpp.create_charge("alipay_pc_direct", 100, json!({ "success_url": success_url })).await;
    let upacp_wap = pingpp.create_charge("upacp_wap", 100, json!({ "result_url": success_url })).await;
    let upacp_pc = pingpp.create_charge("upacp_pc", 100, json!({ "result_url": success_url })).await;
    let wx_wap = pingpp.create_charge("wx_wap", 100, json!({})).await;
    let wx_pub = pingpp.create_charge("wx_pub", 100, json!({ "open_id": "o-buyer" })).await;
    let wx_lite = pingpp.create_charge("wx_lite", 100, json!({ "open_id": "o-buyer" })).await;

    for (charge, channel) in [(&alipay_wap, "alipay_wap"), (&alipay_pc, "alipay_pc_direct")] {
        let form = credential(charge, channel);
        assert_eq!(form["channel_url"], "https://mapi.alipay.com/gateway.do");
        assert_eq!(form["return_url"], success_url);
        assert_eq!(form["total_fee"], "1.00");
    }
    for (charge, channel) in [(&upacp_wap, "upacp_wap"), (&upacp_pc, "upacp_pc")] {
        let form = credential(charge, channel);
        assert_eq!(form["frontUrl"], success_url);
        assert_eq!(form["txnAmt"], "100");
    }
    let wap_link = credential(&wx_wap, "wx_wap").as_str().unwrap();
    assert!(wap_link.starts_with("https://wx.tenpay.com/"), "{wap_link}");
    for (charge, channel) in [(&wx_pub, "wx_pub"), (&wx_lite, "wx_lite")] {
        let jsapi = credential(charge, channel);
        for field in ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"] {
            assert!(jsapi[field].is_string(), "{channel} credential lacks {field}: {jsapi}");
        }
    }
}

#[tokio::test]
async fn a_balance_charge_is_paid_when_created() {
    let pingpp = spawn_pingpp().await;

    let charge = pingpp.create_charge("balance", 100, json!({ "user": "user_001" })).await;

    assert_eq!(charge["paid"], true);
    assert!(charge["transaction_no"].is_string());
}

#[tokio::test]
async fn an_unknown_channel_is_refused_naming_channel() {
    let pingpp = spawn_pingpp().await;

    let answer = pingpp.post("/v1/charges", charge_request("paypal", 100, json!({}))).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_type(), "invalid_request_error");
    assert_eq!(answer.param(), "channel");
}

#[tokio::test]
async fn a_currency_other_than_cny_is_refused_naming_currency() {
    let pingpp = spawn_pingpp().await;
    let mut request = charge_request("alipay_qr", 100, json!({}));
    request["currency"] = json!("usd");

    let answer = pingpp.post("/v1/charges", request).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_type(), "invalid_request_error");
    assert_eq!(answer.param(), "currency");
}

#[tokio::test]
async fn a_channel_without_its_required_extra_is_refused_naming_the_extra_field() {
    let pingpp = spawn_pingpp().await;

    for (channel, field) in [
        ("wx_pub", "extra[open_id]"),
        ("wx_lite", "extra[open_id]"),
        ("alipay_wap", "extra[success_url]"),
        ("alipay_pc_direct", "extra[success_url]"),
        ("wx_pub_qr", "extra[product_id]"),
        ("upacp_wap", "extra[result_url]"),
        ("balance", "extra[user]"),
    ] {
        let answer = pingpp.post("/v1/charges", charge_request(channel, 100, json!({}))).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{channel}");
        assert_eq!(answer.param(), field, "{channel}: {}", answer.body);
    }
}

#[tokio::test]
async fn a_non_positive_or_fractional_amount_is_refused_naming_amount() {
    let pingpp = spawn_pingpp().await;

    for amount in [json!(0), json!(-5), json!(1.5), json!("100")] {
        let mut request = charge_request("alipay_qr", 1, json!({}));
        request["amount"] = amount.clone();
        let answer = pingpp.post("/v1/charges", request).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{amount}");
        assert_eq!(answer.param(), "amount", "{amount}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_invalid_request() {
    let pingpp = spawn_pingpp().await;

    let response = pingpp
        .http
        .post(format!("{}/v1/charges", pingpp.url))
        .bearer_auth(SANDBOX_PINGPP_SECRET_KEY)
        .header("content-type", "application/json")
        .body("{\"order_no\": ")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();

    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn the_secret_key_is_accepted_as_bearer_and_as_basic_user_with_empty_password() {
    let pingpp = spawn_pingpp().await;
    let id = pingpp.create_charge("alipay_qr", 100, json!({})).await["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/charges/{id}");

    for auth in [Auth::Bearer(SANDBOX_PINGPP_SECRET_KEY), Auth::Basic(SANDBOX_PINGPP_SECRET_KEY)] {
        let answer = pingpp.call(Method::GET, &path, None, auth, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.id(), id);
    }
}

#[tokio::test]
async fn a_wrong_or_missing_secret_key_is_answered_401_in_ping_plus_plus_shape() {
    let pingpp = spawn_pingpp().await;

    for auth in
        [Auth::Bearer("sk_test_wrongwrongwrongwrongwron"), Auth::Basic("sk_live_wrongwrongwrongwrongwron"), Auth::None]
    {
        let answer = pingpp.call(Method::GET, "/v1/charges?app[id]=x", None, auth, &[]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.error_type(), "invalid_request_error");
        assert!(answer.message().contains("API KEY"), "{}", answer.body);
    }
}

#[tokio::test]
async fn an_unknown_charge_is_404() {
    let pingpp = spawn_pingpp().await;

    let answer = pingpp.get("/v1/charges/ch_doesnotexist0000000000000").await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.error_type(), "invalid_request_error");
}

#[tokio::test]
async fn listing_charges_requires_app_id() {
    let pingpp = spawn_pingpp().await;

    let answer = pingpp.get("/v1/charges?limit=3").await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.param(), "app[id]");
}

#[tokio::test]
async fn charges_list_newest_first_with_cursors_and_the_paid_filter() {
    let pingpp = spawn_pingpp().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(pingpp.create_charge("alipay_qr", 100, json!({})).await["id"].clone());
    }
    pingpp.pay_charge(ids[0].as_str().unwrap()).await;
    let base = format!("/v1/charges?app%5Bid%5D={SANDBOX_PINGPP_APP_ID}");

    let first = pingpp.get(&format!("{base}&limit=2")).await;
    let after = first.body["data"][1]["id"].as_str().unwrap().to_owned();
    let second = pingpp.get(&format!("{base}&limit=2&starting_after={after}")).await;
    let paid = pingpp.get(&format!("{base}&paid=true")).await;

    assert_eq!(first.body["object"], "list");
    assert_eq!(first.body["url"], "/v1/charges");
    assert_eq!(first.body["has_more"], true);
    assert_eq!(first.body["data"][0]["id"], ids[2]);
    assert_eq!(first.body["data"][1]["id"], ids[1]);
    assert_eq!(second.body["data"][0]["id"], ids[0]);
    assert_eq!(second.body["has_more"], false);
    let paid_ids: Vec<&Value> = paid.body["data"].as_array().unwrap().iter().map(|c| &c["id"]).collect();
    assert_eq!(paid_ids, vec![&ids[0]]);
}

#[tokio::test]
async fn a_reversed_charge_can_no_longer_be_paid() {
    let pingpp = spawn_pingpp().await;
    let id = pingpp.create_charge("alipay_qr", 100, json!({})).await["id"].as_str().unwrap().to_owned();

    let reversed = pingpp.post(&format!("/v1/charges/{id}/reverse"), json!({})).await;
    let paid = pingpp.control(Method::POST, &format!("/sandbox/pingpp/charges/{id}/pay"), None).await;

    assert_eq!(reversed.status, StatusCode::OK);
    assert_eq!(reversed.body["reversed"], true);
    assert_eq!(paid.status, StatusCode::BAD_REQUEST);
    assert_eq!(pingpp.get(&format!("/v1/charges/{id}")).await.body["paid"], false);
}

#[tokio::test]
async fn a_failed_charge_carries_the_failure_and_stays_unpaid() {
    let pingpp = spawn_pingpp().await;
    let id = pingpp.create_charge("wx", 100, json!({})).await["id"].as_str().unwrap().to_owned();

    let failed = pingpp
        .control(
            Method::POST,
            &format!("/sandbox/pingpp/charges/{id}/fail"),
            Some(json!({ "failure_code": "NOTENOUGH", "failure_msg": "余额不足" })),
        )
        .await;

    assert_eq!(failed.status, StatusCode::OK);
    let charge = pingpp.get(&format!("/v1/charges/{id}")).await.body;
    assert_eq!(charge["paid"], false);
    assert_eq!(charge["failure_code"], "NOTENOUGH");
    assert!(pingpp.simulator().events().is_empty(), "a failure raises no event");
}

async fn turn_signing_on(pingpp: &TestPingpp) {
    let answer = pingpp
        .control(
            Method::PUT,
            "/sandbox/pingpp/merchant-key",
            Some(json!({ "public_key": std::str::from_utf8(pingpp_merchant_public_key_pem()).unwrap() })),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["enabled"], true);
}

#[tokio::test]
async fn with_signing_on_an_unsigned_post_is_refused_as_ping_plus_plus_refuses_it() {
    let pingpp = spawn_pingpp().await;
    turn_signing_on(&pingpp).await;

    let answer = pingpp.post("/v1/charges", charge_request("alipay_qr", 100, json!({}))).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_type(), "invalid_request_error");
    assert!(answer.message().contains("签名"), "{}", answer.body);
    assert!(pingpp.simulator().events().is_empty());
}

#[tokio::test]
async fn with_signing_on_correctly_signed_posts_and_puts_are_accepted() {
    let pingpp = spawn_pingpp().await;
    turn_signing_on(&pingpp).await;

    let charge = pingpp.signed(Method::POST, "/v1/charges", &charge_request("alipay_qr", 100, json!({}))).await;
    let order = pingpp
        .signed(
            Method::POST,
            "/v1/orders",
            &json!({
                "app": SANDBOX_PINGPP_APP_ID, "merchant_order_no": "S1", "amount": 10,
                "subject": "s", "body": "b",
            }),
        )
        .await;
    let canceled =
        pingpp.signed(Method::PUT, &format!("/v1/orders/{}", order.id()), &json!({ "status": "canceled" })).await;

    assert_eq!(charge.status, StatusCode::OK, "{}", charge.body);
    assert_eq!(order.status, StatusCode::OK, "{}", order.body);
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.body);
    assert_eq!(canceled.body["status"], "canceled");
}

#[tokio::test]
async fn a_signature_over_a_different_body_or_uri_is_refused() {
    let pingpp = spawn_pingpp().await;
    turn_signing_on(&pingpp).await;
    let sent = charge_request("alipay_qr", 100, json!({}));
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let mut other_body = sent.clone();
    other_body["amount"] = json!(1);

    for (signed_body, signed_uri) in [(other_body.to_string(), "/v1/charges"), (sent.to_string(), "/v1/orders")] {
        let signature = pingpp_harness::sign_request(signed_body.as_bytes(), signed_uri, &timestamp);
        let answer = pingpp
            .call(
                Method::POST,
                "/v1/charges",
                Some(&sent),
                Auth::Bearer(SANDBOX_PINGPP_SECRET_KEY),
                &[("Pingplusplus-Request-Timestamp", timestamp.clone()), ("Pingplusplus-Signature", signature)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{signed_uri}");
        assert_eq!(answer.message(), "提供了无效的签名。");
    }
}

#[tokio::test]
async fn with_signing_on_reads_need_no_signature_and_deleting_the_key_turns_it_off() {
    let pingpp = spawn_pingpp().await;
    turn_signing_on(&pingpp).await;

    let read = pingpp.get(&format!("/v1/charges?app[id]={SANDBOX_PINGPP_APP_ID}")).await;
    let deleted = pingpp.control(Method::DELETE, "/sandbox/pingpp/merchant-key", None).await;
    let unsigned = pingpp.post("/v1/charges", charge_request("alipay_qr", 100, json!({}))).await;

    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(deleted.body["enabled"], false);
    assert_eq!(unsigned.status, StatusCode::OK, "{}", unsigned.body);
}

#[tokio::test]
async fn the_merchant_key_endpoint_refuses_what_is_not_a_usable_public_key() {
    let pingpp = spawn_pingpp().await;

    for body in [
        json!({ "public_key": "not a key" }),
        json!({ "public_key": std::str::from_utf8(payhub_sandbox::pingpp_merchant_private_key_pem()).unwrap() }),
        json!({}),
    ] {
        let answer = pingpp.control(Method::PUT, "/sandbox/pingpp/merchant-key", Some(body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.param(), "public_key");
    }
    let shown = pingpp.control(Method::GET, "/sandbox/pingpp/merchant-key", None).await;
    assert_eq!(shown.body["enabled"], false);
}

#[tokio::test]
async fn an_injected_fault_answers_without_creating_the_charge() {
    let pingpp = spawn_pingpp().await;
    let faults =
        pingpp.control(Method::PUT, "/sandbox/pingpp/faults", Some(json!({ "fail_next": 1, "status": 503 }))).await;
    assert_eq!(faults.status, StatusCode::OK);

    let failed = pingpp.post("/v1/charges", charge_request("alipay_qr", 100, json!({}))).await;
    let listed = pingpp.get(&format!("/v1/charges?app[id]={SANDBOX_PINGPP_APP_ID}")).await;

    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.error_type(), "api_error");
    assert_eq!(listed.status, StatusCode::OK, "the fault was used up");
    assert_eq!(listed.body["data"], json!([]));
}

#[tokio::test]
async fn a_fault_answers_a_rate_limit_or_a_server_error_and_nothing_else() {
    let pingpp = spawn_pingpp().await;
    let not_a_fault =
        pingpp.control(Method::PUT, "/sandbox/pingpp/faults", Some(json!({ "fail_next": 1, "status": 404 }))).await;
    let rate_limit =
        pingpp.control(Method::PUT, "/sandbox/pingpp/faults", Some(json!({ "fail_next": 1, "status": 403 }))).await;

    let limited = pingpp.get(&format!("/v1/charges?app[id]={SANDBOX_PINGPP_APP_ID}")).await;
    let left = pingpp.control(Method::GET, "/sandbox/pingpp/faults", None).await;

    assert_eq!(not_a_fault.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_a_fault.error_type(), "invalid_request_error");
    assert!(not_a_fault.message().contains("403, 429 or a 5xx"), "{}", not_a_fault.body);
    assert_eq!(rate_limit.status, StatusCode::OK, "{}", rate_limit.body);
    assert_eq!((limited.status, limited.error_type()), (StatusCode::FORBIDDEN, "rate_limit_error"));
    assert_eq!(left.body["fail_next"], 0, "the fault was used up");
}
