//! payhub's integration tests: the real HTTP API, the PayPal simulator over HTTP, and a real
//! database — every scenario on SQLite and on PostgreSQL.

mod browser;
mod helpers;

mod api;
mod authorizations;
mod console;
mod crash;
mod delivery;
mod disputes;
mod flood;
mod ingress;
mod mail;
mod payments;
mod paypal_legacy;
mod pingpp;
mod problems;
mod process;
mod reliability;
mod subscriptions;
mod validation;
