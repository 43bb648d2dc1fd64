//! The one place providers are listed. What the hub needs to know about a provider besides its
//! [`PaymentProvider`] adapter — its configuration section, how to build the adapter for each
//! mode, how to wire it to payhub's simulator, the routes its notifications arrive on — comes
//! from the provider's [`Registration`]. Adding a provider is its folder plus one line in
//! [`REGISTERED`] (and its name in `payhub_core::ProviderName`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use payhub_core::{Mode, ProviderName};
use payhub_sandbox::RunningSandbox;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{PaymentProvider, Providers, paypal, pingpp};
use crate::app::{Hub, install_crypto_provider};

/// Every provider payhub can talk to.
pub const REGISTERED: &[&dyn Registration] = &[&paypal::Paypal, &pingpp::Pingpp];

/// What a provider's folder contributes to the hub.
#[async_trait]
pub trait Registration: Send + Sync {
    fn name(&self) -> ProviderName;

    /// Reads the provider's section of the configuration (`[paypal.live]`, `[paypal.test]`),
    /// refusing unknown keys, so a mistake stops payhub at start rather than on first use.
    fn read_config(&self, config: &config::Config) -> Result<Arc<dyn ProviderConfig>, config::ConfigError>;

    /// Keys of the section that hold lists (`live.cert_hosts`), which the environment gives
    /// comma-separated.
    fn list_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// The test-mode adapter for payhub's own simulator of this provider, registered to send
    /// notifications to `hub_url`, as an operator registers the hub at the real provider.
    async fn sandbox_adapter(
        &self,
        sandbox: &RunningSandbox,
        hub_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Arc<dyn PaymentProvider>>;

    /// The routes the provider's notifications arrive on (`POST /webhooks/paypal`). Paths are
    /// what operators registered at the provider: they never change.
    fn routes(&self) -> Router<Hub>;
}

/// A provider's configuration as its folder read and checked it.
pub trait ProviderConfig: Send + Sync + fmt::Debug {
    /// The adapter for `mode`, or `None` when that mode is not configured.
    fn adapter(&self, mode: Mode) -> anyhow::Result<Option<Arc<dyn PaymentProvider>>>;
}

/// One mode's section (`[paypal.live]`): each mode has its own credentials, hosts and trust.
pub trait ModeSection: DeserializeOwned + Send + Sync + 'static {
    fn adapter(&self, mode: Mode) -> anyhow::Result<Arc<dyn PaymentProvider>>;

    /// What identifies the account in logs (a client or app id); never a secret.
    fn account(&self) -> &str;
}

/// A provider's `live` and `test` sections.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeSections<S> {
    pub live: Option<S>,
    pub test: Option<S>,
}

impl<S> ModeSections<S> {
    fn mode(&self, mode: Mode) -> Option<&S> {
        match mode {
            Mode::Live => self.live.as_ref(),
            Mode::Test => self.test.as_ref(),
        }
    }
}

impl<S: ModeSection> ProviderConfig for ModeSections<S> {
    fn adapter(&self, mode: Mode) -> anyhow::Result<Option<Arc<dyn PaymentProvider>>> {
        self.mode(mode).map(|section| section.adapter(mode)).transpose()
    }
}

impl<S: ModeSection> fmt::Debug for ModeSections<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModeSections")
            .field("live", &self.live.as_ref().map(ModeSection::account))
            .field("test", &self.test.as_ref().map(ModeSection::account))
            .finish()
    }
}

/// Reads `[name.live]` and `[name.test]` as `S`; a provider with no section has no modes.
pub fn read_mode_sections<S: ModeSection>(
    config: &config::Config,
    name: ProviderName,
) -> Result<Arc<dyn ProviderConfig>, config::ConfigError> {
    match config.get::<ModeSections<S>>(name.as_str()) {
        Ok(sections) => Ok(Arc::new(sections)),
        Err(config::ConfigError::NotFound(_)) => Ok(Arc::new(ModeSections::<S> { live: None, test: None })),
        Err(e) => Err(e),
    }
}

/// Every registered provider's configuration, as read from payhub's configuration.
#[derive(Clone, Default)]
pub struct ProviderConfigs(Vec<(ProviderName, Arc<dyn ProviderConfig>)>);

impl ProviderConfigs {
    pub fn read(config: &config::Config) -> Result<Self, config::ConfigError> {
        let read = REGISTERED.iter().map(|provider| Ok((provider.name(), provider.read_config(config)?)));
        Ok(Self(read.collect::<Result<_, config::ConfigError>>()?))
    }
}

impl fmt::Debug for ProviderConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(name, config)| (name.as_str(), config))).finish()
    }
}

/// The keys of payhub's configuration that belong to providers (`paypal`, `pingpp`).
pub fn section_names() -> impl Iterator<Item = &'static str> {
    REGISTERED.iter().map(|provider| provider.name().as_str())
}

/// Keys holding comma-separated lists in the environment, as full paths (`paypal.live.cert_hosts`).
pub fn list_keys() -> impl Iterator<Item = String> {
    REGISTERED.iter().flat_map(|provider| provider.list_keys().iter().map(|key| format!("{}.{key}", provider.name())))
}

/// Every provider's ingress routes.
pub fn routes() -> Router<Hub> {
    REGISTERED.iter().fold(Router::new(), |router, provider| router.merge(provider.routes()))
}

impl Providers {
    /// The adapters of every provider and mode the configuration has a section for.
    pub fn from_config(configs: &ProviderConfigs) -> anyhow::Result<Self> {
        install_crypto_provider();
        let mut providers = Providers::default();
        for (_, config) in &configs.0 {
            for mode in Mode::ALL {
                if let Some(adapter) = config.adapter(mode)? {
                    providers.insert(mode, adapter);
                }
            }
        }
        Ok(providers)
    }

    /// Test mode of every provider, wired to payhub's simulators instead of any configured
    /// test section.
    pub async fn use_sandbox(
        &mut self,
        sandbox: &RunningSandbox,
        hub_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        install_crypto_provider();
        for provider in REGISTERED {
            let adapter = provider
                .sandbox_adapter(sandbox, hub_url, timeout)
                .await
                .map_err(|e| anyhow::anyhow!("cannot wire {} to its simulator: {e:#}", provider.name().title()))?;
            self.insert(Mode::Test, adapter);
        }
        Ok(())
    }
}

/// Reads a key or certificate file named in the configuration; the error says which file,
/// why, and which setting to fix (`fix`).
pub fn read_key_file(path: &Path, what: &str, fix: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {what} from {} ({e}); {fix}", path.display()))
}

/// How long a provider may take to answer, unless its section says otherwise.
pub fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_registered_once() {
        let mut names: Vec<_> = REGISTERED.iter().map(|p| p.name()).collect();
        names.sort_by_key(|n| n.as_str());
        names.dedup();
        assert_eq!(names, ProviderName::ALL, "ProviderName and REGISTERED list the same providers");
    }

    #[test]
    fn an_unreadable_key_file_names_the_file_and_the_setting() {
        let error = read_key_file(Path::new("/nonexistent/key.pem"), "the Ping++ public key", "check pingpp.live")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("cannot read the Ping++ public key from /nonexistent/key.pem ("), "{error}");
        assert!(error.ends_with("; check pingpp.live"), "{error}");
    }
}
