//! What merchants attach to payhub's resources: their references and texts, metadata, and the
//! URLs buyers are sent back to. Each type's only constructor is `parse`, which applies the
//! limits every provider accepts, so a value that passed the API's edge fits wherever it goes.

use std::fmt;

use serde_json::{Map, Value};

/// Text a merchant chose (an order number, a description, a customer id): not blank and at
/// most `MAX` characters. 127 is PayPal's limit for `description` and `custom_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MerchantText<const MAX: usize>(String);

/// A reference that goes to the provider with the payment.
pub type Reference = MerchantText<127>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not be blank")]
    Blank,
}

impl<const MAX: usize> MerchantText<MAX> {
    pub fn parse(text: String) -> Result<Self, TextError> {
        // Characters, not bytes: providers count what the merchant typed.
        if text.chars().count() > MAX {
            Err(TextError::TooLong(MAX))
        } else if text.trim().is_empty() {
            Err(TextError::Blank)
        } else {
            Ok(Self(text))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> fmt::Display for MerchantText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a buyer is sent back to: an absolute http(s) URL, so a redirect can never run a
/// `javascript:` URL or land on a relative path of payhub's own. Kept as the merchant wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AbsoluteUrl(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be an absolute http(s) URL")]
pub struct NotAnAbsoluteUrl;

impl AbsoluteUrl {
    pub fn parse(text: String) -> Result<Self, NotAnAbsoluteUrl> {
        match url::Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(Self(text)),
            _ => Err(NotAnAbsoluteUrl),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The merchant's own key-value pairs, small enough to index and display: at most 50 keys of 1
/// to 40 characters, each a number, a boolean, null or a string of at most 500 characters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata(Map<String, Value>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("at most {} keys", Metadata::MAX_KEYS)]
    TooManyKeys,
    #[error("keys must be 1 to {} characters", Metadata::MAX_KEY)]
    Key(String),
    #[error("values must be strings of at most {} characters, numbers or booleans", Metadata::MAX_VALUE)]
    Value(String),
}

impl MetadataError {
    /// The field the merchant has to change: `metadata`, or the offending `metadata.{key}`.
    pub fn field(&self) -> String {
        match self {
            MetadataError::TooManyKeys => "metadata".to_owned(),
            MetadataError::Key(key) | MetadataError::Value(key) => format!("metadata.{key}"),
        }
    }
}

impl Metadata {
    const MAX_KEYS: usize = 50;
    const MAX_KEY: usize = 40;
    const MAX_VALUE: usize = 500;

    pub fn parse(pairs: Map<String, Value>) -> Result<Self, MetadataError> {
        if pairs.len() > Self::MAX_KEYS {
            return Err(MetadataError::TooManyKeys);
        }
        for (key, value) in &pairs {
            if key.is_empty() || key.chars().count() > Self::MAX_KEY {
                return Err(MetadataError::Key(key.clone()));
            }
            let fits = match value {
                Value::String(s) => s.chars().count() <= Self::MAX_VALUE,
                Value::Number(_) | Value::Bool(_) | Value::Null => true,
                Value::Array(_) | Value::Object(_) => false,
            };
            if !fits {
                return Err(MetadataError::Value(key.clone()));
            }
        }
        Ok(Self(pairs))
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pairs(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_reference_is_refused_when_too_long_before_when_blank() {
        assert_eq!(Reference::parse("order-42".into()).map(Reference::into_string), Ok("order-42".into()));
        assert_eq!(Reference::parse("é".repeat(127)).map(|r| r.as_str().chars().count()), Ok(127));
        assert_eq!(Reference::parse("x".repeat(128)), Err(TextError::TooLong(127)));
        assert_eq!(Reference::parse(" ".repeat(128)), Err(TextError::TooLong(127)));
        assert_eq!(Reference::parse(String::new()), Err(TextError::Blank));
        assert_eq!(Reference::parse(" \t\n".into()), Err(TextError::Blank));
    }

    #[test]
    fn only_absolute_http_urls_are_places_to_send_a_buyer() {
        for good in ["https://shop.example/thanks", "http://127.0.0.1:8080/back?order=1"] {
            assert_eq!(AbsoluteUrl::parse(good.into()).map(AbsoluteUrl::into_string), Ok(good.to_owned()));
        }
        for bad in [
            "javascript:alert(1)",
            "/thanks",
            "shop.example/thanks",
            "ftp://shop.example/",
            "https://",
            "data:text/html,x",
            "",
        ] {
            assert_eq!(AbsoluteUrl::parse(bad.into()), Err(NotAnAbsoluteUrl), "{bad:?}");
        }
    }

    #[test]
    fn the_url_is_kept_as_the_merchant_wrote_it() {
        assert_eq!(AbsoluteUrl::parse("https://SHOP.example".into()).unwrap().as_str(), "https://SHOP.example");
    }

    #[test]
    fn metadata_takes_flat_small_values() {
        let fine = pairs(json!({"order": "42", "gift": true, "items": 3, "note": null}));
        assert_eq!(Metadata::parse(fine.clone()).map(Metadata::into_map), Ok(fine));
        assert_eq!(Metadata::parse(Map::new()).map(Metadata::into_map), Ok(Map::new()));
    }

    #[test]
    fn metadata_refusals_name_the_key_to_change() {
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        let too_many = Metadata::parse(many).unwrap_err();
        assert_eq!((too_many.field(), too_many.to_string()), ("metadata".into(), "at most 50 keys".into()));

        let long_key = "k".repeat(41);
        let key = Metadata::parse(pairs(json!({ long_key.clone(): 1 }))).unwrap_err();
        assert_eq!(key.field(), format!("metadata.{long_key}"));
        assert_eq!(key.to_string(), "keys must be 1 to 40 characters");
        assert_eq!(Metadata::parse(pairs(json!({"": 1}))).unwrap_err(), MetadataError::Key(String::new()));

        for value in [json!("x".repeat(501)), json!([1]), json!({"nested": 1})] {
            let refused = Metadata::parse(pairs(json!({ "order": value }))).unwrap_err();
            assert_eq!(refused, MetadataError::Value("order".into()), "{value}");
            assert_eq!(refused.field(), "metadata.order");
        }
        assert!(Metadata::parse(pairs(json!({ "order": "x".repeat(500) }))).is_ok());
    }
}
