//! Values bound to query parameters, so that queries assembled at run time still take every
//! value as a parameter, never as SQL text.

use std::borrow::Cow;

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use crate::codec::trusted;

/// A value bound to a query parameter. Times are stored as milliseconds and JSON as text, so
/// text and integers cover every column of a resource table; bytes are a stored answer's body.
#[derive(Debug, Clone)]
pub(crate) enum Param<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Bytes(Cow<'a, [u8]>),
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(value: &'a [u8]) -> Self {
        Param::Bytes(Cow::Borrowed(value))
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}

impl From<String> for Param<'_> {
    fn from(value: String) -> Self {
        Param::Text(Some(Cow::Owned(value)))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Param::Text(value.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(value: &'a Option<String>) -> Self {
        Param::Text(value.as_deref().map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Param<'_> {
    fn from(value: Option<String>) -> Self {
        Param::Text(value.map(Cow::Owned))
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl Param<'_> {
    /// The value with a copy of anything it borrowed, for a statement run elsewhere.
    pub(crate) fn into_owned(self) -> Param<'static> {
        match self {
            Param::Text(text) => Param::Text(text.map(|text| Cow::Owned(text.into_owned()))),
            Param::Int(number) => Param::Int(number),
            Param::Bytes(bytes) => Param::Bytes(Cow::Owned(bytes.into_owned())),
        }
    }
}

/// `sql` with `params` bound to `$1`, `$2`… in order.
pub(crate) fn query(sql: String, params: &[Param<'_>]) -> Query<'static, Any, AnyArguments> {
    params.iter().fold(sqlx::query(trusted(sql)), |query, param| match param {
        Param::Text(text) => query.bind(text.as_deref()),
        Param::Int(number) => query.bind(*number),
        Param::Bytes(bytes) => query.bind(bytes.to_vec()),
    })
}
