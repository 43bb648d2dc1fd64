//! Where the client talks to, with which credentials, and how patiently.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use payhub_provider_kit::Secret;

/// Ping++'s REST host. Paths start with `/v1`.
pub const LIVE_BASE_URL: &str = "https://api.pingxx.com";
/// Per-request timeout used by [`ClientConfig::new`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The language Ping++'s own SDKs ask error messages in.
pub const DEFAULT_ACCEPT_LANGUAGE: &str = "zh-CN";
/// How many times a read (GET) is repeated after a transport failure, a 5xx or a rate limit.
pub const DEFAULT_READ_RETRIES: u32 = 2;
/// The pause before the first repeat of a read; it doubles with each further repeat.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Everything [`crate::PingppClient`] needs. The same client runs against live Ping++ and
/// against a local simulator: only `base_url`, the keys and the app id differ.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme, host and optional path prefix, e.g. `https://api.pingxx.com`.
    pub base_url: String,
    /// The Ping++ app (`app_…`) charges are created in and listed from.
    pub app_id: String,
    /// The secret API key, `sk_live_…` or `sk_test_…`.
    pub secret_key: Secret,
    /// The merchant's RSA private key (PKCS#1 `BEGIN RSA PRIVATE KEY` or unencrypted PKCS#8
    /// `BEGIN PRIVATE KEY`), 2048 to 4096 bits. When set, every request is signed; Ping++
    /// checks the signature once the matching public key is uploaded and verification is on.
    pub private_key_pem: Option<Secret>,
    /// Applies to each attempt of each request.
    pub timeout: Duration,
    /// Sent as `Accept-Language`; Ping++ words its error messages in it.
    pub accept_language: String,
    /// Repeats of a failed read (GET). Writes are never repeated automatically.
    pub read_retries: u32,
    /// Pause before the first repeat of a read, doubled for each further one.
    pub retry_backoff: Duration,
    /// Source of the `Pingplusplus-Request-Timestamp`; the system clock unless a test or a
    /// simulator with a movable clock needs another.
    pub clock: UnixClock,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, app_id: impl Into<String>, secret_key: impl Into<Secret>) -> Self {
        Self {
            base_url: base_url.into(),
            app_id: app_id.into(),
            secret_key: secret_key.into(),
            private_key_pem: None,
            timeout: DEFAULT_TIMEOUT,
            accept_language: DEFAULT_ACCEPT_LANGUAGE.to_owned(),
            read_retries: DEFAULT_READ_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            clock: UnixClock::system(),
        }
    }

    /// The same configuration, signing every request with `private_key_pem`.
    pub fn with_private_key(mut self, private_key_pem: impl Into<Secret>) -> Self {
        self.private_key_pem = Some(private_key_pem.into());
        self
    }
}

/// Unix time in seconds, as a cloneable function. Ping++ compares request timestamps with its
/// own clock, so live use wants [`UnixClock::system`]; a simulator whose clock can be moved
/// wants the client to read that clock instead.
#[derive(Clone)]
pub struct UnixClock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl UnixClock {
    pub fn system() -> Self {
        Self(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        }))
    }

    pub fn new(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// A clock that always reads `seconds`.
    pub fn fixed(seconds: i64) -> Self {
        Self::new(move || seconds)
    }

    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for UnixClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnixClock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_output_shows_neither_the_secret_key_nor_the_private_key() {
        let config = ClientConfig::new(LIVE_BASE_URL, "app_1Gqj58ynP0mHeX1q", "sk_live_s3cr3t")
            .with_private_key("-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----");
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk_live_s3cr3t"), "{printed}");
        assert!(!printed.contains("MIIsecret"), "{printed}");
        assert!(printed.contains("app_1Gqj58ynP0mHeX1q"), "{printed}");
    }

    #[test]
    fn system_clock_reads_a_plausible_unix_time_and_a_fixed_clock_does_not_move() {
        assert!(UnixClock::system().now() > 1_700_000_000);
        let fixed = UnixClock::fixed(1_735_689_600);
        assert_eq!(fixed.now(), 1_735_689_600);
        assert_eq!(fixed.clone().now(), 1_735_689_600);
    }
}
