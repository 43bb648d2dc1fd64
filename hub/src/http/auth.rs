//! API keys: `Authorization: Bearer sk_test_…` or `sk_live_…`. Only a SHA-256 hash of each key
//! is stored (the keys are long random strings, so a fast hash is enough and lookups stay O(1)).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use payhub_core::Mode;
use payhub_core::id::ApiKeyId;

use super::error::{ApiError, ProblemType};
use crate::app::Hub;
use crate::services::api_keys::hash_secret;

/// Who is calling: the API key and the mode it works in.
#[derive(Debug, Clone)]
pub struct Caller {
    pub mode: Mode,
    pub key_id: ApiKeyId,
}

pub async fn require_api_key(State(hub): State<Hub>, mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return ApiError::new(ProblemType::ApiKeyMissing, "send `Authorization: Bearer <API key>`").into_response();
    };
    match hub.db.active_api_key(&hash_secret(token)).await {
        Ok(Some(key)) => {
            request.extensions_mut().insert(Caller { mode: key.mode, key_id: key.id });
            next.run(request).await
        }
        Ok(None) => ApiError::new(ProblemType::ApiKeyInvalid, "this API key is unknown or revoked").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::new(ProblemType::ApiKeyMissing, "send `Authorization: Bearer <API key>`"))
    }
}
