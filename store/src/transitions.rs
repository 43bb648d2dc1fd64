//! The record of every state change of every resource: "why is this payment refunded?" has
//! an answer at 3 a.m.

use payhub_core::transition::Transition;
use sqlx::Row;

use crate::codec::{json, time, to_json};
use crate::{Database, StoreError, Tx, millis};

impl Tx {
    pub async fn record_transition(&mut self, t: &Transition) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO transitions (resource_id, from_status, to_status, cause, at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                (&t.resource_id).into(),
                (&t.from).into(),
                (&t.to).into(),
                to_json(&t.cause).into(),
                millis(t.at).into(),
            ],
        )
        .await
    }
}

impl Database {
    /// The recorded state changes of a resource, oldest first.
    pub async fn transitions(&self, resource_id: &str) -> Result<Vec<Transition>, StoreError> {
        let sql = "SELECT resource_id, from_status, to_status, cause, at FROM transitions \
                   WHERE resource_id = $1 ORDER BY id";
        let rows = self.read_all(sql, &[resource_id.into()]).await?;
        rows.iter()
            .map(|row| {
                Ok(Transition {
                    resource_id: row.try_get("resource_id")?,
                    from: row.try_get("from_status")?,
                    to: row.try_get("to_status")?,
                    cause: json(row, "cause")?,
                    at: time(row, "at")?,
                })
            })
            .collect()
    }
}
