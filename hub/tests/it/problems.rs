//! Failures answer with a typed problem that says what to do: a capability a provider lacks is
//! the caller's to fix (422), and a notification the database cannot hold is kept for a person
//! instead of being retried forever.

use payhub::workers::inbox_writer::{InboxWriteError, InboxWriter};
use payhub_core::{Clock, Mode, ProviderName};
use payhub_store::testing::{Backend, TestDatabase};
use payhub_store::{Dialect, InboxInsert, NewInboxEntry};
use serde_json::{Value, json};

use crate::on_both_stores;

/// PostgreSQL text cannot hold a NUL character; JSON strings can, and a provider signs them.
const UNSTORABLE_EVENT_ID: &str = "WH-NUL-\u{0}-1";

fn unhandled_event(event_id: &str) -> Value {
    json!({
        "id": event_id,
        "event_version": "1.0",
        "create_time": "2026-11-25T10:00:00Z",
        "resource_type": "checkout-order",
        "event_type": "CUSTOMER.DISPUTE.CREATED",
        "summary": "A dispute was created",
        "resource": {},
        "links": []
    })
}

on_both_stores! {
    async fn a_plan_through_a_provider_without_subscriptions_is_refused_naming_what_is_missing(app) {
        let response = app
            .post("/v1/plans", json!({
                "provider": "pingpp", "name": "Premium monthly", "currency": "CNY", "entitlement": "premium",
                "regular_cycle": {"interval_unit": "month", "price": 1500}
            }))
            .await;
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "provider_capability_unsupported", "{problem}");
        assert_eq!(problem["type"], "/problems/provider_capability_unsupported");
        assert_eq!((problem["provider"].as_str(), problem["capability"].as_str()), (Some("pingpp"), Some("subscriptions")));
        assert!(problem["detail"].as_str().unwrap().contains("use a provider that offers subscriptions"), "{problem}");

        let page: Value = app.get_json("/problems/provider_capability_unsupported").await;
        assert_eq!((page["status"].clone(), page["title"].clone()), (json!(422), json!("Provider does not offer this")));
        let unknown = app.http.get(format!("{}/problems/no_such_problem", app.url)).send().await.unwrap();
        assert_eq!(unknown.status(), 404);
        assert_eq!(unknown.headers()["content-type"], "application/problem+json");
    }

    async fn a_verified_notification_the_database_cannot_hold_is_kept_whole_and_refused(app) {
        let notification = app.signed_notification(&unhandled_event(UNSTORABLE_EVENT_ID)).await;
        let response = app.deliver(&notification).await;
        if app.hub.db.dialect() == Dialect::Sqlite {
            // SQLite text holds any character: stored like any other notification.
            assert_eq!(response.status(), 200);
            return;
        }
        assert_eq!(response.status(), 400, "refused for good, not 503 \"send it again\"");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "malformed_notification", "{problem}");
        let rejections = app.hub.db.recent_rejections(ProviderName::Paypal, 1).await.unwrap();
        assert_eq!(rejections.first().map(|(reason, ..)| reason.as_str()), Some("unstorable"));
    }
}

fn entry(event_id: &str) -> NewInboxEntry {
    NewInboxEntry {
        provider: ProviderName::Paypal,
        mode: Mode::Test,
        provider_event_id: event_id.into(),
        event_type: "CUSTOMER.DISPUTE.CREATED".into(),
        body: b"{}".to_vec(),
        headers: vec![],
        received_at: payhub::clock::SystemClock.now(),
    }
}

/// One notification the database refuses must not keep the rest of its batch out, and is told
/// apart from "come back later".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_the_database_refuses_does_not_keep_its_batch_out() {
    let Some(t) = TestDatabase::fresh(Backend::Postgres).await else { return };
    let writer = InboxWriter::start(t.db.clone(), || {});
    let (refused, stored) = tokio::join!(writer.write(entry(UNSTORABLE_EVENT_ID)), writer.write(entry("WH-FINE-1")));
    assert!(matches!(refused, Err(InboxWriteError::Unstorable(_))), "{refused:?}");
    assert_eq!(stored.unwrap(), InboxInsert::Inserted);
    assert_eq!(t.db.notification_status(ProviderName::Paypal, "WH-FINE-1").await.unwrap().as_deref(), Some("pending"));
}
