//! One `TestApp` per test: the PayPal simulator, a fresh database (SQLite or PostgreSQL), a hub
//! on port 0 wired to the simulator, a test-mode API key and a merchant endpoint that records
//! what it receives. Tests then read like the API's manual.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use payhub::app::HubSettings;
use payhub::config::{DeliveryConfig, DisputesConfig, WorkersConfig};
use payhub::egress::EgressPolicy;
use payhub::providers::Providers;
use payhub::providers::paypal::{self, LegacySettings};
use payhub::services::api_keys::create_api_key;
use payhub::{Hub, RunningHub};
use payhub_core::{Clock, Mode, ProviderName};
use payhub_sandbox::{RunningSandbox, SandboxOptions, TestClock};
use payhub_store::testing::{Backend, TestDatabase};
use reqwest::Response;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Runs a test body once per database backend; the PostgreSQL variant says so and skips when
/// `PAYHUB_TEST_DATABASE_URL` is not set. `with spawn;` first starts each app with `spawn`
/// (a function of the backend) instead of [`TestApp::spawn`].
#[macro_export]
macro_rules! on_both_stores {
    (with $spawn:path; $(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $spawn(payhub_store::testing::Backend::Sqlite).await.unwrap();
                run(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $spawn(payhub_store::testing::Backend::Postgres).await else { return };
                run(app).await;
            }
        }
    )*};
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $crate::on_both_stores! { with $crate::helpers::TestApp::spawn; $(async fn $name($app) $body)* }
    };
}

/// A merchant endpoint: records every delivery and answers with a chosen status.
#[derive(Clone, Default)]
pub struct Receiver {
    pub received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// When the first event about each resource arrived, by resource id.
    pub first_arrival: Arc<Mutex<HashMap<String, Instant>>>,
    pub answer: Arc<Mutex<u16>>,
}

impl Receiver {
    /// A receiver on a loopback port; returns it and its URL.
    pub async fn start() -> (Self, String) {
        let receiver = Receiver { answer: Arc::new(Mutex::new(200)), ..Default::default() };
        let app = axum::Router::new()
            .route(
                "/hook",
                post(|State(r): State<Receiver>, headers: HeaderMap, body: Bytes| async move {
                    let arrived = Instant::now();
                    if let Ok(event) = serde_json::from_slice::<Value>(&body)
                        && let Some(resource_id) = event["resource_id"].as_str()
                    {
                        r.first_arrival.lock().unwrap().entry(resource_id.to_owned()).or_insert(arrived);
                    }
                    r.received.lock().unwrap().push((headers, body));
                    StatusCode::from_u16(*r.answer.lock().unwrap()).unwrap()
                }),
            )
            .with_state(receiver.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    /// Event types received so far, in arrival order.
    pub fn types(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap()["type"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Short enough that timeout tests are quick, long enough for a loaded CI machine.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TestApp {
    pub url: String,
    pub hub: Hub,
    /// Kept for the test's lifetime: the serving hub and the database.
    _running: RunningHub,
    pub sandbox: RunningSandbox,
    pub clock: Arc<TestClock>,
    _database: TestDatabase,
    pub http: reqwest::Client,
    pub api_key: String,
    pub receiver: Receiver,
    pub endpoint_secret: String,
}

pub fn test_settings(public_url: &str) -> HubSettings {
    HubSettings {
        public_url: public_url.to_owned(),
        payment_expiry: Duration::from_secs(3 * 3600),
        anomaly_policy: payhub::config::AnomalyPolicy::Refund,
        entitlement_grace: Duration::from_secs(24 * 3600),
        workers: WorkersConfig {
            enabled: true,
            poll_interval: Duration::from_millis(50),
            reconcile_interval: Duration::from_millis(100),
            reconcile_concurrency: 4,
            lease: Duration::from_secs(5),
        },
        delivery: DeliveryConfig {
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            per_endpoint_concurrency: 4,
            schedule: vec![Duration::from_millis(200), Duration::from_millis(400), Duration::from_millis(800)],
        },
        ops: payhub::config::OpsConfig::default(),
        // The test receivers listen on loopback, as beside `serve --sandbox`.
        egress: EgressPolicy::default().with_loopback_in_test_mode(),
        mail: None,
        rejections: payhub::config::RejectionsConfig::default().retention(),
        disputes: DisputesConfig { revoke_entitlement_on_loss: true, sweep_interval: Duration::from_millis(300) },
        secrets: Default::default(),
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// [`TestApp::spawn`] with the hub's settings changed by `configure` first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut HubSettings)) -> Option<TestApp> {
        Self::start(backend, configure, None).await
    }

    /// [`TestApp::spawn`] with a dispute sweep that runs once, at start, and never comes due
    /// again while a test moves the clock a day or two: a dispute then reaches payhub through
    /// its notification alone, and a fault on PayPal's disputes routes is spent on the calls the
    /// test makes, not on a sweep. Wait for [`TestApp::first_dispute_sweep_done`] before
    /// breaking those routes.
    pub async fn spawn_without_dispute_sweep(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |settings| {
            settings.disputes.sweep_interval = Duration::from_secs(1000 * 86_400);
        })
        .await
    }

    /// Waits until the sweep done at start is over, so it cannot find a case the test opens next
    /// or take a fault meant for another call.
    pub async fn first_dispute_sweep_done(&self) {
        self.eventually("the first dispute sweep is done", || async {
            let mut tx = self.hub.db.begin().await.unwrap();
            tx.dispute_sweep_mark(ProviderName::Paypal, Mode::Test).await.unwrap().is_some()
        })
        .await;
    }

    /// [`TestApp::spawn`] with the hub configured for another PayPal merchant than the
    /// simulator's account: every genuine IPN the simulator sends is then for another receiver,
    /// as when someone forwards their own account's IPN to this shop.
    pub async fn spawn_for_another_merchant(backend: Backend) -> Option<TestApp> {
        Self::start(
            backend,
            |_| {},
            Some(|legacy: &mut LegacySettings| {
                legacy.merchant_emails = vec!["payments@another-shop.example".into()];
                legacy.merchant_id = Some("ANOTHERSHOP01".into());
            }),
        )
        .await
    }

    async fn start(
        backend: Backend,
        configure: impl FnOnce(&mut HubSettings),
        configure_legacy: Option<fn(&mut LegacySettings)>,
    ) -> Option<TestApp> {
        let database = TestDatabase::fresh(backend).await?;
        let clock = TestClock::new();
        let sandbox = start_sandbox(clock.clone(), 7).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut providers = Providers::default();
        providers.use_sandbox(&sandbox, &url, PROVIDER_TIMEOUT).await.expect("wire the providers to the sandbox");
        if let Some(configure_legacy) = configure_legacy {
            let mut legacy = paypal::sandbox_legacy_settings(&sandbox);
            configure_legacy(&mut legacy);
            // The PayPal adapter again, for the webhook it registered, with the IPN settings changed.
            let target = format!("{url}/webhooks/paypal");
            let client = payhub_paypal::PaypalClient::new(payhub_paypal::ClientConfig::new(
                sandbox.paypal_url.clone(),
                payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID,
                payhub_sandbox::SANDBOX_PAYPAL_CLIENT_SECRET,
            ))
            .unwrap();
            let hooks = client.list_webhooks().await.unwrap();
            let webhook_id = hooks.into_iter().find(|hook| hook.url == target).expect("the hub's webhook").id;
            let adapter = paypal::sandbox_adapter(&sandbox.paypal_url, &webhook_id, PROVIDER_TIMEOUT)
                .unwrap()
                .with_legacy(legacy, payhub_paypal::default_http_client().unwrap());
            providers.insert(Mode::Test, Arc::new(adapter));
        }
        let mut settings = test_settings(&url);
        configure(&mut settings);
        let hub = Hub::new(database.db.clone(), clock.clone(), providers, settings);
        let running = hub.clone().serve(listener).await.unwrap();
        let (_, api_key) = create_api_key(&database.db, &hub.ids, clock.now(), Mode::Test, "tests").await.unwrap();
        let (receiver, hook_url) = Receiver::start().await;
        let mut app = TestApp {
            url,
            hub,
            _running: running,
            sandbox,
            clock,
            _database: database,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            api_key,
            receiver,
            endpoint_secret: String::new(),
        };
        let endpoint = app.post("/v1/webhook_endpoints", json!({ "url": hook_url })).await;
        assert_eq!(endpoint.status(), 201);
        app.endpoint_secret = endpoint.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
        Some(app)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        let key = format!("test-{}", ulid_like());
        self.post_with_key(path, &key, body).await
    }

    pub async fn post_with_key(&self, path: &str, key: &str, body: Value) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(format!("{}{path}", self.url)).bearer_auth(&self.api_key).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn create_payment(&self, amount: i64) -> Value {
        let response = self
            .post(
                "/v1/payments",
                json!({ "provider": "paypal", "amount": amount, "currency": "USD",
                        "return_url": "https://shop.example/thanks", "merchant_reference": "order-42" }),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    pub async fn payment(&self, id: &str) -> Value {
        self.get_json(&format!("/v1/payments/{id}")).await
    }

    /// The buyer approves at the simulator; returns where PayPal sends the buyer back.
    pub async fn approve(&self, payment: &Value) -> String {
        let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
        let answer: Value = self
            .http
            .post(format!("{}/sandbox/paypal/orders/{order}/approve", self.sandbox.paypal_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["redirect_url"].as_str().unwrap().to_owned()
    }

    /// A payment paid by the buyer and captured: create, approve, come back.
    pub async fn paid_payment(&self, amount: i64) -> Value {
        let payment = self.create_payment(amount).await;
        let back = self.approve(&payment).await;
        let response = self.http.get(&back).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let id = payment["id"].as_str().unwrap();
        self.eventually(&format!("{id} succeeded"), || async { self.payment(id).await["status"] == "succeeded" }).await;
        self.payment(id).await
    }

    pub async fn sandbox_control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response =
            self.http.request(method, format!("{}{path}", self.sandbox.paypal_url)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "sandbox control {path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// Event types recorded for a resource, oldest first.
    pub async fn event_types(&self, resource_id: &str) -> Vec<String> {
        let list = self.get_json(&format!("/v1/events?resource_id={resource_id}&limit=100")).await;
        let mut types: Vec<String> =
            list["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
        types.reverse();
        types
    }

    /// Polls `check` until it holds (20 s at most, for a loaded CI machine); workers run in the background.
    pub async fn eventually<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        eventually(what, Duration::from_secs(20), check).await;
    }

    /// A PayPal client of the simulator, to look at PayPal's side of things.
    pub fn paypal(&self) -> payhub_paypal::PaypalClient {
        payhub_paypal::PaypalClient::new(payhub_paypal::ClientConfig::new(
            self.sandbox.paypal_url.clone(),
            payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID,
            payhub_sandbox::SANDBOX_PAYPAL_CLIENT_SECRET,
        ))
        .unwrap()
    }

    /// Moves the shared clock (hub and simulator) and lets the simulator run what became due.
    pub async fn advance(&self, by: chrono::Duration) {
        self.sandbox.sandbox.advance(by).await;
    }
}

/// Polls `check` every 50 ms until it holds, for `patience` at most.
pub async fn eventually<F, Fut>(what: &str, patience: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let polls = patience.as_millis() / 50;
    for _ in 0..polls {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A PayPal notification as it goes over the wire, to be tampered with.
#[derive(Clone)]
pub struct Notification {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Notification {
    pub fn set(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.to_owned(), value.to_owned()));
    }
}

impl TestApp {
    /// The id of the webhook the hub registered at the simulator (part of the signed string).
    pub async fn hub_webhook_id(&self) -> String {
        let target = format!("{}/webhooks/paypal", self.url);
        let hooks = self.paypal().list_webhooks().await.unwrap();
        hooks.into_iter().find(|h| h.url == target).expect("the hub registered its webhook").id
    }

    /// `event` signed exactly as PayPal (the simulator) signs notifications for the hub.
    pub async fn signed_notification(&self, event: &Value) -> Notification {
        let body = serde_json::to_vec(event).unwrap();
        let key = payhub_sandbox::paypal::signing::SigningKey::load().unwrap();
        let transmission_id = format!("test-{}", ulid_like());
        let time = self.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let webhook_id = self.hub_webhook_id().await;
        let signed = payhub_sandbox::paypal::signing::signed_string(&transmission_id, &time, &webhook_id, &body);
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("paypal-transmission-id".to_owned(), transmission_id),
            ("paypal-transmission-time".to_owned(), time),
            ("paypal-transmission-sig".to_owned(), key.sign(signed.as_bytes()).unwrap()),
            ("paypal-cert-url".to_owned(), self.sandbox.paypal.cert_url()),
            ("paypal-auth-algo".to_owned(), "SHA256withRSA".to_owned()),
        ];
        Notification { headers, body }
    }

    pub async fn deliver(&self, notification: &Notification) -> Response {
        let mut request = self.http.post(format!("{}/webhooks/paypal", self.url)).body(notification.body.clone());
        for (name, value) in &notification.headers {
            request = request.header(name, value);
        }
        request.send().await.unwrap()
    }
}

/// Checks a delivery's Standard Webhooks signature independently of payhub's signer.
pub fn signature_is_valid(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let signed = [header("webhook-id").as_bytes(), b".", header("webhook-timestamp").as_bytes(), b".", body].concat();
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), &signed);
    let expected = format!("v1,{}", STANDARD.encode(tag.as_ref()));
    header("webhook-signature").split(' ').any(|s| s == expected)
}

fn ulid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The simulators on free loopback ports, on `clock`, their ids drawn from `seed`.
pub async fn start_sandbox(clock: std::sync::Arc<TestClock>, seed: u64) -> RunningSandbox {
    payhub_sandbox::start(SandboxOptions {
        paypal_addr: "127.0.0.1:0".parse().unwrap(),
        pingpp_addr: "127.0.0.1:0".parse().unwrap(),
        public_host: None,
        clock,
        seed,
    })
    .await
    .expect("start the sandbox")
}
