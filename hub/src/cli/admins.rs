use std::io::{BufRead, IsTerminal};

use clap::Subcommand;
use payhub_core::Clock;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::services::admins::create_admin;

#[derive(Debug, Subcommand)]
pub enum AdminsCommand {
    /// Create a console operator, or set a new password for one. The password is asked for
    /// on a terminal, or read as the first line of stdin (`… < password-file`).
    Create {
        #[arg(long)]
        email: String,
    },
}

pub async fn run(command: AdminsCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        AdminsCommand::Create { email } => {
            let password = read_password()?;
            let db = super::open_database(&config.database_url).await?;
            let (email, created) = create_admin(&db, &email, &password, SystemClock.now()).await?;
            let verb = if created { "created operator" } else { "set a new password for" };
            println!("{verb} {email}; log in at {}/admin", config.public_url().trim_end_matches('/'));
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let password = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(password == again, "the two passwords differ; nothing was changed");
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on stdin; pipe one in or run this on a terminal");
    Ok(password)
}
