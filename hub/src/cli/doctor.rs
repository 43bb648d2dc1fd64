//! `payhub doctor`: one line per check, ✓ or ✗, and the fix for each failure. The hub runs the
//! checks (`GET /v1/diagnostics`) from where it runs; this command adds only what it alone can
//! see: whether the hub answers at all and whether the key is accepted.

use serde_json::Value;

use super::remote::{HubClient, Remote, is_problem};

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: DoctorArgs) -> anyhow::Result<()> {
    let hub = HubClient::new(&args.remote)?;
    let reachable = reqwest::get(format!("{}/healthz", hub.base())).await;
    match reachable {
        Ok(answer) if answer.status().is_success() => passed("hub reachable", hub.base()),
        Ok(answer) => {
            failed("hub reachable", &format!("{}/healthz answered {}", hub.base(), answer.status()), FIX_URL);
            anyhow::bail!("the hub is not healthy");
        }
        Err(e) => {
            failed("hub reachable", &format!("{}: {e}", hub.base()), FIX_URL);
            anyhow::bail!("the hub cannot be reached");
        }
    }
    let diagnostics: Value = match hub.get("/v1/diagnostics").await {
        Ok(diagnostics) => diagnostics,
        Err(e) if is_problem(&e, "api_key_invalid") || is_problem(&e, "api_key_missing") => {
            failed(
                "API key",
                &format!("{e:#}"),
                "create one with `payhub keys create` on the hub and pass it with --api-key or PAYHUB_API_KEY",
            );
            anyhow::bail!("the API key is not accepted");
        }
        Err(e) => return Err(e),
    };
    for check in diagnostics["checks"].as_array().into_iter().flatten() {
        let (name, detail) = (check["check"].as_str().unwrap_or("?"), check["detail"].as_str().unwrap_or(""));
        if check["ok"] == true {
            passed(name, detail);
        } else {
            failed(name, detail, check["fix"].as_str().unwrap_or(""));
        }
    }
    if diagnostics["ok"] != true {
        anyhow::bail!("some checks failed; each ✗ line says its fix");
    }
    Ok(())
}

const FIX_URL: &str = "start the hub with `payhub serve`, or point --url / PAYHUB_URL at it";

fn passed(check: &str, detail: &str) {
    println!("✓ {check}: {detail}");
}

fn failed(check: &str, detail: &str, fix: &str) {
    println!("✗ {check}: {detail}");
    println!("    fix: {fix}");
}
