//! What every simulator's tests share: the sandbox on port 0 with a fresh test clock, answers
//! read the same way, and a webhook receiver that records what it gets. Each provider's harness
//! (`paypal_harness`, `pingpp_harness`) adds a client that speaks to its simulator and readers
//! for its error shape.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use payhub_sandbox::TestClock;
use payhub_sandbox::{RunningSandbox, SandboxOptions};
use serde_json::Value;

/// Both simulators on free loopback ports; `seed` fixes chaos and the sandbox's identities.
pub async fn start_sandbox(seed: u64) -> RunningSandbox {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = SandboxOptions {
        paypal_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        pingpp_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        public_host: None,
        clock: TestClock::new(),
        seed,
    };
    payhub_sandbox::start(options).await.expect("the sandbox starts")
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// An empty body reads as `null`, one that is not JSON as a string.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Answer { status, headers, body }
    }
}

/// Sends `request`, with `body` as JSON if given, and reads the answer.
pub async fn send(mut request: reqwest::RequestBuilder, body: Option<Value>) -> Answer {
    if let Some(body) = body {
        request = request.json(&body);
    }
    Answer::read(request.send().await.unwrap()).await
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
    received: Arc<Mutex<Vec<Received>>>,
    respond_with: Arc<AtomicU16>,
}

impl Receiver {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The status it answers with from now on, to make deliveries fail or succeed.
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
        "/webhooks",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (sink, status) = (sink.clone(), status.clone());
            async move {
                sink.lock().unwrap().push(Received { headers, body });
                StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
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
