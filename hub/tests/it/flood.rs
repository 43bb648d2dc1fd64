//! A flood of forged notifications costs a few rows, not the disk.

use chrono::Duration as Span;
use payhub_core::ProviderName;
use payhub_store::RejectionCount;
use payhub_store::testing::Backend;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_stores;

impl TestApp {
    /// Sends `count` notifications to PayPal's ingress that carry none of PayPal's signature
    /// headers, as a forger who knows nothing would; returns their statuses.
    async fn send_forgeries(&self, count: usize) -> Vec<u16> {
        let mut statuses = Vec::new();
        for n in 0..count {
            let forged = json!({ "id": format!("WH-FORGED-{n}"), "event_type": "PAYMENT.CAPTURE.COMPLETED" });
            let response = self.http.post(format!("{}/webhooks/paypal", self.url)).json(&forged).send().await.unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    }

    async fn kept_samples(&self) -> usize {
        self.hub.db.recent_rejections(ProviderName::Paypal, 100_000).await.unwrap().len()
    }

    async fn counts(&self) -> Vec<(String, String, i64)> {
        let counts = self.hub.db.rejection_counts(ProviderName::Paypal).await.unwrap();
        counts.into_iter().map(|RejectionCount { reason, source, count, .. }| (reason, source, count)).collect()
    }
}

on_both_stores! {
    async fn a_flood_of_forgeries_is_counted_whole_and_kept_as_a_small_sample(app) {
        let statuses = app.send_forgeries(300).await;
        assert!(statuses.iter().all(|s| *s == 401), "every forgery refused");
        assert_eq!(app.counts().await, [("missing_header".to_owned(), "127.0.0.0/24".to_owned(), 300)]);
        // The first ten, then the 16th, 32nd, 64th, 128th and 256th.
        assert_eq!(app.kept_samples().await, 15);
    }

    async fn what_is_obviously_not_a_notification_is_counted_without_a_row(app) {
        let text = app.http.post(format!("{}/webhooks/paypal", app.url)).header("content-type", "text/plain").body("hello").send().await.unwrap();
        assert_eq!(text.status(), 415);
        let huge = app.http.post(format!("{}/webhooks/paypal", app.url)).header("content-type", "application/json").body(vec![b' '; 2 << 20]).send().await.unwrap();
        assert_eq!(huge.status(), 413);
        let mut counts = app.counts().await;
        counts.sort();
        let source = "127.0.0.0/24".to_owned();
        assert_eq!(counts, [("payload_too_large".to_owned(), source.clone(), 1), ("unsupported_media_type".to_owned(), source, 1)]);
        assert_eq!(app.kept_samples().await, 0);
    }
}

/// Samples beyond `max_samples` and anything older than the retention are deleted.
async fn old_and_surplus_samples_are_deleted(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |settings| settings.rejections.max_samples = 5).await else { return };
    let text = app
        .http
        .post(format!("{}/webhooks/paypal", app.url))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    app.send_forgeries(8).await;
    assert_eq!(app.kept_samples().await, 5, "only the most recent samples");
    app.advance(Span::days(8)).await;
    app.send_forgeries(1).await;
    assert_eq!(app.kept_samples().await, 1, "samples older than the retention are gone");
    assert_eq!(
        app.counts().await,
        [("missing_header".to_owned(), "127.0.0.0/24".to_owned(), 9)],
        "a count seen within the retention stays; one not seen since is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_surplus_samples_are_deleted_sqlite() {
    old_and_surplus_samples_are_deleted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_surplus_samples_are_deleted_postgres() {
    old_and_surplus_samples_are_deleted(Backend::Postgres).await;
}
