//! `/metrics` of a `payhub serve` process of its own (the recorder is process-wide, so an
//! in-process hub would share its counters with every other test): every family is there
//! before the first request, a request moves the request counter of its route template, and
//! the Grafana dashboard queries nothing `/metrics` does not serve.

use payhub::clock::SystemClock;
use payhub::services::api_keys::create_api_key;
use payhub_core::id::WebhookEndpointId;
use payhub_core::{Clock, Mode};
use payhub_sandbox::{RunningSandbox, TestClock};
use payhub_store::NewWebhookEndpoint;
use payhub_store::testing::{Backend, TestDatabase};
use tokio::process::Child;

use crate::process::{PaypalForServe, free_port, serve_command, wait_until_serving};

const DASHBOARD: &str = include_str!("../../../ops/grafana/payhub.json");

struct Served {
    _sandbox: RunningSandbox,
    _database: TestDatabase,
    _paypal: PaypalForServe,
    _hub: Child,
    http: reqwest::Client,
    port: u16,
    key: String,
    endpoint_id: String,
}

impl Served {
    /// A fresh database with an API key and a merchant endpoint, and `payhub serve` on it.
    async fn start(backend: Backend) -> Option<Served> {
        let database = TestDatabase::fresh(backend).await?;
        let sandbox = crate::helpers::start_sandbox(TestClock::new(), 11).await;
        let port = free_port();
        let paypal = PaypalForServe::register(&sandbox.paypal_url, port).await;
        let ids = payhub::ids::from_os_entropy();
        let now = SystemClock.now();
        let (_, key) = create_api_key(&database.db, &ids, now, Mode::Test, "metrics").await.unwrap();
        let id = WebhookEndpointId::generate(&ids, now);
        let endpoint = NewWebhookEndpoint {
            id: id.clone(),
            mode: Mode::Test,
            url: "https://shop.example/hooks".into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            event_types: vec!["*".into()],
            description: None,
        };
        database.db.create_endpoint(endpoint, now).await.unwrap();
        let mut command = serve_command(
            env!("CARGO_BIN_EXE_payhub"),
            &database.url,
            port,
            &sandbox.paypal_url,
            &paypal.webhook_id,
            paypal.roots.path(),
        );
        command.env("PAYHUB_LOG", "warn");
        let hub = command.spawn().expect("start payhub serve");
        let http = reqwest::Client::new();
        wait_until_serving(&http, port).await;
        Some(Served {
            _sandbox: sandbox,
            _database: database,
            _paypal: paypal,
            _hub: hub,
            http,
            port,
            key,
            endpoint_id: id.to_string(),
        })
    }

    async fn metrics(&self) -> String {
        let response = self.http.get(format!("http://127.0.0.1:{}/metrics", self.port)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }
}

/// The names of the series `/metrics` serves (`payhub_x_bucket`, `payhub_x_count`…).
fn series_names(metrics: &str) -> Vec<&str> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| &line[..line.find(['{', ' ']).unwrap_or(line.len())])
        .collect()
}

/// The value of the one series of `name` whose labels include every one of `labels`.
fn value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = metrics.lines().filter(|line| {
        line.starts_with(&format!("{name}{{"))
            && labels.iter().all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
    });
    let line = found.next()?;
    assert!(found.next().is_none(), "more than one {name} series with {labels:?}");
    line.rsplit(' ').next()?.parse().ok()
}

/// Every `payhub_…` name in the dashboard's queries.
fn queried_names(dashboard: &serde_json::Value) -> Vec<String> {
    let mut names = Vec::new();
    for panel in dashboard["panels"].as_array().expect("the dashboard has panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("every target has a query");
            let mut rest = expr;
            while let Some(at) = rest.find("payhub_") {
                let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                rest = &rest[at + name.len()..];
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

async fn every_family_is_served_from_the_start(backend: Backend) {
    let Some(served) = Served::start(backend).await else { return };
    let before = served.metrics().await;
    let names = series_names(&before);
    for family in payhub::metrics::FAMILIES {
        assert!(
            names
                .iter()
                .any(|name| name.strip_prefix(family).is_some_and(|s| ["", "_bucket", "_sum", "_count"].contains(&s))),
            "{family} is not served before any traffic:\n{before}"
        );
        assert!(before.contains(&format!("# HELP {family} ")), "{family} is not described");
    }
    // Each labelled family has a zero for the values known at start.
    let endpoint = [("endpoint", served.endpoint_id.as_str()), ("outcome", "delivered")];
    assert_eq!(value(&before, payhub::metrics::DELIVERY_ATTEMPTS, &endpoint), Some(0.0));
    let call = [("provider", "paypal"), ("operation", "create_payment")];
    assert_eq!(value(&before, payhub::metrics::PROVIDER_CALL_ERRORS, &call), Some(0.0));
    assert_eq!(value(&before, "payhub_reconciler_due", &[("kind", "payments")]), Some(0.0));

    let payment_route = [("route", "/v1/payments/{id}"), ("method", "GET"), ("status", "404")];
    assert_eq!(value(&before, payhub::metrics::HTTP_REQUESTS, &payment_route), None);
    let list = [("route", "/v1/payments"), ("method", "GET"), ("status", "200")];
    assert_eq!(value(&before, payhub::metrics::HTTP_REQUESTS, &list), Some(0.0));

    let url = |path: &str| format!("http://127.0.0.1:{}{path}", served.port);
    let listed = served.http.get(url("/v1/payments")).bearer_auth(&served.key).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let missing = "/v1/payments/pay_01JAAAAAAAAAAAAAAAAAAAAAAA";
    let unknown = served.http.get(url(missing)).bearer_auth(&served.key).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    let after = served.metrics().await;
    assert_eq!(value(&after, payhub::metrics::HTTP_REQUESTS, &list), Some(1.0));
    // Counted under the route's template, never under the path asked for.
    assert_eq!(value(&after, payhub::metrics::HTTP_REQUESTS, &payment_route), Some(1.0));
    assert!(!after.contains("pay_01JAAAAAAAAAAAAAAAAAAAAAAA"), "a raw path became a label");
    let timed = [("route", "/v1/payments"), ("status", "200")];
    assert_eq!(value(&after, "payhub_http_request_duration_seconds_count", &timed), Some(1.0));
}

async fn the_dashboard_queries_only_served_metrics(backend: Backend) {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let queried = queried_names(&dashboard);
    assert!(queried.len() >= 8, "the dashboard queries {queried:?}");
    let Some(served) = Served::start(backend).await else { return };
    let metrics = served.metrics().await;
    let names = series_names(&metrics);
    for name in &queried {
        assert!(names.contains(&name.as_str()), "the dashboard queries {name}, which /metrics does not serve");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_family_is_served_before_any_traffic_sqlite() {
    every_family_is_served_from_the_start(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_family_is_served_before_any_traffic_postgres() {
    every_family_is_served_from_the_start(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_only_metrics_payhub_serves() {
    the_dashboard_queries_only_served_metrics(Backend::Sqlite).await;
}

#[test]
fn the_grafana_dashboard_has_a_panel_for_every_metric_family() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let queried = queried_names(&dashboard);
    for family in payhub::metrics::FAMILIES {
        let shown = queried.iter().any(|name| {
            name.strip_prefix(family).is_some_and(|suffix| ["", "_bucket", "_sum", "_count"].contains(&suffix))
        });
        assert!(shown, "no panel of ops/grafana/payhub.json queries {family}");
    }
}
