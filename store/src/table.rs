//! What every resource table shares: read by id, lock, list newest first, insert, and a
//! version-checked update. A resource module describes its table once ([`Table`]: name,
//! columns, how a row becomes the resource) and writes only the queries that are its own.
//!
//! The SQL stays plain text built from the description and a resource's own `WHERE` clause,
//! never from a value: every value goes through a bind parameter ([`Param`]).

use payhub_core::Mode;
use sqlx::any::AnyRow;

use crate::param::Param;
use crate::{Database, Page, StoreError, Tx, page};

/// Ids looked up by one query: well within both databases' limits on bound parameters.
const FIND_CHUNK: usize = 512;

/// A resource's table: its name, its columns in the order inserts bind them, and how one of
/// its rows becomes the resource. `N` makes an insert with a value missing fail to compile.
pub(crate) struct Table<T, const N: usize> {
    pub name: &'static str,
    /// What a row is called in a conflict message (`payment`).
    pub resource: &'static str,
    pub columns: [&'static str; N],
    pub decode: fn(&AnyRow) -> Result<T, StoreError>,
}

impl<T, const N: usize> Table<T, N> {
    /// `SELECT <columns> FROM <name>`, for a `WHERE` clause to follow.
    pub(crate) fn select(&self) -> String {
        format!("SELECT {} FROM {}", self.columns.join(", "), self.name)
    }

    fn insert(&self) -> String {
        let placeholders: Vec<String> = (1..=N).map(|k| format!("${k}")).collect();
        format!("INSERT INTO {} ({}) VALUES ({})", self.name, self.columns.join(", "), placeholders.join(", "))
    }

    /// A page of one mode's rows after a cursor, each of `filters` applying unless its
    /// parameter is empty (so one prepared statement serves every combination). Parameters:
    /// mode, cursor, one per filter, then the row limit.
    fn newest_first(&self, filters: &[&str]) -> String {
        let narrowed: String =
            filters.iter().zip(3..).map(|(column, k)| format!(" AND (${k} = '' OR {column} = ${k})")).collect();
        format!(
            "{} WHERE mode = $1 AND ($2 = '' OR id < $2){narrowed} ORDER BY id DESC LIMIT ${}",
            self.select(),
            filters.len() + 3
        )
    }
}

/// `UPDATE … SET <columns> = $1…, version = version + 1 WHERE id = $k AND version = $k+1`.
fn versioned_update(table: &str, columns: &[&str]) -> String {
    let sets: Vec<String> = columns.iter().zip(1..).map(|(column, k)| format!("{column} = ${k}")).collect();
    let k = columns.len() + 1;
    format!("UPDATE {table} SET {}, version = version + 1 WHERE id = ${k} AND version = ${}", sets.join(", "), k + 1)
}

impl Tx {
    /// Inserts one row; `values` are bound in the order of `table.columns`.
    pub(crate) async fn insert<T, const N: usize>(
        &mut self,
        table: &Table<T, N>,
        values: [Param<'_>; N],
    ) -> Result<(), StoreError> {
        self.execute(&table.insert(), values.into()).await
    }

    /// Reads the row `filter` selects for update, holding its lock until the transaction ends.
    pub(crate) async fn lock_one<T, const N: usize>(
        &mut self,
        table: &Table<T, N>,
        filter: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<T>, StoreError> {
        let sql = format!("{} {filter}{}", table.select(), self.dialect().for_update());
        let row = self.fetch_optional(&sql, params.to_vec()).await?;
        row.as_ref().map(table.decode).transpose()
    }

    pub(crate) async fn lock_by_id<T, const N: usize>(
        &mut self,
        table: &Table<T, N>,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.lock_one(table, "WHERE id = $1", &[id.into()]).await
    }

    /// Writes `changes` (column, value) to row `id` if it still has `version`, and moves the
    /// stored version on by one. A stale version is a [`StoreError::Conflict`]: the check makes
    /// a lost update impossible even if a caller forgot the row lock. The caller then bumps
    /// its in-memory version (`saved()`) to match.
    pub(crate) async fn update_versioned<'a, T, const N: usize>(
        &mut self,
        table: &Table<T, N>,
        id: &'a str,
        version: i64,
        changes: impl IntoIterator<Item = (&'static str, Param<'a>)>,
    ) -> Result<(), StoreError> {
        let (columns, mut params): (Vec<&str>, Vec<Param<'a>>) = changes.into_iter().unzip();
        let sql = versioned_update(table.name, &columns);
        params.extend([id.into(), version.into()]);
        if self.execute_count(&sql, params).await? != 1 {
            return Err(StoreError::Conflict(format!("{} {id}", table.resource)));
        }
        Ok(())
    }
}

impl Database {
    /// The first row `filter` selects, read from committed data.
    pub(crate) async fn find_one<T, const N: usize>(
        &self,
        table: &Table<T, N>,
        filter: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<T>, StoreError> {
        let row = self.read_optional(&format!("{} {filter}", table.select()), params).await?;
        row.as_ref().map(table.decode).transpose()
    }

    /// Every row `filter` selects, in the order it names.
    pub(crate) async fn find_all<T, const N: usize>(
        &self,
        table: &Table<T, N>,
        filter: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.read_all(&format!("{} {filter}", table.select()), params).await?;
        rows.iter().map(table.decode).collect()
    }

    /// A row by id, whatever its mode (for workers, which act on behalf of the provider).
    pub(crate) async fn find_by_id<T, const N: usize>(
        &self,
        table: &Table<T, N>,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.find_one(table, "WHERE id = $1", &[id.into()]).await
    }

    /// The rows with one of `ids`, whatever their mode, in one query (ids not found are
    /// left out).
    pub(crate) async fn find_by_ids<T, const N: usize>(
        &self,
        table: &Table<T, N>,
        ids: &[&str],
    ) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(FIND_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
            let sql = format!("{} WHERE id IN ({})", table.select(), placeholders.join(", "));
            let params: Vec<Param<'_>> = chunk.iter().map(|id| (*id).into()).collect();
            let rows = self.read_all(&sql, &params).await?;
            found.extend(rows.iter().map(table.decode).collect::<Result<Vec<_>, _>>()?);
        }
        Ok(found)
    }

    /// A row by id, only in `mode`: a test key never sees live data, nor the reverse.
    pub(crate) async fn find_in_mode<T, const N: usize>(
        &self,
        table: &Table<T, N>,
        mode: Mode,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.find_one(table, "WHERE id = $1 AND mode = $2", &[id.into(), mode.as_str().into()]).await
    }

    /// A page of `mode`'s rows, newest first (ids sort by creation time), after the id
    /// `starting_after`, narrowed by `filters`: each (column, value) applies when a value is given.
    pub(crate) async fn list_newest_first<T, const N: usize>(
        &self,
        table: &Table<T, N>,
        mode: Mode,
        filters: &[(&'static str, Option<&str>)],
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<T>, StoreError> {
        let columns: Vec<&str> = filters.iter().map(|(column, _)| *column).collect();
        let mut params: Vec<Param<'_>> = vec![mode.as_str().into(), starting_after.unwrap_or("").into()];
        params.extend(filters.iter().map(|(_, value)| value.unwrap_or("").into()));
        params.push((i64::from(limit) + 1).into());
        let sql = table.newest_first(&columns);
        let rows = self.read_all(&sql, &params).await?;
        page(rows, limit, table.decode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(_: &AnyRow) -> Result<(), StoreError> {
        Ok(())
    }

    const WIDGETS: Table<(), 3> =
        Table { name: "widgets", resource: "widget", columns: ["id", "mode", "status"], decode };

    #[test]
    fn an_insert_has_one_placeholder_per_column() {
        assert_eq!(WIDGETS.insert(), "INSERT INTO widgets (id, mode, status) VALUES ($1, $2, $3)");
    }

    #[test]
    fn a_list_filter_applies_only_when_its_parameter_is_not_empty() {
        assert_eq!(
            WIDGETS.newest_first(&["status"]),
            "SELECT id, mode, status FROM widgets WHERE mode = $1 AND ($2 = '' OR id < $2) \
             AND ($3 = '' OR status = $3) ORDER BY id DESC LIMIT $4"
        );
        assert_eq!(
            WIDGETS.newest_first(&[]),
            "SELECT id, mode, status FROM widgets WHERE mode = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
        );
    }

    #[test]
    fn an_update_writes_only_over_the_version_it_read_and_moves_it_on() {
        assert_eq!(
            versioned_update("widgets", &["status", "updated_at"]),
            "UPDATE widgets SET status = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4"
        );
    }
}
