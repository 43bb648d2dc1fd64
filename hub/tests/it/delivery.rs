//! Delivering events to merchant endpoints: one endpoint's trouble is its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use payhub::egress::EgressPolicy;
use payhub::services::api_keys::create_api_key;
use payhub_core::id::{EventId, WebhookEndpointId};
use payhub_core::{Clock, Mode};
use payhub_store::testing::Backend;
use payhub_store::{DeliveryState, EndpointStatus, NewWebhookEndpoint};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::helpers::{Receiver, TestApp};
use crate::on_both_stores;

/// An endpoint that accepts connections and never answers; returns its URL and how many
/// connections it has taken.
async fn hanging_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// An endpoint that answers at once with headers, then sends a body that never ends.
async fn endless_body_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 1024, "x".repeat(1024));
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    url
}

/// An endpoint that redirects every delivery to `target`.
async fn redirecting_endpoint(target: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

impl TestApp {
    /// Registers `url` as an endpoint in `mode`; returns the answer's status and body.
    async fn try_register(&self, mode: Mode, url: &str) -> (u16, Value) {
        let (_, key) = create_api_key(&self.hub.db, &self.hub.ids, self.clock.now(), mode, "endpoints").await.unwrap();
        let response = self
            .http
            .post(format!("{}/v1/webhook_endpoints", self.url))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("register-{mode}-{url}"))
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Where the first event about `resource_id` stands at `endpoint`, once it has been tried.
    async fn tried_delivery(&self, resource_id: &str, endpoint: &str) -> DeliveryState {
        let events = self.get_json(&format!("/v1/events?resource_id={resource_id}")).await;
        let event_id = EventId::parse(events["data"][0]["id"].as_str().unwrap()).unwrap();
        let tried = || async {
            let deliveries = self.hub.db.deliveries_of_event(&event_id).await.unwrap();
            deliveries.into_iter().find(|d| {
                d.endpoint_id == endpoint && d.attempts > 0 && (d.last_status_code.is_some() || d.last_error.is_some())
            })
        };
        self.eventually("the delivery tried", || async { tried().await.is_some() }).await;
        tried().await.unwrap()
    }

    /// The deliveries of the latest event about `resource` (as the API shows it).
    async fn deliveries_about(&self, resource: &Value) -> Vec<DeliveryState> {
        let events = self.get_json(&format!("/v1/events?resource_id={}", resource["id"].as_str().unwrap())).await;
        let event_id = EventId::parse(events["data"][0]["id"].as_str().unwrap()).unwrap();
        self.hub.db.deliveries_of_event(&event_id).await.unwrap()
    }

    async fn register_endpoint(&self, url: &str) {
        let response = self.post("/v1/webhook_endpoints", json!({ "url": url })).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// Creates `count` payments, each announced by `payment.created`; returns each payment's id
    /// and the moment just before it was asked for.
    async fn create_payments(&self, count: usize) -> Vec<(String, Instant)> {
        let mut created = Vec::new();
        for _ in 0..count {
            let asked = Instant::now();
            let payment = self.create_payment(1000).await;
            created.push((payment["id"].as_str().unwrap().to_owned(), asked));
        }
        created
    }

    /// Asserts the test endpoint received an event about every payment within `within` of its
    /// creation.
    async fn assert_each_arrived_within(&self, created: &[(String, Instant)], within: Duration) {
        self.eventually("every event at the healthy endpoint", || async {
            let arrived = self.receiver.first_arrival.lock().unwrap();
            created.iter().all(|(id, _)| arrived.contains_key(id))
        })
        .await;
        let arrived = self.receiver.first_arrival.lock().unwrap().clone();
        let late: Vec<_> = created
            .iter()
            .map(|(id, asked)| (id, arrived[id].saturating_duration_since(*asked)))
            .filter(|(_, took)| *took > within)
            .collect();
        assert!(late.is_empty(), "{} of {} events arrived late: {late:?}", late.len(), created.len());
    }
}

on_both_stores! {
    async fn a_hanging_endpoint_does_not_delay_a_healthy_one(app) {
        let (hanging, accepted) = hanging_endpoint().await;
        app.register_endpoint(&hanging).await;
        let created = app.create_payments(40).await;
        app.assert_each_arrived_within(&created, Duration::from_secs(1)).await;
        assert!(accepted.load(Ordering::Relaxed) > 0, "the hanging endpoint was being delivered to meanwhile");
    }

    async fn an_endless_answer_is_cut_off_and_does_not_delay_a_healthy_endpoint(app) {
        app.register_endpoint(&endless_body_endpoint().await).await;
        let created = app.create_payments(20).await;
        app.assert_each_arrived_within(&created, Duration::from_secs(1)).await;
        let events = app.get_json(&format!("/v1/events?resource_id={}", created[0].0)).await;
        let event_id = payhub_core::id::EventId::parse(events["data"][0]["id"].as_str().unwrap()).unwrap();
        app.eventually("the endless answer recorded as a failure", || async {
            let deliveries = app.hub.db.deliveries_of_event(&event_id).await.unwrap();
            deliveries.iter().any(|d| d.last_status_code == Some(500))
        }).await;
    }
}

on_both_stores! {
    async fn an_endpoint_is_disabled_only_after_days_without_accepting_a_delivery(app) {
        // A new endpoint that has never accepted anything: its first failures are an outage.
        let (failing, url) = Receiver::start().await;
        *failing.answer.lock().unwrap() = 500;
        let registered = app.post("/v1/webhook_endpoints", json!({ "url": url })).await;
        assert_eq!(registered.status(), 201);
        let registered: Value = registered.json().await.unwrap();
        let id = WebhookEndpointId::parse(registered["id"].as_str().unwrap()).unwrap();
        let status = || async { app.hub.db.endpoint(Mode::Test, &id).await.unwrap().unwrap().status };

        let first = app.create_payment(1000).await;
        app.eventually("the first delivery given up", || async {
            app.deliveries_about(&first).await.iter().any(|d| d.endpoint_id == id.as_str() && d.status == "failed")
        })
        .await;
        // Attempts are recorded, and gave-up endpoints checked, batch after batch: once a later
        // delivery is recorded, the check that followed the first give-up has been made.
        let second = app.create_payment(1000).await;
        app.eventually("a later delivery recorded", || async {
            app.deliveries_about(&second).await.iter().any(|d| d.endpoint_id != id.as_str() && d.status == "delivered")
        })
        .await;
        assert_eq!(status().await, payhub_store::EndpointStatus::Enabled, "a new endpoint's outage is ridden out");

        // Days later it still has accepted nothing: the next delivery given up disables it.
        app.advance(chrono::Duration::days(6)).await;
        app.create_payment(1000).await;
        app.eventually("the endpoint disabled", || async {
            status().await == payhub_store::EndpointStatus::Disabled
        })
        .await;
    }
}

on_both_stores! {
    async fn endpoints_at_internal_addresses_are_refused_at_registration(app) {
        let refused = [
            (Mode::Test, "http://169.254.169.254/latest/meta-data/", "a cloud metadata service"),
            (Mode::Test, "http://10.0.0.1/", "a private network address"),
            (Mode::Test, "http://192.168.1.10:8080/hook", "a private network address"),
            (Mode::Test, "http://[fd00::1]/hook", "a unique-local address"),
            (Mode::Test, "http://[fe80::1]/hook", "a link-local address"),
            (Mode::Test, "http://224.0.0.1/hook", "a multicast address"),
            (Mode::Test, "http://0.0.0.0:22/", "an unspecified address"),
            (Mode::Test, "http://[::ffff:10.0.0.1]/hook", "a private network address"),
            // Loopback is for test-mode receivers beside the sandbox; live mode never reaches it.
            (Mode::Live, "http://127.0.0.1:5432/", "a loopback address"),
            (Mode::Live, "http://[::1]:6379/", "a loopback address"),
            (Mode::Live, "http://localhost:8080/hook", "localhost is a loopback address"),
        ];
        for (mode, url, says) in refused {
            let (status, problem) = app.try_register(mode, url).await;
            assert_eq!(status, 422, "{mode} {url}: {problem}");
            assert_eq!(problem["code"], "invalid_request");
            assert_eq!(problem["errors"][0]["field"], "url");
            let message = problem["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(says), "{url}: {message}");
        }
        let (status, _) = app.try_register(Mode::Live, "https://hooks.shop.example/payhub").await;
        assert_eq!(status, 201, "a public name that does not resolve yet is checked when delivering");
    }

    async fn an_endpoint_stored_at_an_internal_address_is_refused_when_delivering(app) {
        // As an endpoint registered before the rule, or whose address changed since.
        let id = WebhookEndpointId::generate(&app.hub.ids, app.clock.now());
        let endpoint = NewWebhookEndpoint {
            id: id.clone(),
            mode: Mode::Test,
            url: "http://10.0.0.1:9/hook".into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            event_types: vec!["*".into()],
            description: None,
        };
        app.hub.db.create_endpoint(endpoint, app.clock.now()).await.unwrap();
        let payment = app.create_payment(1000).await;
        let delivery = app.tried_delivery(payment["id"].as_str().unwrap(), id.as_str()).await;
        assert_eq!(delivery.last_status_code, None);
        let error = delivery.last_error.unwrap();
        assert!(error.starts_with("refused: 10.0.0.1 is a private network address"), "{error}");
    }

    async fn a_redirect_is_not_followed(app) {
        let (elsewhere, target) = Receiver::start().await;
        let redirecting = redirecting_endpoint(target).await;
        let (status, endpoint) = app.try_register(Mode::Test, &redirecting).await;
        assert_eq!(status, 201);
        let payment = app.create_payment(1000).await;
        let delivery = app.tried_delivery(payment["id"].as_str().unwrap(), endpoint["id"].as_str().unwrap()).await;
        assert_eq!(delivery.last_status_code, Some(307));
        assert_eq!(delivery.status, "pending", "a redirect is a failed attempt, retried later");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(elsewhere.received.lock().unwrap().is_empty(), "nothing reached the redirect's target");
    }
}

/// With the operator's allowlist, live-mode endpoints may be in the listed networks, and only
/// there.
async fn the_operators_allowlist_admits_its_networks_in_live_mode(backend: Backend) {
    let allowed = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    let Some(app) = TestApp::spawn_with(backend, |settings| settings.egress = EgressPolicy::new(allowed)).await else {
        return;
    };
    let (status, _) = app.try_register(Mode::Live, "http://127.0.0.1:9000/hook").await;
    assert_eq!(status, 201);
    for outside in ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/"] {
        let (status, problem) = app.try_register(Mode::Live, outside).await;
        assert_eq!(status, 422, "{outside}: {problem}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_allowlist_admits_its_networks_in_live_mode_sqlite() {
    the_operators_allowlist_admits_its_networks_in_live_mode(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_allowlist_admits_its_networks_in_live_mode_postgres() {
    the_operators_allowlist_admits_its_networks_in_live_mode(Backend::Postgres).await;
}

on_both_stores! {
    async fn every_event_carries_its_resources_sequence_in_the_api_and_in_deliveries(app) {
        let payment = app.paid_payment(5000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        assert_eq!(app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 5000})).await.status(), 201);
        app.eventually("the refund applied", || async { app.payment(&id).await["amount_refunded"] == 5000 }).await;

        // The stream, oldest first: the payment's events are numbered 1, 2, 3 … in order.
        let listed = app.get_json(&format!("/v1/events?resource_id={id}&limit=100")).await;
        let mut events = listed["data"].as_array().unwrap().clone();
        events.reverse();
        let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["payment.created", "payment.succeeded", "payment.refunded"]);
        let sequences: Vec<_> = events.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
        assert_eq!(sequences, [1, 2, 3]);
        // Another resource counts on its own.
        let refund = &app.get_json(&format!("/v1/payments/{id}/refunds")).await["data"][0];
        let refund_events = app.get_json(&format!("/v1/events?resource_id={}", refund["id"].as_str().unwrap())).await;
        let last = refund_events["data"].as_array().unwrap().iter().map(|e| e["sequence"].as_u64().unwrap()).max();
        assert_eq!(last, Some(refund_events["data"].as_array().unwrap().len() as u64));

        // Each delivery carries the sequence of the event it delivers.
        app.eventually("the payment's events delivered", || async {
            app.receiver.types().iter().filter(|t| t.starts_with("payment.")).count() >= 3
        })
        .await;
        let delivered: HashMap<String, u64> = app
            .receiver
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap())
            .filter(|event| event["resource_id"] == id.as_str())
            .map(|event| (event["id"].as_str().unwrap().to_owned(), event["sequence"].as_u64().unwrap()))
            .collect();
        for event in &events {
            assert_eq!(delivered.get(event["id"].as_str().unwrap()), event["sequence"].as_u64().as_ref(), "{event}");
        }
    }
}

/// An endpoint whose answers wait until the test releases them; returns its URL, how many
/// deliveries reached it, how many it has answered, and the release.
async fn held_endpoint() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>, tokio::sync::watch::Sender<bool>) {
    let (release, released) = tokio::sync::watch::channel(false);
    let (reached, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counters = (reached.clone(), answered.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (reached, answered, mut released) = (counters.0.clone(), counters.1.clone(), released.clone());
            async move {
                reached.fetch_add(1, Ordering::SeqCst);
                let _ = released.wait_for(|released| *released).await;
                answered.fetch_add(1, Ordering::SeqCst);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, reached, answered, release)
}

/// One delivery at a time per endpoint, retries an hour apart, and deliveries and leases long
/// enough that only what the test does ends a wait.
async fn spawn_one_at_a_time(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, one_at_a_time).await
}

fn one_at_a_time(settings: &mut payhub::app::HubSettings) {
    settings.delivery.per_endpoint_concurrency = 1;
    settings.delivery.timeout = Duration::from_secs(60);
    settings.delivery.schedule = vec![Duration::from_secs(3600)];
    settings.workers.lease = Duration::from_secs(600);
}

impl TestApp {
    /// Registers `url`; returns the endpoint's id.
    async fn endpoint_at(&self, url: &str) -> String {
        let response = self.post("/v1/webhook_endpoints", json!({ "url": url })).await;
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// Creates a payment and waits until the test endpoint has its event: the dispatcher has
    /// claimed since the payment was made.
    async fn payment_delivered(&self) -> Value {
        let payment = self.create_payment(1000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        self.eventually("the payment's event at the test endpoint", || async {
            self.receiver.first_arrival.lock().unwrap().contains_key(&id)
        })
        .await;
        payment
    }

    /// The delivery of the latest event about `payment` to `endpoint`.
    async fn delivery_to(&self, payment: &Value, endpoint: &str) -> DeliveryState {
        let deliveries = self.deliveries_about(payment).await;
        deliveries.into_iter().find(|d| d.endpoint_id == endpoint).expect("a delivery to the endpoint")
    }
}

on_both_stores! {
    with spawn_one_at_a_time;

    async fn an_endpoint_is_disabled_and_enabled_through_the_api(app) {
        let (failing, url) = Receiver::start().await;
        *failing.answer.lock().unwrap() = 500;
        let id = app.endpoint_at(&url).await;
        let refused = app.payment_delivered().await;
        app.eventually("the first attempt failed, the retry an hour away", || async {
            let delivery = app.delivery_to(&refused, &id).await;
            delivery.status == "pending" && delivery.last_status_code == Some(500)
        })
        .await;

        let path = format!("/v1/webhook_endpoints/{id}/disable");
        let disabled = app.post_with_key(&path, "disable-it", json!({})).await;
        assert_eq!(disabled.status(), 200);
        assert_eq!(disabled.headers()["idempotent-replayed"], "false");
        let disabled: Value = disabled.json().await.unwrap();
        assert_eq!(disabled["status"], "disabled");
        assert!(disabled["disabled_reason"].as_str().unwrap().contains("through the API"), "{disabled}");
        assert!(disabled.get("secret").is_none(), "the secret is shown only at creation and rotation");
        let again = app.post_with_key(&path, "disable-it", json!({})).await;
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        // The waiting retry failed with the disabling; nothing new goes to the endpoint.
        let stopped = app.delivery_to(&refused, &id).await;
        assert_eq!((stopped.status.as_str(), stopped.last_error.as_deref()), ("failed", Some("endpoint disabled")));
        let while_disabled = app.payment_delivered().await;
        assert!(app.deliveries_about(&while_disabled).await.iter().all(|d| d.endpoint_id != id));
        assert_eq!(app.get_json(&format!("/v1/webhook_endpoints/{id}")).await["status"], "disabled");

        *failing.answer.lock().unwrap() = 200;
        let enabled = app.post(&format!("/v1/webhook_endpoints/{id}/enable"), json!({})).await;
        assert_eq!(enabled.status(), 200);
        let enabled: Value = enabled.json().await.unwrap();
        assert_eq!((&enabled["status"], &enabled["disabled_reason"]), (&json!("enabled"), &Value::Null));
        let after = app.create_payment(1000).await;
        app.eventually("the next event delivered to the enabled endpoint", || async {
            app.delivery_to(&after, &id).await.status == "delivered"
        })
        .await;
        let resource_ids: Vec<Value> = failing
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap()["resource_id"].clone())
            .collect();
        assert_eq!(resource_ids, [refused["id"].clone(), after["id"].clone()], "nothing was sent while it was disabled");
    }

    async fn an_unknown_endpoint_or_one_of_the_other_mode_is_not_found(app) {
        let (_, live_url) = Receiver::start().await;
        let live = WebhookEndpointId::generate(&app.hub.ids, app.clock.now());
        let new = NewWebhookEndpoint {
            id: live.clone(),
            mode: Mode::Live,
            url: live_url,
            secret: "whsec_c2Vjb25kIHNlY3JldCBmb3IgdGVzdHM=".into(),
            event_types: vec!["*".into()],
            description: None,
        };
        app.hub.db.create_endpoint(new, app.clock.now()).await.unwrap();
        for id in ["we_00000000000000000000000000", live.as_str()] {
            for action in ["disable", "enable"] {
                let response = app.post(&format!("/v1/webhook_endpoints/{id}/{action}"), json!({})).await;
                assert_eq!(response.status(), 404, "{action} {id}");
                assert_eq!(response.headers()["content-type"], "application/problem+json");
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["code"], "not_found", "{problem}");
            }
        }
        let untouched = app.hub.db.endpoint(Mode::Live, &live).await.unwrap().unwrap();
        assert_eq!(untouched.status, payhub_store::EndpointStatus::Enabled, "a test-mode key changes no live endpoint");
    }

    async fn deliveries_held_for_an_endpoint_disabled_meanwhile_are_never_sent(app) {
        let (url, reached, answered, release) = held_endpoint().await;
        let id = app.endpoint_at(&url).await;
        // The first delivery is in flight and held by the endpoint; the next two are claimed
        // behind it: each claim that brought the test endpoint its event claimed theirs too.
        let first = app.payment_delivered().await;
        let waiting = [app.payment_delivered().await, app.payment_delivered().await];
        app.eventually("the first delivery at the endpoint", || async { reached.load(Ordering::SeqCst) == 1 }).await;

        let disabled = app.post(&format!("/v1/webhook_endpoints/{id}/disable"), json!({})).await;
        assert_eq!(disabled.status(), 200);
        // Two events delivered one after the other since: the second was claimed by a claim
        // round that began after the disabling.
        app.payment_delivered().await;
        app.payment_delivered().await;
        release.send_replace(true);
        let endpoint = WebhookEndpointId::parse(&id).unwrap();
        app.eventually("the first delivery's attempt recorded", || async {
            let health = app.hub.db.endpoint_health(&endpoint, chrono::DateTime::UNIX_EPOCH, 10).await.unwrap();
            answered.load(Ordering::SeqCst) >= 1 && health.attempts >= 1
        })
        .await;
        // Rounds after the endpoint's turn came back: anything still held for it would go now.
        app.payment_delivered().await;
        app.payment_delivered().await;

        assert_eq!(reached.load(Ordering::SeqCst), 1, "only the delivery already in flight reached the endpoint");
        let health = app.hub.db.endpoint_health(&endpoint, chrono::DateTime::UNIX_EPOCH, 10).await.unwrap();
        assert_eq!((health.attempts, health.accepted), (1, 1), "one attempt recorded, the one in flight: {health:?}");
        for payment in [&first, &waiting[0], &waiting[1]] {
            let delivery = app.delivery_to(payment, &id).await;
            assert_eq!((delivery.status.as_str(), delivery.last_error.as_deref()), ("failed", Some("endpoint disabled")));
        }
        // The attempts shown are the attempts made: the dropped ones were claimed, never tried.
        assert_eq!(app.delivery_to(&first, &id).await.attempts, 1);
        for payment in &waiting {
            assert_eq!(app.delivery_to(payment, &id).await.attempts, 0, "dropped unsent");
        }
    }
}

/// As [`spawn_one_at_a_time`], and claim rounds only when an event is queued (or a delivery
/// finishes), never on a timer: the test decides what happens between two rounds.
async fn spawn_one_at_a_time_unpolled(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| {
        one_at_a_time(settings);
        settings.workers.poll_interval = Duration::from_secs(3600);
    })
    .await
}

on_both_stores! {
    with spawn_one_at_a_time_unpolled;

    async fn deliveries_held_for_an_endpoint_disabled_and_enabled_again_are_never_sent(app) {
        let (url, reached, _, release) = held_endpoint().await;
        let id = app.endpoint_at(&url).await;
        app.payment_delivered().await;
        let waiting = [app.payment_delivered().await, app.payment_delivered().await];
        app.eventually("the first delivery at the endpoint", || async { reached.load(Ordering::SeqCst) == 1 }).await;

        // Between two claim rounds (in the store, which wakes no round): the disabling failed the
        // two held here, the enabling does not bring them back.
        let endpoint = WebhookEndpointId::parse(&id).unwrap();
        let db = &app.hub.db;
        assert!(db.set_endpoint_status(&endpoint, EndpointStatus::Disabled, Some("off"), app.clock.now()).await.unwrap());
        assert!(db.set_endpoint_status(&endpoint, EndpointStatus::Enabled, None, app.clock.now()).await.unwrap());
        // The round that claimed this one read the endpoint enabled again; it queues behind
        // whatever is still held for the endpoint.
        let after = app.payment_delivered().await;
        release.send_replace(true);
        app.eventually("the delivery made after enabling delivered", || async {
            app.delivery_to(&after, &id).await.status == "delivered"
        })
        .await;

        assert_eq!(reached.load(Ordering::SeqCst), 2, "the one in flight and the one made after enabling");
        for payment in &waiting {
            let delivery = app.delivery_to(payment, &id).await;
            let seen = (delivery.status.as_str(), delivery.last_error.as_deref(), delivery.attempts);
            assert_eq!(seen, ("failed", Some("endpoint disabled"), 0));
        }
    }
}
