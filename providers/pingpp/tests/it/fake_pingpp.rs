//! A small in-process Ping++ for client tests. It records every request as received (method,
//! request URI, headers, raw body), checks request signatures with the test public key, answers
//! each documented endpoint with a sample object, and plays scripted answers (errors, delays)
//! first when a test queues them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payhub_pingpp::{ClientConfig, PingppClient, UnixClock};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::keys;
use crate::samples;

pub const APP_ID: &str = "app_1Gqj58ynP0mHeX1q";
pub const SECRET_KEY: &str = "sk_test_ibbTe5jLGCi5rzfH4OqPW9KC";
pub const TIMESTAMP: i64 = 1_735_689_600;

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query exactly as they arrived.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("recorded body is JSON")
    }

    /// Whether the signature header verifies, with the test key, over body ++ URI ++ timestamp
    /// header; `None` when the request was not signed.
    pub fn signature_valid(&self) -> Option<bool> {
        let signature = self.header("pingplusplus-signature")?;
        let timestamp = self.header("pingplusplus-request-timestamp").unwrap_or_default();
        let message = keys::concatenation(&self.body, &self.uri, timestamp);
        Some(keys::signed_by_test_key(&message, signature))
    }
}

/// An answer queued by a test, played before the canned ones.
pub struct Scripted {
    pub status: StatusCode,
    pub body: String,
    pub content_type: &'static str,
    pub delay: Duration,
}

impl Scripted {
    /// A Ping++ error object with the given status.
    pub fn error(status: u16, error: Value) -> Self {
        Self {
            status: StatusCode::from_u16(status).expect("status"),
            body: json!({ "error": error }).to_string(),
            content_type: "application/json",
            delay: Duration::ZERO,
        }
    }

    pub fn raw(status: u16, content_type: &'static str, body: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).expect("status"),
            body: body.to_owned(),
            content_type,
            delay: Duration::ZERO,
        }
    }

    pub fn slow(delay: Duration) -> Self {
        Self { delay, ..Self::raw(200, "application/json", samples::CHARGE) }
    }
}

#[derive(Default)]
struct FakeState {
    requests: Mutex<Vec<Recorded>>,
    scripted: Mutex<VecDeque<Scripted>>,
}

pub struct FakePingpp {
    addr: SocketAddr,
    state: Arc<FakeState>,
}

impl FakePingpp {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState::default());
        let app = Router::new().fallback(handle).with_state(Arc::clone(&state));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Ping++ serves");
        });
        Self { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Configuration for this fake: test app and key, fixed clock, quick retries.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.base_url(), APP_ID, SECRET_KEY);
        config.clock = UnixClock::fixed(TIMESTAMP);
        config.retry_backoff = Duration::from_millis(5);
        config
    }

    pub fn client(&self) -> PingppClient {
        PingppClient::new(self.config()).expect("client")
    }

    pub fn signing_client(&self) -> PingppClient {
        PingppClient::new(self.config().with_private_key(keys::PRIVATE_PKCS8)).expect("client")
    }

    pub fn script(&self, answer: Scripted) {
        self.state.scripted.lock().expect("lock").push_back(answer);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    pub fn last(&self) -> Recorded {
        self.requests().pop().expect("at least one request")
    }
}

async fn handle(State(state): State<Arc<FakeState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.expect("body").to_vec();
    let recorded = Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.path_and_query().map(|pq| pq.as_str().to_owned()).unwrap_or_default(),
        headers: parts.headers.clone(),
        body,
    };
    state.requests.lock().expect("lock").push(recorded.clone());

    let scripted = state.scripted.lock().expect("lock").pop_front();
    if let Some(answer) = scripted {
        tokio::time::sleep(answer.delay).await;
        return Response::builder()
            .status(answer.status)
            .header(header::CONTENT_TYPE, answer.content_type)
            .body(Body::from(answer.body))
            .expect("response");
    }
    let (status, answer) = canned(&parts.method, &recorded);
    (status, axum::Json(answer)).into_response()
}

/// A sample answer for each documented endpoint, with the ids of the request filled in.
fn canned(method: &Method, request: &Recorded) -> (StatusCode, Value) {
    let segments: Vec<&str> = request.path().trim_start_matches('/').split('/').collect();
    let with_id = |sample: &str, id: &str| {
        let mut object = samples::json(sample);
        object["id"] = json!(id);
        object
    };
    let list = |url: &str, item: Value| json!({"object": "list", "url": url, "has_more": false, "data": [item]});
    let ok = |value: Value| (StatusCode::OK, value);
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "charges"]) => {
            let sent = request.json();
            let mut charge = samples::json(samples::CHARGE);
            for field in ["order_no", "amount", "channel", "subject", "body"] {
                charge[field] = sent[field].clone();
            }
            charge["paid"] = json!(false);
            ok(charge)
        }
        ("GET", ["v1", "charges"]) => ok(list("/v1/charges", samples::json(samples::CHARGE))),
        ("GET", ["v1", "charges", id]) => ok(with_id(samples::CHARGE, id)),
        ("POST", ["v1", "charges", id, "reverse"]) => {
            let mut charge = with_id(samples::CHARGE, id);
            charge["reversed"] = json!(true);
            ok(charge)
        }
        ("POST", ["v1", "charges", _, "refunds"]) => ok(samples::json(samples::REFUND)),
        ("GET", ["v1", "charges", _, "refunds"]) => ok(list(request.path(), samples::json(samples::REFUND))),
        ("GET", ["v1", "charges", _, "refunds", re]) => ok(with_id(samples::REFUND, re)),
        ("POST", ["v1", "orders"]) => ok(samples::json(samples::ORDER)),
        ("GET", ["v1", "orders"]) => ok(list("/v1/orders", samples::json(samples::ORDER))),
        ("GET", ["v1", "orders", id]) => ok(with_id(samples::ORDER, id)),
        ("PUT", ["v1", "orders", id]) => {
            let mut order = with_id(samples::ORDER, id);
            order["status"] = request.json()["status"].clone();
            ok(order)
        }
        ("POST", ["v1", "orders", id, "pay"]) => {
            let mut order = with_id(samples::ORDER, id);
            order["charge"] = json!("ch_L8qn10mLmr1GS8e5OODmHaL4");
            ok(order)
        }
        ("GET", ["v1", "orders", _, "charges"]) => ok(list(request.path(), samples::json(samples::CHARGE))),
        ("GET", ["v1", "orders", _, "charges", ch]) => ok(with_id(samples::CHARGE, ch)),
        ("POST" | "GET", ["v1", "orders", _, "order_refunds"]) => {
            ok(list(request.path(), samples::json(samples::REFUND)))
        }
        ("GET", ["v1", "orders", _, "order_refunds", re]) => ok(with_id(samples::REFUND, re)),
        ("GET", ["v1", "events", id]) => ok(with_id(samples::ORDER_REFUNDED_EVENT, id)),
        _ => (
            StatusCode::NOT_FOUND,
            json!({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL."}}),
        ),
    }
}
