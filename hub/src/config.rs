//! Configuration: defaults, then an optional TOML file, then `PAYHUB__…` environment variables
//! (nested keys joined by `__`, e.g. `PAYHUB__PAYPAL__LIVE__CLIENT_SECRET`), then command-line
//! flags. Secrets are never printed: [`Config`]'s `Debug` redacts them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the hub listens.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// How buyers' browsers and providers reach this hub (return URLs, webhook URL).
    /// Defaults to `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// A SQLite file path (the default, `payhub.db`) or a `postgres://` URL.
    #[serde(default = "defaults::database_url")]
    pub database_url: String,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub paypal: PaypalModes,
    #[serde(default)]
    pub pingpp: PingppModes,
    /// What payhub does when a provider reports money it should not have taken (a payment
    /// paid after it was canceled, or paid twice).
    #[serde(default)]
    pub anomalies: AnomalyConfig,
    #[serde(default)]
    pub workers: WorkersConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// A payment the buyer has not completed after this long is expired.
    #[serde(default = "defaults::payment_expiry", with = "humantime_serde")]
    pub payment_expiry: Duration,
    /// How long access outlasts the end of a paid subscription period: providers charge hours
    /// after the billing time they state, and a paying customer must not lose access meanwhile.
    #[serde(default = "defaults::entitlement_grace", with = "humantime_serde")]
    pub entitlement_grace: Duration,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// PayPal credentials per mode: `live` is production PayPal, `test` its sandbox (or payhub's).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaypalModes {
    pub live: Option<PaypalConfig>,
    pub test: Option<PaypalConfig>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaypalConfig {
    /// Defaults to PayPal's live or sandbox REST host, by mode.
    pub base_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// The id of the webhook registered at PayPal for this hub's `/webhooks/paypal`.
    pub webhook_id: String,
    #[serde(default)]
    pub verification: VerificationMode,
    /// Hosts the certificate URL of a notification may point at. Defaults to PayPal's own.
    pub cert_hosts: Option<Vec<String>>,
    /// PEM roots the signing certificate must chain to. Defaults to the system's CA bundle.
    pub trust_roots_file: Option<PathBuf>,
    /// DNS names the signing certificate may be issued for. Defaults to PayPal's, by mode.
    pub signing_subjects: Option<Vec<String>>,
    /// Accept `http://` certificate URLs. Only for payhub's own simulator on a trusted host.
    #[serde(default)]
    pub allow_http_cert_urls: bool,
    #[serde(default = "defaults::provider_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Ping++ credentials per mode (the same host serves both; the keys differ).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingppModes {
    pub live: Option<PingppConfig>,
    pub test: Option<PingppConfig>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingppConfig {
    /// Defaults to https://api.pingxx.com.
    pub base_url: Option<String>,
    pub app_id: String,
    /// `sk_live_…` or `sk_test_…`.
    pub secret_key: String,
    /// The merchant's RSA private key (PEM); when set, every request is signed, as Ping++
    /// requires once the merchant's public key is uploaded.
    pub private_key_file: Option<PathBuf>,
    /// Ping++'s RSA public key (PEM, from Ping++'s dashboard), which signs webhooks.
    pub public_key_file: PathBuf,
    #[serde(default = "defaults::provider_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    #[serde(default)]
    pub policy: AnomalyPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnomalyPolicy {
    /// Refund the money taken in excess at once, and tell the merchant (the default).
    #[default]
    Refund,
    /// Only tell the merchant (`payment.anomaly_detected`); a person decides.
    Flag,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationMode {
    /// Check the certificate chain and signature here (no call to PayPal per notification).
    #[default]
    Local,
    /// Ask PayPal's verify-webhook-signature API for every notification.
    Remote,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersConfig {
    /// Run the inbox processor, dispatcher and reconciler in this process. An instance with
    /// workers off still accepts notifications durably; another instance applies them.
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// How often idle workers look for work other instances queued.
    #[serde(default = "defaults::poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    #[serde(default = "defaults::reconcile_interval", with = "humantime_serde")]
    pub reconcile_interval: Duration,
    /// How long a claimed notification or delivery stays reserved for one instance.
    #[serde(default = "defaults::lease", with = "humantime_serde")]
    pub lease: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    #[serde(default = "defaults::delivery_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Waits before each retry of a failed delivery; after the last, the delivery gives up
    /// (and stays replayable).
    #[serde(default = "defaults::delivery_schedule", deserialize_with = "durations")]
    pub schedule: Vec<Duration>,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: defaults::poll_interval(),
            reconcile_interval: defaults::reconcile_interval(),
            lease: defaults::lease(),
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self { timeout: defaults::delivery_timeout(), schedule: defaults::delivery_schedule() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            public_url: None,
            database_url: defaults::database_url(),
            log: LogConfig::default(),
            paypal: PaypalModes::default(),
            pingpp: PingppModes::default(),
            anomalies: AnomalyConfig::default(),
            workers: WorkersConfig::default(),
            delivery: DeliveryConfig::default(),
            payment_expiry: defaults::payment_expiry(),
            entitlement_grace: defaults::entitlement_grace(),
        }
    }
}

mod defaults {
    use super::*;

    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn database_url() -> String {
        "payhub.db".into()
    }
    pub fn yes() -> bool {
        true
    }
    pub fn payment_expiry() -> Duration {
        Duration::from_secs(3 * 3600)
    }
    pub fn entitlement_grace() -> Duration {
        Duration::from_secs(24 * 3600)
    }
    pub fn provider_timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub fn poll_interval() -> Duration {
        Duration::from_secs(1)
    }
    pub fn reconcile_interval() -> Duration {
        Duration::from_secs(30)
    }
    pub fn lease() -> Duration {
        Duration::from_secs(60)
    }
    pub fn delivery_timeout() -> Duration {
        Duration::from_secs(10)
    }
    /// In the spirit of Standard Webhooks: seconds, then minutes, then hours, about three days
    /// in all.
    pub fn delivery_schedule() -> Vec<Duration> {
        [5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 24 * 3600]
            .into_iter()
            .map(Duration::from_secs)
            .collect()
    }
}

/// A list of human durations (`["5s", "30m", "1h"]`, or `"5s,30m,1h"` from the environment).
fn durations<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|t| humantime::parse_duration(t.trim()).map_err(|e| serde::de::Error::custom(format!("`{t}`: {e}"))))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration: {0}")]
    Read(#[from] config::ConfigError),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then `file` (which must exist when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "configuration file {} does not exist; create it or drop --config",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("PAYHUB")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("paypal.live.cert_hosts")
                .with_list_parse_key("paypal.test.cert_hosts")
                .with_list_parse_key("paypal.live.signing_subjects")
                .with_list_parse_key("paypal.test.signing_subjects")
                .with_list_parse_key("delivery.schedule"),
        );
        let config: Config = builder.build()?.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).map_err(|e| {
                ConfigError::Invalid(format!("public_url `{url}` is not a URL ({e}); use e.g. https://pay.example.com"))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(format!("public_url `{url}` must be http or https")));
            }
        }
        if self.delivery.schedule.is_empty() {
            return Err(ConfigError::Invalid("delivery.schedule needs at least one retry delay".into()));
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &redact_url(&self.database_url))
            .field("paypal.live", &self.paypal.live.as_ref().map(|p| &p.client_id))
            .field("paypal.test", &self.paypal.test.as_ref().map(|p| &p.client_id))
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_on_sqlite_at_localhost() {
        let config = Config::load(None).unwrap();
        assert_eq!(config.database_url, "payhub.db");
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
        assert_eq!(config.delivery.schedule.len(), 11);
    }

    #[test]
    fn a_missing_file_is_an_error_that_says_so() {
        let err = Config::load(Some(Path::new("/nonexistent/payhub.toml"))).err().unwrap();
        assert!(err.to_string().contains("does not exist"));
    }

    #[test]
    fn a_file_sets_values_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payhub.toml");
        std::fs::write(
            &path,
            r#"
            listen = "0.0.0.0:9000"
            public_url = "https://pay.example.com"
            [paypal.live]
            client_id = "id"
            client_secret = "very-secret"
            webhook_id = "WH1"
            "#,
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert!(!format!("{config:?}").contains("very-secret"));
        std::fs::write(&path, "listne = \"0.0.0.0:9000\"").unwrap();
        assert!(Config::load(Some(&path)).is_err());
    }

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:redacted@h/db");
        assert_eq!(redact_url("payhub.db"), "payhub.db");
    }
}
