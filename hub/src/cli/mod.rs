//! The `payhub` command line.

mod admins;
mod bench;
mod doctor;
mod events;
mod keys;
mod listen;
pub mod remote;
mod replay;
mod sandbox;
mod serve;
mod trigger;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use payhub_core::Mode;
use payhub_sandbox::TestClock;
use payhub_store::Database;

use crate::config::{Config, LogFormat};

#[derive(Debug, Parser)]
#[command(name = "payhub", version, about = "One API for PayPal and Ping++, with a durable, verified event stream")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Common {
    /// TOML configuration file (environment variables PAYHUB__… override it).
    #[arg(long, short, env = "PAYHUB_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// A SQLite file path or a postgres:// URL (overrides the configuration).
    #[arg(long, env = "PAYHUB_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

impl Common {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(url) = &self.database_url {
            config.database_url = url.clone();
        }
        Ok(config)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub: API, provider ingress and workers.
    Serve(serve::ServeArgs),
    /// Run the provider simulators alone.
    #[command(args_conflicts_with_subcommands = true)]
    Sandbox {
        #[command(subcommand)]
        action: Option<sandbox::SandboxAction>,
        /// Where the PayPal simulator listens.
        #[arg(long, default_value = "127.0.0.1:8081")]
        paypal_addr: SocketAddr,
        /// Where the Ping++ simulator listens (its API base URL).
        #[arg(long, default_value = "127.0.0.1:8082")]
        pingpp_addr: SocketAddr,
        /// Seed for chaos (which webhooks get dropped or duplicated).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Bring the database schema up to date (serve also does this on start).
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Manage console operators.
    Admins {
        #[command(subcommand)]
        command: admins::AdminsCommand,
        #[command(flatten)]
        common: Common,
    },
    /// Measure webhook ingest throughput against a bare HTTP baseline.
    Bench(bench::BenchArgs),
    /// Receive a hub's events on this machine and forward them to a local handler.
    Listen(listen::ListenArgs),
    /// Follow or resend a hub's events.
    Events {
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// Send the events since a time again.
    Replay(replay::ReplayArgs),
    /// Ask the providers about payments now instead of on the reconciler's schedule.
    Reconcile(replay::ReconcileArgs),
    /// Produce a real event in test mode by driving its flow through the hub and the sandbox.
    Trigger(trigger::TriggerArgs),
    /// Check a hub's setup and say how to fix what is wrong.
    Doctor(doctor::DoctorArgs),
}

pub async fn main() -> ExitCode {
    crate::app::install_crypto_provider();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Sandbox { action: Some(action), .. } => sandbox::run(action).await,
        Command::Sandbox { action: None, paypal_addr, pingpp_addr, seed } => {
            init_tracing(LogFormat::Text);
            let options = payhub_sandbox::SandboxOptions {
                paypal_addr,
                pingpp_addr,
                public_host: None,
                clock: TestClock::new(),
                seed,
            };
            payhub_sandbox::run_until_ctrl_c(options).await
        }
        Command::Migrate { common } => {
            let config = common.load()?;
            let db = open_database(&config.database_url).await?;
            let encrypted = prepare_endpoint_secrets(&db, &config).await?;
            if encrypted > 0 {
                println!("encrypted the signing secrets of {encrypted} webhook endpoints");
            }
            println!("database {} is up to date", crate::config::redact_url(&config.database_url));
            Ok(())
        }
        Command::Keys { command, common } => keys::run(command, &common.load()?).await,
        Command::Admins { command, common } => admins::run(command, &common.load()?).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Listen(args) => listen::run(args).await,
        Command::Events { command } => events::run(command).await,
        Command::Replay(args) => replay::replay(args).await,
        Command::Reconcile(args) => replay::reconcile(args).await,
        Command::Trigger(args) => trigger::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
    }
}

/// Opens and migrates the database, with a message that says what to check when it fails.
pub async fn open_database(url: &str) -> anyhow::Result<Database> {
    let db = Database::connect(url).await.map_err(|e| {
        anyhow::anyhow!("cannot open the database {} ({e}); check --database-url", crate::config::redact_url(url))
    })?;
    db.migrate().await?;
    Ok(db)
}

/// Checks the configured encryption key against the database's endpoint secrets and encrypts
/// those still in plaintext; returns how many endpoints it encrypted.
pub async fn prepare_endpoint_secrets(db: &Database, config: &Config) -> anyhow::Result<usize> {
    use payhub_core::Clock;
    let secrets = config.security.secrets_at_rest().map_err(anyhow::Error::msg)?;
    let now = crate::clock::SystemClock.now();
    Ok(crate::services::endpoints::prepare_stored_secrets(db, &secrets, now).await?)
}

pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PAYHUB_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn parse_mode(value: &str) -> Result<Mode, String> {
    value.parse().map_err(|e: payhub_core::mode::UnknownName| e.to_string())
}
