//! The buyer's approval page at `GET /checkoutnow?token={order_id}`, where an order's `approve`
//! (or `payer-action`) link points. It shows the merchant and the amounts with Approve and Cancel
//! buttons; approving redirects (303) to `return_url?token=…&PayerID=…`, cancelling to
//! `cancel_url?token=…`, as PayPal's checkout does.

use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::PaypalSimulator;
use super::errors::ApiError;
use super::state::OrderStatus;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/checkoutnow", get(show))
        .route("/checkoutnow/approve", post(approve))
        .route("/checkoutnow/cancel", post(cancel))
}

#[derive(Deserialize)]
struct Token {
    token: Option<String>,
}

async fn show(State(simulator): State<Arc<PaypalSimulator>>, query: Result<Query<Token>, QueryRejection>) -> Response {
    let Some(order_id) = query.ok().and_then(|Query(query)| query.token).filter(|token| !token.is_empty()) else {
        return page(StatusCode::BAD_REQUEST, "Missing token", "<p>This page needs <code>?token=ORDER_ID</code>.</p>");
    };
    let state = simulator.state();
    let Ok(order) = state.order(None, &order_id) else {
        return page(
            StatusCode::NOT_FOUND,
            "Order not found",
            &format!("<p>No order <code>{}</code>.</p>", escape(&order_id)),
        );
    };
    let merchant = order.brand_name.as_deref().unwrap_or("payhub sandbox merchant");
    let mut lines = String::new();
    for unit in &order.purchase_units {
        let description = unit.description.as_deref().unwrap_or(&unit.reference_id);
        lines.push_str(&format!(
            "<tr><td>{}</td><td class=\"amount\">{} {}</td></tr>",
            escape(description),
            escape(&unit.amount.value()),
            escape(unit.amount.currency)
        ));
    }
    let actions = match order.status {
        OrderStatus::Created | OrderStatus::PayerActionRequired | OrderStatus::Approved => {
            decision_forms("/checkoutnow", ("token", &order.id), "Approve and pay", merchant)
        }
        status => format!("<p>This order is {} and can no longer be approved.</p>", escape(status.as_str())),
    };
    let body = format!(
        "<p>Pay <strong>{merchant}</strong> as {buyer}</p><table>{lines}</table>{actions}",
        merchant = escape(merchant),
        buyer = escape(&simulator.parties().payer_email),
    );
    page(StatusCode::OK, "Review your payment", &body)
}

async fn approve(State(simulator): State<Arc<PaypalSimulator>>, form: Result<Form<Token>, FormRejection>) -> Response {
    match form {
        Ok(Form(Token { token: Some(order_id) })) => {
            finish(simulator.approve_order(&order_id).map(|redirect| redirect.redirect_url), "Payment approved")
        }
        _ => no_order(),
    }
}

async fn cancel(State(simulator): State<Arc<PaypalSimulator>>, form: Result<Form<Token>, FormRejection>) -> Response {
    match form {
        Ok(Form(Token { token: Some(order_id) })) => {
            finish(simulator.cancel_order(&order_id).map(|redirect| redirect.redirect_url), "Payment cancelled")
        }
        _ => no_order(),
    }
}

fn no_order() -> Response {
    page(StatusCode::BAD_REQUEST, "Missing token", "<p>The form carried no order.</p>")
}

/// The agree and cancel buttons of a consent page (checkout or subscription), posting
/// `field=value` to `{path}/approve` and `{path}/cancel`.
pub(crate) fn decision_forms(path: &str, (field, value): (&str, &str), agree: &str, merchant: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{path}/approve\"><input type=\"hidden\" name=\"{field}\" value=\"{value}\">\
         <button type=\"submit\">{agree}</button></form>\
         <form method=\"post\" action=\"{path}/cancel\"><input type=\"hidden\" name=\"{field}\" value=\"{value}\">\
         <button type=\"submit\" class=\"secondary\">Cancel and return to {merchant}</button></form>",
        value = escape(value),
        merchant = escape(merchant),
    )
}

/// Where the buyer goes once they decided: back to the merchant's URL (303), or, without one, a
/// page saying `done`; a refusal is shown as a page too.
pub(crate) fn finish(outcome: Result<Option<String>, ApiError>, done: &str) -> Response {
    match outcome {
        Ok(Some(url)) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
        Ok(None) => page(StatusCode::OK, done, "<p>You can close this window.</p>"),
        Err(error) => {
            let reason = error.details.first().and_then(|detail| detail.description.clone()).unwrap_or(error.message);
            page(error.status, "Cannot continue", &format!("<p>{}</p>", escape(&reason)))
        }
    }
}

pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · PayPal sandbox</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>\
         body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1c1c1c}}\
         table{{width:100%;margin:1rem 0;border-collapse:collapse}}td{{padding:.4rem 0;border-bottom:1px solid #ddd}}\
         .amount{{text-align:right}}button{{width:100%;padding:.7rem;margin:.3rem 0;border:0;border-radius:1.5rem;\
         background:#0070ba;color:#fff;font-size:1rem}}button.secondary{{background:#eee;color:#1c1c1c}}\
         </style></head><body><h1>{title}</h1>{body}<p><small>payhub sandbox: no real money moves.</small></p></body></html>",
        title = escape(title),
    );
    (status, Html(html)).into_response()
}

/// Escapes text for HTML content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_forms_post_the_escaped_token_to_approve_and_cancel() {
        let html = decision_forms("/checkoutnow", ("token", "A\"B"), "Approve and pay", "Tea & Co");
        assert_eq!(
            html,
            "<form method=\"post\" action=\"/checkoutnow/approve\"><input type=\"hidden\" name=\"token\" value=\"A&quot;B\">\
             <button type=\"submit\">Approve and pay</button></form>\
             <form method=\"post\" action=\"/checkoutnow/cancel\"><input type=\"hidden\" name=\"token\" value=\"A&quot;B\">\
             <button type=\"submit\" class=\"secondary\">Cancel and return to Tea &amp; Co</button></form>"
        );
    }

    #[test]
    fn interpolated_text_cannot_open_tags_or_leave_attributes() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
