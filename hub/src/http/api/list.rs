//! Cursor pagination, the same for every list: newest first, `limit` (1–100, default 20) and
//! `starting_after` (the last id of the previous page).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
