//! Liveness, readiness and Prometheus metrics, and who may read them.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use axum::Json;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use ring::digest;
use serde_json::json;

use super::error::{ApiError, ProblemType};
use crate::app::Hub;

/// Where the operational endpoints are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The API's own address, reachable by whoever reaches the API.
    Api,
    /// An address the operator set aside for them (`[ops] listen`).
    Ops,
}

/// Whether a request may read `/metrics` or `/readyz`: with a token configured, only with it;
/// otherwise anyone on the operator's own listener, and only local clients on the API's.
pub fn may_read(
    listener: Listener,
    peer: IpAddr,
    token: Option<&str>,
    presented: Option<&str>,
) -> Result<(), ProblemType> {
    match token {
        Some(token) if presented.is_some_and(|presented| same_secret(token, presented)) => Ok(()),
        Some(_) => Err(ProblemType::OpsTokenRequired),
        None if listener == Listener::Ops || is_local(peer) => Ok(()),
        None => Err(ProblemType::OpsLocalOnly),
    }
}

/// Compares digests, so the time taken says nothing about how much of the token matched.
fn same_secret(expected: &str, presented: &str) -> bool {
    digest::digest(&digest::SHA256, expected.as_bytes()).as_ref()
        == digest::digest(&digest::SHA256, presented.as_bytes()).as_ref()
}

fn is_local(peer: IpAddr) -> bool {
    match peer {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Guards `/metrics` and `/readyz` as [`may_read`] says.
pub async fn guard(
    State((hub, listener)): State<(Hub, Listener)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match may_read(listener, peer.ip(), hub.settings.ops.token.as_deref(), presented) {
        Ok(()) => next.run(request).await,
        Err(problem) => ApiError::new(problem, problem.meaning()).into_response(),
    }
}

/// The process-wide recorder (a process has one, however many hubs it runs).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Histograms with buckets (not summaries), so quantiles aggregate across instances.
        let builder = PrometheusBuilder::new();
        let builder = builder.set_buckets(crate::metrics::BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program's); then ours only
        // renders what it records itself.
        let _ = metrics::set_global_recorder(recorder);
        crate::metrics::describe();
        crate::metrics::register_zeros();
        handle
    })
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(hub): State<Hub>) -> Response {
    match hub.db.inbox_backlog().await {
        Ok(backlog) => {
            metrics::gauge!(crate::metrics::INBOX_BACKLOG).set(backlog as f64);
            Json(json!({ "status": "ready", "database": "ok", "inbox_backlog": backlog })).into_response()
        }
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": e.to_string() })))
                .into_response()
        }
    }
}

/// Due checks taken later than this after they fell due count as late: a working reconciler
/// takes them within a few of its passes (seconds apart), however many instances run.
const CHECK_LATE_AFTER: chrono::Duration = chrono::Duration::minutes(5);

pub async fn metrics(State(hub): State<Hub>) -> Response {
    if let Err(error) = read_figures(&hub).await {
        // The counters still tell something; the figures keep their last values.
        tracing::warn!(%error, "metrics: the database did not answer; backlog figures are stale");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics_handle().render()).into_response()
}

/// The figures that live in the database, read at each scrape so they count the work of every
/// instance; and a zero series for each merchant endpoint, so a new one shows before its first
/// delivery.
async fn read_figures(hub: &Hub) -> Result<(), payhub_store::StoreError> {
    let now = hub.clock.now();
    let backlog = hub.db.inbox_backlog().await?;
    let oldest = hub.db.oldest_pending_notification().await?;
    let age = oldest.and_then(|at| (now - at).to_std().ok()).unwrap_or_default();
    crate::metrics::set_inbox(backlog, age);
    for kind in payhub_store::CHECKED_KINDS {
        let figures = hub.db.checks_due(kind, now, now - CHECK_LATE_AFTER).await?;
        crate::metrics::set_checks_due(kind, figures.due, figures.late);
    }
    for endpoint in hub.db.all_endpoints().await? {
        crate::metrics::register_endpoint(endpoint.id.as_str());
    }
    Ok(())
}

/// Counts and times every answered request by the route it matched (the template, so the
/// number of series stays that of the routes, whatever paths are asked for).
pub async fn measure(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_else(|| crate::metrics::UNMATCHED_ROUTE.to_owned());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    crate::metrics::http_request(&route, method.as_str(), response.status().as_u16(), started.elapsed());
    response
}

/// A zero series for each operation of the API document, under the status of its success,
/// so the request families are on the first scrape.
pub fn register_routes(openapi: &serde_json::Value) {
    let Some(paths) = openapi["paths"].as_object() else { return };
    for (path, operations) in paths {
        let Some(operations) = operations.as_object() else { continue };
        for (method, operation) in operations {
            let success = operation["responses"]
                .as_object()
                .and_then(|responses| responses.keys().find_map(|code| code.parse::<u16>().ok()))
                .filter(|code| (200..300).contains(code));
            if let Some(status) = success {
                crate::metrics::register_route(path, &method.to_uppercase(), status);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOTE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn without_a_token_only_local_clients_read_the_api_listener() {
        assert_eq!(may_read(Listener::Api, LOCAL, None, None), Ok(()));
        assert_eq!(may_read(Listener::Api, "::ffff:127.0.0.1".parse().unwrap(), None, None), Ok(()));
        assert_eq!(may_read(Listener::Api, REMOTE, None, None), Err(ProblemType::OpsLocalOnly));
        assert_eq!(may_read(Listener::Ops, REMOTE, None, None), Ok(()));
    }

    #[test]
    fn a_configured_token_is_required_from_everyone() {
        let token = Some("0123456789abcdef0123");
        for listener in [Listener::Api, Listener::Ops] {
            for peer in [LOCAL, REMOTE] {
                assert_eq!(may_read(listener, peer, token, token), Ok(()));
                assert_eq!(may_read(listener, peer, token, None), Err(ProblemType::OpsTokenRequired));
                assert_eq!(
                    may_read(listener, peer, token, Some("0123456789abcdef0124")),
                    Err(ProblemType::OpsTokenRequired)
                );
            }
        }
    }
}
