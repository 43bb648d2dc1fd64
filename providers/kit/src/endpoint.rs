//! Where a request goes: the configured base URL, checked once, plus escaped path segments.

use url::Url;

/// A configured base URL that cannot be the root of a provider's REST API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("base_url {raw:?} {reason}")]
pub struct InvalidBaseUrl {
    pub raw: String,
    pub reason: String,
}

/// The configured base URL, refused early when it cannot be an HTTP API root: a credential or
/// a query in it would otherwise ride along on every request.
pub fn parse_base_url(raw: &str) -> Result<Url, InvalidBaseUrl> {
    let invalid = |reason: &str| InvalidBaseUrl { raw: raw.to_owned(), reason: reason.to_owned() };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid("must use https (or http for a local simulator)"));
    }
    if url.host_str().is_none() {
        return Err(invalid("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url)
}

/// `base` plus the given path segments. Each segment is escaped on its own, so a caller's id
/// such as `../x` or `a/b` stays inside its segment instead of changing the endpoint.
pub fn endpoint<S: AsRef<str>>(base: &Url, segments: impl IntoIterator<Item = S>) -> Url {
    let mut path = base.path().trim_end_matches('/').to_owned();
    for segment in segments {
        path.push('/');
        for byte in segment.as_ref().bytes() {
            if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                path.push(char::from(byte));
            } else {
                path.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    let mut url = base.clone();
    url.set_path(&path);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> Url {
        parse_base_url(raw).expect("valid base url")
    }

    #[test]
    fn endpoint_appends_segments_to_the_base_path() {
        let url = endpoint(&base("https://api-m.sandbox.paypal.com"), ["v2", "checkout", "orders"]);
        assert_eq!(url.as_str(), "https://api-m.sandbox.paypal.com/v2/checkout/orders");
        let prefixed = endpoint(&base("http://127.0.0.1:8081/paypal/"), ["v1", "oauth2"]);
        assert_eq!(prefixed.as_str(), "http://127.0.0.1:8081/paypal/v1/oauth2");
    }

    #[test]
    fn ids_are_escaped_so_they_cannot_leave_their_segment() {
        let url =
            endpoint(&base("https://api-m.paypal.com"), ["v2", "checkout", "orders", "../payments/x?y#z", "capture"]);
        assert_eq!(url.as_str(), "https://api-m.paypal.com/v2/checkout/orders/%2E%2E%2Fpayments%2Fx%3Fy%23z/capture");
    }

    #[test]
    fn each_refusal_names_the_base_url_and_why() {
        let cases = [
            ("not a url", "is not a URL"),
            ("ftp://api.example", "must use https"),
            ("https://user:pw@api.example", "must not carry credentials"),
            ("https://api.example/?x=1", "must not have a query or fragment"),
        ];
        for (raw, why) in cases {
            let refusal = parse_base_url(raw).expect_err(raw);
            assert_eq!(refusal.raw, raw);
            assert!(refusal.to_string().starts_with(&format!("base_url {raw:?} {why}")), "{refusal}");
        }
    }
}
