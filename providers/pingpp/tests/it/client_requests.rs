//! What goes on the wire for each call: method, path, query, headers and JSON body.

use payhub_pingpp::{
    CreateCharge, CreateOrder, CreateOrderRefund, CreateRefund, CreatedRange, FundingSource, JSON_CONTENT_TYPE,
    ListParams, OrderStatus, PayOrder, RefundMode, RoyaltyRefund,
};
use serde_json::json;

use crate::fake_pingpp::{APP_ID, FakePingpp, SECRET_KEY};

#[tokio::test]
async fn every_request_carries_the_bearer_secret_key_and_asks_for_json_in_chinese() {
    let pingpp = FakePingpp::start().await;
    pingpp.client().get_charge("ch_1").await.expect("charge");
    let sent = pingpp.last();
    let bearer = format!("Bearer {SECRET_KEY}");
    assert_eq!(sent.header("authorization"), Some(bearer.as_str()));
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(sent.header("accept-language"), Some("zh-CN"));
    assert!(sent.header("user-agent").is_some_and(|ua| ua.starts_with("payhub-pingpp/")));
    assert_eq!(sent.header("content-type"), None, "a GET has no body");
    assert!(sent.body.is_empty());
}

#[tokio::test]
async fn create_charge_posts_json_with_the_configured_app_as_an_object() {
    let pingpp = FakePingpp::start().await;
    let request = CreateCharge {
        extra: Some(json!({"product_id": "membership-1y"})),
        time_expire: Some(1_735_696_800),
        metadata: Some(json!({"payment": "pay_01JGZ3"}).as_object().cloned().expect("map")),
        ..CreateCharge::new("2026010100000001", "wx_pub_qr", 2500, "203.0.113.7", "会员一年", "Membership")
    };
    let charge = pingpp.client().create_charge(&request).await.expect("charge");
    assert_eq!(charge.order_no, "2026010100000001");
    assert_eq!(charge.amount, 2500);

    let sent = pingpp.last();
    assert_eq!((sent.method.as_str(), sent.uri.as_str()), ("POST", "/v1/charges"));
    assert_eq!(sent.header("content-type"), Some(JSON_CONTENT_TYPE));
    assert_eq!(
        sent.json(),
        json!({
            "order_no": "2026010100000001",
            "app": {"id": APP_ID},
            "channel": "wx_pub_qr",
            "amount": 2500,
            "client_ip": "203.0.113.7",
            "currency": "cny",
            "subject": "会员一年",
            "body": "Membership",
            "extra": {"product_id": "membership-1y"},
            "time_expire": 1735696800,
            "metadata": {"payment": "pay_01JGZ3"}
        })
    );
}

#[tokio::test]
async fn an_explicit_app_on_a_charge_is_kept() {
    let pingpp = FakePingpp::start().await;
    let request = CreateCharge {
        app: Some("app_Other0000000000".into()),
        ..CreateCharge::new("n1", "alipay_qr", 1, "127.0.0.1", "s", "b")
    };
    pingpp.client().create_charge(&request).await.expect("charge");
    assert_eq!(pingpp.last().json()["app"], json!({"id": "app_Other0000000000"}));
}

#[tokio::test]
async fn each_call_goes_to_its_documented_method_and_path() {
    let pingpp = FakePingpp::start().await;
    let client = pingpp.client();
    let (ch, re, or) = ("ch_L8qn10mLmr1GS8e5OODmHaL4", "re_y1u944PmfnrTHyvnL0nD0iD1", "2011609290000001291");
    let none = ListParams::default();

    client.get_charge(ch).await.expect("get_charge");
    client.reverse_charge(ch).await.expect("reverse_charge");
    client.create_refund(ch, &CreateRefund::new(None, "r")).await.expect("create_refund");
    client.get_refund(ch, re).await.expect("get_refund");
    client.list_refunds(ch, &none).await.expect("list_refunds");
    client.create_order(&CreateOrder::new("m1", 100, "s", "b")).await.expect("create_order");
    client.get_order(or).await.expect("get_order");
    client.list_orders(&none).await.expect("list_orders");
    client.cancel_order(or).await.expect("cancel_order");
    client.pay_order(or, &PayOrder::new("alipay_qr", 100)).await.expect("pay_order");
    client.order_charges(or).await.expect("order_charges");
    client.get_order_charge(or, ch).await.expect("get_order_charge");
    client.create_order_refund(or, &CreateOrderRefund::new("r")).await.expect("create_order_refund");
    client.get_order_refund(or, re).await.expect("get_order_refund");
    client.list_order_refunds(or).await.expect("list_order_refunds");
    client.get_event("evt_401171222113755187074803").await.expect("get_event");

    let sent: Vec<(String, String)> = pingpp.requests().into_iter().map(|r| (r.method, r.uri)).collect();
    let expected = [
        ("GET", format!("/v1/charges/{ch}")),
        ("POST", format!("/v1/charges/{ch}/reverse")),
        ("POST", format!("/v1/charges/{ch}/refunds")),
        ("GET", format!("/v1/charges/{ch}/refunds/{re}")),
        ("GET", format!("/v1/charges/{ch}/refunds")),
        ("POST", "/v1/orders".to_owned()),
        ("GET", format!("/v1/orders/{or}")),
        ("GET", format!("/v1/orders?app={APP_ID}")),
        ("PUT", format!("/v1/orders/{or}")),
        ("POST", format!("/v1/orders/{or}/pay")),
        ("GET", format!("/v1/orders/{or}/charges")),
        ("GET", format!("/v1/orders/{or}/charges/{ch}")),
        ("POST", format!("/v1/orders/{or}/order_refunds")),
        ("GET", format!("/v1/orders/{or}/order_refunds/{re}")),
        ("GET", format!("/v1/orders/{or}/order_refunds")),
        ("GET", "/v1/events/evt_401171222113755187074803".to_owned()),
    ];
    let expected: Vec<(String, String)> = expected.into_iter().map(|(method, uri)| (method.to_owned(), uri)).collect();
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn list_charges_asks_for_the_configured_app_and_every_set_filter() {
    let pingpp = FakePingpp::start().await;
    let params = ListParams {
        limit: Some(10),
        created: CreatedRange { gte: Some(1_735_689_600), lt: Some(1_735_776_000), ..CreatedRange::default() },
        channel: Some("wx_pub_qr".into()),
        paid: Some(true),
        ..ListParams::default()
    };
    let charges = pingpp.client().list_charges(&params).await.expect("list");
    assert_eq!(charges.data.len(), 1);
    assert_eq!(
        pingpp.last().uri,
        "/v1/charges?app%5Bid%5D=app_1Gqj58ynP0mHeX1q&limit=10&created%5Bgte%5D=1735689600\
         &created%5Blt%5D=1735776000&channel=wx_pub_qr&paid=true"
    );
}

#[tokio::test]
async fn charge_refund_lists_page_by_id_without_an_app() {
    let pingpp = FakePingpp::start().await;
    let params = ListParams { limit: Some(3), ending_before: Some("re_b".into()), ..ListParams::default() };
    pingpp.client().list_refunds("ch_1", &params).await.expect("refunds");
    assert_eq!(pingpp.last().uri, "/v1/charges/ch_1/refunds?limit=3&ending_before=re_b");
}

#[tokio::test]
async fn order_calls_send_their_documented_bodies() {
    let pingpp = FakePingpp::start().await;
    let client = pingpp.client();

    let order = CreateOrder {
        uid: Some("user_0001".into()),
        client_ip: Some("203.0.113.7".into()),
        time_expire: Some(1_735_776_000),
        ..CreateOrder::new("2026010100000002", 2500, "Membership", "One year")
    };
    let created = client.create_order(&order).await.expect("order");
    assert_eq!(created.status, OrderStatus::Created);
    assert_eq!(
        pingpp.last().json(),
        json!({"app": APP_ID, "merchant_order_no": "2026010100000002", "amount": 2500,
               "currency": "cny", "subject": "Membership", "body": "One year",
               "uid": "user_0001", "client_ip": "203.0.113.7", "time_expire": 1735776000})
    );

    let pay = PayOrder {
        charge_order_no: Some("2026010100000003".into()),
        extra: Some(json!({"open_id": "o7xEMsySBFG3MVHI-9VsAJX-j50W"})),
        ..PayOrder::new("wx_pub", 2500)
    };
    let paying = client.pay_order("2011609290000001291", &pay).await.expect("pay");
    assert_eq!(paying.charge.as_deref(), Some("ch_L8qn10mLmr1GS8e5OODmHaL4"));
    assert_eq!(
        pingpp.last().json(),
        json!({"channel": "wx_pub", "charge_amount": 2500, "charge_order_no": "2026010100000003",
               "extra": {"open_id": "o7xEMsySBFG3MVHI-9VsAJX-j50W"}})
    );

    let canceled = client.cancel_order("2011609290000001291").await.expect("cancel");
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert_eq!(pingpp.last().json(), json!({"status": "canceled"}));

    let refund = CreateOrderRefund {
        charge: Some("ch_L8qn10mLmr1GS8e5OODmHaL4".into()),
        charge_amount: Some(10),
        refund_mode: Some(RefundMode::ToBalance),
        royalty_users: vec![RoyaltyRefund { user: "test_user_002".into(), amount_refunded: 1 }],
        funding_source: Some(FundingSource::RechargeFunds),
        ..CreateOrderRefund::new("Your description")
    };
    let refunds = client.create_order_refund("2011609290000001291", &refund).await.expect("order refund");
    assert_eq!(refunds.data[0].id, "re_y1u944PmfnrTHyvnL0nD0iD1");
    assert_eq!(
        pingpp.last().json(),
        json!({"charge": "ch_L8qn10mLmr1GS8e5OODmHaL4", "charge_amount": 10,
               "description": "Your description", "refund_mode": "to_balance",
               "royalty_users": [{"user": "test_user_002", "amount_refunded": 1}],
               "funding_source": "recharge_funds"})
    );
}

#[tokio::test]
async fn ids_cannot_escape_their_path_segment() {
    let pingpp = FakePingpp::start().await;
    let _ = pingpp.client().get_charge("../orders/1?x=y").await;
    assert_eq!(pingpp.last().uri, "/v1/charges/%2E%2E%2Forders%2F1%3Fx%3Dy");
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_it_before_v1() {
    let pingpp = FakePingpp::start().await;
    let mut config = pingpp.config();
    config.base_url = format!("{}/pingpp/", pingpp.base_url());
    let client = payhub_pingpp::PingppClient::new(config).expect("client");
    let _ = client.get_event("evt_1").await;
    assert_eq!(pingpp.last().uri, "/pingpp/v1/events/evt_1");
}
