//! Decoding subscriptions objects in the shapes PayPal sends, taken from a field report of a live
//! integration: a plan with two trials, a subscription with its billing info, the webhooks of a
//! first payment (`BILLING.SUBSCRIPTION.ACTIVATED` and `PAYMENT.SALE.COMPLETED`), a transaction
//! list and a sale refund. PayPal writes some amounts without trailing zeros ("10.0", "1.15").

use payhub_paypal::{
    Amount, CaptureStatus, IntervalUnit, Plan, PlanStatus, Sale, SaleRefund, SaleState, Subscription,
    SubscriptionStatus, TenureType, TransactionList, parse_webhook_event,
};

const PLAN_WITH_TWO_TRIALS: &str = r#"{
  "id": "P-5ML4271244454362WXNWU5NQ",
  "product_id": "PROD-XXCD1234QWER65782",
  "name": "Basic Plan",
  "description": "Basic Plan",
  "status": "ACTIVE",
  "billing_cycles": [
    {"frequency": {"interval_unit": "MONTH", "interval_count": 1}, "tenure_type": "TRIAL", "sequence": 1, "total_cycles": 2,
     "pricing_scheme": {"fixed_price": {"currency_code": "USD", "value": "3"}, "version": 1,
                        "create_time": "2020-05-27T12:13:51Z", "update_time": "2020-05-27T12:13:51Z"}},
    {"frequency": {"interval_unit": "MONTH", "interval_count": 1}, "tenure_type": "TRIAL", "sequence": 2, "total_cycles": 3,
     "pricing_scheme": {"fixed_price": {"currency_code": "USD", "value": "6"}, "version": 1,
                        "create_time": "2020-05-27T12:13:51Z", "update_time": "2020-05-27T12:13:51Z"}},
    {"frequency": {"interval_unit": "MONTH", "interval_count": 1}, "tenure_type": "REGULAR", "sequence": 3, "total_cycles": 12,
     "pricing_scheme": {"fixed_price": {"value": "10", "currency_code": "USD"}, "status": "ACTIVE", "version": 1,
                        "create_time": "2020-05-27T12:13:51Z", "update_time": "2020-05-27T12:13:51Z"}}
  ],
  "taxes": {"percentage": "10", "inclusive": false},
  "create_time": "2020-05-27T12:13:51Z",
  "update_time": "2020-05-27T12:13:51Z",
  "links": [
    {"href": "https://api-m.paypal.com/v1/billing/plans/P-5ML4271244454362WXNWU5NQ", "rel": "self", "method": "GET"},
    {"href": "https://api-m.paypal.com/v1/billing/plans/P-5ML4271244454362WXNWU5NQ", "rel": "edit", "method": "PATCH"},
    {"href": "https://api-m.paypal.com/v1/billing/plans/P-5ML4271244454362WXNWU5NQ/deactivate", "rel": "deactivate", "method": "POST"},
    {"href": "https://api-m.paypal.com/v1/billing/plans/P-5ML4271244454362WXNWU5NQ/update-pricing-schemes", "rel": "edit", "method": "POST"}
  ]
}"#;

const SUBSCRIPTION: &str = r#"{
  "id": "I-BW452GLLEP1G",
  "plan_id": "P-5ML4271244454362WXNWU5NQ",
  "start_time": "2019-04-10T07:00:00Z",
  "quantity": "20",
  "shipping_amount": {"currency_code": "USD", "value": "10.0"},
  "subscriber": {
    "shipping_address": {"name": {"full_name": "John Doe"},
      "address": {"address_line_1": "2211 N First Street", "address_line_2": "Building 17", "admin_area_2": "San Jose",
                  "admin_area_1": "CA", "postal_code": "95131", "country_code": "US"}},
    "name": {"given_name": "John", "surname": "Doe"},
    "email_address": "customer@example.com",
    "payer_id": "2J6QB8YJQSJRJ"
  },
  "billing_info": {
    "outstanding_balance": {"currency_code": "USD", "value": "1.0"},
    "cycle_executions": [
      {"tenure_type": "TRIAL", "sequence": 1, "cycles_completed": 0, "cycles_remaining": 2, "total_cycles": 2},
      {"tenure_type": "TRIAL", "sequence": 2, "cycles_completed": 0, "cycles_remaining": 3, "total_cycles": 3},
      {"tenure_type": "REGULAR", "sequence": 3, "cycles_completed": 0, "cycles_remaining": 12, "total_cycles": 12}
    ],
    "last_payment": {"amount": {"currency_code": "USD", "value": "1.15"}, "time": "2019-04-09T10:27:20Z"},
    "next_billing_time": "2019-04-10T10:00:00Z",
    "failed_payments_count": 0
  },
  "create_time": "2019-04-09T10:26:04Z",
  "update_time": "2019-04-09T10:27:27Z",
  "links": [
    {"href": "https://api-m.paypal.com/v1/billing/subscriptions/I-BW452GLLEP1G/cancel", "rel": "cancel", "method": "POST"},
    {"href": "https://api-m.paypal.com/v1/billing/subscriptions/I-BW452GLLEP1G", "rel": "edit", "method": "PATCH"},
    {"href": "https://api-m.paypal.com/v1/billing/subscriptions/I-BW452GLLEP1G", "rel": "self", "method": "GET"},
    {"href": "https://api-m.paypal.com/v1/billing/subscriptions/I-BW452GLLEP1G/suspend", "rel": "suspend", "method": "POST"},
    {"href": "https://api-m.paypal.com/v1/billing/subscriptions/I-BW452GLLEP1G/capture", "rel": "capture", "method": "POST"}
  ],
  "status": "ACTIVE",
  "status_update_time": "2019-04-09T10:27:27Z"
}"#;

const ACTIVATED: &str = r#"{
  "id": "WH-2JK13221SH228131A-85M888883CF992091V",
  "event_version": "1.0",
  "create_time": "2022-08-02T09:58:37.896Z",
  "resource_type": "subscription",
  "resource_version": "2.0",
  "event_type": "BILLING.SUBSCRIPTION.ACTIVATED",
  "summary": "Subscription activated",
  "resource": {
    "quantity": "1",
    "subscriber": {"email_address": "buyer@personal.example.com", "payer_id": "BNMR2YZQJ9Q2L",
                   "name": {"given_name": "John", "surname": "Doe"}},
    "create_time": "2022-08-02T09:58:05Z",
    "plan_overridden": false,
    "shipping_amount": {"currency_code": "USD", "value": "0.0"},
    "start_time": "2022-08-02T09:57:17Z",
    "update_time": "2022-08-02T09:58:06Z",
    "billing_info": {
      "outstanding_balance": {"currency_code": "USD", "value": "0.0"},
      "cycle_executions": [
        {"tenure_type": "TRIAL", "sequence": 1, "cycles_completed": 1, "cycles_remaining": 0, "current_pricing_scheme_version": 1, "total_cycles": 1},
        {"tenure_type": "REGULAR", "sequence": 2, "cycles_completed": 0, "cycles_remaining": 0, "current_pricing_scheme_version": 1, "total_cycles": 0}
      ],
      "last_payment": {"amount": {"currency_code": "USD", "value": "0.99"}, "time": "2022-08-02T09:58:05Z"},
      "next_billing_time": "2022-08-03T10:00:00Z",
      "failed_payments_count": 0
    },
    "links": [
      {"href": "https://api.sandbox.paypal.com/v1/billing/subscriptions/I-DL5L53KM3N/cancel", "rel": "cancel", "method": "POST", "encType": "application/json"},
      {"href": "https://api.sandbox.paypal.com/v1/billing/subscriptions/I-DL5L53KM3N", "rel": "self", "method": "GET", "encType": "application/json"}
    ],
    "id": "I-DL5L53KM3N",
    "plan_id": "P-4G238388SD824MLUPJNY",
    "status": "ACTIVE",
    "status_update_time": "2022-08-02T09:58:06Z"
  },
  "links": [
    {"href": "https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-2JK13221SH228131A-85M80963CF992091V", "rel": "self", "method": "GET"}
  ]
}"#;

const SALE_COMPLETED: &str = r#"{
  "id": "WH-4AU27166UL181633V-3BU78225VU943751T",
  "event_version": "1.0",
  "create_time": "2022-08-02T09:58:43.670Z",
  "resource_type": "sale",
  "event_type": "PAYMENT.SALE.COMPLETED",
  "summary": "Payment completed for $ 0.99 USD",
  "resource": {
    "billing_agreement_id": "I-DL5L53KM3N",
    "amount": {"total": "0.99", "currency": "USD", "details": {"subtotal": "0.99"}},
    "payment_mode": "INSTANT_TRANSFER",
    "update_time": "2022-08-02T09:58:05Z",
    "create_time": "2022-08-02T09:58:05Z",
    "protection_eligibility_type": "ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE",
    "transaction_fee": {"currency": "USD", "value": "0.33"},
    "protection_eligibility": "ELIGIBLE",
    "links": [
      {"method": "GET", "rel": "self", "href": "https://api.sandbox.paypal.com/v1/payments/sale/4DN94604KL161205Y"},
      {"method": "POST", "rel": "refund", "href": "https://api.sandbox.paypal.com/v1/payments/sale/4DN94604KL161205Y/refund"}
    ],
    "id": "4DN94604KL161205Y",
    "state": "completed",
    "invoice_number": ""
  },
  "links": [
    {"href": "https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-4AU27166UL181633V-3BU78225VU943751T", "rel": "self", "method": "GET"}
  ]
}"#;

const TRANSACTIONS: &str = r#"{
  "transactions": [
    {"id": "TRFGHNJKOIIOJKL", "status": "COMPLETED", "payer_email": "customer@example.com",
     "payer_name": {"given_name": "John", "surname": "Doe"},
     "amount_with_breakdown": {"gross_amount": {"currency_code": "USD", "value": "10.00"},
                               "fee_amount": {"currency_code": "USD", "value": "1.00"},
                               "net_amount": {"currency_code": "USD", "value": "9.00"}},
     "time": "2018-03-16T07:40:20.940Z"},
    {"id": "VDFG45345FFGS", "status": "COMPLETED", "payer_email": "customer2@example.com",
     "payer_name": {"given_name": "Jhonny", "surname": "Cat"},
     "amount_with_breakdown": {"gross_amount": {"currency_code": "USD", "value": "15.00"},
                               "fee_amount": {"currency_code": "USD", "value": "1.00"},
                               "net_amount": {"currency_code": "USD", "value": "14.00"}},
     "time": "2018-08-21T07:50:20.940Z"}
  ],
  "links": [{"href": "https://api-m.paypal.com/v1/billing/subscriptions/I-BW452GLLEP1G/transactions?start_time=2018-01-21T07:50:20.940Z&end_time=2018-08-21T07:50:20.940Z", "rel": "self", "method": "GET"}]
}"#;

const SALE_REFUNDED: &str = r#"{
  "id": "WH-7YX49823S2290830K-0JE13296W68552352",
  "event_version": "1.0",
  "create_time": "2016-05-31T17:53:29Z",
  "resource_type": "refund",
  "event_type": "PAYMENT.SALE.REFUNDED",
  "summary": "A $ 14.99 USD sale payment was refunded",
  "resource": {
    "id": "29B43325P49508437",
    "state": "completed",
    "amount": {"total": "14.99", "currency": "USD"},
    "refund_to_payer": {"value": "14.99", "currency": "USD"},
    "sale_id": "02399573KS095945W",
    "create_time": "2016-05-31T17:52:18Z",
    "update_time": "2016-05-31T17:52:18Z",
    "links": [{"href": "https://api.paypal.com/v1/payments/sale/02399573KS095945W", "rel": "sale", "method": "GET"}]
  }
}"#;

#[test]
fn a_plan_with_two_trials_decodes_cycle_by_cycle() {
    let plan: Plan = serde_json::from_str(PLAN_WITH_TWO_TRIALS).expect("plan decodes");
    assert_eq!(plan.status, PlanStatus::Active);
    let tenures: Vec<&TenureType> = plan.billing_cycles.iter().map(|cycle| &cycle.tenure_type).collect();
    assert_eq!(tenures, [&TenureType::Trial, &TenureType::Trial, &TenureType::Regular]);
    let regular = &plan.billing_cycles[2];
    assert_eq!(regular.frequency.interval_unit, IntervalUnit::Month);
    assert_eq!(regular.total_cycles, Some(12));
    let price = regular.pricing_scheme.as_ref().and_then(|scheme| scheme.fixed_price.clone());
    assert_eq!(price, Some(Amount::new("USD", "10")), "the value is kept as PayPal wrote it");
    assert_eq!(plan.taxes.map(|taxes| (taxes.percentage, taxes.inclusive)), Some(("10".into(), Some(false))));
}

#[test]
fn a_subscription_decodes_with_its_billing_info_and_short_amounts() {
    let subscription: Subscription = serde_json::from_str(SUBSCRIPTION).expect("subscription decodes");
    assert_eq!(subscription.status, SubscriptionStatus::Active);
    assert_eq!(subscription.quantity.as_deref(), Some("20"));
    assert_eq!(subscription.approval_url(), None, "an active subscription has nothing to approve");
    let billing = subscription.billing_info.expect("billing info");
    assert_eq!(billing.outstanding_balance, Some(Amount::new("USD", "1.0")));
    assert_eq!(billing.cycle_executions.len(), 3);
    assert_eq!(billing.cycle_executions[2].cycles_remaining, Some(12));
    assert_eq!(billing.last_payment.and_then(|payment| payment.amount), Some(Amount::new("USD", "1.15")));
    assert_eq!(billing.next_billing_time.as_deref(), Some("2019-04-10T10:00:00Z"));
    assert_eq!(billing.failed_payments_count, 0);
}

#[test]
fn the_activated_webhook_carries_the_subscription_after_its_first_payment() {
    let event = parse_webhook_event(ACTIVATED.as_bytes()).expect("event decodes");
    assert_eq!(event.event_type, "BILLING.SUBSCRIPTION.ACTIVATED");
    let subscription: Subscription = event.resource_as().expect("resource decodes");
    assert_eq!(subscription.id, "I-DL5L53KM3N");
    let billing = subscription.billing_info.expect("billing info");
    assert_eq!(billing.cycle_executions[0].cycles_completed, 1);
    assert_eq!(billing.cycle_executions[1].total_cycles, Some(0), "the regular cycle runs until cancelled");
    assert_eq!(billing.cycle_executions[1].current_pricing_scheme_version, Some(1));
}

#[test]
fn a_renewal_arrives_as_a_v1_sale_naming_the_subscription() {
    let event = parse_webhook_event(SALE_COMPLETED.as_bytes()).expect("event decodes");
    assert_eq!(event.event_type, "PAYMENT.SALE.COMPLETED");
    assert_eq!(event.resource_version, None, "v1 sale events may carry no resource_version");
    let sale: Sale = event.resource_as().expect("sale decodes");
    assert_eq!(sale.state, SaleState::Completed);
    assert_eq!(sale.billing_agreement_id.as_deref(), Some("I-DL5L53KM3N"));
    assert_eq!((sale.amount.total.as_str(), sale.amount.currency.as_str()), ("0.99", "USD"));
    assert_eq!(sale.amount.details.and_then(|details| details.subtotal).as_deref(), Some("0.99"));
    assert_eq!(sale.transaction_fee.map(|fee| fee.value).as_deref(), Some("0.33"));
    assert_eq!(sale.invoice_number.as_deref(), Some(""));
}

#[test]
fn a_transaction_list_decodes_with_its_breakdowns() {
    let listed: TransactionList = serde_json::from_str(TRANSACTIONS).expect("list decodes");
    assert_eq!(listed.transactions.len(), 2);
    let first = &listed.transactions[0];
    assert_eq!(first.status, Some(CaptureStatus::Completed));
    let breakdown = first.amount_with_breakdown.clone().expect("breakdown");
    assert_eq!(breakdown.net_amount, Some(Amount::new("USD", "9.00")));
    assert_eq!(first.time.as_deref(), Some("2018-03-16T07:40:20.940Z"));
}

#[test]
fn a_sale_refund_webhook_names_the_refunded_sale() {
    let event = parse_webhook_event(SALE_REFUNDED.as_bytes()).expect("event decodes");
    let refund: SaleRefund = event.resource_as().expect("refund decodes");
    assert_eq!(refund.sale_id.as_deref(), Some("02399573KS095945W"));
    assert_eq!(refund.amount.total, "14.99");
}
