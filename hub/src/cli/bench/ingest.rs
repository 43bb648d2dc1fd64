//! PayPal webhook ingest and its floors: a bare axum endpoint answering 200, an ingress that
//! verifies (HTTP, parse, certificate and RSA signature) but stores nothing, and the raw commit
//! rate of the store (one-row durable transactions, one after another).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use payhub_core::{Clock, Mode};
use payhub_sandbox::paypal::signing::{SigningKey, signed_string};
use payhub_store::Database;
use serde_json::json;
use tokio::net::TcpListener;

use super::load::{self, drive};
use super::{Row, Run, Store, Target};
use crate::app::{Hub, HubSettings};
use crate::config::Config;
use crate::providers::paypal;
use crate::providers::{PaymentProvider, Providers};

/// The webhook id the sandbox adapter is configured with, and the notifications signed for.
pub(crate) const WEBHOOK_ID: &str = "WH-BENCH";

/// A notification ready to send: PayPal's headers and the exact signed body.
pub(crate) struct SignedNotification {
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

pub(crate) type Notifications = Arc<Vec<SignedNotification>>;

impl Run {
    /// The notifications every ingest target sends, signed once per run (signing is slower than
    /// verifying, and not what is measured).
    async fn notifications(&self) -> anyhow::Result<Notifications> {
        let count = self.count(20_000, 400);
        let signed = self
            .notifications
            .get_or_try_init(|| async {
                let cert_url = self.sandbox.paypal.cert_url();
                let now = self.sandbox.clock.now();
                let bar = self.bar("signing", count);
                let signed =
                    tokio::task::spawn_blocking(move || sign_notifications(&cert_url, now, count, &bar)).await??;
                anyhow::Ok(Arc::new(signed))
            })
            .await?;
        Ok(signed.clone())
    }

    /// PayPal's adapter against the run's simulator, as a hub configured for it has.
    pub(crate) fn paypal_adapter(&self) -> anyhow::Result<Arc<dyn PaymentProvider>> {
        Ok(Arc::new(paypal::sandbox_adapter(&self.sandbox.paypal_url, WEBHOOK_ID, Duration::from_secs(10))?))
    }
}

/// PayPal-shaped notifications, each with its own event id and signature, like real traffic.
fn sign_notifications(
    cert_url: &str,
    now: chrono::DateTime<chrono::Utc>,
    count: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<SignedNotification>> {
    let key = SigningKey::load()?;
    let time = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let signed = (0..count)
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
            bar.inc(1);
            Ok(SignedNotification { headers, body: Bytes::from(body) })
        })
        .collect();
    bar.finish_and_clear();
    signed
}

/// Sends every notification to `url`, `--concurrency` at a time; every answer must be 2xx.
async fn send_all(run: &Run, target: Target, url: &str) -> anyhow::Result<Row> {
    let notifications = run.notifications().await?;
    let clients = run.args.concurrency;
    let http = load::client(clients)?;
    let url: Arc<str> = url.into();
    let bar = run.bar(&target.name(), notifications.len());
    let sample = drive(notifications.len(), clients, &bar, {
        let notifications = notifications.clone();
        move |i| {
            let (http, url, notifications) = (http.clone(), url.clone(), notifications.clone());
            async move {
                let notification = &notifications[i];
                let mut request = http.post(&*url).body(notification.body.clone());
                for (name, value) in &notification.headers {
                    request = request.header(*name, value);
                }
                let response = request.send().await?;
                anyhow::ensure!(response.status().is_success(), "answer {} to notification {i}", response.status());
                Ok(())
            }
        }
    })
    .await?;
    Ok(Row::rate(target, &sample))
}

async fn serve(router: axum::Router) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/paypal", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

pub(crate) async fn bare_axum(run: &Run) -> anyhow::Result<Row> {
    let url = serve(axum::Router::new().route("/webhooks/paypal", post(|_body: Bytes| async { "ok" }))).await?;
    send_all(run, Target::BareAxum, &url).await
}

/// The ingress without the inbox: what ingest would cost if storing were free.
pub(crate) async fn verify_only(run: &Run) -> anyhow::Result<Row> {
    async fn verify(
        State((provider, now)): State<(Arc<dyn PaymentProvider>, chrono::DateTime<chrono::Utc>)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        match provider.verify_notification(&headers, &body, now).await {
            Ok(_) => StatusCode::OK,
            Err(_) => StatusCode::BAD_REQUEST,
        }
    }
    let state = (run.paypal_adapter()?, run.sandbox.clock.now());
    let url = serve(axum::Router::new().route("/webhooks/paypal", post(verify)).with_state(state)).await?;
    send_all(run, Target::VerifyOnly, &url).await
}

/// Durable one-row transactions, one after another on one connection: what one commit costs.
pub(crate) async fn commit_rate(run: &Run, store: Store) -> anyhow::Result<Row> {
    let scratch = run.scratch(store).await?;
    let db = Database::connect(&scratch.url).await?;
    db.migrate().await?;
    let ids = payhub_core::IdGenerator::seeded(7);
    let me = crate::instance::identity(&ids, run.sandbox.clock.now());
    db.register_instance(&me, |_| true, run.sandbox.clock.now()).await?;
    let count = run.count(5_000, 200);
    let target = Target::Commit(store);
    let bar = run.bar(&target.name(), count);
    let clock = run.sandbox.clock.clone();
    let sample = drive(count, 1, &bar, move |_| {
        let (db, id, clock) = (db.clone(), me.id.clone(), clock.clone());
        async move {
            anyhow::ensure!(db.instance_heartbeat(&id, clock.now()).await?, "the heartbeat row is gone");
            Ok(())
        }
    })
    .await?;
    scratch.remove().await;
    Ok(Row::rate(target, &sample))
}

/// A hub with the PayPal adapter against the run's simulator, serving on a free port, its
/// workers off unless `workers` (each target starts the worker it measures itself).
pub(crate) async fn hub_on(run: &Run, database_url: &str) -> anyhow::Result<crate::app::RunningHub> {
    let db = Database::connect_with(database_url, 32).await?;
    db.migrate().await?;
    let mut providers = Providers::default();
    providers.insert(Mode::Test, run.paypal_adapter()?);
    let mut config = Config::default();
    config.workers.enabled = false;
    let mut settings = HubSettings::from_config(&config);
    settings.egress = crate::egress::EgressPolicy::default().with_loopback_in_test_mode();
    let hub = Hub::new(db, Arc::new(crate::clock::SystemClock), providers, settings);
    Ok(hub.serve(TcpListener::bind("127.0.0.1:0").await?).await?)
}

pub(crate) async fn ingest(run: &Run, store: Store) -> anyhow::Result<Row> {
    let scratch = run.scratch(store).await?;
    let running = hub_on(run, &scratch.url).await?;
    let db = running.hub.db.clone();
    let row = send_all(run, Target::Ingest(store), &format!("{}/webhooks/paypal", running.url())).await?;
    let stored = db.inbox_backlog().await?;
    let sent = row.count.unwrap_or_default();
    anyhow::ensure!(stored as usize == sent, "{stored} of {sent} notifications stored");
    running.shutdown().await;
    db.close().await;
    scratch.remove().await;
    Ok(row)
}
