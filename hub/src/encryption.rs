//! Encryption at rest of the secrets payhub must be able to read back: an endpoint's signing
//! secret signs every delivery, so unlike an API key it cannot be kept as a hash.
//!
//! With `[security] encryption_key` set, such a value is stored as `enc:v1:` followed by
//! base64(nonce ‖ AES-256-GCM ciphertext ‖ tag): a fresh random nonce per value, and the row
//! the value belongs to as associated data, so a value copied into another row does not open.
//! A value without the prefix is plaintext written before a key was configured: it stays
//! readable, and is encrypted on its next write or by `payhub migrate`.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The prefix of a value encrypted by this module; the version names the scheme, so a later
/// scheme can be read beside this one.
const PREFIX: &str = "enc:v1:";
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
/// What the key check value encrypts: opening it proves the configured key is the one the
/// database's secrets were encrypted with.
const KEY_CHECK_PLAINTEXT: &[u8] = b"payhub key check";
const KEY_CHECK_ROW: &str = "key check";

/// A 256-bit key, from `[security] encryption_key` (base64).
#[derive(Clone)]
pub struct EncryptionKey(Arc<LessSafeKey>);

impl EncryptionKey {
    /// Reads a base64 key of 32 bytes; the error says how to make one.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let how = "generate one with `openssl rand -base64 32`";
        let bytes =
            STANDARD.decode(text.trim()).map_err(|e| format!("security.encryption_key is not base64 ({e}); {how}"))?;
        if bytes.len() != KEY_LEN {
            return Err(format!(
                "security.encryption_key must be {KEY_LEN} bytes once base64-decoded, not {}; {how}",
                bytes.len()
            ));
        }
        let key =
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| format!("security.encryption_key is unusable; {how}"))?;
        Ok(Self(Arc::new(LessSafeKey::new(key))))
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

/// Why a stored secret cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error(
        "it is encrypted and no encryption key is configured; set security.encryption_key (or \
         PAYHUB_ENCRYPTION_KEY) to the key it was encrypted with"
    )]
    NoKey,
    #[error("it does not decrypt with the configured encryption key (another key, or the value was altered)")]
    WrongKey,
    #[error("it is not a value this version of payhub encrypted")]
    Malformed,
}

/// How secrets are kept: encrypted with a key, or (without one) as they are.
#[derive(Debug, Clone, Default)]
pub struct SecretsAtRest {
    key: Option<EncryptionKey>,
}

impl SecretsAtRest {
    pub fn encrypted_with(key: Option<EncryptionKey>) -> Self {
        Self { key }
    }

    pub fn encrypts(&self) -> bool {
        self.key.is_some()
    }

    /// Whether `stored` was written by [`SecretsAtRest::protect`] with a key.
    pub fn is_encrypted(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// The value to store for `secret`, which belongs to `row` (e.g. the endpoint id).
    pub fn protect(&self, secret: &str, row: &str) -> String {
        match &self.key {
            Some(key) => seal(key, secret.as_bytes(), row),
            None => secret.to_owned(),
        }
    }

    /// The secret a stored value holds; plaintext from before a key was set reads as it is.
    pub fn reveal(&self, stored: &str, row: &str) -> Result<String, Unreadable> {
        if !Self::is_encrypted(stored) {
            return Ok(stored.to_owned());
        }
        let key = self.key.as_ref().ok_or(Unreadable::NoKey)?;
        let plaintext = open(key, stored, row)?;
        String::from_utf8(plaintext).map_err(|_| Unreadable::Malformed)
    }

    /// [`SecretsAtRest::protect`] for bytes (a stored response that carries a secret).
    pub fn protect_bytes(&self, value: &[u8], row: &str) -> Vec<u8> {
        match &self.key {
            Some(key) => seal(key, value, row).into_bytes(),
            None => value.to_vec(),
        }
    }

    /// [`SecretsAtRest::reveal`] for bytes.
    pub fn reveal_bytes(&self, stored: &[u8], row: &str) -> Result<Vec<u8>, Unreadable> {
        if !stored.starts_with(PREFIX.as_bytes()) {
            return Ok(stored.to_vec());
        }
        let key = self.key.as_ref().ok_or(Unreadable::NoKey)?;
        let text = std::str::from_utf8(stored).map_err(|_| Unreadable::Malformed)?;
        open(key, text, row)
    }

    /// A fresh key check value for the configured key (none without a key).
    pub fn key_check_value(&self) -> Option<String> {
        self.key.as_ref().map(|key| seal(key, KEY_CHECK_PLAINTEXT, KEY_CHECK_ROW))
    }

    /// Whether the configured key opens `check_value`, recorded when the first key was set.
    pub fn matches_key_check(&self, check_value: &str) -> bool {
        self.key
            .as_ref()
            .is_some_and(|key| open(key, check_value, KEY_CHECK_ROW).is_ok_and(|p| p == KEY_CHECK_PLAINTEXT))
    }
}

fn seal(key: &EncryptionKey, plaintext: &[u8], row: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).expect("the operating system's random source failed");
    let mut sealed = plaintext.to_vec();
    // Only fails for inputs of more than 64 GiB.
    let tag = key
        .0
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(row.as_bytes()), &mut sealed)
        .expect("a secret is far below AES-GCM's length limit");
    let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len() + TAG_LEN);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    bytes.extend_from_slice(tag.as_ref());
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

fn open(key: &EncryptionKey, stored: &str, row: &str) -> Result<Vec<u8>, Unreadable> {
    let encoded = stored.strip_prefix(PREFIX).ok_or(Unreadable::Malformed)?;
    let mut bytes = STANDARD.decode(encoded).map_err(|_| Unreadable::Malformed)?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(Unreadable::Malformed);
    }
    let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN]).map_err(|_| Unreadable::Malformed)?;
    let plaintext = key
        .0
        .open_in_place(nonce, Aad::from(row.as_bytes()), &mut bytes[NONCE_LEN..])
        .map_err(|_| Unreadable::WrongKey)?;
    Ok(plaintext.to_vec())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const OTHER_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    fn with(key: &str) -> SecretsAtRest {
        SecretsAtRest::encrypted_with(Some(EncryptionKey::from_base64(key).unwrap()))
    }

    #[test]
    fn a_secret_is_stored_encrypted_with_a_fresh_nonce_and_reads_back() {
        let secrets = with(KEY);
        let first = secrets.protect("whsec_abc", "we_1");
        let second = secrets.protect("whsec_abc", "we_1");
        assert!(first.starts_with("enc:v1:") && !first.contains("whsec_abc"), "{first}");
        assert_ne!(first, second, "each value has its own nonce");
        assert_eq!(secrets.reveal(&first, "we_1").unwrap(), "whsec_abc");
    }

    #[test]
    fn plaintext_from_before_the_key_reads_as_it_is() {
        assert_eq!(with(KEY).reveal("whsec_abc", "we_1").unwrap(), "whsec_abc");
        assert_eq!(SecretsAtRest::default().protect("whsec_abc", "we_1"), "whsec_abc");
    }

    #[test]
    fn another_key_another_row_or_no_key_cannot_read_a_secret() {
        let stored = with(KEY).protect("whsec_abc", "we_1");
        assert_eq!(with(OTHER_KEY).reveal(&stored, "we_1"), Err(Unreadable::WrongKey));
        assert_eq!(with(KEY).reveal(&stored, "we_2"), Err(Unreadable::WrongKey));
        assert_eq!(SecretsAtRest::default().reveal(&stored, "we_1"), Err(Unreadable::NoKey));
    }

    #[test]
    fn the_key_check_tells_the_right_key_from_another() {
        let check = with(KEY).key_check_value().unwrap();
        assert!(with(KEY).matches_key_check(&check));
        assert!(!with(OTHER_KEY).matches_key_check(&check));
        assert!(!SecretsAtRest::default().matches_key_check(&check));
    }

    #[test]
    fn a_malformed_key_is_refused_with_how_to_make_one() {
        for (text, says) in [("not base64!", "not base64"), ("c2hvcnQ=", "must be 32 bytes")] {
            let error = EncryptionKey::from_base64(text).unwrap_err();
            assert!(error.contains(says) && error.contains("openssl rand -base64 32"), "{error}");
        }
    }

    proptest! {
        #[test]
        fn any_secret_round_trips(secret in ".*", row in "[a-z_0-9]{1,30}") {
            let secrets = with(KEY);
            prop_assert_eq!(secrets.reveal(&secrets.protect(&secret, &row), &row).unwrap(), secret);
        }

        #[test]
        fn any_altered_byte_is_refused(secret in ".{1,64}", position in any::<prop::sample::Index>(), flip in 1u8..) {
            let secrets = with(KEY);
            let stored = secrets.protect(&secret, "we_1");
            let mut bytes = STANDARD.decode(&stored[PREFIX.len()..]).unwrap();
            let at = position.index(bytes.len());
            bytes[at] ^= flip;
            let altered = format!("{PREFIX}{}", STANDARD.encode(bytes));
            prop_assert_eq!(secrets.reveal(&altered, "we_1"), Err(Unreadable::WrongKey));
        }

        #[test]
        fn any_stored_text_is_read_or_refused_without_panicking(stored in "(enc:v1:)?[A-Za-z0-9+/=]{0,80}") {
            let _ = with(KEY).reveal(&stored, "we_1");
        }
    }
}
