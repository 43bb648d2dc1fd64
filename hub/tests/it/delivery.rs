//! Delivering events to merchant endpoints: one endpoint's trouble is its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::helpers::TestApp;
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

impl TestApp {
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
