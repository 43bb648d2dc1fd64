//! How the hub takes Ping++ in: its configuration section, its simulator, its ingress route.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use payhub_core::{Mode, ProviderName};
use payhub_sandbox::RunningSandbox;
use serde_json::json;

use super::config::{Account, PingppSection};
use crate::app::Hub;
use crate::http::ingress;
use crate::providers::PaymentProvider;
use crate::providers::registry::{ProviderConfig, Registration, read_mode_sections};

pub struct Pingpp;

#[async_trait]
impl Registration for Pingpp {
    fn name(&self) -> ProviderName {
        ProviderName::Pingpp
    }

    fn read_config(&self, config: &config::Config) -> Result<Arc<dyn ProviderConfig>, config::ConfigError> {
        read_mode_sections::<PingppSection>(config, self.name())
    }

    /// The simulator's app and key, with request signing turned on with the sandbox merchant
    /// key (as a merchant who uploaded its public key to Ping++), and the hub's webhook URL
    /// registered.
    async fn sandbox_adapter(
        &self,
        sandbox: &RunningSandbox,
        hub_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Arc<dyn PaymentProvider>> {
        let control = reqwest::Client::new();
        let base = sandbox.pingpp_url.trim_end_matches('/');
        let webhook = format!("{}/webhooks/pingpp", hub_url.trim_end_matches('/'));
        let register = json!({ "url": webhook });
        control.put(format!("{base}/sandbox/pingpp/webhook")).json(&register).send().await?.error_for_status()?;
        let public_key = String::from_utf8_lossy(payhub_sandbox::pingpp_merchant_public_key_pem()).into_owned();
        let signing = json!({ "public_key": public_key });
        control.put(format!("{base}/sandbox/pingpp/merchant-key")).json(&signing).send().await?.error_for_status()?;
        let account = Account {
            base_url: &sandbox.pingpp_url,
            app_id: payhub_sandbox::SANDBOX_PINGPP_APP_ID,
            secret_key: payhub_sandbox::SANDBOX_PINGPP_SECRET_KEY,
            timeout,
        };
        let private_key = payhub_sandbox::pingpp_merchant_private_key_pem();
        Ok(Arc::new(account.adapter(Some(private_key), payhub_sandbox::pingpp_public_key_pem(), Mode::Test)?))
    }

    /// Ping++ treats anything but a 2xx as a failure and retries (8 times over about a day).
    fn routes(&self) -> Router<Hub> {
        Router::new().route("/webhooks/pingpp", ingress::endpoint(ProviderName::Pingpp))
    }
}
