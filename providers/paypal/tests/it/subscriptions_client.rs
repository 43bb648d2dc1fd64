//! What goes on the wire for products, plans, subscriptions and v1 sales, and how the answers
//! (including `204 No Content` ones) are mapped.

use chrono::{TimeZone, Utc};
use payhub_paypal::{
    Amount, BillingCycle, CaptureSubscriptionRequest, CreatePlanRequest, CreateProductRequest,
    CreateSubscriptionRequest, Frequency, IntervalUnit, PatchOperation, PaymentPreferences, PlanQuery, PlanStatus,
    PricingScheme, PricingSchemeUpdate, ReviseSubscriptionRequest, SaleAmount, SaleRefundRequest, SaleRefundState,
    SaleState, SubscriptionApplicationContext, SubscriptionStatus,
};
use serde_json::json;

use crate::fake_paypal::FakePaypal;

fn weekly_plan_after_a_free_trial() -> CreatePlanRequest {
    CreatePlanRequest {
        product_id: "PROD-6XB24663H4094933M".into(),
        name: "Weekly after a 3-day trial".into(),
        billing_cycles: vec![
            BillingCycle::trial(1, Frequency::new(IntervalUnit::Day, 3), 1, None),
            BillingCycle::regular(2, Frequency::new(IntervalUnit::Week, 1), 0, Amount::new("USD", "4.99")),
        ],
        payment_preferences: PaymentPreferences {
            auto_bill_outstanding: Some(true),
            payment_failure_threshold: Some(3),
            ..PaymentPreferences::default()
        },
        description: None,
        status: None,
        taxes: None,
        quantity_supported: None,
    }
}

#[tokio::test]
async fn create_product_and_plan_post_paypal_json_with_the_callers_request_ids() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();

    let product = client
        .create_product("product-video", &CreateProductRequest::new("Video Streaming Service", "SERVICE"))
        .await
        .expect("product created");
    assert_eq!(product.id, "PROD-6XB24663H4094933M");
    let sent = paypal.last_api_request();
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/catalogs/products"));
    assert_eq!(sent.request_id.as_deref(), Some("product-video"));
    assert_eq!(sent.json(), json!({"name": "Video Streaming Service", "type": "SERVICE"}));

    let plan = client.create_plan("plan-weekly", &weekly_plan_after_a_free_trial()).await.expect("plan created");
    assert_eq!(plan.status, PlanStatus::Active);
    assert_eq!(plan.billing_cycles.len(), 2);
    let sent = paypal.last_api_request();
    assert_eq!(sent.request_id.as_deref(), Some("plan-weekly"));
    assert_eq!(
        sent.json(),
        json!({
            "product_id": "PROD-6XB24663H4094933M",
            "name": "Weekly after a 3-day trial",
            "billing_cycles": [
                {"frequency": {"interval_unit": "DAY", "interval_count": 3}, "tenure_type": "TRIAL", "sequence": 1, "total_cycles": 1},
                {"frequency": {"interval_unit": "WEEK", "interval_count": 1}, "tenure_type": "REGULAR", "sequence": 2, "total_cycles": 0,
                 "pricing_scheme": {"fixed_price": {"currency_code": "USD", "value": "4.99"}}}
            ],
            "payment_preferences": {"auto_bill_outstanding": true, "payment_failure_threshold": 3}
        })
    );
}

#[tokio::test]
async fn list_plans_sends_its_filters_in_the_query_string() {
    let paypal = FakePaypal::start().await;
    let listed = paypal
        .client()
        .list_plans(&PlanQuery {
            product_id: Some("PROD-6XB24663H4094933M".into()),
            plan_ids: vec!["P-A".into(), "P-B".into()],
            page_size: Some(20),
            page: Some(2),
            total_required: true,
        })
        .await
        .expect("plans listed");
    assert_eq!(listed.plans.len(), 1);
    assert_eq!(listed.total_items, Some(1));
    assert!(
        listed.links[0]
            .href
            .ends_with("?product_id=PROD-6XB24663H4094933M&plan_ids=P-A%2CP-B&page_size=20&page=2&total_required=true"),
        "{}",
        listed.links[0].href
    );
    assert_eq!(paypal.last_api_request().request_id, None);
}

#[tokio::test]
async fn plan_changes_answered_with_no_content_succeed_and_patches_carry_no_request_id() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    let plan_id = "P-5ML4271244454362WXNWU5NQ";

    client
        .patch_plan(plan_id, &[PatchOperation::replace("/payment_preferences/payment_failure_threshold", json!(7))])
        .await
        .expect("patched");
    let sent = paypal.last_api_request();
    assert_eq!((sent.method.as_str(), sent.request_id.as_deref()), ("PATCH", None));
    assert_eq!(
        sent.json(),
        json!([{"op": "replace", "path": "/payment_preferences/payment_failure_threshold", "value": 7}])
    );

    client.deactivate_plan("plan-off", plan_id).await.expect("deactivated");
    assert_eq!(paypal.last_api_request().path, format!("/v1/billing/plans/{plan_id}/deactivate"));
    client.activate_plan("plan-on", plan_id).await.expect("activated");
    assert_eq!(paypal.last_api_request().request_id.as_deref(), Some("plan-on"));

    client
        .update_plan_pricing(
            "plan-price",
            plan_id,
            &[PricingSchemeUpdate {
                billing_cycle_sequence: 2,
                pricing_scheme: PricingScheme::fixed(Amount::new("USD", "5.99")),
            }],
        )
        .await
        .expect("repriced");
    assert_eq!(
        paypal.last_api_request().json(),
        json!({"pricing_schemes": [{"billing_cycle_sequence": 2, "pricing_scheme": {"fixed_price": {"currency_code": "USD", "value": "5.99"}}}]})
    );
}

#[tokio::test]
async fn a_created_subscription_offers_its_approval_url_and_status_changes_send_the_reason() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    let created = client
        .create_subscription(
            "subscription-member-42",
            &CreateSubscriptionRequest {
                plan_id: "P-5ML4271244454362WXNWU5NQ".into(),
                custom_id: Some("member-42".into()),
                application_context: Some(SubscriptionApplicationContext {
                    return_url: "https://shop.example/return".into(),
                    cancel_url: "https://shop.example/cancel".into(),
                    user_action: Some("SUBSCRIBE_NOW".into()),
                    ..SubscriptionApplicationContext::default()
                }),
                ..CreateSubscriptionRequest::default()
            },
        )
        .await
        .expect("subscription created");
    assert_eq!(created.status, SubscriptionStatus::ApprovalPending);
    assert_eq!(
        created.approval_url(),
        Some("https://www.sandbox.paypal.com/webapps/billing/subscriptions?ba_token=BA-2M539689T3856352J")
    );
    let sent = paypal.last_api_request();
    assert_eq!(sent.request_id.as_deref(), Some("subscription-member-42"));
    assert_eq!(sent.prefer.as_deref(), Some("return=representation"));
    assert_eq!(sent.json()["application_context"]["return_url"], "https://shop.example/return");

    client.suspend_subscription("suspend-1", &created.id, "Customer asked for a pause").await.expect("suspended");
    let sent = paypal.last_api_request();
    assert_eq!(sent.path, format!("/v1/billing/subscriptions/{}/suspend", created.id));
    assert_eq!(sent.request_id.as_deref(), Some("suspend-1"));
    assert_eq!(sent.json(), json!({"reason": "Customer asked for a pause"}));
    client.activate_subscription("activate-1", &created.id, "Back").await.expect("activated");
    client.cancel_subscription("cancel-1", &created.id, "Moving away").await.expect("cancelled");
    assert_eq!(paypal.last_api_request().path, format!("/v1/billing/subscriptions/{}/cancel", created.id));

    let revised = client
        .revise_subscription(
            "revise-1",
            &created.id,
            &ReviseSubscriptionRequest { plan_id: Some("P-PREMIUM".into()), ..ReviseSubscriptionRequest::default() },
        )
        .await
        .expect("revised");
    assert_eq!(revised.plan_id.as_deref(), Some("P-PREMIUM"));
    assert!(revised.approval_url().is_some_and(|url| url.contains("ba_token=BA-")));
}

#[tokio::test]
async fn a_status_change_paypal_refuses_is_an_api_error_with_its_issue() {
    let paypal = FakePaypal::start().await;
    let error = paypal.client().cancel_subscription("cancel-2", "I-CANCELLED", "again").await.expect_err("refused");
    assert_eq!(error.status(), Some(422));
    assert_eq!(error.issue(), Some("SUBSCRIPTION_STATUS_INVALID"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn capture_and_transactions_read_paypals_transaction_shape() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    let captured = client
        .capture_subscription(
            "capture-1",
            "I-BW452GLLEP1G",
            &CaptureSubscriptionRequest::outstanding_balance("Charging the balance", Amount::new("USD", "15.00")),
        )
        .await
        .expect("an empty 202 is accepted");
    assert_eq!(captured, None, "PayPal answers 202 without a transaction");
    assert_eq!(
        paypal.last_api_request().json(),
        json!({"note": "Charging the balance", "capture_type": "OUTSTANDING_BALANCE", "amount": {"currency_code": "USD", "value": "15.00"}})
    );

    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 0).unwrap();
    let listed = client.subscription_transactions("I-BW452GLLEP1G", start, end).await.expect("listed");
    assert_eq!(listed.transactions[0].id, "TRFGHNJKOIIOJKL");
    assert!(
        listed.links[0].href.ends_with("?start_time=2026-01-01T00%3A00%3A00Z&end_time=2026-03-01T12%3A30%3A00Z"),
        "{}",
        listed.links[0].href
    );
}

#[tokio::test]
async fn sales_are_read_and_refunded_in_v1_shapes() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    let sale = client.get_sale("4DN9460XX161205Y").await.expect("sale");
    assert_eq!(sale.state, SaleState::Completed);
    assert_eq!(sale.billing_agreement_id.as_deref(), Some("I-DL5L53KM3N"));
    assert_eq!((sale.amount.total.as_str(), sale.amount.currency.as_str()), ("0.99", "USD"));

    let refund = client
        .refund_sale(
            "refund-sale-1",
            &sale.id,
            &SaleRefundRequest { amount: Some(SaleAmount::new("USD", "0.99")), ..SaleRefundRequest::default() },
        )
        .await
        .expect("refunded");
    assert_eq!(refund.state, SaleRefundState::Completed);
    assert_eq!(refund.sale_id.as_deref(), Some(sale.id.as_str()));
    let sent = paypal.last_api_request();
    assert_eq!(sent.path, format!("/v1/payments/sale/{}/refund", sale.id));
    assert_eq!(sent.request_id.as_deref(), Some("refund-sale-1"));
    assert_eq!(sent.json(), json!({"amount": {"total": "0.99", "currency": "USD"}}));
}

#[tokio::test]
async fn plan_and_subscription_statuses_this_crate_does_not_know_decode_as_other() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    let plan = client.get_plan("P-NEWSTATUS").await.expect("plan decodes");
    assert_eq!(plan.status, PlanStatus::Other("RETIRED".into()));
    let subscription = client.get_subscription("I-NEWSTATUS").await.expect("subscription decodes");
    assert_eq!(subscription.status, SubscriptionStatus::Other("PAUSED_FOR_REVIEW".into()));
}

#[tokio::test]
async fn optional_subscription_fields_are_asked_for_by_name() {
    let paypal = FakePaypal::start().await;
    let client = paypal.client();
    client.get_subscription_with_fields("I-BW452GLLEP1G", &["last_failed_payment", "plan"]).await.expect("read");
    let sent = paypal.last_api_request();
    assert_eq!(sent.path, "/v1/billing/subscriptions/I-BW452GLLEP1G");
    assert_eq!(sent.query.as_deref(), Some("fields=last_failed_payment%2Cplan"));
}
