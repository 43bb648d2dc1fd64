//! The RSA keys of the Ping++ simulator and the two signatures Ping++ uses.
//!
//! - Webhooks: `X-Pingplusplus-Signature` is base64 RSA PKCS#1 v1.5 SHA-256 over the raw body,
//!   made with Ping++'s key; merchants verify it with the public key from Ping++'s dashboard. The
//!   simulator signs with its own pair in `sandbox/keys/pingpp_platform*` ([`pingpp_public_key_pem`]).
//! - Requests (optional, per account): `Pingplusplus-Signature` is base64 RSA PKCS#1 v1.5
//!   SHA-256, made with the merchant's private key, over the raw body (empty for GET and DELETE),
//!   then the request URI (path with `/v1` and `?query`), then `Pingplusplus-Request-Timestamp`,
//!   with no separators. The merchant uploads the public key; Ping++ checks POST and PUT.

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};

const PLATFORM_KEY_PKCS8: &[u8] = include_bytes!("../../keys/pingpp_platform.key.pk8.der");
const PLATFORM_PUBLIC_KEY_PEM: &[u8] = include_bytes!("../../keys/pingpp_platform_public_key.pem");
const MERCHANT_PRIVATE_KEY_PEM: &[u8] = include_bytes!("../../keys/pingpp_merchant_private_key.pem");
const MERCHANT_PUBLIC_KEY_PEM: &[u8] = include_bytes!("../../keys/pingpp_merchant_public_key.pem");

/// DER of the rsaEncryption algorithm identifier's OID, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// ring verifies PKCS#1 v1.5 SHA-256 signatures of 2048 to 8192-bit keys; smaller keys are
/// refused when uploaded, not at the first request.
const MIN_MERCHANT_KEY_BITS: usize = 2048;
const MAX_MERCHANT_KEY_BITS: usize = 8192;

/// The simulator's stand-in for Ping++'s public key (SubjectPublicKeyInfo PEM): what a webhook
/// verifier trusts in sandbox mode, and never in live mode.
pub fn pingpp_public_key_pem() -> &'static [u8] {
    PLATFORM_PUBLIC_KEY_PEM
}

/// A default merchant private key (PKCS#8 PEM), so a sandbox setup can sign requests out of
/// the box. Public test material: never use it with the real Ping++.
pub fn pingpp_merchant_private_key_pem() -> &'static [u8] {
    MERCHANT_PRIVATE_KEY_PEM
}

/// The public half of [`pingpp_merchant_private_key_pem`] (SubjectPublicKeyInfo PEM).
pub fn pingpp_merchant_public_key_pem() -> &'static [u8] {
    MERCHANT_PUBLIC_KEY_PEM
}

/// What a request signature covers: raw body, request URI, timestamp, concatenated.
pub fn request_signing_bytes(body: &[u8], request_uri: &str, timestamp: &str) -> Vec<u8> {
    let mut signed = Vec::with_capacity(body.len() + request_uri.len() + timestamp.len());
    signed.extend_from_slice(body);
    signed.extend_from_slice(request_uri.as_bytes());
    signed.extend_from_slice(timestamp.as_bytes());
    signed
}

/// The key webhooks are signed with.
pub struct PlatformKey {
    key_pair: RsaKeyPair,
    rng: SystemRandom,
}

impl PlatformKey {
    pub fn load() -> anyhow::Result<Self> {
        let key_pair = RsaKeyPair::from_pkcs8(PLATFORM_KEY_PKCS8)
            .map_err(|error| anyhow!("sandbox/keys/pingpp_platform.key.pk8.der is not a usable RSA key: {error}"))?;
        Ok(Self { key_pair, rng: SystemRandom::new() })
    }

    /// Base64 RSA-PKCS1v15-SHA256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<String> {
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| anyhow!("RSA signing of a webhook failed"))?;
        Ok(BASE64.encode(signature))
    }
}

/// A merchant's uploaded public key, checked when uploaded.
#[derive(Debug, Clone)]
pub struct MerchantPublicKey {
    pem: String,
    /// PKCS#1 `RSAPublicKey` DER, the form ring verifies with.
    rsa_public_key: Vec<u8>,
}

impl MerchantPublicKey {
    /// Reads a `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) or `BEGIN RSA PUBLIC KEY` (PKCS#1) PEM.
    pub fn parse(pem: &str) -> Result<Self, String> {
        let (label, der) = pem_block(pem)?;
        let rsa_public_key = match label.as_str() {
            "PUBLIC KEY" => rsa_key_from_spki(&der)?,
            "RSA PUBLIC KEY" => der,
            other => {
                return Err(format!(
                    "expected a PEM public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY), got BEGIN {other}"
                ));
            }
        };
        let bits = modulus_bits(&rsa_public_key)?;
        if !(MIN_MERCHANT_KEY_BITS..=MAX_MERCHANT_KEY_BITS).contains(&bits) {
            return Err(format!(
                "the RSA key has {bits} bits; request signing needs {MIN_MERCHANT_KEY_BITS} to {MAX_MERCHANT_KEY_BITS}"
            ));
        }
        Ok(Self { pem: pem.trim().to_owned(), rsa_public_key })
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    pub fn verify(&self, message: &[u8], signature_base64: &str) -> bool {
        let Ok(signature) = BASE64.decode(signature_base64.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.rsa_public_key)
            .verify(message, &signature)
            .is_ok()
    }
}

/// The label and decoded contents of the first PEM block in `text`.
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let begin = text.find("-----BEGIN ").ok_or("no PEM block (-----BEGIN …-----) found")?;
    let after_begin = &text[begin + "-----BEGIN ".len()..];
    let label_end = after_begin.find("-----").ok_or("the PEM BEGIN line is not closed")?;
    let label = after_begin[..label_end].to_owned();
    let body = &after_begin[label_end + "-----".len()..];
    let end_marker = format!("-----END {label}-----");
    let end = body.find(&end_marker).ok_or_else(|| format!("no {end_marker} line"))?;
    let base64: String = body[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = BASE64.decode(base64).map_err(|error| format!("the PEM body is not base64: {error}"))?;
    Ok((label, der))
}

/// One DER element: its tag and contents, and what follows it.
fn der_element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let malformed = || "malformed DER in the public key".to_owned();
    let (&tag, rest) = input.split_first().ok_or_else(malformed)?;
    let (&first, rest) = rest.split_first().ok_or_else(malformed)?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(malformed());
        }
        let length = rest[..count].iter().fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return Err(malformed());
    }
    Ok((tag, &rest[..length], &rest[length..]))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OBJECT_IDENTIFIER: u8 = 0x06;

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE { OID, params }, BIT STRING }`; the
/// bit string holds the PKCS#1 `RSAPublicKey`.
fn rsa_key_from_spki(der: &[u8]) -> Result<Vec<u8>, String> {
    let (tag, info, _) = der_element(der)?;
    if tag != SEQUENCE {
        return Err("the public key is not a SubjectPublicKeyInfo".to_owned());
    }
    let (tag, algorithm, rest) = der_element(info)?;
    let (oid_tag, oid, _) = der_element(algorithm)?;
    if tag != SEQUENCE || oid_tag != OBJECT_IDENTIFIER || oid != RSA_ENCRYPTION_OID {
        return Err("the public key is not an RSA key".to_owned());
    }
    let (tag, bits, _) = der_element(rest)?;
    match bits.split_first() {
        Some((0, key)) if tag == BIT_STRING => Ok(key.to_vec()),
        _ => Err("malformed DER in the public key".to_owned()),
    }
}

/// The size of the modulus of a PKCS#1 `RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }`.
fn modulus_bits(rsa_public_key: &[u8]) -> Result<usize, String> {
    let (tag, key, _) = der_element(rsa_public_key)?;
    let (n_tag, modulus, rest) = der_element(key)?;
    let (e_tag, _, _) = der_element(rest)?;
    if tag != SEQUENCE || n_tag != INTEGER || e_tag != INTEGER {
        return Err("the public key is not an RSA public key".to_owned());
    }
    let significant: &[u8] = match modulus.iter().position(|byte| *byte != 0) {
        Some(start) => &modulus[start..],
        None => return Err("the RSA modulus is zero".to_owned()),
    };
    let leading = significant[0].leading_zeros() as usize;
    Ok(significant.len() * 8 - leading)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant_key_pair() -> RsaKeyPair {
        let pem = std::str::from_utf8(pingpp_merchant_private_key_pem()).unwrap();
        let (label, der) = pem_block(pem).unwrap();
        assert_eq!(label, "PRIVATE KEY", "the merchant key is PKCS#8");
        RsaKeyPair::from_pkcs8(&der).unwrap()
    }

    fn sign(key: &RsaKeyPair, message: &[u8]) -> String {
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature).unwrap();
        BASE64.encode(signature)
    }

    #[test]
    fn the_committed_merchant_public_key_verifies_its_private_keys_signatures() {
        let public = MerchantPublicKey::parse(std::str::from_utf8(pingpp_merchant_public_key_pem()).unwrap()).unwrap();
        let message = request_signing_bytes(b"{\"amount\":100}", "/v1/charges", "1500000000");
        let signature = sign(&merchant_key_pair(), &message);
        assert!(public.verify(&message, &signature));
        assert!(!public.verify(b"{\"amount\":101}/v1/charges1500000000", &signature));
        assert!(!public.verify(&message, "not base64!"));
    }

    #[test]
    fn a_pkcs1_public_key_pem_is_accepted_too() {
        let spki = std::str::from_utf8(pingpp_merchant_public_key_pem()).unwrap();
        let (_, der) = pem_block(spki).unwrap();
        let pkcs1 = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            BASE64.encode(rsa_key_from_spki(&der).unwrap())
        );
        let public = MerchantPublicKey::parse(&pkcs1).unwrap();
        let signature = sign(&merchant_key_pair(), b"message");
        assert!(public.verify(b"message", &signature));
    }

    #[test]
    fn the_platform_key_signs_what_its_published_public_key_verifies() {
        let key = PlatformKey::load().unwrap();
        let signature = key.sign(b"{\"id\":\"evt_1\"}").unwrap();
        let public = MerchantPublicKey::parse(std::str::from_utf8(pingpp_public_key_pem()).unwrap()).unwrap();
        assert!(public.verify(b"{\"id\":\"evt_1\"}", &signature));
    }

    #[test]
    fn garbage_and_private_keys_are_refused_with_a_reason() {
        for input in [
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
        ] {
            assert!(MerchantPublicKey::parse(input).is_err(), "{input:?}");
        }
        let private = std::str::from_utf8(pingpp_merchant_private_key_pem()).unwrap();
        assert!(MerchantPublicKey::parse(private).unwrap_err().contains("PRIVATE KEY"));
    }
}
