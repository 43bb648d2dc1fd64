//! `POST /v1/payments` with PayPal against the in-process simulator, and its floor: the
//! provider call alone (order creation at the simulator through the same adapter, token and
//! connections warm), at the same concurrency.

use std::sync::Arc;

use payhub_core::id::PaymentId;
use payhub_core::payment::{Payment, PaymentDetails, PaymentDraft};
use payhub_core::{Clock, Currency, IdGenerator, Mode, Money, ProviderName};
use serde_json::json;

use super::ingest::hub_on;
use super::load::{self, drive};
use super::{Row, Run, Store, Target};
use crate::providers::BuyerUrls;
use crate::services::api_keys::create_api_key;

fn counts(run: &Run, clients: usize) -> usize {
    if clients > 1 { run.count(3_000, 60) } else { run.count(1_000, 30) }
}

/// A USD 10.00 PayPal payment of test mode, created `at`, with the URLs its buyer returns to.
pub(crate) fn paypal_draft(ids: &IdGenerator, at: chrono::DateTime<chrono::Utc>) -> (PaymentDraft, BuyerUrls) {
    let money = Money::new(1000, Currency::parse("USD").expect("USD is a currency"));
    let draft = Payment::draft(
        PaymentId::generate(ids, at),
        Mode::Test,
        ProviderName::Paypal,
        "paypal".into(),
        money,
        PaymentDetails::default(),
        at,
    );
    let urls = BuyerUrls {
        return_url: "http://127.0.0.1:1/checkout/paypal/return".into(),
        cancel_url: "http://127.0.0.1:1/checkout/paypal/cancel".into(),
    };
    (draft, urls)
}

pub(crate) async fn provider_call(run: &Run, clients: usize) -> anyhow::Result<Row> {
    let provider = run.paypal_adapter()?;
    let ids = Arc::new(IdGenerator::seeded(11));
    let clock = run.sandbox.clock.clone();
    let draft = move |ids: &IdGenerator| paypal_draft(ids, clock.now());
    // The first call fetches the OAuth token; the hub's own first request does too.
    let (warm, urls) = draft(&ids);
    provider.create_payment(&warm, &urls).await?;
    let target = Target::ProviderCall { clients };
    let count = counts(run, clients);
    let bar = run.bar(&target.name(), count);
    let sample = drive(count, clients, &bar, move |_| {
        let (provider, ids, draft) = (provider.clone(), ids.clone(), draft.clone());
        async move {
            let (draft, urls) = draft(&ids);
            provider.create_payment(&draft, &urls).await?;
            Ok(())
        }
    })
    .await?;
    Ok(Row::rate(target, &sample))
}

pub(crate) async fn create_payment(run: &Run, store: Store, clients: usize) -> anyhow::Result<Row> {
    let scratch = run.scratch(store).await?;
    let running = hub_on(run, &scratch.url).await?;
    let hub = running.hub.clone();
    let (_, api_key) = create_api_key(&hub.db, &hub.ids, hub.clock.now(), Mode::Test, "bench").await?;
    let http = load::client(clients)?;
    let url: Arc<str> = format!("{}/v1/payments", running.url()).into();
    let post = move |key: String| {
        let request = http
            .post(&*url)
            .bearer_auth(&api_key)
            .header("Idempotency-Key", key)
            .json(&json!({"provider": "paypal", "amount": 1000, "currency": "USD"}));
        async move {
            let response = request.send().await?;
            anyhow::ensure!(response.status() == 201, "answer {}: {}", response.status(), response.text().await?);
            Ok(())
        }
    };
    post("bench-warm".into()).await?;
    let target = Target::CreatePayment { store, clients };
    let count = counts(run, clients);
    let bar = run.bar(&target.name(), count);
    let sample = drive(count, clients, &bar, move |i| post(format!("bench-{i}"))).await?;
    running.shutdown().await;
    hub.db.close().await;
    scratch.remove().await;
    Ok(Row::rate(target, &sample))
}
