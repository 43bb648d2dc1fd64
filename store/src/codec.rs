//! Reading rows back into domain types. Stored values are trusted to be ours, but a manual edit
//! or a bug must surface as [`StoreError::Corrupt`], never as a panic.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::StoreError;

pub(crate) fn time(row: &AnyRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    let millis: i64 = row.try_get(column)?;
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Corrupt(format!("{column} = {millis} is not a time")))
}

pub(crate) fn opt_time(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let millis: Option<i64> = row.try_get(column)?;
    millis
        .map(|m| {
            DateTime::from_timestamp_millis(m)
                .ok_or_else(|| StoreError::Corrupt(format!("{column} = {m} is not a time")))
        })
        .transpose()
}

pub(crate) fn json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(crate) fn opt_json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))).transpose()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Our own plain-data types always serialize.
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Parses a stored name (status, mode, provider) with the type's own parser.
pub(crate) fn parsed<T>(row: &AnyRow, column: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{column} = `{text}` is not known")))
}

/// Marks a query assembled with `format!` as safe. Only compile-time constants (column lists,
/// dialect keywords) are ever interpolated; every value goes through a bind parameter.
pub(crate) fn trusted(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}
