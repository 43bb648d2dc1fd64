//! `GET /v1/diagnostics`: what `payhub doctor` shows. The hub checks itself from where it runs
//! (its database, its providers, its own public address), so the answer is the same whoever asks.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use payhub_core::{Mode, ProviderName};
use payhub_store::Dialect;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::Hub;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::providers::Diagnosis;

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::new().routes(routes!(diagnose))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Diagnostics {
    /// The mode of the API key that asked; provider checks are for this mode.
    pub mode: Mode,
    /// Whether every check passed.
    pub ok: bool,
    pub checks: Vec<Diagnosis>,
}

/// The public address is asked with a short patience: a hub that cannot reach itself quickly
/// will not be reached by providers either.
const SELF_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[utoipa::path(get, path = "/v1/diagnostics", tag = "operations",
    responses((status = 200, description = "Every check, passed or failed with its fix", body = Diagnostics)))]
async fn diagnose(State(hub): State<Hub>, caller: Caller) -> Result<Json<Diagnostics>, ApiError> {
    let mut checks = vec![Diagnosis::passed("API key", format!("valid, {} mode", caller.mode))];
    checks.push(database(&hub).await);
    for &name in ProviderName::ALL {
        match hub.providers.get(caller.mode, name) {
            Some(configured) => checks.extend(configured.diagnose(&hub.settings.public_url).await),
            None => checks.push(Diagnosis::passed(
                name.as_str(),
                format!("not configured for {} mode (add [{name}.{}] to use it)", caller.mode, caller.mode),
            )),
        }
    }
    checks.push(public_url(&hub.settings.public_url).await);
    let ok = checks.iter().all(|check| check.ok);
    Ok(Json(Diagnostics { mode: caller.mode, ok, checks }))
}

async fn database(hub: &Hub) -> Diagnosis {
    const CHECK: &str = "database";
    if let Err(e) = hub.db.ping().await {
        return Diagnosis::failed(
            CHECK,
            format!("the database does not answer: {e}"),
            "check database_url and that the database server runs",
        );
    }
    match hub.db.pending_migrations().await {
        Ok(pending) if pending.is_empty() => Diagnosis::passed(
            CHECK,
            format!(
                "reachable, schema up to date ({})",
                match hub.db.dialect() {
                    Dialect::Sqlite => "SQLite",
                    Dialect::Postgres => "PostgreSQL",
                }
            ),
        ),
        Ok(pending) => Diagnosis::failed(
            CHECK,
            format!("migrations {pending:?} are not applied"),
            "run `payhub migrate` (or restart `payhub serve`) with this build",
        ),
        Err(e) => Diagnosis::failed(CHECK, format!("cannot read the schema's version: {e}"), "run `payhub migrate`"),
    }
}

/// Providers and buyers reach the hub at its public URL: the hub asks its own `/healthz` there.
async fn public_url(url: &str) -> Diagnosis {
    const CHECK: &str = "public URL";
    let fix = "set public_url (or --public-url) to the address providers and buyers reach this hub at";
    let client = match reqwest::Client::builder().timeout(SELF_CHECK_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => return Diagnosis::failed(CHECK, format!("no HTTP client: {e}"), fix),
    };
    let healthz = format!("{}/healthz", url.trim_end_matches('/'));
    match client.get(&healthz).send().await {
        Ok(answer) if answer.status().is_success() => Diagnosis::passed(CHECK, format!("{url} answers")),
        Ok(answer) => Diagnosis::failed(CHECK, format!("{healthz} answered {}", answer.status()), fix),
        Err(e) => Diagnosis::failed(CHECK, format!("{healthz} is not reachable from the hub: {e}"), fix),
    }
}
