//! Shared harness: a sandbox on port 0 with a fresh test clock, a client that speaks to it like a
//! merchant's backend, and a webhook receiver that records what it gets.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use payhub_core::TestClock;
use payhub_sandbox::{RunningSandbox, SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET, SandboxOptions};
use serde_json::{Value, json};

pub struct TestSandbox {
    pub running: RunningSandbox,
    pub url: String,
    pub http: reqwest::Client,
}

pub async fn spawn_sandbox() -> TestSandbox {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = SandboxOptions {
        paypal_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        pingpp_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        public_host: None,
        clock: TestClock::new(),
        seed: 42,
    };
    let running = payhub_sandbox::start(options).await.expect("the sandbox starts");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client");
    TestSandbox { url: running.paypal_url.clone(), running, http }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn issue(&self) -> &str {
        self.body["details"][0]["issue"].as_str().unwrap_or_default()
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Answer { status, headers, body }
}

impl TestSandbox {
    pub async fn request_token(&self, client_id: &str, secret: &str) -> Answer {
        let response = self
            .http
            .post(format!("{}/v1/oauth2/token", self.url))
            .basic_auth(client_id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    pub async fn token(&self) -> String {
        let answer = self.request_token(SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A POST to PayPal's API; `headers` are extra ones such as `PayPal-Request-Id` or `Prefer`.
    pub async fn post(&self, token: &str, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.post(format!("{}{path}", self.url)).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        answer(self.http.get(format!("{}{path}", self.url)).bearer_auth(token).send().await.unwrap()).await
    }

    /// A control endpoint (no token).
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn advance(&self, by: &str) -> Answer {
        self.control(reqwest::Method::POST, "/sandbox/clock/advance", Some(json!({ "by": by }))).await
    }

    pub async fn create_order(&self, token: &str, value: &str, extra: Value) -> Value {
        let mut body = json!({
            "intent": "CAPTURE",
            "purchase_units": [{ "amount": { "currency_code": "USD", "value": value } }],
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let answer = self.post(token, "/v2/checkout/orders", Some(body), &[]).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    pub async fn approve(&self, order_id: &str) -> Answer {
        self.control(reqwest::Method::POST, &format!("/sandbox/paypal/orders/{order_id}/approve"), None).await
    }

    /// An order for `value` USD, approved by the buyer and captured; returns (order id, capture id).
    pub async fn captured_order(&self, token: &str, value: &str) -> (String, String) {
        let order_id = self.create_order(token, value, json!({})).await["id"].as_str().unwrap().to_owned();
        assert_eq!(self.approve(&order_id).await.status, StatusCode::OK);
        let captured = self.post(token, &format!("/v2/checkout/orders/{order_id}/capture"), None, &[]).await;
        assert_eq!(captured.status, StatusCode::CREATED, "{}", captured.body);
        let capture_id =
            captured.body["purchase_units"][0]["payments"]["captures"][0]["id"].as_str().unwrap().to_owned();
        (order_id, capture_id)
    }

    pub async fn subscribe(&self, token: &str, url: &str, event_types: &[&str]) -> String {
        let types: Vec<Value> = event_types.iter().map(|name| json!({ "name": name })).collect();
        let answer = self
            .post(token, "/v1/notifications/webhooks", Some(json!({ "url": url, "event_types": types })), &[])
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }
}

#[derive(Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP endpoint standing in for a merchant's webhook listener.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// The status it answers with; change it to make deliveries fail or succeed.
    pub respond_with: Arc<AtomicU16>,
}

impl Receiver {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn answer_with(&self, status: u16) {
        self.respond_with.store(status, Ordering::SeqCst);
    }

    /// Waits (in real time, up to 5 s) until at least `count` deliveries arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..100 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} deliveries, got {}", self.received().len());
    }
}

pub async fn spawn_receiver() -> Receiver {
    let received = Arc::new(Mutex::new(Vec::new()));
    let respond_with = Arc::new(AtomicU16::new(200));
    let (sink, status) = (received.clone(), respond_with.clone());
    let app = axum::Router::new().route(
        "/webhooks/paypal",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (sink, status) = (sink.clone(), status.clone());
            async move {
                sink.lock().unwrap().push(Received { headers, body });
                StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/paypal", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, received, respond_with }
}

/// Polls `check` (in real time, up to 5 s) until it holds.
pub async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition did not hold within 5 s");
}
