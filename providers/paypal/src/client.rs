//! The client handle. Endpoint methods live next to their types in `orders`, `payments` and
//! `webhooks::registry`.

use std::fmt;
use std::sync::Arc;

use crate::config::ClientConfig;
use crate::error::PaypalError;
use crate::http::Api;

/// A PayPal REST client for one account. Cheap to clone: clones share the HTTP connection pool
/// and the access token.
#[derive(Clone)]
pub struct PaypalClient {
    pub(crate) api: Arc<Api>,
}

impl PaypalClient {
    /// A client with its own HTTP client (see [`default_http_client`]).
    pub fn new(config: ClientConfig) -> Result<Self, PaypalError> {
        Self::with_http_client(config, default_http_client()?)
    }

    /// A client that sends through `http`, e.g. one that trusts a local simulator's CA. The
    /// client's own timeout and redirect policy apply in addition to `config.timeout`.
    pub fn with_http_client(config: ClientConfig, http: reqwest::Client) -> Result<Self, PaypalError> {
        Ok(Self { api: Arc::new(Api::new(config, http)?) })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.api.base_url().as_str()
    }
}

impl fmt::Debug for PaypalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalClient").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

/// An HTTP client suited to PayPal: rustls with the *ring* provider, no redirects (PayPal's API
/// never redirects, and a redirect must not carry a token or fetch a certificate elsewhere).
///
/// If the process has not installed a default rustls crypto provider yet, this installs *ring*.
pub fn default_http_client() -> Result<reqwest::Client, PaypalError> {
    payhub_provider_kit::provider_http_client(concat!("payhub-paypal/", env!("CARGO_PKG_VERSION")))
        .map_err(|e| PaypalError::Transport(format!("could not build the HTTP client: {e}")))
}
