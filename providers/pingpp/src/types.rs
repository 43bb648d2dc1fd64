//! Pieces shared by every object: lists, list parameters, metadata, and the lenient decoding
//! rules Ping++'s answers need (fields that are sometimes `null`, enums that grow).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Ping++'s `metadata`: a flat JSON object of the merchant's own keys.
pub type Metadata = Map<String, Value>;

/// A page of objects: `{"object": "list", "url", "has_more", "data": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct List<T> {
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub has_more: bool,
    #[serde(default = "Vec::new", deserialize_with = "null_as_default", bound(deserialize = "T: Deserialize<'de>"))]
    pub data: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self { object: "list".to_owned(), url: String::new(), has_more: false, data: Vec::new() }
    }
}

/// Filters and paging for list calls. Charges and charge refunds page with `limit` and
/// `starting_after`/`ending_before` (ids); orders and order refunds page with `page` and
/// `per_page`. Unset fields are not sent. The client adds the app itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// 1 to 100 objects per page.
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    pub created: CreatedRange,
    pub channel: Option<String>,
    pub paid: Option<bool>,
    pub refunded: Option<bool>,
    pub reversed: Option<bool>,
    /// Any further `name=value` filter, sent as given after the ones above.
    pub extra: Vec<(String, String)>,
}

/// `created[gt]`, `created[gte]`, `created[lt]`, `created[lte]` in unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreatedRange {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl ListParams {
    /// The query pairs in a fixed order, so a request and its signature are reproducible.
    pub(crate) fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut push = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((name.to_owned(), value));
            }
        };
        push("limit", self.limit.map(|v| v.to_string()));
        push("starting_after", self.starting_after.clone());
        push("ending_before", self.ending_before.clone());
        push("page", self.page.map(|v| v.to_string()));
        push("per_page", self.per_page.map(|v| v.to_string()));
        push("created[gt]", self.created.gt.map(|v| v.to_string()));
        push("created[gte]", self.created.gte.map(|v| v.to_string()));
        push("created[lt]", self.created.lt.map(|v| v.to_string()));
        push("created[lte]", self.created.lte.map(|v| v.to_string()));
        push("channel", self.channel.clone());
        push("paid", self.paid.map(|v| v.to_string()));
        push("refunded", self.refunded.map(|v| v.to_string()));
        push("reversed", self.reversed.map(|v| v.to_string()));
        pairs.extend(self.extra.iter().cloned());
        pairs
    }
}

/// Reads `null` as the type's default; Ping++ writes `null` for many fields that are usually
/// an object, a list, a number or `false`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads an app reference written either as its id or as `{"id": …}`.
pub(crate) fn app_id<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum AppRef {
        Id(String),
        Object { id: String },
    }
    Ok(match Option::<AppRef>::deserialize(deserializer)? {
        Some(AppRef::Id(id) | AppRef::Object { id }) => id,
        None => String::new(),
    })
}

// Ping++ adds values over time; the shared pattern keeps an unknown one as `Other`.
pub(crate) use payhub_provider_kit::wire_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_are_sent_in_a_fixed_order_with_only_the_set_fields() {
        let params = ListParams {
            limit: Some(10),
            starting_after: Some("ch_a".into()),
            created: CreatedRange { gte: Some(1_735_689_600), ..CreatedRange::default() },
            paid: Some(true),
            extra: vec![("time_succeed[gt]".into(), "1".into())],
            ..ListParams::default()
        };
        let pairs: Vec<(String, String)> = params.to_pairs();
        let names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["limit", "starting_after", "created[gte]", "paid", "time_succeed[gt]"]);
        assert_eq!(pairs[3].1, "true");
        assert!(ListParams::default().to_pairs().is_empty());
    }

    #[test]
    fn null_fields_of_a_list_read_as_empty() {
        let list: List<u32> =
            serde_json::from_str(r#"{"object":"list","url":null,"has_more":null,"data":null}"#).expect("list");
        assert_eq!(list.url, "");
        assert!(!list.has_more);
        assert!(list.data.is_empty());
    }
}
