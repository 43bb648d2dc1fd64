//! Request ids and the pages a browser finds: every answer names its request, every problem
//! carries the id, and the API reference is served from the binary alone.

use payhub_store::testing::Backend;
use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_request_id_is_echoed_in_the_header_and_the_problem_body() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let response = app
        .http
        .get(format!("{}/v1/payments/pay_unknown", app.url))
        .bearer_auth(&app.api_key)
        .header("X-Request-Id", "checkout-7f3a.2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "checkout-7f3a.2");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["request_id"], "checkout-7f3a.2");
    assert_eq!(problem["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unusable_request_id_is_replaced_by_a_minted_one() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let unauthenticated = app.http.get(format!("{}/v1/payments", app.url)).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let minted = unauthenticated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(minted.starts_with("req_"), "{minted}");
    let problem: Value = unauthenticated.json().await.unwrap();
    assert_eq!(problem["request_id"], minted.as_str());

    let odd = "a".repeat(200);
    let replaced = app.http.get(format!("{}/healthz", app.url)).header("X-Request-Id", &odd).send().await.unwrap();
    assert_eq!(replaced.status(), 200);
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(id.starts_with("req_") && id != odd, "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_is_html_that_loads_nothing_from_elsewhere() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let http = reqwest::Client::new();
    let docs = http.get(format!("{}/docs", app.url)).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = docs.text().await.unwrap();
    assert!(page.contains("swagger"), "{page}");
    let initializer = http.get(format!("{}/docs/swagger-initializer.js", app.url)).send().await.unwrap();
    assert_eq!(initializer.status(), 200);
    let initializer = initializer.text().await.unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    for text in [&page, &initializer] {
        assert!(!text.contains("http://") && !text.contains("https://"), "an outside address in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_points_to_the_reference_and_the_console() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let root = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(root.status(), 200);
    let page = root.text().await.unwrap();
    assert!(page.contains("href=\"/docs/\"") && page.contains("href=\"/admin\""), "{page}");
}
