//! Ping++'s request signature: base64 RSA-SHA256 over body ++ request URI ++ timestamp, checked
//! by the fake with ring and the test public key.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use payhub_pingpp::{
    ClientConfig, CreateCharge, ListParams, PingppClient, PingppError, RequestSigner, UnixClock, sign_request,
};

use crate::fake_pingpp::{APP_ID, FakePingpp, Recorded, Scripted, TIMESTAMP};
use crate::keys;

const TIMESTAMP_TEXT: &str = "1735689600";

fn charge_request() -> CreateCharge {
    CreateCharge::new("2026010100000001", "alipay_qr", 100, "127.0.0.1", "Membership", "One year")
}

/// The request's signature verifies over exactly `body ++ uri ++ timestamp`, and not over the
/// near misses a wrong concatenation would produce.
fn assert_signed_over(sent: &Recorded, body: &[u8], uri: &str) {
    assert_eq!(sent.uri, uri, "the URI as received");
    assert_eq!(sent.body, body, "the body as received");
    assert_eq!(sent.header("pingplusplus-request-timestamp"), Some(TIMESTAMP_TEXT));
    let signature = sent.header("pingplusplus-signature").expect("Pingplusplus-Signature header");
    assert!(
        keys::signed_by_test_key(&keys::concatenation(body, uri, TIMESTAMP_TEXT), signature),
        "signature does not verify over body ++ uri ++ timestamp"
    );
    let near_misses = [
        keys::concatenation(body, uri, ""),
        keys::concatenation(b"", uri, TIMESTAMP_TEXT),
        keys::concatenation(body, uri.split('?').next().unwrap_or(uri), TIMESTAMP_TEXT),
        [body, b"\n", uri.as_bytes(), b"\n", TIMESTAMP_TEXT.as_bytes()].concat(),
    ];
    let exact = keys::concatenation(body, uri, TIMESTAMP_TEXT);
    for message in near_misses.iter().filter(|message| **message != exact) {
        assert!(!keys::signed_by_test_key(message, signature));
    }
}

#[test]
fn sign_request_matches_a_signature_made_by_openssl_over_the_same_bytes() {
    // `openssl dgst -sha256 -sign merchant_rsa_private_pkcs1.pem` over
    // body ++ "/v1/charges" ++ "1735689600"; PKCS#1 v1.5 signatures are deterministic.
    const OPENSSL_SIGNATURE: &str = "gatJLPnnNNsa++NvHpjEyT95Y9Hv9LumUQ42H3nNB6mb6+pTL7C6XSSiu/KksVBLjbp9GHg8POp5XfxJoEkWVfv1KVU/rv1RsSG2+5UC50Ic0D3XMB/Hf6MBq36yezWkCBFeLj3Hqo3U6701ydRXb2rdWVxiksgIXuJOdcYXudGEQQyh9EAdlbSMLrJyGrh642KKuWAL9nuH7QNLsb2rPZyzlkC9nRJp8PMVqBimOOZxR1MemGjcgyMAPisUiOOZek+3h5EgPZDMKpIIVjwJouj1/PEssBTWl2pNg3MFr/ZYz2Djf7sBiu1Wc7VAe4zYqqU0UhxQslV7rCEVmqtMlA==";
    let body =
        br#"{"order_no":"2026010100000001","app":{"id":"app_1Gqj58ynP0mHeX1q"},"channel":"alipay_qr","amount":100}"#;
    for pem in [keys::PRIVATE_PKCS1, keys::PRIVATE_PKCS8] {
        let signer = RequestSigner::from_pem(pem.as_bytes()).expect("test key");
        assert_eq!(sign_request(&signer, body, "/v1/charges", 1_735_689_600), OPENSSL_SIGNATURE);
    }
}

#[tokio::test]
async fn a_post_is_signed_over_its_json_body_the_path_and_the_timestamp() {
    let pingpp = FakePingpp::start().await;
    pingpp.signing_client().create_charge(&charge_request()).await.expect("charge");
    let sent = pingpp.last();
    assert_eq!(sent.method, "POST");
    assert_signed_over(&sent, &sent.body.clone(), "/v1/charges");
    assert_eq!(sent.json()["app"]["id"], APP_ID);
}

#[tokio::test]
async fn a_put_is_signed_over_its_body_and_the_order_path() {
    let pingpp = FakePingpp::start().await;
    pingpp.signing_client().cancel_order("2011609290000001291").await.expect("canceled");
    let sent = pingpp.last();
    assert_eq!(sent.method, "PUT");
    assert_signed_over(&sent, br#"{"status":"canceled"}"#, "/v1/orders/2011609290000001291");
}

#[tokio::test]
async fn a_get_is_signed_over_an_empty_body_and_the_path_with_its_query_as_sent() {
    let pingpp = FakePingpp::start().await;
    let params = ListParams {
        limit: Some(3),
        starting_after: Some("ch_L8qn10mLmr1GS8e5OODmHaL4".into()),
        ..ListParams::default()
    };
    pingpp.signing_client().list_charges(&params).await.expect("list");
    let sent = pingpp.last();
    assert_eq!(sent.method, "GET");
    assert_signed_over(
        &sent,
        b"",
        "/v1/charges?app%5Bid%5D=app_1Gqj58ynP0mHeX1q&limit=3&starting_after=ch_L8qn10mLmr1GS8e5OODmHaL4",
    );
}

#[tokio::test]
async fn a_post_without_body_is_signed_over_the_path_and_timestamp_alone() {
    let pingpp = FakePingpp::start().await;
    pingpp.signing_client().reverse_charge("ch_L8qn10mLmr1GS8e5OODmHaL4").await.expect("reversed");
    let sent = pingpp.last();
    assert_signed_over(&sent, b"", "/v1/charges/ch_L8qn10mLmr1GS8e5OODmHaL4/reverse");
    assert_eq!(sent.header("content-type"), None);
}

#[tokio::test]
async fn without_a_private_key_requests_carry_a_timestamp_but_no_signature() {
    let pingpp = FakePingpp::start().await;
    let client = pingpp.client();
    assert!(!client.signs_requests());
    client.create_charge(&charge_request()).await.expect("charge");
    client.get_charge("ch_1").await.expect("charge");
    for sent in pingpp.requests() {
        assert_eq!(sent.header("pingplusplus-signature"), None);
        assert_eq!(sent.signature_valid(), None);
        assert_eq!(sent.header("pingplusplus-request-timestamp"), Some(TIMESTAMP_TEXT));
    }
}

#[tokio::test]
async fn a_pkcs1_private_key_signs_as_well_as_a_pkcs8_one() {
    let pingpp = FakePingpp::start().await;
    let client =
        PingppClient::new(pingpp.config().with_private_key(keys::PRIVATE_PKCS1)).expect("client with a PKCS#1 key");
    client.get_order("2011609290000001291").await.expect("order");
    assert_eq!(pingpp.last().signature_valid(), Some(true));
}

#[tokio::test]
async fn a_repeated_read_is_signed_afresh_with_a_new_timestamp() {
    let pingpp = FakePingpp::start().await;
    let ticks = Arc::new(AtomicI64::new(TIMESTAMP));
    let clock_ticks = Arc::clone(&ticks);
    let mut config = pingpp.config().with_private_key(keys::PRIVATE_PKCS8);
    config.clock = UnixClock::new(move || clock_ticks.fetch_add(1, Ordering::SeqCst));
    let client = PingppClient::new(config).expect("client");
    pingpp.script(Scripted::raw(503, "text/plain", "busy"));
    client.get_charge("ch_1").await.expect("second attempt succeeds");

    let sent = pingpp.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("pingplusplus-request-timestamp"), Some("1735689600"));
    assert_eq!(sent[1].header("pingplusplus-request-timestamp"), Some("1735689601"));
    assert!(sent.iter().all(|s| s.signature_valid() == Some(true)));
    assert_ne!(sent[0].header("pingplusplus-signature"), sent[1].header("pingplusplus-signature"));
}

#[test]
fn an_unusable_private_key_fails_client_construction_with_a_signing_error() {
    let config = ClientConfig::new("https://api.pingxx.com", APP_ID, "sk_test_x");
    for pem in ["", "not a key", std::str::from_utf8(keys::PUBLIC_SPKI).expect("ascii")] {
        let result = PingppClient::new(config.clone().with_private_key(pem));
        assert!(matches!(result, Err(PingppError::Signing(_))), "{pem:?} gave {result:?}");
    }
}
