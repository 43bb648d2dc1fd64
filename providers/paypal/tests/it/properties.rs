//! Properties of everything that reads outside input: webhook headers, bodies, signatures and
//! certificate chains, and IPN bodies in any charset. Arbitrary input never panics; a genuine
//! notification verifies, and any change to what its signature covers is refused. Cases:
//! proptest's default (256), or `PROPTEST_CASES`.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeZone, Utc};
use encoding_rs::Encoding;
use http::{HeaderMap, HeaderName, HeaderValue};
use payhub_paypal::webhooks::{AUTH_ALGO, CERT_URL, TRANSMISSION_ID, TRANSMISSION_SIG, TRANSMISSION_TIME};
use payhub_paypal::{
    IpnMessage, TrustConfig, VerifyError, WebhookHeaders, parse_webhook_event, verify_with_cert_chain,
};
use payhub_sandbox::paypal::signing::{
    PAYPAL_CERT_SUBJECT_NAME, SigningKey, paypal_signing_cert_pem, paypal_trust_anchor_pem, signed_string,
};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::fixtures::Fixtures;

const WEBHOOK_ID: &str = "WH-PROPERTIES";

/// Within the sandbox signing certificate's validity.
fn signing_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn sandbox_trust() -> TrustConfig {
    TrustConfig {
        webhook_id: WEBHOOK_ID.into(),
        trust_anchors_pem: paypal_trust_anchor_pem().to_vec(),
        intermediates_pem: Vec::new(),
        expected_subject_names: vec![PAYPAL_CERT_SUBJECT_NAME.into()],
    }
}

/// `body` as the sandbox (in PayPal's image) signs it for [`WEBHOOK_ID`].
fn signed(key: &SigningKey, transmission_id: &str, body: &[u8]) -> WebhookHeaders {
    let time = signing_time().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let signature = key.sign(signed_string(transmission_id, &time, WEBHOOK_ID, body).as_bytes()).unwrap();
    WebhookHeaders {
        transmission_id: transmission_id.into(),
        transmission_time: time,
        transmission_sig: signature,
        cert_url: "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1".into(),
        auth_algo: "SHA256withRSA".into(),
    }
}

fn verify(headers: &WebhookHeaders, body: &[u8]) -> Result<(), VerifyError> {
    verify_with_cert_chain(paypal_signing_cert_pem(), headers, body, &sandbox_trust(), signing_time())
}

/// The real notifications, read once (absent, the properties about them say so and pass).
fn fixtures() -> Option<&'static Fixtures> {
    static FIXTURES: LazyLock<Option<Fixtures>> = LazyLock::new(Fixtures::load);
    FIXTURES.as_ref()
}

/// Header values as they can reach the hub: any visible ASCII or obs-text, or nothing.
fn header_value() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(proptest::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..80))
}

proptest! {
    #[test]
    fn any_header_values_are_read_or_refused_without_panicking(
        values in proptest::collection::vec(header_value(), 5),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [TRANSMISSION_ID, TRANSMISSION_TIME, TRANSMISSION_SIG, CERT_URL, AUTH_ALGO].iter().zip(&values) {
            if let Some(value) = value.as_ref().and_then(|v| HeaderValue::from_bytes(v).ok()) {
                headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value);
            }
        }
        if let Ok(read) = WebhookHeaders::from_headers(&headers) {
            prop_assert!(!read.transmission_id.is_empty() && !read.auth_algo.is_empty());
        }
    }

    #[test]
    fn any_body_parses_as_an_event_or_is_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_webhook_event(&body);
    }

    #[test]
    fn any_json_object_parses_as_an_event_or_is_refused_without_panicking(body in json_object()) {
        let _ = parse_webhook_event(body.as_bytes());
    }

    #[test]
    fn any_body_signed_by_the_signing_certificate_verifies(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        transmission_id in "[A-Za-z0-9-]{1,40}",
    ) {
        let key = SigningKey::load().unwrap();
        prop_assert_eq!(verify(&signed(&key, &transmission_id, &body), &body), Ok(()));
    }

    #[test]
    fn any_byte_changed_in_a_signed_body_is_a_bad_signature(
        body in proptest::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        flip in 1u8..,
    ) {
        let key = SigningKey::load().unwrap();
        let headers = signed(&key, "transmission-1", &body);
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= flip;
        prop_assert_eq!(verify(&headers, &tampered), Err(VerifyError::BadSignature));
    }

    #[test]
    fn any_other_transmission_id_or_time_is_refused(
        body in proptest::collection::vec(any::<u8>(), 0..128),
        other in "[ -~]{1,40}",
        field in 0..2usize,
    ) {
        let key = SigningKey::load().unwrap();
        let mut headers = signed(&key, "transmission-1", &body);
        let changed = if field == 0 { &mut headers.transmission_id } else { &mut headers.transmission_time };
        prop_assume!(*changed != other);
        *changed = other;
        prop_assert!(verify(&headers, &body).is_err());
    }

    #[test]
    fn any_signature_other_than_the_genuine_one_is_refused(
        body in proptest::collection::vec(any::<u8>(), 0..128),
        signature in "[ -~]{0,400}",
    ) {
        let key = SigningKey::load().unwrap();
        let mut headers = signed(&key, "transmission-1", &body);
        prop_assume!(signature.trim() != headers.transmission_sig);
        headers.transmission_sig = signature;
        prop_assert!(verify(&headers, &body).is_err());
    }

    #[test]
    fn any_byte_changed_in_a_real_paypal_notification_is_a_bad_signature(
        sample in any::<Index>(),
        at in any::<Index>(),
        flip in 1u8..,
    ) {
        let Some(fixtures) = fixtures() else { return Ok(()) };
        let sample = sample.get(&fixtures.samples);
        let mut body = sample.body.clone();
        let position = at.index(body.len());
        body[position] ^= flip;
        let trust = fixtures.trust(&sample.webhook_id);
        let verdict = verify_with_cert_chain(&sample.cert_pem, &sample.headers, &body, &trust, sample.transmission_time);
        prop_assert_eq!(verdict, Err(VerifyError::BadSignature));
    }

    #[test]
    fn any_bit_flipped_in_a_real_paypal_signature_is_a_bad_signature(
        sample in any::<Index>(),
        at in any::<Index>(),
        bit in 0..8u32,
    ) {
        let Some(fixtures) = fixtures() else { return Ok(()) };
        let sample = sample.get(&fixtures.samples);
        let mut signature = BASE64.decode(&sample.headers.transmission_sig).unwrap();
        let position = at.index(signature.len());
        signature[position] ^= 1 << bit;
        let headers = WebhookHeaders { transmission_sig: BASE64.encode(&signature), ..sample.headers.clone() };
        let trust = fixtures.trust(&sample.webhook_id);
        let verdict = verify_with_cert_chain(&sample.cert_pem, &headers, &sample.body, &trust, sample.transmission_time);
        prop_assert_eq!(verdict, Err(VerifyError::BadSignature));
    }

    #[test]
    fn any_bytes_served_as_a_certificate_chain_are_refused_without_panicking(
        chain in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let key = SigningKey::load().unwrap();
        let headers = signed(&key, "transmission-1", b"{}");
        let verdict = verify_with_cert_chain(&chain, &headers, b"{}", &sandbox_trust(), signing_time());
        prop_assert!(matches!(verdict, Err(VerifyError::CertRejected(_))), "{:?}", verdict);
    }

    #[test]
    fn any_der_in_a_pem_certificate_is_refused_without_panicking(der in certificate_like_der()) {
        let key = SigningKey::load().unwrap();
        let headers = signed(&key, "transmission-1", b"{}");
        let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", BASE64.encode(&der));
        let verdict = verify_with_cert_chain(pem.as_bytes(), &headers, b"{}", &sandbox_trust(), signing_time());
        prop_assert!(verdict.is_err());
    }

    #[test]
    fn any_byte_changed_in_the_signing_certificate_is_refused(at in any::<Index>(), flip in 1u8..) {
        let key = SigningKey::load().unwrap();
        let headers = signed(&key, "transmission-1", b"{}");
        let mut der = genuine_der();
        let position = at.index(der.len());
        der[position] ^= flip;
        let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", BASE64.encode(&der));
        let verdict = verify_with_cert_chain(pem.as_bytes(), &headers, b"{}", &sandbox_trust(), signing_time());
        prop_assert!(verdict.is_err(), "a changed certificate was accepted (byte {})", position);
    }

    #[test]
    fn any_ipn_bytes_are_parsed_or_refused_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = IpnMessage::parse(&raw);
    }

    #[test]
    fn any_charset_name_is_used_or_refused_without_panicking(
        charset in prop_oneof!["[ -~]{0,20}", Just("gb2312".to_owned()), Just("UTF-16".to_owned()), Just("x-user-defined".to_owned())],
        value in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut raw = format!("charset={}&item_name=", percent_encode(charset.as_bytes())).into_bytes();
        raw.extend_from_slice(percent_encode(&value).as_bytes());
        let _ = IpnMessage::parse(&raw);
    }

    #[test]
    fn a_form_in_its_charset_decodes_back_to_the_same_fields(
        charset in prop_oneof![Just("gb2312"), Just("windows-1252"), Just("UTF-8")],
        fields in proptest::collection::vec(("[a-z_]{1,12}", ipn_text()), 1..8),
    ) {
        let encoding = Encoding::for_label(charset.as_bytes()).unwrap();
        // Only what the charset can write: PayPal sends a message in one charset.
        let representable = |text: &str| -> String { text.chars().filter(|c| round_trips(encoding, *c)).collect() };
        let mut expected = vec![("charset".to_owned(), charset.to_owned())];
        expected.extend(fields.iter().map(|(name, value)| (name.clone(), representable(value))));
        let raw: Vec<String> = expected
            .iter()
            .map(|(name, value)| format!("{}={}", percent_encode(&encoding.encode(name).0), percent_encode(&encoding.encode(value).0)))
            .collect();
        let message = IpnMessage::parse(raw.join("&").as_bytes()).unwrap();
        prop_assert_eq!(message.charset(), charset);
        prop_assert_eq!(message.fields(), expected.as_slice());
    }
}

/// Whether `c` is written and read back unchanged in `encoding`.
fn round_trips(encoding: &'static Encoding, c: char) -> bool {
    let text = c.to_string();
    let (bytes, _, unmappable) = encoding.encode(&text);
    !unmappable && encoding.decode_without_bom_handling_and_without_replacement(&bytes).is_some_and(|back| back == text)
}

/// Text as merchants write item names and buyers their addresses: ASCII, Latin, CJK.
fn ipn_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::char::range(' ', '~'),
            proptest::char::range('\u{a0}', '\u{ff}'),
            proptest::char::range('\u{4e00}', '\u{9fa5}'),
            Just('€'),
            Just('\u{3000}'),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Every byte as `%XX`, as the strictest form encoder writes it.
fn percent_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// The DER of the sandbox signing certificate.
fn genuine_der() -> Vec<u8> {
    let pem = std::str::from_utf8(paypal_signing_cert_pem()).unwrap();
    let base64: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    BASE64.decode(base64).unwrap()
}

/// Arbitrary bytes, and the genuine certificate cut short or with bytes spliced in: the
/// shapes a DER parser meets from a hostile cert URL.
fn certificate_like_der() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1024),
        any::<Index>().prop_map(|cut| {
            let der = genuine_der();
            der[..cut.index(der.len())].to_vec()
        }),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, junk)| {
            let mut der = genuine_der();
            let at = at.index(der.len());
            der.splice(at..at, junk);
            der
        }),
    ]
}

/// JSON objects with PayPal's event fields holding any kind of value.
fn json_object() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    });
    let names = prop_oneof![
        Just("id"),
        Just("event_type"),
        Just("resource_type"),
        Just("resource"),
        Just("create_time"),
        Just("summary"),
        Just("event_version")
    ];
    proptest::collection::btree_map(names, value, 0..7).prop_map(|map| {
        serde_json::Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).to_string()
    })
}
