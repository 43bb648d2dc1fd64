//! `[paypal.live]` is production PayPal, `[paypal.test]` PayPal's sandbox (or payhub's own
//! simulator, given its `base_url` and trust): the section and the adapter built from it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use payhub_core::Mode;
use payhub_paypal::{ClientConfig, PaypalClient, Secret, TrustConfig, VerifierConfig, WebhookVerifier};
use serde::Deserialize;

use super::{LegacySettings, PaypalProvider, Verification};
use crate::providers::PaymentProvider;
use crate::providers::registry::{ModeSection, read_key_file};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaypalSection {
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
    #[serde(default = "crate::providers::registry::default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Where IPN messages are posted back (`cmd=_notify-validate`) and PDT is asked. Defaults to
    /// PayPal's live or sandbox IPN host for the postback, and its website for PDT.
    pub ipn_url: Option<String>,
    /// The account's PDT identity token: with it, a buyer's return with `tx=` is checked with
    /// PayPal (`cmd=_notify-synch`).
    pub pdt_identity_token: Option<String>,
    /// The merchant's PayPal emails: an IPN whose `receiver_email` is none of them (and whose
    /// `receiver_id` is not `merchant_id`) is flagged, not applied.
    #[serde(default)]
    pub merchant_emails: Vec<String>,
    /// The merchant's PayPal account id (an IPN's `receiver_id`).
    pub merchant_id: Option<String>,
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

/// Lists the environment gives comma-separated (`PAYHUB__PAYPAL__LIVE__CERT_HOSTS=a,b`).
pub const LIST_KEYS: &[&str] = &[
    "live.cert_hosts",
    "test.cert_hosts",
    "live.signing_subjects",
    "test.signing_subjects",
    "live.merchant_emails",
    "test.merchant_emails",
];

/// The system's CA bundle, which holds DigiCert's roots that PayPal's certificates chain to.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

impl ModeSection for PaypalSection {
    fn account(&self) -> &str {
        &self.client_id
    }

    fn adapter(&self, mode: Mode) -> anyhow::Result<Arc<dyn PaymentProvider>> {
        let (default_base, default_host, subject) = match mode {
            Mode::Live => {
                (payhub_paypal::LIVE_BASE_URL, payhub_paypal::LIVE_CERT_HOST, payhub_paypal::LIVE_SIGNING_SUBJECT)
            }
            Mode::Test => (
                payhub_paypal::SANDBOX_BASE_URL,
                payhub_paypal::SANDBOX_CERT_HOST,
                payhub_paypal::SANDBOX_SIGNING_SUBJECT,
            ),
        };
        let client = PaypalClient::new(ClientConfig {
            base_url: self.base_url.clone().unwrap_or_else(|| default_base.to_owned()),
            client_id: self.client_id.clone(),
            client_secret: Secret::new(self.client_secret.clone()),
            timeout: self.timeout,
        })?;
        let verification = match self.verification {
            VerificationMode::Remote => Verification::Remote { webhook_id: self.webhook_id.clone() },
            VerificationMode::Local => {
                let roots_file = self.trust_roots_file.clone().unwrap_or_else(|| SYSTEM_ROOTS.into());
                let fix = format!("set paypal.{mode}.trust_roots_file to a PEM bundle holding DigiCert's roots");
                let trust = TrustConfig {
                    webhook_id: self.webhook_id.clone(),
                    trust_anchors_pem: read_key_file(&roots_file, "PayPal trust roots", &fix)?,
                    intermediates_pem: Vec::new(),
                    expected_subject_names: self.signing_subjects.clone().unwrap_or_else(|| vec![subject.to_owned()]),
                };
                let verifier = VerifierConfig {
                    trust,
                    allowed_cert_hosts: self.cert_hosts.clone().unwrap_or_else(|| vec![default_host.to_owned()]),
                    allow_plain_http_cert_urls: self.allow_http_cert_urls,
                };
                Verification::Local(WebhookVerifier::new(verifier, payhub_paypal::default_http_client()?)?)
            }
        };
        let provider = PaypalProvider::new(client, verification)
            .with_legacy(self.legacy_settings(mode), payhub_paypal::default_http_client()?);
        Ok(Arc::new(provider))
    }
}

impl PaypalSection {
    fn legacy_settings(&self, mode: Mode) -> LegacySettings {
        let defaults = LegacySettings::for_live(mode == Mode::Live);
        LegacySettings {
            ipn_url: self.ipn_url.clone().unwrap_or(defaults.ipn_url),
            pdt_url: self.ipn_url.clone().unwrap_or(defaults.pdt_url),
            pdt_identity_token: self.pdt_identity_token.clone(),
            merchant_emails: self.merchant_emails.clone(),
            merchant_id: self.merchant_id.clone(),
        }
    }
}
