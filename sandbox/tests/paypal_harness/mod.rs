//! Harness for the PayPal simulator's tests: a client that speaks to it like a merchant's backend
//! (OAuth2 token, bearer calls, control endpoints) on top of [`crate::common`].

#![allow(dead_code)]

use axum::http::StatusCode;
use payhub_sandbox::{RunningSandbox, SANDBOX_PAYPAL_CLIENT_ID, SANDBOX_PAYPAL_CLIENT_SECRET};
use serde_json::{Value, json};

use crate::common::{self, Answer, Received};

pub struct TestSandbox {
    pub running: RunningSandbox,
    pub url: String,
    pub http: reqwest::Client,
}

pub async fn spawn_sandbox() -> TestSandbox {
    let running = common::start_sandbox(42).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client");
    TestSandbox { url: running.paypal_url.clone(), running, http }
}

impl Answer {
    /// The first `details[].issue` of PayPal's error shape.
    pub fn issue(&self) -> &str {
        self.body["details"][0]["issue"].as_str().unwrap_or_default()
    }
}

impl Received {
    /// The body of `POST /v1/notifications/verify-webhook-signature` for this delivery: its
    /// transmission headers, `webhook_id` and `event`.
    pub fn verification_request(&self, event: Value, webhook_id: &str) -> Value {
        json!({
            "auth_algo": self.header("paypal-auth-algo"),
            "cert_url": self.header("paypal-cert-url"),
            "transmission_id": self.header("paypal-transmission-id"),
            "transmission_sig": self.header("paypal-transmission-sig"),
            "transmission_time": self.header("paypal-transmission-time"),
            "webhook_id": webhook_id,
            "webhook_event": event,
        })
    }
}

/// A v1 `sale` payment for coffee (20.00 USD, broken down, two lines of items).
pub fn coffee_payment(notify_url: Option<&str>) -> Value {
    json!({
        "intent": "sale",
        "payer": { "payment_method": "paypal" },
        "transactions": [{
            "amount": { "total": "20.00", "currency": "USD", "details": { "subtotal": "17.50", "tax": "1.30", "shipping": "1.20" } },
            "description": "Payment description",
            "invoice_number": "548531d624f59",
            "notify_url": notify_url,
            "item_list": { "items": [
                { "name": "研磨咖啡 40 oz", "price": "7.50", "currency": "USD", "quantity": "1" },
                { "name": "燕麦棒", "price": "2.00", "currency": "USD", "quantity": "5" },
            ] },
        }],
        "redirect_urls": { "return_url": "https://shop.example/return", "cancel_url": "https://shop.example/cancel" },
    })
}

impl TestSandbox {
    pub async fn request_token(&self, client_id: &str, secret: &str) -> Answer {
        let request = self
            .http
            .post(format!("{}/v1/oauth2/token", self.url))
            .basic_auth(client_id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        common::send(request, None).await
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
        common::send(request, body).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        common::send(self.http.get(format!("{}{path}", self.url)).bearer_auth(token), None).await
    }

    /// A control endpoint (no token).
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        common::send(self.http.request(method, format!("{}{path}", self.url)), body).await
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

    /// An order for `value` USD, created and awaiting the buyer; returns its id.
    pub async fn new_order_id(&self, token: &str, value: &str) -> String {
        self.create_order(token, value, json!({})).await["id"].as_str().unwrap().to_owned()
    }

    pub async fn approve(&self, order_id: &str) -> Answer {
        self.control(reqwest::Method::POST, &format!("/sandbox/paypal/orders/{order_id}/approve"), None).await
    }

    /// An order for `value` USD, approved by the buyer and captured; returns (order id, capture id).
    pub async fn captured_order(&self, token: &str, value: &str) -> (String, String) {
        let order_id = self.new_order_id(token, value).await;
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
