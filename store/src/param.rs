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
    fn into_owned(self) -> Param<'static> {
        match self {
            Param::Text(text) => Param::Text(text.map(|text| Cow::Owned(text.into_owned()))),
            Param::Int(number) => Param::Int(number),
            Param::Bytes(bytes) => Param::Bytes(Cow::Owned(bytes.into_owned())),
        }
    }
}

/// Statements held back to be sent ahead of a later one, as one list in one string: SQLite
/// runs such a list in one call. Placeholders are numbered over the whole list (`$k` is its
/// k-th value), so each statement's are moved past the values of those before it; a held
/// statement uses numbered placeholders only and has no `$` in its text otherwise.
#[derive(Debug, Default)]
pub(crate) struct Held {
    sql: String,
    params: Vec<Param<'static>>,
}

impl Held {
    pub(crate) fn push(&mut self, sql: &str, params: Vec<Param<'_>>) {
        debug_assert!(!sql.contains('?'), "a held statement numbers its placeholders: {sql}");
        self.append(sql);
        self.params.extend(params.into_iter().map(Param::into_owned));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sql.is_empty()
    }

    /// Puts a statement without placeholders (transaction control) ahead of those held.
    pub(crate) fn put_first(&mut self, sql: &'static str) {
        debug_assert!(!sql.contains('$') && !sql.contains('?'), "a statement put first has no values: {sql}");
        self.sql = if self.sql.is_empty() { sql.to_owned() } else { format!("{sql};\n{}", self.sql) };
    }

    /// The held statements and their values, leaving none held.
    pub(crate) fn take(&mut self) -> Option<(String, Vec<Param<'static>>)> {
        (!self.is_empty()).then(|| (std::mem::take(&mut self.sql), std::mem::take(&mut self.params)))
    }

    /// `sql` with its `params` after the held statements (which are then no longer held): the
    /// list runs in order, and only `sql` answers with rows.
    pub(crate) fn ahead_of<'a>(&mut self, sql: String, params: Vec<Param<'a>>) -> (String, Vec<Param<'a>>) {
        if self.is_empty() {
            return (sql, params);
        }
        self.append(&sql);
        let (list, held) = self.take().unwrap_or_default();
        let mut values: Vec<Param<'a>> = held;
        values.extend(params);
        (list, values)
    }

    /// Appends `sql`, its values to follow the held ones.
    fn append(&mut self, sql: &str) {
        if !self.sql.is_empty() {
            self.sql.push_str(";\n");
        }
        renumber(sql, self.params.len(), &mut self.sql);
    }
}

/// Writes `sql` to `out` with every placeholder `$k` moved on by `offset`.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(k) => out.push_str(&(k + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

/// `sql` with `params` bound to `$1`, `$2`… in order.
pub(crate) fn query(sql: String, params: &[Param<'_>]) -> Query<'static, Any, AnyArguments> {
    params.iter().fold(sqlx::query(trusted(sql)), |query, param| match param {
        Param::Text(text) => query.bind(text.as_deref()),
        Param::Int(number) => query.bind(*number),
        Param::Bytes(bytes) => query.bind(bytes.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_statements_number_their_values_over_the_whole_list() {
        let mut held = Held::default();
        assert!(held.take().is_none());
        held.push("INSERT INTO a (x, y) VALUES ($1, $2)", vec![1.into(), "one".into()]);
        held.push("UPDATE b SET x = $1 WHERE id = $2 OR other = $2", vec![2.into(), 3.into()]);
        let (sql, params) = held.ahead_of("SELECT x FROM c WHERE id = $1".to_owned(), vec![4.into()]);
        assert_eq!(
            sql,
            "INSERT INTO a (x, y) VALUES ($1, $2);\nUPDATE b SET x = $3 WHERE id = $4 OR other = $4;\n\
             SELECT x FROM c WHERE id = $5"
        );
        let ints: Vec<Option<i64>> = params
            .iter()
            .map(|p| match p {
                Param::Int(n) => *n,
                Param::Text(_) | Param::Bytes(_) => None,
            })
            .collect();
        assert_eq!(ints, [Some(1), None, Some(2), Some(3), Some(4)]);
        assert!(held.take().is_none(), "the list was taken whole");
    }

    #[test]
    fn a_statement_with_nothing_held_goes_as_it_is() {
        let mut held = Held::default();
        let (sql, params) = held.ahead_of("SELECT $1".to_owned(), vec![1.into()]);
        assert_eq!((sql.as_str(), params.len()), ("SELECT $1", 1));
    }
}
