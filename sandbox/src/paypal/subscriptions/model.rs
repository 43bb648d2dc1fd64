//! The catalog and subscriptions part of the simulator's memory: products, plans, subscriptions
//! with their billing progress, and the v1 sales (and sale refunds) the billing engine makes.
//! It lives inside [`super::super::state::PaypalState`], under the same lock as everything else.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Months, NaiveDate, NaiveTime, Utc};
use serde_json::Value;

use super::super::amount::Amount;
use super::super::legacy::PendingReason;
use crate::wire::wire_enum;

wire_enum!(parsed ProductType { Physical => "PHYSICAL", Digital => "DIGITAL", Service => "SERVICE" });
wire_enum!(parsed TenureType { Trial => "TRIAL", Regular => "REGULAR" });
wire_enum!(parsed IntervalUnit { Day => "DAY", Week => "WEEK", Month => "MONTH", Year => "YEAR" });
wire_enum!(parsed PlanStatus { Created => "CREATED", Inactive => "INACTIVE", Active => "ACTIVE" });
wire_enum!(parsed SetupFeeFailureAction { Continue => "CONTINUE", Cancel => "CANCEL" });
wire_enum!(parsed UserAction { SubscribeNow => "SUBSCRIBE_NOW", Continue => "CONTINUE" });
wire_enum!(SubscriptionStatus {
    ApprovalPending => "APPROVAL_PENDING",
    Approved => "APPROVED",
    Active => "ACTIVE",
    Suspended => "SUSPENDED",
    Cancelled => "CANCELLED",
    Expired => "EXPIRED",
});
wire_enum!(
    /// v1 sale states are lower case.
    SaleState {
        Completed => "completed",
        PartiallyRefunded => "partially_refunded",
        Refunded => "refunded",
        Pending => "pending",
        Denied => "denied",
    }
);
wire_enum!(
    parsed
    /// `last_failed_payment.reason_code` values PayPal documents.
    FailureReason {
        PaymentDenied => "PAYMENT_DENIED",
        InternalServerError => "INTERNAL_SERVER_ERROR",
        PayeeAccountRestricted => "PAYEE_ACCOUNT_RESTRICTED",
        PayerAccountRestricted => "PAYER_ACCOUNT_RESTRICTED",
        PayerCannotPay => "PAYER_CANNOT_PAY",
        SendingLimitExceeded => "SENDING_LIMIT_EXCEEDED",
        TransactionReceivingLimitExceeded => "TRANSACTION_RECEIVING_LIMIT_EXCEEDED",
        CurrencyMismatch => "CURRENCY_MISMATCH",
    }
);

impl IntervalUnit {
    /// PayPal's largest `interval_count` per unit: a cycle is at most a year long.
    pub fn max_count(self) -> u32 {
        match self {
            Self::Day => 365,
            Self::Week => 52,
            Self::Month => 12,
            Self::Year => 1,
        }
    }
}

/// PayPal states billing times at 10:00 UTC of the billing day (`"2019-04-10T10:00:00Z"` in its
/// own samples, 18:00 in China in seed 002), whatever the time of day the subscription started.
pub const BILLING_HOUR: u32 = 10;

pub fn billing_instant(date: NaiveDate) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(BILLING_HOUR, 0, 0).unwrap_or(NaiveTime::MIN);
    date.and_time(time).and_utc()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frequency {
    pub unit: IntervalUnit,
    pub count: u32,
}

impl Frequency {
    /// `date` moved forward by `steps` whole intervals. Months are added from `date` in one go
    /// (never month by month), so a cycle anchored on the 31st does not creep to the 28th.
    pub fn after(self, date: NaiveDate, steps: u32) -> Option<NaiveDate> {
        let intervals = self.count.checked_mul(steps)?;
        match self.unit {
            IntervalUnit::Day => date.checked_add_signed(Duration::days(i64::from(intervals))),
            IntervalUnit::Week => date.checked_add_signed(Duration::weeks(i64::from(intervals))),
            IntervalUnit::Month => date.checked_add_months(Months::new(intervals)),
            IntervalUnit::Year => date.checked_add_months(Months::new(intervals.checked_mul(12)?)),
        }
    }
}

/// One version of a billing cycle's price (`pricing_scheme.version`).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceVersion {
    pub version: u32,
    /// `None` for a free cycle (no pricing scheme, or a fixed price of zero).
    pub price: Option<Amount>,
    pub create_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BillingCycle {
    pub tenure: TenureType,
    pub sequence: u32,
    pub frequency: Frequency,
    /// 0 means infinite (REGULAR cycles only).
    pub total_cycles: u32,
    /// Oldest first; never empty.
    pub prices: Vec<PriceVersion>,
}

impl BillingCycle {
    pub fn latest(&self) -> &PriceVersion {
        // Every constructor pushes version 1, so the list is never empty.
        &self.prices[self.prices.len() - 1]
    }

    pub fn is_infinite(&self) -> bool {
        self.total_cycles == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentPreferences {
    pub auto_bill_outstanding: bool,
    pub setup_fee: Option<Amount>,
    pub setup_fee_failure_action: SetupFeeFailureAction,
    /// 0: failures never suspend the subscription (the v1 billing agreements' "infinite").
    pub payment_failure_threshold: u32,
}

/// A tax rate as PayPal writes it ("10", "8.25"), held in thousandths of a percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Percentage {
    pub text: String,
    pub thousandths: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxes {
    pub percentage: Percentage,
    pub inclusive: bool,
}

/// What a plan (or a subscription's override of it) bills.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanTerms {
    /// Sorted by sequence: trials first, the regular cycle last.
    pub cycles: Vec<BillingCycle>,
    pub preferences: PaymentPreferences,
    pub taxes: Option<Taxes>,
}

#[derive(Clone)]
pub struct Product {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: ProductType,
    pub category: Option<String>,
    pub image_url: Option<String>,
    pub home_url: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub struct Plan {
    pub id: String,
    pub client_id: String,
    pub product_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: PlanStatus,
    pub terms: PlanTerms,
    pub quantity_supported: bool,
    /// Every amount of the plan is in this currency.
    pub currency: &'static str,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// How far a subscription got through its billing cycles.
#[derive(Debug, Clone, Default)]
pub struct BillingProgress {
    /// Cycles executed per billing cycle, parallel to the terms' `cycles`.
    pub completed: Vec<u32>,
    /// The billing cycle being executed; `completed.len()` once every cycle ran.
    pub position: usize,
    /// The day the current billing cycle's first interval began.
    pub segment_anchor: Option<NaiveDate>,
    /// Intervals elapsed in the current billing cycle, billed or skipped while suspended.
    pub steps: u32,
    /// The billing time PayPal states; the charge itself comes `drift` later.
    pub next_billing_time: Option<DateTime<Utc>>,
    pub outstanding_minor: i64,
    pub last_payment: Option<(i64, DateTime<Utc>)>,
    /// Consecutive failures; a successful payment resets it.
    pub failed_payments_count: u32,
    pub last_failed_payment: Option<FailedPayment>,
    /// Suspended because `payment_failure_threshold` was reached.
    pub suspended_for_failures: bool,
}

#[derive(Debug, Clone)]
pub struct FailedPayment {
    pub minor: i64,
    pub time: DateTime<Utc>,
    pub reason: FailureReason,
}

/// A plan or quantity change waiting for the buyer's consent (`POST …/revise`).
#[derive(Debug, Clone)]
pub struct Revision {
    pub plan_id: String,
    pub quantity: Option<u32>,
    pub shipping_amount: Option<Amount>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub ba_token: String,
    pub token: String,
}

pub struct Subscription {
    pub id: String,
    pub client_id: String,
    pub plan_id: String,
    pub status: SubscriptionStatus,
    pub status_update_time: DateTime<Utc>,
    pub status_change_note: Option<String>,
    /// As the request gave it; `None` bills one unit and shows `"1"`.
    pub quantity: Option<u32>,
    pub custom_id: Option<String>,
    /// The request's `subscriber`; the buyer's identity is merged in on approval.
    pub subscriber: Value,
    pub shipping_amount: Option<Amount>,
    pub start_time: DateTime<Utc>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub brand_name: Option<String>,
    pub user_action: UserAction,
    pub ba_token: String,
    pub token: String,
    pub approved: bool,
    /// The subscription's own copy of the plan's terms once anything was overridden.
    pub overridden_terms: Option<PlanTerms>,
    pub billing: BillingProgress,
    /// Bumped whenever queued billing actions must not run any more (suspend, cancel, revise).
    pub generation: u64,
    pub fail_next: u32,
    pub fail_reason: FailureReason,
    pub pending_revision: Option<Revision>,
    pub sale_ids: Vec<String>,
}

impl Subscription {
    pub fn billed_quantity(&self) -> i64 {
        i64::from(self.quantity.unwrap_or(1))
    }

    /// Moves to `status` at `at`. The new generation makes every billing action queued before
    /// it a no-op, whatever the move: the engine queues afresh for the new status.
    pub fn move_to(&mut self, status: SubscriptionStatus, at: DateTime<Utc>) {
        self.status = status;
        self.status_update_time = at;
        self.update_time = at;
        self.generation += 1;
    }
}

/// What a v1 sale pays for: a subscription's cycle, or a v1 payment the buyer approved.
pub enum SaleOrigin {
    Subscription(String),
    Payment { payment_id: String, invoice_number: Option<String> },
}

pub struct Sale {
    pub id: String,
    pub client_id: String,
    pub origin: SaleOrigin,
    pub custom: Option<String>,
    pub total: Amount,
    pub subtotal_minor: i64,
    pub tax_minor: i64,
    pub shipping_minor: i64,
    pub fee_minor: i64,
    pub state: SaleState,
    /// Why the sale is pending, while it is.
    pub pending_reason: Option<PendingReason>,
    pub refunded_minor: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl Sale {
    pub fn refundable_minor(&self) -> i64 {
        self.total.minor - self.refunded_minor
    }
}

pub struct SaleRefund {
    pub id: String,
    pub sale_id: String,
    pub client_id: String,
    pub amount: Amount,
    pub fee_refunded_minor: i64,
    pub total_refunded_minor: i64,
    pub invoice_number: Option<String>,
    pub description: Option<String>,
    pub reason: Option<String>,
    pub create_time: DateTime<Utc>,
}

#[derive(Default)]
pub struct SubscriptionBook {
    pub products: HashMap<String, Product>,
    pub product_order: Vec<String>,
    pub plans: HashMap<String, Plan>,
    pub plan_order: Vec<String>,
    pub subscriptions: HashMap<String, Subscription>,
    pub subscription_order: Vec<String>,
    /// Buyer tokens (`BA-…`) of initial approvals and revisions, to the subscription they approve.
    pub ba_tokens: HashMap<String, String>,
    pub sales: HashMap<String, Sale>,
    pub sale_refunds: HashMap<String, SaleRefund>,
    /// How long after the stated `next_billing_time` a renewal is really charged.
    pub drift: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn monthly_cycles_anchored_on_the_31st_keep_their_day_where_the_month_has_it() {
        let monthly = Frequency { unit: IntervalUnit::Month, count: 1 };
        let anchor = date(2030, 1, 31);
        assert_eq!(monthly.after(anchor, 1), Some(date(2030, 2, 28)));
        assert_eq!(monthly.after(anchor, 2), Some(date(2030, 3, 31)));
        let quarterly = Frequency { unit: IntervalUnit::Month, count: 3 };
        assert_eq!(quarterly.after(anchor, 4), Some(date(2031, 1, 31)));
    }

    #[test]
    fn billing_instants_are_at_ten_utc() {
        assert_eq!(billing_instant(date(2019, 4, 10)).to_rfc3339(), "2019-04-10T10:00:00+00:00");
    }
}
