//! Reading Ping++ requests: JSON bodies (every official SDK sends JSON), their typed fields, and
//! list queries with Ping++'s paging (`limit`, `starting_after`, `ending_before`; orders also
//! `page`, `per_page`). Every bad input becomes an `invalid_request_error` naming the parameter.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::errors::ApiError;

/// A charge cannot exceed a hundred million yuan here, which keeps every sum far from overflow.
pub const MAX_AMOUNT: i64 = 10_000_000_000;
const DEFAULT_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 100;

pub type Fields = Map<String, Value>;

/// The body as a JSON object; an empty body or `null` (what the Python SDK sends for a POST
/// without parameters) reads as `{}`.
pub fn object(body: &[u8]) -> Result<Fields, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(Value::Null) => Ok(Fields::new()),
        _ => Err(ApiError::malformed_json()),
    }
}

fn present<'a>(fields: &'a Fields, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|value| !value.is_null())
}

pub fn optional_str(fields: &Fields, name: &str) -> Result<Option<String>, ApiError> {
    match present(fields, name) {
        None => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::invalid_param(name, format!("参数 {name} 应为字符串。"))),
    }
}

pub fn required_str(fields: &Fields, name: &str) -> Result<String, ApiError> {
    optional_str(fields, name)?.ok_or_else(|| ApiError::missing_param(name))
}

/// A string of at most `max` characters (Ping++'s limits on `subject`, `body`, …).
pub fn limited_str(fields: &Fields, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    let text = optional_str(fields, name)?;
    if let Some(text) = &text
        && text.chars().count() > max
    {
        return Err(ApiError::invalid_param(name, format!("参数 {name} 最长 {max} 个字符。")));
    }
    Ok(text)
}

/// A positive whole number of fen.
pub fn optional_amount(fields: &Fields, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(value) = present(fields, name) else {
        return Ok(None);
    };
    match value.as_i64() {
        Some(amount) if (1..=MAX_AMOUNT).contains(&amount) => Ok(Some(amount)),
        _ => Err(ApiError::invalid_param(name, format!("参数 {name} 应为 1 到 {MAX_AMOUNT} 之间的整数，单位为分。"))),
    }
}

pub fn required_amount(fields: &Fields, name: &str) -> Result<i64, ApiError> {
    optional_amount(fields, name)?.ok_or_else(|| ApiError::missing_param(name))
}

/// Ping++ takes `cny` only; an absent currency is allowed where Ping++ defaults it.
pub fn currency(fields: &Fields, required: bool) -> Result<(), ApiError> {
    match optional_str(fields, "currency")? {
        None if required => Err(ApiError::missing_param("currency")),
        None => Ok(()),
        Some(currency) if currency == "cny" => Ok(()),
        Some(currency) => Err(ApiError::invalid_param(
            "currency",
            format!("参数 currency 不正确：不支持的币种 {currency}，仅支持 cny。"),
        )),
    }
}

/// `metadata`: an object (absent → `{}`).
pub fn metadata(fields: &Fields) -> Result<Value, ApiError> {
    match present(fields, "metadata") {
        None => Ok(Value::Object(Map::new())),
        Some(Value::Object(metadata)) => Ok(Value::Object(metadata.clone())),
        Some(_) => Err(ApiError::invalid_param("metadata", "参数 metadata 应为对象。")),
    }
}

pub fn extra(fields: &Fields) -> Result<Map<String, Value>, ApiError> {
    match present(fields, "extra") {
        None => Ok(Map::new()),
        Some(Value::Object(extra)) => Ok(extra.clone()),
        Some(_) => Err(ApiError::invalid_param("extra", "参数 extra 应为对象。")),
    }
}

/// A Unix timestamp in seconds that must lie in the future.
pub fn future_time(fields: &Fields, name: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(value) = present(fields, name) else {
        return Ok(None);
    };
    let at = value
        .as_i64()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| ApiError::invalid_param(name, format!("参数 {name} 应为 Unix 时间戳。")))?;
    if at <= now {
        return Err(ApiError::invalid_param(name, format!("参数 {name} 必须晚于当前时间。")));
    }
    Ok(Some(at))
}

/// `app` as a string id or as `{"id": …}` (charges use the latter, orders the former).
pub fn app_id(fields: &Fields) -> Result<String, ApiError> {
    match present(fields, "app") {
        None => Err(ApiError::missing_param("app")),
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.clone()),
        Some(Value::Object(app)) => match app.get("id").and_then(Value::as_str) {
            Some(id) if !id.trim().is_empty() => Ok(id.to_owned()),
            _ => Err(ApiError::missing_param("app[id]")),
        },
        Some(_) => Err(ApiError::invalid_param("app", "参数 app 不正确。")),
    }
}

/// A list query's parameters, as decoded from the URL (`app[id]` keeps its brackets).
pub struct ListQuery(Vec<(String, String)>);

impl ListQuery {
    pub fn parse(query: Option<&str>) -> Self {
        Self(url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).filter(|value| !value.is_empty())
    }

    pub fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid_param(name, format!("参数 {name} 应为 true 或 false。"))),
        }
    }

    fn size(&self, name: &str) -> Result<Option<usize>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => match text.parse::<usize>() {
                Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Ok(Some(size)),
                _ => Err(ApiError::invalid_param(name, format!("参数 {name} 应为 1 到 {MAX_PAGE_SIZE} 之间的整数。"))),
            },
        }
    }

    /// `created[gt|gte|lt|lte]` bounds, as Unix seconds.
    pub fn created_within(&self, at: DateTime<Utc>) -> Result<bool, ApiError> {
        let seconds = at.timestamp();
        for bound in ["created[gt]", "created[gte]", "created[lt]", "created[lte]"] {
            let Some(text) = self.get(bound) else {
                continue;
            };
            let limit: i64 =
                text.parse().map_err(|_| ApiError::invalid_param(bound, format!("参数 {bound} 应为 Unix 时间戳。")))?;
            let inside = match bound {
                "created[gt]" => seconds > limit,
                "created[gte]" => seconds >= limit,
                "created[lt]" => seconds < limit,
                _ => seconds <= limit,
            };
            if !inside {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One page of `items` (newest first) and whether more lie beyond it.
    pub fn page<'a, T>(&self, items: Vec<&'a T>, id_of: impl Fn(&T) -> &str) -> Result<(Vec<&'a T>, bool), ApiError> {
        if let Some(page) = self.get("page") {
            let page: usize = page
                .parse()
                .ok()
                .filter(|page| *page >= 1)
                .ok_or_else(|| ApiError::invalid_param("page", "参数 page 应为正整数。"))?;
            let per_page = self.size("per_page")?.unwrap_or(DEFAULT_PAGE_SIZE);
            let start = (page - 1).saturating_mul(per_page);
            let has_more = items.len() > start.saturating_add(per_page);
            let data = items.into_iter().skip(start).take(per_page).collect();
            return Ok((data, has_more));
        }
        let limit = self.size("limit")?.unwrap_or(DEFAULT_PAGE_SIZE);
        let position = |name: &str, id: &str| {
            items
                .iter()
                .position(|item| id_of(item) == id)
                .ok_or_else(|| ApiError::invalid_param(name, format!("参数 {name} 不正确：找不到 {id}。")))
        };
        if let Some(cursor) = self.get("starting_after") {
            let after = position("starting_after", cursor)? + 1;
            let has_more = items.len() > after + limit;
            return Ok((items.into_iter().skip(after).take(limit).collect(), has_more));
        }
        if let Some(cursor) = self.get("ending_before") {
            let before = position("ending_before", cursor)?;
            let start = before.saturating_sub(limit);
            let data = items[start..before].to_vec();
            return Ok((data, start > 0));
        }
        let has_more = items.len() > limit;
        Ok((items.into_iter().take(limit).collect(), has_more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn amounts_must_be_positive_whole_fen() {
        for bad in [json!(0), json!(-1), json!(1.5), json!("100"), json!(MAX_AMOUNT + 1)] {
            let error = required_amount(&fields(json!({ "amount": bad })), "amount").unwrap_err();
            assert_eq!(error.param.as_deref(), Some("amount"), "{bad}");
        }
        assert_eq!(required_amount(&fields(json!({ "amount": 100 })), "amount"), Ok(100));
    }

    #[test]
    fn only_cny_is_accepted() {
        let error = currency(&fields(json!({ "currency": "usd" })), true).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("currency"));
        assert!(currency(&fields(json!({ "currency": "cny" })), true).is_ok());
        assert!(currency(&fields(json!({})), false).is_ok());
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_malformed() {
        assert!(object(b"").unwrap().is_empty());
        assert!(object(b"null").unwrap().is_empty());
        assert!(object(b"[1]").is_err());
        assert!(object(b"{").is_err());
    }

    #[test]
    fn cursors_page_newest_first() {
        let items = ["e", "d", "c", "b", "a"];
        let refs: Vec<&&str> = items.iter().collect();
        let query = ListQuery::parse(Some("limit=2&starting_after=d"));
        let (page, more) = query.page(refs.clone(), |item| item).unwrap();
        assert_eq!(page, vec![&"c", &"b"]);
        assert!(more);
        let query = ListQuery::parse(Some("limit=2&ending_before=b"));
        let (page, more) = query.page(refs.clone(), |item| item).unwrap();
        assert_eq!(page, vec![&"d", &"c"]);
        assert!(more);
        let query = ListQuery::parse(Some("page=3&per_page=2"));
        let (page, more) = query.page(refs.clone(), |item| item).unwrap();
        assert_eq!(page, vec![&"a"]);
        assert!(!more);
        assert!(ListQuery::parse(Some("limit=0")).page(refs.clone(), |item| item).is_err());
        assert!(ListQuery::parse(Some("starting_after=zz")).page(refs, |item| item).is_err());
    }
}
