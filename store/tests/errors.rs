//! How the store tells a failure worth retrying (lost connection, lock contention, a
//! serialization conflict) from a write the schema refuses (a broken constraint), on SQLite and
//! on PostgreSQL. Callers retry the first kind and report the second.

use payhub_core::id::{ApiKeyId, PaymentId, RefundId};
use payhub_core::payment::{Payment, PaymentStatus};
use payhub_core::refund::{Refund, RefundStatus};
use payhub_core::stored::RefundRecord;
use payhub_core::{Currency, Mode, ProviderName};
use payhub_store::testing::{Backend, TestDatabase};
use payhub_store::{ConstraintKind, Database, NewApiKey, StoreError};
use sqlx::{AnyConnection, Connection, Executor};

#[macro_use]
mod common;

use common::{IDS, now, payment_row};

fn payment(amount: i64) -> Payment {
    payment_row(PaymentStatus::RequiresAction, amount, 0, false)
}

fn refund_of(payment_id: PaymentId, amount: i64) -> Refund {
    let now = now();
    Refund::restore(RefundRecord {
        id: RefundId::generate(&IDS, now),
        mode: Mode::Test,
        payment_id,
        status: RefundStatus::Pending,
        amount,
        currency: Currency::parse("USD").unwrap(),
        reason: None,
        metadata: Default::default(),
        provider_options: Default::default(),
        provider_refund_id: None,
        failure: None,
        created_at: now,
        updated_at: now,
        version: 1,
        next_check_at: None,
    })
}

async fn insert_payment(db: &Database, p: &Payment) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.insert_payment(p).await?;
    tx.commit().await
}

fn api_key(secret_hash: &str) -> NewApiKey {
    NewApiKey {
        id: ApiKeyId::generate(&IDS, now()),
        mode: Mode::Test,
        name: "ci".into(),
        secret_hash: secret_hash.into(),
        secret_hint: "…abcd".into(),
    }
}

/// The write broke a rule of the schema: retrying it cannot help.
fn assert_constraint(result: Result<(), StoreError>, kind: ConstraintKind, meaning: &str) {
    let error = result.expect_err("the write should be refused");
    assert!(!error.is_transient(), "{error} was classified as transient");
    match &error {
        StoreError::Constraint { constraint, .. } => {
            assert_eq!(constraint.kind, kind, "{error}");
            assert_eq!(constraint.meaning, meaning, "{error}");
        }
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

on_both_stores! {
    async fn a_second_api_key_with_the_same_secret_is_a_unique_violation_not_a_transient_failure(db: Database) {
        let now = now();
        db.create_api_key(api_key("hash-1"), now).await.unwrap();
        let again = db.create_api_key(api_key("hash-1"), now).await.map(|_| ());
        let error = again.as_ref().map_err(|e| e.is_unique_violation());
        assert_eq!(error.err(), Some(true));
        assert_constraint(again, ConstraintKind::Unique, "an API key with this secret already exists");
    }

    async fn a_payment_stored_twice_is_a_unique_violation(db: Database) {
        let p = payment(1000);
        insert_payment(&db, &p).await.unwrap();
        assert_constraint(insert_payment(&db, &p).await, ConstraintKind::Unique, "a record with this identity already exists");
    }

    async fn a_zero_amount_or_a_refund_beyond_the_capture_breaks_a_check(db: Database) {
        assert_constraint(insert_payment(&db, &payment(0)).await, ConstraintKind::Check, "amounts must be positive");
        let over_refunded = payment_row(PaymentStatus::RequiresAction, 1000, 10, false);
        assert_constraint(
            insert_payment(&db, &over_refunded).await,
            ConstraintKind::Check,
            "refunds cannot exceed the captured amount",
        );
    }

    async fn a_refund_of_an_unknown_payment_breaks_a_foreign_key(db: Database) {
        let orphan = refund_of(PaymentId::generate(&IDS, now()), 100);
        let mut tx = db.begin().await.unwrap();
        let inserted = match tx.insert_refund(&orphan, ProviderName::Paypal).await {
            Ok(()) => tx.commit().await,
            Err(e) => Err(e),
        };
        assert_constraint(inserted, ConstraintKind::ForeignKey, "the record it refers to does not exist");
    }

    async fn a_closed_pool_is_transient(db: Database) {
        db.close().await;
        let error = db.ping().await.expect_err("a closed pool cannot answer");
        assert!(error.is_transient(), "{error}");
    }
}

async fn raw(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url).await.unwrap()
}

fn classify(error: sqlx::Error) -> StoreError {
    StoreError::from(error)
}

/// SQLite answers BUSY when another connection holds the write lock (payhub's own writer waits
/// for it, but a second process on the same file, or a backup, can still cause it).
#[tokio::test]
async fn sqlite_busy_is_transient_and_a_broken_constraint_is_not() {
    let t = TestDatabase::fresh(Backend::Sqlite).await.unwrap();
    let mut holder = raw(&t.url).await;
    let mut waiter = raw(&t.url).await;
    waiter.execute("PRAGMA busy_timeout = 0").await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();
    let busy = classify(waiter.execute("BEGIN IMMEDIATE").await.unwrap_err());
    assert!(busy.is_transient(), "{busy:?}");
    holder.execute("ROLLBACK").await.unwrap();

    waiter.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))").await.unwrap();
    let negative = classify(waiter.execute("INSERT INTO t (id, v) VALUES (1, -1)").await.unwrap_err());
    assert!(!negative.is_transient(), "{negative:?}");
    let missing = classify(waiter.execute("INSERT INTO t (id, v) VALUES (1, NULL)").await.unwrap_err());
    assert!(
        matches!(&missing, StoreError::Constraint { constraint, .. } if constraint.kind == ConstraintKind::NotNull),
        "{missing:?}"
    );
}

/// PostgreSQL: a lock not available right away (NOWAIT) and a serialization failure between two
/// transactions are resolved by trying again; a duplicate key or a broken check is not.
#[tokio::test]
async fn postgres_lock_contention_and_serialization_failures_are_transient_and_broken_constraints_are_not() {
    let Some(t) = TestDatabase::fresh(Backend::Postgres).await else { return };
    let mut first = raw(&t.url).await;
    let mut second = raw(&t.url).await;
    first.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))").await.unwrap();
    first.execute("INSERT INTO t (id, v) VALUES (1, 0)").await.unwrap();

    first.execute("BEGIN").await.unwrap();
    first.execute("SELECT v FROM t WHERE id = 1 FOR UPDATE").await.unwrap();
    let locked = classify(second.execute("SELECT v FROM t WHERE id = 1 FOR UPDATE NOWAIT").await.unwrap_err());
    assert!(locked.is_transient(), "55P03 {locked:?}");
    first.execute("ROLLBACK").await.unwrap();

    second.execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.unwrap();
    second.execute("SELECT v FROM t WHERE id = 1").await.unwrap();
    first.execute("UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
    let serialization = classify(second.execute("UPDATE t SET v = 2 WHERE id = 1").await.unwrap_err());
    assert!(serialization.is_transient(), "40001 {serialization:?}");
    second.execute("ROLLBACK").await.unwrap();

    let duplicate = classify(first.execute("INSERT INTO t (id, v) VALUES (1, 0)").await.unwrap_err());
    assert!(duplicate.is_unique_violation() && !duplicate.is_transient(), "{duplicate:?}");
    let negative = classify(first.execute("INSERT INTO t (id, v) VALUES (2, -1)").await.unwrap_err());
    assert!(
        matches!(&negative, StoreError::Constraint { constraint, .. } if constraint.kind == ConstraintKind::Check),
        "{negative:?}"
    );
    assert!(!negative.is_transient());
    let _ = first.close().await;
    let _ = second.close().await;
}
