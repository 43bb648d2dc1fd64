//! The HTTP client the provider clients send through, and readable messages for failures that
//! carry no provider error (a refused connection, a proxy's HTML page).

use std::error::Error;

use reqwest::StatusCode;

/// How much of a non-JSON error body is quoted in the error message.
const QUOTED_BODY_CHARS: usize = 200;

/// An HTTP client suited to a provider's REST API: rustls with the *ring* provider and no
/// redirects (the providers' APIs never redirect, and a redirect must not carry a secret key or
/// token, or fetch a certificate, elsewhere).
///
/// If the process has not installed a default rustls crypto provider yet, this installs *ring*.
pub fn provider_http_client(user_agent: &str) -> Result<reqwest::Client, reqwest::Error> {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: some provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).user_agent(user_agent).build()
}

/// The error and every cause below it, `: `-separated: reqwest's own message alone ("error
/// sending request") hides whether DNS, TCP or TLS failed.
pub fn describe_with_causes(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A message for an error answer that is not the provider's error JSON, e.g. a proxy's HTML
/// page: the status and the start of the body on one line, control characters removed.
pub fn describe_unexpected_body(provider: &str, status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let quoted: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(QUOTED_BODY_CHARS)
        .collect();
    if quoted.is_empty() {
        format!("{provider} answered {status} with an empty body")
    } else {
        format!("{provider} answered {status} with a body that is not a {provider} error: {quoted}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        cause: Option<Box<Layer>>,
    }

    #[test]
    fn every_cause_of_a_failure_is_named_outermost_first() {
        let tls = Layer { text: "invalid peer certificate", cause: None };
        let connect = Layer { text: "client error (Connect)", cause: Some(Box::new(tls)) };
        let send = Layer { text: "error sending request", cause: Some(Box::new(connect)) };
        assert_eq!(
            describe_with_causes(&send),
            "error sending request: client error (Connect): invalid peer certificate"
        );
    }

    #[test]
    fn an_unexpected_body_is_quoted_on_one_line_and_cut_short() {
        let page = format!("<html>\n\t<body>{}</body></html>", "x".repeat(500));
        let message = describe_unexpected_body("Ping++", StatusCode::BAD_GATEWAY, page.as_bytes());
        let prefix = "Ping++ answered 502 Bad Gateway with a body that is not a Ping++ error: ";
        assert!(message.starts_with(&format!("{prefix}<html> <body>xx")), "{message}");
        assert_eq!(message.chars().count(), prefix.chars().count() + QUOTED_BODY_CHARS);
        assert_eq!(
            describe_unexpected_body("PayPal", StatusCode::SERVICE_UNAVAILABLE, b" \n"),
            "PayPal answered 503 Service Unavailable with an empty body"
        );
    }
}
