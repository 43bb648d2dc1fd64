//! OAuth2 client-credentials tokens, cached and shared.
//!
//! A PayPal access token lives for hours (`expires_in` ≈ 32400 s). The cache holds one token
//! behind an async mutex: the first caller that finds it missing or stale fetches a new one while
//! the others wait, so a burst of calls after start-up or expiry costs one token request.

use std::time::{Duration, Instant};

use reqwest::header::ACCEPT;
use serde::Deserialize;
use tokio::sync::Mutex;
use tracing::Instrument;
use url::Url;

use crate::config::Secret;
use crate::error::PaypalError;
use crate::http::{api_error, error_text, read_body, record_answer, transport_error};

/// Refresh this long before PayPal says the token expires, so a token never expires in flight.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// PayPal always sends `expires_in`; should it be missing, keep the token only briefly.
const LIFETIME_WHEN_UNSTATED: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub(crate) struct AccessToken {
    value: Secret,
    usable_until: Instant,
}

impl AccessToken {
    pub(crate) fn bearer(&self) -> &str {
        self.value.expose()
    }

    fn is_usable_at(&self, now: Instant) -> bool {
        now < self.usable_until
    }
}

pub(crate) struct TokenCache {
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    slot: Mutex<Option<AccessToken>>,
}

impl TokenCache {
    pub(crate) fn new(token_url: Url, client_id: String, client_secret: Secret) -> Self {
        Self { token_url, client_id, client_secret, slot: Mutex::new(None) }
    }

    /// The cached token, or a fresh one when it is missing or about to expire.
    pub(crate) async fn current(&self, http: &reqwest::Client, timeout: Duration) -> Result<AccessToken, PaypalError> {
        let mut slot = self.slot.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| t.is_usable_at(Instant::now())) {
            return Ok(token.clone());
        }
        let token = self.fetch(http, timeout).await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Forgets `rejected` after PayPal refused it. A token that another caller has already
    /// replaced is left alone.
    pub(crate) async fn discard(&self, rejected: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == rejected.value) {
            *slot = None;
        }
    }

    async fn fetch(&self, http: &reqwest::Client, timeout: Duration) -> Result<AccessToken, PaypalError> {
        let span = tracing::info_span!(
            "paypal.oauth_token",
            method = "POST",
            path = self.token_url.path(),
            status = tracing::field::Empty,
            debug_id = tracing::field::Empty,
        );
        async {
            // Measured from before the request, so network time only shortens the token's use.
            let requested_at = Instant::now();
            let response = http
                .post(self.token_url.clone())
                .basic_auth(&self.client_id, Some(self.client_secret.expose()))
                .header(ACCEPT, "application/json")
                .form(&[("grant_type", "client_credentials")])
                .timeout(timeout)
                .send()
                .await
                .map_err(transport_error)?;
            let (status, debug_id) = record_answer(&response);
            let body = read_body(response).await?;
            if matches!(status.as_u16(), 400 | 401 | 403) {
                tracing::warn!(
                    status = status.as_u16(),
                    debug_id = debug_id.as_deref(),
                    "PayPal refused the client credentials"
                );
                return Err(PaypalError::Authentication {
                    status: status.as_u16(),
                    message: error_text(status, &body),
                });
            }
            if !status.is_success() {
                return Err(api_error(status, &body, debug_id));
            }
            let issued: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| PaypalError::Decode(format!("OAuth2 token response: {e}")))?;
            Ok(AccessToken {
                value: Secret::new(issued.access_token),
                usable_until: requested_at + usable_lifetime(issued.expires_in),
            })
        }
        .instrument(span)
        .await
    }
}

// No Debug derive: the struct holds the token in clear.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// How long a token is used: its stated lifetime less a margin, and never less than half of it,
/// so even a short-lived token is reused for a while.
fn usable_lifetime(expires_in: Option<u64>) -> Duration {
    let stated = expires_in.map_or(LIFETIME_WHEN_UNSTATED, Duration::from_secs);
    stated - REFRESH_MARGIN.min(stated / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_lived_token_is_refreshed_a_minute_before_it_expires() {
        assert_eq!(usable_lifetime(Some(32_400)), Duration::from_secs(32_400 - 60));
    }

    #[test]
    fn a_short_lived_token_is_used_for_half_its_lifetime() {
        assert_eq!(usable_lifetime(Some(2)), Duration::from_secs(1));
        assert_eq!(usable_lifetime(Some(0)), Duration::ZERO);
    }

    #[test]
    fn a_token_without_expires_in_is_kept_briefly() {
        assert_eq!(usable_lifetime(None), Duration::from_secs(30));
    }
}
