//! Every state change is recorded with what caused it, so "why is this payment refunded?" has an
//! answer at 3 a.m.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::EventType;

/// What made a resource change state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// A merchant's API call.
    Api,
    /// The buyer came back through the return URL (its query string is never trusted; the
    /// provider was asked).
    BuyerReturn,
    /// A verified provider notification, by its inbox row and provider event id.
    Notification { inbox_id: i64, provider_event_id: String },
    /// The reconciler asked the provider.
    Reconciler,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Api => f.write_str("api"),
            Cause::BuyerReturn => f.write_str("buyer_return"),
            Cause::Notification { provider_event_id, .. } => write!(f, "notification {provider_event_id}"),
            Cause::Reconciler => f.write_str("reconciler"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub resource_id: String,
    pub from: String,
    pub to: String,
    pub cause: Cause,
    pub at: DateTime<Utc>,
}

impl Transition {
    pub fn new(resource_id: &str, from: &str, to: &str, cause: Cause, at: DateTime<Utc>) -> Self {
        Self { resource_id: resource_id.into(), from: from.into(), to: to.into(), cause, at }
    }
}

/// A status move the caller must write whole: the transition record and the event that
/// announces it. Only core's state machines make one, so a status never moves unrecorded.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a status move is recorded with its transition and event in the same transaction"]
pub struct Moved {
    transition: Transition,
    event: EventType,
}

impl Moved {
    pub(crate) fn new(transition: Transition, event: EventType) -> Self {
        Self { transition, event }
    }

    pub fn transition(&self) -> &Transition {
        &self.transition
    }

    pub fn event(&self) -> EventType {
        self.event
    }
}

/// A resource just made, with what its creation must record: the transition out of `none`
/// (entitlements have none; their history is their events) and the event that announces it.
/// Core's constructors return this, so a resource cannot be created silently.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a new resource is written with its creation transition and event"]
pub struct Created<T> {
    resource: T,
    transition: Option<Transition>,
    event: EventType,
}

impl<T> Created<T> {
    pub(crate) fn with_transition(resource: T, transition: Transition, event: EventType) -> Self {
        Self { resource, transition: Some(transition), event }
    }

    pub(crate) fn announced(resource: T, event: EventType) -> Self {
        Self { resource, transition: None, event }
    }

    pub fn resource(&self) -> &T {
        &self.resource
    }

    /// For what core does not own (the reconciler's schedule); the state stays behind methods.
    pub fn resource_mut(&mut self) -> &mut T {
        &mut self.resource
    }

    pub fn transition(&self) -> Option<&Transition> {
        self.transition.as_ref()
    }

    pub fn event(&self) -> EventType {
        self.event
    }

    /// The resource, once written with its transition and event.
    pub fn into_resource(self) -> T {
        self.resource
    }
}

/// The status a resource is created from, in transition records.
pub(crate) const NONE: &str = "none";
