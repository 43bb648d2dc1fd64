//! Faults on purpose for Ping++'s API routes (not the control endpoints), so a client's timeout,
//! retry and rate-limit handling can be exercised (`PUT /sandbox/pingpp/faults`).
//!
//! With a `status`, a faulty call is refused without being processed: 403 is Ping++'s rate limit,
//! 5xx its API errors (a 502 makes the official SDKs retry once on their own). With `hang_ms`
//! alone the call is processed and only its answer is late: the case of a client that times out
//! although Ping++ created the charge, and must look it up before creating another.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::PingppSimulator;
use super::errors::ApiError;
use super::state::Faults;

/// Longer than any client timeout worth testing.
const MAX_HANG_MS: u64 = 600_000;

pub fn validate(faults: &Faults) -> Result<(), String> {
    if let Some(status) = faults.status
        && status != 403
        && !(500..=599).contains(&status)
    {
        return Err(format!("status must be 403 or a 5xx status, got {status}"));
    }
    if faults.hang_ms.is_some_and(|hang| hang > MAX_HANG_MS) {
        return Err(format!("hang_ms may be at most {MAX_HANG_MS} (ten minutes)"));
    }
    if faults.fail_next > 0 && faults.status.is_none() && faults.hang_ms.is_none() {
        return Err("a fault needs a status, a hang_ms, or both".to_owned());
    }
    Ok(())
}

pub async fn inject(State(simulator): State<Arc<PingppSimulator>>, request: Request, next: Next) -> Response {
    let fault = {
        let mut state = simulator.state();
        let faults = &mut state.faults;
        let applies = faults.fail_next > 0
            && faults.path_prefix.as_deref().is_none_or(|prefix| request.uri().path().starts_with(prefix));
        if applies {
            faults.fail_next -= 1;
            Some((faults.status, faults.hang_ms))
        } else {
            None
        }
    };
    let Some((status, hang_ms)) = fault else {
        return next.run(request).await;
    };
    let hang = Duration::from_millis(hang_ms.unwrap_or(0));
    match status.and_then(|code| StatusCode::from_u16(code).ok()) {
        Some(status) => {
            tokio::time::sleep(hang).await;
            ApiError::fault(status).into_response()
        }
        None => {
            let response = next.run(request).await;
            tokio::time::sleep(hang).await;
            response
        }
    }
}
