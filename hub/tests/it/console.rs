//! The operator console in a real (headless) browser: logging in, finding a payment,
//! refunding it and reading its timeline, and what the console refuses.

use payhub::services::admins::create_admin;
use payhub_core::Clock;
use payhub_core::id::WebhookEndpointId;
use payhub_store::{EndpointStatus, NewWebhookEndpoint};
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

/// Sends the form `css` finds twice at once, as a double click or a resend would, and waits
/// for both answers.
async fn submit_twice_at_once(browser: &Browser, css: &str) {
    let statuses = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const form = document.querySelector(arguments[0]);
             const send = () => fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)) })
                 .then(r => r.status);
             Promise.all([send(), send()]).then(done);",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    assert_eq!(statuses.as_array().unwrap().len(), 2, "{statuses}");
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
        browser.find("#today").await;
        assert!(browser.text("#mode").await.to_lowercase().contains("test"));
        browser.click("a[href='/admin/payments']").await;
        browser.find("#payments").await;
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
        submit_twice_at_once(&browser, r#"form[action$="/refund"]"#).await;
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
        // The merchant's endpoint answered each delivery; the timeline shows the attempt.
        assert!(timeline.contains("attempt 1: HTTP 200"), "{timeline}");
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
        browser.goto(&format!("{}/admin/payments?status=succeeded", app.url)).await;
        browser.find("#login").await;
        assert_eq!(browser.path().await, "/admin/login", "no page without logging in");

        // Logged in from there, the operator lands on the page asked for.
        browser.fill("#email", EMAIL).await;
        browser.fill("#password", PASSWORD).await;
        browser.click("#login").await;
        browser.find("#payments").await;
        assert_eq!(browser.path().await, "/admin/payments");
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

/// The buyer opens a PayPal dispute about a payment.
async fn open_dispute(app: &TestApp, payment: &Value) {
    let capture = payment["provider_refs"]["capture_id"].as_str().unwrap();
    let body = serde_json::json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "amount": { "currency_code": "USD", "value": "10.00" } });
    app.sandbox_control(reqwest::Method::POST, &format!("/sandbox/paypal/captures/{capture}/dispute"), body).await;
}

/// The console over plain HTTP, for what needs no browser: cookies, sessions and modes.
struct ConsoleHttp<'a> {
    app: &'a TestApp,
    session: String,
    csrf: String,
}

/// A cookie's value from a response's `Set-Cookie` headers, with its attributes.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned()
}

/// The value of a hidden field of a console page's (first) form that has it.
fn hidden_field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no field {name} on the page")) + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_owned()
}

/// The text of the element of a page with this id (an element without children).
fn element_text(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("no #{id} on the page")) + marker.len();
    let text = &page[at..][page[at..].find('>').unwrap() + 1..];
    text[..text.find('<').unwrap()].to_owned()
}

/// The form token a console page carries.
fn csrf_of(page: &str) -> String {
    hidden_field(page, "csrf")
}

impl<'a> ConsoleHttp<'a> {
    async fn log_in(app: &'a TestApp) -> (ConsoleHttp<'a>, String) {
        create_admin(&app.hub.db, EMAIL, PASSWORD, app.clock.now()).await.unwrap();
        let form = app.http.get(format!("{}/admin/login", app.url)).send().await.unwrap();
        let login_cookie = cookie_value(&set_cookie(&form, "payhub_console_login").unwrap());
        let login_page = form.text().await.unwrap();
        assert!(login_page.starts_with("<!DOCTYPE html><html"), "a standards-mode page: {login_page:.60}");
        let csrf = csrf_of(&login_page);
        let response = app
            .http
            .post(format!("{}/admin/login", app.url))
            .header("cookie", format!("payhub_console_login={login_cookie}"))
            .form(&[("csrf", csrf.as_str()), ("email", EMAIL), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/admin", "a login lands on the overview");
        let set = set_cookie(&response, "payhub_console").expect("a session cookie");
        let mut console = ConsoleHttp { app, session: cookie_value(&set), csrf: String::new() };
        console.csrf = csrf_of(&console.get("/admin/payments").await.text().await.unwrap());
        (console, set)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let cookie = format!("payhub_console={}", self.session);
        self.app.http.get(format!("{}{path}", self.app.url)).header("cookie", cookie).send().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let cookie = format!("payhub_console={}", self.session);
        let request = self.app.http.post(format!("{}{path}", self.app.url)).header("cookie", cookie);
        request.form(form).send().await.unwrap()
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

on_both_stores! {
    async fn a_session_lives_on_the_server_expires_and_ends_at_logout(app) {
        let (console, set) = ConsoleHttp::log_in(&app).await;
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        assert!(!set.contains("Secure"), "a plain-http hub cannot use a Secure cookie: {set}");
        let page = console.get("/admin/payments").await;
        assert_eq!(page.status(), 200);
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'self'"), "{policy}");

        // Logging out without the session's form token changes nothing.
        let refused = console.post("/admin/logout", &[("csrf", "forged")]).await;
        assert_eq!(refused.status(), 403);
        assert_eq!(console.page("/admin/payments").await.0, 200);

        let out = console.post("/admin/logout", &[("csrf", console.csrf.as_str())]).await;
        assert_eq!(out.status(), 303);
        // The old cookie is worth nothing once the session is gone from the server.
        let after = console.get("/admin/payments").await;
        let location = after.headers()["location"].to_str().unwrap();
        assert_eq!((after.status().as_u16(), location), (303, "/admin/login?next=%2Fadmin%2Fpayments"));

        // A login form posted without the cookie it was served with is refused.
        let forged = app
            .http
            .post(format!("{}/admin/login", app.url))
            .form(&[("csrf", "guessed"), ("email", EMAIL), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert!(set_cookie(&forged, "payhub_console").is_none());

        let (console, _) = ConsoleHttp::log_in(&app).await;
        app.advance(chrono::Duration::hours(13)).await;
        let expired = console.get("/admin/payments").await;
        assert_eq!(expired.status(), 303, "a session ends 12 hours after login");
    }

    async fn switching_modes_returns_to_the_list_page_of_the_section_and_never_leaves_the_console(app) {
        let (console, _) = ConsoleHttp::log_in(&app).await;
        let (_, disputes) = console.page("/admin/disputes").await;
        assert_eq!(hidden_field(&disputes, "next"), "/admin/disputes", "the switch says where it was made");
        let (_, customer) = console.page("/admin/customers/ana%40shop.example").await;
        assert_eq!(hidden_field(&customer, "next"), "/admin/subscriptions");
        for (next, lands) in [
            ("/admin/disputes", "/admin/disputes"),
            ("/admin", "/admin"),
            ("/admin/inbox", "/admin/inbox"),
            ("/admin/webhooks?x=1", "/admin/webhooks"),
            ("/admin/subscriptions?status=trialing", "/admin/subscriptions"),
            // A resource of one mode is not in the other: its section's list instead.
            ("/admin/payments/pay_00000000000000000000000000", "/admin/payments"),
            ("/admin/api-keys/key_1/revoke", "/admin/api-keys"),
            ("/admin/customers/ana", "/admin/subscriptions"),
            ("/admin/nowhere", "/admin"),
            ("//evil.example/admin", "/admin"),
            ("/admin//evil.example", "/admin"),
            ("/admin\\evil.example", "/admin"),
            ("https://evil.example/admin/payments", "/admin"),
            ("", "/admin"),
        ] {
            let form = [("csrf", console.csrf.as_str()), ("mode", "live"), ("next", next)];
            let switched = console.post("/admin/mode", &form).await;
            assert_eq!(switched.status(), 303, "{next}");
            assert_eq!(switched.headers()["location"], lands, "{next}");
        }
        let (_, overview) = console.page("/admin").await;
        assert!(overview.contains("Overview (live mode)"), "the switch was made: {overview:.300}");
    }

    async fn the_overview_counts_every_failing_endpoint_and_says_how_many_it_lists(app) {
        let now = app.clock.now();
        for n in 0..205 {
            let id = WebhookEndpointId::generate(&app.hub.ids, now);
            let new = NewWebhookEndpoint {
                id: id.clone(),
                mode: payhub_core::Mode::Test,
                url: format!("https://hooks.example/{n}"),
                secret: "whsec_c2Vjb25kIHNlY3JldCBmb3IgdGVzdHM=".into(),
                event_types: vec!["*".into()],
                description: None,
            };
            app.hub.db.create_endpoint(new, now).await.unwrap();
            app.hub.db.set_endpoint_status(&id, EndpointStatus::Disabled, Some("test"), now).await.unwrap();
        }
        let (console, _) = ConsoleHttp::log_in(&app).await;
        let (status, page) = console.page("/admin").await;
        assert_eq!(status, 200);
        assert_eq!(element_text(&page, "overview-failing"), "205", "every disabled endpoint counts");
        assert!(page.contains("Showing 200 of 205"), "the list says it is capped");
    }

    async fn the_overview_counts_every_dispute_waiting_for_a_response_and_the_soonest_due(app) {
        use payhub_core::dispute::{Dispute, DisputeFacts, DisputeReason, DisputeStage, DisputeStatus};
        let paid = app.paid_payment(3_000).await;
        let payment_id = payhub_core::id::PaymentId::parse(paid["id"].as_str().unwrap()).unwrap();
        let payment = app.hub.db.payment(payhub_core::Mode::Test, &payment_id).await.unwrap().unwrap();
        let now = app.clock.now();
        // More than a page of them; the oldest is due soonest.
        let mut tx = app.hub.db.begin().await.unwrap();
        for n in 0..205 {
            let facts = DisputeFacts {
                provider_dispute_id: format!("PP-D-{n}"),
                transaction_id: None,
                reason: DisputeReason::NotReceived,
                stage: DisputeStage::Inquiry,
                status: DisputeStatus::NeedsResponse,
                amount: payhub_core::Money::new(100, payhub_core::Currency::parse("USD").unwrap()),
                response_due_at: Some(now + chrono::Duration::days(n + 1)),
                messages: vec![],
                offers: vec![],
                evidence: vec![],
                amount_refunded: None,
                provider_outcome: None,
                allowed_actions: vec![],
                provider_updated_at: None,
            };
            // Ids in the order made: the first is the oldest.
            let id = payhub_core::id::DisputeId::generate(&app.hub.ids, now - chrono::Duration::seconds(300 - n));
            let cause = payhub_core::transition::Cause::Reconciler;
            let dispute = Dispute::open(id, &payment, &facts, &cause, now).into_resource();
            tx.insert_dispute(&dispute).await.unwrap();
        }
        tx.commit().await.unwrap();

        let (console, _) = ConsoleHttp::log_in(&app).await;
        let (_, page) = console.page("/admin").await;
        assert_eq!(element_text(&page, "overview-disputes"), "205", "every dispute waiting counts");
        let soonest = (now + chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S UTC").to_string();
        assert_eq!(element_text(&page, "overview-disputes-due"), soonest, "the oldest, beyond the newest 200");
    }

    async fn the_console_shows_one_mode_at_a_time_and_never_acts_across_modes(app) {
        let payment = app.paid_payment(3_000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let (console, _) = ConsoleHttp::log_in(&app).await;
        let (_, test_list) = console.page("/admin/payments").await;
        assert!(test_list.contains(&id));

        // A refund form opened in test mode…
        let (_, confirm) = console.page(&format!("/admin/payments/{id}/refund?amount=10.00")).await;
        let key = hidden_field(&confirm, "key");

        let switched = console.post("/admin/mode", &[("csrf", console.csrf.as_str()), ("mode", "live")]).await;
        assert_eq!(switched.status(), 303);
        let (_, live_list) = console.page("/admin/payments").await;
        assert!(live_list.contains("No live-mode payment matches") && !live_list.contains(&id), "{live_list}");
        let (status, page) = console.page(&format!("/admin/payments/{id}")).await;
        assert_eq!(status, 404, "{page}");
        assert!(page.contains("no live-mode payment"), "{page}");

        // …and submitted after switching to live refunds nothing.
        let form = [("csrf", console.csrf.as_str()), ("key", key.as_str()), ("mode", "test"), ("amount", "1000")];
        let refused = console.post(&format!("/admin/payments/{id}/refund"), &form).await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains("opened in test mode"));
        assert!(refunds_of(&app, &id).await.is_empty());

        let (status, page) = console.page("/admin/payments?status=lost").await;
        assert_eq!(status, 400);
        assert!(page.contains("no payment status `lost`"), "{page}");
    }

}

/// The disputes queue, on an app whose dispute sweep runs hourly by the test clock: the webhook
/// brings the first dispute, so the timeline can show the notification behind it.
async fn disputes_queue(backend: payhub_store::testing::Backend) {
    let slow_sweep = |settings: &mut payhub::app::HubSettings| {
        settings.disputes.sweep_interval = std::time::Duration::from_secs(3600)
    };
    let Some(app) = TestApp::spawn_with(backend, slow_sweep).await else { return };
    let first = app.paid_payment(4_000).await;
    let second = app.paid_payment(5_000).await;
    let (first_id, second_id) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    // A sweep that found the first dispute before its webhook would leave no notification behind
    // it: the sweep done at start must be over before the case opens, and moving the clock two
    // days makes the sweep due again, so the webhook must have brought the case before that.
    app.first_dispute_sweep_done().await;
    open_dispute(&app, &first).await;
    app.eventually("the first dispute's webhook applied", || async {
        let disputes: Value = app.get(&format!("/v1/payments/{first_id}/disputes")).await.json().await.unwrap();
        disputes["data"].as_array().is_some_and(|list| !list.is_empty())
    })
    .await;
    app.advance(chrono::Duration::days(2)).await;
    open_dispute(&app, &second).await;
    let (console, _) = ConsoleHttp::log_in(&app).await;
    app.eventually("both disputes in the queue", || async {
        let page = console.page("/admin/disputes").await.1;
        page.contains(first_id) && page.contains(second_id)
    })
    .await;
    let (_, queue) = console.page("/admin/disputes").await;
    // Opened first, due first, though it is the older of the two.
    assert!(queue.find(first_id).unwrap() < queue.find(second_id).unwrap(), "{queue}");
    assert!(queue.contains(&format!("href=\"/admin/payments/{first_id}\"")));

    // The payment's timeline shows PayPal's notification that opened the dispute.
    let (_, page) = console.page(&format!("/admin/payments/{first_id}")).await;
    let timeline = &page[page.find("id=\"timeline\"").unwrap()..];
    assert!(timeline.contains("notification") && timeline.contains("CUSTOMER.DISPUTE.CREATED"), "{timeline}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disputes_queue_puts_the_soonest_due_first_and_links_the_payment_sqlite() {
    disputes_queue(payhub_store::testing::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disputes_queue_puts_the_soonest_due_first_and_links_the_payment_postgres() {
    disputes_queue(payhub_store::testing::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_the_session_cookie_is_secure() {
    let app = TestApp::spawn_with(payhub_store::testing::Backend::Sqlite, |settings| {
        settings.public_url = "https://pay.shop.example".into();
    })
    .await
    .unwrap();
    let (_, set) = ConsoleHttp::log_in(&app).await;
    assert!(set.contains("; Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
}

on_both_stores! {
    async fn the_payments_list_pages_and_searches_by_customer_and_status(app) {
        let paid = app.paid_payment(1_000).await;
        let mut opened = Vec::new();
        for k in 0..25 {
            let customer = if k == 0 { "cus_ada" } else { "cus_bob" };
            let response = app
                .post("/v1/payments", serde_json::json!({ "provider": "paypal", "amount": 500 + k, "currency": "USD",
                    "return_url": "https://shop.example/thanks", "customer_id": customer }))
                .await;
            assert_eq!(response.status(), 201);
            opened.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        let (console, _) = ConsoleHttp::log_in(&app).await;

        // 26 payments, 25 to a page, newest first: the paid one, the oldest, is on page two.
        let (_, first) = console.page("/admin/payments").await;
        assert!(first.contains(&opened[24]) && !first.contains(paid["id"].as_str().unwrap()));
        let link = "id=\"next-page\" href=\"";
        let at = first.find(link).expect("a next page link") + link.len();
        let next = first[at..][..first[at..].find('"').unwrap()].replace("&amp;", "&");
        let (_, second) = console.page(&next).await;
        assert!(second.contains(paid["id"].as_str().unwrap()) && !second.contains(&opened[24]), "{second}");
        assert!(!second.contains("id=\"next-page\""));

        let (_, ada) = console.page("/admin/payments?q=cus_ada").await;
        assert!(ada.contains(&opened[0]) && !ada.contains(&opened[1]), "{ada}");
        let (_, succeeded) = console.page("/admin/payments?status=succeeded").await;
        assert!(succeeded.contains(paid["id"].as_str().unwrap()) && !succeeded.contains(&opened[0]));
        let (_, none) = console.page("/admin/payments?q=cus_ada&status=succeeded").await;
        assert!(none.contains("No test-mode payment matches"), "{none}");
    }
}

#[tokio::test]
async fn admins_create_reads_the_password_from_stdin_and_refuses_a_short_one() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("hub.db");
    let create = |email: &str, password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_payhub"))
            .args(["admins", "create", "--email", email, "--database-url", database.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = create("ops@shop.example", "too short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));

    let created = create("Ops@Shop.Example", PASSWORD);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(String::from_utf8_lossy(&created.stdout).contains("created operator ops@shop.example"));

    let db = payhub_store::Database::connect(database.to_str().unwrap()).await.unwrap();
    let logged_in = payhub::services::admins::verify_login(&db, "ops@shop.example", PASSWORD).await.unwrap();
    assert_eq!(logged_in.as_deref(), Some("ops@shop.example"));
    assert_eq!(payhub::services::admins::verify_login(&db, "ops@shop.example", "wrong").await.unwrap(), None);
}

on_both_stores! {
    async fn a_refund_the_provider_failed_is_reported_and_not_made_again_by_resubmitting(app) {
        let payment = app.paid_payment(2_500).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let (console, _) = ConsoleHttp::log_in(&app).await;
        let (_, confirm) = console.page(&format!("/admin/payments/{id}/refund?amount=5.00")).await;
        let key = hidden_field(&confirm, "key");
        let form = [("csrf", console.csrf.as_str()), ("key", key.as_str()), ("mode", "test"), ("amount", "500")];

        let faults = serde_json::json!({ "fail_next": 1, "status": 503, "path_prefix": "/v2/payments/captures" });
        app.sandbox_control(reqwest::Method::PUT, "/sandbox/paypal/faults", faults).await;
        let failed = console.post(&format!("/admin/payments/{id}/refund"), &form).await;
        assert_eq!(failed.status(), 503);
        let page = failed.text().await.unwrap();
        assert!(page.contains("Try again"), "{page}");
        let refunds = refunds_of(&app, &id).await;
        assert_eq!(refunds.len(), 1, "the attempt is recorded: {refunds:?}");

        // The same form sent again shows that refund instead of asking PayPal for another.
        let again = console.post(&format!("/admin/payments/{id}/refund"), &form).await;
        assert_eq!(again.status(), 303);
        let refund_id = refunds[0]["id"].as_str().unwrap();
        assert_eq!(again.headers()["location"], format!("/admin/payments/{id}?refund={refund_id}").as_str());
        assert_eq!(refunds_of(&app, &id).await.len(), 1);
    }
}

/// The keys (of any mode) with this name, as the store lists them.
async fn keys_named(app: &TestApp, name: &str) -> Vec<payhub_store::ApiKeyRecord> {
    app.hub.db.list_api_keys().await.unwrap().into_iter().filter(|k| k.name == name).collect()
}

/// Whether a request with `secret` as its API key is let in.
async fn key_works(app: &TestApp, secret: &str) -> bool {
    let response = app.http.get(format!("{}/v1/payments", app.url)).bearer_auth(secret).send().await.unwrap();
    match response.status().as_u16() {
        200 => true,
        401 => false,
        other => panic!("GET /v1/payments answered {other}"),
    }
}

on_both_stores! {
    async fn an_operator_creates_a_key_sees_its_secret_once_and_revokes_it_after_confirming(app) {
        let Some(browser) = console(&app, "api-keys").await else { return };
        log_in(&app, &browser, PASSWORD).await;
        browser.click("a[href='/admin/api-keys']").await;
        // The test app's own key is listed by its last characters, never by its secret.
        let list = browser.text("#api-keys").await;
        assert!(list.contains("tests") && list.contains(&app.api_key[app.api_key.len() - 4..]), "{list}");
        assert!(!browser.client.source().await.unwrap().contains(&app.api_key));

        browser.fill("#key-name", "shop backend").await;
        browser.click("#create-key").await;
        let secret = browser.text("#key-secret").await;
        assert!(secret.starts_with("sk_test_"), "{secret}");
        assert!(browser.text("#key-created").await.contains("cannot show it again"));
        browser.screenshot("api-key-created").await;
        assert!(key_works(&app, &secret).await, "the new key works at once");

        // The list shows the new key, not its secret.
        browser.goto(&format!("{}/admin/api-keys", app.url)).await;
        let list = browser.text("#api-keys").await;
        assert!(list.contains("shop backend") && list.contains(&secret[secret.len() - 4..]), "{list}");
        assert!(!browser.client.source().await.unwrap().contains(&secret));

        // The create form submitted twice at once (a double click, a resend): one key, and the
        // same form sent again says which key it made instead of making another.
        browser.fill("#key-name", "nightly export").await;
        submit_twice_at_once(&browser, r#"form[action="/admin/api-keys"]"#).await;
        let nightly = keys_named(&app, "nightly export").await;
        assert_eq!(nightly.len(), 1, "a double submit makes one key: {nightly:?}");
        browser.click("#create-key").await;
        let again = browser.text("#key-made-already").await;
        assert!(again.contains(nightly[0].id.as_str()) && again.contains("no other key was made"), "{again}");
        assert!(!browser.client.source().await.unwrap().contains("sk_test_"), "the secret is never shown twice");
        browser.screenshot("api-key-made-already").await;
        assert_eq!(keys_named(&app, "nightly export").await.len(), 1);

        browser.goto(&format!("{}/admin/api-keys", app.url)).await;
        let key_id = keys_named(&app, "shop backend").await.remove(0).id;
        browser.click(&format!("#key-{key_id} a.revoke")).await;
        let question = browser.text("#revoke-question").await;
        assert!(question.contains(key_id.as_str()) && question.contains("shop backend"), "{question}");
        assert!(key_works(&app, &secret).await, "asking for confirmation revokes nothing");
        browser.screenshot("confirm-revoke").await;
        browser.click("#confirm-revoke").await;
        assert!(browser.text("#revoke-notice").await.contains(key_id.as_str()));
        assert!(browser.text(&format!("#key-{key_id} .state")).await.starts_with("revoked"));
        assert!(!key_works(&app, &secret).await, "a revoked key is refused");
        assert!(key_works(&app, &app.api_key).await, "the other key still works");
        browser.close().await;
    }

    async fn the_secret_is_answered_no_store_and_keys_stay_in_their_mode(app) {
        let (console, _) = ConsoleHttp::log_in(&app).await;
        let form = [("csrf", console.csrf.as_str()), ("key", "form-1"), ("mode", "test"), ("name", "reporting")];
        let created = console.post("/admin/api-keys", &form).await;
        assert_eq!(created.status(), 200);
        assert_eq!(created.headers()["cache-control"], "no-store", "a page showing a secret is never kept");
        assert!(created.text().await.unwrap().contains("sk_test_"));
        let (_, list) = console.page("/admin/api-keys").await;
        assert!(list.contains("reporting"));
        assert_eq!(console.get("/admin/api-keys").await.headers()["cache-control"], "private, no-cache");

        let (status, page) = console.page("/admin/api-keys/not-a-key/revoke").await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("is not an API key id"), "{page}");
        let nameless = console.post("/admin/api-keys", &[("csrf", console.csrf.as_str()), ("mode", "test")]).await;
        assert_eq!(nameless.status(), 400);
        let forged = console.post("/admin/api-keys", &[("csrf", "forged"), ("mode", "test"), ("name", "x")]).await;
        assert_eq!(forged.status(), 403);

        // Live mode shows none of the test keys, and a test key cannot be revoked from there.
        let test_key = app.hub.db.list_api_keys().await.unwrap().into_iter().find(|k| k.name == "reporting").unwrap();
        console.post("/admin/mode", &[("csrf", console.csrf.as_str()), ("mode", "live")]).await;
        let (_, live) = console.page("/admin/api-keys").await;
        assert!(live.contains("No live-mode API key") && !live.contains("reporting"), "{live}");
        let path = format!("/admin/api-keys/{}/revoke", test_key.id);
        let refused = console.post(&path, &[("csrf", console.csrf.as_str()), ("mode", "live")]).await;
        assert_eq!(refused.status(), 404);
        // A form opened in test mode and sent after the switch creates nothing.
        let stale = console.post("/admin/api-keys", &form).await;
        assert_eq!(stale.status(), 422);
        let keys = app.hub.db.list_api_keys().await.unwrap();
        assert_eq!(keys.iter().filter(|k| k.name == "reporting").count(), 1);
        assert!(keys.iter().all(|k| k.revoked_at.is_none()));
    }
}

/// An app whose deliveries retry an hour apart by the test clock, so a failing delivery waits
/// for its retry while the test looks.
async fn hourly_retries(backend: payhub_store::testing::Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| {
        settings.delivery.schedule = vec![std::time::Duration::from_secs(3600); 3];
    })
    .await
}

/// How many deliveries of `event_id` the merchant's endpoint received, and the status it gave.
fn received(app: &TestApp, event_id: &str) -> usize {
    app.receiver.received.lock().unwrap().iter().filter(|(headers, _)| headers["webhook-id"] == event_id).count()
}

fn received_total(app: &TestApp) -> usize {
    app.receiver.received.lock().unwrap().len()
}

async fn events_of(app: &TestApp, resource_id: &str) -> Vec<(String, String)> {
    let events = app.get_json(&format!("/v1/events?resource_id={resource_id}")).await;
    let events = events["data"].as_array().unwrap().iter();
    events.map(|e| (e["id"].as_str().unwrap().to_owned(), e["type"].as_str().unwrap().to_owned())).collect()
}

on_both_stores! {
    with hourly_retries;
    async fn an_operator_sees_a_failing_endpoint_disables_it_and_replays_what_it_missed(app) {
        *app.receiver.answer.lock().unwrap() = 500;
        let payment = app.paid_payment(4_000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let endpoint = app.get_json("/v1/webhook_endpoints").await["data"][0]["id"].as_str().unwrap().to_owned();
        let endpoint_id = payhub_core::id::WebhookEndpointId::parse(&endpoint).unwrap();
        let since = app.clock.now() - chrono::Duration::hours(1);
        app.eventually("the first failed attempts recorded", || async {
            let health = app.hub.db.endpoint_health(&endpoint_id, since, 3).await.unwrap();
            health.attempts >= 2 && health.pending >= 2
        })
        .await;
        let Some(browser) = console(&app, "webhooks").await else { return };
        log_in(&app, &browser, PASSWORD).await;
        browser.click("a[href='/admin/webhooks']").await;
        let section = format!("#endpoint-{endpoint}");
        let rate = browser.text(&format!("{section} .success-rate")).await;
        assert!(rate.starts_with("0% (0 of "), "{rate}");
        let errors = browser.text(&format!("{section} table.errors")).await;
        assert!(errors.contains("endpoint answered 500"), "{errors}");
        let rows = browser.client.find_all(fantoccini::Locator::Css(&format!("{section} table.errors tbody tr"))).await;
        assert!((1..=3).contains(&rows.unwrap().len()), "the last three errors at most");
        assert_ne!(browser.text(&format!("{section} .pending")).await, "0", "retries are waiting");
        browser.screenshot("webhooks-failing").await;

        // Disabled, the endpoint's waiting retries stop with it: an hour later, none is sent.
        browser.click(&format!("{section} button.disable")).await;
        browser.text_when("#webhooks-notice", |s| s.contains("Disabled")).await;
        assert!(browser.text(&format!("{section} .status")).await.starts_with("disabled"));
        assert_eq!(browser.text(&format!("{section} .pending")).await, "0");
        let before = received_total(&app);
        app.advance(chrono::Duration::hours(2)).await;
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert_eq!(received_total(&app), before, "a disabled endpoint is sent nothing, retries included");
        let events = events_of(&app, &id).await;
        for (event_id, _) in &events {
            let event_id = payhub_core::id::EventId::parse(event_id).unwrap();
            let states = app.hub.db.deliveries_of_event(&event_id).await.unwrap();
            assert!(states.iter().all(|d| d.status == "failed"), "{states:?}");
        }
        browser.screenshot("webhooks-disabled").await;

        // Fixed and enabled again: one event sent again from the page, then the rest by a replay.
        *app.receiver.answer.lock().unwrap() = 200;
        browser.click(&format!("{section} button.enable")).await;
        browser.text_when(&format!("{section} .status"), |s| s.starts_with("enabled")).await;
        let (succeeded, _) = events.iter().find(|(_, t)| t == "payment.succeeded").unwrap().clone();
        let sent_before = received(&app, &succeeded);
        browser.fill(&format!("{section} form.resend input[name=event]"), &succeeded).await;
        browser.click(&format!("{section} form.resend button")).await;
        browser.text_when("#webhooks-notice", |s| s.contains("Queued the event again")).await;
        app.eventually("the event resent", || async { received(&app, &succeeded) > sent_before }).await;

        let counts_before: Vec<usize> = events.iter().map(|(e, _)| received(&app, e)).collect();
        browser.fill(&format!("{section} form.replay input[name=since]"), "3h").await;
        browser.click(&format!("{section} form.replay button")).await;
        let replayed = format!("Queued {} event(s) again", events.len());
        browser.text_when("#webhooks-notice", |s| s.contains(&replayed)).await;
        app.eventually("every event of the period replayed", || async {
            events.iter().zip(&counts_before).all(|((e, _), before)| received(&app, e) > *before)
        })
        .await;
        browser.goto(&format!("{}/admin/webhooks", app.url)).await;
        let rate = browser.text(&format!("{section} .success-rate")).await;
        assert!(!rate.starts_with("0%"), "accepted deliveries count: {rate}");
        browser.screenshot("webhooks-replayed").await;
        browser.close().await;
    }

    async fn the_endpoints_page_refuses_what_it_cannot_do_as_the_api_does(app) {
        let payment = app.paid_payment(2_000).await;
        let events = events_of(&app, payment["id"].as_str().unwrap()).await;
        let endpoint = app.get_json("/v1/webhook_endpoints").await["data"][0]["id"].as_str().unwrap().to_owned();
        let (console, _) = ConsoleHttp::log_in(&app).await;
        let csrf = console.csrf.clone();
        let post = |what: &'static str, fields: Vec<(&'static str, String)>| {
            let mut form = vec![("csrf", csrf.clone()), ("mode", "test".to_owned())];
            form.extend(fields);
            let path = format!("/admin/webhooks/{endpoint}/{what}");
            let console = &console;
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let response = console.post(&path, &form).await;
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let (status, page) = post("resend", vec![("event", "nope".into())]).await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("not an event id"), "{page}");
        let (status, page) = post("resend", vec![("event", "evt_01J00000000000000000000000".into())]).await;
        assert_eq!(status, 404, "{page}");
        let (status, page) = post("replay", vec![("since", "tomorrow".into())]).await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("neither an RFC 3339 time nor a span"), "{page}");
        let (status, page) = post("replay", vec![("since", "1h".into()), ("until", "2h".into())]).await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("must be after"), "{page}");
        let (status, _) = post("status", vec![("enabled", "maybe".into())]).await;
        assert_eq!(status, 400);
        let forged = console.post(&format!("/admin/webhooks/{endpoint}/status"), &[("csrf", "forged"), ("mode", "test"), ("enabled", "false")]).await;
        assert_eq!(forged.status(), 403);

        // Disabled from the console, the endpoint is disabled for the API too: the API's resend
        // (the same service) sends it nothing, and naming it is refused with the same reason.
        assert_eq!(post("status", vec![("enabled", "false".into())]).await.0, 303);
        let (event_id, _) = &events[0];
        let resend = app.post(&format!("/v1/events/{event_id}/redeliver"), serde_json::json!({})).await;
        assert_eq!(resend.json::<Value>().await.unwrap()["queued"], 0, "nothing goes to a disabled endpoint");
        let named = app.post(&format!("/v1/events/{event_id}/redeliver?endpoint={endpoint}"), serde_json::json!({})).await;
        assert_eq!(named.status(), 422);
        assert!(named.text().await.unwrap().contains("is disabled; enable it again"));
        let (status, page) = post("resend", vec![("event", event_id.clone())]).await;
        assert_eq!(status, 400);
        assert!(page.contains("is disabled; enable it again"), "{page}");
        let endpoint_view = app.get_json(&format!("/v1/webhook_endpoints/{endpoint}")).await;
        assert_eq!(endpoint_view["status"], "disabled");
        assert_eq!(endpoint_view["disabled_reason"], format!("disabled by {EMAIL} in the console"));
    }
}

on_both_stores! {
    with TestApp::spawn_without_dispute_sweep;
    async fn a_parked_notification_retried_from_the_inbox_page_is_applied(app) {
        let payment = app.paid_payment(4_000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        // PayPal fails to show a dispute for as long as it takes: the dispute's notification
        // cannot be applied, is retried with backoff and, after a day of attempts, parked. (The
        // dispute sweep, done once at start, never comes due again in this app.)
        // The sweep done at start must be over before the case opens, or it would find it.
        app.first_dispute_sweep_done().await;
        let faults = serde_json::json!({ "fail_next": 100_000, "status": 500, "path_prefix": "/v1/customer/disputes/" });
        app.sandbox_control(reqwest::Method::PUT, "/sandbox/paypal/faults", faults).await;
        open_dispute(&app, &payment).await;
        let mut parked = Vec::new();
        for _ in 0..200 {
            parked = app.hub.db.parked_notifications(payhub_core::Mode::Test, 10).await.unwrap().0;
            if !parked.is_empty() {
                break;
            }
            app.advance(chrono::Duration::hours(1)).await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(parked.len(), 1, "the dispute's notification is parked");
        let notification = parked[0].clone();
        assert_eq!(notification.event_type, "CUSTOMER.DISPUTE.CREATED");
        assert!(app.get_json(&format!("/v1/payments/{id}/disputes")).await["data"].as_array().unwrap().is_empty());

        // PayPal answers again; the operator retries the notification from the inbox page.
        app.sandbox_control(reqwest::Method::PUT, "/sandbox/paypal/faults", serde_json::json!({ "fail_next": 0 })).await;
        let Some(browser) = console(&app, "inbox").await else { return };
        log_in(&app, &browser, PASSWORD).await;
        browser.click("a[href='/admin/inbox']").await;
        assert_eq!(browser.text("#parked-count").await, "1");
        let row = format!("#parked-{}", notification.id);
        let reason = browser.text(&format!("{row} .reason")).await;
        assert!(!reason.is_empty() && reason == notification.reason, "{reason}");
        assert!(browser.text(&row).await.contains(&notification.provider_event_id));
        browser.screenshot("inbox-parked").await;
        browser.click(&format!("{row} button.retry")).await;
        browser.text_when("#requeue-notice", |s| s.contains(&notification.id.to_string())).await;

        // Applied, not only requeued: the dispute exists, and the notification is its cause.
        app.eventually("the requeued notification applied", || async {
            app.hub.db.notification_status(payhub_core::ProviderName::Paypal, &notification.provider_event_id).await.unwrap().as_deref() == Some("processed")
        })
        .await;
        let disputes = app.get_json(&format!("/v1/payments/{id}/disputes")).await;
        let dispute_id = disputes["data"][0]["id"].as_str().expect("the dispute the notification brought").to_owned();
        let transitions = app.hub.db.transitions(&dispute_id).await.unwrap();
        let applied_by = |t: &payhub_core::transition::Transition| {
            matches!(&t.cause, payhub_core::transition::Cause::Notification { inbox_id, .. } if *inbox_id == notification.id)
        };
        assert!(transitions.iter().any(applied_by), "{transitions:?}");
        assert_eq!(app.payment(&id).await["disputed"], true);
        browser.goto(&format!("{}/admin/inbox", app.url)).await;
        assert_eq!(browser.text("#parked-count").await, "0");
        assert!(browser.find("#no-parked").await.is_displayed().await.unwrap());
        browser.screenshot("inbox-retried").await;
        browser.close().await;
    }

    async fn the_inbox_page_shows_refusals_and_refuses_a_retry_it_cannot_do(app) {
        // A notification with a forged signature is refused at the door, and counted.
        let event = serde_json::json!({ "id": "WH-FORGED-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {} });
        let mut forged = app.signed_notification(&event).await;
        // The body says something else than what was signed.
        forged.body = serde_json::to_vec(&serde_json::json!({ "id": "WH-FORGED-1", "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "resource": { "amount": "1000000" } })).unwrap();
        assert_eq!(app.deliver(&forged).await.status(), 401);
        let (console, _) = ConsoleHttp::log_in(&app).await;
        let (status, page) = console.page("/admin/inbox").await;
        assert_eq!(status, 200);
        let refused = &page[page.find("Refused notifications").unwrap()..];
        assert!(refused.contains("paypal") && refused.contains("bad_signature"), "{refused}");
        assert!(page.contains("id=\"backlog-count\""));
        assert!(page.contains("No parked test-mode notification"), "{page}");

        let retry = |id: &str| format!("/admin/inbox/{id}/retry");
        let csrf = console.csrf.as_str();
        let missing = console.post(&retry("999999"), &[("csrf", csrf), ("mode", "test")]).await;
        assert_eq!(missing.status(), 404);
        assert!(missing.text().await.unwrap().contains("no parked test-mode notification 999999"));
        let bad = console.post(&retry("first"), &[("csrf", csrf), ("mode", "test")]).await;
        assert_eq!(bad.status(), 400);
        let forged_form = console.post(&retry("1"), &[("csrf", "forged"), ("mode", "test")]).await;
        assert_eq!(forged_form.status(), 403);
        let other_mode = console.post(&retry("1"), &[("csrf", csrf), ("mode", "live")]).await;
        assert_eq!(other_mode.status(), 422);
    }
}

on_both_stores! {
    with hourly_retries;
    async fn the_overview_shows_what_needs_attention_first(app) {
        *app.receiver.answer.lock().unwrap() = 500;
        let payment = app.paid_payment(4_000).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        open_dispute(&app, &payment).await;
        let endpoint = app.get_json("/v1/webhook_endpoints").await["data"][0].clone();
        let endpoint_id = payhub_core::id::WebhookEndpointId::parse(endpoint["id"].as_str().unwrap()).unwrap();
        let since = app.clock.now() - chrono::Duration::hours(1);
        app.eventually("the dispute recorded and deliveries failing", || async {
            let disputes = app.get_json(&format!("/v1/payments/{id}/disputes")).await;
            let health = app.hub.db.endpoint_health(&endpoint_id, since, 1).await.unwrap();
            disputes["data"].as_array().is_some_and(|d| !d.is_empty()) && health.pending > 0
        })
        .await;

        let Some(browser) = console(&app, "overview").await else { return };
        log_in(&app, &browser, PASSWORD).await;
        browser.click("a[href='/admin']").await;
        assert_eq!(browser.text("#overview-failing").await, "1");
        let failing = browser.text("#overview-failing-endpoints").await;
        assert!(failing.contains(endpoint["url"].as_str().unwrap()) && failing.contains("endpoint answered 500"), "{failing}");
        assert_ne!(browser.text("#overview-outbox-pending").await, "0");
        assert_eq!(browser.text("#overview-disputes").await, "1");
        assert_ne!(browser.text("#overview-disputes-due").await, "—", "a dispute waiting for a response has a due date");
        assert_eq!(browser.text("#overview-parked").await, "0");
        let backlog: i64 = browser.text("#overview-backlog").await.parse().unwrap();
        assert!(backlog >= 0);
        // Marked: the failing endpoint and the dispute (the backlog comes and goes as notifications arrive).
        browser.find("#overview-failing.attention").await;
        browser.find("#overview-disputes.attention").await;
        let calm = browser.client.find_all(fantoccini::Locator::Css("#overview-parked.attention")).await.unwrap();
        assert!(calm.is_empty(), "nothing parked, nothing marked");
        browser.screenshot("overview").await;

        // Live mode has none of it: the switch stays on the overview.
        browser.click("#switch-mode").await;
        browser.text_when("h1", |s| s.contains("live mode")).await;
        assert_eq!(browser.path().await, "/admin");
        assert_eq!(browser.text("#overview-failing").await, "0");
        assert_eq!(browser.text("#overview-disputes").await, "0");
        assert_eq!(browser.text("#overview-outbox-pending").await, "0");
        browser.close().await;
    }
}

/// A payment the provider declines at capture: failed.
async fn declined_payment(app: &TestApp, amount: i64) {
    let payment = app.create_payment(amount).await;
    let order = payment["provider_refs"]["payment_id"].as_str().unwrap();
    let outcome = format!("/sandbox/paypal/orders/{order}/capture-outcome");
    app.sandbox_control(reqwest::Method::POST, &outcome, serde_json::json!({"status": "DECLINED"})).await;
    let back = app.approve(&payment).await;
    app.http.get(&back).send().await.unwrap();
    let id = payment["id"].as_str().unwrap();
    app.eventually("failed", || async { app.payment(id).await["status"] == "failed" }).await;
}

on_both_stores! {
    async fn the_overview_counts_todays_payments_and_draws_them_per_hour(app) {
        // A day's figures need the day's payments: never start in the last minutes before midnight.
        let now = app.clock.now();
        let midnight = now.date_naive().succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        if midnight - now < chrono::Duration::minutes(10) {
            app.advance(midnight - now + chrono::Duration::minutes(1)).await;
        }
        let first = app.paid_payment(3_000).await;
        app.paid_payment(2_000).await;
        declined_payment(&app, 1_000).await;
        let id = first["id"].as_str().unwrap();
        let refund = app.post(&format!("/v1/payments/{id}/refunds"), serde_json::json!({ "amount": 500 })).await;
        assert_eq!(refund.status(), 201);

        let Some(browser) = console(&app, "figures").await else { return };
        // The login lands on the overview, and never on another site whatever `next` says.
        browser.goto(&format!("{}/admin/login?next=//evil.example/admin", app.url)).await;
        browser.fill("#email", EMAIL).await;
        browser.fill("#password", PASSWORD).await;
        browser.click("#login").await;
        browser.find("#today").await;
        assert_eq!(browser.path().await, "/admin");
        assert_eq!(browser.text("#today-created").await, "3");
        assert_eq!(browser.text("#today-paid").await, "2");
        assert_eq!(browser.text("#today-failed").await, "1");
        assert_eq!(browser.text("#today-success-rate").await, "67%", "2 paid of 3 answered");
        assert_eq!(browser.text("#today-volume").await, "50.00 USD");
        assert_eq!(browser.text("#today-refunds").await, "1");
        assert_eq!(browser.text("#today-refunded").await, "5.00 USD");
        assert_eq!(browser.text("#today-open-disputes").await, "0");

        // 24 hours of bars, the last one this hour's: 2 paid, 1 failed.
        let hours = browser.client.find_all(fantoccini::Locator::Css("#hourly-chart g.hour")).await.unwrap();
        assert_eq!(hours.len(), 24);
        let this_hour = app.clock.now().format("%H:00").to_string();
        assert_eq!(hours[23].attr("data-hour").await.unwrap().as_deref(), Some(this_hour.as_str()));
        let chart = browser.find("#hourly-chart").await;
        let label = chart.attr("aria-label").await.unwrap().unwrap_or_default();
        assert!(label.contains("2 paid, 1 failed"), "{label}");
        let bars = browser.client.find_all(fantoccini::Locator::Css("#hourly-chart rect")).await.unwrap();
        assert_eq!(bars.len(), 48, "a paid and a failed bar per hour");
        let figures = browser.client.find_all(fantoccini::Locator::Css("#hourly-figures tbody tr")).await.unwrap();
        assert_eq!(figures.len(), 24, "the numbers are in a table too");
        browser.screenshot("overview-figures").await;

        // Live mode's day is its own.
        browser.click("#switch-mode").await;
        // The switch is a form post: navigating before its answer lands races with it.
        browser.text_when("#mode", |s| s.eq_ignore_ascii_case("live mode")).await;
        browser.goto(&format!("{}/admin", app.url)).await;
        browser.text_when("h1", |s| s.contains("live mode")).await;
        assert_eq!(browser.text("#today-created").await, "0");
        assert_eq!(browser.text("#today-success-rate").await, "—");
        assert_eq!(browser.text("#today-volume").await, "—");
        browser.close().await;
    }
}

on_both_stores! {
    async fn an_operator_follows_a_subscription_to_its_customers_entitlements(app) {
        let plan = app.weekly_plan_with_trial().await;
        let customer = "ana@shop.example";
        let subscription = app.subscribe(&plan, customer).await;
        let id = subscription["id"].as_str().unwrap().to_owned();
        assert_eq!(subscription["status"], "trialing");
        let Some(browser) = console(&app, "subscriptions").await else { return };
        log_in(&app, &browser, PASSWORD).await;

        browser.click("a[href='/admin/subscriptions']").await;
        let list = browser.text("#subscriptions").await;
        assert!(list.contains(&id) && list.contains("trialing") && list.contains(customer), "{list}");
        browser.screenshot("subscriptions").await;
        // Filtered by another status, it is not listed.
        browser.goto(&format!("{}/admin/subscriptions?status=canceled", app.url)).await;
        browser.find("#no-subscriptions").await;
        browser.goto(&format!("{}/admin/subscriptions?status=trialing", app.url)).await;

        browser.click(&format!("#subscriptions a[href='/admin/subscriptions/{id}']")).await;
        assert_eq!(browser.text("#subscription-status").await, "trialing");
        let plan_text = browser.text("#subscription-plan").await;
        assert!(plan_text.contains("Premium weekly") && plan_text.contains("4.99 USD"), "{plan_text}");
        assert_ne!(browser.text("#subscription-trial-end").await, "—", "a trial has an end");
        let timeline = browser.text("#timeline").await;
        assert!(timeline.contains("approval_pending → trialing"), "{timeline}");
        browser.screenshot("subscription").await;

        browser.click("#subscription-customer a").await;
        assert_eq!(browser.path().await, "/admin/customers/ana%40shop.example");
        let entitlements = browser.text("#entitlements").await;
        assert!(entitlements.contains("premium") && entitlements.contains("grants access"), "{entitlements}");
        assert!(browser.text("#customer-subscriptions").await.contains(&id));
        browser.screenshot("customer").await;

        // Live mode knows neither.
        browser.click("#switch-mode").await;
        browser.text_when("#mode", |s| s.eq_ignore_ascii_case("live mode")).await;
        browser.goto(&format!("{}/admin/subscriptions/{id}", app.url)).await;
        assert!(browser.text(".error").await.contains("no live-mode subscription"));
        browser.goto(&format!("{}/admin/customers/ana%40shop.example", app.url)).await;
        browser.find("#no-entitlements").await;
        browser.close().await;
    }
}
