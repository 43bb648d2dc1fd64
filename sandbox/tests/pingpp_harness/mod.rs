//! Harness for the Ping++ simulator's tests: a client that speaks to it as a merchant's backend
//! does (secret key, optional request signature made here with ring) on top of [`crate::common`].

#![allow(dead_code)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use payhub_sandbox::{
    RunningSandbox, SANDBOX_PINGPP_APP_ID, SANDBOX_PINGPP_SECRET_KEY, pingpp_merchant_private_key_pem,
};
use reqwest::Method;
use ring::signature::{self, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use crate::common::{self, Answer, Received, Receiver};

pub struct TestPingpp {
    pub running: RunningSandbox,
    pub url: String,
    pub http: reqwest::Client,
}

pub async fn spawn_pingpp() -> TestPingpp {
    let running = common::start_sandbox(7).await;
    TestPingpp { url: running.pingpp_url.clone(), running, http: reqwest::Client::new() }
}

/// Readers for Ping++'s error shape, `{"error": {"type", "param", "message", …}}`.
impl Answer {
    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or_default()
    }

    pub fn param(&self) -> &str {
        self.body["error"]["param"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_owned()
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Bearer(&'a str),
    Basic(&'a str),
    None,
}

/// Base64 RSA-SHA256 over body + request URI + timestamp with the default merchant key, the
/// way Ping++'s SDKs sign.
pub fn sign_request(body: &[u8], request_uri: &str, timestamp: &str) -> String {
    let der = PrivatePkcs8KeyDer::from_pem_slice(pingpp_merchant_private_key_pem()).unwrap();
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let mut message = body.to_vec();
    message.extend_from_slice(request_uri.as_bytes());
    message.extend_from_slice(timestamp.as_bytes());
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(&signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), &message, &mut signature).unwrap();
    BASE64.encode(signature)
}

impl TestPingpp {
    pub fn simulator(&self) -> &payhub_sandbox::PingppSimulator {
        &self.running.pingpp
    }

    /// An API call; `headers` are extra ones (a signature, say).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
        headers: &[(&str, String)],
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        request = match auth {
            Auth::Bearer(key) => request.bearer_auth(key),
            Auth::Basic(key) => request.basic_auth(key, Some("")),
            Auth::None => request,
        };
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json; charset=UTF-8").body(body.to_string());
        }
        Answer::read(request.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        let key = Auth::Bearer(SANDBOX_PINGPP_SECRET_KEY);
        self.call(Method::POST, path, Some(&body), key, &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        let key = Auth::Bearer(SANDBOX_PINGPP_SECRET_KEY);
        self.call(Method::PUT, path, Some(&body), key, &[]).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        let key = Auth::Bearer(SANDBOX_PINGPP_SECRET_KEY);
        self.call(Method::GET, path, None, key, &[]).await
    }

    /// A POST or PUT signed with the default merchant key over exactly the bytes sent.
    pub async fn signed(&self, method: Method, path: &str, body: &Value) -> Answer {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = sign_request(body.to_string().as_bytes(), path, &timestamp);
        let headers = [("Pingplusplus-Request-Timestamp", timestamp), ("Pingplusplus-Signature", signature)];
        let key = Auth::Bearer(SANDBOX_PINGPP_SECRET_KEY);
        self.call(method, path, Some(body), key, &headers).await
    }

    /// A control endpoint (no key).
    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        common::send(self.http.request(method, format!("{}{path}", self.url)), body).await
    }

    pub async fn advance(&self, by: &str) -> Answer {
        let answer = self.control(Method::POST, "/sandbox/clock/advance", Some(json!({ "by": by }))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer
    }

    pub async fn create_charge(&self, channel: &str, amount: i64, extra: Value) -> Value {
        let answer = self.post("/v1/charges", charge_request(channel, amount, extra)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// A paid `alipay_qr` charge; returns its id.
    pub async fn paid_charge(&self, amount: i64) -> String {
        let charge = self.create_charge("alipay_qr", amount, json!({})).await;
        let id = charge["id"].as_str().unwrap().to_owned();
        self.pay_charge(&id).await;
        id
    }

    pub async fn pay_charge(&self, id: &str) -> Answer {
        let answer = self.control(Method::POST, &format!("/sandbox/pingpp/charges/{id}/pay"), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer
    }

    pub async fn create_order(&self, amount: i64) -> Value {
        let answer = self
            .post(
                "/v1/orders",
                json!({
                    "app": SANDBOX_PINGPP_APP_ID,
                    "uid": "buyer01",
                    "merchant_order_no": unique_order_no(),
                    "amount": amount,
                    "currency": "cny",
                    "client_ip": "127.0.0.1",
                    "subject": "Order subject",
                    "body": "Order body",
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// Registers a webhook URL for the sandbox app.
    pub async fn subscribe(&self, url: &str) {
        let answer = self.control(Method::PUT, "/sandbox/pingpp/webhook", Some(json!({ "url": url }))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
}

pub fn unique_order_no() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("T{}{:06}", chrono::Utc::now().timestamp_millis(), NEXT.fetch_add(1, Ordering::SeqCst))
}

pub fn charge_request(channel: &str, amount: i64, extra: Value) -> Value {
    json!({
        "order_no": unique_order_no(),
        "app": { "id": SANDBOX_PINGPP_APP_ID },
        "channel": channel,
        "amount": amount,
        "currency": "cny",
        "client_ip": "127.0.0.1",
        "subject": "Your Subject",
        "body": "Your Body",
        "extra": extra,
    })
}

impl Received {
    /// Ping++ names an event's kind `type`.
    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

impl Receiver {
    pub async fn wait_for_type(&self, event_type: &str) -> Received {
        for _ in 0..100 {
            if let Some(found) = self.received().into_iter().find(|delivery| delivery.event_type() == event_type) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {event_type} delivery within 5 s");
    }
}
