//! Orders, captures and refunds as PayPal writes them: field names, `links` with their `rel`s, and
//! the minimal or full representation the `Prefer` header asks for.

use serde_json::{Map, Value, json};

use super::state::{
    Capture, CaptureStatus, Intent, Order, OrderStatus, PaypalState, PurchaseUnit, Refund, RefundStatus,
};
use super::{PaypalSimulator, paypal_time};

pub fn link(href: String, rel: &str, method: &str) -> Value {
    json!({ "href": href, "rel": rel, "method": method })
}

/// Inserts `value` under `key` when there is one, as PayPal omits absent fields.
pub(crate) fn put(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value);
    }
}

pub(crate) fn text(value: &Option<String>) -> Option<Value> {
    value.clone().map(Value::String)
}

impl PaypalSimulator {
    pub(crate) fn order_url(&self, order_id: &str) -> String {
        format!("{}/v2/checkout/orders/{order_id}", self.base_url())
    }

    pub(crate) fn approval_url(&self, order_id: &str) -> String {
        format!("{}/checkoutnow?token={order_id}", self.base_url())
    }

    fn order_links(&self, order: &Order) -> Vec<Value> {
        let url = self.order_url(&order.id);
        let mut links = vec![link(url.clone(), "self", "GET")];
        let (finish, finish_rel) = match order.intent {
            Intent::Capture => (format!("{url}/capture"), "capture"),
            Intent::Authorize => (format!("{url}/authorize"), "authorize"),
        };
        match order.status {
            OrderStatus::Created => {
                links.push(link(self.approval_url(&order.id), "approve", "GET"));
                links.push(link(url, "update", "PATCH"));
                links.push(link(finish, finish_rel, "POST"));
            }
            OrderStatus::PayerActionRequired => links.push(link(self.approval_url(&order.id), "payer-action", "GET")),
            OrderStatus::Approved => {
                links.push(link(url, "update", "PATCH"));
                links.push(link(finish, finish_rel, "POST"));
            }
            OrderStatus::Completed | OrderStatus::Voided => {}
        }
        links
    }

    fn payer_json(&self) -> Value {
        let parties = self.parties();
        json!({
            "name": { "given_name": parties.payer_given_name, "surname": parties.payer_surname },
            "email_address": parties.payer_email,
            "payer_id": parties.payer_id,
            "address": { "country_code": "US" },
        })
    }

    fn payee_json(&self) -> Value {
        json!({ "email_address": self.parties().merchant_email, "merchant_id": self.parties().merchant_id })
    }

    fn payment_source_json(&self, order: &Order) -> Option<Value> {
        let parties = self.parties();
        if order.approved {
            Some(json!({ "paypal": {
                "email_address": parties.payer_email,
                "account_id": parties.payer_id,
                "account_status": "VERIFIED",
                "name": { "given_name": parties.payer_given_name, "surname": parties.payer_surname },
                "address": { "country_code": "US" },
            }}))
        } else if order.paypal_source_requested {
            Some(json!({ "paypal": {} }))
        } else {
            None
        }
    }

    /// `POST /v2/checkout/orders` answers with this unless `Prefer: return=representation`.
    pub(crate) fn order_created_minimal(&self, order: &Order) -> Value {
        let mut body = Map::new();
        body.insert("id".into(), json!(order.id));
        body.insert("status".into(), json!(order.status.as_str()));
        put(&mut body, "payment_source", self.payment_source_json(order));
        body.insert("links".into(), json!(self.order_links(order)));
        Value::Object(body)
    }

    /// The capture call's default answer: the captures, payer and payment source, little else.
    pub(crate) fn order_captured_minimal(&self, state: &PaypalState, order: &Order) -> Value {
        self.order_body(state, order, false)
    }

    /// The whole order, as `GET /v2/checkout/orders/{id}` and webhooks show it.
    pub(crate) fn order_json(&self, state: &PaypalState, order: &Order) -> Value {
        self.order_body(state, order, true)
    }

    /// The minimal order is the whole one less the fields PayPal leaves out of it; both keep the
    /// same field order.
    fn order_body(&self, state: &PaypalState, order: &Order, whole: bool) -> Value {
        let units: Vec<Value> =
            order.purchase_units.iter().map(|unit| self.purchase_unit_json(state, unit, whole)).collect();
        let mut body = Map::new();
        body.insert("id".into(), json!(order.id));
        if whole {
            body.insert("intent".into(), json!(order.intent.as_str()));
        }
        body.insert("status".into(), json!(order.status.as_str()));
        put(&mut body, "payment_source", self.payment_source_json(order));
        body.insert("purchase_units".into(), json!(units));
        put(&mut body, "payer", order.approved.then(|| self.payer_json()));
        if whole {
            body.insert("create_time".into(), json!(paypal_time(order.create_time)));
            put(&mut body, "update_time", order.update_time.map(|at| json!(paypal_time(at))));
        }
        body.insert("links".into(), json!(self.order_links(order)));
        Value::Object(body)
    }

    fn purchase_unit_json(&self, state: &PaypalState, unit: &PurchaseUnit, whole: bool) -> Value {
        let mut body = Map::new();
        body.insert("reference_id".into(), json!(unit.reference_id));
        if whole {
            body.insert("amount".into(), unit.amount_json.clone());
            body.insert("payee".into(), self.payee_json());
            put(&mut body, "description", text(&unit.description));
            put(&mut body, "custom_id", text(&unit.custom_id));
            put(&mut body, "invoice_id", text(&unit.invoice_id));
            put(&mut body, "soft_descriptor", text(&unit.soft_descriptor));
            put(&mut body, "items", unit.items.clone());
        }
        put(&mut body, "shipping", unit.shipping.clone());
        put(&mut body, "payments", self.payments_json(state, unit));
        Value::Object(body)
    }

    fn payments_json(&self, state: &PaypalState, unit: &PurchaseUnit) -> Option<Value> {
        let authorizations: Vec<Value> = unit
            .authorization_ids
            .iter()
            .filter_map(|id| state.authorizations.get(id))
            .map(|authorization| self.authorization_json(authorization))
            .collect();
        let captures: Vec<Value> = unit
            .capture_ids
            .iter()
            .filter_map(|id| state.captures.get(id))
            .map(|capture| self.capture_json(capture))
            .collect();
        let mut payments = Map::new();
        if !authorizations.is_empty() {
            payments.insert("authorizations".into(), json!(authorizations));
        }
        if !captures.is_empty() {
            payments.insert("captures".into(), json!(captures));
        }
        (!payments.is_empty()).then_some(Value::Object(payments))
    }

    pub(crate) fn capture_url(&self, capture_id: &str) -> String {
        format!("{}/v2/payments/captures/{capture_id}", self.base_url())
    }

    /// A capture as `GET /v2/payments/captures/{id}` and `PAYMENT.CAPTURE.*` events show it.
    pub(crate) fn capture_json(&self, capture: &Capture) -> Value {
        let url = self.capture_url(&capture.id);
        let mut body = Map::new();
        body.insert("id".into(), json!(capture.id));
        body.insert("amount".into(), capture.amount.to_json());
        body.insert("final_capture".into(), json!(capture.final_capture));
        body.insert(
            "seller_protection".into(),
            json!({ "status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"] }),
        );
        if !matches!(capture.status, CaptureStatus::Pending | CaptureStatus::Declined) {
            let fee = capture.amount.with_minor(capture.fee_minor);
            let net = capture.amount.with_minor(capture.amount.minor - capture.fee_minor);
            body.insert(
                "seller_receivable_breakdown".into(),
                json!({ "gross_amount": capture.amount.to_json(), "paypal_fee": fee.to_json(), "net_amount": net.to_json() }),
            );
        }
        put(&mut body, "invoice_id", text(&capture.invoice_id));
        put(&mut body, "custom_id", text(&capture.custom_id));
        body.insert("status".into(), json!(capture.status.as_str()));
        put(&mut body, "status_details", capture.status_reason.map(|reason| json!({ "reason": reason })));
        let mut related = json!({ "order_id": capture.order_id });
        if let Some(authorization_id) = &capture.authorization_id {
            related["authorization_id"] = json!(authorization_id);
        }
        body.insert("supplementary_data".into(), json!({ "related_ids": related }));
        body.insert("payee".into(), self.payee_json());
        body.insert("create_time".into(), json!(paypal_time(capture.create_time)));
        body.insert("update_time".into(), json!(paypal_time(capture.update_time)));
        body.insert(
            "links".into(),
            json!([
                link(url.clone(), "self", "GET"),
                link(format!("{url}/refund"), "refund", "POST"),
                // A capture of an authorization points up to it, as PayPal's do.
                match &capture.authorization_id {
                    Some(id) => link(self.authorization_url(id), "up", "GET"),
                    None => link(self.order_url(&capture.order_id), "up", "GET"),
                },
            ]),
        );
        Value::Object(body)
    }

    fn refund_links(&self, refund: &Refund) -> Value {
        json!([
            link(format!("{}/v2/payments/refunds/{}", self.base_url(), refund.id), "self", "GET"),
            link(self.capture_url(&refund.capture_id), "up", "GET"),
        ])
    }

    /// The refund call's default answer.
    pub(crate) fn refund_minimal(&self, refund: &Refund) -> Value {
        json!({ "id": refund.id, "status": refund.status.as_str(), "links": self.refund_links(refund) })
    }

    /// A refund as `GET /v2/payments/refunds/{id}` and `PAYMENT.CAPTURE.REFUNDED` show it.
    pub(crate) fn refund_json(&self, refund: &Refund) -> Value {
        let fee = refund.amount.with_minor(refund.fee_refunded_minor);
        let net = refund.amount.with_minor(refund.amount.minor - refund.fee_refunded_minor);
        let total = refund.amount.with_minor(refund.total_refunded_minor);
        let mut body = Map::new();
        body.insert("id".into(), json!(refund.id));
        body.insert("amount".into(), refund.amount.to_json());
        body.insert(
            "seller_payable_breakdown".into(),
            json!({
                "gross_amount": refund.amount.to_json(),
                "paypal_fee": fee.to_json(),
                "net_amount": net.to_json(),
                "total_refunded_amount": total.to_json(),
            }),
        );
        put(&mut body, "invoice_id", text(&refund.invoice_id));
        put(&mut body, "custom_id", text(&refund.custom_id));
        put(&mut body, "note_to_payer", text(&refund.note_to_payer));
        body.insert("status".into(), json!(refund.status.as_str()));
        if refund.status == RefundStatus::Pending {
            body.insert("status_details".into(), json!({ "reason": "ECHECK" }));
        }
        body.insert("payer".into(), self.payee_json());
        body.insert("create_time".into(), json!(paypal_time(refund.create_time)));
        body.insert("update_time".into(), json!(paypal_time(refund.update_time)));
        body.insert("links".into(), self.refund_links(refund));
        Value::Object(body)
    }
}
