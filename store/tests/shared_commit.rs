//! Transactions that run side by side, as the hub's requests and workers run them. On SQLite
//! those queued for the one writer share a commit (each under its own savepoint); on both
//! databases every transaction must keep its own outcome: a committed one is readable once
//! `commit` returns, and one that fails or is abandoned — at any point, waiting or open — leaves
//! nothing behind and takes nothing of the others with it.

use std::time::Duration;

use payhub_core::payment::{Payment, PaymentStatus};
use payhub_store::{Database, StoreError};

#[macro_use]
mod common;

use common::payment_row;

/// How many transactions run at once: far more than ever wait for SQLite's writer at a time
/// in these tests' runtime, so parts queue and share commits.
const TRANSACTIONS: usize = 120;

fn payment() -> Payment {
    payment_row(PaymentStatus::RequiresAction, 1000, 0, false)
}

enum Fate {
    Commit,
    /// Writes its payment, then a second copy of a committed one, which the schema refuses.
    FailOnDuplicate,
    /// Begins with the second copy: refused in the first hand-off, which on SQLite's writer
    /// carries the transaction's BEGIN when the part is the first of its transaction.
    RefusedFirst,
    /// Writes its payment and is dropped without commit.
    Abandon,
    /// Cancelled after this long, wherever it then is: waiting for the writer, writing, or
    /// waiting for its commit.
    CancelAfter(Duration),
}

fn fate(i: usize) -> Fate {
    match i % 8 {
        1 => Fate::FailOnDuplicate,
        3 => Fate::Abandon,
        5 => Fate::CancelAfter(Duration::from_micros(50 * (i as u64 % 7))),
        7 => Fate::RefusedFirst,
        _ => Fate::Commit,
    }
}

/// Runs one transaction to its fate; `Ok(true)` when its commit returned success. With
/// `held_at_commit`, a write nobody reads the answer of goes with the commit (on SQLite's writer,
/// with the next part's savepoint after it).
async fn run_to_fate(
    db: Database,
    own: Payment,
    committed_before: Payment,
    fate: Fate,
    held_at_commit: bool,
) -> Result<bool, StoreError> {
    let work = async {
        let mut tx = db.begin().await?;
        if let Fate::RefusedFirst = fate {
            tx.insert_payment(&committed_before).await?;
            unreachable!("a second copy of a stored payment was accepted");
        }
        tx.insert_payment(&own).await?;
        match fate {
            Fate::FailOnDuplicate => {
                tx.insert_payment(&committed_before).await?;
                unreachable!("a second copy of a stored payment was accepted");
            }
            Fate::RefusedFirst => unreachable!("refused above"),
            Fate::Abandon => {
                tokio::task::yield_now().await;
                drop(tx);
                Ok(false)
            }
            Fate::Commit | Fate::CancelAfter(_) => {
                tokio::task::yield_now().await;
                if held_at_commit {
                    // Marks no stored notification: a write that changes nothing.
                    tx.mark_notification_processed(i64::MAX, common::now()).await?;
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    };
    match fate {
        Fate::CancelAfter(after) => Ok(tokio::time::timeout(after, work).await.unwrap_or(Ok(false))?),
        _ => work.await,
    }
}

on_both_stores! {
    async fn side_by_side_transactions_each_keep_their_own_outcome(db: Database) {
        let committed_before = payment();
        let mut tx = db.begin().await.unwrap();
        tx.insert_payment(&committed_before).await.unwrap();
        tx.commit().await.unwrap();

        let payments: Vec<Payment> = (0..TRANSACTIONS).map(|_| payment()).collect();
        let tasks: Vec<_> = payments
            .iter()
            .enumerate()
            .map(|(i, own)| {
                let (db, own, before) = (db.clone(), own.clone(), committed_before.clone());
                tokio::spawn(async move {
                    let outcome = run_to_fate(db.clone(), own.clone(), before, fate(i), i % 4 < 2).await;
                    // Committed means readable, by anyone, as soon as `commit` returns.
                    let readable = db.find_payment(&own.id).await.unwrap().is_some();
                    (outcome, readable)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }

        for (i, ((outcome, readable_at_once), own)) in outcomes.iter().zip(&payments).enumerate() {
            let stored = db.find_payment(&own.id).await.unwrap();
            match fate(i) {
                Fate::Commit => {
                    assert!(matches!(outcome, Ok(true)), "transaction {i} did not commit: {outcome:?}");
                    assert!(readable_at_once, "transaction {i}'s payment was not readable when its commit returned");
                    assert_eq!(stored.as_ref(), Some(own), "transaction {i}'s payment is stored as written");
                }
                Fate::FailOnDuplicate | Fate::RefusedFirst => {
                    let error = outcome.as_ref().expect_err("the duplicate was refused");
                    assert!(error.is_unique_violation(), "transaction {i} failed with {error:?}");
                    assert!(stored.is_none(), "the failed transaction {i} left its payment behind");
                }
                Fate::Abandon => assert!(stored.is_none(), "the abandoned transaction {i} left its payment behind"),
                Fate::CancelAfter(_) => match outcome {
                    // Cancelled while its commit was under way: either outcome is a whole one.
                    Ok(true) => assert_eq!(stored.as_ref(), Some(own)),
                    Ok(false) => {}
                    Err(e) => panic!("cancelled transaction {i} failed: {e:?}"),
                },
            }
        }

        // Whatever was left open or half-undone, the writer takes new work at once.
        let last = payment();
        let after = tokio::time::timeout(Duration::from_secs(10), async {
            let mut tx = db.begin().await?;
            tx.insert_payment(&last).await?;
            tx.commit().await
        })
        .await
        .expect("the writer is free again");
        after.unwrap();
        assert!(db.find_payment(&last.id).await.unwrap().is_some());
    }

    async fn a_transaction_abandoned_with_nobody_waiting_is_undone_and_frees_the_writer(db: Database) {
        let abandoned = payment();
        let mut tx = db.begin().await.unwrap();
        tx.insert_payment(&abandoned).await.unwrap();
        drop(tx);

        let kept = payment();
        let mut tx = tokio::time::timeout(Duration::from_secs(10), db.begin()).await.expect("the writer is free").unwrap();
        tx.insert_payment(&kept).await.unwrap();
        tx.commit().await.unwrap();
        assert!(db.find_payment(&abandoned.id).await.unwrap().is_none());
        assert!(db.find_payment(&kept.id).await.unwrap().is_some());
    }

    async fn a_transaction_cancelled_while_it_begins_leaves_the_writer_usable_at_once(db: Database) {
        // Cut off at every point of `begin` (waiting for the writer, sending BEGIN, or just
        // after), each time followed by a transaction that must begin and commit.
        for micros in 0..200 {
            let _ = tokio::time::timeout(Duration::from_micros(micros), db.begin()).await;
            let kept = payment();
            let mut tx = db.begin().await.unwrap_or_else(|e| panic!("begin after a cut-off at {micros} µs: {e}"));
            tx.insert_payment(&kept).await.unwrap();
            tx.commit().await.unwrap();
            assert!(db.find_payment(&kept.id).await.unwrap().is_some());
        }
    }
}
