//! v1 payments as PayPal's v1 API writes them: `transactions`, `related_resources`, money as
//! `{total, currency, details}` and HATEOAS links.

use serde_json::{Map, Value, json};

use super::super::render::{link, put, text};
use super::super::state::PaypalState;
use super::super::{PaypalSimulator, paypal_time};
use super::{V1Payment, V1PaymentState};

impl PaypalSimulator {
    pub(crate) fn v1_payment_url(&self, payment_id: &str) -> String {
        format!("{}/v1/payments/payment/{payment_id}", self.base_url())
    }

    /// Where the buyer approves: PayPal's classic checkout path with the payment's `EC-` token.
    pub(crate) fn v1_approval_url(&self, token: &str) -> String {
        format!("{}/cgi-bin/webscr?cmd=_express-checkout&token={token}", self.base_url())
    }

    pub(crate) fn v1_payment_json(&self, state: &PaypalState, payment: &V1Payment) -> Value {
        let mut transaction = Map::new();
        transaction.insert("amount".into(), payment.details.amount_json.clone());
        transaction.insert(
            "payee".into(),
            json!({ "merchant_id": self.parties().merchant_id, "email": self.parties().merchant_email }),
        );
        put(&mut transaction, "description", text(&payment.details.description));
        put(&mut transaction, "custom", text(&payment.details.custom));
        put(&mut transaction, "invoice_number", text(&payment.details.invoice_number));
        put(&mut transaction, "notify_url", text(&payment.details.notify_url));
        if !payment.details.items.is_empty() {
            let items: Vec<Value> = payment
                .details
                .items
                .iter()
                .map(|item| {
                    let mut line = Map::new();
                    line.insert("name".into(), json!(item.name));
                    put(&mut line, "sku", text(&item.sku));
                    line.insert("price".into(), json!(item.price.value()));
                    line.insert("currency".into(), json!(item.price.currency));
                    line.insert("quantity".into(), json!(item.quantity.to_string()));
                    Value::Object(line)
                })
                .collect();
            transaction.insert("item_list".into(), json!({ "items": items }));
        }
        let sale = payment.sale_id.as_ref().and_then(|id| state.subscriptions.sales.get(id));
        let authorization = payment.authorization_id.as_ref().and_then(|id| state.legacy.authorizations.get(id));
        let related: Vec<Value> = sale
            .map(|sale| json!({ "sale": self.sale_json(sale) }))
            .into_iter()
            .chain(
                authorization
                    .map(|authorization| json!({ "authorization": self.v1_authorization_json(authorization) })),
            )
            .collect();
        transaction.insert("related_resources".into(), Value::Array(related));

        let mut payer = Map::new();
        payer.insert("payment_method".into(), json!("paypal"));
        if let Some(payer_id) = &payment.payer_id {
            let parties = self.parties();
            payer.insert("status".into(), json!("VERIFIED"));
            payer.insert(
                "payer_info".into(),
                json!({
                    "email": parties.payer_email,
                    "first_name": parties.payer_given_name,
                    "last_name": parties.payer_surname,
                    "payer_id": payer_id,
                    "country_code": "US",
                }),
            );
        }
        let url = self.v1_payment_url(&payment.id);
        let mut links = vec![link(url.clone(), "self", "GET")];
        if payment.state == V1PaymentState::Created {
            links.push(link(self.v1_approval_url(&payment.token), "approval_url", "REDIRECT"));
            links.push(link(format!("{url}/execute"), "execute", "POST"));
        }
        let mut body = Map::new();
        body.insert("id".into(), json!(payment.id));
        body.insert("intent".into(), json!(payment.details.intent.as_str()));
        body.insert("state".into(), json!(payment.state.as_str()));
        body.insert("cart".into(), json!(payment.token.trim_start_matches("EC-")));
        body.insert("payer".into(), Value::Object(payer));
        body.insert("transactions".into(), json!([transaction]));
        put(&mut body, "note_to_payer", text(&payment.details.note_to_payer));
        body.insert(
            "redirect_urls".into(),
            json!({ "return_url": payment.details.return_url, "cancel_url": payment.details.cancel_url }),
        );
        if payment.state == V1PaymentState::Failed {
            body.insert("failure_reason".into(), json!("PAYER_CANNOT_PAY"));
        }
        body.insert("create_time".into(), json!(paypal_time(payment.create_time)));
        body.insert("update_time".into(), json!(paypal_time(payment.update_time)));
        body.insert("links".into(), Value::Array(links));
        Value::Object(body)
    }
}
