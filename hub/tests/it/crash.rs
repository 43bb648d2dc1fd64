//! The crash harness: `payhub sandbox` and `payhub serve` run as separate processes; clients
//! create and approve payments, refund some of them, and a few subscriptions renew as the
//! simulator's clock moves, while `serve` is killed with SIGKILL at random moments and
//! restarted. With several instances (PostgreSQL only: SQLite is one node), each request goes to
//! the next instance in turn, PayPal's webhooks go to the first, and the instance killed each
//! time is drawn at random, the first included (restarted on its port, as a node behind a fixed
//! address would be). Clients retry every request with its Idempotency-Key until it is answered. Then
//! the run is checked: every approved payment succeeded; each (resource, event type) happened
//! once (renewals once per renewal); every event reached the merchant's receiver; nothing is left
//! in the inbox, the outbox or in progress; no payment exists that a client did not get back.
//!
//! Its size comes from the environment, so the same test is CI's short run and a long run:
//!
//! ```text
//! PAYHUB_CRASH_KILLS=1000 PAYHUB_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo test --release -p payhub --test it crash:: -- --nocapture
//! ```
//!
//! `PAYHUB_CRASH_KILLS` (default 20, 10 with several instances), `PAYHUB_CRASH_CLIENTS`
//! (concurrent clients, default 4), `PAYHUB_CRASH_SEED` (when the kills come, default 1),
//! `PAYHUB_CRASH_INSTANCES` (instances of the several-instance run, default 3); `PAYHUB_CRASH_BINARY` runs another
//! `payhub` than the one cargo built beside this test (a copy, so a rebuild cannot swap it mid-run).

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, Utc};
use payhub::clock::SystemClock;
use payhub::services::api_keys::create_api_key;
use payhub_core::{Clock, Mode};
use payhub_paypal::CaptureStatus;
use payhub_store::testing::{Backend, TestDatabase};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::helpers::Receiver;
use crate::process::{PaypalForServe, free_port, serve_command, wait_until_serving};

/// How big a run is.
struct Size {
    kills: u32,
    clients: u32,
    seed: u64,
    /// `payhub serve` processes on the one database.
    instances: usize,
}

/// The `payhub` executable the run starts.
fn payhub_binary() -> String {
    std::env::var("PAYHUB_CRASH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_payhub").to_owned())
}

impl Size {
    /// The size the environment asks for; `instances` and `kills` are the defaults.
    fn from_env(instances: usize, kills: u64) -> Self {
        let read = |name: &str, default: u64| {
            std::env::var(name).ok().map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v}: a number")))
        };
        Size {
            kills: read("PAYHUB_CRASH_KILLS", kills) as u32,
            clients: read("PAYHUB_CRASH_CLIENTS", 4) as u32,
            seed: read("PAYHUB_CRASH_SEED", 1),
            instances: if instances > 1 { read("PAYHUB_CRASH_INSTANCES", instances as u64) as usize } else { 1 },
        }
    }
}

/// A `payhub sandbox` process and where its PayPal simulator listens.
struct SandboxProcess {
    _child: Child,
    paypal_url: String,
}

impl SandboxProcess {
    async fn start(seed: u64) -> Self {
        let mut child = Command::new(payhub_binary())
            .args(["sandbox", "--paypal-addr", "127.0.0.1:0", "--pingpp-addr", "127.0.0.1:0", "--seed"])
            .arg(seed.to_string())
            .env("PAYHUB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start payhub sandbox");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let paypal_url = loop {
            let line = lines.next_line().await.unwrap().expect("payhub sandbox printed where it listens");
            if let Some(url) = line.strip_prefix("paypal simulator listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep reading, so the simulator never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        SandboxProcess { _child: child, paypal_url }
    }
}

struct Harness {
    sandbox: SandboxProcess,
    database: TestDatabase,
    /// Where each instance listens; PayPal's webhooks go to the first.
    ports: Vec<u16>,
    /// The instance the next request goes to (modulo their number).
    next_instance: AtomicUsize,
    api_key: String,
    webhook_id: String,
    roots: tempfile::NamedTempFile,
    http: reqwest::Client,
    /// A client of the simulator, to read what PayPal itself holds.
    paypal: payhub_paypal::PaypalClient,
}

impl Harness {
    async fn prepare(backend: Backend, size: &Size) -> Option<Self> {
        let database = TestDatabase::fresh(backend).await?;
        let sandbox = SandboxProcess::start(size.seed).await;
        let ports: Vec<u16> = (0..size.instances).map(|_| free_port()).collect();
        let PaypalForServe { paypal, webhook_id, roots } =
            PaypalForServe::register(&sandbox.paypal_url, ports[0]).await;
        let (_, api_key) =
            create_api_key(&database.db, &payhub::ids::from_os_entropy(), SystemClock.now(), Mode::Test, "crash")
                .await
                .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let next_instance = AtomicUsize::new(0);
        Some(Harness { sandbox, database, ports, next_instance, api_key, webhook_id, roots, http, paypal })
    }

    /// Starts instance `instance` of `payhub serve` against the sandbox process and waits until
    /// it answers.
    async fn start_hub(&self, instance: usize) -> Child {
        let binary = payhub_binary();
        let mut command = serve_command(
            &binary,
            &self.database.url,
            self.ports[instance],
            &self.sandbox.paypal_url,
            &self.webhook_id,
            self.roots.path(),
        );
        command
            // The merchant's receiver is this test, on loopback.
            .env("PAYHUB__WEBHOOKS__ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
            // Short leases and retries: a killed process's claims come due again within the run.
            .env("PAYHUB__WORKERS__RECONCILE_INTERVAL", "1s")
            .env("PAYHUB__WORKERS__LEASE", "3s")
            .env("PAYHUB__DELIVERY__SCHEDULE", "200ms,500ms,1s")
            .env("PAYHUB_LOG", "error");
        let child = command.spawn().expect("start payhub serve");
        wait_until_serving(&self.http, self.ports[instance]).await;
        child
    }

    /// `path` at the next instance in turn: requests, and retries of one request, are spread.
    fn url(&self, path: &str) -> String {
        let instance = self.next_instance.fetch_add(1, Ordering::Relaxed) % self.ports.len();
        format!("http://127.0.0.1:{}{path}", self.ports[instance])
    }

    /// Sends an API request until the hub answers it (not with 5xx nor with "key in use"),
    /// with the same Idempotency-Key each time, as a careful client does across a crash.
    async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut request = self.http.request(method.clone(), self.url(path)).bearer_auth(&self.api_key);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            if let Ok(response) = request.send().await {
                let status = response.status();
                let in_use = status == StatusCode::CONFLICT;
                if let Ok(answer) = response.json::<Value>().await
                    && !status.is_server_error()
                    && !(in_use && answer["type"].as_str().is_some_and(|t| t.ends_with("idempotency_key_in_use")))
                {
                    return (status, answer);
                }
            }
            assert!(Instant::now() < deadline, "{method} {path} was never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn sandbox_control(&self, path: &str, body: Value) -> reqwest::Result<reqwest::Response> {
        self.http.post(format!("{}{path}", self.sandbox.paypal_url)).json(&body).send().await
    }
}

/// What the clients were told and did: the ground truth the hub is checked against.
#[derive(Default)]
struct Ledger {
    /// Payments the API created for a client, by id.
    created: HashSet<String>,
    /// Payments whose buyer approved at PayPal.
    approved: HashSet<String>,
    refunds: u64,
}

async fn client(harness: Arc<Harness>, ledger: Arc<Mutex<Ledger>>, number: u32, stop: Arc<AtomicBool>) {
    let mut round = 0u32;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let key = format!("c{number}-{round}");
        let body = json!({"provider": "paypal", "amount": 1000 + i64::from(round), "currency": "USD"});
        let (status, payment) =
            harness.call(Method::POST, "/v1/payments", Some(&format!("{key}-create")), Some(body)).await;
        assert!(status.is_success(), "create: {status} {payment}");
        let id = payment["id"].as_str().unwrap().to_owned();
        ledger.lock().await.created.insert(id.clone());
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
        let approved = harness.sandbox_control(&format!("/sandbox/paypal/orders/{order}/approve"), json!({})).await;
        if !approved.is_ok_and(|r| r.status().is_success()) {
            continue;
        }
        ledger.lock().await.approved.insert(id.clone());
        if !round.is_multiple_of(3) {
            continue;
        }
        // Refund part of every third payment once it has succeeded.
        let path = format!("/v1/payments/{id}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while harness.call(Method::GET, &path, None, None).await.1["status"] != "succeeded" {
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let refund = json!({"amount": 300});
        let (status, answer) =
            harness.call(Method::POST, &format!("{path}/refunds"), Some(&format!("{key}-refund")), Some(refund)).await;
        if status.is_success() {
            ledger.lock().await.refunds += 1;
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "refund: {answer}");
        }
    }
}

/// Subscribes one customer to `plan` and approves at PayPal: the hub's and PayPal's ids.
async fn subscribe(harness: &Harness, plan: &str, customer: &str) -> (String, String) {
    let body = json!({"plan_id": plan, "customer_id": customer, "return_url": "https://app.example/welcome"});
    let key = format!("subscribe-{customer}");
    let (status, subscription) = harness.call(Method::POST, "/v1/subscriptions", Some(&key), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{subscription}");
    let provider_id = subscription["provider_subscription_id"].as_str().unwrap();
    let approve = format!("/sandbox/paypal/subscriptions/{provider_id}/approve");
    let approved: Value = harness.sandbox_control(&approve, json!({})).await.unwrap().json().await.unwrap();
    // The buyer comes back through the hub.
    let back = harness.http.get(approved["redirect_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(back.status(), 303);
    (subscription["id"].as_str().unwrap().to_owned(), provider_id.to_owned())
}

/// Moves the simulator's clock two hours at a time: daily renewals come due, and webhooks a dead
/// hub did not acknowledge are sent again on PayPal's schedule.
async fn move_clock(harness: Arc<Harness>, stop: Arc<AtomicBool>, ticks: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        let moved = harness.http.post(format!("{}/sandbox/clock/advance", harness.sandbox.paypal_url));
        if moved.json(&json!({"by": "2h"})).send().await.is_ok_and(|r| r.status().is_success()) {
            ticks.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until `check` holds.
async fn settle<F, Fut>(what: &str, patience: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + patience;
    while !check().await {
        assert!(Instant::now() < deadline, "not settled: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every event of the test mode, oldest first: (id, type, resource id, sequence).
async fn event_stream(harness: &Harness) -> Vec<(String, String, String, u64)> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = harness.database.db.list_events(Mode::Test, None, None, cursor.as_deref(), 100).await.unwrap();
        events.extend(
            page.items
                .iter()
                .map(|e| (e.id.to_string(), e.event_type.as_str().to_owned(), e.resource_id.clone(), e.sequence)),
        );
        if !page.has_more {
            break;
        }
        cursor = page.items.last().map(|e| e.id.to_string());
    }
    events.reverse();
    events
}

/// Event types a resource has more than once by design: one per renewal, per refund, per change.
const REPEATABLE: [&str; 4] =
    ["subscription.renewed", "subscription.updated", "entitlement.extended", "payment.refunded"];

async fn run(backend: Backend, size: Size) {
    let Some(harness) = Harness::prepare(backend, &size).await else { return };
    let harness = Arc::new(harness);
    let started = Instant::now();
    let mut hubs = Vec::new();
    for instance in 0..size.instances {
        hubs.push(harness.start_hub(instance).await);
    }

    let (receiver, hook_url) = Receiver::start().await;
    let (status, _) =
        harness.call(Method::POST, "/v1/webhook_endpoints", Some("endpoint"), Some(json!({"url": hook_url}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let plan = json!({"name": "Daily", "currency": "USD", "entitlement": "daily",
                      "regular_cycle": {"interval_unit": "day", "price": 250}});
    let (status, plan) = harness.call(Method::POST, "/v1/plans", Some("plan"), Some(plan)).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let mut subscriptions = Vec::new();
    for number in 0..size.clients {
        subscriptions.push(subscribe(&harness, plan["id"].as_str().unwrap(), &format!("cus_{number}")).await);
    }

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicU64::new(0));
    let clock = tokio::spawn(move_clock(harness.clone(), stop.clone(), ticks.clone()));
    let clients: Vec<_> = (0..size.clients)
        .map(|number| tokio::spawn(client(harness.clone(), ledger.clone(), number, stop.clone())))
        .collect();

    let mut rng = StdRng::seed_from_u64(size.seed);
    let mut webhook_target_kills = 0;
    for kill in 1..=size.kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..900))).await;
        let victim = if size.instances > 1 { rng.random_range(0..size.instances) } else { 0 };
        if victim == 0 {
            webhook_target_kills += 1;
        }
        hubs[victim].start_kill().unwrap();
        hubs[victim].wait().await.unwrap();
        hubs[victim] = harness.start_hub(victim).await;
        if kill % 50 == 0 {
            eprintln!("crash harness: {kill} kills, {:?}", started.elapsed());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    // Settle: PayPal's retries move with its clock, so keep it moving until every approved
    // payment has succeeded, then let the queues drain with the clock still.
    let ledger = Arc::into_inner(ledger).unwrap().into_inner();
    let hold_still = Arc::new(AtomicBool::new(false));
    let mover = tokio::spawn(move_clock(harness.clone(), hold_still.clone(), Arc::new(AtomicU64::new(0))));
    clock.await.unwrap();
    let db = &harness.database.db;
    settle("every approved payment succeeded", Duration::from_secs(120), || async {
        let mut all = true;
        for id in &ledger.approved {
            let (_, payment) = harness.call(Method::GET, &format!("/v1/payments/{id}"), None, None).await;
            if payment["status"] != "succeeded" {
                all = false;
                break;
            }
        }
        all
    })
    .await;
    hold_still.store(true, Ordering::Relaxed);
    mover.await.unwrap();
    let drained = || async {
        db.inbox_backlog().await.unwrap() == 0
            && db.count_rows("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'").await.unwrap() == 0
    };
    settle("inbox and outbox drained", Duration::from_secs(120), drained).await;

    // Exactly once: each (resource, event type) once, but for the kinds that repeat by design.
    let events = event_stream(&harness).await;
    let mut seen: HashMap<(&str, &str), u32> = HashMap::new();
    // And each resource's events are numbered 1, 2, 3 … in the order they were written.
    let mut last_sequence: HashMap<&str, u64> = HashMap::new();
    for (id, event_type, resource, sequence) in &events {
        *seen.entry((resource.as_str(), event_type.as_str())).or_default() += 1;
        let last = last_sequence.entry(resource.as_str()).or_default();
        assert_eq!(*sequence, *last + 1, "event {id} ({event_type}) of {resource}");
        *last = *sequence;
    }
    let doubled: Vec<_> =
        seen.iter().filter(|((_, event_type), n)| **n > 1 && !REPEATABLE.contains(event_type)).collect();
    assert!(doubled.is_empty(), "events applied twice: {doubled:?}");
    // Every charge the hub can see at PayPal is one payment, and each renewal one
    // `subscription.renewed`. The hub asks PayPal for a subscription's charges up to a day past
    // its own clock; the simulator's clock runs ahead of it here, so charges further on are
    // left for later (in production both clocks are the real one).
    for (id, provider_id) in &subscriptions {
        let (_, subscription) = harness.call(Method::GET, &format!("/v1/subscriptions/{id}"), None, None).await;
        let created = subscription["created_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        let window = (created - Span::days(1), SystemClock.now() + Span::days(1));
        let at_paypal = harness.paypal.subscription_transactions(provider_id, window.0, window.1).await.unwrap();
        let charged = at_paypal.transactions.iter().filter(|t| t.status == Some(CaptureStatus::Completed)).count();
        let payments = subscription["payments_count"].as_i64().unwrap();
        assert_eq!(payments, charged as i64, "charges of {id}: {subscription}");
        let renewed = seen.get(&(id.as_str(), "subscription.renewed")).copied().unwrap_or(0);
        assert_eq!(i64::from(renewed), (payments - 1).max(0), "renewals of {id}: {subscription}");
    }

    // Approved ⇒ succeeded; every payment a client was answered with, and no other.
    let mut subscription_payments = 0;
    let mut payments = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(after) => format!("/v1/payments?limit=100&starting_after={after}"),
            None => "/v1/payments?limit=100".to_owned(),
        };
        let (_, page) = harness.call(Method::GET, &path, None, None).await;
        let data = page["data"].as_array().unwrap();
        for payment in data {
            if payment["subscription_id"].is_string() {
                subscription_payments += 1;
            } else {
                payments.push(payment["id"].as_str().unwrap().to_owned());
            }
        }
        if page["has_more"] != true {
            break;
        }
        cursor = data.last().map(|p| p["id"].as_str().unwrap().to_owned());
    }
    let orphans: Vec<_> = payments.iter().filter(|id| !ledger.created.contains(*id)).collect();
    assert!(orphans.is_empty(), "payments no client was answered with: {orphans:?}");
    assert_eq!(payments.len(), ledger.created.len(), "every created payment is listed");

    // Every event reached the receiver, at least once.
    let received = receiver.received.lock().unwrap().clone();
    let mut arrivals: HashMap<String, u32> = HashMap::new();
    for (_, body) in &received {
        let event: Value = serde_json::from_slice(body).unwrap();
        *arrivals.entry(event["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    let lost: Vec<_> = events.iter().filter(|(id, ..)| !arrivals.contains_key(id)).collect();
    assert!(lost.is_empty(), "events never delivered: {lost:?}");
    let twice = arrivals.values().filter(|n| **n > 1).count();

    // Nothing left behind: no notification unapplied, no request in progress, no lease held.
    assert_eq!(db.count_rows("SELECT COUNT(*) AS n FROM inbox WHERE status <> 'processed'").await.unwrap(), 0);
    let in_progress = "SELECT COUNT(*) AS n FROM idempotency_keys WHERE status = 'in_progress'";
    assert_eq!(db.count_rows(in_progress).await.unwrap(), 0, "requests left in progress");
    let leased = "SELECT COUNT(*) AS n FROM deliveries WHERE locked_until IS NOT NULL AND status = 'pending'";
    assert_eq!(db.count_rows(leased).await.unwrap(), 0, "deliveries left leased");

    eprintln!(
        "crash harness ({backend:?}): {} instances, {} kills ({webhook_target_kills} of the one PayPal notifies), {} clients, {} payments created, {} approved, {} refunds, \
         {} subscription payments over {} simulated hours, {} events, 0 lost, 0 applied twice, {} delivered more \
         than once ({:.2}%), {:?}",
        size.instances,
        size.kills,
        size.clients,
        ledger.created.len(),
        ledger.approved.len(),
        ledger.refunds,
        subscription_payments,
        2 * ticks.load(Ordering::Relaxed),
        events.len(),
        twice,
        100.0 * twice as f64 / events.len().max(1) as f64,
        started.elapsed()
    );
    for mut hub in hubs {
        hub.start_kill().unwrap();
        hub.wait().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_applied_twice_across_repeated_kills_sqlite() {
    run(Backend::Sqlite, Size::from_env(1, 20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_applied_twice_across_repeated_kills_postgres() {
    run(Backend::Postgres, Size::from_env(1, 20)).await;
}

/// Three instances on one PostgreSQL database, one of them killed at a time (PostgreSQL only:
/// SQLite is one node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_applied_twice_when_one_of_several_instances_is_killed_repeatedly_postgres() {
    run(Backend::Postgres, Size::from_env(3, 10)).await;
}
