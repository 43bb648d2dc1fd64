//! One test binary (one link) for the whole crate's integration tests.

mod client_requests;
mod decoding;
mod errors_and_retries;
mod fake_pingpp;
mod keys;
mod properties;
mod request_signing;
mod samples;
mod webhook_fixtures;
mod webhook_verifier;
