//! Durability across a real process crash: the hub is `kill -9`ed after a notification is
//! committed to the inbox and acknowledged, before it is applied. After a restart the
//! notification is applied — once.

use std::process::Stdio;
use std::time::Duration;

use payhub::clock::SystemClock;
use payhub::services::api_keys::create_api_key;
use payhub_core::{Clock, Mode, ProviderName};
use payhub_sandbox::{RunningSandbox, TestClock};
use payhub_store::testing::{Backend, TestDatabase};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::eventually;

struct Crash {
    sandbox: RunningSandbox,
    database: TestDatabase,
    http: reqwest::Client,
    port: u16,
    webhook_id: String,
    roots: tempfile::NamedTempFile,
    /// A client of the simulator, for what happens at PayPal outside payhub.
    paypal: payhub_paypal::PaypalClient,
    /// A test-mode API key of the hub.
    key: String,
}

impl Crash {
    async fn prepare(backend: Backend) -> Option<Self> {
        let database = TestDatabase::fresh(backend).await?;
        let sandbox = crate::helpers::start_sandbox(TestClock::new(), 3).await;
        let port = free_port();
        let PaypalForServe { paypal, webhook_id, roots } = PaypalForServe::register(&sandbox.paypal_url, port).await;
        let ids = payhub::ids::from_os_entropy();
        let (_, key) = create_api_key(&database.db, &ids, SystemClock.now(), Mode::Test, "crash").await.unwrap();
        Some(Self { sandbox, database, http: reqwest::Client::new(), port, webhook_id, roots, paypal, key })
    }

    /// Starts `payhub serve` as a separate process, configured for the in-process simulator.
    async fn start_hub(&self, workers: bool) -> Child {
        let mut command = serve_command(
            env!("CARGO_BIN_EXE_payhub"),
            &self.database.url,
            self.port,
            &self.sandbox.paypal_url,
            &self.webhook_id,
            self.roots.path(),
        );
        command
            .env("PAYHUB__PAYPAL__TEST__IPN_URL", format!("{}/cgi-bin/webscr", self.sandbox.paypal_url))
            .env("PAYHUB__PAYPAL__TEST__MERCHANT_EMAILS", &self.sandbox.paypal.parties().merchant_email)
            .env("PAYHUB_LOG", "warn");
        if !workers {
            command.arg("--no-workers");
        }
        let child = command.spawn().expect("start payhub serve");
        wait_until_serving(&self.http, self.port).await;
        child
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `POST path` to the hub with `Idempotency-Key: key`.
    async fn post(&self, path: &str, key: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http.post(self.url(path)).bearer_auth(&self.key).header("Idempotency-Key", key).json(body).send().await
    }

    /// `GET path` from the hub, as JSON.
    async fn get(&self, path: &str) -> Value {
        self.http.get(self.url(path)).bearer_auth(&self.key).send().await.unwrap().json().await.unwrap()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A PayPal simulator made ready for a `payhub serve` on `port`: its webhook registered there,
/// and the root its notifications' certificates chain to, in a file.
pub struct PaypalForServe {
    /// A client of the simulator, for what happens at PayPal outside payhub.
    pub paypal: payhub_paypal::PaypalClient,
    pub webhook_id: String,
    pub roots: tempfile::NamedTempFile,
}

impl PaypalForServe {
    pub async fn register(paypal_url: &str, port: u16) -> Self {
        let paypal = payhub_paypal::PaypalClient::new(payhub_paypal::ClientConfig::new(
            paypal_url.to_owned(),
            payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID,
            payhub_sandbox::SANDBOX_PAYPAL_CLIENT_SECRET,
        ))
        .unwrap();
        let webhook = paypal.create_webhook(&format!("http://127.0.0.1:{port}/webhooks/paypal"), &["*"]).await.unwrap();
        let roots = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(roots.path(), payhub_sandbox::paypal_trust_anchor_pem()).unwrap();
        PaypalForServe { paypal, webhook_id: webhook.id, roots }
    }
}

/// `payhub serve` (the executable at `binary`) on `port`, with test mode wired to the PayPal
/// simulator at `paypal_url`; the caller adds what its run needs and spawns it.
pub fn serve_command(
    binary: &str,
    database_url: &str,
    port: u16,
    paypal_url: &str,
    webhook_id: &str,
    roots: &std::path::Path,
) -> Command {
    let mut command = Command::new(binary);
    command
        .args(["serve", "--database-url", database_url, "--listen", &format!("127.0.0.1:{port}")])
        .env("PAYHUB__PAYPAL__TEST__BASE_URL", paypal_url)
        .env("PAYHUB__PAYPAL__TEST__CLIENT_ID", payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID)
        .env("PAYHUB__PAYPAL__TEST__CLIENT_SECRET", payhub_sandbox::SANDBOX_PAYPAL_CLIENT_SECRET)
        .env("PAYHUB__PAYPAL__TEST__WEBHOOK_ID", webhook_id)
        .env("PAYHUB__PAYPAL__TEST__TRUST_ROOTS_FILE", roots)
        .env("PAYHUB__PAYPAL__TEST__CERT_HOSTS", paypal_url.trim_start_matches("http://"))
        .env("PAYHUB__PAYPAL__TEST__SIGNING_SUBJECTS", payhub_sandbox::PAYPAL_CERT_SUBJECT_NAME)
        .env("PAYHUB__PAYPAL__TEST__ALLOW_HTTP_CERT_URLS", "true")
        .env("PAYHUB__WORKERS__POLL_INTERVAL", "50ms")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

/// Waits until the `payhub serve` on `port` answers its health check.
pub async fn wait_until_serving(http: &reqwest::Client, port: u16) {
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..400 {
        if http.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("payhub serve did not come up on port {port}");
}

async fn notification_applied_once_after_a_crash(backend: Backend) {
    let Some(crash) = Crash::prepare(backend).await else { return };

    let mut first = crash.start_hub(false).await;
    let body = json!({"provider": "paypal", "amount": 4200, "currency": "USD"});
    let payment: Value = crash.post("/v1/payments", "crash-1", &body).await.unwrap().json().await.unwrap();
    let id = payment["id"].as_str().unwrap().to_owned();
    let order = payment["provider_refs"]["payment_id"].as_str().unwrap().to_owned();
    crash.sandbox.paypal.approve_order(&order).unwrap();

    // Wait until PayPal got its 2xx: the approval is committed to the inbox, not applied.
    let mut event_id = None;
    for _ in 0..200 {
        let delivered = crash
            .sandbox
            .paypal
            .deliveries()
            .into_iter()
            .find(|d| d.event_type == "CHECKOUT.ORDER.APPROVED" && d.status_code == Some(200));
        if let Some(d) = delivered {
            event_id = Some(d.event_id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event_id = event_id.expect("the approval was acknowledged");
    let db = &crash.database.db;
    assert_eq!(db.notification_status(ProviderName::Paypal, &event_id).await.unwrap().as_deref(), Some("pending"));

    first.start_kill().unwrap();
    first.wait().await.unwrap();

    let mut second = crash.start_hub(true).await;
    let mut status = String::new();
    for _ in 0..200 {
        let current = crash.get(&format!("/v1/payments/{id}")).await;
        status = current["status"].as_str().unwrap_or_default().to_owned();
        if status == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "succeeded", "the stored approval was applied after the restart");
    assert_eq!(db.notification_status(ProviderName::Paypal, &event_id).await.unwrap().as_deref(), Some("processed"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = db.events_of(&id).await.unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["payment.created", "payment.succeeded"], "applied exactly once");
    second.start_kill().unwrap();
    second.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_stored_before_a_kill_is_applied_once_after_restart_sqlite() {
    notification_applied_once_after_a_crash(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_stored_before_a_kill_is_applied_once_after_restart_postgres() {
    notification_applied_once_after_a_crash(Backend::Postgres).await;
}

/// An IPN acknowledged by a hub that is killed before it asks PayPal's postback is confirmed
/// and applied, once, by the next hub.
async fn ipn_applied_once_after_a_crash(backend: Backend) {
    let Some(crash) = Crash::prepare(backend).await else { return };
    crash.sandbox.paypal.set_ipn_notify_url(Some(crash.url("/webhooks/paypal/ipn")));
    let mut first = crash.start_hub(false).await;
    let body = json!({"provider": "paypal", "amount": 1800, "currency": "USD",
                      "provider_options": {"paypal": {"api": "v1"}}});
    let payment: Value = crash.post("/v1/payments", "crash-ipn-1", &body).await.unwrap().json().await.unwrap();
    let id = payment["id"].as_str().unwrap().to_owned();
    let pay_id = payment["provider_refs"]["payment_id"].as_str().unwrap();
    let approved = crash.sandbox.paypal.approve_v1_payment(pay_id).unwrap();
    // The buyer's return executes the payment even without workers.
    crash.http.get(&approved.redirect_url).send().await.unwrap();
    let paid = crash.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");

    // The merchant refunds in PayPal; the IPN is acknowledged by the first hub, then it dies.
    let sale_id = paid["provider_refs"]["capture_id"].as_str().unwrap();
    let request = payhub_paypal::SaleRefundRequest {
        amount: Some(payhub_paypal::SaleAmount::new("USD", "6.00")),
        ..Default::default()
    };
    crash.paypal.refund_sale("dashboard-refund-1", sale_id, &request).await.unwrap();
    let acknowledged = || async {
        let history = crash.sandbox.paypal.ipn_history();
        history.iter().any(|message| {
            message["payment_status"] == "Refunded"
                && message["deliveries"].as_array().is_some_and(|d| d.iter().any(|a| a["status_code"] == 200))
        })
    };
    eventually("the refund's IPN acknowledged", Duration::from_secs(10), acknowledged).await;
    assert_eq!(read_refunded(&crash, &id).await, 0, "stored, not applied");
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let history = crash.sandbox.paypal.ipn_history();
    let refunded = history.iter().find(|message| message["payment_status"] == "Refunded").unwrap();
    let (_, stored) = payhub::providers::paypal::ipn::read(refunded["body"].as_str().unwrap().as_bytes()).unwrap();
    let db = &crash.database.db;
    let status = db.notification_status(ProviderName::Paypal, &stored.provider_event_id).await.unwrap();
    assert_eq!(status.as_deref(), Some("pending"), "in the inbox, not yet confirmed");

    let mut second = crash.start_hub(true).await;
    eventually("applied after the restart", Duration::from_secs(10), || async {
        read_refunded(&crash, &id).await == 600
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(read_refunded(&crash, &id).await, 600, "applied exactly once");
    second.start_kill().unwrap();
    second.wait().await.unwrap();
}

async fn read_refunded(crash: &Crash, id: &str) -> i64 {
    crash.get(&format!("/v1/payments/{id}")).await["amount_refunded"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipn_stored_before_a_kill_is_confirmed_and_applied_once_after_restart_sqlite() {
    ipn_applied_once_after_a_crash(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipn_stored_before_a_kill_is_confirmed_and_applied_once_after_restart_postgres() {
    ipn_applied_once_after_a_crash(Backend::Postgres).await;
}

/// `kill -9` while a payment is being created: the client's retry with the same key, sent to
/// the restarted process, is served at once (not 409 for minutes) and makes no second payment.
async fn a_request_cut_by_a_kill_is_resumed_by_its_retry(backend: Backend) {
    let Some(crash) = Crash::prepare(backend).await else { return };
    let mut first = crash.start_hub(true).await;
    // PayPal answers the next order creation late: the request is in flight when the kill comes.
    let faults = json!({ "fail_next": 1, "path_prefix": "/v2/checkout/orders", "hang_ms": 5000 });
    let set = crash.http.put(format!("{}/sandbox/paypal/faults", crash.sandbox.paypal_url)).json(&faults).send();
    assert!(set.await.unwrap().status().is_success());
    let body = json!({"provider": "paypal", "amount": 4200, "currency": "USD"});
    let (cut, ()) = tokio::join!(crash.post("/v1/payments", "cut-by-a-kill", &body), async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        first.start_kill().unwrap();
        first.wait().await.unwrap();
    });
    assert!(cut.is_err(), "the first attempt died with its process");

    let mut second = crash.start_hub(true).await;
    let retried = crash.post("/v1/payments", "cut-by-a-kill", &body).await.unwrap();
    assert_eq!(retried.status(), 201, "the restarted process took the request over");
    let payment: Value = retried.json().await.unwrap();
    let listed = crash.get("/v1/payments").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "one payment: {listed}");
    assert_eq!(listed["data"][0]["id"], payment["id"]);
    second.start_kill().unwrap();
    second.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_by_a_kill_is_resumed_by_its_retry_sqlite() {
    a_request_cut_by_a_kill_is_resumed_by_its_retry(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_by_a_kill_is_resumed_by_its_retry_postgres() {
    a_request_cut_by_a_kill_is_resumed_by_its_retry(Backend::Postgres).await;
}
