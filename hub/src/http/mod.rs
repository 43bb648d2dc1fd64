//! HTTP: the merchant API (`/v1`), provider ingress (`/webhooks/…`), the buyer's return pages
//! (`/checkout/…`), the operator console (`/admin`), the OpenAPI document and the operational
//! endpoints.

pub mod api;
pub mod auth;
pub mod checkout;
pub mod console;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod ingress;
pub mod ops;
pub mod problem;
pub mod qr;
pub mod request_id;
pub mod start;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::app::Hub;
use error::{ApiError, ProblemType};

/// API requests are small JSON documents.
pub const API_BODY_LIMIT: usize = 64 * 1024;
/// Provider notifications carry whole resources; PayPal's largest are a few KiB.
pub const INGRESS_BODY_LIMIT: usize = 512 * 1024;

/// `/healthz` for anyone; `/readyz` and `/metrics` for whom [`ops::may_read`] allows.
fn ops_routes(hub: &Hub, listener: ops::Listener) -> Router<Hub> {
    Router::new()
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .layer(from_fn_with_state((hub.clone(), listener), ops::guard))
        .route("/healthz", get(ops::healthz))
}

/// The operational endpoints alone, for `[ops] listen`.
pub fn ops_router(hub: Hub) -> Router {
    ops_routes(&hub, ops::Listener::Ops)
        .fallback(|| async {
            ApiError::new(ProblemType::NotFound, "this address serves /healthz, /readyz and /metrics").into_response()
        })
        .layer(from_fn(ops::measure))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::span))
        .layer(from_fn(request_id::assign))
        .with_state(hub)
}

pub fn router(hub: Hub) -> Router {
    ops::metrics_handle();
    let (api, openapi) = api::router().split_for_parts();
    if let Ok(document) = serde_json::to_value(&openapi) {
        ops::register_routes(&document);
    }
    let openapi = openapi.to_pretty_json().unwrap_or_else(|_| "{}".into());
    // Layers run outside-in: authentication, then idempotency, then the handler.
    let api = api
        .layer(from_fn_with_state(hub.clone(), idempotency::enforce))
        .layer(from_fn_with_state(hub.clone(), auth::require_api_key))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT));
    Router::new()
        .merge(api)
        .route("/openapi.json", get(move || async move { ([("content-type", "application/json")], openapi) }))
        .merge(start::docs())
        .route("/", get(start::page))
        // Provider ingress (`/webhooks/paypal`, …): each provider contributes its own routes.
        .merge(crate::providers::registry::routes())
        .route("/checkout/qr/{file}", get(qr::image))
        .route("/checkout/subscriptions/return", get(checkout::subscriber_return))
        .route("/checkout/subscriptions/cancel", get(checkout::subscriber_return))
        .route("/checkout/{provider}/return", get(checkout::buyer_return))
        .route("/checkout/{provider}/cancel", get(checkout::buyer_cancel))
        .route("/problems/{code}", get(error::describe))
        .merge(console::router())
        .merge(if hub.settings.ops.listen.is_none() { ops_routes(&hub, ops::Listener::Api) } else { Router::new() })
        .fallback(|| async {
            ApiError::new(ProblemType::NotFound, "no such path; the API is under /v1 (see /openapi.json)")
                .into_response()
        })
        .method_not_allowed_fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            let detail = format!("{} does not take {method}; /openapi.json lists its methods", uri.path());
            ApiError::new(ProblemType::MethodNotAllowed, detail).into_response()
        })
        // A bug must still answer in problem+json, and must not take the connection down.
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(ProblemType::InternalError, "an internal error occurred; the logs have the details")
                .into_response()
        }))
        .layer(from_fn(ops::measure))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::span))
        .layer(from_fn(request_id::assign))
        .with_state(hub)
}
