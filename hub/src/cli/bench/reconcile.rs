//! The reconciler's sweep: a backlog of PayPal payments waiting for their buyers, every one due
//! for a check, one in ten approved at the simulator so the sweep captures it. Its floor is the
//! order GET alone through the same adapter, at the concurrency the reconciler allows itself.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use futures::StreamExt;
use payhub_core::payment::{NextAction, Payment, PaymentStatus, ProviderRefs};
use payhub_core::transition::Cause;

use super::ingest::hub_on;
use super::load::{self, drive};
use super::{Row, Run, Store, Target};
use crate::providers::PaymentProvider;

/// Orders created at the simulator (and payments stored) per step while the backlog is made.
const CHUNK: usize = 500;

fn concurrency() -> usize {
    crate::config::Config::default().workers.reconcile_concurrency
}

/// A payment opened at the simulator, created an hour ago.
async fn opened(
    provider: &dyn PaymentProvider,
    ids: &payhub_core::IdGenerator,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Payment> {
    let (draft, urls) = super::payments::paypal_draft(ids, now - Duration::hours(1));
    let checkout = provider.create_payment(&draft, &urls).await?;
    let refs =
        ProviderRefs { payment_id: Some(checkout.provider_payment_id), capture_id: None, authorization_id: None };
    let redirect = NextAction::RedirectToUrl { redirect_url: "https://paypal.test/approve".into() };
    let mut payment = draft.opened(refs, redirect, &Cause::Api).resource().clone();
    payment.next_check_at = Some(now - Duration::seconds(1));
    Ok(payment)
}

/// The floor: the order GET the reconciler makes for each payment, alone.
pub(crate) async fn provider_fetch(run: &Run) -> anyhow::Result<Row> {
    let provider = run.paypal_adapter()?;
    let ids = payhub_core::IdGenerator::seeded(12);
    let now = chrono::Utc::now();
    let mut orders = Vec::new();
    for _ in 0..100 {
        orders.push(opened(provider.as_ref(), &ids, now).await?);
    }
    let orders = Arc::new(orders);
    let count = run.count(20_000, 200);
    let bar = run.bar(&Target::ProviderFetch.name(), count);
    let sample = drive(count, concurrency(), &bar, move |i| {
        let (provider, orders) = (provider.clone(), orders.clone());
        async move {
            provider.fetch_payment(&orders[i % orders.len()]).await?;
            Ok(())
        }
    })
    .await?;
    Ok(Row::rate(Target::ProviderFetch, &sample))
}

pub(crate) async fn sweep(run: &Run, store: Store) -> anyhow::Result<Row> {
    let count = run.count(100_000, 200);
    let scratch = run.scratch(store).await?;
    let running = hub_on(run, &scratch.url).await?;
    let hub = running.hub.clone();
    let provider = run.paypal_adapter()?;
    let http = load::client(concurrency())?;
    let now = hub.clock.now();
    let bar = run.bar(&format!("{} (setup)", Target::Reconcile(store).name()), count);
    let mut approved = Vec::new();
    for start in (0..count).step_by(CHUNK) {
        let payments: Vec<Payment> = futures::stream::iter(start..count.min(start + CHUNK))
            .map(|_| opened(provider.as_ref(), &hub.ids, now))
            .buffer_unordered(concurrency())
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        for (i, payment) in payments.iter().enumerate() {
            if (start + i) % 10 == 0 {
                let order = payment.provider_refs().payment_id.clone().unwrap_or_default();
                let url = format!("{}/sandbox/paypal/orders/{order}/approve", run.sandbox.paypal_url);
                anyhow::ensure!(http.post(url).send().await?.status().is_success(), "approval refused");
                approved.push(payment.id.clone());
            }
        }
        let mut unit = hub.db.unit_of_work(&hub.ids, now, None).await?;
        for payment in &payments {
            unit.insert_payment(payment).await?;
        }
        let _ = unit.commit().await?;
        bar.inc(payments.len() as u64);
    }
    bar.finish_and_clear();
    let started = Instant::now();
    let checked = crate::workers::reconciler::reconcile_due(&hub).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(checked == count, "the sweep checked {checked} of {count} payments");
    let last = hub.db.find_payment(approved.last().expect("one in ten is approved")).await?;
    anyhow::ensure!(
        last.as_ref().map(Payment::status) == Some(PaymentStatus::Succeeded),
        "an approved payment was not captured by the sweep"
    );
    running.shutdown().await;
    hub.db.close().await;
    scratch.remove().await;
    Ok(Row::drained(Target::Reconcile(store), count, elapsed))
}
