//! Where the client talks to and with which credentials.

use std::time::Duration;

pub use payhub_provider_kit::Secret;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_output_does_not_contain_the_client_secret() {
        let config = ClientConfig::new(SANDBOX_BASE_URL, "client-id", "s3cr3t-value");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t-value"), "{printed}");
        assert!(printed.contains("client-id"));
    }
}
