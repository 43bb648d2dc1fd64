//! Work behind the API: a backlog of stored notifications applied (inbox → state machine →
//! events → outbox rows, one transaction each), and the outbox delivered to a loopback
//! receiver answering 204. Each drains a backlog made before the clock starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use payhub_core::id::PaymentId;
use payhub_core::payment::{NextAction, Payment, PaymentDetails, PaymentStatus, ProviderRefs};
use payhub_core::transition::Cause;
use payhub_core::{Currency, Mode, Money, ProviderName};
use payhub_store::NewInboxEntry;
use serde_json::json;
use tokio::net::TcpListener;

use super::ingest::hub_on;
use super::load::{self, drive, until};
use super::scratch::Scratch;
use super::{Row, Run, Store, Target};
use crate::app::RunningHub;
use crate::services::api_keys::create_api_key;
use crate::workers::{Shutdown, dispatcher, processor};

/// Rows written per transaction while the backlog is prepared.
const CHUNK: usize = 500;
/// A drain that has not finished after this long is stuck, not slow.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// A merchant endpoint on loopback that accepts everything and counts what it got.
struct Receiver {
    url: String,
    hits: Arc<AtomicUsize>,
}

async fn receiver() -> anyhow::Result<Receiver> {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/hooks",
        post(move |_body: Bytes| {
            counted.fetch_add(1, Ordering::Relaxed);
            async { StatusCode::NO_CONTENT }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Receiver { url, hits })
}

/// A hub whose inbox holds `count` verified PayPal capture notifications, each about one of
/// its `requires_action` payments, with one merchant endpoint subscribed to their success.
struct Backlog {
    scratch: Scratch,
    running: RunningHub,
    count: usize,
    last_payment: PaymentId,
}

async fn backlog(run: &Run, store: Store, receiver_url: &str) -> anyhow::Result<Backlog> {
    let count = run.count(10_000, 100);
    let scratch = run.scratch(store).await?;
    let running = hub_on(run, &scratch.url).await?;
    let hub = running.hub.clone();
    let now = hub.clock.now();
    let usd = Currency::parse("USD")?;
    let mut payments = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(CHUNK) {
        let mut unit = hub.db.unit_of_work(&hub.ids, now, None).await?;
        for i in chunk {
            let id = PaymentId::generate(&hub.ids, now);
            let draft = Payment::draft(
                id.clone(),
                Mode::Test,
                ProviderName::Paypal,
                "paypal".into(),
                Money::new(1000, usd),
                PaymentDetails::default(),
                now,
            );
            let refs =
                ProviderRefs { payment_id: Some(format!("ORDER{i:012}")), capture_id: None, authorization_id: None };
            let redirect = NextAction::RedirectToUrl { redirect_url: format!("https://paypal.test/approve/{i}") };
            unit.create_payment(&draft.opened(refs, redirect, &Cause::Api)).await?;
            payments.push(id);
        }
        let _ = unit.commit().await?;
    }
    // Subscribed after the payments were created, so only the applied notifications' events
    // are delivered.
    let (_, api_key) = create_api_key(&hub.db, &hub.ids, now, Mode::Test, "bench").await?;
    let endpoint = load::client(1)?
        .post(format!("{}/v1/webhook_endpoints", running.url()))
        .bearer_auth(api_key)
        .header("Idempotency-Key", "bench-endpoint")
        .json(&json!({"url": receiver_url, "event_types": ["payment.succeeded"]}))
        .send()
        .await?;
    anyhow::ensure!(endpoint.status() == 201, "endpoint refused: {}", endpoint.text().await?);
    for (c, chunk) in payments.chunks(CHUNK).enumerate() {
        let entries: Vec<NewInboxEntry> = chunk
            .iter()
            .enumerate()
            .map(|(j, id)| capture_completed(c * CHUNK + j, id, now))
            .collect::<anyhow::Result<_>>()?;
        hub.db.insert_inbox_batch(&entries).await?;
    }
    let last_payment = payments.pop().expect("a backlog has at least one payment");
    Ok(Backlog { scratch, running, count, last_payment })
}

fn capture_completed(
    i: usize,
    payment: &PaymentId,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<NewInboxEntry> {
    let body = serde_json::to_vec(&json!({
        "id": format!("WH-BACKLOG-{i:08}"),
        "event_version": "1.0",
        "create_time": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "resource_type": "capture",
        "resource_version": "2.0",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": "Payment completed for $ 10.0 USD",
        "resource": {"id": format!("CAP{i:014}"), "status": "COMPLETED", "custom_id": payment.to_string(),
            "amount": {"currency_code": "USD", "value": "10.00"},
            "supplementary_data": {"related_ids": {"order_id": format!("ORDER{i:012}")}}},
        "links": []
    }))?;
    Ok(NewInboxEntry {
        provider: ProviderName::Paypal,
        mode: Mode::Test,
        provider_event_id: format!("WH-BACKLOG-{i:08}"),
        event_type: "PAYMENT.CAPTURE.COMPLETED".into(),
        body,
        headers: Vec::new(),
        received_at: now,
    })
}

impl Backlog {
    /// Runs the processor until the inbox is empty; how long that took.
    async fn apply(&self) -> anyhow::Result<Duration> {
        let hub = self.running.hub.clone();
        let (stop, shutdown) = Shutdown::new();
        let worker = tokio::spawn(processor::run(hub.clone(), shutdown));
        let db = hub.db.clone();
        let elapsed = until(DRAIN_LIMIT, "the inbox backlog", || {
            let db = db.clone();
            // Polled every few milliseconds: a count of a long backlog would take the database
            // from the drain it measures.
            async move { Ok(!db.inbox_has_pending().await?) }
        })
        .await;
        let _ = stop.send(true);
        let _ = worker.await;
        let elapsed = elapsed?;
        let last = db.find_payment(&self.last_payment).await?;
        anyhow::ensure!(
            last.as_ref().map(Payment::status) == Some(PaymentStatus::Succeeded),
            "the backlog was drained without being applied (last payment: {:?})",
            last.map(|p| p.status())
        );
        Ok(elapsed)
    }

    async fn remove(self) {
        let db = self.running.hub.db.clone();
        self.running.shutdown().await;
        db.close().await;
        self.scratch.remove().await;
    }
}

pub(crate) async fn apply(run: &Run, store: Store) -> anyhow::Result<Row> {
    let receiver = receiver().await?;
    let backlog = backlog(run, store, &receiver.url).await?;
    let elapsed = backlog.apply().await?;
    let row = Row::drained(Target::Apply(store), backlog.count, elapsed);
    backlog.remove().await;
    Ok(row)
}

/// What the dispatcher is compared with: the receiver posted to directly, at the concurrency
/// the dispatcher allows one endpoint.
pub(crate) async fn receiver_direct(run: &Run) -> anyhow::Result<Row> {
    let receiver = receiver().await?;
    let clients = crate::config::Config::default().delivery.per_endpoint_concurrency;
    let http = load::client(clients)?;
    let url: Arc<str> = receiver.url.into();
    let body =
        Bytes::from(serde_json::to_vec(&json!({"type": "payment.succeeded", "data": {"padding": "x".repeat(400)}}))?);
    let count = run.count(10_000, 100);
    let bar = run.bar(&Target::ReceiverDirect.name(), count);
    let sample = drive(count, clients, &bar, move |_| {
        let request = http.post(&*url).header("content-type", "application/json").body(body.clone());
        async move {
            let response = request.send().await?;
            anyhow::ensure!(response.status() == 204, "answer {}", response.status());
            Ok(())
        }
    })
    .await?;
    Ok(Row::rate(Target::ReceiverDirect, &sample))
}

pub(crate) async fn deliver(run: &Run, store: Store) -> anyhow::Result<Row> {
    let receiver = receiver().await?;
    let backlog = backlog(run, store, &receiver.url).await?;
    backlog.apply().await?;
    let hub = backlog.running.hub.clone();
    let (stop, shutdown) = Shutdown::new();
    let started = Instant::now();
    let worker = tokio::spawn(dispatcher::run(hub.clone(), shutdown));
    let expected = backlog.count;
    let drained = until(DRAIN_LIMIT, "the outbox", || {
        let (db, hits) = (hub.db.clone(), receiver.hits.clone());
        async move { Ok(hits.load(Ordering::Relaxed) >= expected && db.next_delivery_due().await?.is_none()) }
    })
    .await;
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    let _ = worker.await;
    drained?;
    let row = Row::drained(Target::Deliver(store), expected, elapsed);
    backlog.remove().await;
    Ok(row)
}
