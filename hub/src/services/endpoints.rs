//! Merchant webhook endpoints and their signing secrets: minting one, rotating it with an
//! overlap window, the signatures a delivery carries, and keeping stored secrets encrypted.
//!
//! During a rotation's overlap a delivery carries two signatures (Standard Webhooks allows a
//! space-separated list in `webhook-signature`), so a receiver that still verifies with the
//! previous secret and one that already has the new one both accept it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use payhub_core::Mode;
use payhub_core::id::WebhookEndpointId;
use payhub_store::{Database, EndpointSecrets, EndpointStatus, NewWebhookEndpoint, StoreError, WebhookEndpoint};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::{Reservation, ServiceError};
use crate::app::Hub;
use crate::encryption::{SecretsAtRest, Unreadable};

/// How long the replaced secret keeps signing when a rotation does not say.
pub const DEFAULT_OVERLAP: Duration = Duration::hours(24);
/// The longest overlap: two valid secrets for longer than a week would make a leaked one
/// worth keeping.
pub const MAX_OVERLAP: Duration = Duration::days(7);
/// Rotations racing on one endpoint: each reads the endpoint again after losing.
const ROTATION_ATTEMPTS: usize = 5;
/// The key check for the key that encrypts endpoint secrets.
const KEY_CHECK_PURPOSE: &str = "endpoint_secrets";

/// An endpoint with its current secret in clear, for the one answer that shows it.
pub struct Revealed {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// What a merchant registers.
pub struct EndpointRegistration {
    pub mode: Mode,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

pub async fn create_endpoint(hub: &Hub, registration: EndpointRegistration) -> Result<Revealed, ServiceError> {
    let now = hub.clock.now();
    let id = WebhookEndpointId::generate(&hub.ids, now);
    let secret = new_secret();
    let new = NewWebhookEndpoint {
        secret: hub.settings.secrets.protect(&secret, id.as_str()),
        id,
        mode: registration.mode,
        url: registration.url,
        event_types: registration.event_types,
        description: registration.description,
    };
    let endpoint = hub.db.create_endpoint(new, now).await?;
    Ok(Revealed { endpoint, secret })
}

/// Gives the endpoint a new secret; the one it replaces keeps signing for `overlap` (none
/// when zero). A secret still in the overlap of an earlier rotation stops signing at once.
///
/// A request resumed after its process died finds its own rotation done and answers with it:
/// rotating again would end the overlap of the secret receivers still use.
pub async fn rotate_secret(
    hub: &Hub,
    mode: Mode,
    id: &WebhookEndpointId,
    overlap: Duration,
    reservation: &Reservation,
) -> Result<Revealed, ServiceError> {
    let secret = new_secret();
    let secrets = &hub.settings.secrets;
    let request = reservation.request_id.as_str();
    for _ in 0..ROTATION_ATTEMPTS {
        let endpoint = hub
            .db
            .endpoint(mode, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { resource: "webhook endpoint", id: id.to_string() })?;
        if reservation.resumed && endpoint.secret_rotated_by.as_deref() == Some(request) {
            let secret = secrets.reveal(&endpoint.secret, id.as_str()).map_err(|e| unreadable(id, e))?;
            return Ok(Revealed { endpoint, secret });
        }
        let now = hub.clock.now();
        let previous = if overlap > Duration::zero() {
            // Written again, so a plaintext secret from before the key was set is encrypted now.
            let current = secrets.reveal(&endpoint.secret, id.as_str()).map_err(|e| unreadable(id, e))?;
            Some(secrets.protect(&current, id.as_str()))
        } else {
            None
        };
        let replacement = EndpointSecrets {
            secret: secrets.protect(&secret, id.as_str()),
            previous_secret_expires_at: previous.as_ref().map(|_| now + overlap),
            previous_secret: previous,
            rotated_by: Some(request.to_owned()),
        };
        if hub.db.replace_endpoint_secrets(id, &endpoint.secret, &replacement, now).await? {
            let endpoint = WebhookEndpoint {
                secret: replacement.secret,
                previous_secret: replacement.previous_secret,
                previous_secret_expires_at: replacement.previous_secret_expires_at,
                secret_rotated_by: replacement.rotated_by,
                updated_at: now,
                ..endpoint
            };
            return Ok(Revealed { endpoint, secret });
        }
    }
    Err(ServiceError::Store(StoreError::Conflict(format!("webhook endpoint {id}'s secret"))))
}

/// Turns an endpoint of `mode` off (`disabled_because` kept beside it) or, given none, on again.
/// Disabling fails its waiting deliveries in the same transaction, and the dispatcher drops
/// those it holds at its next claim (woken here, so at once on this instance); enabling sends
/// it the events created from then on (a replay sends what it missed). An endpoint already in
/// that state is left as it is, so a disabled endpoint keeps the reason it was disabled for.
pub async fn set_enabled(
    hub: &Hub,
    mode: Mode,
    id: &WebhookEndpointId,
    disabled_because: Option<&str>,
) -> Result<WebhookEndpoint, ServiceError> {
    let not_found = || ServiceError::NotFound { resource: "webhook endpoint", id: id.to_string() };
    let endpoint = hub.db.endpoint(mode, id).await?.ok_or_else(not_found)?;
    let (status, reason) = match disabled_because {
        None => (EndpointStatus::Enabled, None),
        Some(reason) => (EndpointStatus::Disabled, Some(reason)),
    };
    if endpoint.status == status {
        return Ok(endpoint);
    }
    if !hub.db.set_endpoint_status(id, status, reason, hub.clock.now()).await? {
        return Err(not_found());
    }
    hub.signals.outbox.notify_one();
    hub.db.endpoint(mode, id).await?.ok_or_else(not_found)
}

fn unreadable(id: &WebhookEndpointId, error: Unreadable) -> ServiceError {
    ServiceError::Store(StoreError::Corrupt(format!("the secret of webhook endpoint {id} cannot be read: {error}")))
}

/// `whsec_` and 24 random bytes in base64, as Standard Webhooks libraries expect.
fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    SystemRandom::new().fill(&mut bytes).expect("the operating system's random source failed");
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The secrets that sign one delivery: the endpoint's current secret, and the one its last
/// rotation replaced while that one's overlap lasts.
pub struct DeliverySigner {
    secrets: Vec<String>,
}

impl DeliverySigner {
    /// The signer for a delivery sent at `sent_at` (the clock's time, so a moved test clock
    /// ends an overlap).
    pub fn of(secrets: &SecretsAtRest, endpoint: &WebhookEndpoint, sent_at: DateTime<Utc>) -> Result<Self, Unreadable> {
        let row = endpoint.id.as_str();
        let mut signing = vec![secrets.reveal(&endpoint.secret, row)?];
        if let (Some(previous), Some(expires_at)) = (&endpoint.previous_secret, endpoint.previous_secret_expires_at)
            && sent_at < expires_at
        {
            signing.push(secrets.reveal(previous, row)?);
        }
        Ok(Self { secrets: signing })
    }

    /// The `webhook-signature` header: one `v1,…` entry per secret, space-separated, the
    /// current secret's first.
    pub fn signature_header(&self, message_id: &str, timestamp: &str, body: &[u8]) -> String {
        let signatures: Vec<String> =
            self.secrets.iter().map(|secret| sign(secret, message_id, timestamp, body)).collect();
        signatures.join(" ")
    }
}

/// Standard Webhooks: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the
/// key is the base64 part of the `whsec_` secret.
pub fn sign(secret: &str, message_id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut context = hmac::Context::with_key(&signing_key(secret));
    context.update(message_id.as_bytes());
    context.update(b".");
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

/// Whether a `webhook-signature` header holds a signature of the message by `secret`: any of
/// its space-separated entries (two during a rotation's overlap), compared in constant time.
pub fn signature_header_matches(secret: &str, message_id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = signing_key(secret);
    let message = [message_id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    header
        .split(' ')
        .filter_map(|entry| STANDARD.decode(entry.strip_prefix("v1,")?).ok())
        .any(|tag| hmac::verify(&key, &message, &tag).is_ok())
}

/// The HMAC key of a `whsec_` secret: its base64 part decoded (taken as it is if not base64).
fn signing_key(secret: &str) -> hmac::Key {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key_bytes = STANDARD.decode(encoded).unwrap_or_else(|_| encoded.as_bytes().to_vec());
    hmac::Key::new(hmac::HMAC_SHA256, &key_bytes)
}

/// Why a process cannot use the endpoint secrets in its database.
#[derive(Debug, thiserror::Error)]
pub enum SecretsAtStart {
    #[error(
        "security.encryption_key is not the key this database's webhook endpoint secrets were encrypted \
         with; configure that key (every instance sharing the database needs the same one)"
    )]
    WrongKey,
    #[error(
        "this database's webhook endpoint secrets are encrypted and no security.encryption_key is \
         configured; set it (or PAYHUB_ENCRYPTION_KEY) to the key they were encrypted with"
    )]
    KeyMissing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Run before serving (and by `payhub migrate`): refuses a key other than the one the
/// database's secrets are encrypted with, or no key when they are encrypted, so deliveries are
/// never signed with garbage; then encrypts secrets still stored in plaintext. Returns how many
/// endpoints it encrypted.
pub async fn prepare_stored_secrets(
    db: &Database,
    secrets: &SecretsAtRest,
    now: DateTime<Utc>,
) -> Result<usize, SecretsAtStart> {
    let recorded = db.key_check(KEY_CHECK_PURPOSE).await?;
    let Some(check_value) = secrets.key_check_value() else {
        let encrypted = db.all_endpoints().await?.iter().any(|e| {
            SecretsAtRest::is_encrypted(&e.secret)
                || e.previous_secret.as_deref().is_some_and(SecretsAtRest::is_encrypted)
        });
        return if recorded.is_some() || encrypted { Err(SecretsAtStart::KeyMissing) } else { Ok(0) };
    };
    let recorded = match recorded {
        Some(recorded) => recorded,
        None => db.record_key_check(KEY_CHECK_PURPOSE, &check_value, now).await?,
    };
    if !secrets.matches_key_check(&recorded) {
        return Err(SecretsAtStart::WrongKey);
    }
    let mut encrypted = 0;
    for endpoint in db.all_endpoints().await? {
        let plaintext = |value: &str| !SecretsAtRest::is_encrypted(value);
        if !plaintext(&endpoint.secret) && !endpoint.previous_secret.as_deref().is_some_and(plaintext) {
            continue;
        }
        let row = endpoint.id.as_str();
        let protect = |value: &str| if plaintext(value) { secrets.protect(value, row) } else { value.to_owned() };
        let replacement = EndpointSecrets {
            secret: protect(&endpoint.secret),
            previous_secret: endpoint.previous_secret.as_deref().map(protect),
            previous_secret_expires_at: endpoint.previous_secret_expires_at,
            rotated_by: endpoint.secret_rotated_by.clone(),
        };
        // A rotation meanwhile wrote its secrets encrypted already.
        if db.replace_endpoint_secrets(&endpoint.id, &endpoint.secret, &replacement, now).await? {
            encrypted += 1;
        }
    }
    Ok(encrypted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification.
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_signature_header_matches_when_any_entry_is_the_secrets() {
        let (secret, other) = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2Vjb25kIHNlY3JldCBmb3IgdGVzdHM=");
        let (id, timestamp, body) =
            ("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", br#"{"test": 2432232314}"#.as_slice());
        let both = format!("{} {}", sign(other, id, timestamp, body), sign(secret, id, timestamp, body));
        assert!(signature_header_matches(secret, id, timestamp, body, &both));
        assert!(signature_header_matches(other, id, timestamp, body, &both));
        let only_other = sign(other, id, timestamp, body);
        assert!(!signature_header_matches(secret, id, timestamp, body, &only_other));
        assert!(!signature_header_matches(secret, id, "1614265331", body, &both), "another timestamp");
        assert!(!signature_header_matches(secret, id, timestamp, body, ""));
        assert!(!signature_header_matches(secret, id, timestamp, body, "v1,not base64 v2,"));
    }
}
