//! Wiring: the shared [`Hub`] every handler and worker uses, and [`RunningHub`], a hub serving
//! HTTP with its workers — what `payhub serve` runs and what the integration tests start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use payhub_core::{IdGenerator, SharedClock};
use payhub_store::Database;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::providers::Providers;
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
    pub disputes: crate::config::DisputesConfig,
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
            disputes: config.disputes.clone(),
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
    /// New ids draw on the operating system's randomness.
    pub fn new(db: Database, clock: SharedClock, providers: Providers, settings: HubSettings) -> Self {
        install_crypto_provider();
        let signals = Arc::new(Signals::default());
        let wake = signals.clone();
        let inbox = InboxWriter::start(db.clone(), move || wake.inbox.notify_one());
        let ids = Arc::new(crate::ids::from_os_entropy());
        Self { db, clock, ids, providers: Arc::new(providers), settings: Arc::new(settings), signals, inbox }
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

/// rustls needs one process-wide crypto provider, installed before any TLS client is built;
/// payhub uses ring everywhere.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
