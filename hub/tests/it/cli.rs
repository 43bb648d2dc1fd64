//! The operator's commands, run as the real `payhub` executable against a hub serving the
//! sandbox: each talks to the hub over its API only, as it would from a laptop.

use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};

use payhub::services::api_keys::create_api_key;
use payhub_core::id::EventId;
use payhub_core::{Clock, Mode};
use payhub_store::testing::Backend;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{Receiver, TestApp, signature_is_valid};
use crate::on_both_stores;

impl TestApp {
    /// `payhub ARGS` aimed at this hub with its test key (through the environment, as an
    /// operator's shell would).
    fn payhub(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_payhub"));
        command
            .args(args)
            .env("PAYHUB_URL", &self.url)
            .env("PAYHUB_API_KEY", &self.api_key)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Runs a command to its end.
    async fn run_payhub(&self, args: &[&str]) -> Output {
        self.payhub(args).output().await.expect("run payhub")
    }

    /// Starts a command that runs until stopped; its output lines are collected as they come.
    fn start_payhub(&self, args: &[&str]) -> Running {
        let mut child = self.payhub(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start payhub");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Running { child, lines }
    }

    /// Registers another receiving endpoint; returns it, its id and its signing secret.
    async fn second_endpoint(&self) -> (Receiver, String, String) {
        let (receiver, url) = Receiver::start().await;
        let endpoint: Value = self.post("/v1/webhook_endpoints", json!({ "url": url })).await.json().await.unwrap();
        (receiver, endpoint["id"].as_str().unwrap().to_owned(), endpoint["secret"].as_str().unwrap().to_owned())
    }

    async fn event_of(&self, event_type: &str, resource_id: &str) -> Value {
        let path = format!("/v1/events?type={event_type}&resource_id={resource_id}");
        self.eventually(&format!("{event_type} about {resource_id}"), || async {
            !self.get_json(&path).await["data"][0].is_null()
        })
        .await;
        self.get_json(&path).await["data"][0].clone()
    }
}

struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The first line containing `text`, once printed.
    async fn line_with(&self, app: &TestApp, text: &str) -> String {
        app.eventually(&format!("a line with {text:?}"), || async { self.output().contains(text) }).await;
        self.lines.lock().unwrap().iter().find(|line| line.contains(text)).unwrap().clone()
    }

    /// SIGTERM, as a terminal's Ctrl-C or a process manager would stop it; waits for the exit.
    async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("still running");
        let sent = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        assert!(sent.success());
        self.child.wait().await.unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

on_both_stores! {
    async fn a_replay_retried_with_its_idempotency_key_queues_nothing_more(app) {
        let payment = app.paid_payment(800).await;
        let expected = app.event_types(payment["id"].as_str().unwrap()).await.len();
        let (late, endpoint_id, _) = app.second_endpoint().await;
        let body = json!({ "since": "1h", "endpoint": endpoint_id });
        let first: Value = app.post_with_key("/v1/events/replay", "replay-1", body.clone()).await.json().await.unwrap();
        assert_eq!(first, json!({ "events": expected, "queued": expected }));
        let events = app.get_json(&format!("/v1/events?resource_id={}", payment["id"].as_str().unwrap())).await;
        let event_ids: Vec<EventId> =
            events["data"].as_array().unwrap().iter().map(|e| EventId::parse(e["id"].as_str().unwrap()).unwrap()).collect();
        let delivered_once = || async {
            for event_id in &event_ids {
                let states = app.hub.db.deliveries_of_event(event_id).await.unwrap();
                let to_late = states.iter().find(|d| d.endpoint_id == endpoint_id).unwrap();
                if (to_late.status.as_str(), to_late.attempts) != ("delivered", 1) {
                    return false;
                }
            }
            true
        };
        app.eventually("the replayed events are delivered", delivered_once).await;

        let retried = app.post_with_key("/v1/events/replay", "replay-1", body).await;
        assert_eq!(retried.headers()["idempotent-replayed"], "true");
        assert_eq!(retried.json::<Value>().await.unwrap(), first);
        let future = app.post("/v1/events/replay", json!({ "since": "2999-01-01T00:00:00Z" })).await;
        assert_eq!(future.status(), 422, "nothing happened after a future time");
        // A period that ends before the payment holds none of its events.
        let before = json!({ "since": "1h", "until": "30m", "endpoint": endpoint_id });
        let none: Value = app.post("/v1/events/replay", before).await.json().await.unwrap();
        assert_eq!(none, json!({ "events": 0, "queued": 0 }));
        let backwards = app.post("/v1/events/replay", json!({ "since": "30m", "until": "1h" })).await;
        assert_eq!(backwards.status(), 422);
        let problem: Value = backwards.json().await.unwrap();
        assert!(problem.to_string().contains("must be after `since`"), "{problem}");
        // A second replay would have made the deliveries pending again, in the answer's transaction.
        assert!(delivered_once().await, "the retry queued nothing");
        assert_eq!(late.types().len(), expected);
    }

    async fn listen_forwards_verified_events_with_their_signature_and_removes_its_endpoint_on_exit(app) {
        let (handler, handler_url) = Receiver::start().await;
        let listen = app.start_payhub(&["listen", "--forward-to", &handler_url, "--events", "payment.*"]);
        let registered = listen.line_with(&app, "signing secret").await;
        let words: Vec<&str> = registered.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let (endpoint_id, secret) = (words[1].to_owned(), words[4].to_owned());
        assert!(endpoint_id.starts_with("we_") && secret.starts_with("whsec_"), "{registered}");

        let payment = app.paid_payment(1_500).await;
        let id = payment["id"].as_str().unwrap();
        app.eventually("the handler gets payment.succeeded", || async {
            handler.types().contains(&"payment.succeeded".to_owned())
        })
        .await;
        for (headers, body) in handler.received.lock().unwrap().iter() {
            assert!(signature_is_valid(&secret, headers, body), "forwarded with the hub's own signature");
        }
        assert!(handler.types().iter().all(|t| t.starts_with("payment.")), "only the chosen family: {:?}", handler.types());
        listen.line_with(&app, "--> payment.succeeded").await;
        listen.line_with(&app, &format!("<-- [200] POST {handler_url}")).await;
        assert!(listen.output().contains(id), "{}", listen.output());

        let status = listen.stop().await;
        assert!(status.success(), "listen exits cleanly on SIGTERM: {status}");
        let gone = app.get(&format!("/v1/webhook_endpoints/{endpoint_id}")).await;
        assert_eq!(gone.status(), 404, "the temporary endpoint is removed");
    }

    async fn events_resend_sends_a_past_event_to_an_endpoint_registered_after_it(app) {
        let payment = app.paid_payment(1_200).await;
        let event = app.event_of("payment.succeeded", payment["id"].as_str().unwrap()).await;
        let event_id = event["id"].as_str().unwrap();
        let (late, endpoint_id, secret) = app.second_endpoint().await;

        let output = app.run_payhub(&["events", "resend", event_id, "--endpoint", &endpoint_id]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains(&format!("{event_id} queued again for {endpoint_id}")), "{}", stdout(&output));
        app.eventually("the late endpoint gets the event", || async { late.types() == ["payment.succeeded"] }).await;
        let (headers, body) = late.received.lock().unwrap()[0].clone();
        assert!(signature_is_valid(&secret, &headers, &body));
        assert_eq!(headers["webhook-id"], event_id, "the same id, so receivers deduplicate");
    }

    async fn replay_sends_every_event_since_a_time_to_the_chosen_endpoint(app) {
        let payment = app.paid_payment(900).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let expected = app.event_types(&id).await;
        let (late, endpoint_id, _) = app.second_endpoint().await;

        let output = app.run_payhub(&["replay", "--since", "1h", "--endpoint", &endpoint_id]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let printed = stdout(&output);
        assert!(printed.contains(&format!("replaying {} event(s) since 1h to {endpoint_id}", expected.len())), "{printed}");
        app.eventually("the endpoint gets the payment's events", || async { late.types().len() == expected.len() }).await;
        let mut received = late.types();
        received.sort();
        let mut wanted = expected.clone();
        wanted.sort();
        assert_eq!(received, wanted);

        // A period that ended before the payment sends nothing more.
        let period = app.run_payhub(&["replay", "--since", "2h", "--until", "1h", "--endpoint", &endpoint_id]).await;
        assert!(period.status.success(), "{}", stderr(&period));
        let printed = stdout(&period);
        assert!(printed.contains(&format!("replaying 0 event(s) since 2h until 1h to {endpoint_id}")), "{printed}");
        assert_eq!(late.types().len(), expected.len());

        let refused = app.run_payhub(&["replay", "--since", "yesterday-ish"]).await;
        assert!(!refused.status.success());
        assert!(stderr(&refused).contains("neither an RFC 3339 time nor a span"), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("(request req_"), "the request id to quote: {}", stderr(&refused));
    }

    async fn reconcile_asks_the_provider_about_one_payment_or_every_open_one(app) {
        let paid = app.paid_payment(700).await;
        let paid_id = paid["id"].as_str().unwrap();
        let one = app.run_payhub(&["reconcile", "--payment", paid_id]).await;
        assert!(one.status.success(), "{}", stderr(&one));
        assert!(stdout(&one).contains(&format!("{paid_id}: succeeded (unchanged)")), "{}", stdout(&one));

        let open = app.create_payment(300).await;
        let open_id = open["id"].as_str().unwrap();
        let all = app.run_payhub(&["reconcile", "--all"]).await;
        assert!(all.status.success(), "{}", stderr(&all));
        let printed = stdout(&all);
        assert!(printed.contains(&format!("{open_id}: requires_action (unchanged)")), "{printed}");
        assert!(printed.contains("1 payment(s) reconciled: 0 changed, 0 failed"), "{printed}");

        let unknown = app.run_payhub(&["reconcile", "--payment", "pay_01HZZZZZZZZZZZZZZZZZZZZZZZ"]).await;
        assert!(!unknown.status.success());
        assert!(stderr(&unknown).contains("no payment"), "{}", stderr(&unknown));
    }

    async fn trigger_produces_real_events_through_the_sandbox(app) {
        let events =
            ["payment.succeeded", "payment.canceled", "payment.refunded", "refund.succeeded", "dispute.created", "dispute.updated", "dispute.resolved", "subscription.renewed"];
        for event in events {
            let output = app.run_payhub(&["trigger", event]).await;
            assert!(output.status.success(), "{event}: {}", stderr(&output));
            let printed = stdout(&output);
            assert!(printed.starts_with(&format!("{event} evt_")), "{printed}");
            let event_id = printed.split(' ').nth(1).unwrap();
            let recorded = app.get_json(&format!("/v1/events/{event_id}")).await;
            assert_eq!(recorded["type"], event);
            match event {
                "dispute.updated" => assert_eq!(recorded["data"]["status"], "waiting_for_buyer", "{recorded}"),
                "dispute.resolved" => assert_eq!(recorded["data"]["outcome"]["result"], "accepted", "{recorded}"),
                _ => {}
            }
            app.eventually(&format!("the merchant endpoint gets {event}"), || async {
                app.receiver.types().contains(&event.to_owned())
            })
            .await;
        }
    }

    async fn trigger_pays_a_pingpp_payment_at_the_pingpp_simulator(app) {
        let simulator = app.sandbox.pingpp_url.clone();
        let output = app.run_payhub(&["trigger", "payment.succeeded", "--provider", "pingpp", "--pingpp-simulator", &simulator]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let printed = stdout(&output);
        assert!(printed.starts_with("payment.succeeded evt_"), "{printed}");
        let recorded = app.get_json(&format!("/v1/events/{}", printed.split(' ').nth(1).unwrap())).await;
        assert_eq!(recorded["data"]["provider"], "pingpp", "{recorded}");
        assert_eq!(recorded["data"]["status"], "succeeded");

        let other = app.run_payhub(&["trigger", "payment.refunded", "--provider", "pingpp", "--pingpp-simulator", &simulator]).await;
        assert!(!other.status.success());
        assert!(stderr(&other).contains("triggers payment.succeeded only"), "{}", stderr(&other));
        let nowhere = app.run_payhub(&["trigger", "payment.succeeded", "--provider", "pingpp", "--pingpp-simulator", "http://127.0.0.1:9"]).await;
        assert!(!nowhere.status.success());
        assert!(stderr(&nowhere).contains("--pingpp-simulator"), "{}", stderr(&nowhere));
    }

    async fn doctor_passes_every_check_of_a_hub_on_the_sandbox(app) {
        let output = app.run_payhub(&["doctor"]).await;
        let printed = stdout(&output);
        assert!(output.status.success(), "{printed}\n{}", stderr(&output));
        for check in ["hub reachable", "API key: valid, test mode", "database: reachable, schema up to date",
                      "PayPal credentials", "PayPal webhook", "public URL"] {
            assert!(printed.lines().any(|l| l.starts_with("✓ ") && l.contains(check)), "{check}: {printed}");
        }
        assert!(!printed.contains('✗'), "{printed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_tail_prints_new_events_of_the_chosen_type_as_they_happen() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let tail = app.start_payhub(&["events", "tail", "--type", "payment.succeeded", "--interval", "100ms"]);
    tail.line_with(&app, "tailing payment.succeeded events").await;
    let payment = app.paid_payment(1_100).await;
    let id = payment["id"].as_str().unwrap();
    let line = tail.line_with(&app, id).await;
    assert!(line.contains("payment.succeeded") && line.contains("evt_"), "{line}");
    assert!(!tail.output().contains("payment.created"), "other types are filtered out: {}", tail.output());
    assert!(tail.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_refused_by_the_hub_or_for_live_mode_say_the_fix() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (_, live_key) = create_api_key(&app.hub.db, &app.hub.ids, app.clock.now(), Mode::Live, "cli").await.unwrap();

    let trigger =
        app.payhub(&["trigger", "payment.succeeded"]).env("PAYHUB_API_KEY", &live_key).output().await.unwrap();
    assert!(!trigger.status.success());
    assert!(stderr(&trigger).contains("test mode only"), "{}", stderr(&trigger));

    // Live-mode endpoints may not be on loopback unless the operator allows the network.
    let listen = app.payhub(&["listen"]).env("PAYHUB_API_KEY", &live_key).output().await.unwrap();
    assert!(!listen.status.success());
    let refusal = stderr(&listen);
    assert!(refusal.contains("loopback") && refusal.contains("allow_private_networks"), "{refusal}");

    let bad_key =
        app.payhub(&["events", "resend", "evt_x"]).env("PAYHUB_API_KEY", "sk_test_nope").output().await.unwrap();
    assert!(!bad_key.status.success());
    assert!(stderr(&bad_key).contains("--api-key or PAYHUB_API_KEY"), "{}", stderr(&bad_key));

    let nowhere = app.payhub(&["doctor"]).env("PAYHUB_URL", "http://127.0.0.1:9").output().await.unwrap();
    assert!(!nowhere.status.success());
    let printed = stdout(&nowhere);
    assert!(printed.contains("✗ hub reachable") && printed.contains("fix: start the hub"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_each_failed_check_of_the_hub_with_its_fix() {
    // Providers and buyers are told to reach this hub where nothing listens.
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| settings.public_url = "http://127.0.0.1:9".into())
        .await
        .unwrap();
    let output = app.run_payhub(&["doctor"]).await;
    assert!(!output.status.success());
    let printed = stdout(&output);
    assert!(printed.contains("✓ database"), "{printed}");
    assert!(
        printed
            .contains("✗ PayPal webhook: no webhook of this PayPal app points to http://127.0.0.1:9/webhooks/paypal"),
        "{printed}"
    );
    assert!(printed.contains("✗ public URL"), "{printed}");
    assert_eq!(printed.matches("    fix: ").count(), 2, "one fix per failure: {printed}");
    assert!(stderr(&output).contains("each ✗ line says its fix"), "{}", stderr(&output));
}
