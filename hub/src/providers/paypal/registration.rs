//! How the hub takes PayPal in: its configuration section, its simulator, its ingress route.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use payhub_core::ProviderName;
use payhub_paypal::{ClientConfig, PaypalClient, TrustConfig, VerifierConfig, WebhookVerifier};
use payhub_sandbox::RunningSandbox;

use super::config::{LIST_KEYS, PaypalSection};
use super::{LegacySettings, PaypalProvider, Verification};
use crate::app::Hub;
use crate::http::ingress;
use crate::providers::PaymentProvider;
use crate::providers::registry::{ProviderConfig, Registration, read_mode_sections};

pub struct Paypal;

#[async_trait]
impl Registration for Paypal {
    fn name(&self) -> ProviderName {
        ProviderName::Paypal
    }

    fn read_config(&self, config: &config::Config) -> Result<Arc<dyn ProviderConfig>, config::ConfigError> {
        read_mode_sections::<PaypalSection>(config, self.name())
    }

    fn list_keys(&self) -> &'static [&'static str] {
        LIST_KEYS
    }

    async fn sandbox_adapter(
        &self,
        sandbox: &RunningSandbox,
        hub_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Arc<dyn PaymentProvider>> {
        let (client, _) = sandbox_client(&sandbox.paypal_url, timeout)?;
        let webhook_url = format!("{}/webhooks/paypal", hub_url.trim_end_matches('/'));
        let webhook = client.create_webhook(&webhook_url, &["*"]).await?;
        // The simulator's account sends its IPN here, as a merchant sets it in PayPal's profile.
        let ipn_url = format!("{}/webhooks/paypal/ipn", hub_url.trim_end_matches('/'));
        sandbox.paypal.set_ipn_notify_url(Some(ipn_url));
        Ok(Arc::new(
            sandbox_adapter(&sandbox.paypal_url, &webhook.id, timeout)?
                .with_legacy(sandbox_legacy_settings(sandbox), payhub_paypal::default_http_client()?),
        ))
    }

    fn routes(&self) -> Router<Hub> {
        Router::new()
            .route("/webhooks/paypal", ingress::endpoint(ProviderName::Paypal))
            .route("/webhooks/paypal/ipn", ingress::unsigned_endpoint(ProviderName::Paypal, super::ipn::read))
    }
}

/// The test-mode adapter for payhub's PayPal simulator at `sandbox_paypal_url`, for a webhook
/// already registered there as `webhook_id`: the simulator's credentials, its CA as the only
/// trust root and its host as the only certificate host.
pub fn sandbox_adapter(
    sandbox_paypal_url: &str,
    webhook_id: &str,
    timeout: Duration,
) -> anyhow::Result<PaypalProvider> {
    let (client, cert_host) = sandbox_client(sandbox_paypal_url, timeout)?;
    let verifier = WebhookVerifier::new(
        VerifierConfig {
            trust: TrustConfig {
                webhook_id: webhook_id.to_owned(),
                trust_anchors_pem: payhub_sandbox::paypal_trust_anchor_pem().to_vec(),
                intermediates_pem: Vec::new(),
                expected_subject_names: vec![payhub_sandbox::PAYPAL_CERT_SUBJECT_NAME.to_owned()],
            },
            allowed_cert_hosts: vec![cert_host],
            allow_plain_http_cert_urls: true,
        },
        payhub_paypal::default_http_client()?,
    )?;
    Ok(PaypalProvider::new(client, Verification::Local(verifier)))
}

/// The simulator's merchant, its postback and PDT endpoint and its identity token.
pub fn sandbox_legacy_settings(sandbox: &RunningSandbox) -> LegacySettings {
    let webscr = format!("{}/cgi-bin/webscr", sandbox.paypal_url.trim_end_matches('/'));
    let parties = sandbox.paypal.parties();
    LegacySettings {
        ipn_url: webscr.clone(),
        pdt_url: webscr,
        pdt_identity_token: Some(sandbox.paypal.pdt_identity_token()),
        merchant_emails: vec![parties.merchant_email.clone()],
        merchant_id: Some(parties.merchant_id.clone()),
    }
}

fn sandbox_client(sandbox_paypal_url: &str, timeout: Duration) -> anyhow::Result<(PaypalClient, String)> {
    crate::app::install_crypto_provider();
    let client = PaypalClient::new(ClientConfig {
        timeout,
        ..ClientConfig::new(
            sandbox_paypal_url,
            payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID,
            payhub_sandbox::SANDBOX_PAYPAL_CLIENT_SECRET,
        )
    })?;
    let url = url::Url::parse(sandbox_paypal_url)?;
    let cert_host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => anyhow::bail!("the sandbox URL {sandbox_paypal_url} has no host"),
    };
    Ok((client, cert_host))
}
