//! payhub's integration tests: the real HTTP API, the PayPal simulator over HTTP, and a real
//! database — every scenario on SQLite and on PostgreSQL.

mod browser;
mod helpers;

mod api;
mod api_properties;
mod authorizations;
mod bench;
mod chaos_convergence;
mod cli;
mod console;
mod crash;
mod delivery;
mod disputes;
mod endpoint_secrets;
mod flood;
mod ingress;
mod ipn_flood;
mod mail;
mod metrics;
mod outage;
mod payments;
mod paypal_legacy;
mod pingpp;
mod problems;
mod process;
mod reliability;
mod request_ids;
mod subscriptions;
mod validation;
