//! A flood of forged but well-formed IPN messages costs a bounded number of inbox rows: past a
//! sender network's budget they are refused with 429 and only counted, while a genuine IPN sent
//! during the flood is stored and confirmed (sent again by PayPal when the budget refused it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::Duration as Span;
use payhub_core::ProviderName;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_stores;

/// Forged messages sent in the flood; more than any sender's budget.
const FLOOD: usize = 300;

impl TestApp {
    /// Sends forged IPNs numbered `numbers`, complete but for PayPal's confirmation; returns
    /// how many were stored (200) and how many refused over budget (429).
    async fn forge_ipns(&self, numbers: std::ops::Range<usize>) -> (usize, usize) {
        let merchant = self.sandbox.paypal.parties().merchant_email.replace('@', "%40");
        let (mut stored, mut limited) = (0, 0);
        for n in numbers {
            let forged = format!(
                "txn_id=FORGED{n:08}&txn_type=web_accept&payment_status=Completed&mc_gross=10.00&mc_currency=USD\
                 &receiver_email={merchant}&verify_sign=AFcWxV21C7fd0v3bYYYRCpSSRl31A{n}&ipn_track_id=f{n}&test_ipn=1"
            );
            let response = self.post_ipn(forged.as_bytes()).await;
            match response.status().as_u16() {
                200 => stored += 1,
                429 => {
                    limited += 1;
                    assert!(response.headers().get("retry-after").is_some(), "429 says when to come back");
                    let problem: Value = response.json().await.unwrap();
                    assert_eq!(problem["code"], "too_many_notifications", "{problem}");
                }
                other => panic!("forged IPN {n}: {other} {}", response.text().await.unwrap()),
            }
        }
        (stored, limited)
    }

    /// The statuses the hub answered the simulator's first IPN with, attempt by attempt.
    fn genuine_attempts(&self) -> Vec<u64> {
        let history = self.sandbox.paypal.ipn_history();
        let Some(first) = history.first() else { return Vec::new() };
        first["deliveries"].as_array().unwrap().iter().filter_map(|d| d["status_code"].as_u64()).collect()
    }
}

on_both_stores! {
    async fn a_flood_of_forged_ipns_costs_bounded_rows_and_a_genuine_ipn_still_applies(app) {
        let flood_started = Instant::now();
        let (stored, limited) = app.forge_ipns(0..FLOOD).await;
        // A budget of 100 per network, refilled at 2 a second while the flood lasts.
        let bound = 100 + 2 * (flood_started.elapsed().as_secs() as usize + 1);
        assert!(stored > 0 && stored <= bound, "{stored} forged IPNs stored, at most {bound} expected");
        assert!(limited >= FLOOD - bound, "{limited} refused");
        assert_eq!(stored + limited, FLOOD);
        let rows = app.hub.db.count_rows("SELECT COUNT(*) AS n FROM inbox WHERE provider_event_id LIKE 'IPN-FORGED%'").await.unwrap();
        assert_eq!(rows, stored as i64, "one inbox row per stored message, none for a refused one");
        let counts = app.hub.db.rejection_counts(ProviderName::Paypal).await.unwrap();
        let rate_limited: Vec<_> = counts.iter().filter(|c| c.reason == "rate_limited").map(|c| (c.source.as_str(), c.count)).collect();
        assert_eq!(rate_limited, [("127.0.0.0/24", limited as i64)], "refusals counted by reason and source");
        let samples = app.hub.db.recent_rejections(ProviderName::Paypal, 100_000).await.unwrap();
        assert!(samples.iter().all(|(reason, ..)| reason != "rate_limited"), "a refusal over budget keeps no sample");

        // While the flood goes on, the simulator sends a genuine IPN from the same network: it
        // meets the spent budget (almost always: a token the flood has not taken yet may let it
        // through), is sent again on PayPal's schedule and is stored and confirmed.
        let tried = AtomicBool::new(false);
        let keep_flooding = async {
            let mut n = FLOOD;
            while !tried.load(Ordering::Relaxed) {
                app.forge_ipns(n..n + 10).await;
                n += 10;
            }
        };
        let genuine_ipn = async {
            let body = json!({ "provider": "paypal", "amount": 1200, "currency": "USD", "return_url": "https://shop.example/thanks",
                               "provider_options": { "paypal": { "api": "v1" } } });
            let payment: Value = app.post("/v1/payments", body).await.json().await.unwrap();
            let pay_id = payment["provider_refs"]["payment_id"].as_str().unwrap();
            let approved: Value = app.http.post(format!("{}/sandbox/paypal/payments/{pay_id}/approve", app.sandbox.paypal_url))
                .json(&json!({})).send().await.unwrap().json().await.unwrap();
            assert_eq!(app.http.get(approved["redirect_url"].as_str().unwrap()).send().await.unwrap().status(), 303);
            app.eventually("the genuine IPN tried", || async { !app.genuine_attempts().is_empty() }).await;
            tried.store(true, Ordering::Relaxed);
        };
        tokio::join!(keep_flooding, genuine_ipn);
        let first = app.genuine_attempts()[0];
        // PayPal's first resend comes a minute later.
        app.advance(Span::minutes(2)).await;
        let genuine = app.sandbox.paypal.ipn_history()[0]["body"].as_str().unwrap().to_owned();
        app.eventually("the genuine IPN stored and confirmed", || async {
            app.ipn_status(genuine.as_bytes()).await.as_deref() == Some("processed")
        }).await;
        let event_id = payhub::providers::paypal::ipn::read(genuine.as_bytes()).unwrap().1.provider_event_id;
        let note = app.hub.db.notification_note(ProviderName::Paypal, &event_id).await.unwrap();
        assert!(note.as_deref().is_none_or(|n| !n.contains("INVALID")), "confirmed by PayPal: {note:?}");
        let attempts = app.genuine_attempts();
        assert_eq!(attempts.last(), Some(&200), "{attempts:?}");
        eprintln!("IPN flood: {stored} of {FLOOD} forged IPNs stored, {limited} refused with 429; the genuine IPN's attempts: {attempts:?} (first {first})");
    }

    async fn the_pre_check_refuses_what_is_no_ipn_without_a_row(app) {
        let json = app.http.post(format!("{}/webhooks/paypal/ipn", app.url)).json(&json!({"txn_id": "1"})).send().await.unwrap();
        assert_eq!(json.status(), 415);
        let unsigned = app.post_ipn(b"txn_id=1&payment_status=Completed&test_ipn=1").await;
        assert_eq!(unsigned.status(), 400);
        let about_nothing = app.post_ipn(b"payment_status=Completed&verify_sign=A1&test_ipn=1").await;
        assert_eq!(about_nothing.status(), 400);
        assert_eq!(app.hub.db.count_rows("SELECT COUNT(*) AS n FROM inbox").await.unwrap(), 0);
        let mut reasons: Vec<_> = app.hub.db.rejection_counts(ProviderName::Paypal).await.unwrap().into_iter().map(|c| (c.reason, c.count)).collect();
        reasons.sort();
        assert_eq!(reasons, [("malformed_body".to_owned(), 2), ("unsupported_media_type".to_owned(), 1)]);
    }
}
