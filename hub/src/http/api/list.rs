//! Cursor pagination, the same for every list: newest first, `limit` (1–100, default 20) and
//! `starting_after` (the last id of the previous page).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use payhub_core::id::InvalidId;

use crate::http::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many items (1–100, default 20).
    pub limit: Option<u32>,
    /// The id of the last item of the previous page.
    pub starting_after: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(20),
            Some(n @ 1..=100) => Ok(n),
            Some(_) => Err(ApiError::invalid("limit", "must be between 1 and 100")),
        }
    }

    /// The cursor, checked to be an id of the listed kind (`parse` is that id's parser): a
    /// mistyped cursor is an error, not a silently empty page.
    pub fn cursor<Id>(&self, parse: fn(&str) -> Result<Id, InvalidId>) -> Result<Option<&str>, ApiError> {
        match self.starting_after.as_deref() {
            None => Ok(None),
            Some(cursor) => match parse(cursor) {
                Ok(_) => Ok(Some(cursor)),
                Err(e) => Err(ApiError::invalid("starting_after", e.to_string())),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    /// Whether another page follows; fetch it with `starting_after` = `next_cursor`.
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    pub fn new(data: Vec<T>, has_more: bool, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = if has_more { data.last().map(cursor) } else { None };
        Self { data, has_more, next_cursor }
    }
}
