//! `payhub serve` as an operator starts it: time from exec to `/readyz` answering 200 (on a
//! fresh SQLite file, migrations included), and the resident memory once it idles.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::load::until;
use super::{Row, Run, Store, Target};

pub(crate) async fn startup(run: &Run) -> anyhow::Result<Vec<Row>> {
    let scratch = run.scratch(Store::Sqlite).await?;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let started = Instant::now();
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--database-url", &scratch.url, "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("PAYHUB_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let ready_url = format!("http://127.0.0.1:{port}/readyz");
    let ready = until(Duration::from_secs(30), "payhub serve", || {
        let request = http.get(&ready_url).send();
        async move { Ok(request.await.is_ok_and(|r| r.status().is_success())) }
    })
    .await;
    let to_ready = started.elapsed();
    // Idle: workers polling, nothing to do.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = child.id().map(resident_megabytes).transpose();
    let _ = child.kill().await;
    scratch.remove().await;
    ready?;
    let mut rows = vec![Row::single(Target::Startup.name(), "ms", to_ready.as_secs_f64() * 1000.0)];
    if let Some(rss) = rss? {
        rows.push(Row::single("idle-rss-sqlite".into(), "MB", rss));
    }
    Ok(rows)
}

/// VmRSS of a process, from Linux's /proc.
fn resident_megabytes(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for process {pid}"))?;
    Ok(kb / 1024.0)
}
