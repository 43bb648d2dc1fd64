//! The state machines seen from outside core: whatever a caller does with the public methods,
//! resources are created with their transition out of `none`, move only forward (subscriptions
//! excepted, which move back and forth but never out of a final state), and every recorded
//! transition starts where the previous one ended.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use payhub_core::entitlement::{Entitlement, EntitlementStatus};
use payhub_core::id::{EntitlementId, PaymentId, PlanId, RefundId, SubscriptionId};
use payhub_core::payment::{
    AuthorizationFacts, CaptureMethod, CaptureRejection, Failure, Merge, NextAction, Payment, PaymentDetails,
    PaymentFacts, PaymentStatus, ProviderRefs, RefundDetails,
};
use payhub_core::refund::{Refund, RefundFacts, RefundMerge, RefundStatus};
use payhub_core::subscription::{
    BillingCycle, IntervalUnit, Plan, PlanStatus, Subscription, SubscriptionDetails, SubscriptionFacts,
    SubscriptionStatus,
};
use payhub_core::transition::{Cause, Created, Moved, Transition};
use payhub_core::{Currency, EventType, IdGenerator, Mode, Money, ProviderName};
use proptest::prelude::*;

/// One seeded generator for the whole binary: reproducible ids that never collide.
static IDS: LazyLock<IdGenerator> = LazyLock::new(|| IdGenerator::seeded(7));

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::parse("USD").unwrap())
}

fn opened_payment(amount: i64) -> Created<Payment> {
    opened_payment_with(amount, PaymentDetails::default())
}

fn opened_payment_with(amount: i64, details: PaymentDetails) -> Created<Payment> {
    let now = start();
    let draft = Payment::draft(
        PaymentId::generate(&IDS, now),
        Mode::Test,
        ProviderName::Paypal,
        "paypal".into(),
        usd(amount),
        details,
        now,
    );
    let refs = ProviderRefs { payment_id: Some("ORDER-1".into()), capture_id: None, authorization_id: None };
    draft.opened(refs, NextAction::RedirectToUrl { redirect_url: "https://paypal.test/approve".into() }, &Cause::Api)
}

fn plan() -> Plan {
    let now = start();
    let cycle = BillingCycle { interval_unit: IntervalUnit::Month, interval_count: 1, total_cycles: 0, price: 900 };
    Plan {
        id: PlanId::generate(&IDS, now),
        mode: Mode::Test,
        provider: ProviderName::Paypal,
        name: "Premium".into(),
        product: "Premium".into(),
        description: None,
        status: PlanStatus::Active,
        currency: Currency::parse("USD").unwrap(),
        trial_cycles: vec![],
        regular_cycle: cycle,
        setup_fee: 0,
        tax_basis_points: 0,
        payment_failure_threshold: 3,
        entitlement: "premium".into(),
        provider_product_id: None,
        provider_plan_id: Some("P-1".into()),
        created_at: now,
        updated_at: now,
    }
}

/// How far along the happy path a payment status is.
fn rank(status: PaymentStatus) -> u8 {
    match status {
        PaymentStatus::RequiresAction => 0,
        PaymentStatus::RequiresCapture => 1,
        PaymentStatus::Processing => 2,
        PaymentStatus::Refunded => 4,
        _ => 3,
    }
}

/// The transitions recorded so far for one resource, checked as they are appended.
struct History(Vec<Transition>);

impl History {
    fn of<T>(created: &Created<T>, resource_id: &str, status: &str) -> Self {
        let first = created.transition().expect("payments, refunds and subscriptions record their creation").clone();
        assert_eq!((first.resource_id.as_str(), first.from.as_str(), first.to.as_str()), (resource_id, "none", status));
        History(vec![first])
    }

    fn append(&mut self, moved: &Moved, now_status: &str) -> Result<(), TestCaseError> {
        let t = moved.transition();
        let last = self.0.last().unwrap();
        prop_assert_eq!(&t.resource_id, &last.resource_id);
        prop_assert_eq!(&t.from, &last.to, "a transition starts where the previous one ended");
        prop_assert_eq!(t.to.as_str(), now_status, "the transition ends at the resource's status");
        prop_assert_ne!(&t.from, &t.to);
        self.0.push(t.clone());
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum PaymentOp {
    Facts { status: PaymentStatus, captured: Option<i64> },
    Refund(i64),
    Settle { succeeded: bool },
    RefundedAtProvider(i64),
}

fn payment_op() -> impl Strategy<Value = PaymentOp> {
    prop_oneof![
        (prop::sample::select(PaymentStatus::ALL.to_vec()), prop::option::of(900i64..2000))
            .prop_map(|(status, captured)| PaymentOp::Facts { status, captured }),
        (1i64..800).prop_map(PaymentOp::Refund),
        any::<bool>().prop_map(|succeeded| PaymentOp::Settle { succeeded }),
        (1i64..400).prop_map(PaymentOp::RefundedAtProvider),
    ]
}

#[derive(Debug, Clone)]
enum SubscriptionOp {
    Snapshot { status: SubscriptionStatus, payments: u32, failed: u32, late: bool },
    Revise(u32),
}

fn subscription_op() -> impl Strategy<Value = SubscriptionOp> {
    prop_oneof![
        (prop::sample::select(SubscriptionStatus::ALL.to_vec()), 0u32..6, 0u32..4, any::<bool>())
            .prop_map(|(status, payments, failed, late)| SubscriptionOp::Snapshot { status, payments, failed, late }),
        (1u32..5).prop_map(SubscriptionOp::Revise),
    ]
}

#[test]
fn a_payment_the_provider_refused_is_created_failed_with_its_reason() {
    let now = start();
    let draft = Payment::draft(
        PaymentId::generate(&IDS, now),
        Mode::Test,
        ProviderName::Pingpp,
        "alipay_qr".into(),
        usd(500),
        PaymentDetails::default(),
        now,
    );
    let failure = Failure { code: "provider_timeout".into(), message: "Ping++ did not answer".into() };
    let created = draft.refused(failure.clone(), &Cause::Api);
    let t = created.transition().unwrap();
    assert_eq!((t.from.as_str(), t.to.as_str(), t.at), ("none", "failed", now));
    assert_eq!(created.event(), EventType::PaymentFailed);
    assert_eq!(created.resource().status(), PaymentStatus::Failed);
    assert_eq!(created.resource().failure(), Some(&failure));
}

#[test]
fn an_opened_payment_waits_for_the_buyer_and_announces_its_creation() {
    let created = opened_payment(1000);
    assert_eq!(created.event(), EventType::PaymentCreated);
    let payment = created.resource();
    assert_eq!(payment.status(), PaymentStatus::RequiresAction);
    assert_eq!((payment.amount_captured(), payment.amount_refunded(), payment.version()), (0, 0, 1));
    assert!(payment.next_action().is_some());
}

#[test]
fn a_refund_reserves_its_amount_on_the_payment_and_is_created_pending() {
    let now = start();
    let mut payment = opened_payment(1000).into_resource();
    let Merge::Advanced { .. } = payment.merge(&succeeded(None), &Cause::Api, now) else { panic!("captured") };
    let created =
        payment.refund(RefundId::generate(&IDS, now), usd(300), RefundDetails::default(), &Cause::Api, now).unwrap();
    assert_eq!(created.event(), EventType::RefundCreated);
    assert_eq!(created.resource().status(), RefundStatus::Pending);
    assert_eq!(created.resource().payment_id, payment.id);
    assert_eq!(payment.amount_refund_pending(), 300);
    assert_eq!(payment.refundable(), usd(700));
}

#[test]
fn a_subscription_charge_is_created_succeeded_and_belongs_to_its_subscription() {
    let now = start();
    let subscription = Subscription::adopt(
        SubscriptionId::generate(&IDS, now),
        &plan(),
        "cus_1".into(),
        "I-1",
        &Cause::Reconciler,
        now,
    )
    .into_resource();
    let paid_at = now - Duration::hours(3);
    let charge = Payment::subscription_charge(
        PaymentId::generate(&IDS, now),
        &subscription,
        "SALE-1",
        usd(900),
        paid_at,
        &Cause::Reconciler,
        now,
    );
    assert_eq!(charge.event(), EventType::PaymentSucceeded);
    let payment = charge.resource();
    assert_eq!((payment.status(), payment.amount_captured()), (PaymentStatus::Succeeded, 900));
    assert_eq!(payment.subscription_id.as_ref(), Some(&subscription.id));
    assert_eq!(payment.created_at, paid_at);
    assert_eq!(payment.provider_refs().capture_id.as_deref(), Some("SALE-1"));
}

#[test]
fn an_adopted_subscription_is_asked_about_at_once() {
    let now = start();
    let created = Subscription::adopt(
        SubscriptionId::generate(&IDS, now),
        &plan(),
        "cus_1".into(),
        "I-9",
        &Cause::Reconciler,
        now,
    );
    assert_eq!(created.event(), EventType::SubscriptionCreated);
    assert_eq!(created.transition().unwrap().cause, Cause::Reconciler);
    assert_eq!(created.resource().status(), SubscriptionStatus::ApprovalPending);
    assert_eq!(created.resource().next_check_at, Some(now));
}

#[test]
fn a_granted_entitlement_is_announced_without_a_transition() {
    let now = start();
    let until = now + Duration::days(30);
    let created = Entitlement::grant(
        EntitlementId::generate(&IDS, now),
        Mode::Test,
        "cus_1",
        "premium",
        SubscriptionId::generate(&IDS, now),
        until,
        now,
    );
    assert!(created.transition().is_none());
    assert_eq!(created.event(), EventType::EntitlementGranted);
    assert_eq!((created.resource().status(), created.resource().valid_until()), (EntitlementStatus::Active, until));
}

fn succeeded(captured: Option<i64>) -> PaymentFacts {
    PaymentFacts {
        status: PaymentStatus::Succeeded,
        capture_id: None,
        captured: captured.map(usd),
        failure: None,
        authorization: None,
        pending_reason: None,
    }
}

/// A payment with manual capture of `amount`, approved and held by the provider until `expires_at`.
fn held_payment(amount: i64, expires_at: DateTime<Utc>) -> Payment {
    let now = start();
    let details = PaymentDetails { capture_method: CaptureMethod::Manual, ..PaymentDetails::default() };
    let mut payment = opened_payment_with(amount, details).into_resource();
    let held = PaymentFacts {
        status: PaymentStatus::RequiresCapture,
        capture_id: None,
        captured: None,
        failure: None,
        authorization: Some(AuthorizationFacts {
            id: "AUTH-1".into(),
            capturable: Some(usd(amount)),
            expires_at: Some(expires_at),
        }),
        pending_reason: None,
    };
    match payment.merge(&held, &Cause::Api, now) {
        Merge::Advanced { moved, .. } => assert_eq!(moved.event(), EventType::PaymentAuthorized),
        other => panic!("the hold should move the payment: {other:?}"),
    }
    payment
}

#[test]
fn an_authorized_payment_waits_for_capture_with_its_hold() {
    let expires = start() + Duration::days(29);
    let payment = held_payment(1000, expires);
    assert_eq!(payment.status(), PaymentStatus::RequiresCapture);
    assert_eq!(payment.amount_capturable(), 1000);
    assert_eq!(payment.authorization_expires_at(), Some(expires));
    assert_eq!(payment.provider_refs().authorization_id.as_deref(), Some("AUTH-1"));
    assert!(payment.next_action().is_none());
    assert_eq!(payment.refundable(), usd(0), "nothing is refundable before the capture");
}

#[test]
fn a_capture_is_positive_in_the_payments_currency_and_at_most_what_is_capturable() {
    let payment = held_payment(1000, start() + Duration::days(29));
    assert_eq!(payment.capture_amount(None), Ok(usd(1000)));
    assert_eq!(payment.capture_amount(Some(usd(400))), Ok(usd(400)));
    assert_eq!(
        payment.capture_amount(Some(usd(1001))),
        Err(CaptureRejection::ExceedsCapturable { requested: usd(1001), capturable: usd(1000) })
    );
    assert_eq!(payment.capture_amount(Some(usd(0))), Err(CaptureRejection::NotPositive));
    let eur = Money::new(100, Currency::parse("EUR").unwrap());
    assert!(matches!(payment.capture_amount(Some(eur)), Err(CaptureRejection::WrongCurrency { .. })));
    let unheld = opened_payment(1000).into_resource();
    assert_eq!(unheld.capture_amount(None), Err(CaptureRejection::NotCapturable("requires_action")));
}

#[test]
fn a_partial_capture_succeeds_with_what_was_captured_and_refunds_stop_there() {
    let mut payment = held_payment(1000, start() + Duration::days(29));
    let captured = PaymentFacts {
        status: PaymentStatus::Succeeded,
        capture_id: Some("CAP-1".into()),
        captured: Some(usd(600)),
        failure: None,
        authorization: None,
        pending_reason: None,
    };
    let Merge::Advanced { moved, anomaly } = payment.merge(&captured, &Cause::Api, start()) else {
        panic!("the capture should move the payment");
    };
    assert_eq!((moved.event(), anomaly), (EventType::PaymentSucceeded, None));
    assert_eq!((payment.amount_captured(), payment.amount_capturable()), (600, 0));
    assert_eq!(payment.refundable(), usd(600));
    // A late notification of the hold changes nothing any more.
    let stale = PaymentFacts {
        status: PaymentStatus::RequiresCapture,
        capture_id: None,
        captured: None,
        failure: None,
        authorization: Some(AuthorizationFacts { id: "AUTH-1".into(), capturable: Some(usd(1000)), expires_at: None }),
        pending_reason: None,
    };
    assert_eq!(payment.merge(&stale, &Cause::Api, start()), Merge::Stale);
    assert_eq!(payment.amount_capturable(), 0);
}

#[test]
fn a_partial_capture_held_for_review_succeeds_with_what_was_captured() {
    let mut payment = held_payment(1000, start() + Duration::days(29));
    let captured = |status| PaymentFacts {
        status,
        capture_id: Some("CAP-1".into()),
        captured: Some(usd(600)),
        failure: None,
        authorization: None,
        pending_reason: None,
    };
    assert!(matches!(
        payment.merge(&captured(PaymentStatus::Processing), &Cause::Api, start()),
        Merge::Advanced { .. }
    ));
    let Merge::Advanced { anomaly, .. } =
        payment.merge(&captured(PaymentStatus::Succeeded), &Cause::Reconciler, start())
    else {
        panic!("the cleared capture should move the payment");
    };
    assert_eq!(anomaly, None);
    assert_eq!((payment.status(), payment.amount_captured()), (PaymentStatus::Succeeded, 600));
    assert_eq!(payment.refundable(), usd(600));
}

#[test]
fn a_hold_that_expires_or_is_released_ends_the_payment_with_nothing_capturable() {
    for ending in [PaymentStatus::Expired, PaymentStatus::Canceled] {
        let mut payment = held_payment(1000, start() + Duration::days(29));
        let facts = PaymentFacts {
            status: ending,
            capture_id: None,
            captured: None,
            failure: None,
            authorization: None,
            pending_reason: None,
        };
        assert!(matches!(payment.merge(&facts, &Cause::Reconciler, start()), Merge::Advanced { .. }));
        assert_eq!((payment.status(), payment.amount_capturable()), (ending, 0));
    }
}

#[test]
fn a_declined_funding_source_points_the_buyer_back_once_and_clears_when_paid() {
    let mut payment = opened_payment(1000).into_resource();
    let failure = Failure { code: "instrument_declined".into(), message: "declined".into() };
    assert!(payment.funding_declined("https://paypal.test/again".into(), failure.clone(), start()));
    assert!(!payment.funding_declined("https://paypal.test/again".into(), failure.clone(), start()), "no news twice");
    assert_eq!(payment.status(), PaymentStatus::RequiresAction);
    assert_eq!(
        payment.next_action(),
        Some(&NextAction::RedirectToUrl { redirect_url: "https://paypal.test/again".into() })
    );
    assert_eq!(payment.failure(), Some(&failure));
    let _ = payment.merge(&succeeded(Some(1000)), &Cause::Api, start());
    assert_eq!((payment.status(), payment.failure()), (PaymentStatus::Succeeded, None));
    let mut paid = payment;
    assert!(
        !paid.funding_declined("https://paypal.test/late".into(), failure, start()),
        "a paid payment is not sent back"
    );
}

fn refund_facts(status: RefundStatus) -> RefundFacts {
    RefundFacts { status, provider_refund_id: Some("R-1".into()), failure: None }
}

proptest! {
    /// Whatever a caller does to a payment — provider facts in any order, refunds asked for and
    /// settled either way, refunds made at the provider — it never moves backwards, every move
    /// is recorded from where the last one ended, and refunds never exceed what was captured.
    #[test]
    fn no_sequence_of_calls_moves_a_payment_backwards_or_breaks_its_history(ops in prop::collection::vec(payment_op(), 0..25)) {
        let created = opened_payment(1000);
        let mut history = History::of(&created, created.resource().id.as_str(), "requires_action");
        let mut payment = created.into_resource();
        let mut in_flight: Vec<i64> = Vec::new();
        let mut external = false;
        for (step, op) in ops.into_iter().enumerate() {
            let now = start() + Duration::minutes(step as i64);
            let before = payment.status();
            let moved = match op {
                PaymentOp::Facts { status, captured } => {
                    let facts = PaymentFacts { status, capture_id: None, captured: captured.map(usd), failure: None, authorization: None, pending_reason: None };
                    match payment.merge(&facts, &Cause::Api, now) {
                        Merge::Advanced { moved, .. } => Some(moved),
                        _ => None,
                    }
                }
                PaymentOp::Refund(amount) => {
                    if let Ok(refund) = payment.refund(RefundId::generate(&IDS, now), usd(amount), RefundDetails::default(), &Cause::Api, now) {
                        prop_assert_eq!(refund.resource().status(), RefundStatus::Pending);
                        in_flight.push(amount);
                    }
                    None
                }
                PaymentOp::Settle { succeeded } => match in_flight.pop() {
                    Some(amount) => payment.settle_refund(amount, succeeded, &Cause::Api, now),
                    None => None,
                },
                PaymentOp::RefundedAtProvider(amount) => {
                    if payment.status() != PaymentStatus::Succeeded {
                        None
                    } else {
                        external = true;
                        let (refund, moved) = payment.record_external_refund(RefundId::generate(&IDS, now), "R-X", usd(amount), &Cause::Api, now);
                        prop_assert_eq!(refund.transition().unwrap().to.as_str(), "succeeded");
                        moved
                    }
                }
            };
            prop_assert!(rank(payment.status()) >= rank(before), "{:?} moved back to {:?}", before, payment.status());
            match moved {
                Some(moved) => {
                    prop_assert_eq!(moved.event(), payment.status().event_type());
                    history.append(&moved, payment.status().as_str())?;
                }
                None => prop_assert_eq!(payment.status(), before, "a status never moves unrecorded"),
            }
            if !external {
                prop_assert!(payment.amount_refunded() + payment.amount_refund_pending() <= payment.amount_captured());
            }
        }
    }

    /// A refund settles once; whatever the provider claims afterwards is no news or a conflict.
    #[test]
    fn a_refund_settles_at_most_once(claims in prop::collection::vec(prop::sample::select(RefundStatus::ALL.to_vec()), 0..10)) {
        let now = start();
        let mut payment = opened_payment(1000).into_resource();
        let _ = payment.merge(&succeeded(None), &Cause::Api, now);
        let created = payment.refund(RefundId::generate(&IDS, now), usd(400), RefundDetails::default(), &Cause::Api, now).unwrap();
        let mut history = History::of(&created, created.resource().id.as_str(), "pending");
        let mut refund: Refund = created.into_resource();
        for claimed in claims {
            let before = refund.status();
            match refund.merge(&refund_facts(claimed), &Cause::Reconciler, now) {
                RefundMerge::Settled { moved } => {
                    prop_assert_eq!(before, RefundStatus::Pending);
                    prop_assert_eq!(moved.event(), refund.status().event_type());
                    history.append(&moved, refund.status().as_str())?;
                }
                _ => prop_assert_eq!(refund.status(), before),
            }
        }
        prop_assert!(history.0.len() <= 2);
    }

    /// Subscriptions move back and forth with the provider's snapshots, but every move is
    /// recorded from where the last one ended, a final status is never left, and a snapshot
    /// older than the last one applied changes nothing.
    #[test]
    fn subscription_moves_chain_and_final_states_hold(ops in prop::collection::vec(subscription_op(), 0..20)) {
        let now = start();
        let draft = Subscription::draft(SubscriptionId::generate(&IDS, now), Mode::Test, &plan(), SubscriptionDetails { customer_id: "cus_1".into(), quantity: 1, ..Default::default() }, now);
        let approve = NextAction::RedirectToUrl { redirect_url: "https://paypal.test/subscribe".into() };
        let created = draft.opened("I-1".into(), Some(approve), &Cause::Api);
        let mut history = History::of(&created, created.resource().id.as_str(), "approval_pending");
        let mut subscription = created.into_resource();
        for (step, op) in ops.into_iter().enumerate() {
            let now = start() + Duration::minutes(step as i64 + 1);
            let before = subscription.clone();
            match op {
                SubscriptionOp::Snapshot { status, payments, failed, late } => {
                    let facts = SubscriptionFacts {
                        status,
                        next_billing_time: Some(now + Duration::days(30)),
                        trial_end: None,
                        failed_payments: failed,
                        payments_count: payments,
                        last_payment: None,
                    };
                    // A late snapshot was fetched before the last one applied.
                    let fetched_at = if late { start() } else { now };
                    let stale = late && subscription.synced_at().is_some_and(|applied| fetched_at < applied);
                    match subscription.apply_snapshot(&facts, fetched_at, &Cause::Reconciler, now) {
                        None => {
                            prop_assert!(stale);
                            prop_assert_eq!(&subscription, &before);
                        }
                        Some(change) => {
                            prop_assert!(!stale);
                            prop_assert!(subscription.payments_count() >= before.payments_count());
                            match change.moved {
                                Some(moved) => {
                                    prop_assert!(!before.status().is_final());
                                    prop_assert_eq!(moved.event(), subscription.status().event_type(before.status()));
                                    history.append(&moved, subscription.status().as_str())?;
                                }
                                None => prop_assert_eq!(subscription.status(), before.status()),
                            }
                        }
                    }
                }
                SubscriptionOp::Revise(quantity) => {
                    let event = subscription.revise(subscription.plan_id().clone(), quantity, None, now);
                    prop_assert_eq!(event, EventType::SubscriptionUpdated);
                    prop_assert_eq!(subscription.status(), before.status());
                }
            }
        }
    }

    /// An entitlement announces exactly the changes that matter to the customer: a grant when
    /// access comes back, an extension when it lasts longer, a revocation when it ends now.
    #[test]
    fn entitlement_events_match_what_changed(ops in prop::collection::vec((0u8..3, -5i64..40), 0..20)) {
        let granted_at = start();
        let mut entitlement = Entitlement::grant(EntitlementId::generate(&IDS, granted_at), Mode::Test, "cus_1", "premium", SubscriptionId::generate(&IDS, granted_at), granted_at + Duration::days(30), granted_at).into_resource();
        for (step, (kind, days)) in ops.into_iter().enumerate() {
            let now = granted_at + Duration::days(step as i64);
            let at = now + Duration::days(days);
            let before = entitlement.clone();
            let event = match kind {
                0 => entitlement.extend_to(at, now),
                1 => entitlement.end_at(at, "subscription canceled", now),
                _ => entitlement.lapse(now),
            };
            match event {
                Some(EventType::EntitlementGranted) => prop_assert_eq!((before.status(), entitlement.status()), (EntitlementStatus::Revoked, EntitlementStatus::Active)),
                Some(EventType::EntitlementExtended) => prop_assert!(entitlement.valid_until() > before.valid_until()),
                Some(EventType::EntitlementRevoked) => {
                    prop_assert_eq!((before.status(), entitlement.status()), (EntitlementStatus::Active, EntitlementStatus::Revoked));
                    prop_assert!(!entitlement.is_active_at(now));
                }
                Some(other) => prop_assert!(false, "unexpected {:?}", other),
                None => prop_assert_eq!(entitlement.status(), before.status()),
            }
        }
    }
}

#[test]
fn a_pending_reason_lasts_while_the_payment_waits_and_goes_when_it_moves_on() {
    let mut payment = opened_payment(1000).into_resource();
    let waiting = |reason: Option<&str>| PaymentFacts {
        status: PaymentStatus::Processing,
        capture_id: Some("SALE-1".into()),
        captured: None,
        failure: None,
        authorization: None,
        pending_reason: reason.map(str::to_owned),
    };
    assert!(matches!(payment.merge(&waiting(Some("payment_review")), &Cause::Api, start()), Merge::Advanced { .. }));
    assert_eq!(payment.pending_reason(), Some("payment_review"));
    // A later notice with another reason is learned; one that states none keeps what is known.
    assert_eq!(
        payment.merge(&waiting(Some("echeck")), &Cause::Api, start()),
        Merge::Unchanged { learned: true, anomaly: None }
    );
    assert_eq!(payment.merge(&waiting(None), &Cause::Api, start()), Merge::Unchanged { learned: false, anomaly: None });
    assert_eq!(payment.pending_reason(), Some("echeck"));
    assert!(matches!(payment.merge(&succeeded(None), &Cause::Api, start()), Merge::Advanced { .. }));
    assert_eq!(payment.pending_reason(), None);
}
