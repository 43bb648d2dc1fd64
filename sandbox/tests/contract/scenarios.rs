//! Flows a merchant's backend runs, calling each implemented operation with a valid request at
//! least once (and a few refusals, whose bodies must match the documents' error schemas).

use reqwest::Method;
use serde_json::{Value, json};

use crate::Contract;
use crate::common::spawn_receiver;
use crate::paypal_harness::coffee_payment;

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("an id in {value}")).to_owned()
}

fn usd(value: &str) -> Value {
    json!({ "currency_code": "USD", "value": value })
}

pub async fn run(contract: &Contract<'_>) {
    let receiver = spawn_receiver().await;
    let webhook_id = webhooks(contract, &receiver.url).await;
    orders_and_payments(contract).await;
    disputes(contract).await;
    legacy_payments(contract).await;
    billing(contract).await;
    event_log(contract, &receiver, &webhook_id).await;
    contract.expect(204, DELETE, &format!("/v1/notifications/webhooks/{webhook_id}"), None).await;
}

async fn webhooks(contract: &Contract<'_>, url: &str) -> String {
    let body = json!({ "url": url, "event_types": [{ "name": "*" }] });
    let webhook_id = id(&contract.expect(201, POST, "/v1/notifications/webhooks", Some(body)).await);
    contract.expect(200, GET, "/v1/notifications/webhooks", None).await;
    let path = format!("/v1/notifications/webhooks/{webhook_id}");
    contract.expect(200, GET, &path, None).await;
    let patch = json!([{ "op": "replace", "path": "/url", "value": url }]);
    contract.expect(200, PATCH, &path, Some(patch)).await;
    contract.call(GET, "/v1/notifications/webhooks/WH-0", None).await;
    webhook_id
}

async fn event_log(contract: &Contract<'_>, receiver: &crate::common::Receiver, webhook_id: &str) {
    let delivery = receiver.wait_for(1).await.remove(0);
    contract.expect(200, GET, "/v1/notifications/webhooks-events", None).await;
    let event = delivery.json();
    let path = format!("/v1/notifications/webhooks-events/{}", id(&event));
    contract.expect(200, GET, &path, None).await;
    let resend = json!({ "webhook_ids": [webhook_id] });
    contract.expect(202, POST, &format!("{path}/resend"), Some(resend)).await;
    let verify = delivery.verification_request(event, webhook_id);
    let verified = contract.expect(200, POST, "/v1/notifications/verify-webhook-signature", Some(verify)).await;
    assert_eq!(verified["verification_status"], "SUCCESS");
}

/// An order of 20.00 USD whose amount is broken down and whose items add up.
fn itemized_order(intent: &str) -> Value {
    json!({
        "intent": intent,
        "purchase_units": [{
            "reference_id": "default",
            "description": "Coffee",
            "custom_id": "cart-7",
            "amount": {
                "currency_code": "USD",
                "value": "20.00",
                "breakdown": { "item_total": usd("17.50"), "tax_total": usd("1.30"), "shipping": usd("1.20") },
            },
            "items": [
                { "name": "Ground coffee", "quantity": "1", "unit_amount": usd("7.50"), "category": "PHYSICAL_GOODS" },
                { "name": "Oat bar", "quantity": "5", "unit_amount": usd("2.00") },
            ],
        }],
    })
}

/// Creates an order, lets the buyer approve it; returns its id.
async fn approved_order(contract: &Contract<'_>, intent: &str) -> String {
    let order_id = id(&contract.expect(201, POST, "/v2/checkout/orders", Some(itemized_order(intent))).await);
    contract.control(POST, &format!("/sandbox/paypal/orders/{order_id}/approve"), None).await;
    order_id
}

/// A captured order of 20.00 USD; returns the capture id.
pub async fn captured(contract: &Contract<'_>) -> String {
    let order_id = approved_order(contract, "CAPTURE").await;
    let captured =
        contract.expect(201, POST, &format!("/v2/checkout/orders/{order_id}/capture"), Some(json!({}))).await;
    id(&captured["purchase_units"][0]["payments"]["captures"][0])
}

async fn orders_and_payments(contract: &Contract<'_>) {
    let order_id = id(&contract.expect(201, POST, "/v2/checkout/orders", Some(itemized_order("CAPTURE"))).await);
    let path = format!("/v2/checkout/orders/{order_id}");
    contract.expect(200, GET, &path, None).await;
    let patch = json!([{ "op": "replace", "path": "/purchase_units/@reference_id=='default'/description", "value": "Coffee beans" }]);
    contract.expect(204, PATCH, &path, Some(patch)).await;
    contract.call(POST, &format!("{path}/capture"), Some(json!({}))).await;
    contract.call(GET, "/v2/checkout/orders/0", None).await;

    let capture_id = captured(contract).await;
    contract.expect(200, GET, &format!("/v2/payments/captures/{capture_id}"), None).await;
    let refund = json!({ "amount": usd("5.00"), "note_to_payer": "One bar was broken" });
    let refunded =
        contract.expect(201, POST, &format!("/v2/payments/captures/{capture_id}/refund"), Some(refund)).await;
    contract.expect(200, GET, &format!("/v2/payments/refunds/{}", id(&refunded)), None).await;

    let authorization = |answer: Value| id(&answer["purchase_units"][0]["payments"]["authorizations"][0]);
    let order_id = approved_order(contract, "AUTHORIZE").await;
    let authorize = format!("/v2/checkout/orders/{order_id}/authorize");
    let authorization_id = authorization(contract.expect(201, POST, &authorize, Some(json!({}))).await);
    let path = format!("/v2/payments/authorizations/{authorization_id}");
    contract.expect(200, GET, &path, None).await;

    let order_id = approved_order(contract, "AUTHORIZE").await;
    let authorize = format!("/v2/checkout/orders/{order_id}/authorize");
    let voided_id = authorization(contract.expect(201, POST, &authorize, Some(json!({}))).await);
    contract.call(POST, &format!("/v2/payments/authorizations/{voided_id}/void"), None).await;
    let void = contract.call(POST, &format!("/v2/payments/authorizations/{voided_id}/void"), None).await;
    assert_eq!(void.status, 422, "{}", void.body);

    contract.sandbox.advance("4d").await;
    contract.renew_token().await;
    let reauthorize = json!({ "amount": usd("20.00") });
    let renewed = id(&contract.expect(201, POST, &format!("{path}/reauthorize"), Some(reauthorize)).await);
    let capture =
        json!({ "amount": usd("10.00"), "final_capture": false, "invoice_id": "INV-7", "note_to_payer": "First half" });
    contract.expect(201, POST, &format!("/v2/payments/authorizations/{renewed}/capture"), Some(capture)).await;
}

async fn open_dispute(contract: &Contract<'_>, extra: Value) -> String {
    let capture_id = captured(contract).await;
    let opened = contract.control(POST, &format!("/sandbox/paypal/captures/{capture_id}/dispute"), Some(extra)).await;
    opened["dispute_id"].as_str().unwrap().to_owned()
}

async fn disputes(contract: &Contract<'_>) {
    let act = |id: &str, action: &str| format!("/v1/customer/disputes/{id}/{action}");
    let inquiry = open_dispute(contract, json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED" })).await;
    contract.expect(200, GET, "/v1/customer/disputes", None).await;
    contract.expect(200, GET, &format!("/v1/customer/disputes/{inquiry}"), None).await;
    let patch = json!([{ "op": "add", "path": "/communication_details", "value": { "email": "seller@shop.example", "note": "Write to us" } }]);
    contract.expect(204, PATCH, &format!("/v1/customer/disputes/{inquiry}"), Some(patch)).await;
    contract
        .expect(200, POST, &act(&inquiry, "send-message"), Some(json!({ "message": "Shipped, see tracking." })))
        .await;
    contract.call(GET, "/v1/customer/disputes/PP-D-0", None).await;

    let escalated = open_dispute(contract, json!({})).await;
    contract.expect(200, POST, &act(&escalated, "escalate"), Some(json!({ "note": "We disagree" }))).await;

    let accepted = open_dispute(contract, json!({})).await;
    contract.expect(200, POST, &act(&accepted, "accept-claim"), Some(json!({ "note": "Sorry" }))).await;

    let returned = open_dispute(contract, json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED" })).await;
    let offer = json!({ "note": "Return it", "offer_type": "REFUND_WITH_RETURN", "offer_amount": usd("20.00") });
    contract.expect(200, POST, &act(&returned, "make-offer"), Some(offer)).await;
    contract.expect(403, POST, &act(&returned, "accept-offer"), Some(json!({ "note": "Fine" }))).await;
    contract.expect(403, POST, &act(&returned, "deny-offer"), Some(json!({ "note": "No" }))).await;
    contract.control(POST, &format!("/sandbox/paypal/disputes/{returned}/accept-offer"), None).await;
    let received = json!({ "note": "Arrived broken", "acknowledgement_type": "DAMAGED" });
    contract.expect(200, POST, &act(&returned, "acknowledge-return-item"), Some(received)).await;
    contract
        .expect(200, POST, &act(&returned, "adjudicate"), Some(json!({ "adjudication_outcome": "BUYER_FAVOR" })))
        .await;
    let appeal = json!({ "evidences": [{ "evidence_type": "PROOF_OF_DAMAGE", "notes": "It left intact" }] });
    contract.expect(200, POST, &act(&returned, "appeal"), Some(appeal)).await;
    contract.call(POST, &act(&returned, "escalate"), Some(json!({ "note": "n" }))).await;

    let chargeback = open_dispute(contract, json!({ "stage": "CHARGEBACK" })).await;
    let evidence = json!({ "evidences": [{
        "evidence_type": "PROOF_OF_FULFILLMENT",
        "evidence_info": { "tracking_info": [{ "carrier_name": "UPS", "tracking_number": "1Z999" }] },
        "notes": "Delivered on the 3rd.",
    }] });
    contract.expect(200, POST, &act(&chargeback, "provide-evidence"), Some(evidence)).await;
    contract.expect(200, POST, &act(&chargeback, "provide-supporting-info"), Some(json!({ "notes": "Signed" }))).await;
    contract
        .expect(200, POST, &act(&chargeback, "require-evidence"), Some(json!({ "action": "SELLER_EVIDENCE" })))
        .await;
}

async fn legacy_payments(contract: &Contract<'_>) {
    let payment = coffee_payment(None);
    let payment_id = id(&contract.expect(201, POST, "/v1/payments/payment", Some(payment)).await);
    contract.expect(200, GET, "/v1/payments/payment", None).await;
    let path = format!("/v1/payments/payment/{payment_id}");
    contract.expect(200, GET, &path, None).await;
    let approved = contract.control(POST, &format!("/sandbox/paypal/payments/{payment_id}/approve"), None).await;
    let execute = json!({ "payer_id": approved["payer_id"] });
    let executed = contract.expect(200, POST, &format!("{path}/execute"), Some(execute)).await;
    let sale_id = id(&executed["transactions"][0]["related_resources"][0]["sale"]);
    contract.expect(200, GET, &format!("/v1/payments/sale/{sale_id}"), None).await;
    let refund = json!({ "amount": { "total": "2.00", "currency": "USD" }, "description": "One bar" });
    let refunded = contract.expect(201, POST, &format!("/v1/payments/sale/{sale_id}/refund"), Some(refund)).await;
    contract.expect(200, GET, &format!("/v1/payments/refund/{}", id(&refunded)), None).await;
    contract.call(GET, "/v1/payments/payment/PAY-0", None).await;

    let mut authorize = coffee_payment(None);
    authorize["intent"] = json!("authorize");
    let payment_id = id(&contract.expect(201, POST, "/v1/payments/payment", Some(authorize)).await);
    let approved = contract.control(POST, &format!("/sandbox/paypal/payments/{payment_id}/approve"), None).await;
    let execute = json!({ "payer_id": approved["payer_id"] });
    let executed =
        contract.expect(200, POST, &format!("/v1/payments/payment/{payment_id}/execute"), Some(execute)).await;
    let authorization_id = id(&executed["transactions"][0]["related_resources"][0]["authorization"]);
    contract.expect(200, GET, &format!("/v1/payments/authorization/{authorization_id}"), None).await;
    contract.call(GET, "/v1/payments/authorization/0", None).await;
}

async fn billing(contract: &Contract<'_>) {
    let product =
        json!({ "name": "Video Streaming", "type": "SERVICE", "category": "SOFTWARE", "description": "Films" });
    let product_id = id(&contract.expect(201, POST, "/v1/catalogs/products", Some(product)).await);
    contract.expect(200, GET, "/v1/catalogs/products", None).await;
    let path = format!("/v1/catalogs/products/{product_id}");
    contract.expect(200, GET, &path, None).await;
    let patch = json!([{ "op": "replace", "path": "/description", "value": "Films and series" }]);
    contract.expect(204, PATCH, &path, Some(patch)).await;

    let plan = |name: &str, price: &str| {
        json!({
            "product_id": product_id,
            "name": name,
            "quantity_supported": true,
            "billing_cycles": [
                { "frequency": { "interval_unit": "WEEK", "interval_count": 1 }, "tenure_type": "TRIAL", "sequence": 1, "total_cycles": 1 },
                {
                    "frequency": { "interval_unit": "MONTH", "interval_count": 1 },
                    "tenure_type": "REGULAR",
                    "sequence": 2,
                    "total_cycles": 12,
                    "pricing_scheme": { "fixed_price": usd(price) },
                },
            ],
            "payment_preferences": {
                "auto_bill_outstanding": false,
                "setup_fee": usd("1.00"),
                "setup_fee_failure_action": "CONTINUE",
                "payment_failure_threshold": 3,
            },
            "taxes": { "percentage": "10", "inclusive": false },
        })
    };
    let plan_id = id(&contract.expect(201, POST, "/v1/billing/plans", Some(plan("Basic", "10.00"))).await);
    let upgrade_id = id(&contract.expect(201, POST, "/v1/billing/plans", Some(plan("Premium", "20.00"))).await);
    contract.expect(200, GET, "/v1/billing/plans", None).await;
    let path = format!("/v1/billing/plans/{plan_id}");
    contract.expect(200, GET, &path, None).await;
    let patch = json!([{ "op": "replace", "path": "/description", "value": "The basic plan" }]);
    contract.expect(204, PATCH, &path, Some(patch)).await;
    contract.expect(204, POST, &format!("{path}/deactivate"), None).await;
    contract.expect(204, POST, &format!("{path}/activate"), None).await;
    let pricing = json!({ "pricing_schemes": [{ "billing_cycle_sequence": 2, "pricing_scheme": { "fixed_price": usd("12.00") } }] });
    contract.expect(204, POST, &format!("{path}/update-pricing-schemes"), Some(pricing)).await;

    let subscription = json!({
        "plan_id": plan_id,
        "quantity": "1",
        "custom_id": "member-42",
        "application_context": {
            "brand_name": "Example Streaming",
            "return_url": "https://shop.example/paypal/return",
            "cancel_url": "https://shop.example/paypal/cancel",
        },
    });
    let subscription_id = id(&contract.expect(201, POST, "/v1/billing/subscriptions", Some(subscription)).await);
    // The setup fee fails, so an outstanding balance is left to capture.
    let failing = json!({ "count": 1 });
    contract
        .control(POST, &format!("/sandbox/paypal/subscriptions/{subscription_id}/fail-next-payments"), Some(failing))
        .await;
    contract.control(POST, &format!("/sandbox/paypal/subscriptions/{subscription_id}/approve"), None).await;
    let path = format!("/v1/billing/subscriptions/{subscription_id}");
    contract.expect(200, GET, &path, None).await;
    contract.expect(200, GET, &format!("{path}?fields=last_failed_payment,plan"), None).await;
    let patch = json!([{ "op": "replace", "path": "/custom_id", "value": "member-43" }]);
    contract.expect(204, PATCH, &path, Some(patch)).await;
    let capture = json!({ "note": "Setup fee", "capture_type": "OUTSTANDING_BALANCE", "amount": usd("1.00") });
    let captured = contract.call(POST, &format!("{path}/capture"), Some(capture)).await;
    assert!(captured.status.is_success(), "{}", captured.body);
    contract.expect(200, POST, &format!("{path}/revise"), Some(json!({ "plan_id": upgrade_id }))).await;
    contract.expect(204, POST, &format!("{path}/suspend"), Some(json!({ "reason": "Paused by the member" }))).await;
    contract.expect(204, POST, &format!("{path}/activate"), Some(json!({ "reason": "Back" }))).await;
    let window = "start_time=2020-01-01T00:00:00Z&end_time=2040-01-01T00:00:00Z";
    contract.expect(200, GET, &format!("{path}/transactions?{window}"), None).await;
    contract.expect(204, POST, &format!("{path}/cancel"), Some(json!({ "reason": "Moving away" }))).await;
    contract.call(GET, "/v1/billing/subscriptions/I-0", None).await;
}
