//! The operator console in a real (headless) browser: logging in, finding a payment,
//! refunding it and reading its timeline, and what the console refuses.

use payhub::services::admins::create_admin;
use payhub_core::Clock;
use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::on_both_stores;

const EMAIL: &str = "ops@shop.example";
const PASSWORD: &str = "correct horse battery staple";

/// A browser for this test, named after the store, once an operator exists; `None` skips.
async fn console(app: &TestApp, test: &str) -> Option<Browser> {
    create_admin(&app.hub.db, EMAIL, PASSWORD, app.clock.now()).await.unwrap();
    let store = format!("{:?}", app.hub.db.dialect()).to_lowercase();
    Browser::start(&format!("{store}-{test}")).await
}

async fn log_in(app: &TestApp, browser: &Browser, password: &str) {
    browser.goto(&format!("{}/admin/login", app.url)).await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", password).await;
    browser.click("#login").await;
}

async fn refunds_of(app: &TestApp, payment_id: &str) -> Vec<Value> {
    app.get_json(&format!("/v1/payments/{payment_id}/refunds")).await["data"].as_array().unwrap().clone()
}

on_both_stores! {
    async fn an_operator_finds_a_payment_refunds_it_once_and_sees_the_refund_in_its_timeline(app) {
        let payment = app.paid_payment(4_000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let capture = payment["provider_refs"]["capture_id"].as_str().unwrap().to_owned();
        let Some(browser) = console(&app, "refund").await else { return };

        log_in(&app, &browser, PASSWORD).await;
        browser.find("#payments").await;
        assert!(browser.text("#mode").await.to_lowercase().contains("test"));
        browser.screenshot("payments").await;

        // Found by PayPal's capture id, as a buyer's receipt would name it.
        browser.fill("#q", &capture).await;
        browser.click("#search").await;
        browser.find(&format!("a[href='/admin/payments/{id}']")).await;
        let rows = browser.client.find_all(fantoccini::Locator::Css("#payments tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 1, "one payment has that capture id");
        browser.click(&format!("a[href='/admin/payments/{id}']")).await;
        assert_eq!(browser.text("#payment-status").await, "succeeded");

        browser.fill("#refund-amount", "15.00").await;
        browser.click("#refund").await;
        let question = browser.text("#refund-question").await;
        assert!(question.contains("15.00 USD") && question.contains(&id), "{question}");
        browser.screenshot("confirm-refund").await;

        // The confirmation submitted twice at once (a double click, a retry): one refund.
        let statuses = browser
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const form = document.querySelector('form[action$=\"/refund\"]');
                 const send = () => fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)) })
                     .then(r => r.status);
                 Promise.all([send(), send()]).then(done);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(statuses.as_array().unwrap().len(), 2, "{statuses}");
        let refunds = refunds_of(&app, &id).await;
        assert_eq!(refunds.len(), 1, "a double submit refunds once: {refunds:?}");
        assert_eq!(refunds[0]["amount"], 1_500);
        let refund_id = refunds[0]["id"].as_str().unwrap().to_owned();

        // Submitting the same confirmation once more only shows the refund already made.
        browser.click("#confirm-refund").await;
        let notice = browser.text("#refund-notice").await;
        assert!(notice.contains(&refund_id), "{notice}");
        assert_eq!(refunds_of(&app, &id).await.len(), 1);

        let mut timeline = String::new();
        for _ in 0..40 {
            timeline = browser.text("#timeline").await;
            if timeline.contains("refund.succeeded") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            browser.goto(&format!("{}/admin/payments/{id}", app.url)).await;
        }
        assert!(timeline.contains(&refund_id), "{timeline}");
        assert!(timeline.contains("refund.succeeded"), "{timeline}");
        assert!(timeline.contains("payment.succeeded"), "{timeline}");
        assert_eq!(browser.text("#refunded").await, "15.00 USD");
        browser.screenshot("payment-timeline").await;
        browser.close().await;
    }

    async fn a_wrong_password_and_a_form_without_its_token_are_refused(app) {
        let payment = app.paid_payment(2_000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let Some(browser) = console(&app, "refusals").await else { return };

        log_in(&app, &browser, "not the password at all").await;
        let page = browser.text(".error").await;
        assert!(page.contains("wrong email or password"), "{page}");
        browser.screenshot("wrong-password").await;
        browser.goto(&format!("{}/admin/payments", app.url)).await;
        browser.find("#login").await;
        assert_eq!(browser.path().await, "/admin/login", "no page without logging in");

        log_in(&app, &browser, PASSWORD).await;
        browser.find("#payments").await;
        browser.goto(&format!("{}/admin/payments/{id}/refund?amount=5.00", app.url)).await;
        browser.find("#confirm-refund").await;
        let strip = "document.querySelector('form[action$=\"/refund\"] input[name=csrf]').remove()";
        browser.client.execute(strip, vec![]).await.unwrap();
        browser.click("#confirm-refund").await;
        let page = browser.text(".error").await;
        assert!(page.contains("did not carry this session's token"), "{page}");
        browser.screenshot("missing-csrf").await;
        assert!(refunds_of(&app, &id).await.is_empty(), "a form without its token refunds nothing");

        // A bad amount is a message on the page, not an error page of the server.
        browser.goto(&format!("{}/admin/payments/{id}/refund?amount=lots", app.url)).await;
        let page = browser.text(".error").await;
        assert!(page.contains("cannot be read"), "{page}");
        browser.close().await;
    }
}
