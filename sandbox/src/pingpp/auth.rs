//! Who is calling: the secret key (`Authorization: Bearer sk_…`, or HTTP Basic with the key as
//! user and an empty password, as Ping++'s Go SDK sends it), and, once the merchant uploaded a
//! public key, the request signature on every POST and PUT ([`super::keys`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::errors::ApiError;
use super::keys::request_signing_bytes;
use super::{PingppSimulator, SANDBOX_PINGPP_SECRET_KEY};

/// Bodies larger than this are refused before they are read further.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|text| !text.is_empty())
}

/// The secret key the request presents, if it presents one in a form Ping++ reads.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    let (scheme, credentials) = header(headers, "authorization")?.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = BASE64.decode(credentials).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let user = decoded.split_once(':').map_or(decoded.as_str(), |(user, _)| user);
        return Some(user.to_owned());
    }
    None
}

pub async fn authenticate(State(simulator): State<Arc<PingppSimulator>>, request: Request, next: Next) -> Response {
    match presented_key(request.headers()) {
        None => return ApiError::no_api_key().into_response(),
        Some(key) if key != SANDBOX_PINGPP_SECRET_KEY => {
            return ApiError::invalid_api_key().into_response();
        }
        Some(_) => {}
    }
    let signed_method = matches!(*request.method(), Method::POST | Method::PUT);
    let merchant_key = simulator.state().merchant_key.clone();
    let (Some(merchant_key), true) = (merchant_key, signed_method) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::body_too_large(MAX_BODY_BYTES).into_response();
    };
    let Some(signature) = header(&parts.headers, "pingplusplus-signature") else {
        return ApiError::missing_signature().into_response();
    };
    let timestamp = header(&parts.headers, "pingplusplus-request-timestamp").unwrap_or_default();
    let request_uri =
        parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |path_and_query| path_and_query.as_str());
    let signed = request_signing_bytes(&body, request_uri, timestamp);
    if timestamp.is_empty() || !merchant_key.verify(&signed, signature) {
        return ApiError::invalid_signature().into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_key_is_read_from_bearer_and_from_basic_with_an_empty_password() {
        let basic = format!("Basic {}", BASE64.encode("sk_test_abc:"));
        assert_eq!(presented_key(&with_authorization(&basic)).as_deref(), Some("sk_test_abc"));
        assert_eq!(presented_key(&with_authorization("Bearer sk_test_abc")).as_deref(), Some("sk_test_abc"));
        assert_eq!(presented_key(&with_authorization("Basic !!!")), None);
        assert_eq!(presented_key(&with_authorization("Token sk_test_abc")), None);
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }
}
