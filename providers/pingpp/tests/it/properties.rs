//! Properties of what reads outside input: webhook signatures and bodies, and public key PEM.
//! Arbitrary input never panics; a body signed by a trusted key verifies, and any change to
//! the body or the signature is refused. Cases: proptest's default (256), or `PROPTEST_CASES`.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use payhub_pingpp::{VerifyError, WebhookVerifier, parse_event};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::keys;
use crate::webhook_fixtures::{Sample, samples};

/// The real Ping++ webhooks, read once (absent, the properties about them say so and pass).
fn real_samples() -> Option<&'static [Sample]> {
    static SAMPLES: LazyLock<Option<Vec<Sample>>> = LazyLock::new(samples);
    SAMPLES.as_deref()
}

fn test_key_verifier() -> WebhookVerifier {
    WebhookVerifier::from_pem(keys::PUBLIC_SPKI).expect("test key")
}

proptest! {
    #[test]
    fn any_body_signed_by_the_key_verifies(body in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let signature = keys::sign_with_test_key(&body);
        prop_assert_eq!(test_key_verifier().verify(&body, &signature), Ok(()));
    }

    #[test]
    fn any_byte_changed_in_a_signed_body_is_a_bad_signature(
        body in proptest::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        flip in 1u8..,
    ) {
        let signature = keys::sign_with_test_key(&body);
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= flip;
        prop_assert_eq!(test_key_verifier().verify(&tampered, &signature), Err(VerifyError::BadSignature));
    }

    #[test]
    fn any_header_bytes_are_refused_without_panicking(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        header in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..400)),
    ) {
        prop_assert!(test_key_verifier().verify_header(&body, header.as_deref()).is_err());
    }

    #[test]
    fn any_base64_that_is_not_the_signature_is_refused(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        forged in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        prop_assert!(test_key_verifier().verify(&body, &BASE64.encode(&forged)).is_err());
    }

    #[test]
    fn any_byte_changed_in_a_real_webhook_is_a_bad_signature(sample in any::<Index>(), at in any::<Index>(), flip in 1u8..) {
        let Some(samples) = real_samples() else { return Ok(()) };
        let sample = sample.get(samples);
        let mut body = sample.body.clone();
        let position = at.index(body.len());
        body[position] ^= flip;
        prop_assert_eq!(sample.verifier().verify(&body, &sample.signature), Err(VerifyError::BadSignature));
    }

    #[test]
    fn any_bit_flipped_in_a_real_signature_is_a_bad_signature(sample in any::<Index>(), at in any::<Index>(), bit in 0..8u32) {
        let Some(samples) = real_samples() else { return Ok(()) };
        let sample = sample.get(samples);
        let mut signature = BASE64.decode(&sample.signature).unwrap();
        let position = at.index(signature.len());
        signature[position] ^= 1 << bit;
        prop_assert_eq!(sample.verifier().verify(&sample.body, &BASE64.encode(&signature)), Err(VerifyError::BadSignature));
    }

    #[test]
    fn any_body_parses_as_an_event_or_is_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_event(&body);
    }

    #[test]
    fn any_mutation_of_a_real_body_parses_or_is_refused_without_panicking(
        sample in any::<Index>(),
        at in any::<Index>(),
        replacement in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let Some(samples) = real_samples() else { return Ok(()) };
        let mut body = sample.get(samples).body.clone();
        let position = at.index(body.len());
        body.splice(position..(position + 4).min(body.len()), replacement);
        if let Ok(event) = parse_event(&body) {
            let _ = (event.charge(), event.refund(), event.order());
        }
    }

    #[test]
    fn any_bytes_as_a_public_key_are_read_or_refused_without_panicking(pem in public_key_like()) {
        let _ = WebhookVerifier::from_pem(&pem);
    }
}

/// Arbitrary bytes, and PEM armour around arbitrary or damaged key DER.
fn public_key_like() -> impl Strategy<Value = Vec<u8>> {
    let armoured = |label: &'static str, der: Vec<u8>| {
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", BASE64.encode(der)).into_bytes()
    };
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1024),
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(move |der| armoured("PUBLIC KEY", der)),
        (any::<Index>(), any::<u8>()).prop_map(move |(at, flip)| {
            let mut der = keys::public_key_der();
            let position = at.index(der.len());
            der[position] ^= flip;
            armoured("RSA PUBLIC KEY", der)
        }),
        any::<Index>().prop_map(move |cut| {
            let der = keys::public_key_der();
            armoured("RSA PUBLIC KEY", der[..cut.index(der.len())].to_vec())
        }),
    ]
}
