//! Extractors whose rejections are problem+json with a message that says the fix, instead of
//! axum's plain-text defaults.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use payhub_core::id::{DisputeId, EventId, PaymentId, PlanId, RefundId, SubscriptionId, WebhookEndpointId};
use serde::de::DeserializeOwned;

use super::error::{ApiError, ProblemType};

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ProblemType::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field and what was expected ("missing field `amount`").
            let detail = e.body_text();
            let message =
                detail.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or(&detail);
            let field = field_of(message);
            ApiError::new(ProblemType::InvalidRequest, message.to_owned())
                .with("errors", serde_json::json!([{ "field": field, "message": message }]))
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::new(ProblemType::MalformedRequest, format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ProblemType::PayloadTooLarge, "the body is larger than the API accepts (64 KiB)")
        }
        other => ApiError::new(ProblemType::MalformedRequest, other.body_text()),
    }
}

/// The field a deserialization error is about: the path serde reports (`regular_cycle.price:
/// …`), or the field it names (`missing field `amount``).
fn field_of(message: &str) -> String {
    let is_path = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c));
    match message.split_once(": ") {
        Some((path, _)) if is_path(path) && path != "." => path.to_owned(),
        _ => message.split('`').nth(1).unwrap_or("body").to_owned(),
    }
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::new(ProblemType::InvalidRequest, format!("query string: {}", e.body_text())))
            }
            Err(other) => Err(ApiError::new(ProblemType::MalformedRequest, other.body_text())),
        }
    }
}

/// The path parameter of a route, parsed; one that cannot be read (e.g. not UTF-8) is a
/// problem, not plain text.
///
/// A handler that also reads a JSON body takes `Result<ApiPath<_>, ApiError>` and applies it
/// once the body is read: before ids were typed, an unknown id was only found out by the
/// lookup, so a request wrong in both its body and its id has always heard about the body first.
pub struct ApiPath<T>(pub T);

/// What a path parameter can be parsed into.
pub trait PathParam: Sized {
    fn from_path(raw: String) -> Result<Self, ApiError>;
}

/// Values the merchant chose, such as customer ids: any text names something.
impl PathParam for String {
    fn from_path(raw: String) -> Result<Self, ApiError> {
        Ok(raw)
    }
}

/// A path id that is malformed, of another kind (`re_…` where `pay_…` belongs) or not spelled as
/// payhub writes it names no resource: 404, exactly as when no such resource exists, so the
/// answer tells nothing about which ids could exist.
macro_rules! id_path_params {
    ($($id:ty),* $(,)?) => {$(
        impl PathParam for $id {
            fn from_path(raw: String) -> Result<Self, ApiError> {
                <$id>::parse_exact(&raw).ok_or_else(|| ApiError::not_found(<$id>::KIND, &raw))
            }
        }
    )*};
}

id_path_params!(PaymentId, RefundId, PlanId, SubscriptionId, EventId, WebhookEndpointId, DisputeId);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: PathParam + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(raw)) => T::from_path(raw).map(ApiPath),
            Err(rejection) => {
                Err(ApiError::new(ProblemType::MalformedRequest, format!("path: {}", rejection.body_text())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn the_field_is_taken_from_the_error_path_or_the_named_field() {
        assert_eq!(field_of("regular_cycle.interval_unit: unknown variant `fortnight`"), "regular_cycle.interval_unit");
        assert_eq!(field_of("missing field `amount` at line 1 column 2"), "amount");
        assert_eq!(field_of("trial_cycles[0].price: invalid type"), "trial_cycles[0].price");
    }
}
