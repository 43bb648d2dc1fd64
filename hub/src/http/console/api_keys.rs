//! API keys of the mode the console shows: the list (never a secret), making one (its secret is
//! shown on the answer to the form and nowhere else, as `payhub keys create` prints it once),
//! and revoking one after a confirmation.

use axum::extract::{Path, RawForm, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use payhub_core::id::ApiKeyId;
use payhub_store::{ApiKeyRecord, StoredResponse};
use serde::Deserialize;

use super::layout::{self, when};
use super::session::{Operator, read_form};
use super::{ConsoleError, ConsoleQuery};
use crate::app::Hub;
use crate::http::idempotency::{Claimed, claim, request_fingerprint};
use crate::services::admins::random_token;
use crate::services::api_keys::create_api_key;

/// The create form's keys live beside the API's idempotency keys, in a namespace of their own.
const CREATE_KEY_PREFIX: &str = "console-key:";
/// A key's name is a label for people; this is plenty.
const MAX_NAME_CHARS: usize = 100;

/// The keys of the operator's mode, oldest first.
async fn keys_in_mode(hub: &Hub, operator: &Operator) -> Result<Vec<ApiKeyRecord>, ConsoleError> {
    let keys = hub.db.list_api_keys().await?;
    Ok(keys.into_iter().filter(|k| k.mode == operator.mode()).collect())
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// The key just revoked from the confirmation, to say so.
    #[serde(default)]
    revoked: String,
}

fn keys_table(keys: &[ApiKeyRecord]) -> Markup {
    html! {
        table #api-keys {
            thead { tr { th { "Key" } th { "Name" } th { "Ends with" } th { "Created" } th { "State" } th { "" } } }
            tbody { @for k in keys { tr #{"key-" (k.id)} {
                td { code { (k.id) } }
                td { (k.name) }
                td { code { "…" (k.secret_hint) } }
                td { (when(k.created_at)) }
                @match k.revoked_at {
                    Some(at) => { td.state { "revoked " (when(at)) } td {} }
                    None => {
                        td.state { "active" }
                        td { a.revoke href={"/admin/api-keys/" (k.id) "/revoke"} { "Revoke…" } }
                    }
                }
            } } }
        }
    }
}

fn create_form(operator: &Operator) -> Markup {
    html! {
        h2 { "Create a key" }
        form.search method="post" action="/admin/api-keys" {
            (operator.csrf_field())
            input type="hidden" name="key" value=(random_token());
            input type="hidden" name="mode" value=(operator.mode().as_str());
            input #key-name type="text" name="name" required maxlength=(MAX_NAME_CHARS)
                placeholder="what uses it: shop backend, CI…";
            button #create-key type="submit" { "Create " (operator.mode().as_str()) " key" }
        }
    }
}

pub async fn list(
    State(hub): State<Hub>,
    operator: Operator,
    ConsoleQuery(query): ConsoleQuery<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let keys = keys_in_mode(&hub, &operator).await?;
    let revoked = ApiKeyId::parse_exact(&query.revoked).and_then(|id| keys.iter().find(|k| k.id == id));
    let body = html! {
        @if let Some(k) = revoked {
            div.notice #revoke-notice role="status" {
                "Revoked " code { (k.id) } " (" (k.name) "): requests with it are refused from now on."
            }
        }
        @if keys.is_empty() {
            p #no-keys { "No " (operator.mode().as_str()) "-mode API key." }
        } @else {
            (keys_table(&keys))
        }
        (create_form(&operator))
    };
    Ok(layout::page(&operator, "API keys", body))
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    /// Makes the form single-use: a second submit of it finds the key the first one made.
    #[serde(default)]
    key: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    name: String,
}

/// A second submit of a create form that made a key already: which key, without its secret.
fn made_already(operator: &Operator, key_id: &str) -> Response {
    let body = html! {
        div.notice #key-made-already role="status" {
            "This form already created " code { (key_id) } "; no other key was made. Its secret was shown "
            "once, on the answer to the first submit: if it was not copied, revoke the key and create another."
        }
        p { a href="/admin/api-keys" { "Back to the keys" } }
    };
    layout::page(operator, "API key created already", body).into_response()
}

/// Makes a key and shows its secret, once: the answer is never stored by the browser or a
/// proxy (`no-store`), so going back or reloading cannot show it again. The form's key is
/// claimed first, so submitting the same form twice (a double click, a resend) makes one key.
pub async fn create(State(hub): State<Hub>, operator: Operator, form: RawForm) -> Result<Response, ConsoleError> {
    let body = form.0.clone();
    let form: CreateForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    operator.check_same_mode(&form.mode, "no key was created")?;
    if form.key.is_empty() || form.key.len() > 64 {
        return Err(ConsoleError::Invalid("the form has no valid key; open the API keys page again".into()));
    }
    let name = form.name.trim();
    if name.is_empty() {
        return Err(ConsoleError::Invalid("give the key a name that says what uses it".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ConsoleError::Invalid(format!("a key's name is at most {MAX_NAME_CHARS} characters on one line")));
    }
    let mode = operator.mode();
    let key = format!("{CREATE_KEY_PREFIX}{}", form.key);
    let fingerprint = request_fingerprint("POST", "/admin/api-keys", &body);
    match claim(&hub, mode, &key, &fingerprint).await? {
        Claimed::Run(_) => {}
        Claimed::Completed(stored) => return Ok(made_already(&operator, &String::from_utf8_lossy(&stored.body))),
        Claimed::InProgress => {
            return Err(ConsoleError::Unavailable(
                "this form is making its key right now; open the API keys page in a moment to see it".into(),
            ));
        }
        Claimed::Mismatch => {
            return Err(ConsoleError::Invalid(
                "this form was already sent with another name; open the API keys page again".into(),
            ));
        }
    }
    let (record, secret) = match create_api_key(&hub.db, &hub.ids, hub.clock.now(), mode, name).await {
        Ok(made) => made,
        Err(error) => {
            // Nothing was made: the same form may be sent again.
            hub.db.release_idempotency_key(mode, &key).await?;
            return Err(error.into());
        }
    };
    let made =
        StoredResponse { status: 201, content_type: "text/plain".into(), body: record.id.as_str().as_bytes().to_vec() };
    hub.db.complete_idempotency_key(mode, &key, &made).await?;
    tracing::info!(email = operator.email(), key = %record.id, mode = %record.mode, "console: API key created");
    let body = html! {
        div.notice #key-created role="status" {
            p { "Created " code { (record.id) } " (" (record.name) ", " (record.mode.as_str()) " mode). "
                strong { "Copy the secret now: payhub keeps only a hash of it and cannot show it again." } }
            p { code #key-secret { (secret) } }
        }
        p { a href="/admin/api-keys" { "Back to the keys" } }
    };
    let page = layout::page(&operator, "API key created", body);
    Ok(([(header::CACHE_CONTROL, "no-store")], page).into_response())
}

fn parse_key_id(id: &str) -> Result<ApiKeyId, ConsoleError> {
    ApiKeyId::parse_exact(id).ok_or_else(|| ConsoleError::Invalid(format!("`{id}` is not an API key id (key_…)")))
}

/// The active key an address names, if it is of the mode the console shows.
async fn active_key(hub: &Hub, operator: &Operator, id: &str) -> Result<ApiKeyRecord, ConsoleError> {
    let id = parse_key_id(id)?;
    let key = keys_in_mode(hub, operator).await?.into_iter().find(|k| k.id == id);
    let mode = operator.mode().as_str();
    match key {
        None => Err(ConsoleError::NotFound(format!("no {mode}-mode API key {id}"))),
        Some(k) if k.revoked_at.is_some() => Err(ConsoleError::Refused(format!("{id} is revoked already"))),
        Some(k) => Ok(k),
    }
}

/// The confirmation step: which key, and what revoking it does.
pub async fn confirm_revoke(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    let key = active_key(&hub, &operator, &id).await?;
    let body = html! {
        p #revoke-question {
            "Revoke " code { (key.id) } " (" (key.name) ", ending …" (key.secret_hint) ", "
            (operator.mode().as_str()) " mode)? Every request made with it is refused from now on; "
            "this cannot be undone."
        }
        form method="post" action={"/admin/api-keys/" (key.id) "/revoke"} {
            (operator.csrf_field())
            input type="hidden" name="mode" value=(operator.mode().as_str());
            button.danger #confirm-revoke type="submit" { "Revoke key" }
            " "
            a href="/admin/api-keys" { "Cancel" }
        }
    };
    Ok(layout::page(&operator, "Revoke API key", body))
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
}

pub async fn revoke(
    State(hub): State<Hub>,
    operator: Operator,
    Path(id): Path<String>,
    form: RawForm,
) -> Result<Response, ConsoleError> {
    let form: RevokeForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    operator.check_same_mode(&form.mode, "no key was revoked")?;
    let id = parse_key_id(&id)?;
    let known = keys_in_mode(&hub, &operator).await?.into_iter().find(|k| k.id == id);
    let Some(key) = known else {
        return Err(ConsoleError::NotFound(format!("no {}-mode API key {id}", operator.mode().as_str())));
    };
    // Revoked already (a second submit of the confirmation): the list says it is.
    if key.revoked_at.is_none() && hub.db.revoke_api_key(&id, hub.clock.now()).await? {
        tracing::info!(email = operator.email(), key = %id, "console: API key revoked");
    }
    Ok(Redirect::to(&format!("/admin/api-keys?revoked={id}")).into_response())
}
