//! `payhub bench`: signed PayPal webhooks per second, verified (certificate chain, CRC32 signed
//! string, RSA signature) and durably stored, on SQLite and PostgreSQL — beside a bare axum
//! endpoint answering 200 under the same load in the same run, so the figures come with their
//! baseline and a ratio rather than as absolute numbers from an unknown machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::post;
use payhub_core::{Clock, Mode};
use payhub_sandbox::TestClock;
use payhub_sandbox::paypal::signing::{SigningKey, signed_string};
use payhub_store::Database;
use serde_json::json;
use tokio::net::TcpListener;

use crate::app::{Hub, HubSettings};
use crate::config::Config;
use crate::providers::Providers;
use crate::providers::paypal;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Notifications sent per target.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Also measure PostgreSQL: a server URL on which a scratch database is created and dropped.
    #[arg(long, env = "PAYHUB_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
}

const WEBHOOK_ID: &str = "WH-BENCH";

/// A notification ready to send: PayPal's headers and the exact signed body.
struct SignedNotification {
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

type Notifications = Arc<Vec<SignedNotification>>;

struct Figures {
    target: String,
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::app::install_crypto_provider();
    let clock = TestClock::new();
    let sandbox = payhub_sandbox::start(payhub_sandbox::SandboxOptions {
        paypal_addr: "127.0.0.1:0".parse()?,
        pingpp_addr: "127.0.0.1:0".parse()?,
        public_host: None,
        clock: clock.clone(),
        seed: 1,
    })
    .await?;
    eprintln!("signing {} notifications…", args.requests);
    let notifications = Arc::new(sign_notifications(&sandbox.paypal.cert_url(), clock.now(), args.requests)?);

    let mut results =
        vec![measure("bare axum 200 OK", &baseline_server().await?, &notifications, args.concurrency).await?];

    let dir = tempfile_dir()?;
    let sqlite = format!("sqlite://{}", dir.join("bench.db").display());
    results.push(measure_hub("payhub ingest, SQLite", &sqlite, &sandbox.paypal_url, &notifications, &args).await?);
    if let Some(server) = &args.postgres_url {
        let scratch = ScratchPostgres::create(server).await?;
        let outcome =
            measure_hub("payhub ingest, PostgreSQL", &scratch.url, &sandbox.paypal_url, &notifications, &args).await;
        scratch.drop_database().await;
        results.push(outcome?);
    } else {
        eprintln!("(set --postgres-url or PAYHUB_BENCH_POSTGRES_URL to measure PostgreSQL too)");
    }
    let _ = std::fs::remove_dir_all(&dir);
    sandbox.shutdown().await;
    report(&results, args.concurrency);
    Ok(())
}

fn report(results: &[Figures], concurrency: usize) {
    let baseline = results[0].per_second();
    println!();
    println!(
        "{} requests per target, {concurrency} connections, load generator in the same process",
        results[0].requests
    );
    println!("{:<28} {:>10} {:>10} {:>10} {:>12}", "target", "req/s", "p50 ms", "p99 ms", "vs baseline");
    for r in results {
        println!(
            "{:<28} {:>10.0} {:>10.2} {:>10.2} {:>11.2}x",
            r.target,
            r.per_second(),
            r.percentile(0.50).as_secs_f64() * 1000.0,
            r.percentile(0.99).as_secs_f64() * 1000.0,
            r.per_second() / baseline
        );
    }
}

/// PayPal-shaped notifications, each with its own event id and signature, like real traffic.
fn sign_notifications(
    cert_url: &str,
    now: chrono::DateTime<chrono::Utc>,
    count: usize,
) -> anyhow::Result<Vec<SignedNotification>> {
    let key = SigningKey::load()?;
    let time = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (0..count)
        .map(|i| {
            let body = serde_json::to_vec(&json!({
                "id": format!("WH-BENCH-{i:08}"),
                "event_version": "1.0",
                "create_time": time,
                "resource_type": "capture",
                "resource_version": "2.0",
                "event_type": "PAYMENT.CAPTURE.COMPLETED",
                "summary": "Payment completed for $ 10.0 USD",
                "resource": {"id": format!("CAP{i:014}"), "status": "COMPLETED",
                    "amount": {"currency_code": "USD", "value": "10.00"},
                    "supplementary_data": {"related_ids": {"order_id": format!("ORDER{i:012}")}},
                    "padding": "x".repeat(900)},
                "links": []
            }))?;
            let transmission_id = format!("bench-{i}");
            let signature = key.sign(signed_string(&transmission_id, &time, WEBHOOK_ID, &body).as_bytes())?;
            let headers = vec![
                ("content-type", "application/json".to_owned()),
                ("paypal-transmission-id", transmission_id),
                ("paypal-transmission-time", time.clone()),
                ("paypal-transmission-sig", signature),
                ("paypal-cert-url", cert_url.to_owned()),
                ("paypal-auth-algo", "SHA256withRSA".to_owned()),
            ];
            Ok(SignedNotification { headers, body })
        })
        .collect()
}

async fn baseline_server() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/paypal", listener.local_addr()?);
    let app = axum::Router::new().route("/webhooks/paypal", post(|_body: axum::body::Bytes| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn measure_hub(
    target: &str,
    database_url: &str,
    sandbox_paypal_url: &str,
    notifications: &Notifications,
    args: &BenchArgs,
) -> anyhow::Result<Figures> {
    let db = Database::connect(database_url).await?;
    db.migrate().await?;
    let mut providers = Providers::default();
    providers.insert(
        Mode::Test,
        Arc::new(paypal::sandbox_adapter(sandbox_paypal_url, WEBHOOK_ID, Duration::from_secs(10))?),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut config = Config::default();
    config.workers.enabled = false;
    let hub = Hub::new(db.clone(), Arc::new(crate::clock::SystemClock), providers, HubSettings::from_config(&config));
    let running = hub.serve(listener).await?;
    let url = format!("{}/webhooks/paypal", running.url());
    let figures = measure(target, &url, notifications, args.concurrency).await?;
    let stored = db.inbox_backlog().await?;
    anyhow::ensure!(
        stored as usize == notifications.len(),
        "{target}: {stored} of {} notifications stored",
        notifications.len()
    );
    running.shutdown().await;
    db.close().await;
    Ok(figures)
}

async fn measure(
    target: &str,
    url: &str,
    notifications: &Notifications,
    concurrency: usize,
) -> anyhow::Result<Figures> {
    eprintln!("measuring {target}…");
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (client, next, notifications, url) = (client.clone(), next.clone(), notifications.clone(), url.to_owned());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(notification) = notifications.get(i) else { return Ok(latencies) };
                let mut request = client.post(&url).body(notification.body.clone());
                for (name, value) in &notification.headers {
                    request = request.header(*name, value);
                }
                let sent = Instant::now();
                let response = request.send().await?;
                anyhow::ensure!(response.status().is_success(), "answer {} to notification {i}", response.status());
                latencies.push(sent.elapsed());
            }
        })
    });
    let mut latencies = Vec::with_capacity(notifications.len());
    for worker in workers.collect::<Vec<_>>() {
        latencies.extend(worker.await.context("load worker")??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Figures { target: target.to_owned(), requests: notifications.len(), elapsed, latencies })
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("payhub-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A database created for the run on a PostgreSQL server, dropped afterwards.
struct ScratchPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchPostgres {
    async fn create(server_url: &str) -> anyhow::Result<Self> {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let name = format!("payhub_bench_{}", std::process::id());
        let mut admin = sqlx::AnyConnection::connect(server_url).await.context("connect to --postgres-url")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
        let mut url = url::Url::parse(server_url)?;
        url.set_path(&format!("/{name}"));
        Ok(Self { admin_url: server_url.to_owned(), name, url: url.to_string() })
    }

    async fn drop_database(&self) {
        use sqlx::Connection;
        if let Ok(mut admin) = sqlx::AnyConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
                .execute(&mut admin)
                .await;
        }
    }
}
