//! Webhook notifications: headers, event envelope, local signature verification, webhook
//! management and PayPal's remote check.
//!
//! Two ways to trust a notification:
//! - locally, with [`WebhookVerifier`] (fetches and caches the signing certificate) or
//!   [`verify_with_cert_chain`] (caller supplies the chain): no call to PayPal per event;
//! - remotely, with [`crate::PaypalClient::verify_webhook_notification`]: one API call per event.

mod cert_url;
mod event;
mod headers;
mod registry;
mod validity;
mod verifier;
mod verify;

pub use cert_url::{LIVE_CERT_HOST, SANDBOX_CERT_HOST};
pub use event::{WebhookEvent, parse_webhook_event};
pub use headers::{AUTH_ALGO, CERT_URL, TRANSMISSION_ID, TRANSMISSION_SIG, TRANSMISSION_TIME, WebhookHeaders};
pub use registry::{EventTypeName, VerifyWebhookSignatureRequest, Webhook};
pub use verifier::{VerifierConfig, WebhookVerifier};
pub use verify::{
    LIVE_SIGNING_SUBJECT, SANDBOX_SIGNING_SUBJECT, SIGNATURE_ALGORITHM, TrustConfig, signed_string,
    verify_with_cert_chain,
};
