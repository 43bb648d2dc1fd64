//! The store's guarantees, checked on SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::Duration;
use payhub_core::id::{PaymentId, RefundId, WebhookEndpointId};
use payhub_core::payment::Merge;
use payhub_core::payment::{Payment, PaymentFacts, PaymentStatus};
use payhub_core::transition::{Cause, Transition};
use payhub_core::{Event, EventType, Mode, Money, ProviderName};
use payhub_store::{
    Claimant, ClaimingFor, Committed, Database, DeliveryAttempt, DeliveryOutcome, EndpointSecrets, EndpointStatus,
    INSTANCE_SILENT_AFTER, IdempotencyClaim, InboxInsert, InstanceIdentity, KeyClaim, MailAttempt, MailRecipient,
    NewInboxEntry, NewWebhookEndpoint, RecordedAttempt, RequestRun, Shares, StoreError, StoredResponse,
};

#[macro_use]
mod common;

use common::{IDS, now, usd};

/// A payment as a row would hold it, in any status.
fn new_payment(status: PaymentStatus, amount: i64) -> Payment {
    common::payment_row(status, amount, 0, true)
}

fn facts(status: PaymentStatus) -> PaymentFacts {
    PaymentFacts { status, capture_id: None, captured: None, failure: None, authorization: None, pending_reason: None }
}

async fn insert(db: &Database, p: &Payment) {
    let mut tx = db.begin().await.unwrap();
    tx.insert_payment(p).await.unwrap();
    tx.commit().await.unwrap();
}

/// The refund path of the hub in miniature: lock, reserve, record, commit.
async fn try_reserve_refund(db: &Database, payment_id: &PaymentId, amount: i64) -> bool {
    let now = now();
    let mut unit = db.unit_of_work(&IDS, now, None).await.unwrap();
    let mut payment = unit.lock_payment(payment_id).await.unwrap().unwrap();
    let amount = Money::new(amount, usd());
    let Ok(refund) = payment.refund(RefundId::generate(&IDS, now), amount, Default::default(), &Cause::Api, now) else {
        return false;
    };
    unit.update_payment(&mut payment).await.unwrap();
    unit.create_refund(&refund, ProviderName::Paypal).await.unwrap();
    assert!(unit.commit().await.unwrap().announced);
    true
}

fn inbox_entry(event_id: &str) -> NewInboxEntry {
    NewInboxEntry {
        provider: ProviderName::Paypal,
        mode: Mode::Test,
        provider_event_id: event_id.into(),
        event_type: "PAYMENT.CAPTURE.COMPLETED".into(),
        body: br#"{"id":"x"}"#.to_vec(),
        headers: vec![("paypal-transmission-id".into(), "t".into())],
        received_at: now(),
    }
}

/// Runs `claimers` instances claiming batches at once until none is left; returns every claim.
async fn claim_concurrently<T, Batch>(claimers: usize, claim: impl Fn() -> Batch + Clone + Send + 'static) -> Vec<T>
where
    T: Send + 'static,
    Batch: Future<Output = Vec<T>> + Send,
{
    let instances: Vec<_> = (0..claimers)
        .map(|_| {
            let claim = claim.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = claim().await;
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch);
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for instance in instances {
        all.extend(instance.await.unwrap());
    }
    all
}

fn shares(limit: u32, per_group: u32) -> Shares {
    Shares { limit, per_group }
}

/// A test-mode endpoint receiving the event types `filter` selects.
async fn endpoint_for(db: &Database, filter: &str) -> WebhookEndpointId {
    let now = now();
    let hook = NewWebhookEndpoint {
        id: WebhookEndpointId::generate(&IDS, now),
        mode: Mode::Test,
        url: "http://127.0.0.1:9/hook".into(),
        secret: "whsec_x".into(),
        event_types: vec![filter.into()],
        description: None,
    };
    db.create_endpoint(hook, now).await.unwrap().id
}

/// Writes `count` events of `event_type` made at `at`, each queued for the endpoints selecting it.
async fn events_at(db: &Database, event_type: EventType, count: usize, at: chrono::DateTime<chrono::Utc>) {
    let mut tx = db.begin().await.unwrap();
    for _ in 0..count {
        let p = new_payment(PaymentStatus::Succeeded, 100);
        tx.insert_event(&Event::new(event_type, Mode::Test, p.id.as_str(), &p, &IDS, at), &IDS).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Three endpoints, each with `queued` deliveries made 10, 5 and 1 minutes before `now`.
async fn three_endpoints_behind(
    db: &Database,
    now: chrono::DateTime<chrono::Utc>,
    queued: [usize; 3],
) -> [WebhookEndpointId; 3] {
    let types = [
        (EventType::PaymentSucceeded, "payment.succeeded", 10),
        (EventType::PaymentCreated, "payment.created", 5),
        (EventType::RefundSucceeded, "refund.succeeded", 1),
    ];
    let mut endpoints = Vec::new();
    for ((event_type, filter, minutes_ago), count) in types.into_iter().zip(queued) {
        endpoints.push(endpoint_for(db, filter).await);
        events_at(db, event_type, count, now - Duration::minutes(minutes_ago)).await;
    }
    endpoints.try_into().unwrap()
}

/// How many of `claimed` go to each of `endpoints`.
fn per_endpoint(claimed: &[payhub_store::ClaimedDelivery], endpoints: &[&WebhookEndpointId]) -> Vec<usize> {
    endpoints.iter().map(|id| claimed.iter().filter(|d| &&d.endpoint_id == id).count()).collect()
}

on_both_stores! {
    async fn a_delivery_claim_shares_its_batch_between_endpoints_and_leaves_out_busy_ones(db: Database) {
        let now = now();
        // A is far behind: its 100 deliveries are the oldest.
        let [a, b, c] = three_endpoints_behind(&db, now, [100, 10, 5]).await;
        let lease = now + Duration::minutes(1);
        let first = db.claim_due_deliveries(now, lease, shares(20, 8), ClaimingFor::default()).await.unwrap();
        assert_eq!(per_endpoint(&first, &[&a, &b, &c]), [8, 8, 4], "at most 8 each, the longest waiting first");
        assert!(first.iter().all(|d| d.attempt == 1 && d.leased_until == lease));
        let busy_a = db.claim_due_deliveries(now, lease, shares(256, 64), ClaimingFor { busy: &[&a], ..Default::default() }).await.unwrap();
        assert_eq!(per_endpoint(&busy_a, &[&a, &b, &c]), [0, 2, 1], "a busy endpoint is left out");
        let rest: Vec<usize> = [
            db.claim_due_deliveries(now, lease, shares(256, 64), ClaimingFor::default()).await.unwrap(),
            db.claim_due_deliveries(now, lease, shares(256, 64), ClaimingFor::default()).await.unwrap(),
            db.claim_due_deliveries(now, lease, shares(256, 64), ClaimingFor::default()).await.unwrap(),
        ]
        .iter()
        .map(Vec::len)
        .collect();
        assert_eq!(rest, [64, 28, 0], "the far-behind endpoint gets its share per claim until it is done");
    }

    async fn an_endpoint_keeping_up_takes_the_rest_of_the_batch_after_every_share(db: Database) {
        let now = now();
        // A and B are far behind, A the furthest; C's 3 deliveries are the newest.
        let [a, b, c] = three_endpoints_behind(&db, now, [40, 40, 3]).await;
        let lease = now + Duration::minutes(1);
        let keeping_up = ClaimingFor { keeping_up: &[&b], ..Default::default() };
        let claimed = db.claim_due_deliveries(now, lease, shares(30, 8), keeping_up).await.unwrap();
        // Every endpoint's share first (8, 8 and C's 3), then the rest of the 30 to B alone,
        // though A's deliveries waited longer.
        assert_eq!(per_endpoint(&claimed, &[&a, &b, &c]), [8, 19, 3]);
        let both = ClaimingFor { busy: &[&b], keeping_up: &[&a] };
        let claimed = db.claim_due_deliveries(now, lease, shares(100, 8), both).await.unwrap();
        assert_eq!(per_endpoint(&claimed, &[&a, &b, &c]), [32, 0, 0], "a busy endpoint is left out all the same");
        let claimed = db.claim_due_deliveries(now, lease, shares(100, 8), ClaimingFor::default()).await.unwrap();
        assert_eq!(per_endpoint(&claimed, &[&a, &b, &c]), [0, 8, 0], "without keeping up, one share a claim");
    }

    async fn competing_claimers_of_shared_batches_never_take_the_same_delivery(db: Database) {
        let now = now();
        let endpoints = [endpoint_for(&db, "*").await, endpoint_for(&db, "*").await, endpoint_for(&db, "*").await];
        events_at(&db, EventType::PaymentSucceeded, 30, now).await;
        let db_for_claims = db.clone();
        let ids = endpoints.clone();
        let claims = claim_concurrently(4, move || {
            let (db, ids) = (db_for_claims.clone(), ids.clone());
            async move {
                let batch = db.claim_due_deliveries(now, now + Duration::minutes(1), shares(8, 3), ClaimingFor::default()).await.unwrap();
                assert!(per_endpoint(&batch, &[&ids[0], &ids[1], &ids[2]]).iter().all(|&n| n <= 3), "3 per endpoint");
                assert!(batch.len() <= 8);
                batch
            }
        })
        .await;
        let mut ids: Vec<_> = claims.iter().map(|d| d.id.to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!((claims.len(), ids.len()), (90, 90), "each delivery claimed exactly once");
        assert_eq!(per_endpoint(&claims, &[&endpoints[0], &endpoints[1], &endpoints[2]]), [30, 30, 30]);
    }

    async fn a_delivery_given_back_is_due_at_once_unless_another_claim_has_taken_it(db: Database) {
        let now = now();
        endpoint_for(&db, "*").await;
        events_at(&db, EventType::PaymentSucceeded, 2, now).await;
        let claimed = db.claim_due_deliveries(now, now + Duration::minutes(1), shares(10, 10), ClaimingFor::default()).await.unwrap();
        assert_eq!(claimed.len(), 2);
        db.release_deliveries(&claimed[..1]).await.unwrap();
        let again = db.claim_due_deliveries(now, now + Duration::minutes(1), shares(10, 10), ClaimingFor::default()).await.unwrap();
        assert_eq!(again.len(), 1, "given back, due at once");
        assert_eq!((&again[0].id, again[0].attempt), (&claimed[0].id, 1), "a claim given back is not an attempt");
        // The other one's lease runs out and another claim takes it: the first claim's give-back
        // must not free it.
        let later = now + Duration::minutes(2);
        let taken = db.claim_due_deliveries(later, later + Duration::minutes(1), shares(10, 10), ClaimingFor::default()).await.unwrap();
        assert!(taken.iter().any(|d| d.id == claimed[1].id && d.attempt == 2), "taken over after its lease");
        db.release_deliveries(&claimed[1..]).await.unwrap();
        let stolen = db.claim_due_deliveries(later, later + Duration::minutes(1), shares(10, 10), ClaimingFor::default()).await.unwrap();
        assert!(stolen.is_empty(), "still held by the claim that took it over");
    }

    async fn a_payment_round_trips_and_lists_newest_first(db: Database) {
        let first = new_payment(PaymentStatus::RequiresAction, 1000);
        let second = new_payment(PaymentStatus::Succeeded, 2000);
        insert(&db, &first).await;
        insert(&db, &second).await;
        assert_eq!(db.payment(Mode::Test, &first.id).await.unwrap().unwrap(), first);
        assert!(db.payment(Mode::Live, &first.id).await.unwrap().is_none(), "modes are kept apart");
        let page = db.list_payments(Mode::Test, &Default::default(), None, 1).await.unwrap();
        assert_eq!(page.items[0].id, second.id);
        assert!(page.has_more);
        let next = db.list_payments(Mode::Test, &Default::default(), Some(second.id.as_str()), 1).await.unwrap();
        assert_eq!(next.items[0].id, first.id);
        assert!(!next.has_more);
    }

    async fn the_overview_figures_count_one_modes_payments_refunds_and_disputes_of_a_period(db: Database) {
        let since = now() - Duration::minutes(1);
        let paid = new_payment(PaymentStatus::Succeeded, 3_000);
        insert(&db, &paid).await;
        insert(&db, &new_payment(PaymentStatus::Succeeded, 2_000)).await;
        insert(&db, &new_payment(PaymentStatus::Failed, 1_000)).await;
        insert(&db, &new_payment(PaymentStatus::RequiresAction, 700)).await;
        let mut live = new_payment(PaymentStatus::Succeeded, 9_000);
        live.mode = Mode::Live;
        insert(&db, &live).await;
        assert!(try_reserve_refund(&db, &paid.id, 500).await);

        let figures = db.payment_figures(Mode::Test, since).await.unwrap();
        assert_eq!(figures.len(), 1, "{figures:?}");
        let usd_figures = &figures[0];
        assert_eq!((usd_figures.created, usd_figures.paid, usd_figures.failed), (4, 2, 1));
        assert_eq!(usd_figures.captured, 5_000, "what the paid ones captured");
        let refunds = db.refund_figures(Mode::Test, since).await.unwrap();
        assert_eq!((refunds.len(), refunds[0].count, refunds[0].amount), (1, 1, 500));
        let hours = db.payments_by_hour(Mode::Test, since).await.unwrap();
        let counted = hours.iter().fold((0, 0), |(p, f), h| (p + h.paid, f + h.failed));
        assert_eq!(counted, (2, 1), "{hours:?}");
        assert_eq!(db.open_disputes(Mode::Test).await.unwrap(), 0);

        let later = now() + Duration::minutes(1);
        assert!(db.payment_figures(Mode::Test, later).await.unwrap().is_empty(), "before the period");
        assert!(db.refund_figures(Mode::Test, later).await.unwrap().is_empty());
        assert!(db.payments_by_hour(Mode::Test, later).await.unwrap().is_empty());
        let live_figures = db.payment_figures(Mode::Live, since).await.unwrap();
        assert_eq!((live_figures[0].created, live_figures[0].captured), (1, 9_000), "modes are never mixed");
    }

    async fn a_stale_version_cannot_overwrite_a_newer_payment(db: Database) {
        let p = new_payment(PaymentStatus::RequiresAction, 1000);
        insert(&db, &p).await;
        let mut a = p.clone();
        let mut b = p.clone();
        let _ = a.merge(&facts(PaymentStatus::Succeeded), &Cause::Api, now());
        let mut tx = db.begin().await.unwrap();
        tx.update_payment(&mut a).await.unwrap();
        tx.commit().await.unwrap();
        let _ = b.merge(&facts(PaymentStatus::Canceled), &Cause::Api, now());
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(tx.update_payment(&mut b).await, Err(StoreError::Conflict(_))));
        drop(tx);
        let stored = db.payment(Mode::Test, &p.id).await.unwrap().unwrap();
        assert_eq!(stored.status(), PaymentStatus::Succeeded);
    }

    async fn concurrent_refunds_never_exceed_the_captured_amount(db: Database) {
        let p = new_payment(PaymentStatus::Succeeded, 1000);
        insert(&db, &p).await;
        let db = Arc::new(db);
        let attempts = (0..16).map(|_| {
            let db = db.clone();
            let id = p.id.clone();
            tokio::spawn(async move { try_reserve_refund(&db, &id, 100).await })
        });
        let mut granted = 0;
        for attempt in attempts {
            if attempt.await.unwrap() {
                granted += 1;
            }
        }
        assert_eq!(granted, 10);
        let stored = db.payment(Mode::Test, &p.id).await.unwrap().unwrap();
        assert_eq!(stored.amount_refund_pending(), 1000);
        let refunds = db.list_refunds(Mode::Test, Some(p.id.as_str()), None, 100).await.unwrap();
        assert_eq!(refunds.items.iter().map(|r| r.amount).sum::<i64>(), 1000);
    }

    async fn a_redelivered_notification_is_stored_once(db: Database) {
        assert!(!db.inbox_has_pending().await.unwrap(), "an empty inbox");
        let results = db
            .insert_inbox_batch(&[inbox_entry("WH-1"), inbox_entry("WH-2"), inbox_entry("WH-1")])
            .await
            .unwrap();
        assert_eq!(results, vec![InboxInsert::Inserted, InboxInsert::Inserted, InboxInsert::Duplicate]);
        let again = db.insert_inbox_batch(&[inbox_entry("WH-2")]).await.unwrap();
        assert_eq!(again, vec![InboxInsert::Duplicate]);
        assert_eq!(db.inbox_backlog().await.unwrap(), 2);
        assert!(db.inbox_has_pending().await.unwrap());
        for claimed in db.claim_due_notifications(now(), now() + Duration::minutes(1), 10).await.unwrap() {
            db.settle_notification(claimed.id, now(), "settled by the test").await.unwrap();
        }
        assert!(!db.inbox_has_pending().await.unwrap(), "every notification settled");
    }

    async fn a_claim_takes_the_longest_due_notifications_first(db: Database) {
        db.insert_inbox_batch(&[inbox_entry("WH-A"), inbox_entry("WH-B")]).await.unwrap();
        let first = db.claim_due_notifications(now(), now() + Duration::minutes(1), 1).await.unwrap();
        assert_eq!(first[0].provider_event_id, "WH-A", "those due at once in arrival order");
        db.retry_notification(first[0].id, now() + Duration::minutes(2), "provider unreachable", false).await.unwrap();
        let received_later = NewInboxEntry { received_at: now() + Duration::minutes(1), ..inbox_entry("WH-C") };
        db.insert_inbox_batch(&[received_later]).await.unwrap();
        let at = now() + Duration::minutes(3);
        let claimed = db.claim_due_notifications(at, at + Duration::minutes(1), 2).await.unwrap();
        let taken: Vec<_> = claimed.iter().map(|n| n.provider_event_id.as_str()).collect();
        assert_eq!(taken, ["WH-B", "WH-C"], "the one put back for later waits behind those due before it");
    }

    async fn notifications_of_one_batch_are_kept_per_provider_in_arrival_order(db: Database) {
        let from_pingpp = |id: &str| NewInboxEntry { provider: ProviderName::Pingpp, ..inbox_entry(id) };
        db.insert_inbox_batch(&[inbox_entry("EVT-3")]).await.unwrap();
        let batch = [inbox_entry("EVT-2"), from_pingpp("EVT-3"), inbox_entry("EVT-3"), inbox_entry("EVT-1")];
        let results = db.insert_inbox_batch(&batch).await.unwrap();
        let [new, dup] = [InboxInsert::Inserted, InboxInsert::Duplicate];
        assert_eq!(results, [new, new, dup, new], "an event id is another provider's own");
        let claimed = db.claim_due_notifications(now(), now() + Duration::minutes(1), 10).await.unwrap();
        let order: Vec<_> = claimed.iter().map(|n| (n.provider, n.provider_event_id.as_str())).collect();
        let paypal = ProviderName::Paypal;
        let expected = [(paypal, "EVT-3"), (paypal, "EVT-2"), (ProviderName::Pingpp, "EVT-3"), (paypal, "EVT-1")];
        assert_eq!(order, expected);
    }

    async fn a_large_batch_is_stored_whole_in_arrival_order_with_its_duplicate_reported(db: Database) {
        db.insert_inbox_batch(&[inbox_entry("WH-700")]).await.unwrap();
        let entries: Vec<_> = (0..1200).map(|i| inbox_entry(&format!("WH-{i}"))).collect();
        let results = db.insert_inbox_batch(&entries).await.unwrap();
        let duplicates: Vec<_> =
            results.iter().enumerate().filter(|(_, r)| **r == InboxInsert::Duplicate).map(|(i, _)| i).collect();
        assert_eq!(duplicates, [700], "the one already stored, in the middle of the batch");
        assert_eq!(db.inbox_backlog().await.unwrap(), 1200);
        let claimed = db.claim_due_notifications(now(), now() + Duration::minutes(1), 1200).await.unwrap();
        let order: Vec<_> = claimed.iter().map(|n| n.provider_event_id.as_str()).collect();
        let expected: Vec<_> = std::iter::once("WH-700".to_owned())
            .chain((0..1200).filter(|i| *i != 700).map(|i| format!("WH-{i}")))
            .collect();
        assert_eq!(order, expected);
    }

    async fn a_stored_notification_keeps_every_byte_and_character_it_arrived_with(db: Database) {
        let body: Vec<u8> = (0..=255u8).chain(br#"{"a":"b,\"c\"}"#.iter().copied()).collect();
        let headers = vec![("x-odd".to_owned(), r#"quote " backslash \ comma , braces {} NULL"#.to_owned())];
        let odd = NewInboxEntry {
            provider_event_id: r#"WH-"odd",{id}\NULL"#.into(),
            event_type: "PAYMENT.CAPTURE.COMPLETED".into(),
            body: body.clone(),
            headers,
            ..inbox_entry("unused")
        };
        let results = db.insert_inbox_batch(&[inbox_entry("WH-plain"), odd.clone()]).await.unwrap();
        assert_eq!(results, vec![InboxInsert::Inserted, InboxInsert::Inserted]);
        assert_eq!(db.insert_inbox_batch(std::slice::from_ref(&odd)).await.unwrap(), vec![InboxInsert::Duplicate]);
        let claimed = db.claim_due_notifications(now(), now() + Duration::minutes(1), 10).await.unwrap();
        let stored = claimed.iter().find(|n| n.provider_event_id == odd.provider_event_id).expect("stored");
        assert_eq!(stored.body, body);
    }

    async fn competing_claimers_never_take_the_same_notification(db: Database) {
        let entries: Vec<_> = (0..40).map(|i| inbox_entry(&format!("WH-{i}"))).collect();
        db.insert_inbox_batch(&entries).await.unwrap();
        let now = now();
        let claimers = (0..4).map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = db.claim_due_notifications(now, now + Duration::minutes(5), 3).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|n| n.id));
                }
            })
        });
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.unwrap());
        }
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(before, 40, "every notification claimed");
        assert_eq!(all.len(), 40, "none claimed twice");
    }

    async fn competing_reconcilers_never_check_the_same_payment(db: Database) {
        let now = now();
        for _ in 0..12 {
            let mut p = new_payment(PaymentStatus::RequiresAction, 100);
            p.next_check_at = Some(now - Duration::seconds(1));
            insert(&db, &p).await;
        }
        let claimers = (0..3).map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = db.claim_payments_due(now, now + Duration::minutes(1), 2).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|p| p.id.to_string()));
                }
            })
        });
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.unwrap());
        }
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 12, "each due payment claimed exactly once");
        let after_lease = now + Duration::minutes(2);
        assert_eq!(db.claim_payments_due(after_lease, after_lease + Duration::minutes(1), 100).await.unwrap().len(), 12);
    }

    async fn a_processed_notification_is_not_claimed_again(db: Database) {
        db.insert_inbox_batch(&[inbox_entry("WH-9")]).await.unwrap();
        let now = now();
        let claimed = db.claim_due_notifications(now, now + Duration::minutes(5), 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let mut tx = db.begin().await.unwrap();
        tx.mark_notification_processed(claimed[0].id, now).await.unwrap();
        tx.commit().await.unwrap();
        let later = now + Duration::hours(1);
        assert!(db.claim_due_notifications(later, later + Duration::minutes(5), 10).await.unwrap().is_empty());
        assert_eq!(db.notification_status(ProviderName::Paypal, "WH-9").await.unwrap().as_deref(), Some("processed"));
    }

    async fn a_unit_of_work_commits_the_change_its_events_and_the_notification_together(db: Database) {
        db.insert_inbox_batch(&[inbox_entry("WH-20")]).await.unwrap();
        let now = now();
        let notification = db.claim_due_notifications(now, now + Duration::minutes(5), 10).await.unwrap()[0].id;
        let p = new_payment(PaymentStatus::RequiresAction, 1000);
        insert(&db, &p).await;

        let mut unit = db.unit_of_work(&IDS, now, Some(notification)).await.unwrap();
        let mut payment = unit.lock_payment(&p.id).await.unwrap().unwrap();
        let Merge::Advanced { moved, .. } = payment.merge(&facts(PaymentStatus::Succeeded), &Cause::Api, now) else {
            panic!("a pending payment moves to succeeded")
        };
        unit.update_payment(&mut payment).await.unwrap();
        unit.record(&moved, &payment).await.unwrap();
        assert_eq!(unit.commit().await.unwrap(), Committed { announced: true });

        let transitions = db.transitions(p.id.as_str()).await.unwrap();
        assert_eq!(transitions, vec![moved.transition().clone()]);
        let events = db.events_of(p.id.as_str()).await.unwrap();
        assert_eq!(events.iter().map(|e| e.event_type).collect::<Vec<_>>(), vec![EventType::PaymentSucceeded]);
        assert_eq!(events[0].data["status"], "succeeded");
        assert_eq!(db.notification_status(ProviderName::Paypal, "WH-20").await.unwrap().as_deref(), Some("processed"));
    }

    async fn a_unit_of_work_dropped_before_commit_leaves_nothing_behind(db: Database) {
        db.insert_inbox_batch(&[inbox_entry("WH-21")]).await.unwrap();
        let now = now();
        let notification = db.claim_due_notifications(now, now + Duration::minutes(5), 10).await.unwrap()[0].id;
        let p = new_payment(PaymentStatus::Succeeded, 1000);
        insert(&db, &p).await;

        let mut unit = db.unit_of_work(&IDS, now, Some(notification)).await.unwrap();
        let mut payment = unit.lock_payment(&p.id).await.unwrap().unwrap();
        let refund = payment.refund(RefundId::generate(&IDS, now), Money::new(400, usd()), Default::default(), &Cause::Api, now).unwrap();
        unit.update_payment(&mut payment).await.unwrap();
        unit.create_refund(&refund, ProviderName::Paypal).await.unwrap();
        drop(unit);

        let stored = db.payment(Mode::Test, &p.id).await.unwrap().unwrap();
        assert_eq!(stored, p, "the reservation rolled back");
        assert!(db.list_refunds(Mode::Test, Some(p.id.as_str()), None, 10).await.unwrap().items.is_empty());
        assert!(db.transitions(refund.resource().id.as_str()).await.unwrap().is_empty());
        assert!(db.events_of(refund.resource().id.as_str()).await.unwrap().is_empty());
        assert_eq!(db.notification_status(ProviderName::Paypal, "WH-21").await.unwrap().as_deref(), Some("pending"));
    }

    async fn a_unit_of_work_without_events_does_not_announce(db: Database) {
        let p = new_payment(PaymentStatus::RequiresAction, 1000);
        insert(&db, &p).await;
        let now = now();
        let mut unit = db.unit_of_work(&IDS, now, None).await.unwrap();
        let mut payment = unit.lock_payment(&p.id).await.unwrap().unwrap();
        payment.next_check_at = Some(now);
        unit.update_payment(&mut payment).await.unwrap();
        assert_eq!(unit.commit().await.unwrap(), Committed { announced: false });
        assert!(db.events_of(p.id.as_str()).await.unwrap().is_empty());
    }

    async fn an_expired_lease_makes_a_notification_claimable_again(db: Database) {
        db.insert_inbox_batch(&[inbox_entry("WH-7")]).await.unwrap();
        let now = now();
        assert_eq!(db.claim_due_notifications(now, now + Duration::seconds(30), 10).await.unwrap().len(), 1);
        assert!(db.claim_due_notifications(now, now + Duration::seconds(30), 10).await.unwrap().is_empty());
        let after_lease = now + Duration::seconds(31);
        let again = db.claim_due_notifications(after_lease, after_lease + Duration::seconds(30), 10).await.unwrap();
        assert_eq!(again[0].attempt, 2);
    }

    async fn competing_dispatchers_never_send_the_same_delivery_and_an_expired_lease_sends_it_again(db: Database) {
        let now = now();
        endpoint_for(&db, "*").await;
        events_at(&db, EventType::PaymentSucceeded, 12, now).await;
        let db_for_claims = db.clone();
        let claims = claim_concurrently(3, move || {
            let db = db_for_claims.clone();
            async move { db.claim_due_deliveries(now, now + Duration::minutes(1), shares(2, 2), ClaimingFor::default()).await.unwrap() }
        })
        .await;
        assert!(claims.iter().all(|d| d.attempt == 1), "each claim is one attempt");
        let mut ids: Vec<_> = claims.iter().map(|d| d.id.to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!((claims.len(), ids.len()), (12, 12), "each delivery claimed exactly once");
        let after_lease = now + Duration::minutes(2);
        let again =
            db.claim_due_deliveries(after_lease, after_lease + Duration::minutes(1), shares(100, 100), ClaimingFor::default()).await.unwrap();
        assert_eq!(again.len(), 12);
        assert!(again.iter().all(|d| d.attempt == 2));
    }

    async fn disabling_an_endpoint_stops_its_waiting_retries_and_the_one_under_way(db: Database) {
        let now = now();
        let endpoint = endpoint_for(&db, "*").await;
        let mut tx = db.begin().await.unwrap();
        let mut events = Vec::new();
        for _ in 0..2 {
            let p = new_payment(PaymentStatus::Succeeded, 100);
            let event = Event::new(EventType::PaymentSucceeded, Mode::Test, p.id.as_str(), &p, &IDS, now);
            tx.insert_event(&event, &IDS).await.unwrap();
            events.push(event);
        }
        tx.commit().await.unwrap();
        // One delivery is under way (claimed) as the endpoint is disabled; the other waits.
        let under_way = db.claim_due_deliveries(now, now + Duration::minutes(1), shares(1, 1), ClaimingFor::default()).await.unwrap().remove(0);
        let disabled = db.set_endpoint_status(&endpoint, EndpointStatus::Disabled, Some("by hand"), now).await;
        assert!(disabled.unwrap());
        let failed = DeliveryAttempt { at: now, status_code: Some(500), error: Some("500".into()), duration_ms: 1 };
        let retry = DeliveryOutcome::RetryAt(now + Duration::seconds(5));
        db.record_delivery_attempts(&[RecordedAttempt { delivery: under_way, attempt: failed, outcome: retry }]).await.unwrap();
        for event in &events {
            let states = db.deliveries_of_event(&event.id).await.unwrap();
            assert_eq!(states[0].status, "failed", "{states:?}");
        }
        let later = now + Duration::days(1);
        assert!(db.claim_due_deliveries(later, later + Duration::minutes(1), shares(10, 10), ClaimingFor::default()).await.unwrap().is_empty());
        assert_eq!(db.pending_deliveries(Mode::Test).await.unwrap().0, 0);

        // Enabled again, an event sent again goes; to a disabled endpoint it would not.
        db.set_endpoint_status(&endpoint, EndpointStatus::Enabled, None, now).await.unwrap();
        assert_eq!(db.redeliver_event(&events[0].id, later).await.unwrap(), 1);
        db.set_endpoint_status(&endpoint, EndpointStatus::Disabled, None, now).await.unwrap();
        assert_eq!(db.redeliver_event(&events[1].id, later).await.unwrap(), 0);
        assert!(!db.set_endpoint_status(&WebhookEndpointId::generate(&IDS, now), EndpointStatus::Enabled, None, now).await.unwrap());
    }

    async fn an_endpoint_remembers_when_it_was_last_disabled_or_enabled_and_nothing_else(db: Database) {
        let made = now();
        let endpoint = endpoint_for(&db, "*").await;
        let read = |db: Database, id: WebhookEndpointId| async move { db.endpoint_by_id(&id).await.unwrap().unwrap() };
        assert_eq!(read(db.clone(), endpoint.clone()).await.status_changed_at, None, "made enabled, never changed");
        let rotated = made + Duration::minutes(1);
        let before = read(db.clone(), endpoint.clone()).await;
        let secrets = EndpointSecrets {
            secret: "whsec_y".into(),
            previous_secret: Some(before.secret.clone()),
            previous_secret_expires_at: Some(rotated + Duration::hours(1)),
            rotated_by: None,
        };
        assert!(db.replace_endpoint_secrets(&endpoint, &before.secret, &secrets, rotated).await.unwrap());
        let after_rotation = read(db.clone(), endpoint.clone()).await;
        assert_eq!(after_rotation.updated_at, rotated);
        assert_eq!(after_rotation.status_changed_at, None, "a new secret fails no delivery");
        let disabled = made + Duration::minutes(2);
        db.set_endpoint_status(&endpoint, EndpointStatus::Disabled, Some("by hand"), disabled).await.unwrap();
        assert_eq!(read(db.clone(), endpoint.clone()).await.status_changed_at, Some(disabled));
        let enabled = made + Duration::minutes(3);
        db.set_endpoint_status(&endpoint, EndpointStatus::Enabled, None, enabled).await.unwrap();
        assert_eq!(read(db.clone(), endpoint.clone()).await.status_changed_at, Some(enabled));
    }

    async fn a_recorded_batch_keeps_each_outcome_and_leaves_a_delivery_no_longer_pending_alone(db: Database) {
        let now = now();
        let endpoint = endpoint_for(&db, "*").await;
        events_at(&db, EventType::PaymentSucceeded, 5, now).await;
        let claimed = db.claim_due_deliveries(now, now + Duration::minutes(1), shares(10, 10), ClaimingFor::default()).await.unwrap();
        let [delivered, retried, given_up, already_failed, sent_twice] = <[_; 5]>::try_from(claimed).unwrap();
        let answered = |code: u16| DeliveryAttempt {
            at: now,
            status_code: Some(code),
            error: (code >= 300).then(|| format!("HTTP {code}")),
            duration_ms: 3,
        };
        let record = |delivery: &payhub_store::ClaimedDelivery, code, outcome| RecordedAttempt {
            delivery: delivery.clone(),
            attempt: answered(code),
            outcome,
        };
        let retry_at = now + Duration::minutes(5);
        db.record_delivery_attempts(&[record(&already_failed, 410, DeliveryOutcome::GaveUp)]).await.unwrap();
        db.record_delivery_attempts(&[
            record(&delivered, 204, DeliveryOutcome::Delivered),
            record(&retried, 503, DeliveryOutcome::RetryAt(retry_at)),
            record(&given_up, 400, DeliveryOutcome::GaveUp),
            record(&already_failed, 500, DeliveryOutcome::RetryAt(retry_at)),
            record(&sent_twice, 502, DeliveryOutcome::RetryAt(retry_at)),
            record(&sent_twice, 200, DeliveryOutcome::Delivered),
        ])
        .await
        .unwrap();

        let state = async |d: &payhub_store::ClaimedDelivery| {
            let s = db.deliveries_of_event(&d.event_id).await.unwrap().remove(0);
            (s.status, s.last_status_code, s.last_error)
        };
        assert_eq!(state(&delivered).await, ("delivered".into(), Some(204), None));
        assert_eq!(state(&retried).await, ("pending".into(), Some(503), Some("HTTP 503".into())));
        assert_eq!(state(&given_up).await, ("failed".into(), Some(400), Some("HTTP 400".into())));
        assert_eq!(state(&already_failed).await, ("failed".into(), Some(410), Some("HTTP 410".into())), "left alone");
        assert_eq!(state(&sent_twice).await, ("delivered".into(), Some(200), None), "the later attempt's outcome");
        assert_eq!(db.last_successful_delivery(&endpoint).await.unwrap(), Some(now));
        let health = db.endpoint_health(&endpoint, now, 10).await.unwrap();
        assert_eq!((health.attempts, health.accepted, health.pending), (7, 2, 1), "every attempt is history");
        assert!(db.claim_due_deliveries(now, now, shares(10, 10), ClaimingFor::default()).await.unwrap().is_empty());
        let due = db.claim_due_deliveries(retry_at, retry_at, shares(10, 10), ClaimingFor::default()).await.unwrap();
        assert_eq!(due.iter().map(|d| &d.id).collect::<Vec<_>>(), [&retried.id], "only the retry is due again");
    }

    async fn events_fan_out_to_matching_enabled_endpoints_only(db: Database) {
        let now = now();
        let endpoint = |types: &[&str], mode| NewWebhookEndpoint {
            id: WebhookEndpointId::generate(&IDS, now),
            mode,
            url: "http://127.0.0.1:9/hook".into(),
            secret: "whsec_x".into(),
            event_types: types.iter().map(|s| s.to_string()).collect(),
            description: None,
        };
        let all = db.create_endpoint(endpoint(&["*"], Mode::Test), now).await.unwrap();
        let refunds_only = db.create_endpoint(endpoint(&["refund.*"], Mode::Test), now).await.unwrap();
        let live = db.create_endpoint(endpoint(&["*"], Mode::Live), now).await.unwrap();
        let p = new_payment(PaymentStatus::Succeeded, 1000);
        let event = Event::new(EventType::PaymentSucceeded, Mode::Test, p.id.as_str(), &p, &IDS, now);
        let mut tx = db.begin().await.unwrap();
        tx.insert_payment(&p).await.unwrap();
        tx.record_transition(&Transition::new(p.id.as_str(), "requires_action", "succeeded", Cause::Api, now)).await.unwrap();
        tx.insert_event(&event, &IDS).await.unwrap();
        tx.commit().await.unwrap();
        let deliveries = db.deliveries_of_event(&event.id).await.unwrap();
        let targets: Vec<_> = deliveries.iter().map(|d| d.endpoint_id.clone()).collect();
        assert_eq!(targets, vec![all.id.to_string()]);
        assert!(!targets.contains(&refunds_only.id.to_string()));
        assert!(!targets.contains(&live.id.to_string()));
        let stored = db.event(Mode::Test, &event.id).await.unwrap().unwrap();
        assert_eq!(stored, Event { sequence: 1, ..event }, "stored as the payment's first event");
        assert_eq!(db.transitions(p.id.as_str()).await.unwrap().len(), 1);
    }

    async fn an_idempotency_key_replays_its_response_and_refuses_another_request(db: Database) {
        let now = now();
        let (a, b) = (instance("ins-a", 1), instance("ins-b", 2));
        for me in [&a, &b] {
            db.register_instance(me, |_| true, now).await.unwrap();
        }
        assert_eq!(claim(&db, "k1", "fp-a", &a, "req-1", now).await, runs("req-1", false));
        assert_eq!(claim(&db, "k1", "fp-a", &b, "req-2", now).await, IdempotencyClaim::InProgress);
        let response = StoredResponse { status: 201, content_type: "application/json".into(), body: b"{}".to_vec() };
        db.complete_idempotency_key(Mode::Test, "k1", &response).await.unwrap();
        assert_eq!(claim(&db, "k1", "fp-a", &b, "req-3", now).await, IdempotencyClaim::Completed(response));
        assert_eq!(claim(&db, "k1", "fp-b", &b, "req-4", now).await, IdempotencyClaim::Mismatch);
        let other_mode = db
            .claim_idempotency_key(Mode::Live, "k1", "fp-b", Claimant { instance_id: &b.id, new_request_id: "req-5" }, now)
            .await
            .unwrap();
        assert_eq!(other_mode, runs("req-5", false));
    }

    async fn keys_claimed_together_each_get_their_own_outcome_in_order(db: Database) {
        let now = now();
        let (a, b, gone) = (instance("ins-a", 1), instance("ins-b", 2), instance("ins-gone", 3));
        for me in [&a, &b, &gone] {
            db.register_instance(me, |_| true, now).await.unwrap();
        }
        assert_eq!(claim(&db, "done", "fp", &a, "req-0", now).await, runs("req-0", false));
        let response = StoredResponse { status: 201, content_type: "application/json".into(), body: b"{}".to_vec() };
        db.complete_idempotency_key(Mode::Test, "done", &response).await.unwrap();
        assert_eq!(claim(&db, "orphan", "fp", &gone, "req-g", now).await, runs("req-g", false));
        db.stop_instance(&gone.id, now).await.unwrap();

        let key_claim = |mode, key: &str, fingerprint: &str, request_id: &str| KeyClaim {
            mode,
            key: key.into(),
            fingerprint: fingerprint.into(),
            new_request_id: request_id.into(),
        };
        let claims = [
            key_claim(Mode::Test, "k1", "fp-a", "req-1"),
            key_claim(Mode::Test, "k2", "fp-a", "req-2"),
            key_claim(Mode::Test, "k1", "fp-a", "req-3"),
            key_claim(Mode::Test, "k1", "fp-b", "req-4"),
            key_claim(Mode::Live, "k1", "fp-b", "req-5"),
            key_claim(Mode::Test, "done", "fp", "req-6"),
            key_claim(Mode::Test, "orphan", "fp", "req-7"),
        ];
        let outcomes = db.claim_idempotency_keys(&b.id, &claims, now).await.unwrap();
        assert_eq!(
            outcomes,
            [
                runs("req-1", false),
                runs("req-2", false),
                IdempotencyClaim::InProgress,
                IdempotencyClaim::Mismatch,
                runs("req-5", false),
                IdempotencyClaim::Completed(response),
                runs("req-g", true),
            ],
            "the same key twice in a batch runs once; each other claim as if it came alone"
        );
        // Committed: another process finds the new keys held by a live one.
        for key in ["k1", "k2"] {
            assert_eq!(claim(&db, key, "fp-a", &a, "req-8", now).await, IdempotencyClaim::InProgress, "{key}");
        }
    }

    async fn a_stopped_processs_request_is_taken_over_at_once_under_its_request_id(db: Database) {
        let now = now();
        let (a, b, c) = (instance("ins-a", 1), instance("ins-b", 2), instance("ins-c", 3));
        for me in [&a, &b, &c] {
            db.register_instance(me, |_| true, now).await.unwrap();
        }
        assert_eq!(claim(&db, "k1", "fp", &a, "req-a", now).await, runs("req-a", false));
        db.stop_instance(&a.id, now).await.unwrap();
        // The retry names the resource the first run may have created.
        assert_eq!(claim(&db, "k1", "fp", &b, "req-b", now).await, runs("req-a", true));
        // Now a live process runs it.
        assert_eq!(claim(&db, "k1", "fp", &c, "req-c", now).await, IdempotencyClaim::InProgress);
    }

    async fn a_key_handed_back_by_its_live_process_is_taken_over_at_once_under_its_request_id(db: Database) {
        let now = now();
        let (a, b) = (instance("ins-a", 1), instance("ins-b", 2));
        db.register_instance(&a, |_| true, now).await.unwrap();
        db.register_instance(&b, |_| true, now).await.unwrap();
        assert_eq!(claim(&db, "k1", "fp", &a, "req-a", now).await, runs("req-a", false));
        assert_eq!(claim(&db, "k1", "fp", &a, "req-a2", now).await, IdempotencyClaim::InProgress);
        // The database failed the request; its process, still running, hands the key back.
        db.hand_back_idempotency_key(Mode::Test, "k1").await.unwrap();
        assert_eq!(claim(&db, "k1", "fp", &a, "req-a3", now).await, runs("req-a", true));
        assert_eq!(claim(&db, "k1", "fp", &b, "req-b", now).await, IdempotencyClaim::InProgress, "taken over once");
    }

    async fn a_silent_process_is_gone_once_its_heartbeat_runs_out(db: Database) {
        let start = now();
        let (a, b) = (instance("ins-a", 1), instance("ins-b", 2));
        db.register_instance(&a, |_| true, start).await.unwrap();
        db.register_instance(&b, |_| true, start).await.unwrap();
        assert_eq!(claim(&db, "k1", "fp", &a, "req-a", start).await, runs("req-a", false));
        let beating = start + INSTANCE_SILENT_AFTER - chrono::Duration::seconds(1);
        assert_eq!(claim(&db, "k1", "fp", &b, "req-b", beating).await, IdempotencyClaim::InProgress);
        assert!(db.instance_heartbeat(&a.id, beating).await.unwrap());
        let still_beating = beating + INSTANCE_SILENT_AFTER - chrono::Duration::seconds(1);
        assert_eq!(claim(&db, "k1", "fp", &b, "req-b", still_beating).await, IdempotencyClaim::InProgress);
        let silent = beating + INSTANCE_SILENT_AFTER + chrono::Duration::seconds(1);
        assert_eq!(claim(&db, "k1", "fp", &b, "req-b", silent).await, runs("req-a", true));
    }

    async fn a_restarted_process_frees_what_its_dead_predecessor_held(db: Database) {
        let now = now();
        let old = instance("ins-old", 41);
        let neighbour = instance("ins-neighbour", 42);
        db.register_instance(&old, |_| true, now).await.unwrap();
        db.register_instance(&neighbour, |_| true, now).await.unwrap();
        assert_eq!(claim(&db, "k-old", "fp", &old, "req-old", now).await, runs("req-old", false));
        assert_eq!(claim(&db, "k-neighbour", "fp", &neighbour, "req-n", now).await, runs("req-n", false));
        // Same host, a new process; pid 41 no longer exists, pid 42 does.
        let new = instance("ins-new", 43);
        db.register_instance(&new, |pid| pid == 42, now).await.unwrap();
        assert_eq!(claim(&db, "k-old", "fp", &new, "req-x", now).await, runs("req-old", true));
        assert_eq!(claim(&db, "k-neighbour", "fp", &new, "req-y", now).await, IdempotencyClaim::InProgress);
        // A container restarted with its old pid: that pid is this process, not the old one.
        let reborn = instance("ins-reborn", 43);
        db.register_instance(&reborn, |_| true, now).await.unwrap();
        assert_eq!(claim(&db, "k-new", "fp", &reborn, "req-z", now).await, runs("req-z", false));
        assert!(!db.instance_heartbeat(&new.id, now).await.unwrap(), "the earlier life is marked stopped");
    }

    async fn a_request_of_an_unregistered_process_is_taken_over_only_when_abandoned(db: Database) {
        let start = now();
        let (ghost, b) = (instance("ins-ghost", 1), instance("ins-b", 2));
        db.register_instance(&b, |_| true, start).await.unwrap();
        assert_eq!(claim(&db, "k1", "fp", &ghost, "req-g", start).await, runs("req-g", false));
        let soon = start + chrono::Duration::minutes(4);
        db.instance_heartbeat(&b.id, soon).await.unwrap();
        assert_eq!(claim(&db, "k1", "fp", &b, "req-b", soon).await, IdempotencyClaim::InProgress);
        let later = start + chrono::Duration::minutes(6);
        db.instance_heartbeat(&b.id, later).await.unwrap();
        assert_eq!(claim(&db, "k1", "fp", &b, "req-b", later).await, runs("req-g", true));
    }

    async fn an_event_queues_one_mail_per_recipient_of_its_type_and_a_sent_mail_is_not_claimed_again(db: Database) {
        let now = now();
        let recipients = [
            MailRecipient { address: "support@shop.example".into(), event_types: vec!["payment.succeeded".into()] },
            MailRecipient { address: "refunds@shop.example".into(), event_types: vec!["refund.succeeded".into()] },
        ];
        db.set_mail_recipients(&recipients).await.unwrap();
        let p = new_payment(PaymentStatus::Succeeded, 1000);
        let event = Event::new(EventType::PaymentSucceeded, Mode::Test, p.id.as_str(), &p, &IDS, now);
        for _ in 0..2 {
            let mut tx = db.begin().await.unwrap();
            let _ = tx.insert_event(&event, &IDS).await;
            drop(tx);
        }
        let mut tx = db.begin().await.unwrap();
        tx.insert_event(&event, &IDS).await.unwrap();
        tx.commit().await.unwrap();
        let mails = db.mails_of_event(&event.id).await.unwrap();
        assert_eq!(mails.iter().map(|m| m.recipient.as_str()).collect::<Vec<_>>(), ["support@shop.example"]);
        let claimed = db.claim_due_mails(now, now + Duration::minutes(1), 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(db.claim_due_mails(now, now + Duration::minutes(1), 10).await.unwrap().is_empty(), "leased");
        let attempt = MailAttempt { at: now, error: None, duration_ms: 3 };
        db.record_mail_attempt(&claimed[0], &attempt, DeliveryOutcome::Delivered).await.unwrap();
        let later = now + Duration::hours(1);
        assert!(db.claim_due_mails(later, later + Duration::minutes(1), 10).await.unwrap().is_empty());
        assert_eq!(db.mails_of_event(&event.id).await.unwrap()[0].status, "sent");
        db.set_mail_recipients(&[]).await.unwrap();
        let other = Event::new(EventType::PaymentSucceeded, Mode::Test, p.id.as_str(), &p, &IDS, now);
        let mut tx = db.begin().await.unwrap();
        tx.insert_event(&other, &IDS).await.unwrap();
        tx.commit().await.unwrap();
        assert!(db.mails_of_event(&other.id).await.unwrap().is_empty(), "a removed recipient gets no new mail");
    }
}

fn instance(id: &str, pid: u32) -> InstanceIdentity {
    InstanceIdentity { id: id.into(), host: "host-1".into(), pid }
}

fn runs(request_id: &str, resumed: bool) -> IdempotencyClaim {
    IdempotencyClaim::Run(RequestRun { request_id: request_id.into(), resumed })
}

async fn claim(
    db: &Database,
    key: &str,
    fingerprint: &str,
    me: &InstanceIdentity,
    new_request_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> IdempotencyClaim {
    let claimant = Claimant { instance_id: &me.id, new_request_id };
    db.claim_idempotency_key(Mode::Test, key, fingerprint, claimant, at).await.unwrap()
}
