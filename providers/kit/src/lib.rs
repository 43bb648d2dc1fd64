//! Plumbing the standalone provider clients (`payhub-paypal`, `payhub-pingpp`) have in common:
//! credentials that cannot be printed, status enums that survive values added by the provider,
//! checked base URLs with escaped path segments, an HTTP client that never follows a redirect,
//! and readable messages for failures that carry no provider error.
//!
//! Each client re-exports what its own API shows (e.g. `payhub_paypal::Secret`), so a program
//! that uses one client never has to name this crate.

mod endpoint;
mod secret;
mod transport;
mod wire_enum;

pub use endpoint::{InvalidBaseUrl, endpoint, parse_base_url};
pub use secret::Secret;
pub use transport::{describe_unexpected_body, describe_with_causes, provider_http_client};
