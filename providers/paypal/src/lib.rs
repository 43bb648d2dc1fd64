//! A standalone client for PayPal's REST API, usable by any Rust program.
//!
//! It covers what a merchant backend needs to take and give back money with PayPal Checkout:
//!
//! - OAuth2 client credentials, with the token cached and shared between concurrent calls, and
//!   one transparent retry when PayPal refuses an expired token;
//! - v2 Orders (create, get, update, capture, authorize) and v2 Payments (authorizations: get,
//!   capture in part or in full, reauthorize, void; get capture, refund, get refund), each
//!   POST carrying the caller's `PayPal-Request-Id` so that a retry never pays or refunds twice;
//! - recurring billing: Catalog Products, Subscriptions v1 plans and subscriptions (create,
//!   change, suspend, resume, cancel, capture, transactions), and the v1 sales renewals arrive as
//!   (`PAYMENT.SALE.COMPLETED`, subscription id in `billing_agreement_id`) with their refunds;
//! - Customer Disputes v1: list and read the cases buyers open, answer them (accept, offer,
//!   evidence with documents sent as multipart, messages, appeal) and, in PayPal's sandbox,
//!   settle them;
//! - REST v1 payments (create, approve, execute, list) and their sales and refunds, for accounts
//!   set up for the legacy API;
//! - Instant Payment Notification: charset-aware parsing ([`IpnMessage`]), postback verification
//!   ([`verify_ipn`]) and Payment Data Transfer ([`payment_data_transfer`]);
//! - PayPal's error bodies as [`PaypalError::Api`], with [`PaypalError::issue`] and
//!   [`PaypalError::is_retryable`] for deciding what to do next;
//! - webhook notifications: header parsing, local signature verification against PayPal's
//!   certificate chain ([`WebhookVerifier`], [`verify_with_cert_chain`]), webhook registration
//!   and PayPal's remote verification.
//!
//! The same code runs against live PayPal, the PayPal sandbox or a local simulator: only the
//! base URL, the credentials and the trusted certificate roots differ.
//!
//! Objects decode leniently: unknown fields are ignored, and a status value this crate does not
//! know becomes `Other(String)` rather than an error. Amounts stay PayPal's decimal strings.
//!
//! TLS uses rustls with the *ring* provider; [`default_http_client`] installs it as the process
//! default when nothing else has.
//!
//! ```no_run
//! use payhub_paypal::{
//!     Amount, ClientConfig, CreateOrderRequest, ExperienceContext, PaypalClient,
//!     PurchaseUnitRequest, RefundRequest, SANDBOX_BASE_URL,
//! };
//!
//! # async fn run() -> Result<(), payhub_paypal::PaypalError> {
//! let client = PaypalClient::new(ClientConfig::new(SANDBOX_BASE_URL, "client-id", "client-secret"))?;
//!
//! let order = client
//!     .create_order(
//!         "order-7f3a",
//!         &CreateOrderRequest::capture(
//!             vec![PurchaseUnitRequest::new(Amount::new("USD", "25.00"))],
//!             ExperienceContext {
//!                 return_url: "https://shop.example/paypal/return".into(),
//!                 cancel_url: "https://shop.example/paypal/cancel".into(),
//!                 user_action: Some("PAY_NOW".into()),
//!                 ..ExperienceContext::default()
//!             },
//!         ),
//!     )
//!     .await?;
//! println!("send the buyer to {:?}", order.approval_url());
//!
//! // After the buyer approved:
//! let captured = client.capture_order("capture-7f3a", &order.id).await?;
//! if let Some(capture) = captured.captures().next() {
//!     let refund = client
//!         .refund_capture("refund-7f3a-1", &capture.id, &RefundRequest::default())
//!         .await?;
//!     println!("refund {} is {}", refund.id, refund.status);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Verifying a notification locally, with PayPal's certificate fetched once per cert URL:
//!
//! ```no_run
//! use payhub_paypal::{
//!     LIVE_CERT_HOST, LIVE_SIGNING_SUBJECT, TrustConfig, VerifierConfig, WebhookHeaders,
//!     WebhookVerifier, default_http_client, parse_webhook_event,
//! };
//!
//! # async fn run(
//! #     headers: http::HeaderMap,
//! #     body: Vec<u8>,
//! #     digicert_roots_pem: Vec<u8>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = WebhookVerifier::new(
//!     VerifierConfig {
//!         trust: TrustConfig {
//!             webhook_id: "1JE4291016473214C".into(),
//!             trust_anchors_pem: digicert_roots_pem,
//!             intermediates_pem: Vec::new(),
//!             expected_subject_names: vec![LIVE_SIGNING_SUBJECT.into()],
//!         },
//!         allowed_cert_hosts: vec![LIVE_CERT_HOST.into()],
//!         allow_plain_http_cert_urls: false,
//!     },
//!     default_http_client()?,
//! )?;
//!
//! let notification = WebhookHeaders::from_headers(&headers)?;
//! verifier.verify(&notification, &body, chrono::Utc::now()).await?;
//! let event = parse_webhook_event(&body)?;
//! println!("{} {}", event.id, event.event_type);
//! # Ok(())
//! # }
//! ```

mod auth;
mod authorizations;
mod catalog;
mod client;
mod config;
mod disputes;
mod error;
mod http;
pub mod ipn;
mod orders;
mod payments;
mod payments_v1;
mod plans;
mod sales;
mod subscriptions;
mod types;
pub mod webhooks;

pub use authorizations::{Authorization, AuthorizationStatus, CaptureAuthorizationRequest, ReauthorizeRequest};
pub use catalog::{CreateProductRequest, Product};
pub use client::{PaypalClient, default_http_client};
pub use config::{ClientConfig, DEFAULT_TIMEOUT, LIVE_BASE_URL, SANDBOX_BASE_URL, Secret};
pub use disputes::{
    AcceptClaimRequest, AcceptClaimType, AcknowledgeReturnItemRequest, AcknowledgementType, AdjudicationOutcome,
    DOCUMENT_EXTENSIONS, Dispute, DisputeAction, DisputeList, DisputeMessage, DisputeOutcome, DisputeQuery,
    DisputeReason, DisputeStage, DisputeState, DisputeStatus, DisputeSummary, DisputedTransaction, Document,
    DocumentInfo, DocumentRefusal, Evidence, EvidenceItem, EvidenceRequest, EvidenceSubmission, MAX_DOCUMENT_BYTES,
    MAX_TOTAL_DOCUMENT_BYTES, MakeOfferRequest, MoneyMovement, Offer, OfferHistory, OfferType, OutcomeCode,
    SubsequentAction, check_documents,
};
pub use error::{ErrorDetail, Issue, PaypalError, VerifyError};
pub use ipn::{IpnError, IpnMessage, IpnPaymentStatus, IpnVerdict, PdtOutcome, payment_data_transfer, verify_ipn};
pub use orders::{
    CreateOrderRequest, ExperienceContext, Order, OrderStatus, PaymentCollection, PaymentSource, PaypalWallet,
    PurchaseUnit, PurchaseUnitRequest,
};
pub use payments::{Capture, CaptureStatus, Refund, RefundRequest, RefundStatus, RelatedIds, SupplementaryData};
pub use payments_v1::{
    CreateV1PaymentRequest, ItemList, PayerInfo, RedirectUrls, RelatedResource, V1Item, V1Payer, V1PayerRequest,
    V1Payment, V1PaymentList, V1PaymentState, V1Transaction, V1TransactionRequest,
};
pub use plans::{
    BillingCycle, CreatePlanRequest, Frequency, IntervalUnit, PatchOperation, PaymentPreferences, Plan, PlanList,
    PlanQuery, PlanStatus, PricingScheme, PricingSchemeUpdate, Taxes, TenureType,
};
pub use sales::{
    Sale, SaleAmount, SaleAmountDetails, SaleFee, SaleRefund, SaleRefundRequest, SaleRefundState, SaleState,
};
pub use subscriptions::{
    AmountWithBreakdown, BillingInfo, CaptureSubscriptionRequest, CreateSubscriptionRequest, CycleExecution,
    FailedPayment, LastPayment, ReviseSubscriptionRequest, RevisedSubscription, Subscription,
    SubscriptionApplicationContext, SubscriptionStatus, Transaction, TransactionList,
};
pub use types::{Amount, Link, StatusDetails};
pub use webhooks::{
    EventTypeName, LIVE_CERT_HOST, LIVE_SIGNING_SUBJECT, SANDBOX_CERT_HOST, SANDBOX_SIGNING_SUBJECT,
    SIGNATURE_ALGORITHM, TrustConfig, VerifierConfig, VerifyWebhookSignatureRequest, Webhook, WebhookEvent,
    WebhookHeaders, WebhookVerifier, parse_webhook_event, signed_string, verify_with_cert_chain,
};
