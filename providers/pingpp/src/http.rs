//! Request plumbing shared by every endpoint: URLs, headers, request signing, the bounded
//! repeats of reads, and the mapping of Ping++'s answers onto [`PingppError`].

use std::time::Duration;

use payhub_provider_kit::{describe_unexpected_body, describe_with_causes};
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use crate::config::{ClientConfig, Secret, UnixClock};
use crate::endpoint::{endpoint, parse_base_url, request_uri, with_query};
use crate::error::{PingppError, UNEXPECTED_RESPONSE};
use crate::signing::{REQUEST_SIGNATURE_HEADER, REQUEST_TIMESTAMP_HEADER, RequestSigner};

/// The content type of every request body, as Ping++'s SDKs declare it.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// The connection to one Ping++ app: base URL, keys, HTTP client and retry policy.
pub(crate) struct Api {
    http: reqwest::Client,
    base: Url,
    app_id: String,
    authorization: HeaderValue,
    accept_language: HeaderValue,
    signer: Option<RequestSigner>,
    timeout: Duration,
    read_retries: u32,
    retry_backoff: Duration,
    clock: UnixClock,
}

impl Api {
    pub(crate) fn new(config: ClientConfig, http: reqwest::Client) -> Result<Self, PingppError> {
        let base = parse_base_url(&config.base_url)?;
        let invalid = |what: &str| PingppError::Transport(format!("invalid configuration: {what}"));
        if config.app_id.trim().is_empty() {
            return Err(invalid("app_id is empty"));
        }
        let authorization =
            bearer(&config.secret_key).ok_or_else(|| invalid("secret_key is empty or not a valid header value"))?;
        let accept_language = HeaderValue::from_str(&config.accept_language)
            .map_err(|_| invalid("accept_language is not a valid header value"))?;
        let signer =
            config.private_key_pem.as_ref().map(|pem| RequestSigner::from_pem(pem.expose().as_bytes())).transpose()?;
        Ok(Self {
            http,
            base,
            app_id: config.app_id,
            authorization,
            accept_language,
            signer,
            timeout: config.timeout,
            read_retries: config.read_retries,
            retry_backoff: config.retry_backoff,
            clock: config.clock,
        })
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base
    }

    pub(crate) fn app_id(&self) -> &str {
        &self.app_id
    }

    pub(crate) fn signs_requests(&self) -> bool {
        self.signer.is_some()
    }

    /// A read; repeated on transport failures, 5xx and rate limits (see `ClientConfig::read_retries`).
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(String, String)],
    ) -> Result<T, PingppError> {
        let url = with_query(endpoint(&self.base, path), query);
        self.call(Method::GET, url, None).await
    }

    /// A write with a JSON body; never repeated automatically.
    pub(crate) async fn post<B, T>(&self, path: &[&str], body: &B) -> Result<T, PingppError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = encode(body)?;
        self.call(Method::POST, endpoint(&self.base, path), Some(body)).await
    }

    /// A POST without a body, as Ping++'s SDKs send for actions such as reversing a charge.
    pub(crate) async fn post_empty<T: DeserializeOwned>(&self, path: &[&str]) -> Result<T, PingppError> {
        self.call(Method::POST, endpoint(&self.base, path), None).await
    }

    /// An update with a JSON body; never repeated automatically.
    pub(crate) async fn put<B, T>(&self, path: &[&str], body: &B) -> Result<T, PingppError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = encode(body)?;
        self.call(Method::PUT, endpoint(&self.base, path), Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<T, PingppError> {
        let span = tracing::info_span!(
            "pingpp.request",
            method = %method,
            path = url.path(),
            signed = self.signer.is_some(),
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        async {
            // Only reads are repeated: Ping++ takes no idempotency key, so a repeated write
            // could create a second charge or refund.
            let repeats = if method == Method::GET { self.read_retries } else { 0 };
            let mut attempt = 0;
            loop {
                attempt += 1;
                let outcome = self.attempt(&method, &url, body.as_deref()).await;
                tracing::Span::current().record("attempts", attempt);
                match outcome {
                    Err(error) if attempt <= repeats && worth_repeating(&error) => {
                        let pause = backoff(self.retry_backoff, attempt);
                        tracing::debug!(%error, ?pause, "repeating a failed read");
                        tokio::time::sleep(pause).await;
                    }
                    Err(error) => return Err(error),
                    Ok((status, answer)) => {
                        return serde_json::from_slice(&answer).map_err(|e| {
                            PingppError::Decode(format!(
                                "{method} {} answered {status} with an unexpected body: {e}",
                                url.path()
                            ))
                        });
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One request: signed afresh (new timestamp), sent, and its answer read.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<(StatusCode, Vec<u8>), PingppError> {
        let timestamp = self.clock.now();
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json")
            .header(ACCEPT_LANGUAGE, self.accept_language.clone())
            // Ping++'s SDKs send the timestamp with every request, signed or not.
            .header(REQUEST_TIMESTAMP_HEADER, timestamp.to_string())
            .timeout(self.timeout);
        if let Some(signer) = &self.signer {
            let signature = signer.sign(body.unwrap_or_default(), &request_uri(url), timestamp)?;
            request = request.header(REQUEST_SIGNATURE_HEADER, signature);
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, JSON_CONTENT_TYPE).body(body.to_vec());
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        let answer = response.bytes().await.map_err(transport_error)?.to_vec();
        if status.is_success() { Ok((status, answer)) } else { Err(api_error(status, &answer)) }
    }
}

fn bearer(secret_key: &Secret) -> Option<HeaderValue> {
    let key = secret_key.expose().trim();
    if key.is_empty() {
        return None;
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {key}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn encode<B: Serialize + ?Sized>(body: &B) -> Result<Vec<u8>, PingppError> {
    serde_json::to_vec(body).map_err(|e| PingppError::Decode(format!("could not encode the request: {e}")))
}

/// Timeouts are not repeated: the caller's time budget is already spent.
fn worth_repeating(error: &PingppError) -> bool {
    !matches!(error, PingppError::Timeout) && error.is_retryable()
}

fn backoff(first: Duration, attempt: u32) -> Duration {
    first.saturating_mul(1 << (attempt.saturating_sub(1)).min(6))
}

fn transport_error(error: reqwest::Error) -> PingppError {
    if error.is_timeout() {
        return PingppError::Timeout;
    }
    PingppError::Transport(describe_with_causes(&error))
}

/// Maps an error answer. Ping++ answers `{"error": {"type", "message", "code"?, "param"?}}`;
/// proxies in between may answer HTML or nothing at all.
pub(crate) fn api_error(status: StatusCode, body: &[u8]) -> PingppError {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let Some(error) = parsed.as_ref().and_then(|v| v.get("error")).and_then(Value::as_object) else {
        return PingppError::Api {
            status: status.as_u16(),
            error_type: UNEXPECTED_RESPONSE.to_owned(),
            message: describe_unexpected_body("Ping++", status, body),
            code: None,
            param: None,
        };
    };
    let text = |key: &str| match error.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    PingppError::Api {
        status: status.as_u16(),
        error_type: text("type").unwrap_or_else(|| "api_error".to_owned()),
        message: text("message").unwrap_or_default(),
        code: text("code"),
        param: text("param"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_error_codes_are_kept_as_text_and_missing_type_reads_as_api_error() {
        let error = api_error(
            StatusCode::PAYMENT_REQUIRED,
            r#"{"error":{"message":"渠道错误","code":40001,"param":null}}"#.as_bytes(),
        );
        assert_eq!(
            error,
            PingppError::Api {
                status: 402,
                error_type: "api_error".into(),
                message: "渠道错误".into(),
                code: Some("40001".into()),
                param: None,
            }
        );
    }

    #[test]
    fn backoff_doubles_from_the_first_pause_and_stays_bounded() {
        let first = Duration::from_millis(200);
        assert_eq!(backoff(first, 1), Duration::from_millis(200));
        assert_eq!(backoff(first, 2), Duration::from_millis(400));
        assert_eq!(backoff(first, 3), Duration::from_millis(800));
        assert_eq!(backoff(first, 60), Duration::from_millis(200 * 64));
    }
}
