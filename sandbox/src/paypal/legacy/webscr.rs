//! `/cgi-bin/webscr`, PayPal's website endpoint: the buyer's approval page for v1 payments
//! (`GET ?cmd=_express-checkout&token=EC-…`), the IPN postback (`cmd=_notify-validate`) and
//! Payment Data Transfer (`cmd=_notify-synch`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::super::PaypalSimulator;
use super::super::buyer_page::{escape, finish, page};
use super::V1PaymentState;
use super::ipn::{SaleFact, encode};

const VALIDATE_PREFIX: &[u8] = b"cmd=_notify-validate&";

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new().route("/cgi-bin/webscr", get(checkout_page).post(website_post))
}

#[derive(Deserialize)]
struct CheckoutQuery {
    cmd: Option<String>,
    token: Option<String>,
}

async fn checkout_page(State(simulator): State<Arc<PaypalSimulator>>, Query(query): Query<CheckoutQuery>) -> Response {
    let token = query.token.unwrap_or_default();
    if query.cmd.as_deref() != Some("_express-checkout") || token.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing token",
            "<p>This page needs <code>?cmd=_express-checkout&amp;token=EC-…</code>.</p>",
        );
    }
    let state = simulator.state();
    let Some(payment) = state.legacy.tokens.get(&token).and_then(|id| state.legacy.payments.get(id)) else {
        return page(
            StatusCode::NOT_FOUND,
            "Payment not found",
            &format!("<p>No payment for <code>{}</code>.</p>", escape(&token)),
        );
    };
    let mut lines = String::new();
    for item in &payment.details.items {
        lines.push_str(&format!(
            "<tr><td>{} × {}</td><td class=\"amount\">{} {}</td></tr>",
            escape(&item.name),
            item.quantity,
            escape(&item.price.value()),
            escape(item.price.currency)
        ));
    }
    lines.push_str(&format!(
        "<tr><td><strong>Total</strong></td><td class=\"amount\"><strong>{} {}</strong></td></tr>",
        escape(&payment.details.amount.value()),
        escape(payment.details.amount.currency)
    ));
    let actions = if payment.state == V1PaymentState::Created {
        let form = |cmd: &str, label: &str, class: &str| {
            format!(
                "<form method=\"post\" action=\"/cgi-bin/webscr\"><input type=\"hidden\" name=\"cmd\" value=\"{cmd}\">\
                 <input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\"{class}>{label}</button></form>",
                escape(&payment.token)
            )
        };
        format!(
            "{}{}",
            form("_express-checkout-approve", "Continue", ""),
            form("_express-checkout-cancel", "Cancel and return to merchant", " class=\"secondary\"")
        )
    } else {
        format!("<p>This payment is {} and can no longer be approved.</p>", payment.state.as_str())
    };
    let body = format!(
        "<p>Pay <strong>{}</strong> as {}</p><table>{lines}</table>{actions}",
        escape(&simulator.parties().merchant_email),
        escape(&simulator.parties().payer_email)
    );
    page(StatusCode::OK, "Review your payment", &body)
}

/// Dispatches on `cmd`. The postback is judged on its raw bytes, never on a decoded copy.
async fn website_post(State(simulator): State<Arc<PaypalSimulator>>, body: Bytes) -> Response {
    let is_query = body.starts_with(b"cmd=_notify-");
    if is_query && !simulator.state().legacy.ipn.postback_available {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    if let Some(message) = body.strip_prefix(VALIDATE_PREFIX) {
        let genuine = simulator.state().legacy.ipn.history.iter().any(|record| record.body == message);
        return plain(if genuine { "VERIFIED".to_owned() } else { "INVALID".to_owned() });
    }
    let field = |name: &str| {
        url::form_urlencoded::parse(&body).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    };
    match field("cmd").as_deref() {
        Some("_notify-validate") => plain("INVALID".to_owned()),
        Some("_notify-synch") => payment_data_transfer(&simulator, field("tx"), field("at")),
        Some(decision @ ("_express-checkout-approve" | "_express-checkout-cancel")) => {
            let token = field("token").unwrap_or_default();
            let payment_id = simulator.state().legacy.tokens.get(&token).cloned().unwrap_or(token);
            let outcome = if decision == "_express-checkout-approve" {
                simulator.approve_v1_payment(&payment_id)
            } else {
                simulator.cancel_v1_payment(&payment_id)
            };
            finish(outcome.map(|redirect| Some(redirect.redirect_url)), "Done")
        }
        _ => page(StatusCode::BAD_REQUEST, "Unknown command", "<p>This form named no command the sandbox knows.</p>"),
    }
}

/// `SUCCESS` and the transaction's fields, one `key=value` a line in the account's charset, for
/// a sale of this account and its identity token; else `FAIL` with PayPal's error line.
fn payment_data_transfer(simulator: &PaypalSimulator, tx: Option<String>, token: Option<String>) -> Response {
    let identity_token = simulator.pdt_identity_token();
    if token.as_deref() != Some(identity_token.as_str()) {
        return plain("FAIL\nError: 4002".to_owned());
    }
    let state = simulator.state();
    let Some(sale) = tx.as_deref().and_then(|tx| state.subscriptions.sales.get(tx)) else {
        return plain("FAIL\nError: 4003".to_owned());
    };
    let payment = match &sale.origin {
        super::super::subscriptions::SaleOrigin::Payment { payment_id, .. } => state.legacy.payments.get(payment_id),
        super::super::subscriptions::SaleOrigin::Subscription(_) => None,
    };
    let notice = simulator.sale_notice(sale, payment, SaleFact::Status);
    let charset = state.legacy.ipn.charset.clone();
    // Percent-encoded form data is ASCII, so each byte is one character.
    let lines: String = encode(&notice.fields, &charset)
        .iter()
        .map(|&byte| if byte == b'&' { '\n' } else { char::from(byte) })
        .collect();
    plain(format!("SUCCESS\n{lines}\n"))
}

fn plain(text: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=UTF-8")], text).into_response()
}

impl PaypalSimulator {
    /// The merchant account's PDT identity token; it derives from the sandbox seed so it stays
    /// the same from run to run (`GET /sandbox/paypal/ipn` shows it).
    pub fn pdt_identity_token(&self) -> String {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.sandbox().seed() ^ 0x0050_4454_2054_4f4b);
        crate::ids::upper_alphanumeric_from(&mut rng, 59)
    }
}
