//! Ping++'s optional request signature.
//!
//! When a merchant uploads an RSA public key and turns verification on, Ping++ expects each
//! request to carry `Pingplusplus-Request-Timestamp` (unix seconds) and `Pingplusplus-Signature`:
//! base64 of an RSA PKCS#1 v1.5 SHA-256 signature over
//!
//! ```text
//! raw request body  ++  request URI  ++  timestamp
//! ```
//!
//! with no separators. The body is empty for GET and DELETE; the request URI is the path as sent
//! (with `/v1`) followed by `?` and the query string exactly as sent, if there is one; the
//! timestamp is the header's decimal text. This is what Ping++'s Go, Java and Python SDKs sign.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use crate::error::PingppError;
use crate::keys::{PrivateKeyDer, private_key_from_pem};

/// Header carrying the request signature.
pub const REQUEST_SIGNATURE_HEADER: &str = "Pingplusplus-Signature";
/// Header carrying the unix time the signature was made at.
pub const REQUEST_TIMESTAMP_HEADER: &str = "Pingplusplus-Request-Timestamp";

/// The merchant's RSA private key, ready to sign. Cheap to clone.
#[derive(Clone)]
pub struct RequestSigner {
    key: Arc<RsaKeyPair>,
    rng: SystemRandom,
}

impl RequestSigner {
    /// Reads a PKCS#1 (`BEGIN RSA PRIVATE KEY`) or unencrypted PKCS#8 (`BEGIN PRIVATE KEY`) RSA
    /// key of 2048 to 4096 bits.
    pub fn from_pem(pem: &[u8]) -> Result<Self, PingppError> {
        let key = match private_key_from_pem(pem).map_err(PingppError::Signing)? {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(&der),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(&der),
        }
        .map_err(|rejected| {
            PingppError::Signing(format!(
                "the private key was refused ({rejected}); an RSA key of 2048 to 4096 bits \
                 is needed (openssl genrsa 2048)"
            ))
        })?;
        Ok(Self { key: Arc::new(key), rng: SystemRandom::new() })
    }

    /// The base64 signature of `body ++ request_uri ++ timestamp`.
    pub fn sign(&self, body: &[u8], request_uri: &str, timestamp: i64) -> Result<String, PingppError> {
        let message = signed_payload(body, request_uri, timestamp);
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, &message, &mut signature)
            .map_err(|_| PingppError::Signing("RSA signing failed".into()))?;
        Ok(BASE64.encode(signature))
    }
}

impl fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestSigner(RSA-{})", self.key.public().modulus_len() * 8)
    }
}

/// The bytes Ping++ expects to be signed: `body ++ request_uri ++ timestamp`.
pub fn signed_payload(body: &[u8], request_uri: &str, timestamp: i64) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    let mut message = Vec::with_capacity(body.len() + request_uri.len() + timestamp.len());
    message.extend_from_slice(body);
    message.extend_from_slice(request_uri.as_bytes());
    message.extend_from_slice(timestamp.as_bytes());
    message
}

/// The `Pingplusplus-Signature` value for a request, for tests and simulators that need to
/// produce one by hand.
///
/// # Panics
///
/// Only if the operating system's random generator fails (ring blinds RSA signing with it);
/// [`RequestSigner::sign`] reports that as an error instead.
pub fn sign_request(private_key: &RequestSigner, body: &[u8], request_uri: &str, timestamp: i64) -> String {
    match private_key.sign(body, request_uri, timestamp) {
        Ok(signature) => signature,
        Err(error) => panic!("{error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_body_then_uri_then_decimal_timestamp_without_separators() {
        assert_eq!(
            signed_payload(
                br#"{"status":"canceled"}"#,
                "/v1/orders/2011609290000001291",
                1_735_689_600
            ),
            br#"{"status":"canceled"}/v1/orders/2011609290000001291"#
                .iter()
                .chain(b"1735689600")
                .copied()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            signed_payload(b"", "/v1/charges?app%5Bid%5D=app_1&limit=3", 7),
            b"/v1/charges?app%5Bid%5D=app_1&limit=37".to_vec()
        );
    }

    #[test]
    fn pkcs1_and_pkcs8_forms_of_one_key_sign_identically() {
        let pkcs1 =
            RequestSigner::from_pem(include_bytes!("../tests/keys/merchant_rsa_private_pkcs1.pem")).expect("pkcs1 key");
        let pkcs8 =
            RequestSigner::from_pem(include_bytes!("../tests/keys/merchant_rsa_private_pkcs8.pem")).expect("pkcs8 key");
        let a = pkcs1.sign(b"{}", "/v1/charges", 1).expect("sign");
        let b = pkcs8.sign(b"{}", "/v1/charges", 1).expect("sign");
        assert_eq!(a, b, "PKCS#1 v1.5 signatures are deterministic");
        assert_eq!(format!("{pkcs1:?}"), "RequestSigner(RSA-2048)");
    }

    #[test]
    fn keys_below_2048_bits_and_public_keys_are_refused_with_a_signing_error() {
        let weak = RequestSigner::from_pem(include_bytes!("../tests/keys/weak_rsa_1024_private_pkcs1.pem"));
        assert!(matches!(&weak, Err(PingppError::Signing(m)) if m.contains("2048")), "{weak:?}");
        let public = RequestSigner::from_pem(include_bytes!("../tests/keys/merchant_rsa_public.pem"));
        assert!(matches!(public, Err(PingppError::Signing(_))));
    }
}
