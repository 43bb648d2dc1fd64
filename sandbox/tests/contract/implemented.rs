//! The operations of PayPal's documents the simulator implements, by document and operationId.
//! Everything else in the documents must answer PayPal's 404; the contract test checks both
//! directions, so this table cannot claim more or less than the simulator serves.

use std::collections::BTreeSet;

use crate::openapi::{Operation, Specs};

const IMPLEMENTED: &[(&str, &[&str])] = &[
    ("checkout_orders_v2", &["orders.create", "orders.get", "orders.patch", "orders.authorize", "orders.capture"]),
    (
        "payments_payment_v2",
        &[
            "authorizations.get",
            "authorizations.capture",
            "authorizations.reauthorize",
            "authorizations.void",
            "captures.get",
            "captures.refund",
            "refunds.get",
        ],
    ),
    (
        "payments_payment_v1",
        &[
            "payment.create",
            "payment.list",
            "payment.get",
            "payment.execute",
            "sale.get",
            "sale.refund",
            "authorization.get",
            "refund.get",
        ],
    ),
    (
        "billing_subscriptions_v1",
        &[
            "plans.create",
            "plans.list",
            "plans.get",
            "plans.patch",
            "plans.activate",
            "plans.deactivate",
            "plans.update-pricing-schemes",
            "subscriptions.create",
            "subscriptions.get",
            "subscriptions.patch",
            "subscriptions.revise",
            "subscriptions.suspend",
            "subscriptions.cancel",
            "subscriptions.activate",
            "subscriptions.capture",
            "subscriptions.transactions",
        ],
    ),
    ("catalogs_products_v1", &["products.create", "products.list", "products.get", "products.patch"]),
    (
        "customer_disputes_v1",
        &[
            "disputes.list",
            "disputes.get",
            "disputes.patch",
            "disputes.provide-evidence",
            "disputes.appeal",
            "disputes.accept-claim",
            "disputes.adjudicate",
            "disputes.require-evidence",
            "disputes.escalate",
            "disputes.send-message",
            "disputes.make-offer",
            "disputes.accept-offer",
            "disputes.deny-offer",
            "disputes.acknowledge-return-item",
            "disputes.provide-supporting-info",
        ],
    ),
    (
        "notifications_webhooks_v1",
        &[
            "webhooks.post",
            "webhooks.list",
            "webhooks.get",
            "webhooks.update",
            "webhooks.delete",
            "webhooks-events.list",
            "webhooks-events.get",
            "webhooks-events.resend",
            "verify-webhook-signature.post",
        ],
    ),
];

/// The implemented operations' keys (`spec operationId`); panics on a name the documents lack.
pub fn operations(specs: &Specs) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (spec, ids) in IMPLEMENTED {
        for id in *ids {
            let operation =
                specs.operations.iter().find(|operation| operation.spec == *spec && operation.operation_id == *id);
            keys.insert(operation.unwrap_or_else(|| panic!("{spec} has no operation {id}")).key());
        }
    }
    keys
}

/// Offers are answered by the buyer: with a merchant's token PayPal refuses `accept-offer` and
/// `deny-offer` with 403, which is the answer these operations have for the merchant's API.
pub fn refused_to_merchants(operation: &Operation, status: u16) -> bool {
    operation.spec == "customer_disputes_v1"
        && matches!(operation.operation_id.as_str(), "disputes.accept-offer" | "disputes.deny-offer")
        && status == 403
}
