//! The operator's commands talk to a running hub over its HTTP API, never to its database:
//! they work from a laptop against a hub anywhere, with an API key as their only credential.

use anyhow::{Context, anyhow};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where the hub is and the key to call it with.
#[derive(Debug, Clone, clap::Args)]
pub struct Remote {
    /// The hub's base URL.
    #[arg(long, env = "PAYHUB_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key of the hub (`payhub keys create`; `serve --sandbox` prints a test one).
    #[arg(long, env = "PAYHUB_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

/// A client of one hub's API whose errors say what to do.
#[derive(Clone)]
pub struct HubClient {
    base: String,
    api_key: String,
    http: reqwest::Client,
}

impl HubClient {
    pub fn new(remote: &Remote) -> anyhow::Result<Self> {
        crate::app::install_crypto_provider();
        let http = reqwest::Client::builder().build().context("cannot build an HTTP client")?;
        Ok(Self { base: remote.url.trim_end_matches('/').to_owned(), api_key: remote.api_key.clone(), http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None::<&()>).await
    }

    /// A POST with a fresh `Idempotency-Key`: a command run twice acts twice, as asked, but
    /// a retry inside one run would not.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.call::<Value>(Method::DELETE, path, None::<&()>).await.map(drop)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<T> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request.header("Idempotency-Key", idempotency_key()).json(body);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_builder() {
                // Most often a key pasted with a line break or a URL without its scheme.
                anyhow!("cannot send {method} {path} ({e}); check --url and that --api-key is the key alone")
            } else {
                anyhow!(
                    "cannot reach the hub at {} ({e}); start it with `payhub serve`, or point --url / PAYHUB_URL at it",
                    self.base
                )
            }
        })?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("{method} {path}: the answer was cut off"))?;
        if !status.is_success() {
            return Err(anyhow!(ProblemAnswer::read(status, &text)).context(format!("{method} {path}")));
        }
        let text = if status == StatusCode::NO_CONTENT || text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).with_context(|| format!("{method} {path}: the hub answered something unexpected"))
    }
}

fn idempotency_key() -> String {
    format!("cli-{:032x}", rand::random::<u128>())
}

/// A refusal by the hub, told as its problem body says it, with the request id to quote.
#[derive(Debug, thiserror::Error)]
#[error("{detail}{}", request_id.as_ref().map(|id| format!(" (request {id})")).unwrap_or_default())]
pub struct ProblemAnswer {
    pub status: StatusCode,
    pub code: Option<String>,
    pub detail: String,
    pub request_id: Option<String>,
}

impl ProblemAnswer {
    fn read(status: StatusCode, text: &str) -> Self {
        let problem: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let field = |name: &str| problem[name].as_str().map(str::to_owned);
        let detail = match (field("title"), field("detail")) {
            (Some(title), Some(detail)) => format!("{title}: {detail}"),
            _ => format!("the hub answered {status}: {}", text.chars().take(200).collect::<String>()),
        };
        let detail = match status {
            StatusCode::UNAUTHORIZED => format!("{detail}; pass a valid key with --api-key or PAYHUB_API_KEY"),
            _ => detail,
        };
        Self { status, code: field("code"), detail, request_id: field("request_id") }
    }
}

/// Whether `error` is the hub refusing with this problem code.
pub fn is_problem(error: &anyhow::Error, code: &str) -> bool {
    error.downcast_ref::<ProblemAnswer>().is_some_and(|answer| answer.code.as_deref() == Some(code))
}

/// The mode of an API key, read from its prefix (`sk_test_…`, `sk_live_…`).
pub fn key_mode(api_key: &str) -> Option<payhub_core::Mode> {
    if api_key.starts_with("sk_test_") {
        Some(payhub_core::Mode::Test)
    } else if api_key.starts_with("sk_live_") {
        Some(payhub_core::Mode::Live)
    } else {
        None
    }
}
