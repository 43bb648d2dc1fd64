//! The mail worker: hands queued mails to the SMTP server, retried with back-off while the
//! server is down, every attempt recorded.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use payhub_core::id::EventId;
use payhub_store::{ClaimedMail, DeliveryOutcome, MailAttempt, MailRecipient};
use ring::digest;
use tracing::warn;

use super::MailSettings;
use super::render::render;
use crate::app::Hub;
use crate::services::ServiceError;
use crate::workers::{Shutdown, retry_at};

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The SMTP client for `url` (`smtp://…` or `smtps://…`).
pub fn transport(url: &str, timeout: Duration) -> Result<Transport, lettre::transport::smtp::Error> {
    Ok(Transport::from_url(url)?.timeout(Some(timeout)).build())
}

/// Keeps the recipients the event stream queues mail for in step with the configuration, then
/// sends queued mail until shutdown. Without mail settings no new mail is queued.
pub async fn run(hub: Hub, mut shutdown: Shutdown) {
    let settings = hub.settings.mail.clone();
    let recipients: Vec<MailRecipient> = settings.iter().flat_map(recipients_of).collect();
    if let Err(e) = hub.db.set_mail_recipients(&recipients).await {
        warn!(error = %e, "cannot record who is mailed about which events; mail stays as it was configured before");
    }
    let Some(settings) = settings else { return };
    let transport = match transport(&settings.smtp_url, settings.timeout) {
        Ok(transport) => transport,
        Err(e) => {
            warn!(error = %e, "cannot build the SMTP client; mail stays queued");
            return;
        }
    };
    loop {
        match send_due(&hub, &settings, &transport).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => warn!(error = %e, "the mailer could not claim mail"),
        }
        tokio::select! {
            _ = hub.signals.mail.notified() => {}
            _ = tokio::time::sleep(hub.settings.workers.poll_interval) => {}
            _ = shutdown.requested() => return,
        }
    }
}

fn recipients_of(settings: &MailSettings) -> Vec<MailRecipient> {
    let event_types: Vec<String> = settings.events.iter().map(|t| t.as_str().to_owned()).collect();
    settings.to.iter().map(|to| MailRecipient { address: to.to_string(), event_types: event_types.clone() }).collect()
}

/// Sends one batch of due mail, one mail at a time (one SMTP server takes them in turn);
/// returns how many were tried. The batch is as large as can be sent, each mail taking the
/// longest the server may take, before the lease ends: an unfinished claim would be taken
/// again by another instance and mailed twice.
async fn send_due(hub: &Hub, settings: &MailSettings, transport: &Transport) -> Result<usize, ServiceError> {
    let now = hub.clock.now();
    let lease = hub.settings.workers.lease;
    let batch = (lease.as_millis() / settings.timeout.as_millis().max(1)).clamp(1, 16);
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
    let claimed = hub.db.claim_due_mails(now, now + lease, u32::try_from(batch).unwrap_or(1)).await?;
    for mail in &claimed {
        send(hub, settings, transport, mail).await?;
    }
    Ok(claimed.len())
}

async fn send(
    hub: &Hub,
    settings: &MailSettings,
    transport: &Transport,
    mail: &ClaimedMail,
) -> Result<(), ServiceError> {
    let at = hub.clock.now();
    let started = Instant::now();
    let (error, permanent) = match compose(hub, settings, mail, at).await? {
        Err(unsendable) => (Some(unsendable), true),
        Ok(message) => match transport.send(message).await {
            Ok(_) => (None, false),
            Err(e) => (Some(format!("the mail server did not take the mail: {e}")), e.is_permanent()),
        },
    };
    let outcome = match (&error, permanent) {
        (None, _) => DeliveryOutcome::Delivered,
        (Some(_), true) => DeliveryOutcome::GaveUp,
        (Some(_), false) => {
            retry_at(&settings.schedule, mail.attempt, at).map_or(DeliveryOutcome::GaveUp, DeliveryOutcome::RetryAt)
        }
    };
    if let Some(error) = &error {
        warn!(event = %mail.event_id, error = %error, "a notification mail was not sent");
    }
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    hub.db.record_mail_attempt(mail, &MailAttempt { at, error, duration_ms }, outcome).await?;
    Ok(())
}

/// The mail for a claimed row, or why it cannot be sent at all.
async fn compose(
    hub: &Hub,
    settings: &MailSettings,
    mail: &ClaimedMail,
    at: DateTime<Utc>,
) -> Result<Result<Message, String>, ServiceError> {
    let Some(event) = hub.db.find_event(&mail.event_id).await? else {
        return Ok(Err("the event no longer exists".into()));
    };
    let to: Mailbox = match mail.recipient.parse() {
        Ok(to) => to,
        Err(e) => return Ok(Err(format!("`{}` is not a mail address ({e})", mail.recipient))),
    };
    let rendered = render(&event, &hub.settings.public_url);
    let message = Message::builder()
        .from(settings.from.clone())
        .to(to.clone())
        .subject(rendered.subject)
        .message_id(Some(message_id(&event.id, &to, &settings.from)))
        .date(at.into())
        .header(ContentType::TEXT_PLAIN)
        .body(rendered.body);
    Ok(message.map_err(|e| format!("cannot compose the mail: {e}")))
}

/// The same for every attempt at one event's mail to one recipient, so a resent mail is
/// recognisably the same one.
pub fn message_id(event_id: &EventId, to: &Mailbox, from: &Mailbox) -> String {
    let recipient = to.email.to_string().to_ascii_lowercase();
    let hash = digest::digest(&digest::SHA256, recipient.as_bytes());
    let tag: String = hash.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("<{event_id}.{tag}@{}>", from.email.domain())
}

#[cfg(test)]
mod tests {
    use payhub_core::IdGenerator;

    use super::*;

    #[test]
    fn a_message_id_is_stable_per_event_and_recipient() {
        let ids = IdGenerator::seeded(3);
        let event = EventId::generate(&ids, Utc::now());
        let other_event = EventId::generate(&ids, Utc::now());
        let from: Mailbox = "payhub@shop.example".parse().unwrap();
        let support: Mailbox = "support@shop.example".parse().unwrap();
        let ops: Mailbox = "Ops <ops@shop.example>".parse().unwrap();
        let id = message_id(&event, &support, &from);
        assert!(id.starts_with(&format!("<{event}.")) && id.ends_with("@shop.example>"), "{id}");
        assert_eq!(id, message_id(&event, &"Support <SUPPORT@shop.example>".parse().unwrap(), &from));
        assert_ne!(id, message_id(&event, &ops, &from));
        assert_ne!(id, message_id(&other_event, &support, &from));
    }
}
