//! PayPal's legacy integration through payhub: REST v1 payments created, approved, executed and
//! refunded; IPN in the account's charset confirmed by postback before it changes anything,
//! applied once, and refused or flagged when it is not genuine or not for this merchant's price.

use payhub_core::dispute::{DisputeAction, DisputeFacts, DisputeReason, DisputeStage, DisputeStatus};
use payhub_core::transition::Cause;
use payhub_core::{Clock, Currency, Mode, Money, ProviderName};
use payhub_paypal::{IpnMessage, SaleAmount, SaleRefundRequest};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_stores;

const COFFEE: &str = "研磨咖啡 40 oz 与燕麦棒";

impl TestApp {
    /// A v1 payment of `amount` US cents created through payhub and waiting for the buyer.
    async fn create_v1_payment(&self, amount: i64) -> Value {
        let body = json!({
            "provider": "paypal", "amount": amount, "currency": "USD", "description": COFFEE,
            "return_url": "https://shop.example/thanks",
            "provider_options": { "paypal": { "api": "v1" } },
        });
        let response = self.post("/v1/payments", body).await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    /// The buyer approves the v1 payment at PayPal and comes back; payhub executes it.
    async fn paid_v1_payment(&self, amount: i64) -> Value {
        let payment = self.create_v1_payment(amount).await;
        let pay_id = payment["provider_refs"]["payment_id"].as_str().unwrap();
        let approved =
            self.sandbox_control(Method::POST, &format!("/sandbox/paypal/payments/{pay_id}/approve"), json!({})).await;
        let back = self.http.get(approved["redirect_url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(back.status(), 303);
        let id = payment["id"].as_str().unwrap();
        let paid = self.payment(id).await;
        assert_eq!(paid["status"], "succeeded", "{paid}");
        paid
    }

    /// Every IPN message the simulator sent, as bytes.
    fn ipn_bodies(&self) -> Vec<Vec<u8>> {
        let history = self.sandbox.paypal.ipn_history();
        history.iter().map(|message| message["body"].as_str().unwrap().as_bytes().to_vec()).collect()
    }

    pub(crate) async fn ipn_status(&self, body: &[u8]) -> Option<String> {
        let (_, read) = payhub::providers::paypal::ipn::read(body).unwrap();
        self.hub.db.notification_status(ProviderName::Paypal, &read.provider_event_id).await.unwrap()
    }

    /// Why payhub did not apply (or still waits with) a stored IPN.
    async fn ipn_note(&self, body: &[u8]) -> String {
        let (_, read) = payhub::providers::paypal::ipn::read(body).unwrap();
        self.hub.db.notification_note(ProviderName::Paypal, &read.provider_event_id).await.unwrap().unwrap_or_default()
    }

    /// Waits until the simulator delivered `count` IPN messages and payhub processed each.
    async fn ipn_processed(&self, count: usize) -> Vec<Vec<u8>> {
        self.eventually(&format!("{count} IPN processed"), || async {
            let bodies = self.ipn_bodies();
            if bodies.len() < count {
                return false;
            }
            for body in &bodies {
                if self.ipn_status(body).await.as_deref() != Some("processed") {
                    return false;
                }
            }
            true
        })
        .await;
        self.ipn_bodies()
    }

    pub(crate) async fn post_ipn(&self, body: &[u8]) -> reqwest::Response {
        self.http
            .post(format!("{}/webhooks/paypal/ipn", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Deletes the hub's webhook at the simulator, so that IPN is the only news payhub gets.
    async fn stop_webhooks(&self) {
        let webhook_id = self.hub_webhook_id().await;
        let token: Value = self
            .http
            .post(format!("{}/v1/oauth2/token", self.sandbox.paypal_url))
            .basic_auth(payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID, Some(payhub_sandbox::SANDBOX_PAYPAL_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let deleted = self
            .http
            .delete(format!("{}/v1/notifications/webhooks/{webhook_id}", self.sandbox.paypal_url))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
    }

    /// The merchant refunds in PayPal, outside payhub.
    async fn refund_at_paypal(&self, sale_id: &str, total: &str) {
        let request = SaleRefundRequest { amount: Some(SaleAmount::new("USD", total)), ..Default::default() };
        self.paypal().refund_sale(&format!("outside-{sale_id}-{total}"), sale_id, &request).await.unwrap();
    }

    /// A paid v1 payment whose sale PayPal reverses on a buyer's claim (`reason_code`), once
    /// payhub processed the sale's and the reversal's IPN; returns the payment id and the sale id.
    async fn reversed_v1_payment(&self, amount: i64, reason_code: &str) -> (String, String) {
        let payment = self.paid_v1_payment(amount).await;
        let sale_id = payment["provider_refs"]["capture_id"].as_str().unwrap().to_owned();
        let claim = json!({ "reason_code": reason_code });
        self.sandbox_control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/reverse"), claim).await;
        self.ipn_processed(2).await;
        (payment["id"].as_str().unwrap().to_owned(), sale_id)
    }

    /// The buyer pays payhub's payment `id` (`amount`) through a checkout of the merchant's own
    /// that names it as `custom`; `outcome` (the sale-outcome control's body) makes PayPal hold
    /// the sale, e.g. as pending. Returns the sale id. Only PayPal's notifications can tell
    /// payhub about it.
    async fn paid_elsewhere(&self, id: &str, amount: SaleAmount, outcome: Option<Value>) -> String {
        let client = self.paypal();
        let mut transaction = payhub_paypal::V1TransactionRequest::new(amount);
        transaction.custom = Some(id.to_owned());
        let urls = payhub_paypal::RedirectUrls {
            return_url: "https://legacy.example/r".into(),
            cancel_url: "https://legacy.example/c".into(),
        };
        let request = payhub_paypal::CreateV1PaymentRequest::sale(transaction, urls);
        let created = client.create_v1_payment(&format!("elsewhere-{id}"), &request).await.unwrap();
        if let Some(outcome) = outcome {
            let path = format!("/sandbox/paypal/payments/{}/sale-outcome", created.id);
            self.sandbox_control(Method::POST, &path, outcome).await;
        }
        let approved = self
            .sandbox_control(Method::POST, &format!("/sandbox/paypal/payments/{}/approve", created.id), json!({}))
            .await;
        let payer_id = approved["payer_id"].as_str().unwrap();
        let executed = client.execute_v1_payment(&format!("elsewhere-exec-{id}"), &created.id, payer_id).await.unwrap();
        executed.sales().next().unwrap().id.clone()
    }

    /// [`TestApp::paid_elsewhere`] with a sale PayPal holds as pending for `pending_reason`
    /// (IPN's spelling).
    async fn pending_sale_paid_elsewhere(&self, id: &str, total: &str, pending_reason: &str) -> String {
        let outcome = json!({ "state": "pending", "pending_reason": pending_reason });
        self.paid_elsewhere(id, SaleAmount::new("USD", total), Some(outcome)).await
    }

    async fn until_status(&self, id: &str, status: &str) -> Value {
        self.eventually(status, || async { self.payment(id).await["status"] == status }).await;
        self.payment(id).await
    }

    /// The one dispute of a payment, once the hub has it.
    async fn only_dispute_of(&self, payment_id: &str) -> Value {
        let path = format!("/v1/payments/{payment_id}/disputes");
        self.eventually("the hub has the dispute", || async { !self.get_json(&path).await["data"][0].is_null() }).await;
        let disputes = self.get_json(&path).await["data"].as_array().unwrap().clone();
        assert_eq!(disputes.len(), 1, "{disputes:?}");
        disputes[0].clone()
    }

    async fn amount_refunded(&self, id: &str) -> i64 {
        self.payment(id).await["amount_refunded"].as_i64().unwrap()
    }

    async fn last_rejection(&self) -> String {
        let rejections = self.hub.db.recent_rejections(ProviderName::Paypal, 1).await.unwrap();
        rejections.first().map(|(reason, ..)| reason.clone()).unwrap_or_default()
    }
}

/// A field of an ASCII form body (every IPN field name and every value here is ASCII).
fn field(body: &[u8], name: &str) -> String {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

on_both_stores! {
    async fn a_v1_payment_is_approved_executed_and_partially_refunded_with_the_events_of_any_payment(app) {
        let payment = app.create_v1_payment(1000).await;
        assert_eq!(payment["status"], "requires_action");
        let pay_id = payment["provider_refs"]["payment_id"].as_str().unwrap();
        assert!(pay_id.starts_with("PAY-"), "{pay_id}");
        let redirect = payment["next_action"]["redirect_url"].as_str().unwrap();
        assert!(redirect.starts_with(&format!("{}/cgi-bin/webscr?cmd=_express-checkout&token=EC-", app.sandbox.paypal_url)));

        // The return URL's PayerID is a hint: payhub reads the payer from PayPal and executes.
        let approved = app.sandbox_control(Method::POST, &format!("/sandbox/paypal/payments/{pay_id}/approve"), json!({})).await;
        let forged_return = approved["redirect_url"].as_str().unwrap().replace("PayerID=", "PayerID=FORGED");
        assert_eq!(app.http.get(&forged_return).send().await.unwrap().status(), 303);
        let id = payment["id"].as_str().unwrap();
        let paid = app.payment(id).await;
        assert_eq!(paid["status"], "succeeded", "{paid}");
        let sale_id = paid["provider_refs"]["capture_id"].as_str().unwrap().to_owned();
        assert_eq!(app.paypal().get_sale(&sale_id).await.unwrap().parent_payment.as_deref(), Some(pay_id));

        let refund = app.post(&format!("/v1/payments/{id}/refunds"), json!({ "amount": 300 })).await;
        assert_eq!(refund.status(), 201);
        let refund: Value = refund.json().await.unwrap();
        assert_eq!(refund["status"], "succeeded", "{refund}");

        // The sale's webhooks and its IPN (Completed, Refunded) say the same facts again.
        let bodies = app.ipn_processed(2).await;
        let statuses: Vec<String> = bodies.iter().map(|body| field(body, "payment_status")).collect();
        assert_eq!(statuses, ["Completed", "Refunded"]);
        let refunds = app.get_json(&format!("/v1/payments/{id}/refunds")).await;
        assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
        assert_eq!(app.amount_refunded(id).await, 300);
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.succeeded"]);
        assert_eq!(app.event_types(refund["id"].as_str().unwrap()).await, ["refund.created", "refund.succeeded"]);
        assert_eq!(app.payment(id).await["origin"], "payhub");

        let doc: Value = app.http.get(format!("{}/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["PaypalPaymentOptions"]["properties"]["api"].is_object(), "the v1 option is documented");
        assert!(schemas["Payment"]["properties"]["origin"].is_object(), "origin is documented");
    }

    async fn a_gb2312_ipn_with_chinese_item_names_is_decoded_and_applied_once(app) {
        assert!(app.sandbox.paypal.set_ipn_charset("gb2312"));
        app.stop_webhooks().await;
        let payment = app.paid_v1_payment(2000).await;
        let id = payment["id"].as_str().unwrap();
        let sale_id = payment["provider_refs"]["capture_id"].as_str().unwrap();
        app.refund_at_paypal(sale_id, "5.00").await;
        app.eventually("the refund made at PayPal applied from its IPN", || async { app.amount_refunded(id).await == 500 }).await;

        let bodies = app.ipn_processed(2).await;
        let refunded = &bodies[1];
        assert_eq!(field(refunded, "charset"), "gb2312");
        let message = IpnMessage::parse(refunded).unwrap();
        assert_eq!(message.get("item_name1"), Some(COFFEE));
        assert_ne!(field(refunded, "item_name1"), COFFEE, "the bytes on the wire are gb2312, not UTF-8");
        assert_eq!(message.get("parent_txn_id"), Some(sale_id));

        // Replayed bytes are recognised and change nothing.
        let events_before = app.get_json("/v1/events?limit=100").await["data"].as_array().unwrap().len();
        let replay = app.post_ipn(refunded).await;
        assert_eq!(replay.status(), 200);
        assert_eq!(replay.json::<Value>().await.unwrap()["duplicate"], true);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.amount_refunded(id).await, 500);
        assert_eq!(app.get_json("/v1/events?limit=100").await["data"].as_array().unwrap().len(), events_before);
    }

    async fn forged_and_altered_ipns_are_recorded_as_rejected_and_never_applied(app) {
        let paid = app.paid_v1_payment(1500).await;
        let waiting = app.create_v1_payment(1000).await;
        let waiting_id = waiting["id"].as_str().unwrap();
        let merchant = app.sandbox.paypal.parties().merchant_email.clone();

        let forged = format!(
            "mc_gross=10.00&payment_status=Completed&charset=UTF-8&custom={waiting_id}&txn_id=FORGED00000000001\
             &receiver_email={}&mc_currency=USD&verify_sign=AFcWxV21C7fd0v3bYYYRCpSSRl31A.FORGED&test_ipn=1",
            merchant.replace('@', "%40")
        );
        assert_eq!(app.post_ipn(forged.as_bytes()).await.status(), 200, "stored first, judged by the postback");
        app.eventually("the forged IPN is settled", || async {
            app.ipn_status(forged.as_bytes()).await.as_deref() == Some("processed")
        })
        .await;
        assert_eq!(app.last_rejection().await, "postback_invalid");
        assert!(app.ipn_note(forged.as_bytes()).await.contains("INVALID"), "{}", app.ipn_note(forged.as_bytes()).await);
        assert_eq!(app.payment(waiting_id).await["status"], "requires_action");

        let genuine = app.ipn_processed(1).await.remove(0);
        let paid_id = paid["id"].as_str().unwrap();
        let altered = String::from_utf8(genuine).unwrap().replace("payment_status=Completed", "payment_status=Refunded")
            + &format!("&parent_txn_id={}", paid["provider_refs"]["capture_id"].as_str().unwrap());
        app.post_ipn(altered.as_bytes()).await;
        app.eventually("the altered IPN is settled", || async {
            app.ipn_status(altered.as_bytes()).await.as_deref() == Some("processed")
        })
        .await;
        assert_eq!(app.last_rejection().await, "postback_invalid");
        assert_eq!(app.amount_refunded(paid_id).await, 0);
    }

    async fn a_genuine_ipn_for_less_than_the_price_is_flagged_and_not_applied(app) {
        // A buyer pays the merchant's account directly with payhub's payment id but another
        // amount (an edited button): PayPal confirms the message, the price is still wrong.
        let payment = app.create_v1_payment(2000).await;
        let id = payment["id"].as_str().unwrap();
        let client = app.paypal();
        let mut transaction = payhub_paypal::V1TransactionRequest::new(SaleAmount::new("USD", "0.01"));
        transaction.custom = Some(id.to_owned());
        let urls = payhub_paypal::RedirectUrls { return_url: "https://x.example/r".into(), cancel_url: "https://x.example/c".into() };
        let cheap = client.create_v1_payment("cheap-1", &payhub_paypal::CreateV1PaymentRequest::sale(transaction, urls)).await.unwrap();
        let approved = app.sandbox_control(Method::POST, &format!("/sandbox/paypal/payments/{}/approve", cheap.id), json!({})).await;
        client.execute_v1_payment("cheap-exec-1", &cheap.id, approved["payer_id"].as_str().unwrap()).await.unwrap();

        let bodies = app.ipn_processed(1).await;
        let note = app.ipn_note(&bodies[0]).await;
        assert!(note.starts_with("flagged") && note.contains("0.01 USD"), "{note}");
        assert_eq!(app.payment(id).await["status"], "requires_action");
        assert_eq!(app.event_types(id).await, ["payment.created"]);
    }

    async fn a_pending_ipn_says_why_the_payment_waits_and_the_completed_one_clears_it(app) {
        app.stop_webhooks().await;
        let payment = app.create_v1_payment(2000).await;
        let id = payment["id"].as_str().unwrap();
        let sale_id = app.pending_sale_paid_elsewhere(id, "20.00", "multi_currency").await;
        let processing = app.until_status(id, "processing").await;
        assert_eq!(processing["pending_reason"], "multi_currency", "{processing}");
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/complete"), json!({})).await;
        let paid = app.until_status(id, "succeeded").await;
        assert!(paid["pending_reason"].is_null(), "{paid}");
        let statuses: Vec<String> = app.ipn_processed(2).await.iter().map(|body| field(body, "payment_status")).collect();
        assert_eq!(statuses, ["Pending", "Completed"], "IPN was the only news");
        assert_eq!(app.event_types(id).await, ["payment.created", "payment.processing", "payment.succeeded"]);
    }

    async fn a_pending_sale_webhook_says_why_in_the_words_ipn_uses_and_a_failed_sale_clears_it(app) {
        app.sandbox.paypal.set_ipn_notify_url(None);
        let payment = app.create_v1_payment(2000).await;
        let id = payment["id"].as_str().unwrap();
        let sale_id = app.pending_sale_paid_elsewhere(id, "20.00", "paymentreview").await;
        assert_eq!(app.paypal().get_sale(&sale_id).await.unwrap().reason_code.as_deref(), Some("PAYMENT_REVIEW"));
        let processing = app.until_status(id, "processing").await;
        assert_eq!(processing["pending_reason"], "payment_review", "{processing}");
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/fail"), json!({})).await;
        let failed = app.until_status(id, "failed").await;
        assert!(failed["pending_reason"].is_null(), "{failed}");
        let history = app.sandbox.paypal.ipn_history();
        assert!(history.iter().all(|message| message["notify_url"].is_null()), "no IPN went out: {history:?}");

        let doc: Value = app.http.get(format!("{}/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
        let documented = &doc["components"]["schemas"]["Payment"]["properties"]["pending_reason"];
        assert!(documented["description"].as_str().is_some_and(|text| text.contains("payment_review")), "{documented}");
    }

    async fn a_genuine_ipn_in_another_currency_is_flagged_and_not_applied(app) {
        app.stop_webhooks().await;
        let payment = app.create_v1_payment(2000).await;
        let id = payment["id"].as_str().unwrap();
        app.paid_elsewhere(id, SaleAmount::new("EUR", "20.00"), None).await;

        let bodies = app.ipn_processed(1).await;
        assert_eq!((field(&bodies[0], "payment_status"), field(&bodies[0], "mc_currency")), ("Completed".into(), "EUR".into()));
        let note = app.ipn_note(&bodies[0]).await;
        assert!(note.starts_with("flagged") && note.contains("20.00 EUR") && note.contains("20.00 USD"), "{note}");
        assert_eq!(app.payment(id).await["status"], "requires_action");
        assert_eq!(app.event_types(id).await, ["payment.created"]);
    }

    async fn with_the_postback_down_an_ipn_waits_and_is_applied_once_it_answers(app) {
        app.stop_webhooks().await;
        let payment = app.paid_v1_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        app.ipn_processed(1).await;
        app.sandbox_control(Method::PUT, "/sandbox/paypal/ipn", json!({ "postback_available": false })).await;
        app.refund_at_paypal(payment["provider_refs"]["capture_id"].as_str().unwrap(), "4.00").await;
        app.eventually("the refund's IPN is stored", || async { app.ipn_bodies().len() == 2 }).await;
        let refunded = app.ipn_bodies().remove(1);
        app.eventually("the IPN is stored", || async { app.ipn_status(&refunded).await.is_some() }).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.ipn_status(&refunded).await.as_deref(), Some("pending"), "kept, waiting for PayPal");
        assert!(app.ipn_note(&refunded).await.contains("waiting to confirm"), "{}", app.ipn_note(&refunded).await);
        assert_eq!(app.amount_refunded(id).await, 0);

        app.sandbox_control(Method::PUT, "/sandbox/paypal/ipn", json!({ "postback_available": true })).await;
        app.advance(chrono::Duration::minutes(5)).await;
        app.eventually("applied once PayPal answers", || async { app.amount_refunded(id).await == 400 }).await;
        assert_eq!(app.ipn_status(&refunded).await.as_deref(), Some("processed"));
    }

    async fn a_payment_made_outside_payhub_is_adopted_once_and_refundable(app) {
        // A legacy checkout of the merchant's, not payhub's: its webhook and its IPN both arrive.
        let client = app.paypal();
        let mut transaction = payhub_paypal::V1TransactionRequest::new(SaleAmount::new("USD", "12.00"));
        transaction.description = Some("legacy shop order 77".into());
        let urls = payhub_paypal::RedirectUrls { return_url: "https://x.example/r".into(), cancel_url: "https://x.example/c".into() };
        let legacy = client.create_v1_payment("legacy-77", &payhub_paypal::CreateV1PaymentRequest::sale(transaction, urls)).await.unwrap();
        let approved = app.sandbox_control(Method::POST, &format!("/sandbox/paypal/payments/{}/approve", legacy.id), json!({})).await;
        let executed = client.execute_v1_payment("legacy-77-exec", &legacy.id, approved["payer_id"].as_str().unwrap()).await.unwrap();
        let sale_id = executed.sales().next().unwrap().id.clone();

        app.ipn_processed(1).await;
        let adopted = || async {
            let list = app.get_json("/v1/payments?limit=100").await;
            list["data"].as_array().unwrap().iter().filter(|p| p["provider_refs"]["capture_id"] == sale_id.as_str()).cloned().collect::<Vec<Value>>()
        };
        app.eventually("adopted", || async { !adopted().await.is_empty() }).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let found = adopted().await;
        assert_eq!(found.len(), 1, "the webhook and the IPN adopt it once: {found:?}");
        let payment = &found[0];
        assert_eq!(payment["origin"], "external");
        assert_eq!(payment["status"], "succeeded");
        assert_eq!(payment["amount"], 1200);
        let id = payment["id"].as_str().unwrap();

        let refund = app.post(&format!("/v1/payments/{id}/refunds"), json!({ "amount": 200 })).await;
        assert_eq!(refund.status(), 201);
        assert_eq!(refund.json::<Value>().await.unwrap()["status"], "succeeded");
        let sale = app.paypal().get_sale(&sale_id).await.unwrap();
        assert_eq!(sale.state, payhub_paypal::SaleState::PartiallyRefunded);
        assert_eq!(app.event_types(id).await, ["payment.succeeded"], "adopted paid, announced once");
    }

    async fn a_return_with_a_tx_confirmed_by_pdt_completes_the_payment_while_paypals_api_is_down(app) {
        // Only the buyer's return tells payhub anything here: no webhook, no IPN.
        app.stop_webhooks().await;
        app.sandbox.paypal.set_ipn_notify_url(None);
        let payment = app.create_v1_payment(1000).await;
        let id = payment["id"].as_str().unwrap();
        let pay_id = payment["provider_refs"]["payment_id"].as_str().unwrap();
        let approved = app.sandbox.paypal.approve_v1_payment(pay_id).unwrap();
        // The payment is executed at PayPal (say by an earlier return whose answer was lost).
        let executed = app.paypal().execute_v1_payment("earlier", pay_id, approved.payer_id.as_deref().unwrap()).await.unwrap();
        let sale_id = executed.sales().next().unwrap().id.clone();
        app.sandbox_control(Method::PUT, "/sandbox/paypal/faults", json!({ "fail_next": 50, "status": 503 })).await;

        // A tx PayPal does not confirm for this payment changes nothing (and the API is down).
        let forged = format!("{}&tx=NOTARECORDEDTXN", approved.redirect_url);
        app.http.get(&forged).send().await.unwrap();
        assert_eq!(app.payment(id).await["status"], "requires_action");

        let with_tx = format!("{}&tx={sale_id}", approved.redirect_url);
        assert_eq!(app.http.get(&with_tx).send().await.unwrap().status(), 303);
        let paid = app.payment(id).await;
        assert_eq!(paid["status"], "succeeded", "PDT confirmed it: {paid}");
        assert_eq!(paid["provider_refs"]["capture_id"], sale_id.as_str());
    }

    async fn a_reversal_by_ipn_is_the_sales_dispute_and_its_cancellation_wins_it(app) {
        app.stop_webhooks().await;
        let (id, sale_id) = app.reversed_v1_payment(2000, "unauthorized_claim").await;
        let (id, sale_id) = (id.as_str(), sale_id.as_str());
        let bodies = app.ipn_bodies();
        let dispute = app.only_dispute_of(id).await;
        assert_eq!(dispute["provider_dispute_id"], sale_id);
        assert_eq!(dispute["status"], "under_review");
        assert_eq!(dispute["stage"], "chargeback");
        assert_eq!(dispute["reason"], "unauthorized");
        assert_eq!((dispute["amount"].as_i64(), dispute["currency"].as_str()), (Some(2000), Some("USD")));
        let note = dispute["messages"][0]["text"].as_str().unwrap();
        assert!(note.contains("reason_code unauthorized_claim"), "the reason_code is kept: {note}");
        let paid = app.payment(id).await;
        assert_eq!((paid["disputed"].as_bool(), paid["amount_refunded"].as_i64()), (Some(true), Some(0)));
        assert_eq!(paid["status"], "succeeded");
        assert!(app.event_types(id).await.contains(&"payment.disputed".to_owned()));
        let dispute_id = dispute["id"].as_str().unwrap();
        assert_eq!(app.event_types(dispute_id).await, ["dispute.created"]);
        let replay = app.post_ipn(&bodies[1]).await;
        assert_eq!(replay.json::<Value>().await.unwrap()["duplicate"], true);

        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/cancel-reversal"), json!({})).await;
        app.ipn_processed(3).await;
        let won = app.get_json(&format!("/v1/disputes/{dispute_id}")).await;
        assert_eq!(won["status"], "won", "{won}");
        assert_eq!(won["outcome"]["provider_code"], "CANCELED_REVERSAL");
        assert_eq!(won["reason"], "unauthorized", "the claim is still what it was");
        assert_eq!(app.event_types(dispute_id).await, ["dispute.created", "dispute.resolved"]);
    }

    async fn the_webhook_and_the_ipn_of_one_reversal_open_one_dispute(app) {
        let (id, _) = app.reversed_v1_payment(1500, "buyer-complaint").await;
        let id = id.as_str();
        let webhook = app.sandbox.paypal.events().into_iter().find(|e| e["event_type"] == "PAYMENT.SALE.REVERSED").unwrap();
        let webhook_id = webhook["id"].as_str().unwrap().to_owned();
        app.eventually("the reversal webhook processed", || async {
            app.hub.db.notification_status(ProviderName::Paypal, &webhook_id).await.unwrap().as_deref() == Some("processed")
        })
        .await;
        let dispute = app.only_dispute_of(id).await;
        assert_eq!(dispute["reason"], "other");
        assert!(dispute["messages"][0]["text"].as_str().unwrap().contains("reason_code buyer_complaint"), "{dispute}");
        assert_eq!(app.event_types(dispute["id"].as_str().unwrap()).await, ["dispute.created"]);
        let disputed = app.event_types(id).await.into_iter().filter(|t| t == "payment.disputed").count();
        assert_eq!(disputed, 1, "the payment is flagged once");
        assert_eq!(app.amount_refunded(id).await, 0, "a reversal is no refund");
    }

    async fn a_reversal_follows_the_case_paypal_keeps_for_the_sale(app) {
        // Only IPN reaches payhub: the case is found by asking PayPal about the reversed sale.
        app.stop_webhooks().await;
        let payment = app.paid_v1_payment(3000).await;
        let id = payment["id"].as_str().unwrap();
        let sale_id = payment["provider_refs"]["capture_id"].as_str().unwrap();
        let claim = json!({ "reason": "UNAUTHORISED", "stage": "CHARGEBACK", "message": "I never bought this." });
        let case = app.sandbox_control(Method::POST, &format!("/sandbox/paypal/captures/{sale_id}/dispute"), claim).await;
        let reversal = json!({ "reason_code": "chargeback" });
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/reverse"), reversal).await;

        app.ipn_processed(2).await;
        let dispute = app.only_dispute_of(id).await;
        assert_eq!(dispute["provider_dispute_id"], case["dispute_id"], "PayPal's case, not one recorded beside it");
        assert_eq!(dispute["status"], "needs_response");
        assert_eq!(dispute["buyer_message"], "I never bought this.");
        assert_eq!(app.payment(id).await["disputed"], true);
    }

    async fn a_case_paypal_opens_after_the_reversal_continues_the_recorded_dispute(app) {
        app.stop_webhooks().await;
        let (id, sale_id) = app.reversed_v1_payment(1200, "chargeback").await;
        let (id, sale_id) = (id.as_str(), sale_id.as_str());
        let recorded = app.only_dispute_of(id).await;
        assert_eq!(recorded["provider_dispute_id"], sale_id);

        // PayPal's case about the same sale, as its webhook or the sweep would bring it later.
        let due = app.clock.now() + chrono::Duration::days(10);
        let case = DisputeFacts {
            provider_dispute_id: "PP-R-LATE-1".into(),
            transaction_id: Some(sale_id.to_owned()),
            reason: DisputeReason::Other,
            stage: DisputeStage::Chargeback,
            status: DisputeStatus::NeedsResponse,
            amount: Money::new(1200, Currency::parse("USD").unwrap()),
            response_due_at: Some(due),
            messages: Vec::new(),
            offers: Vec::new(),
            evidence: Vec::new(),
            amount_refunded: None,
            provider_outcome: None,
            allowed_actions: vec![DisputeAction::Evidence],
            provider_updated_at: Some(app.clock.now()),
        };
        app.hub.apply_dispute_facts(Mode::Test, ProviderName::Paypal, &case, &Cause::Reconciler, None).await.unwrap();

        let continued = app.only_dispute_of(id).await;
        assert_eq!(continued["id"], recorded["id"], "one claim, one dispute");
        assert_eq!(continued["provider_dispute_id"], "PP-R-LATE-1");
        assert_eq!(continued["status"], "needs_response");
        let dispute_id = continued["id"].as_str().unwrap();
        assert_eq!(app.event_types(dispute_id).await, ["dispute.created", "dispute.updated", "dispute.action_required"]);
    }
}

on_both_stores! {
    // The sweep of PayPal's disputes lists them on the route the fault breaks: it is kept out of
    // the way, so the fault is spent on the case lookup of the reversal.
    with TestApp::spawn_without_dispute_sweep;

    async fn a_reversal_waits_while_paypal_cannot_say_whether_it_keeps_a_case(app) {
        app.stop_webhooks().await;
        app.first_dispute_sweep_done().await;
        let payment = app.paid_v1_payment(900).await;
        let id = payment["id"].as_str().unwrap();
        let sale_id = payment["provider_refs"]["capture_id"].as_str().unwrap();
        let down = json!({ "fail_next": 1, "status": 503, "path_prefix": "/v1/customer/disputes" });
        app.sandbox_control(Method::PUT, "/sandbox/paypal/faults", down).await;
        let claim = json!({ "reason_code": "chargeback" });
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/sales/{sale_id}/reverse"), claim).await;

        app.eventually("the reversal waits", || async {
            let bodies = app.ipn_bodies();
            bodies.len() == 2 && app.ipn_note(&bodies[1]).await.contains("503")
        })
        .await;
        assert!(app.get_json(&format!("/v1/payments/{id}/disputes")).await["data"][0].is_null());
        let recorded = app.only_dispute_of(id).await;
        assert_eq!(recorded["provider_dispute_id"], sale_id, "recorded once PayPal said it keeps no case");
    }
}

on_both_stores! {
    with TestApp::spawn_for_another_merchant;

    async fn a_genuine_ipn_for_another_receiver_is_flagged_recorded_and_not_applied(app) {
        // PayPal confirms the message (it is genuine), but the money went to the simulator's
        // account, which is not the merchant this hub is configured for.
        app.stop_webhooks().await;
        let payment = app.create_v1_payment(2000).await;
        let id = payment["id"].as_str().unwrap();
        app.paid_elsewhere(id, SaleAmount::new("USD", "20.00"), None).await;

        let bodies = app.ipn_processed(1).await;
        let receiver = app.sandbox.paypal.parties().merchant_email.clone();
        assert_eq!(field(&bodies[0], "receiver_email"), receiver);
        let note = app.ipn_note(&bodies[0]).await;
        assert!(note.contains("flagged") && note.contains(&receiver) && note.contains("not this merchant"), "{note}");
        assert_ne!(app.last_rejection().await, "postback_invalid", "genuine, so not refused as forged");
        assert_eq!(app.payment(id).await["status"], "requires_action");
        assert_eq!(app.event_types(id).await, ["payment.created"]);

        // Replaying it changes nothing either.
        let replay = app.post_ipn(&bodies[0]).await;
        assert_eq!(replay.json::<Value>().await.unwrap()["duplicate"], true);
        assert_eq!(app.payment(id).await["status"], "requires_action");
    }
}
