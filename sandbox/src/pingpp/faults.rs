//! Faults on purpose for Ping++'s API routes (not the control endpoints), so a client's timeout,
//! retry and rate-limit handling can be exercised (`PUT /sandbox/pingpp/faults`,
//! [`crate::faults`]). 403 is Ping++'s rate limit (the Python SDK's `RateLimitError`, the Java
//! SDK's `RateLimitException`), and so is 429 (Java reads it as a rate limit too, Python and PHP
//! as an `APIError`); 5xx are its API errors (a 502 makes the official SDKs retry once on their
//! own). A client that times out although Ping++ created the charge must
//! look it up before creating another.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::PingppSimulator;
use super::errors::ApiError;
use crate::faults::{Faults, FaultyProvider};

impl FaultyProvider for PingppSimulator {
    /// Ping++'s `rate_limit_error`.
    const RATE_LIMIT_STATUS: u16 = 403;
    /// A gateway's "too many requests", which the Java SDK also maps to its rate limit.
    const OTHER_RATE_LIMIT_STATUSES: &'static [u16] = &[429];

    fn with_faults<T>(&self, change: impl FnOnce(&mut Faults) -> T) -> T {
        change(&mut self.state().faults)
    }

    fn refused(status: StatusCode) -> Response {
        ApiError::fault(status).into_response()
    }

    fn invalid_faults(message: String) -> Response {
        ApiError::invalid_state(message).into_response()
    }
}
