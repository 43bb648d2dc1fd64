//! IPN: the real sample in `shared/fixtures/paypal-ipn/` parses; the postback sends the exact bytes
//! back and reads PayPal's verdict; PDT reads `SUCCESS` fields in their charset.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use payhub_paypal::{IpnError, IpnMessage, IpnVerdict, PdtOutcome, payment_data_transfer, verify_ipn};

#[test]
fn the_fixture_ipn_parses_with_its_windows_1252_charset() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/paypal-ipn/01-sdk-core-java-adaptive-payments-pay.txt");
    let Ok(raw) = std::fs::read(&path) else {
        eprintln!("skipping: PayPal IPN fixture not found at {}", path.display());
        return;
    };
    let message = IpnMessage::parse(&raw).expect("the fixture parses");
    assert_eq!(message.charset(), "windows-1252");
    assert_eq!(message.get("transaction[0].id"), Some("0UJ53158NW5107715"));
    assert_eq!(message.get("transaction[0].amount"), Some("USD 2.00"));
    assert_eq!(message.get("sender_email"), Some("jb-us-seller@paypal.com"));
    assert_eq!(message.get("payment_request_date"), Some("Thu Dec 06 22:50:00 PST 2012"));
    assert!(message.is_test());
    assert_eq!(message.raw(), raw.as_slice(), "the postback needs the bytes as received");
}

/// A stand-in for PayPal's postback endpoint that records what it got and answers `answer`.
async fn spawn_postback(answer: &'static str, status: u16) -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/cgi-bin/webscr",
        axum::routing::post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                (axum::http::StatusCode::from_u16(status).unwrap(), answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cgi-bin/webscr", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn the_postback_carries_the_exact_bytes_after_the_validate_command() {
    let (url, received) = spawn_postback("VERIFIED", 200).await;
    let raw = b"charset=gb2312&item_name1=%D1%D0&txn_id=1";
    let verdict = verify_ipn(&payhub_paypal::default_http_client().unwrap(), &url, raw).await.unwrap();
    assert_eq!(verdict, IpnVerdict::Verified);
    assert_eq!(&received.lock().unwrap()[0][..], b"cmd=_notify-validate&charset=gb2312&item_name1=%D1%D0&txn_id=1");
}

#[tokio::test]
async fn invalid_is_a_verdict_and_a_failing_postback_is_unavailable() {
    let (invalid, _) = spawn_postback("INVALID", 200).await;
    assert_eq!(
        verify_ipn(&payhub_paypal::default_http_client().unwrap(), &invalid, b"a=b").await.unwrap(),
        IpnVerdict::Invalid
    );
    let (down, _) = spawn_postback("Service Unavailable", 503).await;
    let outcome = verify_ipn(&payhub_paypal::default_http_client().unwrap(), &down, b"a=b").await;
    assert!(matches!(outcome, Err(IpnError::Unavailable(_))), "{outcome:?}");
}

#[tokio::test]
async fn pdt_success_fields_are_decoded_by_their_charset_and_fail_keeps_the_reason() {
    let (url, received) =
        spawn_postback("SUCCESS\npayment_status=Completed\ncharset=gb2312\nitem_name1=%D1%D0%C4%A5\ntxn_id=9X\n", 200)
            .await;
    let outcome =
        payment_data_transfer(&payhub_paypal::default_http_client().unwrap(), &url, "9X", "token-1").await.unwrap();
    let PdtOutcome::Success(fields) = outcome else { panic!("{outcome:?}") };
    assert!(fields.contains(&("item_name1".to_owned(), "研磨".to_owned())), "{fields:?}");
    assert_eq!(&received.lock().unwrap()[0][..], b"cmd=_notify-synch&tx=9X&at=token-1");
    let (failing, _) = spawn_postback("FAIL\nError: 4003", 200).await;
    let outcome =
        payment_data_transfer(&payhub_paypal::default_http_client().unwrap(), &failing, "9X", "token-1").await.unwrap();
    assert_eq!(outcome, PdtOutcome::Fail("Error: 4003".to_owned()));
}
