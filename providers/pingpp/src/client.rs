//! The client handle. Endpoint methods live next to their types in `charge`, `refund`,
//! `order` and `event`.

use std::fmt;
use std::sync::Arc;

use crate::config::ClientConfig;
use crate::error::PingppError;
use crate::http::Api;
use crate::types::ListParams;

/// A Ping++ REST client for one app. Cheap to clone: clones share the HTTP connection pool
/// and the parsed signing key.
#[derive(Clone)]
pub struct PingppClient {
    pub(crate) api: Arc<Api>,
}

impl PingppClient {
    /// A client with its own HTTP client (see [`default_http_client`]). Fails when the base URL,
    /// app id or secret key is unusable ([`PingppError::Transport`]) or the private key cannot
    /// be read ([`PingppError::Signing`]).
    pub fn new(config: ClientConfig) -> Result<Self, PingppError> {
        Self::with_http_client(config, default_http_client()?)
    }

    /// A client that sends through `http`, e.g. one that trusts a local simulator's CA. The
    /// client's own timeout and redirect policy apply in addition to `config.timeout`.
    pub fn with_http_client(config: ClientConfig, http: reqwest::Client) -> Result<Self, PingppError> {
        Ok(Self { api: Arc::new(Api::new(config, http)?) })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.api.base_url().as_str()
    }

    /// The app charges are created in and listed from.
    pub fn app_id(&self) -> &str {
        self.api.app_id()
    }

    /// Whether requests carry `Pingplusplus-Signature`.
    pub fn signs_requests(&self) -> bool {
        self.api.signs_requests()
    }

    /// The app a new charge or order goes into: the request's own, else the configured one.
    pub(crate) fn app_or_configured(&self, requested: &Option<String>) -> String {
        requested.clone().unwrap_or_else(|| self.app_id().to_owned())
    }

    /// A list query confined to the configured app, then `params`. Ping++ names the app
    /// parameter per resource: `app[id]` for charges, `app` for orders.
    pub(crate) fn app_scoped_query(&self, app_parameter: &str, params: &ListParams) -> Vec<(String, String)> {
        let mut query = vec![(app_parameter.to_owned(), self.app_id().to_owned())];
        query.extend(params.to_pairs());
        query
    }
}

impl fmt::Debug for PingppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PingppClient")
            .field("base_url", &self.base_url())
            .field("app_id", &self.app_id())
            .field("signs_requests", &self.signs_requests())
            .finish_non_exhaustive()
    }
}

/// An HTTP client suited to Ping++: rustls with the *ring* provider and no redirects (Ping++'s
/// API never redirects, and a redirect must not carry the secret key elsewhere).
///
/// If the process has not installed a default rustls crypto provider yet, this installs *ring*.
pub fn default_http_client() -> Result<reqwest::Client, PingppError> {
    payhub_provider_kit::provider_http_client(concat!("payhub-pingpp/", env!("CARGO_PKG_VERSION")))
        .map_err(|e| PingppError::Transport(format!("could not build the HTTP client: {e}")))
}
