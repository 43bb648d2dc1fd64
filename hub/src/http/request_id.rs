//! Every request carries an id: the caller's `X-Request-Id` when it is sane, otherwise one minted
//! here. It is echoed in the answer's header and in every problem+json body (`request_id`), and
//! names the request's tracing span, so an operator finds a merchant's failed call in the logs
//! from what the merchant saw.

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longer ids are replaced: they would bloat every log line, and no tracing system needs them.
const MAX_LEN: usize = 128;

/// Problem bodies are a few hundred bytes; anything larger is passed through unstamped.
const MAX_PROBLEM_BODY: usize = 64 * 1024;

/// An id a caller may choose: 1 to 128 of letters, digits and `-_.:/+=` (UUIDs, ULIDs,
/// W3C trace ids and base64 all fit), nothing that could forge a log line or a header.
pub fn is_acceptable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

fn mint() -> String {
    format!("req_{:032x}", rand::random::<u128>())
}

/// The request's id, for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Outermost layer: settles the id before the trace span opens, then stamps the answer.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let presented = request.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|v| is_acceptable(v));
    let id = presented.map(str::to_owned).unwrap_or_else(mint);
    let value = HeaderValue::from_str(&id).expect("an acceptable id is a valid header value");
    request.headers_mut().insert(X_REQUEST_ID.clone(), value.clone());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    if is_problem(&response) { stamp_problem(response, &id).await } else { response }
}

fn is_problem(response: &Response) -> bool {
    response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

async fn stamp_problem(response: Response, id: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    // Read only a body known to fit: reading past the limit would consume it and lose it.
    if body.size_hint().upper().is_none_or(|len| len > MAX_PROBLEM_BODY as u64) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = to_bytes(body, MAX_PROBLEM_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let stamped = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut problem)) => {
            problem.insert("request_id".into(), Value::String(id.to_owned()));
            serde_json::to_vec(&problem).map(Body::from).unwrap_or_else(|_| Body::from(bytes))
        }
        _ => Body::from(bytes),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, stamped)
}

/// The span every request is served in, named by its id.
pub fn span(request: &Request) -> tracing::Span {
    let id = request.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ids_are_kept_and_odd_ones_replaced() {
        for kept in ["4bf92f3577b34da6a3ce929d0e0e4736", "01HZX3N9Q7", "a-b_c.d:e/f+g=", "x"] {
            assert!(is_acceptable(kept), "{kept}");
        }
        let too_long = "a".repeat(MAX_LEN + 1);
        for refused in ["", "has space", "line\nbreak", "quote\"", "ünï", too_long.as_str()] {
            assert!(!is_acceptable(refused), "{refused:?}");
        }
        assert!(is_acceptable(&mint()));
    }

    #[tokio::test]
    async fn problems_are_stamped_and_oversized_ones_pass_through_whole() {
        let problem = |detail: String| {
            let body = serde_json::to_vec(&serde_json::json!({ "title": "t", "detail": detail })).unwrap();
            Response::builder().header(header::CONTENT_TYPE, "application/problem+json").body(Body::from(body)).unwrap()
        };
        let read = |response: Response| async move {
            serde_json::from_slice::<Value>(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap()
        };
        let stamped = read(stamp_problem(problem("short".into()), "req_1").await).await;
        assert_eq!(stamped["request_id"], "req_1");
        let long = "x".repeat(MAX_PROBLEM_BODY);
        let passed = read(stamp_problem(problem(long.clone()), "req_2").await).await;
        assert_eq!((passed["detail"].as_str(), passed.get("request_id")), (Some(long.as_str()), None));
    }
}
