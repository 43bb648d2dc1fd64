//! The frame every console page shares.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use payhub_core::{Mode, Money};

use super::session::Operator;

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · payhub" }
        link rel="stylesheet" href="/admin/assets/console.css";
    }
}

/// A page without the navigation: login, and errors met before a session is known.
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body { main { (body) } }
        }
    }
}

/// A page of a logged-in operator: navigation, the mode it shows, the switch and logout.
pub fn page(operator: &Operator, title: &str, body: Markup) -> Markup {
    let mode = operator.mode();
    let other = match mode {
        Mode::Test => Mode::Live,
        Mode::Live => Mode::Test,
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                header {
                    strong { "payhub" }
                    span #mode .mode.{"mode-" (mode.as_str())} title="Every page shows this mode's data only" {
                        (mode.as_str()) " mode"
                    }
                    nav {
                        a href="/admin" { "Overview" }
                        a href="/admin/payments" { "Payments" }
                        a href="/admin/subscriptions" { "Subscriptions" }
                        a href="/admin/disputes" { "Disputes" }
                        a href="/admin/inbox" { "Inbox" }
                        a href="/admin/webhooks" { "Webhooks" }
                        a href="/admin/api-keys" { "API keys" }
                    }
                    form.inline method="post" action="/admin/mode" {
                        (operator.csrf_field())
                        input type="hidden" name="mode" value=(other.as_str());
                        input type="hidden" name="next" value=(operator.section_page());
                        button.secondary #switch-mode type="submit" { "Switch to " (other.as_str()) }
                    }
                    span.who { (operator.email()) }
                    form.inline method="post" action="/admin/logout" {
                        (operator.csrf_field())
                        button.secondary #logout type="submit" { "Log out" }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

pub fn money(amount: i64, currency: payhub_core::Currency) -> String {
    Money::new(amount, currency).to_string()
}

pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `text` as one segment of a path: every byte but letters, digits and `-._~` percent-encoded,
/// so a customer id with `/`, `?` or spaces still names one page.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
