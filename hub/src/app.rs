//! Wiring: the shared [`Hub`] every handler and worker uses, and [`RunningHub`], a hub serving
//! HTTP with its workers — what `payhub serve` runs and what the integration tests start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use payhub_core::{IdGenerator, Mode, SharedClock};
use payhub_paypal::{ClientConfig, PaypalClient, Secret, TrustConfig, VerifierConfig, WebhookVerifier};
use payhub_store::Database;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, PaypalConfig, PingppConfig, VerificationMode};
use crate::providers::Providers;
use crate::providers::paypal::{PaypalProvider, Verification};
use crate::providers::pingpp::PingppProvider;
use crate::workers::inbox_writer::InboxWriter;
use crate::workers::{self, Shutdown};

/// What the hub's behaviour depends on, besides its providers.
#[derive(Debug, Clone)]
pub struct HubSettings {
    pub public_url: String,
    pub payment_expiry: Duration,
    pub anomaly_policy: crate::config::AnomalyPolicy,
    pub entitlement_grace: Duration,
    pub workers: crate::config::WorkersConfig,
    pub delivery: crate::config::DeliveryConfig,
}

impl HubSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            public_url: config.public_url(),
            payment_expiry: config.payment_expiry,
            anomaly_policy: config.anomalies.policy,
            entitlement_grace: config.entitlement_grace,
            workers: config.workers.clone(),
            delivery: config.delivery.clone(),
        }
    }
}

/// Wake-ups between parts of one instance, so work starts at once instead of at the next poll.
/// (Other instances find the same work by polling the database.)
#[derive(Default)]
pub struct Signals {
    pub inbox: Notify,
    pub outbox: Notify,
}

/// The shared context of one hub instance. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    pub db: Database,
    pub clock: SharedClock,
    /// Every id this instance mints comes from here, so ids sort in creation order.
    pub ids: Arc<IdGenerator>,
    pub providers: Arc<Providers>,
    pub settings: Arc<HubSettings>,
    pub signals: Arc<Signals>,
    pub inbox: InboxWriter,
}

impl Hub {
    /// Builds the context and starts the inbox writer (which must run for ingress to answer).
    /// New ids draw on the operating system's randomness; see [`Hub::with_ids`].
    pub fn new(db: Database, clock: SharedClock, providers: Providers, settings: HubSettings) -> Self {
        install_crypto_provider();
        let signals = Arc::new(Signals::default());
        let wake = signals.clone();
        let inbox = InboxWriter::start(db.clone(), move || wake.inbox.notify_one());
        let ids = Arc::new(crate::ids::from_os_entropy());
        Self { db, clock, ids, providers: Arc::new(providers), settings: Arc::new(settings), signals, inbox }
    }

    /// Mints ids from `ids` instead, e.g. a seeded generator so that a test run can be replayed.
    pub fn with_ids(mut self, ids: IdGenerator) -> Self {
        self.ids = Arc::new(ids);
        self
    }

    /// Serves the API on `listener` and, when configured, runs the workers.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<RunningHub> {
        let address = listener.local_addr()?;
        let (stop, shutdown) = Shutdown::new();
        let mut tasks = if self.settings.workers.enabled { workers::spawn_all(&self, &shutdown) } else { vec![] };
        let router = crate::http::router(self.clone());
        let mut server_shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move { server_shutdown.requested().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        }));
        Ok(RunningHub { address, hub: self, stop, tasks })
    }
}

/// A hub serving HTTP. Dropping it does not stop it; call [`RunningHub::shutdown`].
pub struct RunningHub {
    pub address: SocketAddr,
    pub hub: Hub,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningHub {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting requests, lets in-flight ones and the workers' current steps finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// rustls needs one process-wide crypto provider; payhub uses ring everywhere.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the PayPal adapter for one mode from its configuration.
pub fn paypal_provider(mode: Mode, config: &PaypalConfig) -> anyhow::Result<PaypalProvider> {
    install_crypto_provider();
    let (default_base, default_host, subject) = match mode {
        Mode::Live => {
            (payhub_paypal::LIVE_BASE_URL, payhub_paypal::LIVE_CERT_HOST, payhub_paypal::LIVE_SIGNING_SUBJECT)
        }
        Mode::Test => {
            (payhub_paypal::SANDBOX_BASE_URL, payhub_paypal::SANDBOX_CERT_HOST, payhub_paypal::SANDBOX_SIGNING_SUBJECT)
        }
    };
    let client = PaypalClient::new(ClientConfig {
        base_url: config.base_url.clone().unwrap_or_else(|| default_base.to_owned()),
        client_id: config.client_id.clone(),
        client_secret: Secret::new(config.client_secret.clone()),
        timeout: config.timeout,
    })?;
    let verification = match config.verification {
        VerificationMode::Remote => Verification::Remote { webhook_id: config.webhook_id.clone() },
        VerificationMode::Local => {
            let roots_file =
                config.trust_roots_file.clone().unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
            let trust_anchors_pem = std::fs::read(&roots_file).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read PayPal trust roots from {} ({e}); set paypal.{mode}.trust_roots_file to a PEM bundle \
                     holding DigiCert's roots",
                    roots_file.display()
                )
            })?;
            let trust = TrustConfig {
                webhook_id: config.webhook_id.clone(),
                trust_anchors_pem,
                intermediates_pem: Vec::new(),
                expected_subject_names: config.signing_subjects.clone().unwrap_or_else(|| vec![subject.to_owned()]),
            };
            let verifier_config = VerifierConfig {
                trust,
                allowed_cert_hosts: config.cert_hosts.clone().unwrap_or_else(|| vec![default_host.to_owned()]),
                allow_plain_http_cert_urls: config.allow_http_cert_urls,
            };
            Verification::Local(WebhookVerifier::new(verifier_config, payhub_paypal::default_http_client()?)?)
        }
    };
    Ok(PaypalProvider::new(client, verification))
}

/// Providers for every mode configured in `config`: one line per provider.
pub fn providers_from_config(config: &Config) -> anyhow::Result<Providers> {
    let mut providers = Providers::default();
    for mode in Mode::ALL {
        let (paypal, pingpp) = match mode {
            Mode::Live => (&config.paypal.live, &config.pingpp.live),
            Mode::Test => (&config.paypal.test, &config.pingpp.test),
        };
        if let Some(paypal) = paypal {
            providers.insert(mode, Arc::new(paypal_provider(mode, paypal)?));
        }
        if let Some(pingpp) = pingpp {
            providers.insert(mode, Arc::new(pingpp_provider(mode, pingpp)?));
        }
    }
    Ok(providers)
}

/// Builds the Ping++ adapter for one mode from its configuration.
pub fn pingpp_provider(mode: Mode, config: &PingppConfig) -> anyhow::Result<PingppProvider> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read the Ping++ {what} from {} ({e}); check pingpp.{mode}", path.display())
        })
    };
    let private_key = config.private_key_file.as_deref().map(|p| read(p, "merchant private key")).transpose()?;
    let public_key = read(&config.public_key_file, "public key")?;
    let base_url = config.base_url.as_deref().unwrap_or(payhub_pingpp::LIVE_BASE_URL);
    let credentials = PingppCredentials { base_url, app_id: &config.app_id, secret_key: &config.secret_key };
    pingpp_adapter(credentials, private_key, public_key.as_bytes(), config.timeout, mode)
}

struct PingppCredentials<'a> {
    base_url: &'a str,
    app_id: &'a str,
    secret_key: &'a str,
}

fn pingpp_adapter(
    credentials: PingppCredentials<'_>,
    private_key_pem: Option<String>,
    public_key_pem: &[u8],
    timeout: Duration,
    mode: Mode,
) -> anyhow::Result<PingppProvider> {
    install_crypto_provider();
    let mut config = payhub_pingpp::ClientConfig::new(credentials.base_url, credentials.app_id, credentials.secret_key);
    config.timeout = timeout;
    if let Some(key) = private_key_pem {
        config = config.with_private_key(key);
    }
    let client = payhub_pingpp::PingppClient::new(config)?;
    let verifier = payhub_pingpp::WebhookVerifier::from_pem(public_key_pem)
        .map_err(|e| anyhow::anyhow!("the Ping++ public key is not usable: {e}"))?;
    Ok(PingppProvider::new(client, verifier, mode))
}

/// The Ping++ adapter for test mode against payhub's own simulator: its app and key, request
/// signing turned on with the sandbox merchant key, and `hub_public_url` registered for
/// webhooks.
pub async fn sandbox_pingpp_provider(
    sandbox_pingpp_url: &str,
    hub_public_url: &str,
    timeout: Duration,
) -> anyhow::Result<PingppProvider> {
    let control = reqwest::Client::new();
    let base = sandbox_pingpp_url.trim_end_matches('/');
    let webhook = format!("{}/webhooks/pingpp", hub_public_url.trim_end_matches('/'));
    let register = serde_json::json!({ "url": webhook });
    control.put(format!("{base}/sandbox/pingpp/webhook")).json(&register).send().await?.error_for_status()?;
    let public_key = String::from_utf8_lossy(payhub_sandbox::pingpp_merchant_public_key_pem()).into_owned();
    let signing = serde_json::json!({ "public_key": public_key });
    control.put(format!("{base}/sandbox/pingpp/merchant-key")).json(&signing).send().await?.error_for_status()?;
    let credentials = PingppCredentials {
        base_url: sandbox_pingpp_url,
        app_id: payhub_sandbox::SANDBOX_PINGPP_APP_ID,
        secret_key: payhub_sandbox::SANDBOX_PINGPP_SECRET_KEY,
    };
    let private_key = String::from_utf8_lossy(payhub_sandbox::pingpp_merchant_private_key_pem()).into_owned();
    pingpp_adapter(credentials, Some(private_key), payhub_sandbox::pingpp_public_key_pem(), timeout, Mode::Test)
}

/// The PayPal adapter for test mode against payhub's own simulator: its credentials, its CA as
/// the only trust root, its host as the only cert host, and a webhook registered for
/// `hub_public_url` (as an operator would register one at PayPal).
pub async fn sandbox_paypal_provider(
    sandbox_paypal_url: &str,
    hub_public_url: &str,
    timeout: Duration,
) -> anyhow::Result<PaypalProvider> {
    let (client, _) = sandbox_paypal_client(sandbox_paypal_url, timeout)?;
    let webhook_url = format!("{}/webhooks/paypal", hub_public_url.trim_end_matches('/'));
    let webhook = client.create_webhook(&webhook_url, &["*"]).await?;
    sandbox_paypal_adapter(sandbox_paypal_url, &webhook.id, timeout)
}

/// The same adapter for a webhook already registered as `webhook_id`.
pub fn sandbox_paypal_adapter(
    sandbox_paypal_url: &str,
    webhook_id: &str,
    timeout: Duration,
) -> anyhow::Result<PaypalProvider> {
    let (client, cert_host) = sandbox_paypal_client(sandbox_paypal_url, timeout)?;
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

fn sandbox_paypal_client(sandbox_paypal_url: &str, timeout: Duration) -> anyhow::Result<(PaypalClient, String)> {
    install_crypto_provider();
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
