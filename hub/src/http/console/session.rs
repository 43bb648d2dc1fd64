//! Logging in and out, the session behind every page, and the token every form carries.

use axum::extract::{FromRequestParts, RawForm, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use payhub_core::Mode;
use payhub_store::AdminSession;
use serde::Deserialize;

use super::{ConsoleError, ConsoleQuery, layout};
use crate::app::Hub;
use crate::services::admins::{random_token, same_secret, verify_login};
use crate::services::api_keys::hash_secret;

pub const SESSION_COOKIE: &str = "payhub_console";
/// Ties the login form to the browser that loaded it (there is no session yet to tie it to).
const LOGIN_COOKIE: &str = "payhub_console_login";
/// A session ends this long after login, whatever happens in between.
const SESSION_LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// The operator a request comes from, by its session cookie.
#[derive(Debug, Clone)]
pub struct Operator {
    session: AdminSession,
    /// The path of the page asked for: switching modes returns to its section.
    path: String,
}

impl Operator {
    pub fn mode(&self) -> Mode {
        self.session.mode
    }

    pub fn email(&self) -> &str {
        &self.session.email
    }

    /// Where switching modes from this page lands (see [`section_page`]).
    pub fn section_page(&self) -> &'static str {
        section_page(&self.path)
    }

    /// The hidden field every form of this session carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf_token); }
    }

    /// Refuses a post that does not carry this session's form token: another site made it.
    pub fn check_csrf(&self, token: &str) -> Result<(), ConsoleError> {
        if same_secret(token, &self.session.csrf_token) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "the form did not carry this session's token (it is from another page or an older session); \
                 nothing was changed — reload the page and try again"
                    .into(),
            ))
        }
    }

    /// Refuses a post from a form opened in the other mode (the operator switched modes in
    /// another tab since): acting on it would touch the mode the page did not show.
    /// `nothing` says what was not done, e.g. "nothing was refunded".
    pub fn check_same_mode(&self, form_mode: &str, nothing: &str) -> Result<(), ConsoleError> {
        let mode = self.mode().as_str();
        if form_mode == mode {
            return Ok(());
        }
        Err(ConsoleError::Refused(format!(
            "this form was opened in {form_mode} mode and the console now shows {mode} mode; {nothing}"
        )))
    }
}

/// No session: pages send the operator to log in, and back to the page they asked for.
pub struct LoginRequired {
    /// The page (path and query) a `GET` asked for; a post is not repeated after logging in.
    next: Option<String>,
}

impl LoginRequired {
    fn of(parts: &Parts) -> Self {
        let next = (parts.method == axum::http::Method::GET)
            .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
            .flatten();
        LoginRequired { next }
    }
}

impl IntoResponse for LoginRequired {
    fn into_response(self) -> Response {
        match self.next.filter(|next| landing(next) == next && next != "/admin") {
            Some(next) => {
                let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                Redirect::to(&format!("/admin/login?{query}")).into_response()
            }
            None => Redirect::to("/admin/login").into_response(),
        }
    }
}

impl FromRequestParts<Hub> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(LoginRequired::of(parts).into_response());
        };
        match hub.db.admin_session(&hash_secret(&token), hub.clock.now()).await {
            Ok(Some(session)) => Ok(Operator { session, path: parts.uri.path().to_owned() }),
            Ok(None) => Err(LoginRequired::of(parts).into_response()),
            Err(e) => Err(ConsoleError::from(e).into_response()),
        }
    }
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` for the console: never readable by scripts, never sent by other sites, and
/// only over https when the hub is served over https.
fn set_cookie(hub: &Hub, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if hub.settings.public_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Reads a posted form; a body that is not one is a message on the page.
pub fn read_form<T: for<'de> Deserialize<'de>>(form: &RawForm) -> Result<T, ConsoleError> {
    serde_urlencoded::from_bytes(&form.0).map_err(|e| ConsoleError::Invalid(format!("the form could not be read: {e}")))
}

fn login_form(token: &str, email: &str, next: &str, problem: Option<&str>) -> Markup {
    layout::bare(
        "Log in",
        html! {
            form.login method="post" action="/admin/login" {
                h1 { "payhub console" }
                @if let Some(problem) = problem { div.error role="alert" { (problem) } }
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(landing(next));
                label for="email" { "Email" }
                input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button #login type="submit" { "Log in" }
            }
        },
    )
}

/// The login form, with a fresh token in a cookie and in the form.
fn login_response(hub: &Hub, status: StatusCode, email: &str, next: &str, problem: Option<&str>) -> Response {
    let token = random_token();
    let cookie = set_cookie(hub, LOGIN_COOKIE, &token, 3600);
    (status, [(header::SET_COOKIE, cookie)], login_form(&token, email, next, problem)).into_response()
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

pub async fn login_page(State(hub): State<Hub>, ConsoleQuery(query): ConsoleQuery<LoginQuery>) -> Response {
    login_response(&hub, StatusCode::OK, "", &query.next, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// The console page the operator asked for before logging in.
    #[serde(default)]
    next: String,
}

/// Where a login lands: the page asked for when it is a console page of this site (a path
/// under `/admin`, never `//host` or a scheme, which would send the operator elsewhere), else
/// the overview.
fn landing(next: &str) -> &str {
    let console_page = (next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?"))
        && !next.contains("//")
        && !next.contains('\\')
        && next.chars().all(|c| c.is_ascii_graphic());
    if console_page { next } else { "/admin" }
}

pub async fn login(State(hub): State<Hub>, headers: HeaderMap, form: RawForm) -> Response {
    let form: LoginForm = match read_form(&form) {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&form.csrf, &expected) {
        let problem = "this login form has expired or came from another page; log in again";
        return login_response(&hub, StatusCode::FORBIDDEN, &form.email, &form.next, Some(problem));
    }
    let email = match verify_login(&hub.db, &form.email, &form.password).await {
        Ok(Some(email)) => email,
        Ok(None) => {
            tracing::warn!(email = %form.email, "console: a login was refused");
            let problem = "wrong email or password";
            return login_response(&hub, StatusCode::UNAUTHORIZED, &form.email, &form.next, Some(problem));
        }
        Err(e) => return ConsoleError::from(e).into_response(),
    };
    let now = hub.clock.now();
    let token = random_token();
    let session = AdminSession {
        token_hash: hash_secret(&token),
        email,
        csrf_token: random_token(),
        mode: Mode::Test,
        expires_at: now + SESSION_LIFETIME,
    };
    if let Err(e) = hub.db.create_admin_session(&session, now).await {
        return ConsoleError::from(e).into_response();
    }
    tracing::info!(email = %session.email, "console: an operator logged in");
    // Appended, not inserted: both cookies must reach the browser.
    let cookies = AppendHeaders([
        (header::SET_COOKIE, set_cookie(&hub, SESSION_COOKIE, &token, SESSION_LIFETIME.num_seconds())),
        (header::SET_COOKIE, set_cookie(&hub, LOGIN_COOKIE, "", 0)),
    ]);
    (cookies, Redirect::to(landing(&form.next))).into_response()
}

#[derive(Deserialize)]
pub struct TokenOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(State(hub): State<Hub>, operator: Operator, form: RawForm) -> Result<Response, ConsoleError> {
    let form: TokenOnly = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    hub.db.delete_admin_session(&operator.session.token_hash).await?;
    let cookie = set_cookie(&hub, SESSION_COOKIE, "", 0);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/admin/login")).into_response())
}

#[derive(Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    /// The page the switch was made from.
    #[serde(default)]
    next: String,
}

/// Each console section's first path segment and its list page (a customer's page is reached
/// from the subscriptions).
const SECTION_PAGES: &[(&str, &str)] = &[
    ("payments", "/admin/payments"),
    ("subscriptions", "/admin/subscriptions"),
    ("customers", "/admin/subscriptions"),
    ("disputes", "/admin/disputes"),
    ("inbox", "/admin/inbox"),
    ("webhooks", "/admin/webhooks"),
    ("api-keys", "/admin/api-keys"),
];

/// The list page of the section a console page belongs to, or the overview. Never a resource's
/// own page: the payment (key, subscription…) shown in one mode does not exist in the other,
/// and a list's filters and position name that mode's rows too.
fn section_page(path: &str) -> &'static str {
    let path = landing(path);
    let section = path.strip_prefix("/admin/").and_then(|rest| rest.split(['/', '?']).next()).unwrap_or("");
    SECTION_PAGES.iter().find(|(segment, _)| *segment == section).map_or("/admin", |(_, page)| page)
}

/// Switches which mode's data every page shows, and returns to the list page of the section
/// the switch was made from (by the same rules as a login's `next`: a console page or the
/// overview).
pub async fn switch_mode(State(hub): State<Hub>, operator: Operator, form: RawForm) -> Result<Response, ConsoleError> {
    let form: ModeForm = read_form(&form)?;
    operator.check_csrf(&form.csrf)?;
    let mode: Mode = form.mode.parse().map_err(|_| ConsoleError::Invalid(format!("no mode `{}`", form.mode)))?;
    hub.db.set_admin_session_mode(&operator.session.token_hash, mode).await?;
    Ok(Redirect::to(section_page(&form.next)).into_response())
}
