//! Mail to the merchant's people (customer service) about the events they must act on.
//!
//! Mail goes out like webhooks: the event's transaction queues one row per recipient (the
//! outbox), a worker hands each to the SMTP server, retrying with back-off while the server is
//! down, and records every attempt. Each mail carries a `Message-ID` made from the event and the
//! recipient, so the rare resend (a crash after the server took the mail and before payhub
//! recorded it) is recognisably the same mail.

pub mod mailer;
pub mod render;

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use payhub_core::EventType;
use serde::Deserialize;

/// `[notifications]` as written in the configuration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// `smtp://host:port` (plain), `smtp://host?tls=required` (STARTTLS) or
    /// `smtps://user:password@host` (TLS). No mail is sent without it.
    #[serde(default)]
    pub smtp_url: Option<String>,
    /// The sender, e.g. `payhub@shop.example` or `payhub <payhub@shop.example>`.
    #[serde(default)]
    pub from: Option<String>,
    /// Who is mailed.
    #[serde(default)]
    pub to: Vec<String>,
    /// The event types mailed, by exact name; by default the disputes customer service must
    /// answer in time.
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Waits before each retry while the mail server refuses or is unreachable; after the
    /// last, the mail gives up.
    #[serde(default = "default_schedule", deserialize_with = "crate::config::durations")]
    pub schedule: Vec<Duration>,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self { smtp_url: None, from: None, to: vec![], events: default_events(), schedule: default_schedule() }
    }
}

/// A new case, a case waiting for the merchant's answer (again the day before it is due), and
/// how each ended.
fn default_events() -> Vec<String> {
    [EventType::DisputeCreated, EventType::DisputeActionRequired, EventType::DisputeResolved]
        .iter()
        .map(|event_type| event_type.as_str().to_owned())
        .collect()
}

/// About three days, as for webhooks: a mail server down for a weekend still gets the mail.
fn default_schedule() -> Vec<Duration> {
    crate::config::default_retry_schedule()
}

/// Mail settings that are known to work: a parsed server URL, addresses and event types.
#[derive(Clone)]
pub struct MailSettings {
    pub smtp_url: String,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub events: Vec<EventType>,
    pub schedule: Vec<Duration>,
    /// How long one exchange with the SMTP server may take.
    pub timeout: Duration,
}

impl MailSettings {
    /// Checks `[notifications]`; `None` when no SMTP server is configured.
    pub fn from_config(config: &NotificationsConfig) -> Result<Option<Self>, String> {
        let Some(smtp_url) = &config.smtp_url else {
            if !config.to.is_empty() {
                return Err("notifications.to is set but notifications.smtp_url is not; name the SMTP server".into());
            }
            return Ok(None);
        };
        mailer::transport(smtp_url, Duration::from_secs(1)).map_err(|e| {
            format!(
                "notifications.smtp_url `{}` is not usable ({e}); use smtp://host:port or smtps://user:password@host",
                crate::config::redact_url(smtp_url)
            )
        })?;
        let from =
            config.from.as_deref().ok_or("notifications.from is missing; e.g. from = \"payhub@shop.example\"")?;
        let from = from.parse().map_err(|e| format!("notifications.from `{from}` is not a mail address ({e})"))?;
        if config.to.is_empty() {
            return Err("notifications.to names no one; e.g. to = [\"support@shop.example\"]".into());
        }
        let to = config
            .to
            .iter()
            .map(|address| {
                address.parse().map_err(|e| format!("notifications.to `{address}` is not a mail address ({e})"))
            })
            .collect::<Result<_, _>>()?;
        if config.events.is_empty() {
            return Err("notifications.events names no event type; e.g. events = [\"payment.succeeded\"]".into());
        }
        let events = config
            .events
            .iter()
            .map(|name| {
                EventType::parse(name).ok_or_else(|| {
                    let known: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                    format!("notifications.events: `{name}` is no event type; known types: {}", known.join(", "))
                })
            })
            .collect::<Result<_, _>>()?;
        if config.schedule.is_empty() {
            return Err("notifications.schedule needs at least one retry delay".into());
        }
        Ok(Some(Self {
            smtp_url: smtp_url.clone(),
            from,
            to,
            events,
            schedule: config.schedule.clone(),
            timeout: Duration::from_secs(30),
        }))
    }
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &crate::config::redact_url(&self.smtp_url))
            .field("from", &self.from.to_string())
            .field("to", &self.to.iter().map(Mailbox::to_string).collect::<Vec<_>>())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(smtp_url: &str) -> NotificationsConfig {
        NotificationsConfig {
            smtp_url: Some(smtp_url.into()),
            from: Some("payhub@shop.example".into()),
            to: vec!["support@shop.example".into(), "Ops <ops@shop.example>".into()],
            events: vec!["payment.succeeded".into(), "refund.succeeded".into()],
            ..Default::default()
        }
    }

    #[test]
    fn mail_settings_are_checked_when_payhub_starts() {
        let settings =
            MailSettings::from_config(&config("smtps://user:very-secret@smtp.shop.example")).unwrap().unwrap();
        assert_eq!(settings.to.len(), 2);
        assert_eq!(settings.events, [EventType::PaymentSucceeded, EventType::RefundSucceeded]);
        assert!(!format!("{settings:?}").contains("very-secret"));
        assert!(MailSettings::from_config(&config("smtp://127.0.0.1:2525")).unwrap().is_some());
        assert!(MailSettings::from_config(&NotificationsConfig::default()).unwrap().is_none(), "no server, no mail");
        let by_default =
            NotificationsConfig { events: NotificationsConfig::default().events, ..config("smtp://127.0.0.1:2525") };
        let by_default = MailSettings::from_config(&by_default).unwrap().unwrap();
        assert_eq!(
            by_default.events,
            [EventType::DisputeCreated, EventType::DisputeActionRequired, EventType::DisputeResolved]
        );

        let refused = |change: &dyn Fn(&mut NotificationsConfig)| {
            let mut c = config("smtp://127.0.0.1:2525");
            change(&mut c);
            MailSettings::from_config(&c).unwrap_err()
        };
        assert!(refused(&|c| c.smtp_url = Some("http://smtp.shop.example".into())).contains("smtp_url"));
        assert!(refused(&|c| c.from = None).contains("notifications.from is missing"));
        assert!(refused(&|c| c.to = vec!["not an address".into()]).contains("`not an address` is not a mail address"));
        let typo = refused(&|c| c.events = vec!["payment.succeded".into()]);
        assert!(typo.contains("`payment.succeded` is no event type") && typo.contains("payment.succeeded"), "{typo}");
        assert!(refused(&|c| c.events = vec![]).contains("names no event type"));
        assert!(refused(&|c| c.smtp_url = None).contains("smtp_url is not"));
    }
}
