//! Request plumbing shared by every endpoint: URLs, headers, the one retry after a refused
//! token, and the mapping of PayPal's answers onto [`PaypalError`].

use std::time::Duration;

use payhub_provider_kit::{describe_unexpected_body, describe_with_causes, endpoint};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use crate::auth::TokenCache;
use crate::config::ClientConfig;
use crate::error::{ErrorDetail, PaypalError};
use crate::types::Link;

const REQUEST_ID: &str = "PayPal-Request-Id";
const DEBUG_ID: &str = "paypal-debug-id";

/// The connection to one PayPal account: base URL, HTTP client, token cache.
pub(crate) struct Api {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    tokens: TokenCache,
}

/// The body of a POST or PATCH, and the idempotency key a POST carries.
struct Outgoing<'a> {
    request_id: Option<&'a str>,
    payload: Payload<'a>,
}

enum Payload<'a> {
    Json(Vec<u8>),
    /// `multipart/form-data`: the JSON request as the `input` part, then the files.
    Multipart {
        input: Vec<u8>,
        files: &'a [FilePart<'a>],
    },
}

/// A file sent in a `multipart/form-data` request, under the form field `field`.
pub(crate) struct FilePart<'a> {
    pub field: &'static str,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
}

impl Api {
    pub(crate) fn new(config: ClientConfig, http: reqwest::Client) -> Result<Self, PaypalError> {
        let base = parse_base_url(&config.base_url)?;
        if config.client_id.is_empty() {
            return Err(PaypalError::Transport("client_id is empty".into()));
        }
        let token_url = endpoint(&base, ["v1", "oauth2", "token"]);
        Ok(Self {
            http,
            timeout: config.timeout,
            tokens: TokenCache::new(token_url, config.client_id, config.client_secret),
            base,
        })
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &[&str]) -> Result<T, PaypalError> {
        self.call(Method::GET, endpoint(&self.base, path), None).await
    }

    /// A GET with query parameters (list filters, time windows); each value is escaped.
    pub(crate) async fn get_with_query<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, PaypalError> {
        let mut url = endpoint(&self.base, path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
        }
        self.call(Method::GET, url, None).await
    }

    /// A POST PayPal answers with `204 No Content` (activate, suspend, cancel, …).
    pub(crate) async fn post_no_content<B: Serialize + ?Sized>(
        &self,
        path: &[&str],
        request_id: &str,
        body: &B,
    ) -> Result<(), PaypalError> {
        let outgoing =
            Outgoing { request_id: Some(checked_request_id(request_id)?), payload: Payload::Json(encode(body)?) };
        self.exchange(Method::POST, endpoint(&self.base, path), Some(outgoing)).await.map(drop)
    }

    /// A POST PayPal answers either with a body or with an empty `202 Accepted` (`None`).
    pub(crate) async fn post_maybe_empty<B, T>(
        &self,
        path: &[&str],
        request_id: &str,
        body: &B,
    ) -> Result<Option<T>, PaypalError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let outgoing =
            Outgoing { request_id: Some(checked_request_id(request_id)?), payload: Payload::Json(encode(body)?) };
        let url = endpoint(&self.base, path);
        let shown = url.path().to_owned();
        let answer = self.exchange(Method::POST, url, Some(outgoing)).await?;
        if answer.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&answer).map(Some).map_err(|e| PaypalError::Decode(format!("POST {shown}: {e}")))
    }

    /// A JSON Patch (`PATCH`), which PayPal answers with `204 No Content`.
    pub(crate) async fn patch<B: Serialize + ?Sized>(&self, path: &[&str], body: &B) -> Result<(), PaypalError> {
        let outgoing = Outgoing { request_id: None, payload: Payload::Json(encode(body)?) };
        self.exchange(Method::PATCH, endpoint(&self.base, path), Some(outgoing)).await.map(drop)
    }

    /// POSTs `body` as JSON. `request_id` goes out as `PayPal-Request-Id`: PayPal answers a
    /// repeated id with the original result, which makes a retry after a timeout safe.
    pub(crate) async fn post<B, T>(&self, path: &[&str], request_id: &str, body: &B) -> Result<T, PaypalError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        self.post_json_bytes(path, request_id, encode(body)?).await
    }

    /// Like [`Api::post`], for a body that is already JSON text.
    pub(crate) async fn post_json_bytes<T: DeserializeOwned>(
        &self,
        path: &[&str],
        request_id: &str,
        body: Vec<u8>,
    ) -> Result<T, PaypalError> {
        let outgoing = Outgoing { request_id: Some(checked_request_id(request_id)?), payload: Payload::Json(body) };
        self.call(Method::POST, endpoint(&self.base, path), Some(outgoing)).await
    }

    /// POSTs `input` as the `input` part of a `multipart/form-data` request, with `files`.
    pub(crate) async fn post_multipart<B, T>(
        &self,
        path: &[&str],
        request_id: &str,
        input: &B,
        files: &[FilePart<'_>],
    ) -> Result<T, PaypalError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let payload = Payload::Multipart { input: encode(input)?, files };
        let outgoing = Outgoing { request_id: Some(checked_request_id(request_id)?), payload };
        self.call(Method::POST, endpoint(&self.base, path), Some(outgoing)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        outgoing: Option<Outgoing<'_>>,
    ) -> Result<T, PaypalError> {
        let path = url.path().to_owned();
        let body = self.exchange(method.clone(), url, outgoing).await?;
        serde_json::from_slice(&body).map_err(|e| PaypalError::Decode(format!("{method} {path}: {e}")))
    }

    /// Sends the request (once more with a fresh token if PayPal refuses the cached one) and
    /// returns the body of a success answer.
    async fn exchange(&self, method: Method, url: Url, outgoing: Option<Outgoing<'_>>) -> Result<Vec<u8>, PaypalError> {
        let span = tracing::info_span!(
            "paypal.request",
            method = %method,
            path = url.path(),
            status = tracing::field::Empty,
            debug_id = tracing::field::Empty,
        );
        async {
            let mut refused_once = false;
            loop {
                let token = self.tokens.current(&self.http, self.timeout).await?;
                let mut request = self
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token.bearer())
                    .header(ACCEPT, "application/json")
                    .timeout(self.timeout);
                if let Some(outgoing) = &outgoing {
                    if let Some(request_id) = outgoing.request_id {
                        request = request.header(REQUEST_ID, request_id);
                    }
                    request = request.header("Prefer", "return=representation");
                    request = match &outgoing.payload {
                        Payload::Json(body) => request.header(CONTENT_TYPE, "application/json").body(body.clone()),
                        // A form is consumed by sending it, so each attempt builds its own.
                        Payload::Multipart { input, files } => request.multipart(multipart_form(input, files)?),
                    };
                }
                let response = request.send().await.map_err(transport_error)?;
                let (status, debug_id) = record_answer(&response);
                // An expired or revoked token answers 401. One retry with a fresh token; the
                // request id makes the repeat safe for POSTs.
                if status == StatusCode::UNAUTHORIZED && !refused_once {
                    tracing::debug!("access token refused; fetching a new one and retrying once");
                    refused_once = true;
                    self.tokens.discard(&token).await;
                    continue;
                }
                let body = read_body(response).await?;
                if !status.is_success() {
                    let error = api_error(status, &body, debug_id);
                    // PayPal's support traces a failed call by its debug id, so it goes in the log.
                    tracing::warn!(status = status.as_u16(), debug_id = error.debug_id(), error = %error, "PayPal refused a request");
                    return Err(error);
                }
                return Ok(body);
            }
        }
        .instrument(span)
        .await
    }
}

fn multipart_form(input: &[u8], files: &[FilePart<'_>]) -> Result<reqwest::multipart::Form, PaypalError> {
    let part = |content: &[u8], content_type: &str| {
        reqwest::multipart::Part::bytes(content.to_vec())
            .mime_str(content_type)
            .map_err(|e| PaypalError::Decode(format!("content type {content_type:?} cannot be sent: {e}")))
    };
    let mut form = reqwest::multipart::Form::new().part("input", part(input, "application/json")?);
    for file in files {
        form = form.part(file.field, part(file.content, file.content_type)?.file_name(file.file_name.to_owned()));
    }
    Ok(form)
}

fn encode<B: Serialize + ?Sized>(body: &B) -> Result<Vec<u8>, PaypalError> {
    serde_json::to_vec(body).map_err(|e| PaypalError::Decode(format!("could not encode the request: {e}")))
}

/// A request id must be a non-empty, valid header value; anything else is refused before sending.
fn checked_request_id(request_id: &str) -> Result<&str, PaypalError> {
    if request_id.is_empty() || HeaderValue::from_str(request_id).is_err() {
        return Err(PaypalError::Decode(format!("request id {request_id:?} cannot be sent as a {REQUEST_ID} header")));
    }
    Ok(request_id)
}

fn parse_base_url(raw: &str) -> Result<Url, PaypalError> {
    payhub_provider_kit::parse_base_url(raw).map_err(|invalid| PaypalError::Transport(invalid.to_string()))
}

pub(crate) fn transport_error(error: reqwest::Error) -> PaypalError {
    if error.is_timeout() {
        return PaypalError::Timeout;
    }
    PaypalError::Transport(describe_with_causes(&error))
}

pub(crate) async fn read_body(response: reqwest::Response) -> Result<Vec<u8>, PaypalError> {
    response.bytes().await.map(|bytes| bytes.to_vec()).map_err(transport_error)
}

/// The answer's status and `paypal-debug-id`, both also recorded on the current request span:
/// the debug id is what PayPal's support asks for about a failed call.
pub(crate) fn record_answer(response: &reqwest::Response) -> (StatusCode, Option<String>) {
    let status = response.status();
    let debug_id = response.headers().get(DEBUG_ID).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let span = tracing::Span::current();
    span.record("status", status.as_u16());
    if let Some(debug_id) = &debug_id {
        span.record("debug_id", debug_id.as_str());
    }
    (status, debug_id)
}

/// Maps an error answer. PayPal's REST errors are `{name, message, debug_id, details[]}`;
/// its OAuth endpoints answer `{error, error_description}`; proxies in between may answer HTML.
pub(crate) fn api_error(status: StatusCode, body: &[u8], header_debug_id: Option<String>) -> PaypalError {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let object = parsed.as_ref().and_then(Value::as_object);
    let text = |key: &str| object.and_then(|o| o.get(key)).and_then(Value::as_str);
    let Some(name) = text("name").or_else(|| text("error")) else {
        return PaypalError::Api {
            status: status.as_u16(),
            name: status_name(status),
            message: describe_unexpected_body("PayPal", status, body),
            debug_id: header_debug_id,
            details: Vec::new(),
            links: Vec::new(),
        };
    };
    let details = object
        .and_then(|o| o.get("details"))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(error_detail).collect())
        .unwrap_or_default();
    let links = object
        .and_then(|o| o.get("links"))
        .and_then(|links| serde_json::from_value::<Vec<Link>>(links.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|link| link.rel != "information_link")
        .collect();
    PaypalError::Api {
        status: status.as_u16(),
        name: name.to_owned(),
        message: text("message").or_else(|| text("error_description")).unwrap_or_default().to_owned(),
        debug_id: text("debug_id").map(str::to_owned).or(header_debug_id),
        details,
        links,
    }
}

/// A readable reason for a refusal, for messages that carry no structure.
pub(crate) fn error_text(status: StatusCode, body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let field = |key: &str| parsed.as_ref()?.get(key)?.as_str().map(str::to_owned);
    field("error_description")
        .or_else(|| field("message"))
        .or_else(|| field("error"))
        .unwrap_or_else(|| describe_unexpected_body("PayPal", status, body))
}

fn error_detail(item: &Value) -> Option<ErrorDetail> {
    let object = item.as_object()?;
    // Fields are read one by one so that a detail with an odd type (a numeric `value`, say)
    // still yields its issue.
    let text = |key: &str| match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    Some(ErrorDetail {
        field: text("field"),
        value: text("value"),
        location: text("location"),
        issue: text("issue").unwrap_or_default(),
        description: text("description"),
    })
}

fn status_name(status: StatusCode) -> String {
    status.canonical_reason().map_or_else(
        || format!("HTTP_{}", status.as_u16()),
        |reason| reason.to_ascii_uppercase().replace([' ', '-'], "_"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_that_are_not_http_endpoints_are_refused() {
        for raw in
            ["not a url", "ftp://api-m.paypal.com", "https://user:pw@api-m.paypal.com", "https://api-m.paypal.com/?x=1"]
        {
            assert!(matches!(parse_base_url(raw), Err(PaypalError::Transport(_))), "{raw}");
        }
    }

    #[test]
    fn paypal_error_body_is_mapped_field_by_field() {
        let body = br#"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed.","debug_id":"90957fca61718","details":[{"field":"/purchase_units/@reference_id=='default'/amount/value","value":1,"location":"body","issue":"ORDER_NOT_APPROVED","description":"Payer has not yet approved the Order for payment."}],"links":[]}"#;
        let error = api_error(StatusCode::UNPROCESSABLE_ENTITY, body, None);
        let PaypalError::Api { status, name, debug_id, details, .. } = &error else {
            panic!("expected an API error, got {error:?}");
        };
        assert_eq!(*status, 422);
        assert_eq!(name, "UNPROCESSABLE_ENTITY");
        assert_eq!(debug_id.as_deref(), Some("90957fca61718"));
        assert_eq!(details[0].value.as_deref(), Some("1"));
        assert_eq!(error.issue(), Some("ORDER_NOT_APPROVED"));
    }

    #[test]
    fn oauth_style_error_body_is_mapped_to_name_and_message() {
        let body = br#"{"error":"invalid_token","error_description":"Token signature verification failed"}"#;
        let error = api_error(StatusCode::UNAUTHORIZED, body, Some("abc123".into()));
        assert_eq!(
            error,
            PaypalError::Api {
                status: 401,
                name: "invalid_token".into(),
                message: "Token signature verification failed".into(),
                debug_id: Some("abc123".into()),
                details: vec![],
                links: vec![],
            }
        );
    }

    #[test]
    fn html_error_body_becomes_an_api_error_quoting_the_body() {
        let error = api_error(StatusCode::BAD_GATEWAY, b"<html>\n<body>502 Bad Gateway</body></html>", None);
        let PaypalError::Api { name, message, .. } = &error else {
            panic!("expected an API error, got {error:?}");
        };
        assert_eq!(name, "BAD_GATEWAY");
        assert!(message.contains("<body>502 Bad Gateway</body>"), "{message}");
        assert!(error.is_retryable());
    }
}
