//! Every metric payhub exports, by name, with what it means and the one function that records
//! it. Each family is described and given zero series when the hub starts (for the label values
//! known then), so dashboards and alerts see it before the first request, delivery or provider
//! call. Labels stay bounded: routes are templates, endpoints are the merchant's own few.

use std::future::Future;
use std::time::{Duration, Instant};

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use payhub_core::ProviderName;

use crate::providers::RejectionReason;

pub const HTTP_REQUESTS: &str = "payhub_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "payhub_http_request_duration_seconds";
pub const INBOX_BACKLOG: &str = "payhub_inbox_backlog";
pub const INBOX_OLDEST_PENDING_AGE: &str = "payhub_inbox_oldest_pending_age_seconds";
pub const NOTIFICATIONS_ACCEPTED: &str = "payhub_notifications_accepted_total";
pub const NOTIFICATIONS_REJECTED: &str = "payhub_notifications_rejected_total";
pub const APPLY_DURATION: &str = "payhub_notification_apply_duration_seconds";
pub const WEBHOOK_DELIVERIES: &str = "payhub_webhook_deliveries_total";
pub const DELIVERY_ATTEMPTS: &str = "payhub_delivery_attempts_total";
pub const DELIVERY_DURATION: &str = "payhub_delivery_duration_seconds";
pub const DELIVERY_FAILURES: &str = "payhub_delivery_failures_total";
pub const RECONCILER_DUE: &str = "payhub_reconciler_due";
pub const RECONCILER_LATE: &str = "payhub_reconciler_late";
pub const PROVIDER_CALL_DURATION: &str = "payhub_provider_call_duration_seconds";
pub const PROVIDER_CALL_ERRORS: &str = "payhub_provider_call_errors_total";

/// Every family `/metrics` serves from the start (the dashboard in `ops/grafana` reads these).
pub const FAMILIES: &[&str] = &[
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    INBOX_BACKLOG,
    INBOX_OLDEST_PENDING_AGE,
    NOTIFICATIONS_ACCEPTED,
    NOTIFICATIONS_REJECTED,
    APPLY_DURATION,
    WEBHOOK_DELIVERIES,
    DELIVERY_ATTEMPTS,
    DELIVERY_DURATION,
    DELIVERY_FAILURES,
    RECONCILER_DUE,
    RECONCILER_LATE,
    PROVIDER_CALL_DURATION,
    PROVIDER_CALL_ERRORS,
];

/// Histogram buckets, in seconds: from a fast local query to a provider timing out.
pub const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A delivery attempt's outcome, as the dispatcher names it.
pub const DELIVERY_OUTCOMES: &[&str] = &["delivered", "retry", "gave_up"];

/// A request the router matched to no route: one label for all of them, whatever the path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Says what each family means; called once per process.
pub fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route template, method and status");
    describe_histogram!(HTTP_REQUEST_DURATION, Unit::Seconds, "Time to answer an HTTP request, by route and status");
    describe_gauge!(INBOX_BACKLOG, "Provider notifications accepted and not yet applied");
    describe_gauge!(INBOX_OLDEST_PENDING_AGE, Unit::Seconds, "Age of the oldest notification not yet applied");
    describe_counter!(NOTIFICATIONS_ACCEPTED, "Provider notifications verified and stored, by provider");
    describe_counter!(NOTIFICATIONS_REJECTED, "Provider notifications refused, by provider and reason");
    describe_histogram!(APPLY_DURATION, Unit::Seconds, "Time to apply a stored notification, by provider");
    describe_counter!(WEBHOOK_DELIVERIES, "Event delivery attempts to merchant endpoints, by outcome");
    describe_counter!(DELIVERY_ATTEMPTS, "Event delivery attempts, by endpoint and outcome");
    describe_histogram!(DELIVERY_DURATION, Unit::Seconds, "Time an endpoint took to answer a delivery, by endpoint");
    describe_counter!(DELIVERY_FAILURES, "Delivery attempts that failed (to be retried or given up), by endpoint");
    describe_gauge!(RECONCILER_DUE, "Objects due for a check with their provider, by kind");
    describe_gauge!(RECONCILER_LATE, "Objects due for a check for longer than the reconciler should take, by kind");
    describe_histogram!(PROVIDER_CALL_DURATION, Unit::Seconds, "Time a provider took to answer, by operation");
    describe_counter!(PROVIDER_CALL_ERRORS, "Provider calls that failed, by provider and operation");
}

/// Zero series for what has labels known without traffic, so each family is on the first scrape.
pub fn register_zeros() {
    for provider in ProviderName::ALL {
        let provider = provider.as_str();
        counter!(NOTIFICATIONS_ACCEPTED, "provider" => provider, "duplicate" => "false").absolute(0);
        register(histogram!(APPLY_DURATION, "provider" => provider));
        let reason = RejectionReason::BadSignature.as_str();
        counter!(NOTIFICATIONS_REJECTED, "provider" => provider, "reason" => reason).absolute(0);
    }
    for outcome in DELIVERY_OUTCOMES {
        counter!(WEBHOOK_DELIVERIES, "outcome" => *outcome).absolute(0);
    }
    gauge!(INBOX_BACKLOG).set(0.0);
    gauge!(INBOX_OLDEST_PENDING_AGE).set(0.0);
    for kind in payhub_store::CHECKED_KINDS {
        gauge!(RECONCILER_DUE, "kind" => *kind).set(0.0);
        gauge!(RECONCILER_LATE, "kind" => *kind).set(0.0);
    }
}

/// A histogram is served from the moment it is registered, with empty buckets.
fn register(_histogram: metrics::Histogram) {}

/// Zero series of one route (what its success answers).
pub fn register_route(route: &str, method: &str, status: u16) {
    let (route, method, status) = (route.to_owned(), method.to_owned(), status.to_string());
    counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.clone()).absolute(0);
    register(histogram!(HTTP_REQUEST_DURATION, "route" => route, "status" => status));
}

/// One answered request; `route` is the matched template (`/v1/payments/{id}`), never the path.
pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    let (route, status) = (route.to_owned(), status.to_string());
    counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method.to_owned(), "status" => status.clone())
        .increment(1);
    histogram!(HTTP_REQUEST_DURATION, "route" => route, "status" => status).record(took);
}

/// Zero series of one merchant endpoint.
pub fn register_endpoint(endpoint_id: &str) {
    for outcome in DELIVERY_OUTCOMES {
        counter!(DELIVERY_ATTEMPTS, "endpoint" => endpoint_id.to_owned(), "outcome" => *outcome).absolute(0);
    }
    counter!(DELIVERY_FAILURES, "endpoint" => endpoint_id.to_owned()).absolute(0);
    register(histogram!(DELIVERY_DURATION, "endpoint" => endpoint_id.to_owned()));
}

/// One delivery attempt to an endpoint: its outcome (one of [`DELIVERY_OUTCOMES`]) and how long
/// the endpoint took.
pub fn delivery_attempt(endpoint_id: &str, outcome: &'static str, took: Duration) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
    counter!(DELIVERY_ATTEMPTS, "endpoint" => endpoint_id.to_owned(), "outcome" => outcome).increment(1);
    histogram!(DELIVERY_DURATION, "endpoint" => endpoint_id.to_owned()).record(took);
    if outcome != "delivered" {
        counter!(DELIVERY_FAILURES, "endpoint" => endpoint_id.to_owned()).increment(1);
    }
}

/// A provider notification verified and stored (`duplicate`: it was already in the inbox).
pub fn notification_accepted(provider: ProviderName, duplicate: bool) {
    let duplicate = if duplicate { "true" } else { "false" };
    counter!(NOTIFICATIONS_ACCEPTED, "provider" => provider.as_str(), "duplicate" => duplicate).increment(1);
}

/// A provider notification refused, by its reason.
pub fn notification_rejected(provider: ProviderName, reason: RejectionReason) {
    counter!(NOTIFICATIONS_REJECTED, "provider" => provider.as_str(), "reason" => reason.as_str()).increment(1);
}

/// Applies a notification, timing it.
pub async fn timed_apply<T>(provider: ProviderName, apply: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = apply.await;
    histogram!(APPLY_DURATION, "provider" => provider.as_str()).record(started.elapsed());
    result
}

/// Zero series of one provider operation.
pub fn register_provider_call(provider: ProviderName, operation: &'static str) {
    register(histogram!(PROVIDER_CALL_DURATION, "provider" => provider.as_str(), "operation" => operation));
    counter!(PROVIDER_CALL_ERRORS, "provider" => provider.as_str(), "operation" => operation).absolute(0);
}

/// A call to a provider, timed, and counted as an error when it fails.
pub async fn provider_call<T, E>(
    provider: ProviderName,
    operation: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = call.await;
    histogram!(PROVIDER_CALL_DURATION, "provider" => provider.as_str(), "operation" => operation)
        .record(started.elapsed());
    if result.is_err() {
        counter!(PROVIDER_CALL_ERRORS, "provider" => provider.as_str(), "operation" => operation).increment(1);
    }
    result
}

/// The figures read from the database at each scrape (any instance's work shows in them).
pub fn set_inbox(backlog: i64, oldest_pending_age: Duration) {
    gauge!(INBOX_BACKLOG).set(backlog as f64);
    gauge!(INBOX_OLDEST_PENDING_AGE).set(oldest_pending_age.as_secs_f64());
}

pub fn set_checks_due(kind: &'static str, due: i64, late: i64) {
    gauge!(RECONCILER_DUE, "kind" => kind).set(due as f64);
    gauge!(RECONCILER_LATE, "kind" => kind).set(late as f64);
}
