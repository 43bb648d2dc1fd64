//! The payhub hub: the HTTP API merchants call, the provider ingress, the workers that apply
//! notifications, deliver events and reconcile with providers, and the `payhub` command line.
//!
//! Folders follow the architecture: `http` (API, ingress, buyer pages, ops), `services` (what a
//! request or a notification does to payhub's resources), `workers` (inbox writer and
//! processor, outbox dispatcher, reconciler), `providers` (one adapter per provider behind one
//! trait). The domain is in `payhub-core`, persistence in `payhub-store`.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod egress;
pub mod encryption;
pub mod http;
pub mod ids;
pub mod instance;
pub mod metrics;
pub mod notifications;
pub mod providers;
pub mod services;
pub mod workers;

pub use app::{Hub, RunningHub};
