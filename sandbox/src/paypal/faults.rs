//! Faults on purpose for PayPal's API routes (not the buyer page, certs or control endpoints), so
//! a client's timeout and 5xx handling can be exercised (`PUT /sandbox/paypal/faults`).
//!
//! With a `status`, a faulty call is refused without being processed. With `hang_ms` alone it is
//! processed and only its answer is late: the case of a client that times out although PayPal
//! acted, and must retry with the same `PayPal-Request-Id` to learn the outcome.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::PaypalSimulator;
use super::errors::ApiError;
use super::state::Faults;

/// Longer than any client timeout worth testing.
const MAX_HANG_MS: u64 = 600_000;

/// A fault answers 429 or a 5xx, and hangs at most [`MAX_HANG_MS`].
pub fn validate(faults: &Faults) -> Result<(), String> {
    if let Some(status) = faults.status
        && status != 429
        && !(500..=599).contains(&status)
    {
        return Err(format!("status must be 429 or a 5xx status, got {status}"));
    }
    if faults.hang_ms.is_some_and(|hang| hang > MAX_HANG_MS) {
        return Err(format!("hang_ms may be at most {MAX_HANG_MS} (ten minutes)"));
    }
    if faults.fail_next > 0 && faults.status.is_none() && faults.hang_ms.is_none() {
        return Err("a fault needs a status, a hang_ms, or both".to_owned());
    }
    Ok(())
}

pub async fn inject(State(simulator): State<Arc<PaypalSimulator>>, request: Request, next: Next) -> Response {
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
            ApiError::server_error(status).into_response()
        }
        None => {
            let response = next.run(request).await;
            tokio::time::sleep(hang).await;
            response
        }
    }
}
