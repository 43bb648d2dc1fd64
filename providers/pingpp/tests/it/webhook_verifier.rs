//! The webhook verifier with keys of our own: the key forms it reads, the header forms it
//! tolerates, and the keys it refuses.

use payhub_pingpp::{VerifyError, WebhookVerifier};

use crate::keys;

const BODY: &[u8] =
    r#"{"id":"evt_1","type":"charge.succeeded","data":{"object":{"object":"charge","subject":"会员"}}}"#.as_bytes();

#[test]
fn a_signature_verifies_under_the_spki_and_the_pkcs1_form_of_the_key() {
    let signature = keys::sign_with_test_key(BODY);
    for pem in [keys::PUBLIC_SPKI, keys::PUBLIC_PKCS1] {
        let verifier = WebhookVerifier::from_pem(pem).expect("public key");
        assert_eq!(verifier.verify(BODY, &signature), Ok(()));
        assert_eq!(verifier.verify(&BODY[1..], &signature), Err(VerifyError::BadSignature));
    }
}

#[test]
fn surrounding_whitespace_and_missing_padding_in_the_header_are_tolerated() {
    let verifier = WebhookVerifier::from_pem(keys::PUBLIC_SPKI).expect("key");
    let signature = keys::sign_with_test_key(BODY);
    assert_eq!(verifier.verify(BODY, &format!(" {signature}\r\n")), Ok(()));
    assert_eq!(verifier.verify(BODY, signature.trim_end_matches('=')), Ok(()));
    assert_eq!(verifier.verify_header(BODY, Some(signature.as_bytes())), Ok(()));
}

#[test]
fn an_absent_or_non_text_header_is_refused_with_its_own_code() {
    let verifier = WebhookVerifier::from_pem(keys::PUBLIC_SPKI).expect("key");
    let missing = verifier.verify_header(BODY, None).expect_err("absent");
    assert_eq!(missing.code(), "missing_signature");
    let garbled = verifier.verify_header(BODY, Some(&[0xff, 0xfe, 0x41])).expect_err("not text");
    assert_eq!(garbled.code(), "malformed_signature");
}

#[test]
fn a_key_below_2048_bits_is_refused_as_a_bad_key() {
    let weak = include_bytes!("../keys/weak_rsa_1024_public.pem");
    let error = WebhookVerifier::from_pem(weak).expect_err("1024 bits");
    assert!(matches!(&error, VerifyError::BadKey(m) if m.contains("1024")), "{error:?}");
}
