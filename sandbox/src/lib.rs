//! payhub's sandbox: faithful local simulators of its payment providers, PayPal and Ping++
//! ([`pingpp`], on a listener of its own).
//!
//! PayPal's own sandbox is slow, flaky and loses webhooks. This one answers on the same paths with
//! the same fields, status values, error shapes, OAuth2 flow and webhook signatures, so PayPal's
//! official SDKs and payhub's own PayPal client work against it with only the base URL changed.
//! On top of that it is deterministic and can break on purpose:
//!
//! - **one clock**: every simulator reads the shared [`TestClock`]; `POST /sandbox/clock/advance`
//!   moves it and runs what became due (token expiry, order expiry, webhook retries) in
//!   (time, sequence) order before answering ([`scheduler`], [`control`]);
//! - **chaos**: webhook deliveries can be dropped, duplicated, delayed and reordered at chosen
//!   rates, drawn from the seed ([`chaos`], [`delivery`]);
//! - **faults**: the next API calls can fail or hang ([`faults`]);
//! - **control endpoints** play the parts no API covers: the buyer approving, PayPal settling a
//!   pending capture, the merchant refunding in PayPal's dashboard ([`paypal::control`]).
//!
//! [`start`] binds the simulators and runs them with their scheduler; the payhub CLI's
//! `sandbox` command calls [`run_until_ctrl_c`].

pub mod chaos;
pub mod clock;
pub mod control;
pub mod delivery;
pub mod faults;
mod ids;
pub mod paypal;
pub mod pingpp;
pub mod scheduler;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chaos::Chaos;
use crate::delivery::Dispatcher;
use crate::scheduler::Scheduler;

pub use crate::clock::TestClock;
pub use crate::paypal::signing::{PAYPAL_CERT_SUBJECT_NAME, paypal_signing_cert_pem, paypal_trust_anchor_pem};
pub use crate::paypal::{PaypalSimulator, SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET};
pub use crate::pingpp::{
    PingppSimulator, SANDBOX_PINGPP_APP_ID, SANDBOX_PINGPP_SECRET_KEY, pingpp_merchant_private_key_pem,
    pingpp_merchant_public_key_pem, pingpp_public_key_pem,
};

/// How long [`RunningSandbox::shutdown`] lets open requests finish before cutting them.
const SHUTDOWN_GRACE: StdDuration = StdDuration::from_secs(5);

pub struct SandboxOptions {
    /// Where the PayPal simulator listens; port 0 picks a free port.
    pub paypal_addr: SocketAddr,
    /// Where the Ping++ simulator listens (its API base URL); port 0 picks a free port.
    pub pingpp_addr: SocketAddr,
    /// How others reach the simulator (`host:port` or a full base URL), used in `links`, the
    /// approval URL and the webhook cert URL; defaults to the bound address.
    pub public_host: Option<String>,
    pub clock: Arc<TestClock>,
    /// Seeds chaos and the sandbox buyer's and merchant's identities.
    pub seed: u64,
}

/// What the simulators share: the clock, the queue of due actions, chaos and webhook delivery.
pub struct Sandbox {
    clock: Arc<TestClock>,
    seed: u64,
    scheduler: Arc<Scheduler>,
    chaos: Arc<Chaos>,
    dispatcher: Arc<Dispatcher>,
}

impl Sandbox {
    pub fn new(clock: Arc<TestClock>, seed: u64) -> anyhow::Result<Arc<Self>> {
        // reqwest is built without a default crypto provider (the workspace standardises on
        // ring); installing it here keeps webhook delivery to https receivers working when the
        // embedding program has not done so. An Err only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let scheduler = Scheduler::new(clock.clone());
        let chaos = Arc::new(Chaos::new(seed));
        let dispatcher = Dispatcher::new(scheduler.clone(), chaos.clone())?;
        Ok(Arc::new(Self { clock, seed, scheduler, chaos, dispatcher }))
    }

    pub fn clock(&self) -> &Arc<TestClock> {
        &self.clock
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.scheduler
    }

    pub fn chaos(&self) -> &Chaos {
        &self.chaos
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Moves the clock forward and runs every action that became due; returns how many ran.
    pub async fn advance(&self, by: Duration) -> usize {
        self.scheduler.advance(by).await.1
    }

    /// Starts the task that runs due actions as real time passes.
    pub fn spawn_scheduler(&self, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(self.scheduler.clone().run_in_background(shutdown))
    }
}

pub struct RunningSandbox {
    /// Base URL of the PayPal simulator, e.g. `http://127.0.0.1:40123`.
    pub paypal_url: String,
    pub clock: Arc<TestClock>,
    pub paypal: Arc<PaypalSimulator>,
    /// Base URL of the Ping++ simulator (what `pingpp.api_base` is set to).
    pub pingpp_url: String,
    pub pingpp: Arc<PingppSimulator>,
    pub sandbox: Arc<Sandbox>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSandbox {
    /// Stops accepting connections, lets open requests finish (briefly) and stops the scheduler.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for mut task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

/// Binds the simulators and spawns their HTTP servers and the scheduler.
pub async fn start(options: SandboxOptions) -> anyhow::Result<RunningSandbox> {
    let listener = tokio::net::TcpListener::bind(options.paypal_addr)
        .await
        .with_context(|| format!("cannot listen on {} for the PayPal simulator", options.paypal_addr))?;
    let bound = listener.local_addr()?;
    let paypal_url = public_url(options.public_host.as_deref(), bound);
    let pingpp_listener = tokio::net::TcpListener::bind(options.pingpp_addr)
        .await
        .with_context(|| format!("cannot listen on {} for the Ping++ simulator", options.pingpp_addr))?;
    let pingpp_url = public_url(None, pingpp_listener.local_addr()?);

    let sandbox = Sandbox::new(options.clock.clone(), options.seed)?;
    let paypal = PaypalSimulator::new(sandbox.clone(), paypal_url.clone())?;
    let pingpp = PingppSimulator::new(sandbox.clone(), pingpp_url.clone())?;
    let (shutdown, stop) = watch::channel(false);

    let router = paypal.router();
    let mut server_stop = stop.clone();
    let server = tokio::spawn(async move {
        let stopping = async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stopping).await {
            tracing::error!(%error, "PayPal simulator stopped with an error");
        }
    });
    let pingpp_router = pingpp.router();
    let mut pingpp_stop = stop.clone();
    let pingpp_server = tokio::spawn(async move {
        let stopping = async move {
            let _ = pingpp_stop.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(pingpp_listener, pingpp_router).with_graceful_shutdown(stopping).await {
            tracing::error!(%error, "Ping++ simulator stopped with an error");
        }
    });
    let scheduler = sandbox.spawn_scheduler(stop);

    Ok(RunningSandbox {
        paypal_url,
        clock: options.clock,
        paypal,
        pingpp_url,
        pingpp,
        sandbox,
        shutdown,
        tasks: vec![server, pingpp_server, scheduler],
    })
}

/// Runs the simulators until Ctrl-C, printing one `… listening on URL` line per simulator (the
/// CLI and the SDK test runner read it).
pub async fn run_until_ctrl_c(options: SandboxOptions) -> anyhow::Result<()> {
    let running = start(options).await?;
    println!("paypal simulator listening on {}", running.paypal_url);
    println!("pingpp simulator listening on {}", running.pingpp_url);
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    running.shutdown().await;
    Ok(())
}

fn public_url(public_host: Option<&str>, bound: SocketAddr) -> String {
    match public_host.map(str::trim).filter(|host| !host.is_empty()) {
        Some(host) if host.contains("://") => host.trim_end_matches('/').to_owned(),
        Some(host) => format!("http://{}", host.trim_end_matches('/')),
        None => {
            // A wildcard bind is reachable on loopback; "0.0.0.0" in a link is not.
            let mut reachable = bound;
            if reachable.ip().is_unspecified() {
                reachable.set_ip(match bound {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            format!("http://{reachable}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_defaults_to_a_reachable_bound_address() {
        let wildcard: SocketAddr = "0.0.0.0:4010".parse().unwrap();
        assert_eq!(public_url(None, wildcard), "http://127.0.0.1:4010");
        assert_eq!(public_url(Some("sandbox.local:8080"), wildcard), "http://sandbox.local:8080");
        assert_eq!(public_url(Some("https://pp.example.test/"), wildcard), "https://pp.example.test");
    }
}
