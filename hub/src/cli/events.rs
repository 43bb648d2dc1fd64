//! `payhub events tail` and `payhub events resend`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::remote::{HubClient, Remote};

#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Print events as the hub records them (Ctrl-C to stop).
    Tail {
        #[command(flatten)]
        remote: Remote,
        /// Only events of this type (`payment.succeeded`).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// How often the hub is asked.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        interval: Duration,
    },
    /// Send an event again: to every endpoint it went to, or to one endpoint.
    Resend {
        #[command(flatten)]
        remote: Remote,
        /// The event (`evt_…`).
        event_id: String,
        /// Only to this endpoint (`we_…`), even one it never went to.
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
struct Page {
    data: Vec<Value>,
    has_more: bool,
}

pub async fn run(command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Tail { remote, event_type, interval } => {
            let hub = HubClient::new(&remote)?;
            tokio::select! {
                tailed = tail(&hub, event_type.as_deref(), interval) => tailed,
                stopped = super::serve::stop_requested() => Ok(stopped?),
            }
        }
        EventsCommand::Resend { remote, event_id, endpoint } => {
            let hub = HubClient::new(&remote)?;
            let path = match &endpoint {
                Some(endpoint) => format!("/v1/events/{event_id}/redeliver?endpoint={endpoint}"),
                None => format!("/v1/events/{event_id}/redeliver"),
            };
            let answer: Value = hub.post(&path, &json!({})).await?;
            let queued = answer["queued"].as_u64().unwrap_or(0);
            match (&endpoint, queued) {
                (Some(endpoint), _) => println!("{event_id} queued again for {endpoint}"),
                (None, 0) => println!("{event_id} went to no endpoint; name one with --endpoint"),
                (None, n) => println!("{event_id} queued again for {n} endpoint(s)"),
            }
            Ok(())
        }
    }
}

/// Asks for the newest events every `interval` and prints those not seen yet, oldest first.
/// Only what happens from now on is printed.
async fn tail(hub: &HubClient, event_type: Option<&str>, interval: Duration) -> anyhow::Result<()> {
    let filter = event_type.map(|t| format!("&type={t}")).unwrap_or_default();
    let mut newest = newer_than(hub, &filter, None).await?.last().map(id_of);
    println!(
        "tailing {}events at {}; Ctrl-C to stop",
        event_type.map(|t| format!("{t} ")).unwrap_or_default(),
        hub.base()
    );
    loop {
        tokio::time::sleep(interval).await;
        let fresh = newer_than(hub, &filter, newest.as_deref()).await?;
        for event in &fresh {
            println!(
                "{}  {:<28} {}  {}",
                event["created_at"].as_str().unwrap_or(""),
                event["type"].as_str().unwrap_or("?"),
                id_of(event),
                event["resource_id"].as_str().unwrap_or("")
            );
        }
        if let Some(last) = fresh.last() {
            newest = Some(id_of(last));
        }
    }
}

/// Events after `seen` (all of the first page when nothing was seen yet), oldest first.
async fn newer_than(hub: &HubClient, filter: &str, seen: Option<&str>) -> anyhow::Result<Vec<Value>> {
    let mut fresh = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Page = hub.get(&format!("/v1/events?limit=100{filter}{cursor}")).await?;
        let reached = page.data.iter().position(|e| Some(id_of(e).as_str()) == seen);
        let take = reached.unwrap_or(page.data.len());
        fresh.extend(page.data[..take].iter().cloned());
        let Some(last) = page.data.last() else { break };
        if reached.is_some() || !page.has_more || seen.is_none() {
            break;
        }
        cursor = format!("&starting_after={}", id_of(last));
    }
    fresh.reverse();
    Ok(fresh)
}

fn id_of(event: &Value) -> String {
    event["id"].as_str().unwrap_or_default().to_owned()
}
