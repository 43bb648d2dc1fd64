//! Convergence under webhook chaos at scale: the simulator drops 30% of its webhooks,
//! duplicates 20% and reorders them, while hundreds of buyers approve and never come back and a
//! third of the payments are refunded. Once the test clock has moved past one reconciliation
//! interval, every payment and refund in payhub matches PayPal (status and amounts), and each
//! (resource, event type) was written once however often it was notified.
//!
//! `PAYHUB_CHAOS_PAYMENTS` sets the size (default 300; a third of them are refunded). The wall
//! time from the clock's move to convergence is printed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use futures::StreamExt;
use payhub_core::Mode;
use payhub_paypal::{CaptureStatus, RefundStatus};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually};
use crate::on_both_stores;

/// Requests in flight at once while payments are made and refunded.
const CONCURRENCY: usize = 8;
/// What is refunded of each refunded payment, in cents.
const REFUNDED: i64 = 300;

fn size() -> usize {
    std::env::var("PAYHUB_CHAOS_PAYMENTS").map_or(300, |v| v.parse().expect("PAYHUB_CHAOS_PAYMENTS: a number"))
}

/// A PayPal amount ("10.01") in minor units, for a two-decimal currency.
fn cents(amount: &payhub_paypal::Amount) -> i64 {
    let (units, fraction) = amount.value.split_once('.').unwrap_or((&amount.value, "0"));
    units.parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}").parse::<i64>().unwrap()
}

impl TestApp {
    /// Every payment of the test mode, as the API lists them.
    async fn all_payments(&self) -> Vec<Value> {
        let mut payments = Vec::new();
        let mut path = "/v1/payments?limit=100".to_owned();
        loop {
            let page = self.get_json(&path).await;
            let data = page["data"].as_array().unwrap().clone();
            let last = data.last().map(|p| p["id"].as_str().unwrap().to_owned());
            payments.extend(data);
            match last {
                Some(after) if page["has_more"] == true => {
                    path = format!("/v1/payments?limit=100&starting_after={after}")
                }
                _ => return payments,
            }
        }
    }

    /// What differs between payhub and PayPal, for each payment and its refunds (empty when they
    /// agree).
    async fn differences(&self, payments: &[Value]) -> Vec<String> {
        let paypal = self.paypal();
        let mut differences = Vec::new();
        for payment in payments {
            let id = payment["id"].as_str().unwrap();
            let Some(capture_id) = payment["provider_refs"]["capture_id"].as_str() else {
                differences.push(format!("{id}: {} without a capture", payment["status"]));
                continue;
            };
            let capture = paypal.get_capture(capture_id).await.unwrap();
            let refunds = self.get_json(&format!("/v1/refunds?payment_id={id}&limit=100")).await;
            let refunds = refunds["data"].as_array().unwrap().clone();
            let expected = match (&capture.status, refunds.is_empty()) {
                (CaptureStatus::Completed, true) | (CaptureStatus::PartiallyRefunded, false) => "succeeded",
                (status, _) => {
                    differences.push(format!("{id}: {status:?} at PayPal with {} refunds", refunds.len()));
                    continue;
                }
            };
            if payment["status"] != expected {
                differences.push(format!("{id}: {} in payhub, {:?} at PayPal", payment["status"], capture.status));
            }
            if Some(payment["amount"].as_i64().unwrap()) != capture.amount.as_ref().map(cents) {
                differences
                    .push(format!("{id}: amount {} in payhub, {:?} at PayPal", payment["amount"], capture.amount));
            }
            let mut refunded = 0;
            for refund in &refunds {
                let refund_id = refund["id"].as_str().unwrap();
                let Some(provider_id) = refund["provider_refund_id"].as_str() else {
                    differences.push(format!("{refund_id}: no PayPal refund"));
                    continue;
                };
                let at_paypal = paypal.get_refund(provider_id).await.unwrap();
                let status = if at_paypal.status == RefundStatus::Completed { "succeeded" } else { "other" };
                if refund["status"] != status
                    || Some(refund["amount"].as_i64().unwrap()) != at_paypal.amount.as_ref().map(cents)
                {
                    differences.push(format!("{refund_id}: {refund} in payhub, {at_paypal:?} at PayPal"));
                }
                refunded += at_paypal.amount.as_ref().map_or(0, cents);
            }
            if payment["amount_refunded"].as_i64() != Some(refunded) {
                differences
                    .push(format!("{id}: {} refunded in payhub, {refunded} at PayPal", payment["amount_refunded"]));
            }
        }
        differences
    }
}

on_both_stores! {
    async fn every_payment_and_refund_matches_paypal_one_reconciliation_after_webhook_chaos(app) {
        let count = size();
        app.sandbox_control(Method::PUT, "/sandbox/chaos", json!({"drop_rate": 0.3, "duplicate_rate": 0.2, "reorder": true})).await;
        let started = Instant::now();

        // Buyers approve at PayPal and never come back: only webhooks, or the reconciler, tell payhub.
        let payments: Vec<Value> = futures::stream::iter(0..count)
            .map(|n| {
                let app = &app;
                async move {
                    let payment = app.create_payment(1000 + n as i64).await;
                    app.approve(&payment).await;
                    payment
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        // The reorder window runs on the test clock: its held webhooks go out now, in any order.
        app.advance(Span::seconds(3)).await;
        let captured = || async {
            app.all_payments().await.into_iter().filter(|p| p["status"] == "succeeded").collect::<Vec<_>>()
        };
        let refunds = count / 3;
        eventually("enough payments captured on their webhooks to refund", Duration::from_secs(60), || async {
            captured().await.len() >= refunds
        })
        .await;
        let by_webhook = captured().await;
        let refunded: Vec<Value> = futures::stream::iter(by_webhook.iter().take(refunds))
            .map(|payment| {
                let app = &app;
                async move {
                    let id = payment["id"].as_str().unwrap();
                    let response = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": REFUNDED})).await;
                    assert_eq!(response.status(), 201);
                    response.json::<Value>().await.unwrap()
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        app.advance(Span::seconds(3)).await;

        // The clock moves past one reconciliation interval: every payment whose webhook was lost
        // is due for a check with PayPal.
        app.advance(Span::minutes(3)).await;
        let moved = Instant::now();
        eventually("payhub matches PayPal", Duration::from_secs(180), || async {
            let payments = app.all_payments().await;
            payments.len() == count
                && payments.iter().all(|p| p["status"] == "succeeded")
                && app.differences(&payments).await.is_empty()
        })
        .await;
        let converged = moved.elapsed();
        let differences = app.differences(&app.all_payments().await).await;
        assert!(differences.is_empty(), "{differences:?}");

        // Duplicated and reordered notifications were applied once each.
        let mut seen: HashMap<(String, String), u32> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = app.hub.db.list_events(Mode::Test, None, None, cursor.as_deref(), 100).await.unwrap();
            for event in &page.items {
                *seen.entry((event.resource_id.clone(), event.event_type.as_str().to_owned())).or_default() += 1;
            }
            if !page.has_more {
                break;
            }
            cursor = page.items.last().map(|e| e.id.to_string());
        }
        let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(doubled.is_empty(), "written twice: {doubled:?}");
        assert_eq!(refunded.len(), refunds);
        assert_eq!(payments.len(), count);

        let log = app.sandbox_control(Method::GET, "/sandbox/paypal/deliveries", Value::Null).await;
        let deliveries = log["deliveries"].as_array().unwrap();
        let dropped = deliveries.iter().filter(|d| d["dropped"] == true).count();
        let duplicated = deliveries.iter().filter(|d| d["duplicate"] == true).count();
        eprintln!(
            "chaos convergence: {count} payments ({} captured before the clock moved), {refunds} refunds, \
             {} webhook deliveries logged ({dropped} dropped, {duplicated} duplicate copies); converged {converged:?} \
             after the clock passed one reconciliation interval; {:?} in all",
            by_webhook.len(),
            deliveries.len(),
            started.elapsed()
        );
    }
}
