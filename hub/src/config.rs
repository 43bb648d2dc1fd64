//! Configuration: defaults, then an optional TOML file, then `PAYHUB__…` environment variables
//! (nested keys joined by `__`, e.g. `PAYHUB__PAYPAL__LIVE__CLIENT_SECRET`), then command-line
//! flags. Secrets are never printed: [`Config`]'s `Debug` redacts them.
//!
//! Each provider's section (`[paypal.live]`, `[pingpp.test]`, …) belongs to the provider's
//! folder, which defines and checks it; this module only hands the sections over
//! ([`crate::providers::registry`]) and reads the rest.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::providers::registry::{self, ProviderConfigs};

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
    /// Every provider's sections, read by the provider's folder.
    #[serde(skip)]
    pub providers: ProviderConfigs,
    /// What payhub does when a provider reports money it should not have taken (a payment
    /// paid after it was canceled, or paid twice).
    #[serde(default)]
    pub anomalies: AnomalyConfig,
    #[serde(default)]
    pub workers: WorkersConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub ops: OpsConfig,
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// Mail to customer service about chosen events.
    #[serde(default)]
    pub notifications: crate::notifications::NotificationsConfig,
    #[serde(default)]
    pub rejections: RejectionsConfig,
    #[serde(default)]
    pub disputes: DisputesConfig,
    #[serde(default)]
    pub security: SecurityConfig,
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
    /// How many provider checks the reconciler has in flight at once, per instance: enough to
    /// drain a large backlog in one pass, few enough not to be rate-limited by a provider.
    #[serde(default = "defaults::reconcile_concurrency")]
    pub reconcile_concurrency: usize,
    /// How long a claimed notification or delivery stays reserved for one instance.
    #[serde(default = "defaults::lease", with = "humantime_serde")]
    pub lease: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// How long one attempt may take in all: connecting, sending, and reading the answer.
    #[serde(default = "defaults::delivery_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// How long connecting to an endpoint may take; a reachable endpoint connects in
    /// milliseconds, so a short limit fails a dead one fast.
    #[serde(default = "defaults::delivery_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How many deliveries one endpoint may have in flight from this instance: a slow or
    /// hanging endpoint uses its own budget, never other endpoints'.
    #[serde(default = "defaults::delivery_per_endpoint_concurrency")]
    pub per_endpoint_concurrency: usize,
    /// Waits before each retry of a failed delivery; after the last, the delivery gives up
    /// (and stays replayable).
    #[serde(default = "default_retry_schedule", deserialize_with = "durations")]
    pub schedule: Vec<Duration>,
}

/// Who may read `/metrics` and `/readyz` (they tell an outsider the volume and the backlog).
/// `/healthz` says only "ok" and is open to all.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Serve `/healthz`, `/readyz` and `/metrics` on this address only, not on the API's.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer <token>` for `/readyz` and `/metrics`. With neither
    /// `listen` nor `token`, only clients on the same host may read them.
    #[serde(default)]
    pub token: Option<String>,
}

impl fmt::Debug for OpsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpsConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "redacted"))
            .finish()
    }
}

/// Shorter tokens can be guessed by whoever can reach the listener.
const OPS_TOKEN_MIN_LEN: usize = 16;
/// Merchant webhook endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Internal networks endpoints may be in (e.g. `["10.1.0.0/16"]`); every other loopback,
    /// private, link-local, unique-local, multicast or unspecified address is refused.
    #[serde(default)]
    pub allow_private_networks: Vec<ipnet::IpNet>,
}

/// How much of the record of refused notifications is kept (every refusal is counted; a
/// sample is kept with the start of its body).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectionsConfig {
    /// Samples and counts older than this are deleted.
    #[serde(default = "defaults::rejections_retention", with = "humantime_serde")]
    pub retention: Duration,
    /// At most this many samples are kept, the most recent.
    #[serde(default = "defaults::rejections_max_samples")]
    pub max_samples: u32,
}

impl Default for RejectionsConfig {
    fn default() -> Self {
        Self { retention: defaults::rejections_retention(), max_samples: defaults::rejections_max_samples() }
    }
}

impl RejectionsConfig {
    pub fn retention(&self) -> payhub_store::RejectionRetention {
        payhub_store::RejectionRetention {
            max_age: chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(7)),
            max_samples: self.max_samples,
        }
    }
}

/// How secrets payhub keeps are protected.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// A base64 256-bit key (`openssl rand -base64 32`; or `PAYHUB_ENCRYPTION_KEY`): webhook
    /// endpoints' signing secrets are stored encrypted with it. Every instance sharing the
    /// database needs the same key, and once set it stays required.
    #[serde(default)]
    pub encryption_key: Option<String>,
}

impl fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("encryption_key", &self.encryption_key.as_ref().map(|_| "redacted"))
            .finish()
    }
}

impl SecurityConfig {
    /// The configured key, read as `validate` checked it.
    pub fn secrets_at_rest(&self) -> Result<crate::encryption::SecretsAtRest, String> {
        let key = self.encryption_key.as_deref().map(crate::encryption::EncryptionKey::from_base64).transpose()?;
        Ok(crate::encryption::SecretsAtRest::encrypted_with(key))
    }
}

/// The environment variable that may hold `security.encryption_key` (besides
/// `PAYHUB__SECURITY__ENCRYPTION_KEY`), the name secret stores usually inject.
const ENCRYPTION_KEY_VARIABLE: &str = "PAYHUB_ENCRYPTION_KEY";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputesConfig {
    /// A dispute lost on a subscription's payment revokes the customer's entitlement at once.
    #[serde(default = "defaults::yes")]
    pub revoke_entitlement_on_loss: bool,
    /// How often each provider is asked for the disputes updated since the last sweep, so a
    /// case whose notifications were all lost is found within this long.
    #[serde(default = "defaults::dispute_sweep_interval", with = "humantime_serde")]
    pub sweep_interval: Duration,
}

impl Default for DisputesConfig {
    fn default() -> Self {
        Self { revoke_entitlement_on_loss: true, sweep_interval: defaults::dispute_sweep_interval() }
    }
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: defaults::poll_interval(),
            reconcile_interval: defaults::reconcile_interval(),
            reconcile_concurrency: defaults::reconcile_concurrency(),
            lease: defaults::lease(),
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout: defaults::delivery_timeout(),
            connect_timeout: defaults::delivery_connect_timeout(),
            per_endpoint_concurrency: defaults::delivery_per_endpoint_concurrency(),
            schedule: default_retry_schedule(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            public_url: None,
            database_url: defaults::database_url(),
            log: LogConfig::default(),
            providers: ProviderConfigs::default(),
            anomalies: AnomalyConfig::default(),
            workers: WorkersConfig::default(),
            delivery: DeliveryConfig::default(),
            ops: OpsConfig::default(),
            webhooks: WebhooksConfig::default(),
            notifications: Default::default(),
            rejections: RejectionsConfig::default(),
            disputes: DisputesConfig::default(),
            security: SecurityConfig::default(),
            payment_expiry: defaults::payment_expiry(),
            entitlement_grace: defaults::entitlement_grace(),
        }
    }
}

mod defaults {
    use super::*;

    pub fn dispute_sweep_interval() -> Duration {
        Duration::from_secs(5 * 60)
    }

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
    pub fn poll_interval() -> Duration {
        Duration::from_secs(1)
    }
    pub fn reconcile_interval() -> Duration {
        Duration::from_secs(30)
    }
    pub fn reconcile_concurrency() -> usize {
        16
    }
    pub fn lease() -> Duration {
        Duration::from_secs(60)
    }
    pub fn delivery_timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub fn delivery_connect_timeout() -> Duration {
        Duration::from_secs(3)
    }
    pub fn delivery_per_endpoint_concurrency() -> usize {
        4
    }
    pub fn rejections_retention() -> Duration {
        Duration::from_secs(7 * 24 * 3600)
    }
    pub fn rejections_max_samples() -> u32 {
        10_000
    }
}

/// In the spirit of Standard Webhooks: seconds, then minutes, then hours, about three days in
/// all (webhook deliveries and mail).
pub(crate) fn default_retry_schedule() -> Vec<Duration> {
    [5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 24 * 3600]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// A list of human durations (`["5s", "30m", "1h"]`, or `"5s,30m,1h"` from the environment).
pub(crate) fn durations<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
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
        Self::load_with_environment(file, None)
    }

    /// [`Config::load`] with `variables` standing in for the process's environment (tests set
    /// variables without racing each other).
    fn load_with_environment(
        file: Option<&Path>,
        variables: Option<config::Map<String, String>>,
    ) -> Result<Self, ConfigError> {
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
        let encryption_key = match &variables {
            Some(variables) => variables.get(ENCRYPTION_KEY_VARIABLE).cloned(),
            None => std::env::var(ENCRYPTION_KEY_VARIABLE).ok(),
        };
        let mut environment = config::Environment::with_prefix("PAYHUB")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("delivery.schedule")
            .with_list_parse_key("webhooks.allow_private_networks")
            .with_list_parse_key("notifications.to")
            .with_list_parse_key("notifications.events")
            .with_list_parse_key("notifications.schedule")
            .source(variables);
        for key in registry::list_keys() {
            environment = environment.with_list_parse_key(&key);
        }
        let layered = builder.add_source(environment).build()?;
        let providers = ProviderConfigs::read(&layered)?;
        // The rest is read without the providers' sections, still refusing unknown keys.
        let mut rest: config::Map<String, config::Value> = layered.try_deserialize()?;
        for name in registry::section_names() {
            rest.remove(name);
        }
        let mut config = Config::deserialize(config::Value::from(rest))?;
        config.providers = providers;
        if config.security.encryption_key.is_none() {
            config.security.encryption_key = encryption_key;
        }
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
        if let Some(token) = &self.ops.token
            && token.len() < OPS_TOKEN_MIN_LEN
        {
            return Err(ConfigError::Invalid(format!(
                "ops.token must be at least {OPS_TOKEN_MIN_LEN} characters; generate one with `openssl rand -hex 24`"
            )));
        }
        crate::notifications::MailSettings::from_config(&self.notifications).map_err(ConfigError::Invalid)?;
        if self.workers.reconcile_concurrency == 0 {
            return Err(ConfigError::Invalid("workers.reconcile_concurrency must be at least 1".into()));
        }
        if self.delivery.per_endpoint_concurrency == 0 {
            return Err(ConfigError::Invalid("delivery.per_endpoint_concurrency must be at least 1".into()));
        }
        self.security.secrets_at_rest().map_err(ConfigError::Invalid)?;
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
            .field("providers", &self.providers)
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

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payhub.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_provider_secret_can_come_from_the_environment_alone() {
        let (_dir, path) = file(
            r#"
            [paypal.live]
            client_id = "id"
            webhook_id = "WH1"
            verification = "remote"
            "#,
        );
        let missing = Config::load_with_environment(Some(&path), Some(Default::default())).err().unwrap();
        assert!(missing.to_string().contains("client_secret"), "{missing}");
        let environment = [
            ("PAYHUB__PAYPAL__LIVE__CLIENT_SECRET", "very-secret"),
            ("PAYHUB__PAYPAL__LIVE__CERT_HOSTS", "api.paypal.com,api-m.paypal.com"),
        ];
        let environment = environment.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let config = Config::load_with_environment(Some(&path), Some(environment)).unwrap();
        assert!(!format!("{config:?}").contains("very-secret"));
        let providers = crate::providers::Providers::from_config(&config.providers).unwrap();
        assert_eq!(providers.modes_of(payhub_core::ProviderName::Paypal), [payhub_core::Mode::Live]);
    }

    #[test]
    fn unknown_keys_and_modes_in_a_provider_section_are_refused() {
        for text in [
            "[pingpp.live]\napp_id = \"app\"\nsecret_key = \"sk\"\npublic_key_file = \"k.pem\"\napp_idd = \"x\"",
            "[paypal.staging]\nclient_id = \"id\"",
        ] {
            let (_dir, path) = file(text);
            let refused = Config::load_with_environment(Some(&path), Some(Default::default())).err();
            assert!(refused.is_some(), "accepted: {text}");
        }
    }

    #[test]
    fn an_unreadable_provider_key_names_the_file_and_the_setting() {
        let (_dir, path) = file(
            r#"
            [pingpp.test]
            app_id = "app_1"
            secret_key = "sk_test_1"
            public_key_file = "/nonexistent/pingpp.pem"
            "#,
        );
        let config = Config::load_with_environment(Some(&path), Some(Default::default())).unwrap();
        let error = crate::providers::Providers::from_config(&config.providers).err().unwrap().to_string();
        assert!(error.starts_with("cannot read the Ping++ public key from /nonexistent/pingpp.pem"), "{error}");
        assert!(error.ends_with("check pingpp.test.public_key_file"), "{error}");
    }

    #[test]
    fn internal_networks_for_endpoints_come_from_the_file_or_the_environment() {
        let (_dir, path) = file("[webhooks]\nallow_private_networks = [\"10.1.0.0/16\"]");
        let config = Config::load_with_environment(Some(&path), Some(Default::default())).unwrap();
        assert_eq!(config.webhooks.allow_private_networks, ["10.1.0.0/16".parse::<ipnet::IpNet>().unwrap()]);
        let environment = [("PAYHUB__WEBHOOKS__ALLOW_PRIVATE_NETWORKS".to_owned(), "10.1.0.0/16,fd00::/8".to_owned())];
        let config = Config::load_with_environment(None, Some(environment.into_iter().collect())).unwrap();
        assert_eq!(config.webhooks.allow_private_networks.len(), 2);
        let (_dir, path) = file("[webhooks]\nallow_private_networks = [\"10.1.0.0/33\"]");
        assert!(Config::load_with_environment(Some(&path), Some(Default::default())).is_err());
    }

    #[test]
    fn mail_settings_come_from_the_file_and_the_environment() {
        let (_dir, path) = file(
            r#"
            [notifications]
            smtp_url = "smtps://payhub:very-secret@smtp.shop.example"
            from = "payhub@shop.example"
            events = ["refund.succeeded"]
            "#,
        );
        let environment =
            [("PAYHUB__NOTIFICATIONS__TO".to_owned(), "support@shop.example,ops@shop.example".to_owned())];
        let config = Config::load_with_environment(Some(&path), Some(environment.into_iter().collect())).unwrap();
        let mail = crate::notifications::MailSettings::from_config(&config.notifications).unwrap().unwrap();
        assert_eq!(mail.to.len(), 2);
        assert!(!format!("{config:?}").contains("very-secret"));
        let refused = Config::load_with_environment(Some(&path), Some(Default::default())).err().unwrap();
        assert!(refused.to_string().contains("notifications.to names no one"), "{refused}");
    }

    #[test]
    fn the_encryption_key_comes_from_the_file_or_the_environment_and_a_malformed_one_is_refused() {
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let (_dir, path) = file(&format!("[security]\nencryption_key = \"{key}\""));
        let config = Config::load_with_environment(Some(&path), Some(Default::default())).unwrap();
        assert!(config.security.secrets_at_rest().unwrap().encrypts());
        assert!(!format!("{:?}", config.security).contains(key));
        for name in ["PAYHUB_ENCRYPTION_KEY", "PAYHUB__SECURITY__ENCRYPTION_KEY"] {
            let environment = [(name.to_owned(), key.to_owned())].into_iter().collect();
            let config = Config::load_with_environment(None, Some(environment)).unwrap();
            assert!(config.security.secrets_at_rest().unwrap().encrypts(), "{name}");
        }
        let environment = [("PAYHUB_ENCRYPTION_KEY".to_owned(), "c2hvcnQ=".to_owned())].into_iter().collect();
        let refused = Config::load_with_environment(None, Some(environment)).err().unwrap().to_string();
        assert!(refused.contains("security.encryption_key must be 32 bytes"), "{refused}");
        let unset = Config::load_with_environment(None, Some(Default::default())).unwrap();
        assert!(!unset.security.secrets_at_rest().unwrap().encrypts());
    }

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:redacted@h/db");
        assert_eq!(redact_url("payhub.db"), "payhub.db");
    }
}
