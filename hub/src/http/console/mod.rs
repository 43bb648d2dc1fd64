//! The operator console at `/admin`: server-rendered pages over the same store and services
//! as the API. Operators log in with an email and password (`payhub admins create`); their
//! session lives in the database and its cookie is `HttpOnly` and `SameSite=Strict` (and
//! `Secure` behind https). Every form carries a token tied to the session, checked on post,
//! and every page shows one mode's data: the one the operator switched to.

mod api_keys;
mod disputes;
mod inbox;
mod layout;
mod overview;
mod payments;
mod session;
mod subscriptions;
mod webhooks;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use maud::html;
use payhub_store::StoreError;

use crate::app::Hub;
use crate::services::ServiceError;

pub use session::SESSION_COOKIE;

const STYLESHEET: &str = include_str!("console.css");

pub fn router() -> Router<Hub> {
    Router::new()
        .route("/admin", get(overview::page))
        .route(
            "/admin/assets/console.css",
            get(|| async { ([("content-type", "text/css; charset=utf-8")], STYLESHEET) }),
        )
        .route("/admin/login", get(session::login_page).post(session::login))
        .route("/admin/logout", post(session::logout))
        .route("/admin/mode", post(session::switch_mode))
        .route("/admin/payments", get(payments::list))
        .route("/admin/payments/{id}", get(payments::show))
        .route("/admin/payments/{id}/refund", get(payments::confirm_refund).post(payments::refund))
        .route("/admin/subscriptions", get(subscriptions::list))
        .route("/admin/subscriptions/{id}", get(subscriptions::show))
        .route("/admin/customers/{customer}", get(subscriptions::customer))
        .route("/admin/disputes", get(disputes::queue))
        .route("/admin/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/admin/api-keys/{id}/revoke", get(api_keys::confirm_revoke).post(api_keys::revoke))
        .route("/admin/inbox", get(inbox::page))
        .route("/admin/inbox/{id}/retry", post(inbox::retry))
        .route("/admin/webhooks", get(webhooks::list))
        .route("/admin/webhooks/{id}/status", post(webhooks::set_status))
        .route("/admin/webhooks/{id}/resend", post(webhooks::resend))
        .route("/admin/webhooks/{id}/replay", post(webhooks::replay))
        .route("/admin/{*rest}", any(|| async { ConsoleError::NotFound("there is no such console page".into()) }))
        .layer(axum::middleware::from_fn(protect))
}

/// Console pages load nothing from elsewhere, are never framed by another site (clickjacking),
/// post only to payhub, and are not kept in shared caches (a page that must not be kept at all,
/// such as one showing a secret, says so itself and keeps its own `Cache-Control`).
async fn protect(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    if !headers.contains_key(axum::http::header::CACHE_CONTROL) {
        headers.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-cache"));
    }
    response
}

/// A query string read into `T`; one that cannot be is a message on the page.
pub struct ConsoleQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ConsoleQuery<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ConsoleQuery(value)),
            Err(rejection) => Err(ConsoleError::Invalid(rejection.body_text())),
        }
    }
}

/// A list's status filter from its query string: none when empty, else the status it names
/// (`parse` reads it) or a message naming the `kind` of status it is not.
pub fn status_filter<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    kind: &str,
) -> Result<Option<T>, ConsoleError> {
    if value.is_empty() {
        return Ok(None);
    }
    parse(value).map(Some).ok_or_else(|| ConsoleError::Invalid(format!("no {kind} status `{value}`")))
}

/// What went wrong, told on a page with a way back; never a bare error.
#[derive(Debug)]
pub enum ConsoleError {
    /// A form or address the console cannot act on.
    Invalid(String),
    /// A form posted without the token of the session it came from.
    Forbidden(String),
    NotFound(String),
    /// Understood, but refused by the rules (more than refundable, an open dispute…).
    Refused(String),
    /// The database or the provider could not answer now; trying again may work.
    Unavailable(String),
}

impl From<StoreError> for ConsoleError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "console: the store failed");
        ConsoleError::Unavailable("the database did not answer; try again in a moment".into())
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound { .. } => ConsoleError::NotFound(error.to_string()),
            ServiceError::Invalid { .. } => ConsoleError::Invalid(error.to_string()),
            ServiceError::Store(store) => store.into(),
            ServiceError::Provider { .. } => ConsoleError::Unavailable(error.to_string()),
            other => ConsoleError::Refused(other.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            ConsoleError::Invalid(detail) => (StatusCode::BAD_REQUEST, "That request cannot be read", detail),
            ConsoleError::Forbidden(detail) => (StatusCode::FORBIDDEN, "Refused", detail),
            ConsoleError::NotFound(detail) => (StatusCode::NOT_FOUND, "Not found", detail),
            ConsoleError::Refused(detail) => (StatusCode::UNPROCESSABLE_ENTITY, "Not done", detail),
            ConsoleError::Unavailable(detail) => (StatusCode::SERVICE_UNAVAILABLE, "Try again", detail),
        };
        let body = html! {
            div.error role="alert" { strong { (title) ": " } (detail) }
            p { a href="/admin/payments" { "Back to payments" } }
        };
        (status, layout::bare(title, body)).into_response()
    }
}
