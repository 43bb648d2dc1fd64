//! Liveness, readiness and Prometheus metrics, and who may read them.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
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
