//! A small in-process PayPal for client tests: real OAuth2 checks, recorded requests, and a few
//! ids that trigger the answers under test (slow, 502, 422, unknown status, wrong shape).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use payhub_paypal::{ClientConfig, PaypalClient, Secret};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret";

/// An API request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub bearer: Option<String>,
    pub request_id: Option<String>,
    pub prefer: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("recorded body is JSON")
    }
}

/// A token request as the fake received it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

struct FakeState {
    token_expires_in: AtomicU64,
    token_delay_ms: AtomicU64,
    refuse_every_token: AtomicBool,
    issued: AtomicUsize,
    valid_tokens: Mutex<HashSet<String>>,
    token_requests: Mutex<Vec<TokenRequest>>,
    api_requests: Mutex<Vec<Recorded>>,
}

pub struct FakePaypal {
    addr: SocketAddr,
    state: Arc<FakeState>,
}

impl FakePaypal {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            token_expires_in: AtomicU64::new(32_400),
            token_delay_ms: AtomicU64::new(0),
            refuse_every_token: AtomicBool::new(false),
            issued: AtomicUsize::new(0),
            valid_tokens: Mutex::new(HashSet::new()),
            token_requests: Mutex::new(Vec::new()),
            api_requests: Mutex::new(Vec::new()),
        });
        let api = Router::new()
            .route("/v2/checkout/orders", post(create_order))
            .route("/v2/checkout/orders/{id}", get(get_order))
            .route("/v2/checkout/orders/{id}/capture", post(capture_order))
            .route("/v2/payments/captures/{id}", get(get_capture))
            .route("/v2/payments/captures/{id}/refund", post(refund_capture))
            .route("/v2/payments/refunds/{id}", get(get_refund))
            .route("/v1/notifications/webhooks", get(list_webhooks).post(create_webhook))
            .route("/v1/notifications/verify-webhook-signature", post(verify_signature))
            .merge(crate::fake_billing::routes())
            .layer(middleware::from_fn_with_state(state.clone(), authorize_and_record));
        let app = Router::new().route("/v1/oauth2/token", post(issue_token)).merge(api).with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            base_url: self.base_url(),
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new(CLIENT_SECRET),
            timeout: Duration::from_secs(5),
        }
    }

    pub fn client(&self) -> PaypalClient {
        PaypalClient::new(self.config()).expect("client")
    }

    pub fn set_token_expires_in(&self, seconds: u64) {
        self.state.token_expires_in.store(seconds, Ordering::SeqCst);
    }

    pub fn set_token_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).expect("small delay");
        self.state.token_delay_ms.store(millis, Ordering::SeqCst);
    }

    /// Invalidates every token issued so far, as PayPal does when a token expires early.
    pub fn revoke_issued_tokens(&self) {
        self.state.valid_tokens.lock().expect("lock").clear();
    }

    /// Every API call answers 401 from now on, whatever token it carries.
    pub fn refuse_every_token(&self) {
        self.state.refuse_every_token.store(true, Ordering::SeqCst);
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.token_requests.lock().expect("lock").clone()
    }

    pub fn api_requests(&self) -> Vec<Recorded> {
        self.state.api_requests.lock().expect("lock").clone()
    }

    pub fn last_api_request(&self) -> Recorded {
        self.api_requests().pop().expect("an API request was made")
    }
}

async fn issue_token(State(state): State<Arc<FakeState>>, headers: HeaderMap, body: String) -> Response {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    state.token_requests.lock().expect("lock").push(TokenRequest {
        authorization: text(header::AUTHORIZATION),
        content_type: text(header::CONTENT_TYPE),
        body: body.clone(),
    });
    let delay = state.token_delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let expected = format!("Basic {}", BASE64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if text(header::AUTHORIZATION).as_deref() != Some(expected.as_str()) {
        let refusal = json!({"error": "invalid_client", "error_description": "Client Authentication failed"});
        return (StatusCode::UNAUTHORIZED, axum::Json(refusal)).into_response();
    }
    if body != "grant_type=client_credentials" {
        let refusal = json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"});
        return (StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response();
    }
    let n = state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("token-{n}");
    state.valid_tokens.lock().expect("lock").insert(token.clone());
    axum::Json(json!({
        "scope": "https://uri.paypal.com/services/payments/payment",
        "access_token": token,
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": state.token_expires_in.load(Ordering::SeqCst),
        "nonce": "2026-01-01T00:00:00Z"
    }))
    .into_response()
}

async fn authorize_and_record(State(state): State<Arc<FakeState>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.expect("request body");
    let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bearer = text("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned));
    state.api_requests.lock().expect("lock").push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        bearer: bearer.clone(),
        request_id: text("paypal-request-id"),
        prefer: text("prefer"),
        content_type: text("content-type"),
        body: body.to_vec(),
    });
    let valid = bearer.is_some_and(|token| state.valid_tokens.lock().expect("lock").contains(&token));
    if !valid || state.refuse_every_token.load(Ordering::SeqCst) {
        let refusal = json!({"error": "invalid_token", "error_description": "Token signature verification failed"});
        return (StatusCode::UNAUTHORIZED, axum::Json(refusal)).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

fn order(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "intent": "CAPTURE",
        "status": status,
        "purchase_units": [{"reference_id": "default", "amount": {"currency_code": "USD", "value": "25.00"}}],
        "create_time": "2026-01-05T10:00:00Z",
        "links": [
            {"href": format!("https://api.sandbox.paypal.com/v2/checkout/orders/{id}"), "rel": "self", "method": "GET"},
            {"href": format!("https://www.sandbox.paypal.com/checkoutnow?token={id}"), "rel": "payer-action", "method": "GET"}
        ]
    })
}

fn refund(id: &str, capture_id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "status": status,
        "amount": {"currency_code": "USD", "value": "10.00"},
        "links": [
            {"href": format!("https://api.sandbox.paypal.com/v2/payments/refunds/{id}"), "rel": "self", "method": "GET"},
            {"href": format!("https://api.sandbox.paypal.com/v2/payments/captures/{capture_id}"), "rel": "up", "method": "GET"}
        ]
    })
}

async fn create_order(axum::Json(request): axum::Json<Value>) -> Response {
    let mut created = order("5O190127TN364715T", "PAYER_ACTION_REQUIRED");
    created["purchase_units"][0]["amount"] = request["purchase_units"][0]["amount"].clone();
    (StatusCode::CREATED, axum::Json(created)).into_response()
}

async fn get_order(Path(id): Path<String>) -> Response {
    match id.as_str() {
        "SLOW" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            axum::Json(order(&id, "APPROVED")).into_response()
        }
        "BAD-GATEWAY" => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        "NEW-STATUS" => axum::Json(order(&id, "SOMETHING_NEW")).into_response(),
        _ => axum::Json(order(&id, "APPROVED")).into_response(),
    }
}

async fn capture_order(Path(id): Path<String>) -> Response {
    if id == "UNAPPROVED" {
        let error = json!({
            "name": "UNPROCESSABLE_ENTITY",
            "details": [{
                "issue": "ORDER_NOT_APPROVED",
                "description": "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url returned as part of the HATEOAS links within the Create Order call or provide a valid payment_source in the request."
            }],
            "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
            "debug_id": "90957fca61718",
            "links": [{"href": "https://developer.paypal.com/api/rest/reference/orders/v2/errors/#ORDER_NOT_APPROVED", "rel": "information_link", "method": "GET"}]
        });
        return (StatusCode::UNPROCESSABLE_ENTITY, [("paypal-debug-id", "90957fca61718")], axum::Json(error))
            .into_response();
    }
    let mut captured = order(&id, "COMPLETED");
    captured["purchase_units"][0]["payments"] = json!({"captures": [{
        "id": "3C679366HH908993F",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "25.00"},
        "final_capture": true
    }]});
    (StatusCode::CREATED, axum::Json(captured)).into_response()
}

async fn get_capture(Path(id): Path<String>) -> Response {
    if id == "WRONG-SHAPE" {
        return axum::Json(json!({"unexpected": true})).into_response();
    }
    axum::Json(json!({
        "id": id,
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "25.00"},
        "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}}
    }))
    .into_response()
}

async fn refund_capture(Path(capture_id): Path<String>) -> Response {
    (StatusCode::CREATED, axum::Json(refund("1JU08902781691411", &capture_id, "COMPLETED"))).into_response()
}

async fn get_refund(Path(id): Path<String>) -> Response {
    let status = if id == "NEW-STATUS" { "SOMETHING_NEW" } else { "COMPLETED" };
    axum::Json(refund(&id, "3C679366HH908993F", status)).into_response()
}

async fn create_webhook(axum::Json(request): axum::Json<Value>) -> Response {
    let webhook = json!({
        "id": "0EH40505U7160970P",
        "url": request["url"],
        "event_types": request["event_types"],
        "links": [{"href": "https://api.sandbox.paypal.com/v1/notifications/webhooks/0EH40505U7160970P", "rel": "self", "method": "GET"}]
    });
    (StatusCode::CREATED, axum::Json(webhook)).into_response()
}

async fn list_webhooks() -> Response {
    axum::Json(json!({"webhooks": [
        {"id": "40Y916089Y8324740", "url": "https://shop.example/paypal/webhooks",
         "event_types": [{"name": "PAYMENT.CAPTURE.COMPLETED", "description": "A payment capture completes."}],
         "links": []},
        {"id": "0EH40505U7160970P", "url": "https://shop.example/paypal/all",
         "event_types": [{"name": "*", "description": "ALL"}], "links": []}
    ]}))
    .into_response()
}

async fn verify_signature(axum::Json(request): axum::Json<Value>) -> Response {
    let status = if request["transmission_sig"] == "good-signature" { "SUCCESS" } else { "FAILURE" };
    axum::Json(json!({"verification_status": status})).into_response()
}
