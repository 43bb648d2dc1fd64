//! A standalone client for Ping++'s REST API (Alipay, WeChat Pay, UnionPay and more behind one
//! API), usable by any Rust program.
//!
//! It covers what a merchant backend needs to take and give back money through Ping++:
//!
//! - charges (create, get, list, reverse) and their refunds;
//! - orders (create, get, list, cancel, pay) with their charges and order refunds;
//! - events, and webhook verification: [`WebhookVerifier`] checks `X-Pingplusplus-Signature`
//!   (RSA-SHA256 over the raw body) against Ping++'s public key, [`parse_event`] decodes it;
//! - Ping++'s optional request signing: with [`ClientConfig::private_key_pem`] set, every request
//!   carries `Pingplusplus-Request-Timestamp` and `Pingplusplus-Signature` over body, request URI
//!   and timestamp ([`signed_payload`] spells out the exact bytes);
//! - Ping++'s error bodies as [`PingppError::Api`], with [`PingppError::is_retryable`].
//!
//! The same code runs against live Ping++ ([`LIVE_BASE_URL`]) and a local simulator: only the
//! base URL, the keys and the app id differ. Requests authenticate with
//! `Authorization: Bearer <secret key>` and send JSON bodies, as Ping++'s SDKs do.
//!
//! **Repeats.** Reads (GET) are repeated a bounded number of times, with a doubling pause, after
//! a transport failure, a 5xx or a rate limit. Writes (POST, PUT) are never repeated: Ping++
//! takes no idempotency key, so a repeated create could charge or refund twice. What guards a
//! charge is its `order_no`, which Ping++ accepts once per app; after a timeout on a write, look
//! the object up (or wait for its webhook) before trying again.
//!
//! Money stays integer fen (`i64`) in currency `cny`, as Ping++ writes it. Objects decode
//! leniently: unknown fields are ignored, `null` reads as empty where Ping++ writes it for an
//! empty value, and a status this crate does not know becomes `Other(String)`.
//!
//! TLS uses rustls with the *ring* provider; [`default_http_client`] installs it as the process
//! default when nothing else has.
//!
//! ```no_run
//! use payhub_pingpp::{ClientConfig, CreateCharge, CreateRefund, LIVE_BASE_URL, PingppClient};
//!
//! # async fn run(merchant_key_pem: String) -> Result<(), payhub_pingpp::PingppError> {
//! let client = PingppClient::new(
//!     ClientConfig::new(LIVE_BASE_URL, "app_1Gqj58ynP0mHeX1q", "sk_live_…")
//!         .with_private_key(merchant_key_pem),
//! )?;
//!
//! let charge = client
//!     .create_charge(&CreateCharge::new(
//!         "2026010100000001", "alipay_qr", 2_500, "203.0.113.7", "Membership", "One year",
//!     ))
//!     .await?;
//! println!("render {:?} as a QR code", charge.qr_payload());
//!
//! // Once the charge.succeeded webhook has arrived:
//! let refund = client
//!     .create_refund(&charge.id, &CreateRefund::new(Some(500), "partial refund"))
//!     .await?;
//! println!("refund {} is {}", refund.id, refund.status);
//! # Ok(())
//! # }
//! ```
//!
//! Verifying and reading a webhook:
//!
//! ```no_run
//! use payhub_pingpp::{SIGNATURE_HEADER, WebhookVerifier, parse_event};
//! use reqwest::header::HeaderMap;
//!
//! # fn handle(
//! #     pingpp_public_key_pem: &[u8],
//! #     headers: &HeaderMap,
//! #     body: &[u8],
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = WebhookVerifier::from_pem(pingpp_public_key_pem)?;
//! // The raw body bytes, before any parsing.
//! verifier.verify_header(body, headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes()))?;
//! let event = parse_event(body)?;
//! if let Some(charge) = event.charge() {
//!     let charge = charge?;
//!     println!("{}: {} paid {} fen", event.event_type, charge.order_no, charge.amount);
//! }
//! # Ok(())
//! # }
//! ```

mod charge;
mod client;
mod config;
mod endpoint;
mod error;
mod event;
mod http;
mod keys;
mod order;
mod refund;
mod signing;
mod types;
mod webhook;

pub use charge::{Charge, CreateCharge};
pub use client::{PingppClient, default_http_client};
pub use config::{
    ClientConfig, DEFAULT_ACCEPT_LANGUAGE, DEFAULT_READ_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT, LIVE_BASE_URL,
    Secret, UnixClock,
};
pub use error::{ApiErrorKind, PingppError, UNEXPECTED_RESPONSE, VerifyError};
pub use event::{Event, EventData, parse_event};
pub use http::JSON_CONTENT_TYPE;
pub use order::{CreateOrder, CreateOrderRefund, Order, OrderStatus, PayOrder, RefundMode, RoyaltyRefund, RoyaltyUser};
pub use refund::{CreateRefund, FundingSource, Refund, RefundStatus};
pub use signing::{REQUEST_SIGNATURE_HEADER, REQUEST_TIMESTAMP_HEADER, RequestSigner, sign_request, signed_payload};
pub use types::{CreatedRange, List, ListParams, Metadata};
pub use webhook::{SIGNATURE_HEADER, WebhookVerifier};
