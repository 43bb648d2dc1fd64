//! Making API keys. The secret is shown once, at creation; only its hash is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use payhub_core::id::ApiKeyId;
use payhub_core::{IdGenerator, Mode};
use payhub_store::{ApiKeyRecord, Database, NewApiKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use super::ServiceError;

/// Hex SHA-256 of a key, as stored.
pub fn hash_secret(secret: &str) -> String {
    digest::digest(&digest::SHA256, secret.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh secret: `sk_{mode}_` and 32 random bytes, URL-safe base64.
pub fn new_secret(mode: Mode) -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is unrecoverable; an API key must never be predictable.
    SystemRandom::new().fill(&mut bytes).expect("the operating system's random source failed");
    format!("sk_{mode}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Creates a key; returns its record and the secret, which is not retrievable later.
pub async fn create_api_key(
    db: &Database,
    ids: &IdGenerator,
    now: DateTime<Utc>,
    mode: Mode,
    name: &str,
) -> Result<(ApiKeyRecord, String), ServiceError> {
    let secret = new_secret(mode);
    let new = NewApiKey {
        id: ApiKeyId::generate(ids, now),
        mode,
        name: name.to_owned(),
        secret_hash: hash_secret(&secret),
        secret_hint: secret[secret.len() - 4..].to_owned(),
    };
    let record = db.create_api_key(new, now).await?;
    Ok((record, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_by_mode_and_unique() {
        let a = new_secret(Mode::Test);
        assert!(a.starts_with("sk_test_"));
        assert_eq!(a.len(), "sk_test_".len() + 43);
        assert_ne!(a, new_secret(Mode::Test));
        assert_eq!(hash_secret("x").len(), 64);
    }
}
