use std::net::SocketAddr;
use std::sync::Arc;

use payhub_core::{Mode, SharedClock};
use payhub_sandbox::TestClock;
use tokio::net::TcpListener;
use tracing::info;

use super::Common;
use crate::app::{Hub, HubSettings};
use crate::clock::SystemClock;
use crate::providers::Providers;
use crate::services::api_keys::create_api_key;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on (overrides the configuration).
    #[arg(long, env = "PAYHUB_LISTEN")]
    listen: Option<SocketAddr>,
    /// How buyers and providers reach this hub, if not http://{listen}.
    #[arg(long, env = "PAYHUB_PUBLIC_URL")]
    public_url: Option<String>,
    /// Also run the provider simulators in this process, use them for test mode, and print a
    /// test API key: everything on one machine, no accounts needed.
    #[arg(long)]
    sandbox: bool,
    /// Where the in-process PayPal simulator listens (with --sandbox).
    #[arg(long, default_value = "127.0.0.1:8081")]
    sandbox_paypal_addr: SocketAddr,
    /// Where the in-process Ping++ simulator listens (with --sandbox).
    #[arg(long, default_value = "127.0.0.1:8082")]
    sandbox_pingpp_addr: SocketAddr,
    /// Accept and store notifications but leave applying them to other instances.
    #[arg(long)]
    no_workers: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.common.load()?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if args.public_url.is_some() {
        config.public_url = args.public_url.clone();
    }
    if args.no_workers {
        config.workers.enabled = false;
    }
    super::init_tracing(config.log.format);
    let db = super::open_database(&config.database_url).await?;
    let encrypted = super::prepare_endpoint_secrets(&db, &config).await?;
    if encrypted > 0 {
        info!(endpoints = encrypted, "encrypted webhook endpoint secrets stored in plaintext");
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} ({e}); pick another address with --listen", config.listen))?;
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{}", listener.local_addr()?));
    }
    let public_url = config.public_url();
    let mut providers = Providers::from_config(&config.providers)?;

    let mut sandbox = None;
    let clock: SharedClock = if args.sandbox {
        // One clock for hub and simulators, so moving it moves both.
        let clock = TestClock::new();
        let options = payhub_sandbox::SandboxOptions {
            paypal_addr: args.sandbox_paypal_addr,
            pingpp_addr: args.sandbox_pingpp_addr,
            public_host: None,
            clock: clock.clone(),
            seed: 1,
        };
        let running = payhub_sandbox::start(options).await.map_err(|e| {
            anyhow::anyhow!("cannot start the sandbox on {} ({e}); use --sandbox-paypal-addr", args.sandbox_paypal_addr)
        })?;
        providers.use_sandbox(&running, &public_url, payhub_paypal::DEFAULT_TIMEOUT).await?;
        sandbox = Some(running);
        clock
    } else {
        Arc::new(SystemClock)
    };

    let mut settings = HubSettings::from_config(&config);
    if args.sandbox {
        // Test-mode receivers run on this machine beside the simulators.
        settings.egress = settings.egress.with_loopback_in_test_mode();
    }
    let hub = Hub::new(db.clone(), clock.clone(), providers, settings);
    let ids = hub.ids.clone();
    let running = hub.serve(listener).await?;
    info!(url = %running.url(), database = %crate::config::redact_url(&config.database_url), "payhub is serving");
    if let Some(ops) = running.ops_address {
        info!(url = %format!("http://{ops}"), "/healthz, /readyz and /metrics are served here");
    }
    if let Some(sandbox) = &sandbox {
        let (key, secret) = create_api_key(&db, &ids, clock.now(), Mode::Test, "serve --sandbox").await?;
        println!();
        println!("payhub      {}", running.url());
        println!("PayPal sim  {}  (buyer pages, control endpoints under /sandbox)", sandbox.paypal_url);
        println!("Ping++ sim  {}  (control endpoints under /sandbox)", sandbox.pingpp_url);
        println!("API key     {secret}  ({}, test mode)", key.id);
        println!();
        println!("try:  curl -s {}/v1/payments -H 'Authorization: Bearer {secret}' \\", running.url());
        println!("        -H 'Idempotency-Key: '$(date +%s%N) -H 'Content-Type: application/json' \\");
        println!("        -d '{{\"provider\":\"paypal\",\"amount\":1000,\"currency\":\"USD\"}}'");
        println!();
    }
    stop_requested().await?;
    info!("shutting down");
    running.shutdown().await;
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    db.close().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM (what `docker stop`, systemd and Kubernetes send): either way in-flight
/// requests finish and this process says it stopped, so its retried requests are taken over at
/// once rather than treated as a crash.
pub(super) async fn stop_requested() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
