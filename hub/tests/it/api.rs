//! The API's contract: authentication, idempotency, validation and errors, pagination.

use futures::future::join_all;
use payhub::app::{Hub, RunningHub};
use payhub::config::OpsConfig;
use payhub::providers::Providers;
use payhub::services::api_keys::create_api_key;
use payhub_core::{Clock, Mode};
use payhub_sandbox::TestClock;
use payhub_store::testing::TestDatabase;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::test_settings;
use crate::on_both_stores;

on_both_stores! {
    async fn a_missing_or_revoked_api_key_is_refused(app) {
        let anonymous = app.http.get(format!("{}/v1/payments", app.url)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.headers()["content-type"], "application/problem+json");
        let problem: Value = anonymous.json().await.unwrap();
        assert_eq!(problem["code"], "api_key_missing");

        let (key, secret) = create_api_key(&app.hub.db, &app.hub.ids, app.clock.now(), Mode::Test, "temp").await.unwrap();
        let with = |secret: String| app.http.get(format!("{}/v1/payments", app.url)).bearer_auth(secret).send();
        assert_eq!(with(secret.clone()).await.unwrap().status(), 200);
        assert!(app.hub.db.revoke_api_key(&key.id, app.clock.now()).await.unwrap());
        let revoked = with(secret).await.unwrap();
        assert_eq!(revoked.status(), 401);
        assert_eq!(revoked.json::<Value>().await.unwrap()["code"], "api_key_invalid");
    }

    async fn live_keys_never_see_test_objects(app) {
        let payment = app.create_payment(1000).await;
        let (_, live) = create_api_key(&app.hub.db, &app.hub.ids, app.clock.now(), Mode::Live, "live").await.unwrap();
        let url = format!("{}/v1/payments/{}", app.url, payment["id"].as_str().unwrap());
        let seen = app.http.get(&url).bearer_auth(&live).send().await.unwrap();
        assert_eq!(seen.status(), 404);
        let created = app.http.post(format!("{}/v1/payments", app.url)).bearer_auth(&live)
            .header("Idempotency-Key", "live-1")
            .json(&json!({"provider": "paypal", "amount": 100, "currency": "USD"})).send().await.unwrap();
        assert_eq!(created.status(), 422);
        assert_eq!(created.json::<Value>().await.unwrap()["code"], "provider_not_configured");
    }

    async fn the_same_idempotency_key_and_body_return_the_same_payment_once(app) {
        let body = json!({"provider": "paypal", "amount": 1234, "currency": "USD"});
        let first = app.post_with_key("/v1/payments", "same-key", body.clone()).await;
        assert_eq!(first.status(), 201);
        assert_eq!(first.headers()["idempotent-replayed"], "false");
        let first: Value = first.json().await.unwrap();
        let again = app.post_with_key("/v1/payments", "same-key", body).await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.unwrap(), first);
        let list = app.get_json("/v1/payments").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "one payment, not two");
    }

    async fn concurrent_creations_under_distinct_keys_are_each_recorded_once(app) {
        let body = json!({"provider": "paypal", "amount": 700, "currency": "USD"});
        let keys: Vec<String> = (0..24).map(|i| format!("together-{i}")).collect();
        let created = join_all(keys.iter().map(|key| app.post_with_key("/v1/payments", key, body.clone()))).await;
        let mut ids = Vec::new();
        for response in created {
            assert_eq!(response.status(), 201);
            ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "a payment per key: {ids:?}");
        let list = app.get_json("/v1/payments?limit=100").await;
        assert_eq!(list["data"].as_array().unwrap().len(), keys.len());
        for (key, id) in keys.iter().zip(&ids) {
            let again = app.post_with_key("/v1/payments", key, body.clone()).await;
            assert_eq!(again.headers()["idempotent-replayed"], "true", "{key}");
            assert_eq!(again.json::<Value>().await.unwrap()["id"], id.as_str(), "{key} answers its own payment");
        }
    }

    async fn concurrent_requests_under_one_key_create_one_payment(app) {
        let body = json!({"provider": "paypal", "amount": 700, "currency": "USD"});
        let sent = join_all((0..8).map(|_| app.post_with_key("/v1/payments", "one-key", body.clone()))).await;
        let mut ids = std::collections::HashSet::new();
        for response in sent {
            match response.status().as_u16() {
                201 => {
                    ids.insert(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
                }
                409 => assert_eq!(response.json::<Value>().await.unwrap()["code"], "idempotency_key_in_use"),
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(ids.len(), 1, "every success answers the same payment: {ids:?}");
        let list = app.get_json("/v1/payments").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "one payment, not more");
    }

    async fn an_idempotency_key_reused_with_another_body_is_refused(app) {
        let first = app.post_with_key("/v1/payments", "k", json!({"provider": "paypal", "amount": 100, "currency": "USD"})).await;
        assert_eq!(first.status(), 201);
        let other = app.post_with_key("/v1/payments", "k", json!({"provider": "paypal", "amount": 999, "currency": "USD"})).await;
        assert_eq!(other.status(), 422);
        assert_eq!(other.json::<Value>().await.unwrap()["code"], "idempotency_key_reused");
    }

    async fn a_post_without_idempotency_key_is_refused_with_the_fix(app) {
        let response = app.http.post(format!("{}/v1/payments", app.url)).bearer_auth(&app.api_key)
            .json(&json!({"provider": "paypal", "amount": 100, "currency": "USD"})).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "idempotency_key_missing");
        assert!(problem["detail"].as_str().unwrap().contains("Idempotency-Key"));
    }

    async fn a_refused_request_can_be_fixed_and_retried_with_the_same_key(app) {
        let bad = app.post_with_key("/v1/payments", "fix-me", json!({"provider": "paypal", "amount": -5, "currency": "USD"})).await;
        assert_eq!(bad.status(), 422);
        let fixed = app.post_with_key("/v1/payments", "fix-me", json!({"provider": "paypal", "amount": 5, "currency": "USD"})).await;
        assert_eq!(fixed.status(), 201);
    }

    async fn invalid_payments_are_refused_naming_the_field(app) {
        let cases = [
            (json!({"provider": "paypal", "amount": 0, "currency": "USD"}), "amount"),
            (json!({"provider": "paypal", "amount": 100, "currency": "usd"}), "currency"),
            (json!({"provider": "paypal", "amount": 100, "currency": "KRW"}), "currency"),
            (json!({"provider": "paypal", "amount": 150050, "currency": "HUF"}), "amount"),
            (json!({"provider": "paypal", "amount": 100, "currency": "USD", "channel": "alipay_qr"}), "channel"),
            (json!({"provider": "paypal", "amount": 100, "currency": "USD", "return_url": "javascript:alert(1)"}), "return_url"),
            (json!({"provider": "paypal", "currency": "USD"}), "amount"),
            (json!({"provider": "stripe", "amount": 100, "currency": "USD"}), "provider"),
            (json!({"provider": "paypal", "amount": 100, "currency": "USD", "colour": "red"}), "colour"),
        ];
        for (body, field) in cases {
            let response = app.post("/v1/payments", body.clone()).await;
            assert_eq!(response.status(), 422, "{body}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "invalid_request", "{body}");
            assert!(problem["detail"].as_str().unwrap().contains(field), "{body}: {problem}");
        }
        let krw: Value = app.post("/v1/payments", json!({"provider": "paypal", "amount": 100, "currency": "KRW"})).await.json().await.unwrap();
        assert!(krw["detail"].as_str().unwrap().contains("USD"), "names the valid currencies: {krw}");
    }

    async fn malformed_or_oversized_bodies_get_clear_errors(app) {
        let send = |body: Vec<u8>, content_type: &'static str| {
            app.http.post(format!("{}/v1/payments", app.url)).bearer_auth(&app.api_key)
                .header("Idempotency-Key", format!("k{}", body.len()))
                .header("content-type", content_type).body(body).send()
        };
        let syntax = send(b"{\"provider\": ".to_vec(), "application/json").await.unwrap();
        assert_eq!(syntax.status(), 400);
        assert_eq!(syntax.json::<Value>().await.unwrap()["code"], "malformed_request");
        let form = send(b"amount=1".to_vec(), "application/x-www-form-urlencoded").await.unwrap();
        assert_eq!(form.status(), 415);
        let unreadable_path = app.get("/v1/payments/%FF%FE").await;
        assert_eq!(unreadable_path.status(), 400);
        assert_eq!(unreadable_path.json::<Value>().await.unwrap()["code"], "malformed_request");
        // Last: the server closes a connection whose body it refused unread, and a pooled
        // client may not notice before its next request.
        let huge = send(vec![b' '; 200 * 1024], "application/json").await.unwrap();
        assert_eq!(huge.status(), 413);
        assert_eq!(huge.json::<Value>().await.unwrap()["code"], "payload_too_large");
    }

    async fn refund_over_the_remaining_amount_says_how_much_is_left(app) {
        let payment = app.paid_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        assert_eq!(app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 600})).await.status(), 201);
        let over = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 500})).await;
        assert_eq!(over.status(), 422);
        let problem: Value = over.json().await.unwrap();
        assert_eq!(problem["code"], "refund_exceeds_remaining");
        assert_eq!(problem["remaining"], json!({"amount": 400, "currency": "USD"}));
        assert!(problem["detail"].as_str().unwrap().contains("4.00 USD"));
    }

    async fn concurrent_refund_requests_never_exceed_the_captured_amount(app) {
        let payment = app.paid_payment(1000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/payments/{id}/refunds");
        let attempts = (0..8).map(|_| app.post(&path, json!({"amount": 300})));
        let statuses: Vec<u16> = join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 422), "{statuses:?}");
        let after = app.payment(&id).await;
        assert_eq!(after["amount_refunded"], 900);
        let refunds = app.get_json(&format!("/v1/payments/{id}/refunds")).await;
        let total: i64 = refunds["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).sum();
        assert_eq!(total, 900);
    }

    async fn unpaid_payments_cannot_be_refunded(app) {
        let payment = app.create_payment(1000).await;
        let response = app.post(&format!("/v1/payments/{}/refunds", payment["id"].as_str().unwrap()), json!({})).await;
        assert_eq!(response.status(), 409);
        let problem = response.json::<Value>().await.unwrap();
        assert_eq!((problem["status"].clone(), problem["current_status"].clone()), (json!(409), json!("requires_action")));
    }

    async fn lists_are_cursor_paginated_newest_first(app) {
        let mut ids = Vec::new();
        for amount in [100, 200, 300] {
            ids.push(app.create_payment(amount).await["id"].as_str().unwrap().to_owned());
        }
        let first = app.get_json("/v1/payments?limit=2").await;
        let page: Vec<&str> = first["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(page, [ids[2].as_str(), ids[1].as_str()]);
        assert_eq!(first["has_more"], true);
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = app.get_json(&format!("/v1/payments?limit=2&starting_after={cursor}")).await;
        assert_eq!(second["data"][0]["id"], ids[0].as_str());
        assert_eq!(second["has_more"], false);
        let bad = app.get("/v1/payments?limit=500").await;
        assert_eq!(bad.status(), 422);
        // A cursor of another kind (a refund id here) is a mistake, not an empty page.
        let mistyped = app.get("/v1/payments?starting_after=re_01m88j2ke8aj9pa1anyp7jsdq1").await;
        assert_eq!(mistyped.status(), 422);
        let problem: Value = mistyped.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "starting_after", "{problem}");
        let status = app.get_json("/v1/payments?status=requires_action").await;
        assert_eq!(status["data"].as_array().unwrap().len(), 3);
    }

    async fn webhook_endpoints_validate_their_filters_and_can_be_deleted(app) {
        let bad = app.post("/v1/webhook_endpoints", json!({"url": "http://127.0.0.1:1/x", "event_types": ["payment.succeded"]})).await;
        assert_eq!(bad.status(), 422);
        assert!(bad.json::<Value>().await.unwrap()["detail"].as_str().unwrap().contains("payment.succeeded"));
        let created: Value = app.post("/v1/webhook_endpoints", json!({"url": "http://127.0.0.1:1/x", "event_types": ["refund.*"]})).await.json().await.unwrap();
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
        let id = created["id"].as_str().unwrap();
        let fetched = app.get_json(&format!("/v1/webhook_endpoints/{id}")).await;
        assert!(fetched.get("secret").is_none(), "the secret is shown once");
        let deleted = app.http.delete(format!("{}/v1/webhook_endpoints/{id}", app.url)).bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(app.get(&format!("/v1/webhook_endpoints/{id}")).await.status(), 404);
    }

    async fn the_openapi_document_and_ops_endpoints_are_served(app) {
        let doc: Value = app.http.get(format!("{}/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
        for path in ["/v1/payments", "/v1/payments/{id}/refunds", "/v1/refunds/{id}", "/v1/events", "/v1/webhook_endpoints"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
        assert_eq!(app.http.get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200);
        let ready: Value = app.http.get(format!("{}/readyz", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(ready["database"], "ok");
        app.create_payment(100).await;
        let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("payhub_"), "{metrics}");
        let problem: Value = app.http.get(format!("{}/problems/refund_exceeds_remaining", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(problem["status"], 422);
        let wrong_method = app.http.delete(format!("{}/v1/payments", app.url)).bearer_auth(&app.api_key).send().await.unwrap();
        assert_eq!(wrong_method.status(), 405);
        assert_eq!(wrong_method.headers()["content-type"], "application/problem+json");
        let problem: Value = wrong_method.json().await.unwrap();
        assert_eq!(problem["code"], "method_not_allowed");
    }

    async fn a_path_id_that_is_malformed_or_of_another_kind_is_not_found(app) {
        let payment = app.create_payment(1000).await;
        let payment_id = payment["id"].as_str().unwrap();
        let shouted = payment_id.to_ascii_uppercase().replacen("PAY_", "pay_", 1);
        let cases = [
            ("/v1/payments/not_an_id".to_owned(), "no payment `not_an_id` in this mode".to_owned()),
            (format!("/v1/refunds/{payment_id}"), format!("no refund `{payment_id}` in this mode")),
            (format!("/v1/payments/{shouted}"), format!("no payment `{shouted}` in this mode")),
            (format!("/v1/payments/re_{}/refunds", &payment_id[4..]), format!("no payment `re_{}` in this mode", &payment_id[4..])),
            (format!("/v1/subscriptions/{payment_id}"), format!("no subscription `{payment_id}` in this mode")),
            ("/v1/plans/plan_1".to_owned(), "no plan `plan_1` in this mode".to_owned()),
            ("/v1/events/evt_%20".to_owned(), "no event `evt_ ` in this mode".to_owned()),
            ("/v1/webhook_endpoints/we_x".to_owned(), "no webhook endpoint `we_x` in this mode".to_owned()),
        ];
        for (path, detail) in cases {
            let response = app.get(&path).await;
            assert_eq!(response.status(), 404, "{path}");
            assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "not_found", "{path}");
            assert_eq!(problem["detail"], detail.as_str(), "{path}");
        }
        let cancel = app.post(&format!("/v1/payments/{}/cancel", &payment_id[..payment_id.len() - 1]), json!({})).await;
        assert_eq!(cancel.status(), 404);
        assert_eq!(cancel.json::<Value>().await.unwrap()["code"], "not_found");
    }

    async fn a_request_wrong_in_its_body_and_its_path_id_hears_about_the_body_first(app) {
        let cases = [
            ("/v1/payments/not_an_id/refunds", json!({"amount": "ten"}), "amount"),
            ("/v1/payments/not_an_id/refunds", json!({"reason": "x".repeat(256)}), "reason"),
            ("/v1/plans/not_an_id/price", json!({"price": "free"}), "price"),
            ("/v1/subscriptions/not_an_id/change", json!({"quantity": -1}), "quantity"),
            ("/v1/subscriptions/not_an_id/cancel", json!({"at_period_end": "soon"}), "at_period_end"),
        ];
        for (path, body, field) in cases {
            let response = app.post(path, body).await;
            assert_eq!(response.status(), 422, "{path}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
        }
    }
}

/// A hub without providers or workers, with `ops` as its `[ops]` section.
async fn hub_with_ops(ops: OpsConfig) -> (RunningHub, TestDatabase) {
    let database = TestDatabase::sqlite().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut settings = test_settings(&format!("http://{}", listener.local_addr().unwrap()));
    settings.workers.enabled = false;
    settings.ops = ops;
    let hub = Hub::new(database.db.clone(), TestClock::new(), Providers::default(), settings);
    (hub.serve(listener).await.unwrap(), database)
}

#[tokio::test]
async fn with_an_ops_token_metrics_and_readiness_need_it_and_health_does_not() {
    let token = "ops-token-0123456789";
    let (running, _database) = hub_with_ops(OpsConfig { listen: None, token: Some(token.into()) }).await;
    let http = reqwest::Client::new();
    for path in ["/metrics", "/readyz"] {
        let url = format!("{}{path}", running.url());
        let without = http.get(&url).send().await.unwrap();
        assert_eq!(without.status(), 401, "{path}");
        assert_eq!(without.json::<Value>().await.unwrap()["code"], "ops_token_required");
        let wrong = http.get(&url).bearer_auth("ops-token-0123456788").send().await.unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
        assert_eq!(http.get(&url).bearer_auth(token).send().await.unwrap().status(), 200, "{path}");
    }
    assert_eq!(http.get(format!("{}/healthz", running.url())).send().await.unwrap().status(), 200);
    running.shutdown().await;
}

#[tokio::test]
async fn with_an_ops_listener_the_api_address_no_longer_serves_metrics() {
    let ops = OpsConfig { listen: Some("127.0.0.1:0".parse().unwrap()), token: None };
    let (running, _database) = hub_with_ops(ops).await;
    let http = reqwest::Client::new();
    let ops_url = format!("http://{}", running.ops_address.expect("an ops address"));
    for path in ["/metrics", "/readyz", "/healthz"] {
        assert_eq!(http.get(format!("{}{path}", running.url())).send().await.unwrap().status(), 404, "{path}");
        assert_eq!(http.get(format!("{ops_url}{path}")).send().await.unwrap().status(), 200, "{path}");
    }
    assert_eq!(http.get(format!("{ops_url}/v1/payments")).send().await.unwrap().status(), 404);
    running.shutdown().await;
}
