//! Webhook notifications: Ping++ POSTs an [`Event`](crate::Event) as JSON and signs the raw body
//! bytes with RSA-SHA256 (PKCS#1 v1.5) under its own key, sending base64 of the signature in
//! `X-Pingplusplus-Signature`. The public half is in the Ping++ dashboard.
//!
//! Verify the bytes exactly as received, before any parsing or re-encoding: a body parsed and
//! serialised again (key order, escaped non-ASCII such as `公司`) no longer matches.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

use crate::error::VerifyError;
use crate::keys::public_keys_from_pem;

/// The header carrying the webhook signature (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-pingplusplus-signature";

/// Checks webhook signatures against Ping++'s RSA public key(s).
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    /// PKCS#1 `RSAPublicKey` DER of each trusted key.
    keys: Vec<Vec<u8>>,
}

impl WebhookVerifier {
    /// Reads every RSA public key in `pem`, as SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, the form
    /// the dashboard shows) or PKCS#1 (`BEGIN RSA PUBLIC KEY`). Several keys may be given, e.g.
    /// the old and the new one while Ping++ rotates its key; a signature by any of them passes.
    pub fn from_pem(pem: &[u8]) -> Result<Self, VerifyError> {
        let keys = public_keys_from_pem(pem).map_err(VerifyError::BadKey)?;
        if let Some((_, bits)) = keys.iter().find(|(_, bits)| !(2048..=8192).contains(bits)) {
            return Err(VerifyError::BadKey(format!(
                "a {bits}-bit RSA key cannot be used; 2048 to 8192 bits are accepted"
            )));
        }
        Ok(Self { keys: keys.into_iter().map(|(der, _)| der).collect() })
    }

    /// Verifies `signature_base64` (the header value) over `body` (the raw request body).
    pub fn verify(&self, body: &[u8], signature_base64: &str) -> Result<(), VerifyError> {
        let signature = decode_signature(signature_base64)?;
        let signed_by_a_trusted_key = self
            .keys
            .iter()
            .any(|key| UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key).verify(body, &signature).is_ok());
        if signed_by_a_trusted_key { Ok(()) } else { Err(VerifyError::BadSignature) }
    }

    /// Like [`WebhookVerifier::verify`], for a header that may be absent or not text.
    pub fn verify_header(&self, body: &[u8], header: Option<&[u8]>) -> Result<(), VerifyError> {
        let header = header.ok_or(VerifyError::MissingSignature)?;
        let text = std::str::from_utf8(header)
            .map_err(|_| VerifyError::MalformedSignature("the header value is not ASCII text".into()))?;
        self.verify(body, text)
    }
}

fn decode_signature(signature_base64: &str) -> Result<Vec<u8>, VerifyError> {
    let text = signature_base64.trim();
    if text.is_empty() {
        return Err(VerifyError::MissingSignature);
    }
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .map_err(|e| VerifyError::MalformedSignature(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_blank_signature_is_missing_and_non_base64_is_malformed() {
        let verifier = WebhookVerifier::from_pem(include_bytes!("../tests/keys/merchant_rsa_public.pem")).expect("key");
        assert_eq!(verifier.verify(b"{}", ""), Err(VerifyError::MissingSignature));
        assert_eq!(verifier.verify(b"{}", "  \t"), Err(VerifyError::MissingSignature));
        assert_eq!(verifier.verify_header(b"{}", None), Err(VerifyError::MissingSignature));
        assert!(matches!(verifier.verify(b"{}", "not*base64!"), Err(VerifyError::MalformedSignature(_))));
        assert_eq!(verifier.verify(b"{}", "AAAA"), Err(VerifyError::BadSignature));
    }

    #[test]
    fn keys_that_are_not_rsa_public_keys_are_bad_keys() {
        for pem in [&b"garbage"[..], include_bytes!("../tests/keys/merchant_rsa_private_pkcs8.pem")] {
            assert!(matches!(WebhookVerifier::from_pem(pem), Err(VerifyError::BadKey(_))));
        }
    }
}
