//! A PostgreSQL outage under load. The test runs its own PostgreSQL cluster (from the
//! installed server binaries) and `payhub serve` on it, drives payments and PayPal webhooks,
//! and stops PostgreSQL for a while (20 s, or `PAYHUB_OUTAGE_SECONDS`). Meanwhile the API and
//! the ingress answer 503 with `Retry-After`, never another 5xx, and every request is
//! answered; afterwards the same process serves again without a restart, every acknowledged
//! notification is applied and every event reaches the merchant's endpoint.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payhub::clock::SystemClock;
use payhub::services::api_keys::create_api_key;
use payhub_core::{Clock, Mode, ProviderName};
use payhub_sandbox::{RunningSandbox, TestClock};
use payhub_store::Database;
use serde_json::{Value, json};

use crate::helpers::{Receiver, eventually};
use crate::process::{PaypalForServe, free_port, serve_command, wait_until_serving};

/// A PostgreSQL cluster of the test's own, in a temporary directory, run by the `postgres`
/// user when the test runs as root (the server refuses to run as root).
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// A new cluster, started; `None` (after saying why) where PostgreSQL is not installed —
    /// unless PostgreSQL tests are asked for (`PAYHUB_TEST_DATABASE_URL`, as in CI), where a
    /// missing server is a failure, not a skip.
    fn create() -> Option<Self> {
        let skip = |why: &str| {
            assert!(
                std::env::var(payhub_store::testing::POSTGRES_URL_VAR).is_err(),
                "PostgreSQL tests are asked for, but the outage test cannot run: {why}"
            );
            eprintln!("skipping: {why}");
        };
        let Some(bin) = server_binaries() else {
            skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
            return None;
        };
        let as_postgres = is_root();
        let has_postgres_user =
            std::process::Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success());
        if as_postgres && !has_postgres_user {
            skip("PostgreSQL refuses to run as root, and there is no `postgres` user to run it");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            run(std::process::Command::new("chown").args(["-R", "postgres:", &path(dir.path())]));
        }
        let cluster = Self { bin, dir, port: free_port(), as_postgres };
        let data = cluster.data();
        run(cluster.command("initdb").args(["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"]));
        cluster.start();
        Some(cluster)
    }

    fn data(&self) -> String {
        path(&self.dir.path().join("data"))
    }

    fn command(&self, program: &str) -> std::process::Command {
        let program = path(&self.bin.join(program));
        let mut command = if self.as_postgres {
            let mut runuser = std::process::Command::new("runuser");
            runuser.args(["-u", "postgres", "--", &program]);
            runuser
        } else {
            std::process::Command::new(program)
        };
        command.stdout(std::process::Stdio::null());
        command
    }

    fn start(&self) {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, path(self.dir.path()));
        let log = path(&self.dir.path().join("server.log"));
        run(self.command("pg_ctl").args(["-D", &self.data(), "-l", &log, "-o", &options, "-w", "start"]));
    }

    /// Stops the server as an operator would for maintenance: sessions are ended at once.
    fn stop(&self) {
        run(self.command("pg_ctl").args(["-D", &self.data(), "-m", "fast", "-w", "stop"]));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "stop"]).status();
    }
}

/// The newest installed PostgreSQL's `bin` directory.
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    let id = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&id.stdout).trim() == "0"
}

fn path(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

fn run(command: &mut std::process::Command) {
    let status = command.status().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(status.success(), "{command:?} failed with {status}");
}

/// What the clients were told, and what they must find afterwards.
#[derive(Default)]
struct Tally {
    /// Answers by status, each with the longest it took.
    answers: BTreeMap<u16, (u64, Duration)>,
    /// Payments created (201) and approved by the buyer at PayPal.
    approved: Vec<String>,
    /// Payments created whose buyers approve later (payment id, PayPal order id).
    held: Vec<(String, String)>,
    /// Answers that broke a promise (another 5xx, a 503 without Retry-After, no answer).
    broken: Vec<String>,
    /// Requests answered 503 (Idempotency-Key, amount), for their clients to retry.
    unavailable: Vec<(String, i64)>,
}

impl Tally {
    fn answered(&mut self, status: u16, took: Duration) {
        let (count, longest) = self.answers.entry(status).or_default();
        *count += 1;
        *longest = (*longest).max(took);
    }
}

struct Load {
    http: reqwest::Client,
    base: String,
    key: String,
    sandbox: RunningSandbox,
    tally: Mutex<Tally>,
    stop: AtomicBool,
    next: AtomicU64,
}

impl Load {
    async fn create_payment(&self, key: &str, amount: i64) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/v1/payments", self.base))
            .bearer_auth(&self.key)
            .header("Idempotency-Key", key)
            .json(&json!({ "provider": "paypal", "amount": amount, "currency": "USD" }))
            .send()
            .await
    }

    /// Creates payments and approves them at PayPal (which then notifies the hub) until stopped.
    async fn client(self: Arc<Self>) {
        while !self.stop.load(Ordering::Relaxed) {
            let number = self.next.fetch_add(1, Ordering::Relaxed);
            let (key, amount) = (format!("outage-{number}"), 1000 + number as i64);
            let started = Instant::now();
            let sent = self.create_payment(&key, amount).await;
            let took = started.elapsed();
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    self.tally.lock().unwrap().broken.push(format!("no answer after {took:?}: {e}"));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            self.tally.lock().unwrap().answered(status, took);
            match status {
                201 => {
                    let payment: Value = response.json().await.unwrap();
                    let id = payment["id"].as_str().unwrap().to_owned();
                    let order = payment["provider_refs"]["payment_id"].as_str().unwrap().to_owned();
                    if number.is_multiple_of(2) {
                        self.sandbox.paypal.approve_order(&order).unwrap();
                        self.tally.lock().unwrap().approved.push(id);
                    } else {
                        self.tally.lock().unwrap().held.push((id, order));
                    }
                }
                503 if retry_after => {
                    self.tally.lock().unwrap().unavailable.push((key, amount));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => {
                    let body = response.text().await.unwrap_or_default();
                    self.tally.lock().unwrap().broken.push(format!("{other} (Retry-After: {retry_after}): {body}"));
                }
            }
        }
    }
}

fn outage_length() -> Duration {
    let seconds = std::env::var("PAYHUB_OUTAGE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    Duration::from_secs(seconds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_answered_with_503_and_loses_nothing_acknowledged() {
    let Some(cluster) = Cluster::create() else { return };
    let db = Database::connect(&cluster.url()).await.unwrap();
    db.migrate().await.unwrap();
    let sandbox = crate::helpers::start_sandbox(TestClock::new(), 5).await;
    let port = free_port();
    let paypal = PaypalForServe::register(&sandbox.paypal_url, port).await;
    let ids = payhub::ids::from_os_entropy();
    let (_, key) = create_api_key(&db, &ids, SystemClock.now(), Mode::Test, "outage").await.unwrap();
    let binary = env!("CARGO_BIN_EXE_payhub");
    let mut serve =
        serve_command(binary, &cluster.url(), port, &sandbox.paypal_url, &paypal.webhook_id, paypal.roots.path());
    serve
        .env("PAYHUB__WEBHOOKS__ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
        .env("PAYHUB__DELIVERY__SCHEDULE", "1s,2s,4s,8s,8s,8s,8s,8s,8s,8s")
        .env("PAYHUB_LOG", "error");
    let mut hub = serve.spawn().unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    wait_until_serving(&http, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let (receiver, hook_url) = Receiver::start().await;
    let endpoint = http
        .post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "outage-endpoint")
        .json(&json!({ "url": hook_url }))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 201);

    let load = Arc::new(Load {
        http,
        base: base.clone(),
        key,
        sandbox,
        tally: Mutex::default(),
        stop: AtomicBool::new(false),
        next: AtomicU64::new(0),
    });
    let clients: Vec<_> = (0..3).map(|_| tokio::spawn(load.clone().client())).collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = load.tally.lock().unwrap().approved.len();

    cluster.stop();
    let down_at = Instant::now();
    // Buyers keep approving while the database is down, so PayPal notifies the hub meanwhile.
    let held = std::mem::take(&mut load.tally.lock().unwrap().held);
    for (id, order) in &held {
        load.sandbox.paypal.approve_order(order).unwrap();
        load.tally.lock().unwrap().approved.push(id.clone());
    }
    tokio::time::sleep(outage_length().saturating_sub(down_at.elapsed())).await;
    cluster.start();
    let up_after = down_at.elapsed();
    let during = load.tally.lock().unwrap().answers.clone();

    // The same process serves again: new payments are created without a restart.
    let recovered_at = Instant::now();
    let created = |tally: &Tally| tally.answers.get(&201).map_or(0, |(count, _)| *count);
    let created_before_recovery = created(&load.tally.lock().unwrap());
    eventually("payments are created again", Duration::from_secs(60), || async {
        created(&load.tally.lock().unwrap()) > created_before_recovery
    })
    .await;
    let recovery = recovered_at.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert!(hub.try_wait().unwrap().is_none(), "payhub serve kept running through the outage");

    let mut tally = std::mem::take(&mut *load.tally.lock().unwrap());
    for (id, order) in std::mem::take(&mut tally.held) {
        load.sandbox.paypal.approve_order(&order).unwrap();
        tally.approved.push(id);
    }
    assert!(tally.broken.is_empty(), "promises broken: {:#?}", tally.broken);
    assert!(during.contains_key(&503), "the outage was answered with 503: {during:?}");

    // A 5xx means "unknown, retry with the same key": each request answered 503 runs when
    // retried, and makes one payment.
    let mut created_ids: HashSet<String> = HashSet::new();
    for (key, amount) in &tally.unavailable {
        let retried = || async {
            let response = load.create_payment(key, *amount).await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or_default())
        };
        let mut answer = retried().await;
        // The hand-back of the key may still be on its way from the process.
        for _ in 0..200 {
            if answer.0 != 409 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            answer = retried().await;
        }
        assert_eq!(answer.0, 201, "retry of {key}: {}", answer.1);
        assert_eq!(answer.1["amount"], *amount);
        assert!(created_ids.insert(answer.1["id"].as_str().unwrap().to_owned()), "one payment per key");
        let again = retried().await;
        assert_eq!((again.0, &again.1["id"]), (201, &answer.1["id"]), "the same key, the same payment");
    }

    // PayPal retries what the ingress refused on its own schedule: move its clock through it.
    let deliveries = || load.sandbox.paypal.deliveries();
    eventually("every approval applied", Duration::from_secs(120), || async {
        load.sandbox.sandbox.advance(chrono::Duration::minutes(2)).await;
        let mut all = true;
        for id in &tally.approved {
            let events = db.events_of(id).await.unwrap();
            all &= events.iter().any(|e| e.event_type.as_str() == "payment.succeeded");
        }
        all
    })
    .await;
    let mut ingress: BTreeMap<String, u64> = BTreeMap::new();
    for delivery in deliveries() {
        let outcome = match (delivery.status_code, &delivery.error) {
            (Some(status), _) => status.to_string(),
            (None, error) => format!("no answer: {}", error.as_deref().unwrap_or_default()),
        };
        *ingress.entry(outcome).or_default() += 1;
    }
    assert!(
        ingress.keys().all(|outcome| outcome == "200" || outcome == "503"),
        "the ingress answered only 200 or 503: {ingress:?}"
    );
    let refused_by_ingress = ingress.get("503").copied().unwrap_or_default();
    let acknowledged: HashSet<String> =
        deliveries().into_iter().filter(|d| d.status_code == Some(200)).map(|d| d.event_id).collect();
    let applied_at = Instant::now();
    eventually("every acknowledged notification applied", Duration::from_secs(120), || async {
        let mut all = true;
        for event_id in &acknowledged {
            let status = db.notification_status(ProviderName::Paypal, event_id).await.unwrap();
            all &= status.as_deref() == Some("processed");
        }
        all
    })
    .await;
    let waited_for_notifications = applied_at.elapsed();

    let mut written = HashSet::new();
    for id in &tally.approved {
        written.extend(db.events_of(id).await.unwrap().into_iter().map(|e| e.id.as_str().to_owned()));
    }
    let received = || -> HashSet<String> {
        let received = receiver.received.lock().unwrap();
        received.iter().map(|(headers, _)| headers["webhook-id"].to_str().unwrap().to_owned()).collect()
    };
    eventually("every event delivered to the endpoint", Duration::from_secs(120), || async {
        written.is_subset(&received())
    })
    .await;

    eprintln!(
        "outage: PostgreSQL down {up_after:.1?}; answers {:?} (count, longest); {} answered 503 retried with their keys, each 201 once; payments approved {} before, {} during the outage, {} in all; \
         ingress refused {refused_by_ingress} deliveries with 503, acknowledged {} notifications, all applied \
         ({waited_for_notifications:.1?} after the approvals); \
         {} events delivered; first payment created {recovery:.1?} after PostgreSQL was back",
        tally.answers,
        tally.unavailable.len(),
        before,
        held.len(),
        tally.approved.len(),
        acknowledged.len(),
        written.len(),
    );
    hub.start_kill().unwrap();
    hub.wait().await.unwrap();
}
