//! Where a request goes: the base URL checked once, `/v1` paths with escaped ids, and the
//! query string, built once so that what is signed is exactly what is sent.

use url::Url;

use crate::error::PingppError;

pub(crate) fn parse_base_url(raw: &str) -> Result<Url, PingppError> {
    payhub_provider_kit::parse_base_url(raw).map_err(|invalid| PingppError::Transport(invalid.to_string()))
}

/// `base` plus `/v1` plus the given path segments, each escaped on its own.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Url {
    payhub_provider_kit::endpoint(base, ["v1"].iter().chain(segments))
}

/// Adds a form-encoded query (`app%5Bid%5D=…`, as Ping++'s SDKs encode it). An empty query
/// leaves the URL without `?`, so the signed URI is just the path.
pub(crate) fn with_query(mut url: Url, pairs: &[(String, String)]) -> Url {
    if !pairs.is_empty() {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        url.set_query(Some(&query));
    }
    url
}

/// The request URI as it goes on the wire: path, then `?query` if there is one.
pub(crate) fn request_uri(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> Url {
        parse_base_url(raw).expect("valid base url")
    }

    #[test]
    fn endpoints_live_under_v1_of_the_base_path() {
        let url = endpoint(&base("https://api.pingxx.com"), &["charges", "ch_1", "refunds"]);
        assert_eq!(url.as_str(), "https://api.pingxx.com/v1/charges/ch_1/refunds");
        let prefixed = endpoint(&base("http://127.0.0.1:8082/pingpp/"), &["orders"]);
        assert_eq!(prefixed.as_str(), "http://127.0.0.1:8082/pingpp/v1/orders");
    }

    #[test]
    fn ids_are_escaped_so_they_cannot_leave_their_segment() {
        let url = endpoint(&base("https://api.pingxx.com"), &["charges", "../orders?x#y"]);
        assert_eq!(url.as_str(), "https://api.pingxx.com/v1/charges/%2E%2E%2Forders%3Fx%23y");
    }

    #[test]
    fn request_uri_is_the_path_and_the_query_exactly_as_sent() {
        let url = with_query(
            endpoint(&base("https://api.pingxx.com"), &["charges"]),
            &[("app[id]".into(), "app_1Gqj58ynP0mHeX1q".into()), ("subject".into(), "红 苹果".into())],
        );
        let uri = request_uri(&url);
        assert_eq!(uri, "/v1/charges?app%5Bid%5D=app_1Gqj58ynP0mHeX1q&subject=%E7%BA%A2+%E8%8B%B9%E6%9E%9C");
        assert!(url.as_str().ends_with(&uri));
        let bare = with_query(endpoint(&base("https://api.pingxx.com"), &["events"]), &[]);
        assert_eq!(request_uri(&bare), "/v1/events");
    }

    #[test]
    fn base_urls_that_are_not_http_endpoints_are_refused() {
        for raw in
            ["not a url", "ftp://api.pingxx.com", "https://user:pw@api.pingxx.com", "https://api.pingxx.com/?x=1"]
        {
            assert!(matches!(parse_base_url(raw), Err(PingppError::Transport(_))), "{raw}");
        }
    }
}
