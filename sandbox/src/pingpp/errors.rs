//! Ping++'s error body, `{"error": {"type", "message", "code"?, "param"?}}`, with the statuses its
//! SDKs map: 400 and 404 invalid requests, 401 authentication, 402 channel errors (with the
//! channel's `code`), 403 rate limits (429 too, for the Java SDK), 5xx API errors. `code` and
//! `param` are left out rather than sent as `null`: the Go SDK reads both as strings and fails on
//! a `null`.
//!
//! What produces each: a malformed or invalid request (400), a wrong or missing secret key (401),
//! a channel that refuses (`PUT /sandbox/pingpp/channels/{channel}/refusal`, 402), an unknown
//! object or path (404), and faults (`PUT /sandbox/pingpp/faults`) for 403, 429 and 5xx.
//!
//! Messages are in Chinese where Ping++'s own are known (the API key, signature and JSON-parse
//! messages are Ping++'s wording, as seen in its SDKs' issue trackers); the rest follow their style.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
    pub code: Option<String>,
    pub param: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self { status, error_type, message: message.into(), code: None, param: None }
    }

    /// A request Ping++ refuses as malformed or not allowed, naming the parameter at fault.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self { param: Some(param.to_owned()), ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message) }
    }

    /// A parameter Ping++ requires that the request left out.
    pub fn missing_param(param: &str) -> Self {
        Self::invalid_param(param, format!("缺少参数 {param}。"))
    }

    /// A request that is well formed but not allowed in the object's current state.
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn not_found(kind: &str, id: &str) -> Self {
        Self {
            param: Some("id".to_owned()),
            ..Self::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("无法找到 id 为 {id} 的 {kind} 对象。"))
        }
    }

    pub fn no_such_path(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("不存在的 API 路径：{path}。"))
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error", "该 API 路径不支持此 HTTP 方法。")
    }

    /// Ping++'s answer to a request without a usable `Authorization` header.
    pub fn no_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "没有提供合适的 API KEY。需要在 header 中加入已授权的 API KEY 的声明 (如：'Authorization: Bearer YOUR_SECRET_KEY')。",
        )
    }

    pub fn invalid_api_key() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", "提供了无效的 API KEY。")
    }

    /// Request signing is on and the POST/PUT carries no `Pingplusplus-Signature`. Ping++'s
    /// SDKs surface this as an invalid request (their `InvalidRequestException`), so 400.
    pub fn missing_signature() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "没有提供签名串，需要在 header 中加入签名串。")
    }

    pub fn invalid_signature() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "提供了无效的签名。")
    }

    pub fn malformed_json() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "请求体解析失败: 不是一个合法的 json 格式字符串")
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", format!("请求体过大，最多 {limit} 字节。"))
    }

    /// The payment channel (Alipay, WeChat Pay, UnionPay…) refused what Ping++ passed on:
    /// Ping++ answers 402 `channel_error` with the channel's reason as `code`.
    pub fn channel_refused(channel: &str, code: &str, message: &str) -> Self {
        Self {
            code: Some(code.to_owned()),
            param: Some("channel".to_owned()),
            ..Self::new(StatusCode::PAYMENT_REQUIRED, "channel_error", format!("渠道 {channel} 返回失败：{message}"))
        }
    }

    /// An injected fault (`PUT /sandbox/pingpp/faults`): 403 and 429 are rate limits, the
    /// rest API errors.
    pub fn fault(status: StatusCode) -> Self {
        let rate_limited = status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS;
        let (error_type, code, message) = if rate_limited {
            ("rate_limit_error", "rate_limit", "请求过于频繁，请稍后再试。")
        } else {
            ("api_error", "api_error", "Ping++ 服务暂时不可用，请稍后再试。")
        };
        Self { code: Some(code.to_owned()), ..Self::new(status, error_type, message) }
    }

    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".to_owned(), json!(self.error_type));
        error.insert("message".to_owned(), json!(self.message));
        if let Some(code) = &self.code {
            error.insert("code".to_owned(), json!(code));
        }
        if let Some(param) = &self.param {
            error.insert("param".to_owned(), json!(param));
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_code_and_param_are_left_out_not_null() {
        let body = ApiError::invalid_api_key().body();
        assert_eq!(body, json!({ "error": { "type": "invalid_request_error", "message": "提供了无效的 API KEY。" } }));
        let body = ApiError::invalid_param("currency", "x").body();
        assert_eq!(body["error"]["param"], "currency");
    }
}
