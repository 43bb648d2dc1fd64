//! The hub processes serving this database. Each registers at start, beats while it runs and
//! says when it stops; work a process holds only while it runs (an in-progress API request)
//! is free for others once the process is known to be gone.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{Database, StoreError, millis};

/// A process that has not beaten for this long is gone (a beat is sent every second or so).
pub const INSTANCE_SILENT_AFTER: chrono::Duration = chrono::Duration::seconds(5);

/// Where and as what a hub process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    pub id: String,
    pub host: String,
    pub pid: u32,
}

/// What is known of a process that holds some work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Running,
    /// It stopped, was found dead, or went silent.
    Gone,
    /// No process of that id ever registered here.
    Unknown,
}

impl Database {
    /// Registers this process, and marks as stopped the earlier processes of the same host
    /// that `still_running` says no longer exist: a restarted node frees its predecessor's
    /// work at once rather than when its heartbeat runs out.
    pub async fn register_instance(
        &self,
        me: &InstanceIdentity,
        still_running: impl Fn(u32) -> bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let rows = tx
            .fetch_all(
                "SELECT id, pid FROM hub_instances WHERE host = $1 AND stopped_at IS NULL",
                vec![(&me.host).into()],
            )
            .await?;
        for row in rows {
            let id: String = row.try_get("id")?;
            let pid: i64 = row.try_get("pid")?;
            // The same pid as this process is an earlier life of it (a container restarted):
            // that process is gone whatever the process table says.
            let gone = match u32::try_from(pid) {
                Ok(pid) => pid == me.pid || !still_running(pid),
                Err(_) => true,
            };
            if gone && id != me.id {
                tx.execute(
                    "UPDATE hub_instances SET stopped_at = $1 WHERE id = $2 AND stopped_at IS NULL",
                    vec![millis(now).into(), (&id).into()],
                )
                .await?;
            }
        }
        tx.execute(
            "INSERT INTO hub_instances (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = $4, stopped_at = NULL",
            vec![(&me.id).into(), (&me.host).into(), i64::from(me.pid).into(), millis(now).into()],
        )
        .await?;
        tx.commit().await
    }

    /// Whether this process still ran as registered (false: register again).
    pub async fn instance_heartbeat(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let sql = "UPDATE hub_instances SET heartbeat_at = $1 WHERE id = $2 AND stopped_at IS NULL";
        Ok(self.write(sql, &[millis(now).into(), id.into()]).await? == 1)
    }

    /// Said by a process stopping cleanly: what it still holds is free at once.
    pub async fn stop_instance(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let sql = "UPDATE hub_instances SET stopped_at = $1 WHERE id = $2 AND stopped_at IS NULL";
        self.write(sql, &[millis(now).into(), id.into()]).await.map(drop)
    }

    /// Forgets processes stopped before `before`; nothing refers to them any more.
    pub async fn purge_stopped_instances(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write(
            "DELETE FROM hub_instances WHERE stopped_at IS NOT NULL AND stopped_at < $1",
            &[millis(before).into()],
        )
        .await
    }
}

/// Whether the process `id` still runs, read inside `tx`.
pub(crate) async fn liveness(tx: &mut crate::Tx, id: &str, now: DateTime<Utc>) -> Result<Liveness, StoreError> {
    let row =
        tx.fetch_optional("SELECT heartbeat_at, stopped_at FROM hub_instances WHERE id = $1", vec![id.into()]).await?;
    let Some(row) = row else { return Ok(Liveness::Unknown) };
    let stopped: Option<i64> = row.try_get("stopped_at")?;
    let heartbeat: i64 = row.try_get("heartbeat_at")?;
    let silent = heartbeat < millis(now - INSTANCE_SILENT_AFTER);
    Ok(if stopped.is_some() || silent { Liveness::Gone } else { Liveness::Running })
}
