//! Liveness, readiness and Prometheus metrics.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::app::Hub;

/// The process-wide recorder (a process has one, however many hubs it runs).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program's); then ours only
        // renders what it records itself.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(hub): State<Hub>) -> Response {
    match hub.db.inbox_backlog().await {
        Ok(backlog) => {
            metrics::gauge!("payhub_inbox_backlog").set(backlog as f64);
            Json(json!({ "status": "ready", "database": "ok", "inbox_backlog": backlog })).into_response()
        }
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": e.to_string() })))
                .into_response()
        }
    }
}

pub async fn metrics() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics_handle().render()).into_response()
}
