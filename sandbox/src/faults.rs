//! Faults on purpose for a simulator's API routes (`PUT /sandbox/{provider}/faults`), so a
//! client's timeout, retry and rate-limit handling can be exercised. Every simulator injects them
//! the same way; what differs (the rate-limit status, the error shape) is its [`FaultyProvider`].
//!
//! With a `status`, a faulty call is refused without being processed. With `hang_ms` alone it is
//! processed and only its answer is late: the case of a client that times out although the
//! provider acted, and must find out what happened before it tries again.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, put};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Longer than any client timeout worth testing.
const MAX_HANG_MS: u64 = 600_000;

/// What `PUT /sandbox/{provider}/faults` takes and `GET` shows: the next `fail_next` API calls
/// (optionally only those whose path starts with `path_prefix`) answer `status`, after hanging
/// `hang_ms` if set; with `hang_ms` alone they are processed normally and answered late.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub fail_next: u32,
    pub status: Option<u16>,
    pub hang_ms: Option<u64>,
    pub path_prefix: Option<String>,
}

/// What fault injection needs to know of one provider's simulator.
pub trait FaultyProvider: Send + Sync + 'static {
    /// The status outside 5xx a fault may answer: how the provider says "slow down".
    const RATE_LIMIT_STATUS: u16;

    /// Other statuses a provider's clients also read as "slow down" (none unless it has them).
    const OTHER_RATE_LIMIT_STATUSES: &'static [u16] = &[];

    /// Runs `change` on the simulator's faults, under its state lock.
    fn with_faults<T>(&self, change: impl FnOnce(&mut Faults) -> T) -> T;

    /// A call refused by a fault, in the provider's error shape.
    fn refused(status: StatusCode) -> Response;

    /// Fault settings that cannot be applied, in the provider's error shape for control calls.
    fn invalid_faults(message: String) -> Response;
}

/// One call picked to fail.
struct Fault {
    status: Option<u16>,
    hang: Duration,
}

impl Faults {
    /// A fault answers one of `rate_limit_statuses` or a 5xx, and hangs at most ten minutes.
    pub fn validate(&self, rate_limit_statuses: &[u16]) -> Result<(), String> {
        if let Some(status) = self.status
            && !rate_limit_statuses.contains(&status)
            && !(500..=599).contains(&status)
        {
            let allowed: Vec<String> = rate_limit_statuses.iter().map(u16::to_string).collect();
            return Err(format!("status must be {} or a 5xx status, got {status}", allowed.join(", ")));
        }
        if self.hang_ms.is_some_and(|hang| hang > MAX_HANG_MS) {
            return Err(format!("hang_ms may be at most {MAX_HANG_MS} (ten minutes)"));
        }
        if self.fail_next > 0 && self.status.is_none() && self.hang_ms.is_none() {
            return Err("a fault needs a status, a hang_ms, or both".to_owned());
        }
        Ok(())
    }

    /// Spends one fault on a call to `path`, if one is left for it.
    fn take(&mut self, path: &str) -> Option<Fault> {
        let applies = self.fail_next > 0 && self.path_prefix.as_deref().is_none_or(|prefix| path.starts_with(prefix));
        if !applies {
            return None;
        }
        self.fail_next -= 1;
        Some(Fault { status: self.status, hang: Duration::from_millis(self.hang_ms.unwrap_or(0)) })
    }
}

/// Validates `faults` for the provider and puts them in place of the current ones.
pub fn replace<P: FaultyProvider>(simulator: &P, faults: Faults) -> Result<(), String> {
    faults.validate(&[&[P::RATE_LIMIT_STATUS], P::OTHER_RATE_LIMIT_STATUSES].concat())?;
    simulator.with_faults(|current| *current = faults);
    Ok(())
}

/// Middleware over the provider's API routes.
pub async fn inject<P: FaultyProvider>(State(simulator): State<Arc<P>>, request: Request, next: Next) -> Response {
    let Some(fault) = simulator.with_faults(|faults| faults.take(request.uri().path())) else {
        return next.run(request).await;
    };
    match fault.status.and_then(|code| StatusCode::from_u16(code).ok()) {
        Some(status) => {
            tokio::time::sleep(fault.hang).await;
            P::refused(status)
        }
        None => {
            let response = next.run(request).await;
            tokio::time::sleep(fault.hang).await;
            response
        }
    }
}

/// The control endpoint: `PUT` replaces the faults, `GET` shows what is left of them.
pub fn endpoint<P: FaultyProvider>() -> MethodRouter<Arc<P>> {
    put(set_faults::<P>).get(show_faults::<P>)
}

async fn set_faults<P: FaultyProvider>(State(simulator): State<Arc<P>>, body: Bytes) -> Response {
    let faults = serde_json::from_slice::<Faults>(&body)
        .map_err(|error| error.to_string())
        .and_then(|faults| replace(simulator.as_ref(), faults.clone()).map(|()| faults));
    match faults {
        Ok(faults) => axum::Json(json!(faults)).into_response(),
        Err(message) => P::invalid_faults(message),
    }
}

async fn show_faults<P: FaultyProvider>(State(simulator): State<Arc<P>>) -> Response {
    axum::Json(json!(simulator.with_faults(|faults| faults.clone()))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(status: Option<u16>, hang_ms: Option<u64>) -> Faults {
        Faults { fail_next: 1, status, hang_ms, path_prefix: None }
    }

    #[test]
    fn a_fault_answers_the_rate_limit_status_or_a_5xx_and_nothing_else() {
        assert_eq!(fault(Some(429), None).validate(&[429]), Ok(()));
        assert_eq!(fault(Some(503), None).validate(&[403]), Ok(()));
        assert_eq!(
            fault(Some(429), None).validate(&[403]),
            Err("status must be 403 or a 5xx status, got 429".to_owned())
        );
        assert_eq!(fault(Some(429), None).validate(&[403, 429]), Ok(()));
        assert_eq!(
            fault(Some(404), None).validate(&[403, 429]),
            Err("status must be 403, 429 or a 5xx status, got 404".to_owned())
        );
    }

    #[test]
    fn a_fault_needs_a_status_or_a_hang_of_at_most_ten_minutes() {
        assert_eq!(fault(None, Some(MAX_HANG_MS)).validate(&[429]), Ok(()));
        assert!(fault(None, Some(MAX_HANG_MS + 1)).validate(&[429]).is_err());
        assert!(fault(None, None).validate(&[429]).is_err());
        assert_eq!(Faults::default().validate(&[429]), Ok(()), "no fault at all is a valid setting");
    }

    #[test]
    fn faults_are_spent_only_on_paths_under_the_prefix() {
        let mut faults = Faults { path_prefix: Some("/v2/".to_owned()), fail_next: 2, ..fault(Some(500), Some(10)) };
        assert!(faults.take("/v1/oauth2/token").is_none());
        let taken = faults.take("/v2/checkout/orders").expect("a fault for /v2/");
        assert_eq!((taken.status, taken.hang), (Some(500), Duration::from_millis(10)));
        assert!(faults.take("/v2/checkout/orders").is_some());
        assert!(faults.take("/v2/checkout/orders").is_none(), "two faults, two calls");
        assert_eq!(faults.fail_next, 0);
    }
}
