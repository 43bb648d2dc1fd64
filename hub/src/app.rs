//! Wiring: the shared [`Hub`] every handler and worker uses, and [`RunningHub`], a hub serving
//! HTTP with its workers — what `payhub serve` runs and what the integration tests start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use payhub_core::{IdGenerator, SharedClock};
use payhub_store::{Database, InstanceIdentity};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::instance;
use crate::providers::Providers;
use crate::workers::claim_writer::ClaimWriter;
use crate::workers::inbox_writer::InboxWriter;
use crate::workers::unit_writer::UnitWriter;
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
    pub ops: crate::config::OpsConfig,
    /// Where merchant endpoints may be.
    pub egress: crate::egress::EgressPolicy,
    /// Mail to customer service, when an SMTP server is configured.
    pub mail: Option<crate::notifications::MailSettings>,
    /// How much of the record of refused notifications is kept.
    pub rejections: payhub_store::RejectionRetention,
    pub disputes: crate::config::DisputesConfig,
    /// How endpoints' signing secrets are stored (encrypted when a key is configured).
    pub secrets: crate::encryption::SecretsAtRest,
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
            ops: config.ops.clone(),
            egress: crate::egress::EgressPolicy::new(config.webhooks.allow_private_networks.clone()),
            // Checked when the configuration was loaded.
            mail: crate::notifications::MailSettings::from_config(&config.notifications).ok().flatten(),
            rejections: config.rejections.retention(),
            disputes: config.disputes.clone(),
            // Checked when the configuration was loaded.
            secrets: config.security.secrets_at_rest().unwrap_or_default(),
        }
    }
}

/// Wake-ups between parts of one instance, so work starts at once instead of at the next poll.
/// (Other instances find the same work by polling the database.)
#[derive(Default)]
pub struct Signals {
    pub inbox: Notify,
    pub outbox: Notify,
    pub mail: Notify,
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
    /// Claims Idempotency-Keys, several requests' in one commit.
    pub claims: ClaimWriter,
    /// Records created payments, several requests' units in one commit.
    pub units: UnitWriter,
    /// This process, as other processes sharing the database know it.
    pub instance: Arc<InstanceIdentity>,
    /// Readings of a provider's case are applied in the order they were taken (see
    /// [`KeyedLocks`](crate::services::keyed_locks::KeyedLocks)).
    pub case_readings: Arc<crate::services::keyed_locks::KeyedLocks>,
}

impl Hub {
    /// Builds the context and starts the inbox writer (which must run for ingress to answer).
    /// New ids draw on the operating system's randomness.
    pub fn new(db: Database, clock: SharedClock, providers: Providers, settings: HubSettings) -> Self {
        install_crypto_provider();
        let signals = Arc::new(Signals::default());
        let wake = signals.clone();
        let inbox = InboxWriter::start(db.clone(), move || wake.inbox.notify_one());
        let ids = Arc::new(crate::ids::from_os_entropy());
        let instance = Arc::new(instance::identity(&ids, clock.now()));
        let claims = ClaimWriter::start(db.clone(), clock.clone(), instance.id.clone());
        let units = UnitWriter::start(db.clone(), ids.clone(), signals.clone());
        let (providers, settings) = (Arc::new(providers), Arc::new(settings));
        Self {
            db,
            clock,
            ids,
            providers,
            settings,
            signals,
            inbox,
            claims,
            units,
            instance,
            case_readings: Arc::default(),
        }
    }

    /// Serves the API on `listener` and, when configured, runs the workers.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<RunningHub> {
        let address = listener.local_addr()?;
        let (stop, shutdown) = Shutdown::new();
        // Registered before the first request, so the keys it claims are known to be its own.
        instance::register(&self).await;
        let mut tasks = if self.settings.workers.enabled { workers::spawn_all(&self, &shutdown) } else { vec![] };
        tasks.push(tokio::spawn(instance::beat(self.clone(), shutdown.clone())));
        let ops_address = match self.settings.ops.listen {
            Some(ops_listen) => {
                let ops_listener = TcpListener::bind(ops_listen).await.map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot listen on ops.listen {ops_listen} ({e})"))
                })?;
                let ops_address = ops_listener.local_addr()?;
                tasks.push(serve_http(ops_listener, crate::http::ops_router(self.clone()), shutdown.clone()));
                Some(ops_address)
            }
            None => None,
        };
        tasks.push(serve_http(listener, crate::http::router(self.clone()), shutdown.clone()));
        Ok(RunningHub { address, ops_address, hub: self, stop, tasks })
    }
}

fn serve_http(listener: TcpListener, router: axum::Router, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { shutdown.requested().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    })
}

/// A hub serving HTTP. Dropping it does not stop it; call [`RunningHub::shutdown`].
pub struct RunningHub {
    pub address: SocketAddr,
    /// Where `/healthz`, `/readyz` and `/metrics` are served, when not on `address`.
    pub ops_address: Option<SocketAddr>,
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
        // Only now: a request still being answered a moment ago must not be taken over.
        instance::stop(&self.hub).await;
    }
}

/// rustls needs one process-wide crypto provider, installed before any TLS client is built;
/// payhub uses ring everywhere.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
