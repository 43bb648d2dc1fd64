//! One test binary (one link) for the whole crate's integration tests.

mod authorizations_client;
mod cert_server;
mod cert_url_policy;
mod client_auth;
mod client_requests;
mod decoding;
mod disputes_client;
mod fake_billing;
mod fake_paypal;
mod fixtures;
mod ipn;
mod payments_v1_decoding;
mod properties;
mod subscriptions_client;
mod subscriptions_decoding;
mod webhook_chain_cache;
mod webhook_fixtures;
mod webhook_verifier;
mod webhooks_api;
