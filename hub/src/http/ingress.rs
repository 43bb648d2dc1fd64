//! Provider ingress: verify, store durably, then acknowledge.
//!
//! A notification is answered 2xx only after it is committed to the inbox (group commit), so a
//! crash at any point either loses nothing or makes the provider send it again. A redelivery is
//! recognised by the provider's event id and acknowledged without being stored twice. Anything
//! that fails verification is recorded for the on-call engineer and refused.

use axum::Json;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use payhub_core::{Mode, ProviderName};
use payhub_store::{InboxInsert, Kept, NewInboxEntry, RejectedNotification, StoreError};
use serde_json::json;
use tracing::{info, warn};

use super::INGRESS_BODY_LIMIT;
use super::error::{ApiError, ProblemType};
use crate::app::Hub;
use crate::providers::{NotificationRejected, RejectionReason, VerifiedNotification};
use crate::workers::inbox_writer::InboxWriteError;

/// The handler a provider mounts for its notifications (`POST /webhooks/{provider}`); every
/// provider's notifications go through the same verify → store → acknowledge steps.
pub fn endpoint(provider: ProviderName) -> MethodRouter<Hub> {
    post(move |State(hub): State<Hub>, request: Request| async move { receive(&hub, provider, request).await })
}

async fn receive(hub: &Hub, provider: ProviderName, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let source = source_network(&parts.extensions);
    let headers = parts.headers;
    let body = match read_body(hub, provider, &source, &headers, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    // Signed notifications are JSON, and say so.
    let verified = match declared_type(&headers, "application/json", false) {
        Ok(()) => verify(hub, provider, &headers, &body).await,
        Err(rejection) => Err(rejection),
    };
    let (mode, verified) = match verified {
        Ok(verified) => verified,
        Err(rejection) => return refuse(hub, provider, &source, &headers, &body, &rejection).await,
    };
    store_and_acknowledge(hub, provider, mode, &verified, &source, &headers, &body).await
}

/// Commits the notification to the inbox (group commit) and only then answers 200; a
/// redelivery is answered 200 without a second row.
async fn store_and_acknowledge(
    hub: &Hub,
    provider: ProviderName,
    mode: Mode,
    verified: &VerifiedNotification,
    source: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let entry = NewInboxEntry {
        provider,
        mode,
        provider_event_id: verified.provider_event_id.clone(),
        event_type: verified.event_type.clone(),
        body: body.to_vec(),
        headers: kept_headers(headers),
        received_at: hub.clock.now(),
    };
    match hub.inbox.write(entry).await {
        Ok(outcome) => {
            let duplicate = outcome == InboxInsert::Duplicate;
            crate::metrics::notification_accepted(provider, duplicate);
            info!(%provider, event = %verified.provider_event_id, event_type = %verified.event_type, duplicate, "notification stored");
            (StatusCode::OK, Json(json!({ "received": true, "duplicate": duplicate }))).into_response()
        }
        Err(InboxWriteError::Unstorable(detail)) => unstorable(hub, provider, source, headers, body, detail).await,
        Err(e @ (InboxWriteError::Closed | InboxWriteError::Unavailable(_))) => {
            // Not stored, so not acknowledged: the provider will send it again.
            warn!(%provider, error = %e, "could not store a verified notification");
            not_stored_yet()
        }
    }
}

/// Reads an unsigned notification's mode and inbox key from its body (PayPal IPN), or says why
/// it cannot be one.
pub type UnsignedReader = fn(&[u8]) -> Result<(Mode, VerifiedNotification), NotificationRejected>;

/// The handler for notifications that carry no signature and are confirmed with the provider
/// by the processor before they change anything (PayPal IPN): read, store, acknowledge.
///
/// Anyone can send a well-formed one, and each costs an inbox row until the postback disowns
/// it, so cheap checks come first: a form (`application/x-www-form-urlencoded`, when a type is
/// given at all), the fields the reader requires, and a budget of stored messages per sender
/// network ([`SenderBudgets`]). A message refused by these is counted like every other
/// rejection and never stored.
pub fn unsigned_endpoint(provider: ProviderName, read: UnsignedReader) -> MethodRouter<Hub> {
    // One budget per hub: each serving process keeps its own.
    let budgets = Arc::new(SenderBudgets::new(UNCONFIRMED_BURST, UNCONFIRMED_PER_SECOND));
    post(move |State(hub): State<Hub>, request: Request| async move {
        let (parts, body) = request.into_parts();
        let source = source_network(&parts.extensions);
        let headers = parts.headers;
        let body = match read_body(&hub, provider, &source, &headers, body).await {
            Ok(body) => body,
            Err(refused) => return refused,
        };
        // IPN is a form; a sender that names no type is read as one.
        let mut retry_after = None;
        let read = declared_type(&headers, "application/x-www-form-urlencoded", true)
            .and_then(|()| read(&body))
            .and_then(|(mode, verified)| match hub.providers.get(mode, provider) {
                Some(_) => Ok((mode, verified)),
                None => Err(NotificationRejected::new(
                    RejectionReason::ProviderNotConfigured,
                    format!("{provider} is not configured in {mode} mode"),
                )),
            })
            .and_then(|read| match budgets.take(&source, hub.clock.now()) {
                Ok(()) => Ok(read),
                Err(wait) => Err(NotificationRejected::new(
                    RejectionReason::RateLimited,
                    format!(
                        "over {UNCONFIRMED_BURST} unconfirmed notifications from {source}; {wait} s until the next"
                    ),
                ))
                .inspect_err(|_| retry_after = Some(wait)),
            });
        match read {
            Ok((mode, verified)) => {
                store_and_acknowledge(&hub, provider, mode, &verified, &source, &headers, &body).await
            }
            Err(rejection) => {
                let mut response = refuse(&hub, provider, &source, &headers, &body, &rejection).await;
                if let Some(wait) = retry_after {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
                }
                response
            }
        }
    })
}

/// Unconfirmed notifications one sender network may have stored at once, beyond which they are
/// refused with 429 until its budget refills. Refusing a genuine IPN loses nothing: PayPal
/// resends an IPN not answered 200, up to 15 times over four days, and a flood ends sooner.
const UNCONFIRMED_BURST: u32 = 100;
/// How fast a sender network's budget refills: 2 a second (7,200 an hour) is more IPN than
/// one merchant's account receives, while a forger's flood costs at most that many rows.
const UNCONFIRMED_PER_SECOND: u32 = 2;
/// Sender networks tracked at once; past it, networks whose budget is full are forgotten (they
/// would start full anyway), and if none is, a new network waits for room.
const TRACKED_SENDERS: usize = 10_000;

/// A token bucket per sender network, timed by the hub's clock.
struct SenderBudgets {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, DateTime<Utc>)>>,
}

impl SenderBudgets {
    fn new(burst: u32, per_second: u32) -> Self {
        Self { burst: f64::from(burst), per_second: f64::from(per_second), buckets: Mutex::new(HashMap::new()) }
    }

    /// Spends one of `source`'s tokens, or says in how many seconds one will be there.
    fn take(&self, source: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let refilled = |(tokens, at): (f64, DateTime<Utc>)| {
            let elapsed = (now - at).num_milliseconds().max(0) as f64 / 1000.0;
            (tokens + elapsed * self.per_second).min(self.burst)
        };
        if !buckets.contains_key(source) && buckets.len() >= TRACKED_SENDERS {
            buckets.retain(|_, bucket| refilled(*bucket) < self.burst);
            if buckets.len() >= TRACKED_SENDERS {
                return Err(self.seconds_per_token());
            }
        }
        let bucket = buckets.entry(source.to_owned()).or_insert((self.burst, now));
        let tokens = refilled(*bucket);
        if tokens < 1.0 {
            *bucket = (tokens, now);
            return Err(((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64);
        }
        *bucket = (tokens - 1.0, now);
        Ok(())
    }

    /// Whole seconds for one token to come back: what `Retry-After` asks.
    fn seconds_per_token(&self) -> u64 {
        (1.0 / self.per_second).ceil().max(1.0) as u64
    }
}

/// Whether the body is of the `expected` media type, as its `Content-Type` declares (`absent_ok`:
/// a sender that declares none is taken at its word); another type is refused unread.
fn declared_type(headers: &HeaderMap, expected: &str, absent_ok: bool) -> Result<(), NotificationRejected> {
    let matches = match headers.get(header::CONTENT_TYPE) {
        None => absent_ok,
        Some(declared) => declared.to_str().is_ok_and(|v| v.trim_start().to_ascii_lowercase().starts_with(expected)),
    };
    if matches {
        return Ok(());
    }
    Err(NotificationRejected::new(
        RejectionReason::UnsupportedMediaType,
        format!("notifications here must be sent as {expected}"),
    ))
}

/// The body, up to the ingress limit; a larger one is recorded and refused.
async fn read_body(
    hub: &Hub,
    provider: ProviderName,
    source: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Response> {
    match to_bytes(body, INGRESS_BODY_LIMIT).await {
        Ok(body) => Ok(body),
        Err(_) => {
            let rejection = NotificationRejected::new(
                RejectionReason::PayloadTooLarge,
                format!("body over {INGRESS_BODY_LIMIT} bytes"),
            );
            Err(refuse(hub, provider, source, headers, &[], &rejection).await)
        }
    }
}

fn not_stored_yet() -> Response {
    ApiError::new(ProblemType::ServiceUnavailable, "the notification could not be stored; send it again later")
        .into_response()
}

/// A verified notification the inbox refuses for good (a value the database cannot hold):
/// sending it again cannot help, so it is kept whole among the rejected notifications for a
/// person, and refused. Only if even that fails is the provider asked to send it again.
async fn unstorable(
    hub: &Hub,
    provider: ProviderName,
    source: &str,
    headers: &HeaderMap,
    body: &[u8],
    detail: String,
) -> Response {
    let rejection = NotificationRejected::new(RejectionReason::Unstorable, detail);
    if record(hub, provider, source, headers, body, &rejection).await.is_err() {
        return not_stored_yet();
    }
    crate::metrics::notification_rejected(provider, rejection.reason);
    refusal(&rejection).into_response()
}

/// Records a refused notification (as far as its reason deserves), counts it, and answers the
/// sender with the problem that says why.
async fn refuse(
    hub: &Hub,
    provider: ProviderName,
    source: &str,
    headers: &HeaderMap,
    body: &[u8],
    rejection: &NotificationRejected,
) -> Response {
    let _ = record(hub, provider, source, headers, body, rejection).await;
    crate::metrics::notification_rejected(provider, rejection.reason);
    refusal(rejection).into_response()
}

/// Tries the provider's configured modes (live first); each checks the notification against
/// its own trust (a sandbox certificate never verifies as live).
async fn verify(
    hub: &Hub,
    provider: ProviderName,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Mode, VerifiedNotification), NotificationRejected> {
    let modes = hub.providers.modes_of(provider);
    let mut last =
        NotificationRejected::new(RejectionReason::ProviderNotConfigured, format!("{provider} is not configured"));
    for mode in modes {
        let Some(adapter) = hub.providers.get(mode, provider) else {
            continue;
        };
        match adapter.verify_notification(headers, body, hub.clock.now()).await {
            Ok(verified) => return Ok((mode, verified)),
            // A mode that does not claim the notification (another cert host, the other
            // `livemode`) says little; prefer another mode's reason.
            Err(rejection)
                if rejection.reason.is_for_another_mode() && last.reason != RejectionReason::ProviderNotConfigured => {}
            Err(rejection) => last = rejection,
        }
    }
    Err(last)
}

fn refusal(rejection: &NotificationRejected) -> ApiError {
    let detail = format!("{} ({})", rejection.detail, rejection.reason);
    if rejection.transient {
        return ApiError::new(
            ProblemType::ServiceUnavailable,
            format!("cannot verify the notification right now: {detail}"),
        );
    }
    match rejection.reason {
        RejectionReason::MalformedBody | RejectionReason::Malformed | RejectionReason::Unstorable => {
            ApiError::new(ProblemType::MalformedNotification, detail)
        }
        RejectionReason::PayloadTooLarge => ApiError::new(ProblemType::PayloadTooLarge, detail),
        RejectionReason::UnsupportedMediaType => ApiError::new(ProblemType::UnsupportedMediaType, detail),
        RejectionReason::ProviderNotConfigured
        | RejectionReason::MissingHeader
        | RejectionReason::MissingSignature
        | RejectionReason::MalformedSignature
        | RejectionReason::UnsupportedAlgorithm
        | RejectionReason::CertUrlNotAllowed
        | RejectionReason::CertFetchFailed
        | RejectionReason::CertRejected
        | RejectionReason::BadSignature
        | RejectionReason::BadKey
        | RejectionReason::VerificationUnavailable
        | RejectionReason::WrongMode
        | RejectionReason::MalformedResource
        | RejectionReason::PostbackInvalid => {
            ApiError::new(ProblemType::NotificationRejected, detail).with("reason", rejection.reason.as_str())
        }
        RejectionReason::RateLimited => {
            ApiError::new(ProblemType::TooManyNotifications, detail).with("reason", rejection.reason.as_str())
        }
    }
}

/// Everything but credentials, for audit.
fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "authorization" | "cookie" | "proxy-authorization"))
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

/// The network a request came from (its /24 or /64), so refusals are counted per sender
/// without one row per address of a sender that has many.
fn source_network(extensions: &axum::http::Extensions) -> String {
    let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<std::net::SocketAddr>>() else {
        return "unknown".to_owned();
    };
    let ip = peer.ip().to_canonical();
    let prefix = if ip.is_ipv4() { 24 } else { 64 };
    ipnet::IpNet::new(ip, prefix).map(|net| net.trunc().to_string()).unwrap_or_else(|_| ip.to_string())
}

async fn record(
    hub: &Hub,
    provider: ProviderName,
    source: &str,
    headers: &HeaderMap,
    body: &[u8],
    rejection: &NotificationRejected,
) -> Result<(), StoreError> {
    warn!(%provider, %source, reason = %rejection.reason, detail = %rejection.detail, "notification rejected");
    let kept = match rejection.reason {
        // A verified notification is genuine: kept whole.
        RejectionReason::Unstorable => Kept::Whole,
        // Obviously not a notification: counted, nothing more.
        RejectionReason::PayloadTooLarge | RejectionReason::UnsupportedMediaType => Kept::CountOnly,
        // A flood beyond the sender's budget: the count is the record, a sample would be a row.
        RejectionReason::RateLimited => Kept::CountOnly,
        // Anything else as far as needed to investigate it, so a forger cannot fill the disk.
        _ => Kept::Sample,
    };
    let rejected = RejectedNotification {
        provider,
        reason: rejection.reason.as_str().to_owned(),
        detail: rejection.detail.clone(),
        source: source.to_owned(),
        headers: kept_headers(headers),
        body: body.to_vec(),
        kept,
        received_at: hub.clock.now(),
    };
    let recorded = hub.db.record_rejected(&rejected, hub.settings.rejections).await;
    if let Err(e) = &recorded {
        warn!(error = %e, "could not record a rejected notification");
    }
    recorded
}

#[cfg(test)]
mod tests {
    use chrono::Duration as Span;

    use super::*;

    #[test]
    fn a_sender_spends_its_burst_then_waits_for_the_refill() {
        let budgets = SenderBudgets::new(3, 2);
        let start = DateTime::<Utc>::UNIX_EPOCH;
        for _ in 0..3 {
            assert_eq!(budgets.take("192.0.2.0/24", start), Ok(()));
        }
        assert_eq!(budgets.take("192.0.2.0/24", start), Err(1), "spent: one token comes back in half a second");
        assert_eq!(budgets.take("198.51.100.0/24", start), Ok(()), "another network has its own budget");
        assert_eq!(budgets.take("192.0.2.0/24", start + Span::milliseconds(500)), Ok(()));
        assert!(budgets.take("192.0.2.0/24", start + Span::milliseconds(500)).is_err());
        let much_later = start + Span::hours(1);
        for _ in 0..3 {
            assert_eq!(budgets.take("192.0.2.0/24", much_later), Ok(()), "refilled up to the burst, not beyond");
        }
        assert!(budgets.take("192.0.2.0/24", much_later).is_err());
        assert_eq!(budgets.seconds_per_token(), 1);
    }

    #[test]
    fn idle_senders_are_forgotten_when_the_table_is_full() {
        let budgets = SenderBudgets::new(2, 1);
        let start = DateTime::<Utc>::UNIX_EPOCH;
        for n in 0..TRACKED_SENDERS {
            assert_eq!(budgets.take(&format!("network {n}"), start), Ok(()));
        }
        assert!(budgets.take("one more", start).is_err(), "no room while every network is mid-budget");
        assert_eq!(budgets.take("one more", start + Span::seconds(2)), Ok(()), "room once they have refilled");
        assert_eq!(budgets.buckets.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_notification_is_of_the_type_it_declares_and_an_unsigned_one_that_declares_none_is_a_form() {
        let mut headers = HeaderMap::new();
        let is_form = |headers: &HeaderMap| declared_type(headers, "application/x-www-form-urlencoded", true);
        assert!(is_form(&headers).is_ok(), "no declared type: read as a form");
        headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
        assert!(is_form(&headers).is_ok());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(is_form(&headers).unwrap_err().reason, RejectionReason::UnsupportedMediaType);
        let is_json = |headers: &HeaderMap| declared_type(headers, "application/json", false);
        assert!(is_json(&headers).is_ok());
        assert!(is_json(&HeaderMap::new()).is_err(), "a signed notification must say it is JSON");
    }
}
