//! The committed throwaway test keys (see `tests/keys/README.md`), and a signature check that
//! uses ring directly, independent of the crate's own PEM and verification code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

pub const PRIVATE_PKCS1: &str = include_str!("../keys/merchant_rsa_private_pkcs1.pem");
pub const PRIVATE_PKCS8: &str = include_str!("../keys/merchant_rsa_private_pkcs8.pem");
pub const PUBLIC_SPKI: &[u8] = include_bytes!("../keys/merchant_rsa_public.pem");
pub const PUBLIC_PKCS1: &[u8] = include_bytes!("../keys/merchant_rsa_public_pkcs1.pem");

/// The test public key as a PKCS#1 `RSAPublicKey` DER: the base64 between the armour lines.
pub fn public_key_der() -> Vec<u8> {
    let text = std::str::from_utf8(PUBLIC_PKCS1).expect("ascii pem");
    let body: String = text.lines().filter(|line| !line.starts_with("-----")).collect();
    BASE64.decode(body).expect("pem body is base64")
}

/// Whether `signature_base64` is the test key's RSA PKCS#1 v1.5 SHA-256 signature of `message`.
pub fn signed_by_test_key(message: &[u8], signature_base64: &str) -> bool {
    let Ok(signature) = BASE64.decode(signature_base64) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der()).verify(message, &signature).is_ok()
}

/// `body ++ uri ++ timestamp`, spelled out here rather than taken from the crate.
pub fn concatenation(body: &[u8], uri: &str, timestamp: &str) -> Vec<u8> {
    [body, uri.as_bytes(), timestamp.as_bytes()].concat()
}

/// The test key's signature of `message`, made with ring from the PKCS#8 file directly.
pub fn sign_with_test_key(message: &[u8]) -> String {
    let body: String = PRIVATE_PKCS8.lines().filter(|line| !line.starts_with("-----")).collect();
    let der = BASE64.decode(body).expect("pem body is base64");
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("test key");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), message, &mut signature)
        .expect("sign");
    BASE64.encode(signature)
}
