//! The fake PayPal's catalog, subscriptions and v1 sales routes: canned answers in PayPal's
//! shapes, a few ids that trigger the answers under test, and list calls that echo their query
//! string in the `self` link so tests can see what was sent.

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

const API: &str = "https://api-m.sandbox.paypal.com";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/v1/catalogs/products", post(create_product))
        .route("/v1/catalogs/products/{id}", get(get_product))
        .route("/v1/billing/plans", post(create_plan).get(list_plans))
        .route("/v1/billing/plans/{id}", get(get_plan).patch(no_content))
        .route("/v1/billing/plans/{id}/activate", post(no_content))
        .route("/v1/billing/plans/{id}/deactivate", post(no_content))
        .route("/v1/billing/plans/{id}/update-pricing-schemes", post(no_content))
        .route("/v1/billing/subscriptions", post(create_subscription))
        .route("/v1/billing/subscriptions/{id}", get(get_subscription).patch(no_content))
        .route("/v1/billing/subscriptions/{id}/revise", post(revise))
        .route("/v1/billing/subscriptions/{id}/suspend", post(change_status))
        .route("/v1/billing/subscriptions/{id}/cancel", post(change_status))
        .route("/v1/billing/subscriptions/{id}/activate", post(change_status))
        .route("/v1/billing/subscriptions/{id}/capture", post(capture))
        .route("/v1/billing/subscriptions/{id}/transactions", get(transactions))
        .route("/v1/payments/sale/{id}", get(get_sale))
        .route("/v1/payments/sale/{id}/refund", post(refund_sale))
}

async fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
}

fn product(id: &str, name: &Value) -> Value {
    json!({
        "id": id,
        "name": name,
        "type": "SERVICE",
        "category": "SOFTWARE",
        "create_time": "2026-01-05T10:00:00Z",
        "update_time": "2026-01-05T10:00:00Z",
        "links": [{"href": format!("{API}/v1/catalogs/products/{id}"), "rel": "self", "method": "GET"}]
    })
}

async fn create_product(axum::Json(request): axum::Json<Value>) -> Response {
    (StatusCode::CREATED, axum::Json(product("PROD-6XB24663H4094933M", &request["name"]))).into_response()
}

async fn get_product(Path(id): Path<String>) -> Response {
    axum::Json(product(&id, &json!("Video Streaming Service"))).into_response()
}

fn plan(id: &str, status: &str, request: &Value) -> Value {
    let mut plan = json!({
        "id": id,
        "product_id": request["product_id"],
        "name": request["name"],
        "status": status,
        "usage_type": "LICENSED",
        "billing_cycles": request["billing_cycles"],
        "payment_preferences": request["payment_preferences"],
        "create_time": "2026-01-05T10:00:00Z",
        "links": [{"href": format!("{API}/v1/billing/plans/{id}"), "rel": "self", "method": "GET"}]
    });
    // PayPal leaves out what a plan does not have.
    if let Some(fields) = plan.as_object_mut() {
        fields.retain(|_, value| !value.is_null());
    }
    plan
}

async fn create_plan(axum::Json(request): axum::Json<Value>) -> Response {
    (StatusCode::CREATED, axum::Json(plan("P-5ML4271244454362WXNWU5NQ", "ACTIVE", &request))).into_response()
}

async fn get_plan(Path(id): Path<String>) -> Response {
    let status = if id == "P-NEWSTATUS" { "RETIRED" } else { "ACTIVE" };
    axum::Json(plan(&id, status, &json!({"product_id": "PROD-6XB24663H4094933M", "name": "Basic"}))).into_response()
}

async fn list_plans(RawQuery(query): RawQuery) -> Response {
    let href = format!("{API}/v1/billing/plans?{}", query.unwrap_or_default());
    axum::Json(json!({
        "plans": [plan("P-5ML4271244454362WXNWU5NQ", "ACTIVE", &json!({"product_id": "PROD-6XB24663H4094933M", "name": "Basic"}))],
        "total_items": 1,
        "total_pages": 1,
        "links": [{"href": href, "rel": "self", "method": "GET"}]
    }))
    .into_response()
}

fn subscription(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "plan_id": "P-5ML4271244454362WXNWU5NQ",
        "status": status,
        "status_update_time": "2026-01-05T10:00:00Z",
        "create_time": "2026-01-05T10:00:00Z",
        "links": [
            {"href": format!("https://www.sandbox.paypal.com/webapps/billing/subscriptions?ba_token=BA-2M539689T3856352J"), "rel": "approve", "method": "GET"},
            {"href": format!("{API}/v1/billing/subscriptions/{id}"), "rel": "edit", "method": "PATCH"},
            {"href": format!("{API}/v1/billing/subscriptions/{id}"), "rel": "self", "method": "GET"}
        ]
    })
}

async fn create_subscription() -> Response {
    (StatusCode::CREATED, axum::Json(subscription("I-BW452GLLEP1G", "APPROVAL_PENDING"))).into_response()
}

async fn get_subscription(Path(id): Path<String>) -> Response {
    let status = if id == "I-NEWSTATUS" { "PAUSED_FOR_REVIEW" } else { "ACTIVE" };
    axum::Json(subscription(&id, status)).into_response()
}

async fn revise(Path(id): Path<String>, axum::Json(request): axum::Json<Value>) -> Response {
    axum::Json(json!({
        "plan_id": request["plan_id"],
        "quantity": "1",
        "plan_overridden": false,
        "links": [
            {"href": "https://www.sandbox.paypal.com/webapps/billing/subscriptions/update?ba_token=BA-8A802366G0648845Y", "rel": "approve", "method": "GET"},
            {"href": format!("{API}/v1/billing/subscriptions/{id}"), "rel": "self", "method": "GET"}
        ]
    }))
    .into_response()
}

async fn change_status(Path(id): Path<String>) -> Response {
    if id == "I-CANCELLED" {
        let error = json!({
            "name": "UNPROCESSABLE_ENTITY",
            "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
            "debug_id": "b2f1c5b4b6a0a",
            "details": [{
                "issue": "SUBSCRIPTION_STATUS_INVALID",
                "description": "Invalid subscription status for cancel action; subscription status should be active or suspended."
            }],
            "links": [{"href": "https://developer.paypal.com/docs/api/v1/billing/subscriptions#UNPROCESSABLE_ENTITY", "rel": "information_link", "method": "GET"}]
        });
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(error)).into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

fn transaction(id: &str, gross: &Value) -> Value {
    json!({
        "id": id,
        "status": "COMPLETED",
        "payer_email": "customer@example.com",
        "payer_name": {"given_name": "John", "surname": "Doe"},
        "amount_with_breakdown": {
            "gross_amount": gross,
            "fee_amount": {"currency_code": "USD", "value": "1.00"},
            "net_amount": {"currency_code": "USD", "value": "9.00"}
        },
        "time": "2026-02-05T10:00:00Z"
    })
}

/// PayPal answers `202 Accepted` with no body.
async fn capture() -> Response {
    StatusCode::ACCEPTED.into_response()
}

async fn transactions(Path(id): Path<String>, RawQuery(query): RawQuery) -> Response {
    let href = format!("{API}/v1/billing/subscriptions/{id}/transactions?{}", query.unwrap_or_default());
    axum::Json(json!({
        "transactions": [transaction("TRFGHNJKOIIOJKL", &json!({"currency_code": "USD", "value": "10.00"}))],
        "links": [{"href": href, "rel": "self", "method": "GET"}]
    }))
    .into_response()
}

async fn get_sale(Path(id): Path<String>) -> Response {
    axum::Json(json!({
        "id": id,
        "state": "completed",
        "amount": {"total": "0.99", "currency": "USD", "details": {"subtotal": "0.99"}},
        "payment_mode": "INSTANT_TRANSFER",
        "transaction_fee": {"currency": "USD", "value": "0.33"},
        "billing_agreement_id": "I-DL5L53KM3N",
        "create_time": "2026-01-05T10:00:00Z",
        "update_time": "2026-01-05T10:00:00Z",
        "links": [{"method": "GET", "rel": "self", "href": format!("{API}/v1/payments/sale/{id}")}]
    }))
    .into_response()
}

async fn refund_sale(Path(id): Path<String>, axum::Json(request): axum::Json<Value>) -> Response {
    let amount = if request["amount"].is_null() {
        json!({"total": "0.99", "currency": "USD"})
    } else {
        request["amount"].clone()
    };
    let refund = json!({
        "id": "29B43325P49508437",
        "state": "completed",
        "amount": amount,
        "sale_id": id,
        "refund_from_transaction_fee": {"currency": "USD", "value": "0.03"},
        "refund_from_received_amount": {"currency": "USD", "value": "0.96"},
        "total_refunded_amount": {"currency": "USD", "value": "0.99"},
        "create_time": "2026-01-06T10:00:00Z",
        "update_time": "2026-01-06T10:00:00Z",
        "links": [{"href": format!("{API}/v1/payments/refund/29B43325P49508437"), "rel": "self", "method": "GET"}]
    });
    (StatusCode::CREATED, axum::Json(refund)).into_response()
}
