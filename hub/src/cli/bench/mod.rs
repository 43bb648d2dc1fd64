//! `payhub bench`: every hot path measured beside its floor — the cheapest thing that does the
//! same I/O — in the same run on the same cores. Absolute figures from a shared machine vary by
//! 2–3x between runs; the ratio to a floor measured minutes earlier does not, so the report
//! quotes both.
//!
//! Each target has a name (`--only ingest-sqlite,create-payment-sqlite`); a target whose floor
//! was not named runs its floor too, so no ratio is ever taken against another run.

mod backlog;
mod ingest;
mod load;
mod payments;
mod reconcile;
mod report;
mod scratch;
mod startup;

use std::time::Duration;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub use report::Row;
use scratch::{Scratch, Store};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Targets to run, comma-separated (default: all; see the list with `--list`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// A seconds-long smoke run: small counts, same targets and report.
    #[arg(long)]
    quick: bool,
    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    /// List the targets and their floors, then exit.
    #[arg(long)]
    list: bool,
    /// Concurrent connections for the ingest targets.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Scale every count (notifications sent, payments created, backlog rows) by this factor.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// A PostgreSQL server for the `-postgres` targets: a scratch database is created on it for
    /// each target and dropped afterwards.
    #[arg(long, env = "PAYHUB_BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

/// What every target may use: the options, the simulators and the progress display.
pub(crate) struct Run {
    args: BenchArgs,
    sandbox: payhub_sandbox::RunningSandbox,
    progress: MultiProgress,
    notifications: tokio::sync::OnceCell<ingest::Notifications>,
}

impl Run {
    /// `full` in a normal run, `quick` in a smoke run, times `--scale`.
    fn count(&self, full: usize, quick: usize) -> usize {
        let base = if self.args.quick { quick } else { full };
        ((base as f64 * self.args.scale).round() as usize).max(1)
    }

    fn bar(&self, target: &str, len: usize) -> ProgressBar {
        let bar = self.progress.add(ProgressBar::new(len as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>26} {bar:30} {pos}/{len} {per_sec} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(target.to_owned());
        bar
    }

    async fn scratch(&self, store: Store) -> anyhow::Result<Scratch> {
        Scratch::create(store, self.args.database_url.as_deref()).await
    }
}

/// A named measurement and the floor it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    BareAxum,
    VerifyOnly,
    Commit(Store),
    Ingest(Store),
    ProviderCall { clients: usize },
    CreatePayment { store: Store, clients: usize },
    Apply(Store),
    ReceiverDirect,
    Deliver(Store),
    ProviderFetch,
    Reconcile(Store),
    Startup,
}

const STORES: [Store; 2] = [Store::Sqlite, Store::Postgres];

impl Target {
    /// Every target, floors before what is compared with them.
    fn all() -> Vec<Target> {
        let mut all = vec![Target::BareAxum, Target::VerifyOnly, Target::ProviderCall { clients: 16 }];
        all.push(Target::ProviderCall { clients: 1 });
        all.push(Target::ReceiverDirect);
        all.push(Target::ProviderFetch);
        for store in STORES {
            all.extend([
                Target::Commit(store),
                Target::Ingest(store),
                Target::CreatePayment { store, clients: 16 },
                Target::CreatePayment { store, clients: 1 },
                Target::Apply(store),
                Target::Deliver(store),
                Target::Reconcile(store),
            ]);
        }
        all.push(Target::Startup);
        all
    }

    pub(crate) fn name(self) -> String {
        match self {
            Target::BareAxum => "bare-axum".into(),
            Target::VerifyOnly => "verify-only".into(),
            Target::Commit(store) => format!("commit-{store}"),
            Target::Ingest(store) => format!("ingest-{store}"),
            Target::ProviderCall { clients: 16 } => "provider-call".into(),
            Target::ProviderCall { clients } => format!("provider-call-{clients}"),
            Target::CreatePayment { store, clients: 16 } => format!("create-payment-{store}"),
            Target::CreatePayment { store, clients } => format!("create-payment-{clients}-{store}"),
            Target::Apply(store) => format!("apply-{store}"),
            Target::ReceiverDirect => "receiver-direct".into(),
            Target::Deliver(store) => format!("deliver-{store}"),
            Target::ProviderFetch => "provider-fetch".into(),
            Target::Reconcile(store) => format!("reconcile-{store}"),
            Target::Startup => "startup-sqlite".into(),
        }
    }

    /// What the target is compared with, measured in the same run.
    pub(crate) fn floor(self) -> Option<Target> {
        match self {
            Target::BareAxum | Target::Commit(_) | Target::ReceiverDirect | Target::Startup => None,
            Target::ProviderCall { .. } | Target::ProviderFetch => None,
            Target::VerifyOnly => Some(Target::BareAxum),
            Target::Ingest(_) => Some(Target::VerifyOnly),
            Target::CreatePayment { clients, .. } => Some(Target::ProviderCall { clients }),
            Target::Apply(store) => Some(Target::Commit(store)),
            Target::Deliver(_) => Some(Target::ReceiverDirect),
            Target::Reconcile(_) => Some(Target::ProviderFetch),
        }
    }

    fn store(self) -> Option<Store> {
        match self {
            Target::Commit(s) | Target::Ingest(s) | Target::Apply(s) | Target::Deliver(s) | Target::Reconcile(s) => {
                Some(s)
            }
            Target::CreatePayment { store, .. } => Some(store),
            Target::Startup => Some(Store::Sqlite),
            _ => None,
        }
    }

    async fn measure(self, run: &Run) -> anyhow::Result<Vec<Row>> {
        let row = match self {
            Target::BareAxum => ingest::bare_axum(run).await?,
            Target::VerifyOnly => ingest::verify_only(run).await?,
            Target::Commit(store) => ingest::commit_rate(run, store).await?,
            Target::Ingest(store) => ingest::ingest(run, store).await?,
            Target::ProviderCall { clients } => payments::provider_call(run, clients).await?,
            Target::CreatePayment { store, clients } => payments::create_payment(run, store, clients).await?,
            Target::Apply(store) => backlog::apply(run, store).await?,
            Target::ReceiverDirect => backlog::receiver_direct(run).await?,
            Target::Deliver(store) => backlog::deliver(run, store).await?,
            Target::ProviderFetch => reconcile::provider_fetch(run).await?,
            Target::Reconcile(store) => reconcile::sweep(run, store).await?,
            Target::Startup => return startup::startup(run).await,
        };
        Ok(vec![row])
    }
}

/// The targets to run, in order: those asked for (or all), each preceded by its floor.
fn plan(only: &[String], postgres: bool) -> anyhow::Result<Vec<Target>> {
    let all = Target::all();
    let asked: Vec<Target> = if only.is_empty() {
        all.iter().copied().filter(|t| postgres || t.store() != Some(Store::Postgres)).collect()
    } else {
        let mut asked = Vec::new();
        for name in only {
            let name = name.trim();
            let target = all.iter().copied().find(|t| t.name() == name).with_context(|| {
                let names: Vec<String> = all.iter().map(|t| t.name()).collect();
                format!("unknown bench target `{name}`; the targets are: {}", names.join(", "))
            })?;
            anyhow::ensure!(
                postgres || target.store() != Some(Store::Postgres),
                "`{name}` needs a PostgreSQL server: pass --database-url postgres://… or set PAYHUB_BENCH_DATABASE_URL"
            );
            asked.push(target);
        }
        asked
    };
    let mut planned = Vec::new();
    for target in all {
        let needed = asked
            .iter()
            .any(|a| *a == target || a.floor() == Some(target) || a.floor().and_then(Target::floor) == Some(target));
        if needed && !planned.contains(&target) {
            planned.push(target);
        }
    }
    Ok(planned)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::app::install_crypto_provider();
    if args.list {
        for target in Target::all() {
            let floor = target.floor().map(|f| f.name()).unwrap_or_else(|| "(a floor)".into());
            println!("{:<28} {floor}", target.name());
        }
        return Ok(());
    }
    let targets = plan(&args.only, args.database_url.is_some())?;
    let sandbox = payhub_sandbox::start(payhub_sandbox::SandboxOptions {
        paypal_addr: "127.0.0.1:0".parse()?,
        pingpp_addr: "127.0.0.1:0".parse()?,
        public_host: None,
        clock: payhub_sandbox::TestClock::new(),
        seed: 1,
    })
    .await?;
    let json = args.json;
    let run = Run { args, sandbox, progress: MultiProgress::new(), notifications: Default::default() };
    let overall = run.progress.add(ProgressBar::new(targets.len() as u64));
    overall.set_style(
        ProgressStyle::with_template("{prefix:>26} [{pos}/{len}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    overall.set_prefix("payhub bench");
    overall.enable_steady_tick(Duration::from_millis(200));
    let mut rows = Vec::new();
    for target in &targets {
        overall.set_message(target.name());
        let measured = target.measure(&run).await.with_context(|| format!("bench target {}", target.name()))?;
        rows.extend(measured);
        overall.inc(1);
    }
    overall.finish_and_clear();
    run.sandbox.shutdown().await;
    let report = report::Report::new(rows, run.args.quick);
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_asked_for_alone_runs_after_its_floors() {
        let planned = plan(&["ingest-sqlite".into()], false).unwrap();
        let names: Vec<String> = planned.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["bare-axum", "verify-only", "ingest-sqlite"]);
    }

    #[test]
    fn postgres_targets_need_a_server_and_unknown_names_are_listed() {
        let refused = plan(&["ingest-postgres".into()], false).unwrap_err().to_string();
        assert!(refused.contains("--database-url"), "{refused}");
        let unknown = plan(&["nope".into()], false).unwrap_err().to_string();
        assert!(unknown.contains("create-payment-sqlite"), "{unknown}");
        assert!(plan(&[], false).unwrap().iter().all(|t| t.store() != Some(Store::Postgres)));
    }
}
