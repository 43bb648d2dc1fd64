//! Provider ingress: verify, store durably, then acknowledge.
//!
//! A notification is answered 2xx only after it is committed to the inbox (group commit), so a
//! crash at any point either loses nothing or makes the provider send it again. A redelivery is
//! recognised by the provider's event id and acknowledged without being stored twice. Anything
//! that fails verification is recorded for the on-call engineer and refused.

use axum::Json;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
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
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        let rejection =
            NotificationRejected::new(RejectionReason::UnsupportedMediaType, "Content-Type is not application/json");
        let _ = record(hub, provider, &source, &headers, &body, &rejection).await;
        return ApiError::new(ProblemType::UnsupportedMediaType, "notifications must be sent as application/json")
            .into_response();
    }
    let (mode, verified) = match verify(hub, provider, &headers, &body).await {
        Ok(verified) => verified,
        Err(rejection) => {
            let _ = record(hub, provider, &source, &headers, &body, &rejection).await;
            metrics::counter!(crate::metrics::NOTIFICATIONS_REJECTED, "provider" => provider.as_str(), "reason" => rejection.reason.as_str())
                .increment(1);
            return refusal(&rejection).into_response();
        }
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
            metrics::counter!(crate::metrics::NOTIFICATIONS_ACCEPTED, "provider" => provider.as_str(), "duplicate" => if duplicate { "true" } else { "false" })
                .increment(1);
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
/// by the processor before they change anything (PayPal IPN): read, store, acknowledge. A
/// message that cannot be read is recorded and refused.
pub fn unsigned_endpoint(provider: ProviderName, read: UnsignedReader) -> MethodRouter<Hub> {
    post(move |State(hub): State<Hub>, request: Request| async move {
        let (parts, body) = request.into_parts();
        let source = source_network(&parts.extensions);
        let headers = parts.headers;
        let body = match read_body(&hub, provider, &source, &headers, body).await {
            Ok(body) => body,
            Err(refused) => return refused,
        };
        let read = read(&body).and_then(|(mode, verified)| match hub.providers.get(mode, provider) {
            Some(_) => Ok((mode, verified)),
            None => Err(NotificationRejected::new(
                RejectionReason::ProviderNotConfigured,
                format!("{provider} is not configured in {mode} mode"),
            )),
        });
        match read {
            Ok((mode, verified)) => {
                store_and_acknowledge(&hub, provider, mode, &verified, &source, &headers, &body).await
            }
            Err(rejection) => {
                let _ = record(&hub, provider, &source, &headers, &body, &rejection).await;
                refusal(&rejection).into_response()
            }
        }
    })
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
            let _ = record(hub, provider, source, headers, &[], &rejection).await;
            Err(ApiError::new(
                ProblemType::PayloadTooLarge,
                format!("notifications are limited to {INGRESS_BODY_LIMIT} bytes"),
            )
            .into_response())
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
    metrics::counter!(crate::metrics::NOTIFICATIONS_REJECTED, "provider" => provider.as_str(), "reason" => rejection.reason.as_str())
        .increment(1);
    refusal(&rejection).into_response()
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
        RejectionReason::PayloadTooLarge
        | RejectionReason::UnsupportedMediaType
        | RejectionReason::ProviderNotConfigured
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
