//! This process among those sharing the database: registered at start, beating while it runs,
//! stopped when it stops. An in-progress API request belongs to its process; a client retrying
//! it after that process died takes it over at once instead of waiting out a timeout.

use std::time::Duration;

use chrono::{DateTime, Utc};
use payhub_core::IdGenerator;
use payhub_core::id::InstanceId;
use payhub_store::InstanceIdentity;

use crate::app::Hub;
use crate::workers::Shutdown;

/// Well inside `payhub_store::INSTANCE_SILENT_AFTER`, so a busy moment is not taken for death.
const BEAT_EVERY: Duration = Duration::from_secs(1);

pub fn identity(ids: &IdGenerator, now: DateTime<Utc>) -> InstanceIdentity {
    InstanceIdentity { id: InstanceId::generate(ids, now).to_string(), host: host_name(), pid: std::process::id() }
}

/// Registers this process. A database that cannot be reached now is tried again by [`beat`];
/// until then this process's keys are judged by their age, as before it existed.
pub async fn register(hub: &Hub) {
    if let Err(e) = hub.db.register_instance(&hub.instance, process_exists, hub.clock.now()).await {
        tracing::warn!(error = %e, "could not register this instance; will retry");
    }
}

/// Beats until shutdown. A beat that finds no running registration (it failed at start, or
/// the row was marked stopped) registers again.
pub async fn beat(hub: Hub, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.requested() => return,
            () = tokio::time::sleep(BEAT_EVERY) => {}
        }
        match hub.db.instance_heartbeat(&hub.instance.id, hub.clock.now()).await {
            Ok(true) => {}
            Ok(false) => register(&hub).await,
            Err(e) => tracing::warn!(error = %e, "instance heartbeat failed"),
        }
    }
}

/// Said once nothing of this process runs any more: its keys are free at once.
pub async fn stop(hub: &Hub) {
    if let Err(e) = hub.db.stop_instance(&hub.instance.id, hub.clock.now()).await {
        tracing::warn!(error = %e, "could not record this instance's stop");
    }
}

/// The host's name, which with the pid tells a restarted process its own predecessors.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether a process of this pid exists on this host. Where the process table cannot be read,
/// every process is assumed to exist, and only a silent heartbeat shows one is gone.
fn process_exists(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}
