//! PayPal's webhook signature, made with the sandbox's own key.
//!
//! PayPal signs `transmission_id|transmission_time|webhook_id|crc32` (CRC-32 of the exact body
//! bytes, as an unsigned decimal) with RSA PKCS#1 v1.5 over SHA-256 and publishes the certificate
//! at the `PAYPAL-CERT-URL`. The sandbox does the same with the key pair in `sandbox/keys/`,
//! issued by its own CA for [`PAYPAL_CERT_SUBJECT_NAME`]. A verifier in sandbox mode trusts that
//! CA ([`paypal_trust_anchor_pem`]); in live mode it must never do so.

use anyhow::{Context, anyhow};
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};

use super::errors::ApiError;

/// The name the sandbox's signing certificate is issued for, in the image of PayPal's
/// `messageverificationcerts.paypal.com`.
pub const PAYPAL_CERT_SUBJECT_NAME: &str = "messageverificationcerts.payhub-sandbox.test";

const SIGNING_CERT_PEM: &[u8] = include_bytes!("../../keys/signing.crt.pem");
const CA_CERT_PEM: &[u8] = include_bytes!("../../keys/ca.crt.pem");
const SIGNING_KEY_PKCS8: &[u8] = include_bytes!("../../keys/signing.key.pk8.der");

/// The sandbox CA, which a webhook verifier trusts in sandbox mode (and only there).
pub fn paypal_trust_anchor_pem() -> &'static [u8] {
    CA_CERT_PEM
}

/// The certificate webhooks are signed with (the first certificate served at the cert URL).
pub fn paypal_signing_cert_pem() -> &'static [u8] {
    SIGNING_CERT_PEM
}

/// `transmission_id|transmission_time|webhook_id|crc32(body)`.
pub fn signed_string(transmission_id: &str, transmission_time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!("{transmission_id}|{transmission_time}|{webhook_id}|{}", crc32fast::hash(body))
}

pub struct SigningKey {
    key_pair: RsaKeyPair,
    rng: SystemRandom,
    cert_id: String,
}

impl SigningKey {
    pub fn load() -> anyhow::Result<Self> {
        let key_pair = RsaKeyPair::from_pkcs8(SIGNING_KEY_PKCS8)
            .map_err(|error| anyhow!("sandbox/keys/signing.key.pk8.der is not a usable RSA key: {error}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, SIGNING_CERT_PEM);
        let hex: String = digest.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
        let cert_id = format!("CERT-{}-{}-{}", &hex[0..8], &hex[8..16], &hex[16..24]);
        Ok(Self { key_pair, rng: SystemRandom::new(), cert_id })
    }

    /// `CERT-…`, the last segment of the cert URL (derived from the certificate, so stable).
    pub fn cert_id(&self) -> &str {
        &self.cert_id
    }

    /// Base64 RSA-PKCS1v15-SHA256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<String> {
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| anyhow!("RSA signing failed"))
            .context("signing a webhook transmission")?;
        Ok(BASE64.encode(signature))
    }

    pub fn verify(&self, message: &[u8], signature_base64: &str) -> bool {
        let Ok(signature) = BASE64.decode(signature_base64) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, self.key_pair.public().as_ref())
            .verify(message, &signature)
            .is_ok()
    }
}

/// `GET /v1/notifications/certs/{cert_id}`: the signing certificate followed by the CA, as PEM.
/// Like PayPal's, the cert URL needs no token: verifiers fetch it before they hold one.
pub async fn serve_cert(key: &SigningKey, Path(cert_id): Path<String>) -> Response {
    if cert_id != key.cert_id() {
        return ApiError::v1_not_found().into_response();
    }
    let mut chain = SIGNING_CERT_PEM.to_vec();
    if !chain.ends_with(b"\n") {
        chain.push(b'\n');
    }
    chain.extend_from_slice(CA_CERT_PEM);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-pem-file")], chain).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let key = SigningKey::load().unwrap();
        let message =
            signed_string("69cd13f0-d67a-11e5-baa3-778b53f4ae55", "2016-02-18T20:01:35Z", "1JE4291016473214C", b"{}");
        let signature = key.sign(message.as_bytes()).unwrap();
        assert!(key.verify(message.as_bytes(), &signature));
        assert!(!key.verify(b"another message", &signature));
        assert!(!key.verify(message.as_bytes(), "not base64!"));
    }

    #[test]
    fn the_signed_string_matches_paypals_for_every_fixture() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/paypal-webhook");
        let Ok(entries) = std::fs::read_dir(&fixtures) else {
            eprintln!("skipping: no PayPal webhook fixtures at {}", fixtures.display());
            return;
        };
        let mut checked = 0;
        for sample in entries.flatten().map(|entry| entry.path()).filter(|path| path.join("body.json").exists()) {
            let read = |name: &str| std::fs::read(sample.join(name)).unwrap();
            let headers: serde_json::Value = serde_json::from_slice(&read("headers.json")).unwrap();
            let webhook_id = String::from_utf8(read("webhook_id.txt")).unwrap();
            let expected = String::from_utf8(read("signed_string.txt")).unwrap();
            let ours = signed_string(
                headers["PAYPAL-TRANSMISSION-ID"].as_str().unwrap(),
                headers["PAYPAL-TRANSMISSION-TIME"].as_str().unwrap(),
                &webhook_id,
                &read("body.json"),
            );
            assert_eq!(ours, expected.trim_end(), "{}", sample.display());
            checked += 1;
        }
        assert!(checked > 0, "the fixture folder holds no samples");
    }

    #[test]
    fn the_cert_id_has_paypals_shape() {
        let id = SigningKey::load().unwrap().cert_id().to_owned();
        assert_eq!(id.len(), "CERT-360caa42-fca2a594-a5cafa77".len());
        assert!(id.starts_with("CERT-"));
    }
}
