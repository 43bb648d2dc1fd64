use clap::Subcommand;
use payhub_core::id::ApiKeyId;
use payhub_core::{Clock, Mode};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::services::api_keys::create_api_key;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        /// `test` (sandbox providers) or `live`.
        #[arg(long, value_parser = super::parse_mode)]
        mode: Mode,
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id (`key_…`); requests with it fail from now on.
    Revoke { id: String },
}

pub async fn run(command: KeysCommand, config: &Config) -> anyhow::Result<()> {
    let db = super::open_database(&config.database_url).await?;
    match command {
        KeysCommand::Create { mode, name } => {
            let (record, secret) =
                create_api_key(&db, &crate::ids::from_os_entropy(), SystemClock.now(), mode, &name).await?;
            println!("created {} ({} mode, \"{}\")", record.id, record.mode, record.name);
            println!("secret: {secret}");
            println!("store it now: payhub keeps only a hash and cannot show it again");
        }
        KeysCommand::List => {
            for key in db.list_api_keys().await? {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                println!("{}  {:4}  …{}  {:24}  {}", key.id, key.mode.as_str(), key.secret_hint, key.name, state);
            }
        }
        KeysCommand::Revoke { id } => {
            let revoked = match ApiKeyId::parse_exact(&id) {
                Some(key) => db.revoke_api_key(&key, SystemClock.now()).await?,
                None => false,
            };
            if revoked {
                println!("revoked {id}");
            } else {
                anyhow::bail!("no active key {id}; `payhub keys list` shows the keys");
            }
        }
    }
    Ok(())
}
