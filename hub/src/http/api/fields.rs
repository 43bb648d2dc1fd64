//! Reading a merchant's values into core's types, naming the field a refusal is about: each
//! resource's `TryFrom` then reads as the list of its fields.

use payhub_core::Currency;
use payhub_core::merchant::{AbsoluteUrl, MerchantText, Metadata};
use serde_json::{Map, Value};

use crate::http::error::ApiError;

pub(super) fn currency(code: &str) -> Result<Currency, ApiError> {
    Currency::parse(code).map_err(|e| ApiError::invalid("currency", e.to_string()))
}

/// Optional text the merchant chose: too long and blank are told apart.
pub(super) fn optional_text<const MAX: usize>(
    field: &str,
    text: Option<String>,
) -> Result<Option<MerchantText<MAX>>, ApiError> {
    text.map(MerchantText::parse).transpose().map_err(|e| ApiError::invalid(field, e.to_string()))
}

/// Text a resource cannot go without (a plan's name): any refusal states the whole range.
pub(super) fn required_text<const MAX: usize>(field: &str, text: String) -> Result<MerchantText<MAX>, ApiError> {
    MerchantText::parse(text).map_err(|_| ApiError::invalid(field, format!("must be 1 to {MAX} characters")))
}

pub(super) fn optional_url(field: &str, url: Option<String>) -> Result<Option<AbsoluteUrl>, ApiError> {
    url.map(AbsoluteUrl::parse).transpose().map_err(|e| ApiError::invalid(field, e.to_string()))
}

pub(super) fn metadata(pairs: Map<String, Value>) -> Result<Metadata, ApiError> {
    Metadata::parse(pairs).map_err(|e| ApiError::invalid(&e.field(), e.to_string()))
}
