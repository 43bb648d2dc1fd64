//! Faults on purpose for PayPal's API routes (not the buyer page, certs or control endpoints), so
//! a client's timeout and 5xx handling can be exercised (`PUT /sandbox/paypal/faults`,
//! [`crate::faults`]). A client that times out although PayPal acted must retry with the same
//! `PayPal-Request-Id` to learn the outcome.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::PaypalSimulator;
use super::errors::{ApiError, ErrorDetail};
use crate::faults::{Faults, FaultyProvider};

impl FaultyProvider for PaypalSimulator {
    /// PayPal's `RATE_LIMIT_REACHED`.
    const RATE_LIMIT_STATUS: u16 = 429;

    fn with_faults<T>(&self, change: impl FnOnce(&mut Faults) -> T) -> T {
        change(&mut self.state().faults)
    }

    fn refused(status: StatusCode) -> Response {
        ApiError::server_error(status).into_response()
    }

    fn invalid_faults(message: String) -> Response {
        ApiError::invalid_request(ErrorDetail::body("/", "INVALID_PARAMETER_VALUE", &message)).into_response()
    }
}
