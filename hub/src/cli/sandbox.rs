//! `payhub sandbox clock …`: moves the simulators' test clock from the command line (with
//! `serve --sandbox`, the hub's clock moves with it).

use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Show or move the test clock.
    Clock {
        #[command(subcommand)]
        command: ClockCommand,
        /// A simulator's base URL (either simulator serves the shared clock).
        #[arg(long, global = true, default_value = "http://127.0.0.1:8081")]
        url: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Print the test clock's time.
    Show,
    /// Move the clock forward and run everything due meanwhile (renewals, retries, expiries),
    /// in order. Examples: 30d, 3h, 90m, 1w.
    Advance { by: String },
}

pub async fn run(action: SandboxAction) -> anyhow::Result<()> {
    let SandboxAction::Clock { command, url } = action;
    let base = url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let unreachable =
        |e: reqwest::Error| anyhow::anyhow!("cannot reach the sandbox at {base} ({e}); start it or pass --url");
    let answer: Value = match command {
        ClockCommand::Show => {
            client.get(format!("{base}/sandbox/clock")).send().await.map_err(unreachable)?.json().await?
        }
        ClockCommand::Advance { by } => {
            let response = client
                .post(format!("{base}/sandbox/clock/advance"))
                .json(&json!({ "by": by }))
                .send()
                .await
                .map_err(unreachable)?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                anyhow::bail!("the sandbox refused: {body}");
            }
            body
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
