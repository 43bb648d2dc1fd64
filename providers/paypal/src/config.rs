//! Where the client talks to and with which credentials.

use std::fmt;
use std::time::Duration;

/// PayPal's live REST host.
pub const LIVE_BASE_URL: &str = "https://api-m.paypal.com";
/// PayPal's sandbox REST host.
pub const SANDBOX_BASE_URL: &str = "https://api-m.sandbox.paypal.com";
/// Per-request timeout used by [`ClientConfig::new`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything [`crate::PaypalClient`] needs. The same client runs against live PayPal, the
/// sandbox or a local simulator: only `base_url` and the credentials differ.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme, host and optional path prefix, e.g. `https://api-m.paypal.com`.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Applies to every request, the token request included.
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A credential that never shows up in logs: `Debug` and `Display` print `[redacted]`, and the
/// value is reachable only through [`Secret::expose`], which makes every use easy to audit.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_in_debug_and_display_but_exposed_on_request() {
        let secret = Secret::new("s3cr3t-value");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.to_string(), "[redacted]");
        assert_eq!(secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn config_debug_output_does_not_contain_the_client_secret() {
        let config = ClientConfig::new(SANDBOX_BASE_URL, "client-id", "s3cr3t-value");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t-value"), "{printed}");
        assert!(printed.contains("client-id"));
    }
}
