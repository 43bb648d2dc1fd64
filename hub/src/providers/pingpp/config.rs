//! `[pingpp.live]` and `[pingpp.test]`: one Ping++ host serves both modes; the app's keys
//! differ. The section and the adapter built from it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use payhub_core::Mode;
use serde::Deserialize;

use super::PingppProvider;
use crate::providers::PaymentProvider;
use crate::providers::registry::{ModeSection, read_key_file};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingppSection {
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
    #[serde(default = "crate::providers::registry::default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl ModeSection for PingppSection {
    fn account(&self) -> &str {
        &self.app_id
    }

    fn adapter(&self, mode: Mode) -> anyhow::Result<Arc<dyn PaymentProvider>> {
        let private_key = match &self.private_key_file {
            Some(path) => {
                let fix = format!("check pingpp.{mode}.private_key_file");
                Some(read_key_file(path, "the Ping++ merchant private key", &fix)?)
            }
            None => None,
        };
        let fix = format!("check pingpp.{mode}.public_key_file");
        let public_key = read_key_file(&self.public_key_file, "the Ping++ public key", &fix)?;
        let account = Account {
            base_url: self.base_url.as_deref().unwrap_or(payhub_pingpp::LIVE_BASE_URL),
            app_id: &self.app_id,
            secret_key: &self.secret_key,
            timeout: self.timeout,
        };
        Ok(Arc::new(account.adapter(private_key.as_deref(), &public_key, mode)?))
    }
}

/// Where and as which app the adapter talks to Ping++.
pub(super) struct Account<'a> {
    pub base_url: &'a str,
    pub app_id: &'a str,
    pub secret_key: &'a str,
    pub timeout: Duration,
}

impl Account<'_> {
    /// The adapter for this account; requests are signed with `private_key_pem` when given,
    /// and webhooks checked against Ping++'s `public_key_pem`.
    pub fn adapter(
        &self,
        private_key_pem: Option<&[u8]>,
        public_key_pem: &[u8],
        mode: Mode,
    ) -> anyhow::Result<PingppProvider> {
        let mut config = payhub_pingpp::ClientConfig::new(self.base_url, self.app_id, self.secret_key);
        config.timeout = self.timeout;
        if let Some(key) = private_key_pem {
            config = config.with_private_key(String::from_utf8_lossy(key).into_owned());
        }
        let client = payhub_pingpp::PingppClient::new(config)?;
        let verifier = payhub_pingpp::WebhookVerifier::from_pem(public_key_pem)
            .map_err(|e| anyhow::anyhow!("the Ping++ public key is not usable: {e}"))?;
        Ok(PingppProvider::new(client, verifier, mode))
    }
}
