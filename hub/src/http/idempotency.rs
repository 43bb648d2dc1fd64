//! `Idempotency-Key` on every POST: the same key and the same request get the same response,
//! however often they are sent; the same key with another request is refused.
//!
//! Responses that reflect work done (2xx, and 5xx where payhub recorded a failed attempt) are
//! stored and replayed. Refusals without side effects (4xx) are not, so a client can fix its
//! request and retry with the same key. A 503 because the database was unavailable recorded nothing: its key is handed back, and
//! the retry resumes the request.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use payhub_core::Mode;
use payhub_core::id::RequestId;
use payhub_store::{IdempotencyClaim, KeyClaim, StoreError, StoredResponse};
use ring::digest;

use super::API_BODY_LIMIT;
use super::auth::Caller;
use super::error::{ApiError, ProblemType};
use crate::app::Hub;
use crate::services::{Answer, Reservation, ServiceError};

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";
/// How often a key's hand-back is tried (a second after each failure) while the database stays
/// unavailable.
const HAND_BACK_ATTEMPTS: usize = 600;
/// payhub's own responses are small; this only bounds what is kept per key.
const RESPONSE_LIMIT: usize = 1024 * 1024;

pub async fn enforce(State(hub): State<Hub>, caller: Caller, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let key = match request.headers().get(HEADER).map(|v| v.to_str()) {
        None => {
            return ApiError::new(
                ProblemType::IdempotencyKeyMissing,
                "add an `Idempotency-Key` header (e.g. a UUID) to every POST",
            )
            .into_response();
        }
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => k.to_owned(),
        Some(_) => {
            return ApiError::new(
                ProblemType::IdempotencyKeyInvalid,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    let (parts, body) = request.into_parts();
    let limit = crate::http::api::body_limit(parts.uri.path()).unwrap_or(API_BODY_LIMIT);
    let Ok(bytes) = to_bytes(body, limit).await else {
        let detail = format!("the body is larger than this path accepts ({} KiB)", limit / 1024);
        return ApiError::new(ProblemType::PayloadTooLarge, detail).into_response();
    };
    let fingerprint = fingerprint_of(&parts, &bytes).await;
    match claim(&hub, caller.mode, &key, &fingerprint).await {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claimed::Mismatch) => ApiError::new(
            ProblemType::IdempotencyKeyReused,
            format!("Idempotency-Key `{key}` was already used for a different request; use a new key"),
        )
        .into_response(),
        Ok(Claimed::InProgress) => ApiError::new(
            ProblemType::IdempotencyKeyInUse,
            format!("a request with Idempotency-Key `{key}` is still in progress; retry shortly to get its result"),
        )
        .into_response(),
        Ok(Claimed::Completed(stored)) => replay(&hub, caller.mode, &key, stored),
        Ok(Claimed::Run(reservation)) => {
            let mut request = Request::from_parts(parts, Body::from(bytes));
            request.extensions_mut().insert(reservation);
            let response = next.run(request).await;
            remember(&hub, caller, &key, response).await
        }
    }
}

/// Marks a response that shows a secret (an endpoint's signing secret): its copy kept for
/// replays is encrypted like the secret itself.
#[derive(Debug, Clone, Copy)]
pub struct CarriesSecret;

/// What claiming an idempotency key for a request gave this process.
pub enum Claimed {
    /// The request is this process's to run, for the resource the reservation names.
    Run(Reservation),
    InProgress,
    Mismatch,
    Completed(StoredResponse),
}

/// Claims `key` for the request with `fingerprint`, for this process (so a retry takes it over
/// once this process is gone) and with a request id that names what the request creates. The
/// claim is committed, with those of concurrent requests, before this returns.
pub async fn claim(hub: &Hub, mode: Mode, key: &str, fingerprint: &str) -> Result<Claimed, StoreError> {
    let new_request_id = RequestId::generate(&hub.ids, hub.clock.now());
    let claim = KeyClaim {
        mode,
        key: key.to_owned(),
        fingerprint: fingerprint.to_owned(),
        new_request_id: new_request_id.as_str().to_owned(),
    };
    Ok(match hub.claims.claim(claim).await? {
        IdempotencyClaim::Run(run) => {
            let request_id = RequestId::parse(&run.request_id).map_err(|_| {
                StoreError::Corrupt(format!("idempotency key {key:?} holds request id {:?}", run.request_id))
            })?;
            if run.resumed {
                tracing::info!(key, %request_id, "resuming a request whose process died");
            }
            Claimed::Run(Reservation { request_id, resumed: run.resumed, key: key.to_owned() })
        }
        IdempotencyClaim::InProgress => Claimed::InProgress,
        IdempotencyClaim::Mismatch => Claimed::Mismatch,
        IdempotencyClaim::Completed(stored) => Claimed::Completed(stored),
    })
}

/// What a handler that creates a resource learns from the request's Idempotency-Key claim.
impl<S: Send + Sync> FromRequestParts<S> for Reservation {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Reservation>().cloned().ok_or_else(|| {
            ApiError::new(ProblemType::InternalError, "this route creates resources but is not behind Idempotency-Key")
        })
    }
}

/// SHA-256 over method, path and body: a different amount or payment under the same key is a
/// different request.
pub fn request_fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in [method.as_bytes(), b"\n", path.as_bytes(), b"\n", body] {
        context.update(part);
    }
    context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a request as its client meant it. A multipart form is taken by its parts
/// (names, file names, content types and bytes, in order), not by its bytes: clients choose a
/// new boundary for every send, so a retry of the same form has other bytes, while another file
/// under the same key must still be told apart. A form that cannot be read is taken by its bytes
/// (its handler refuses it, and a refusal is not kept for the key).
async fn fingerprint_of(parts: &Parts, body: &Bytes) -> String {
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|content_type| multer::parse_boundary(content_type).ok());
    if let Some(boundary) = boundary
        && let Some(fingerprint) = form_fingerprint(method, path, body.clone(), boundary).await
    {
        return fingerprint;
    }
    request_fingerprint(method, path, body)
}

/// SHA-256 over method, path and each part of a multipart form, every value length-prefixed so
/// that no two different forms run together into the same input.
async fn form_fingerprint(method: &str, path: &str, body: Bytes, boundary: String) -> Option<String> {
    fn value(context: &mut digest::Context, value: Option<&[u8]>) {
        match value {
            None => context.update(&[0]),
            Some(value) => {
                context.update(&[1]);
                context.update(&(value.len() as u64).to_be_bytes());
                context.update(value);
            }
        }
    }
    let mut form =
        multer::Multipart::new(futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) }), boundary);
    let mut context = digest::Context::new(&digest::SHA256);
    for part in [method.as_bytes(), b"\n", path.as_bytes(), b"\nmultipart/form-data\n"] {
        context.update(part);
    }
    while let Some(field) = form.next_field().await.ok()? {
        let name = field.name().map(|name| name.as_bytes().to_vec());
        let file_name = field.file_name().map(|name| name.as_bytes().to_vec());
        let content_type = field.content_type().map(|mime| mime.to_string().into_bytes());
        let content = field.bytes().await.ok()?;
        for part in [name.as_deref(), file_name.as_deref(), content_type.as_deref(), Some(content.as_ref())] {
            value(&mut context, part);
        }
    }
    Some(context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Marks a response whose answer the service recorded for its Idempotency-Key in the same
/// commit as its work (one commit fewer per request, and no moment where the work is done and
/// the key still in progress).
#[derive(Debug, Clone, Copy)]
struct AnswerRecorded;

/// A JSON answer, in the form it is recorded for replay.
pub fn json_answer(status: StatusCode, value: &impl serde::Serialize) -> Result<StoredResponse, ServiceError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ServiceError::Store(StoreError::Corrupt(format!("the answer cannot be written as JSON: {e}"))))?;
    Ok(StoredResponse { status: status.as_u16(), content_type: "application/json".to_owned(), body })
}

/// The response for a service's answer.
pub fn respond(answer: Answer) -> Response {
    let recorded = answer.recorded;
    let mut response = stored_response(answer.response.status, &answer.response.content_type, answer.response.body);
    if recorded {
        response.extensions_mut().insert(AnswerRecorded);
    }
    response
}

async fn remember(hub: &Hub, caller: Caller, key: &str, mut response: Response) -> Response {
    if response.extensions().get::<AnswerRecorded>().is_some() {
        response.headers_mut().insert(REPLAYED, HeaderValue::from_static("false"));
        return response;
    }
    let status = response.status();
    if response.extensions().get::<ProblemType>() == Some(&ProblemType::ServiceUnavailable) {
        hand_back(hub, caller.mode, key);
        let mut response = response;
        response.headers_mut().insert(REPLAYED, HeaderValue::from_static("false"));
        return response;
    }
    let keep = worth_replaying(&response);
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, RESPONSE_LIMIT).await else {
        let _ = hub.db.release_idempotency_key(caller.mode, key).await;
        return ApiError::new(ProblemType::InternalError, "the response could not be buffered").into_response();
    };
    let outcome = if keep {
        let stored = StoredResponse {
            status: status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned(),
            body: match parts.extensions.get::<CarriesSecret>() {
                Some(CarriesSecret) => hub.settings.secrets.protect_bytes(&bytes, &replay_row(caller.mode, key)),
                None => bytes.to_vec(),
            },
        };
        hub.db.complete_idempotency_key(caller.mode, key, &stored).await
    } else {
        hub.db.release_idempotency_key(caller.mode, key).await
    };
    if let Err(e) = outcome {
        // The work is done and answered; only a replay of this answer is at risk.
        tracing::warn!(error = %e, "could not record the idempotent response");
    }
    parts.headers.insert(REPLAYED, HeaderValue::from_static("false"));
    Response::from_parts(parts, Body::from(bytes))
}

/// The database was unavailable, so nothing of the request's answer could be recorded: its
/// key is handed back for the client's retry to resume the request (under the same request
/// id, so what it creates is named as before), instead of replaying a 503 or answering 409
/// until this process stops. While the database stays down the hand-back is tried again.
fn hand_back(hub: &Hub, mode: Mode, key: &str) {
    let (db, key) = (hub.db.clone(), key.to_owned());
    tokio::spawn(async move {
        for _ in 0..HAND_BACK_ATTEMPTS {
            match db.hand_back_idempotency_key(mode, &key).await {
                Ok(()) => return,
                Err(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            }
        }
        tracing::warn!(key, "could not hand back an Idempotency-Key; its retries wait for this process to stop");
    });
}

/// Work done (2xx), a failed attempt payhub recorded (5xx), or a write the database refused
/// after the request may already have reached the provider: running it again could repeat that
/// work, so the same key gets the same answer.
fn worth_replaying(response: &Response) -> bool {
    let status = response.status();
    status.is_success()
        || status.is_server_error()
        || matches!(
            response.extensions().get::<ProblemType>(),
            Some(ProblemType::AlreadyExists | ProblemType::ConstraintViolated)
        )
}

/// What a stored response's encryption binds it to: its key, in its mode.
fn replay_row(mode: Mode, key: &str) -> String {
    format!("idempotency:{mode}:{key}")
}

fn replay(hub: &Hub, mode: Mode, key: &str, stored: StoredResponse) -> Response {
    let body = match hub.settings.secrets.reveal_bytes(&stored.body, &replay_row(mode, key)) {
        Ok(body) => body,
        Err(e) => return ApiError::internal(format!("the stored response cannot be read: {e}")).into_response(),
    };
    let mut response = stored_response(stored.status, &stored.content_type, body);
    response.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// A recorded answer as a response (answers that carry a secret are recorded encrypted and
/// revealed by `replay`; a service records only answers without one).
fn stored_response(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;

    use super::{form_fingerprint, request_fingerprint as fingerprint};

    #[test]
    fn a_different_body_or_path_is_a_different_request() {
        let a = fingerprint("POST", "/v1/payments", b"{\"amount\":1}");
        assert_eq!(a, fingerprint("POST", "/v1/payments", b"{\"amount\":1}"));
        assert_ne!(a, fingerprint("POST", "/v1/payments", b"{\"amount\":2}"));
        assert_ne!(a, fingerprint("POST", "/v1/refunds", b"{\"amount\":1}"));
    }

    fn form(boundary: &str, file_name: &str, content_type: &str, content: &str) -> Bytes {
        Bytes::from(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nDelivered\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: {content_type}\r\n\r\n{content}\r\n--{boundary}--\r\n"
        ))
    }

    async fn of_form(boundary: &str, file_name: &str, content_type: &str, content: &str) -> String {
        let body = form(boundary, file_name, content_type, content);
        form_fingerprint("POST", "/v1/disputes/dp_1/evidence", body, boundary.to_owned()).await.unwrap()
    }

    #[tokio::test]
    async fn a_form_is_the_same_request_under_any_boundary_and_another_with_any_other_part() {
        let a = of_form("AaB03x", "receipt.pdf", "application/pdf", "%PDF-1").await;
        assert_eq!(a, of_form("zz-other-boundary", "receipt.pdf", "application/pdf", "%PDF-1").await);
        assert_ne!(a, of_form("AaB03x", "receipt.pdf", "application/pdf", "%PDF-2").await, "other bytes");
        assert_ne!(a, of_form("AaB03x", "invoice.pdf", "application/pdf", "%PDF-1").await, "another file name");
        assert_ne!(a, of_form("AaB03x", "receipt.pdf", "image/png", "%PDF-1").await, "another content type");
    }
}
