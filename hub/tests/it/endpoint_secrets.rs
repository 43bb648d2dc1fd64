//! Endpoint signing secrets: rotation with an overlap window, and encryption at rest.

use axum::body::Bytes;
use axum::http::HeaderMap;
use payhub::encryption::{EncryptionKey, SecretsAtRest};
use payhub::services::Reservation;
use payhub::services::endpoints::{SecretsAtStart, prepare_stored_secrets, rotate_secret};
use payhub_core::id::{RequestId, WebhookEndpointId};
use payhub_core::{Clock, Mode};
use payhub_store::NewWebhookEndpoint;
use payhub_store::testing::Backend;
use serde_json::{Value, json};

use crate::helpers::{Receiver, TestApp, signature_is_valid};
use crate::on_both_stores;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const OTHER_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

fn encrypted_with(key: &str) -> SecretsAtRest {
    SecretsAtRest::encrypted_with(Some(EncryptionKey::from_base64(key).unwrap()))
}

async fn spawn_encrypting(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| settings.secrets = encrypted_with(KEY)).await
}

impl TestApp {
    async fn endpoint_id(&self) -> WebhookEndpointId {
        let list = self.get_json("/v1/webhook_endpoints").await;
        WebhookEndpointId::parse(list["data"][0]["id"].as_str().unwrap()).unwrap()
    }

    async fn rotate(&self, id: &WebhookEndpointId, body: Value) -> reqwest::Response {
        self.post(&format!("/v1/webhook_endpoints/{id}/rotate_secret"), body).await
    }

    /// A new payment, and the delivery of its first event to `receiver`.
    async fn delivery_of_a_new_payment(&self, receiver: &Receiver) -> (HeaderMap, Bytes) {
        let payment = self.create_payment(1000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let about_it =
            |(_, body): &&(HeaderMap, Bytes)| serde_json::from_slice::<Value>(body).unwrap()["resource_id"] == id;
        self.eventually("the payment's event is delivered", || async {
            receiver.received.lock().unwrap().iter().any(|d| about_it(&d))
        })
        .await;
        receiver.received.lock().unwrap().iter().find(|d| about_it(d)).cloned().unwrap()
    }
}

fn expiry(endpoint: &Value) -> chrono::DateTime<chrono::Utc> {
    endpoint["previous_secret_expires_at"].as_str().unwrap().parse().unwrap()
}

fn signatures(headers: &HeaderMap) -> usize {
    headers["webhook-signature"].to_str().unwrap().split(' ').count()
}

on_both_stores! {
    async fn a_replaced_secret_signs_beside_the_new_one_until_its_overlap_ends(app) {
        let old = app.endpoint_secret.clone();
        let id = app.endpoint_id().await;
        let before = app.clock.now();
        let rotated = app.rotate(&id, json!({ "expire_previous_in": 3600 })).await;
        assert_eq!(rotated.status(), 200);
        let rotated: Value = rotated.json().await.unwrap();
        let new = rotated["secret"].as_str().unwrap().to_owned();
        assert!(new.starts_with("whsec_") && new != old);
        let overlap = expiry(&rotated) - before;
        assert!(overlap >= chrono::Duration::hours(1) && overlap < chrono::Duration::minutes(61), "{overlap}");
        assert!(app.get_json(&format!("/v1/webhook_endpoints/{id}")).await.get("secret").is_none(), "shown once");

        let (headers, body) = app.delivery_of_a_new_payment(&app.receiver).await;
        assert_eq!(signatures(&headers), 2);
        assert!(signature_is_valid(&old, &headers, &body), "a receiver still on the old secret accepts");
        assert!(signature_is_valid(&new, &headers, &body), "a receiver already on the new secret accepts");

        app.advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1)).await;
        let (headers, body) = app.delivery_of_a_new_payment(&app.receiver).await;
        assert_eq!(signatures(&headers), 1);
        assert!(!signature_is_valid(&old, &headers, &body), "the old secret no longer verifies");
        assert!(signature_is_valid(&new, &headers, &body));
    }

    async fn a_rotation_without_overlap_replaces_the_secret_at_once(app) {
        let old = app.endpoint_secret.clone();
        let id = app.endpoint_id().await;
        let rotated: Value = app.rotate(&id, json!({ "expire_previous_in": 0 })).await.json().await.unwrap();
        let new = rotated["secret"].as_str().unwrap();
        assert!(rotated.get("previous_secret_expires_at").is_none());
        let (headers, body) = app.delivery_of_a_new_payment(&app.receiver).await;
        assert_eq!(signatures(&headers), 1);
        assert!(signature_is_valid(new, &headers, &body));
        assert!(!signature_is_valid(&old, &headers, &body));
    }

    async fn a_rotation_takes_a_day_by_default_and_refuses_more_than_a_week(app) {
        let id = app.endpoint_id().await;
        let before = app.clock.now();
        let rotated: Value = app.rotate(&id, json!({})).await.json().await.unwrap();
        let overlap = expiry(&rotated) - before;
        assert!(overlap >= chrono::Duration::days(1) && overlap < chrono::Duration::days(1) + chrono::Duration::minutes(1));
        for refused in [json!({ "expire_previous_in": 604801 }), json!({ "expire_previous_in": -1 })] {
            let response = app.rotate(&id, refused.clone()).await;
            assert_eq!(response.status(), 422, "{refused}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["errors"][0]["field"], "expire_previous_in");
        }
        let unknown = WebhookEndpointId::generate(&app.hub.ids, app.clock.now());
        assert_eq!(app.rotate(&unknown, json!({})).await.status(), 404);
    }

    async fn a_rotation_resumed_after_its_process_died_is_not_done_twice(app) {
        let old = app.endpoint_secret.clone();
        let id = app.endpoint_id().await;
        let request_id = RequestId::generate(&app.hub.ids, app.clock.now());
        let overlap = chrono::Duration::hours(1);
        let first = Reservation { request_id: request_id.clone(), resumed: false, key: "rotate-1".into() };
        let rotated = rotate_secret(&app.hub, Mode::Test, &id, overlap, &first).await.unwrap();
        // The process died before answering; the client's retry takes the request over.
        let resumed = Reservation { request_id, resumed: true, key: "rotate-1".into() };
        let again = rotate_secret(&app.hub, Mode::Test, &id, overlap, &resumed).await.unwrap();
        assert_eq!(again.secret, rotated.secret, "the resumed request answers with the rotation it made");
        let (headers, body) = app.delivery_of_a_new_payment(&app.receiver).await;
        assert!(signature_is_valid(&old, &headers, &body), "the secret receivers use still signs");
        assert!(signature_is_valid(&rotated.secret, &headers, &body));
    }
}

mod encrypted_at_rest {
    use super::*;

    on_both_stores! {
        with super::spawn_encrypting;

        async fn secrets_are_stored_encrypted_and_deliveries_verify_with_the_secret_shown(app) {
            let id = app.endpoint_id().await;
            let stored = app.hub.db.endpoint(Mode::Test, &id).await.unwrap().unwrap();
            assert!(stored.secret.starts_with("enc:v1:"), "{}", stored.secret);
            assert!(!stored.secret.contains(app.endpoint_secret.trim_start_matches("whsec_")));
            let (headers, body) = app.delivery_of_a_new_payment(&app.receiver).await;
            assert!(signature_is_valid(&app.endpoint_secret, &headers, &body));
        }

        async fn a_replayed_creation_shows_the_same_secret(app) {
            let (_, url) = Receiver::start().await;
            let body = json!({ "url": url });
            let first: Value = app.post_with_key("/v1/webhook_endpoints", "create-once", body.clone()).await.json().await.unwrap();
            let again = app.post_with_key("/v1/webhook_endpoints", "create-once", body).await;
            assert_eq!(again.headers()["idempotent-replayed"], "true");
            let again: Value = again.json().await.unwrap();
            assert_eq!(again["secret"], first["secret"]);
            assert_eq!(again["id"], first["id"]);
        }

        async fn a_rotation_keeps_both_secrets_encrypted_and_both_sign(app) {
            let old = app.endpoint_secret.clone();
            let id = app.endpoint_id().await;
            let rotated: Value = app.rotate(&id, json!({ "expire_previous_in": 600 })).await.json().await.unwrap();
            let stored = app.hub.db.endpoint(Mode::Test, &id).await.unwrap().unwrap();
            assert!(stored.secret.starts_with("enc:v1:"));
            assert!(stored.previous_secret.unwrap().starts_with("enc:v1:"));
            let (headers, body) = app.delivery_of_a_new_payment(&app.receiver).await;
            assert!(signature_is_valid(&old, &headers, &body));
            assert!(signature_is_valid(rotated["secret"].as_str().unwrap(), &headers, &body));
        }

        async fn a_plaintext_secret_from_before_the_key_signs_and_is_encrypted_at_start(app) {
            let (receiver, url) = Receiver::start().await;
            let plaintext = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
            let id = WebhookEndpointId::generate(&app.hub.ids, app.clock.now());
            let before = NewWebhookEndpoint {
                id: id.clone(),
                mode: Mode::Test,
                url,
                secret: plaintext.into(),
                event_types: vec!["*".into()],
                description: None,
            };
            app.hub.db.create_endpoint(before, app.clock.now()).await.unwrap();
            let (headers, body) = app.delivery_of_a_new_payment(&receiver).await;
            assert!(signature_is_valid(plaintext, &headers, &body), "a plaintext row stays readable");

            let encrypted = prepare_stored_secrets(&app.hub.db, &app.hub.settings.secrets, app.clock.now()).await.unwrap();
            assert_eq!(encrypted, 1, "only the plaintext endpoint needed it");
            let stored = app.hub.db.endpoint(Mode::Test, &id).await.unwrap().unwrap();
            assert!(stored.secret.starts_with("enc:v1:"));
            let (headers, body) = app.delivery_of_a_new_payment(&receiver).await;
            assert!(signature_is_valid(plaintext, &headers, &body));
        }

        async fn a_start_with_another_key_or_none_is_refused(app) {
            let now = app.clock.now();
            let same = prepare_stored_secrets(&app.hub.db, &encrypted_with(KEY), now).await;
            assert_eq!(same.unwrap(), 0);
            let other = prepare_stored_secrets(&app.hub.db, &encrypted_with(OTHER_KEY), now).await.unwrap_err();
            assert!(matches!(other, SecretsAtStart::WrongKey), "{other}");
            assert!(other.to_string().contains("not the key this database's webhook endpoint secrets were encrypted with"));
            let none = prepare_stored_secrets(&app.hub.db, &SecretsAtRest::default(), now).await.unwrap_err();
            assert!(matches!(none, SecretsAtStart::KeyMissing), "{none}");
            assert!(none.to_string().contains("set it (or PAYHUB_ENCRYPTION_KEY)"));
        }
    }
}

/// `payhub migrate` as an operator runs it, with `PAYHUB_ENCRYPTION_KEY` set to `key` (or not).
async fn migrate(url: &str, key: Option<&str>) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_payhub"));
    command.args(["migrate", "--database-url", url]).env_remove("PAYHUB_ENCRYPTION_KEY");
    if let Some(key) = key {
        command.env("PAYHUB_ENCRYPTION_KEY", key);
    }
    command.output().await.unwrap()
}

/// Setting a key on a database with plaintext secrets: `payhub migrate` encrypts them, and
/// from then on a start with another key or none is refused with what to do.
async fn migrate_encrypts_plaintext_secrets_and_then_requires_the_key(backend: Backend) {
    let Some(database) = payhub_store::testing::TestDatabase::fresh(backend).await else { return };
    let ids = payhub::ids::from_os_entropy();
    let now = payhub::clock::SystemClock.now();
    let id = WebhookEndpointId::generate(&ids, now);
    let before = NewWebhookEndpoint {
        id: id.clone(),
        mode: Mode::Test,
        url: "https://hooks.shop.example/payhub".into(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        event_types: vec!["*".into()],
        description: None,
    };
    database.db.create_endpoint(before, now).await.unwrap();

    let first = migrate(&database.url, Some(KEY)).await;
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(said.contains("encrypted the signing secrets of 1 webhook endpoints"), "{said}");
    let stored = database.db.endpoint(Mode::Test, &id).await.unwrap().unwrap();
    assert_eq!(
        encrypted_with(KEY).reveal(&stored.secret, id.as_str()).unwrap(),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    );
    assert!(stored.secret.starts_with("enc:v1:"));

    for (key, says) in [
        (Some(OTHER_KEY), "is not the key this database's webhook endpoint secrets were encrypted with"),
        (None, "set it (or PAYHUB_ENCRYPTION_KEY)"),
        (Some("c2hvcnQ="), "security.encryption_key must be 32 bytes"),
    ] {
        let refused = migrate(&database.url, key).await;
        let error = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && error.contains(says), "{key:?}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_encrypts_plaintext_secrets_and_then_requires_the_key_sqlite() {
    migrate_encrypts_plaintext_secrets_and_then_requires_the_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_encrypts_plaintext_secrets_and_then_requires_the_key_postgres() {
    migrate_encrypts_plaintext_secrets_and_then_requires_the_key(Backend::Postgres).await;
}
