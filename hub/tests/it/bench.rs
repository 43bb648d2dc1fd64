//! `payhub bench --quick` as CI runs it: a seconds-long smoke run of the cheap targets that
//! checks the harness works and reports each figure beside its same-run floor. (CI runs no
//! real benchmark; the figures of a smoke run mean nothing.)

use serde_json::Value;
use tokio::process::Command;

/// Targets that run in seconds; their floors (bare-axum, verify-only, commit-*) come along.
const CHEAP: &[&str] = &["ingest-sqlite", "create-payment-sqlite", "apply-sqlite", "deliver-sqlite"];
const CHEAP_POSTGRES: &[&str] = &["ingest-postgres", "apply-postgres"];

#[tokio::test]
async fn a_quick_bench_reports_every_target_asked_for_with_its_floor_and_ratio() {
    let postgres = std::env::var(payhub_store::testing::POSTGRES_URL_VAR).ok();
    let mut targets = CHEAP.to_vec();
    let mut command = Command::new(env!("CARGO_BIN_EXE_payhub"));
    command.args(["bench", "--quick", "--json"]).env_remove("PAYHUB_BENCH_DATABASE_URL");
    if let Some(url) = &postgres {
        targets.extend(CHEAP_POSTGRES);
        command.args(["--database-url", url]);
    }
    let output = command.arg("--only").arg(targets.join(",")).output().await.expect("payhub runs");
    assert!(output.status.success(), "payhub bench failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    let results = report["results"].as_array().expect("a list of results");
    let row =
        |name: &str| results.iter().find(|r| r["target"] == name).unwrap_or_else(|| panic!("no {name} in {report}"));

    let mut expected = vec!["bare-axum", "verify-only", "provider-call", "receiver-direct", "commit-sqlite"];
    expected.extend(&targets);
    for name in expected {
        assert!(row(name)["value"].as_f64().is_some_and(|v| v > 0.0), "{name} measured nothing: {report}");
    }
    for name in &targets {
        let floor = row(name)["floor"].as_str().unwrap_or_else(|| panic!("{name} has no floor"));
        assert!(results.iter().any(|r| r["target"] == floor), "{name}'s floor {floor} was not run");
        assert!(row(name)["ratio"].as_f64().is_some_and(|r| r > 0.0), "{name} has no ratio: {report}");
    }
    assert_eq!(row("ingest-sqlite")["floor"], "verify-only");
    assert_eq!(report["quick"], true);
}

#[tokio::test]
async fn an_unknown_bench_target_is_refused_with_the_list_of_targets() {
    let output = Command::new(env!("CARGO_BIN_EXE_payhub"))
        .args(["bench", "--quick", "--only", "ingest-mysql"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("unknown bench target `ingest-mysql`") && message.contains("ingest-sqlite"), "{message}");
}
