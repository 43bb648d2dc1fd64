//! `payhub replay` (send past events again) and `payhub reconcile` (ask the providers now).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::remote::{HubClient, Remote};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    remote: Remote,
    /// How far back: a span on the hub's clock (`90m`, `2h`, `3days`) or an RFC 3339 time.
    #[arg(long)]
    since: String,
    /// Only the events created before this (same forms as `--since`); by default up to now.
    #[arg(long)]
    until: Option<String>,
    /// Only to this endpoint (`we_…`); by default to every endpoint whose filter selects the event.
    #[arg(long)]
    endpoint: Option<String>,
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let hub = HubClient::new(&args.remote)?;
    let spinner = ProgressBar::new_spinner().with_message(format!("queueing the events since {}", args.since));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let body = json!({ "since": args.since, "until": args.until, "endpoint": args.endpoint });
    let answer: Result<Value, _> = hub.post("/v1/events/replay", &body).await;
    spinner.finish_and_clear();
    let answer = answer?;
    let to = args.endpoint.map(|e| format!(" to {e}")).unwrap_or_default();
    let until = args.until.map(|u| format!(" until {u}")).unwrap_or_default();
    println!(
        "replaying {} event(s) since {}{until}{to}: {} deliveries queued",
        answer["events"].as_u64().unwrap_or(0),
        args.since,
        answer["queued"].as_u64().unwrap_or(0)
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ReconcileTarget {
    /// Every payment still waiting for the buyer or the provider.
    #[arg(long)]
    all: bool,
    /// This payment only (`pay_…`).
    #[arg(long)]
    payment: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    target: ReconcileTarget,
}

/// Payments in these states can still change at the provider; the others are final.
const OPEN_STATUSES: [&str; 2] = ["requires_action", "processing"];

pub async fn reconcile(args: ReconcileArgs) -> anyhow::Result<()> {
    let hub = HubClient::new(&args.remote)?;
    let ids = match args.target.payment {
        Some(id) => vec![id],
        None => open_payments(&hub).await?,
    };
    let bar = ProgressBar::new(ids.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Lines go to stdout through `suspend`, so they are printed (and kept in a pipe) whether
    // or not the bar is drawn.
    let (mut changed, mut failed) = (0, 0);
    for id in &ids {
        bar.set_message(id.clone());
        let before: Value = hub.get(&format!("/v1/payments/{id}")).await?;
        match hub.post::<Value>(&format!("/v1/payments/{id}/reconcile"), &json!({})).await {
            Ok(after) if after["status"] != before["status"] => {
                changed += 1;
                bar.suspend(|| println!("{id}: {} → {}", text(&before["status"]), text(&after["status"])));
            }
            Ok(after) => bar.suspend(|| println!("{id}: {} (unchanged)", text(&after["status"]))),
            Err(e) => {
                failed += 1;
                bar.suspend(|| println!("✗ {id}: {e:#}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{} payment(s) reconciled: {changed} changed, {failed} failed", ids.len());
    if failed > 0 {
        anyhow::bail!("{failed} payment(s) could not be reconciled; the hub's reconciler tries them again on schedule");
    }
    Ok(())
}

async fn open_payments(hub: &HubClient) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for status in OPEN_STATUSES {
        let mut cursor = String::new();
        loop {
            let page: Value = hub.get(&format!("/v1/payments?status={status}&limit=100{cursor}")).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            ids.extend(data.iter().filter_map(|p| p["id"].as_str().map(str::to_owned)));
            match data.last() {
                Some(last) if page["has_more"] == true => cursor = format!("&starting_after={}", text(&last["id"])),
                _ => break,
            }
        }
    }
    Ok(ids)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("?")
}
