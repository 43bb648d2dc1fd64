//! What the store's test binaries share: running a test on both databases, ids, the time, and
//! payment rows in any state.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use payhub_core::clock::to_millis;
use payhub_core::id::PaymentId;
use payhub_core::payment::{Payment, PaymentOrigin, PaymentStatus, ProviderRefs};
use payhub_core::stored::PaymentRecord;
use payhub_core::{Currency, IdGenerator, Mode, ProviderName};

/// Runs a test body once per database backend; the PostgreSQL variant skips (saying so) when
/// `PAYHUB_TEST_DATABASE_URL` is not set.
macro_rules! on_both_stores {
    ($(async fn $name:ident($db:ident: $ty:ty) $body:block)*) => {$(
        mod $name {
            use super::*;
            async fn run($db: $ty) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let t = payhub_store::testing::TestDatabase::fresh(payhub_store::testing::Backend::Sqlite).await.unwrap();
                run(t.db.clone()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(t) = payhub_store::testing::TestDatabase::fresh(payhub_store::testing::Backend::Postgres).await
                else {
                    return;
                };
                run(t.db.clone()).await;
            }
        }
    )*};
}

/// One generator for the whole binary, so ids made by concurrent tests never collide.
pub static IDS: LazyLock<IdGenerator> = LazyLock::new(|| IdGenerator::seeded(2026));

/// The store is IO; its tests run at the wall clock's time, as the hub would.
pub fn now() -> DateTime<Utc> {
    to_millis(Utc::now())
}

pub fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

/// A payment as a row would hold it, in any status — `amount_refunded` included, set directly,
/// which the state machine would never do: only the schema's own checks stand in the way.
/// `at_provider` gives it a PayPal order id (`ORDER-<id>`).
pub fn payment_row(status: PaymentStatus, amount: i64, amount_refunded: i64, at_provider: bool) -> Payment {
    let now = now();
    let id = PaymentId::generate(&IDS, now);
    let order = at_provider.then(|| format!("ORDER-{id}"));
    Payment::restore(PaymentRecord {
        provider_refs: ProviderRefs { payment_id: order, capture_id: None, authorization_id: None },
        id,
        mode: Mode::Test,
        provider: ProviderName::Paypal,
        channel: "paypal".into(),
        status,
        amount,
        currency: usd(),
        amount_captured: if status == PaymentStatus::Succeeded { amount } else { 0 },
        amount_refunded,
        amount_refund_pending: 0,
        capture_method: Default::default(),
        amount_capturable: 0,
        authorization_expires_at: None,
        merchant_reference: Some("order-1".into()),
        description: None,
        customer_id: Some("cus_1".into()),
        subscription_id: None,
        origin: PaymentOrigin::Payhub,
        metadata: Default::default(),
        return_url: None,
        cancel_url: None,
        provider_options: Default::default(),
        next_action: None,
        failure: None,
        pending_reason: None,
        anomaly: None,
        disputed: false,
        created_at: now,
        updated_at: now,
        version: 1,
        next_check_at: None,
    })
}
