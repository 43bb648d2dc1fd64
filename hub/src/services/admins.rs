//! Console operators: argon2 password hashes, and the random tokens of their sessions.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use payhub_store::Database;
use ring::rand::{SecureRandom, SystemRandom};

use super::ServiceError;

/// Shorter passwords are refused when an operator is created.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Operators are found by email, whatever its case.
pub fn normalize_email(email: &str) -> Result<String, ServiceError> {
    let email = email.trim().to_lowercase();
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace) => {
            Ok(email)
        }
        _ => Err(ServiceError::invalid("email", format!("`{email}` is not an email address"))),
    }
}

pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| ServiceError::invalid("password", format!("cannot be hashed: {e}")))
}

/// Whether `password` matches a stored hash; an unreadable hash matches nothing.
pub fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// Checks a login. An unknown email costs the same hashing as a known one, so the answer's
/// timing does not tell which operators exist.
pub async fn verify_login(db: &Database, email: &str, password: &str) -> Result<Option<String>, ServiceError> {
    static UNKNOWN_OPERATOR: OnceLock<String> = OnceLock::new();
    let Ok(email) = normalize_email(email) else { return Ok(None) };
    let stored = db.admin_password_hash(&email).await?;
    let known = stored.is_some();
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || {
        let hash = stored.unwrap_or_else(|| {
            UNKNOWN_OPERATOR.get_or_init(|| hash_password("no operator has this").unwrap_or_default()).clone()
        });
        password_matches(&password, &hash)
    })
    .await
    .unwrap_or(false);
    Ok((known && matches).then_some(email))
}

/// Creates an operator or sets a new password for one; returns the normalized email and
/// whether the operator is new.
pub async fn create_admin(
    db: &Database,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<(String, bool), ServiceError> {
    let email = normalize_email(email)?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ServiceError::invalid("password", format!("must be at least {MIN_PASSWORD_LEN} characters")));
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ServiceError::invalid("password", format!("cannot be hashed: {e}")))??;
    let created = db.upsert_admin(&email, &hash, now).await?;
    Ok((email, created))
}

/// 32 random bytes, URL-safe base64: a session token or a form's token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is unrecoverable; a session must never be guessable.
    SystemRandom::new().fill(&mut bytes).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares secrets without a timing that tells how much of a guess was right.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_matches_only_itself() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse battery!", &hash));
        assert!(!password_matches("correct horse battery", "not a hash"));
    }

    #[test]
    fn emails_are_compared_in_lower_case_and_must_look_like_emails() {
        assert_eq!(normalize_email(" Ops@Shop.Example ").unwrap(), "ops@shop.example");
        assert!(normalize_email("ops").is_err());
        assert!(normalize_email("@shop.example").is_err());
        assert!(normalize_email("ops@localhost").is_err());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
