//! Mail to customer service: a real SMTP exchange with a server on loopback, about payments and
//! about the disputes mailed by default.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use payhub::app::HubSettings;
use payhub::notifications::{MailSettings, NotificationsConfig};
use payhub_core::EventType;
use payhub_core::id::EventId;
use payhub_store::MailState;
use payhub_store::testing::Backend;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::TestApp;

/// A mail as the SMTP server received it.
#[derive(Debug, Clone)]
struct ReceivedMail {
    to: Vec<String>,
    data: String,
}

impl ReceivedMail {
    /// The text as the reader sees it (decoded when sent quoted-printable).
    fn text(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or_default();
        if head.to_ascii_lowercase().contains("content-transfer-encoding: quoted-printable") {
            let decoded = quoted_printable::decode(body, quoted_printable::ParseMode::Robust).unwrap();
            String::from_utf8(decoded).unwrap()
        } else {
            body.to_owned()
        }
    }

    /// A header's value, unfolded (long headers continue on lines that start with a space).
    fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", " ");
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        head.lines()
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }
}

/// An SMTP server on loopback (mailin's protocol state machine over a tokio socket), keeping
/// every mail it accepts.
#[derive(Clone, Default)]
struct SmtpServer {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
}

/// Collects one session's mail.
struct Collector {
    server: SmtpServer,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin::Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> mailin::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        let data = String::from_utf8_lossy(&self.data).into_owned();
        self.server.received.lock().unwrap().push(ReceivedMail { to: self.to.clone(), data });
        mailin::response::OK
    }
}

impl SmtpServer {
    async fn start_on(listener: TcpListener) -> Self {
        let server = SmtpServer::default();
        let serving = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, peer)) = listener.accept().await {
                tokio::spawn(serving.clone().session(socket, peer.ip()));
            }
        });
        server
    }

    async fn session(self, socket: tokio::net::TcpStream, peer: IpAddr) {
        let collector = Collector { server: self, to: vec![], data: vec![] };
        let mut session = mailin::SessionBuilder::new("smtp.test").build(peer, collector);
        let (reader, mut writer) = socket.into_split();
        let mut reader = BufReader::new(reader);
        let Ok(greeting) = session.greeting().buffer() else { return };
        if writer.write_all(&greeting).await.is_err() {
            return;
        }
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let response = session.process(&line);
            match response.action {
                mailin::Action::NoReply => continue,
                mailin::Action::Reply | mailin::Action::UpgradeTls => {
                    let Ok(bytes) = response.buffer() else { return };
                    if writer.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                mailin::Action::Close => {
                    if let Ok(bytes) = response.buffer() {
                        let _ = writer.write_all(&bytes).await;
                    }
                    return;
                }
            }
        }
    }

    fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().unwrap().clone()
    }
}

/// Mail about `payment.succeeded` and the disputes mailed by default to two people through the
/// SMTP server at `port`, retried every 200 ms.
fn mail_to(port: u16) -> impl FnOnce(&mut HubSettings) {
    move |settings| {
        let by_default = NotificationsConfig::default().events.into_iter().map(|name| EventType::parse(&name).unwrap());
        settings.mail = Some(MailSettings {
            smtp_url: format!("smtp://127.0.0.1:{port}"),
            from: "payhub@shop.example".parse().unwrap(),
            to: vec!["support@shop.example".parse().unwrap(), "Ops <ops@shop.example>".parse().unwrap()],
            events: [EventType::PaymentSucceeded].into_iter().chain(by_default).collect(),
            schedule: vec![Duration::from_millis(200); 50],
            timeout: Duration::from_secs(2),
        });
    }
}

impl TestApp {
    async fn mails_about(&self, resource_id: &str, event_type: &str) -> (EventId, Vec<MailState>) {
        let events = self.get_json(&format!("/v1/events?resource_id={resource_id}&type={event_type}")).await;
        let event_id = EventId::parse(events["data"][0]["id"].as_str().unwrap()).unwrap();
        let mails = self.hub.db.mails_of_event(&event_id).await.unwrap();
        (event_id, mails)
    }
}

impl TestApp {
    /// The buyer opens a case at PayPal on a payment's capture; returns the hub's dispute once it
    /// has it, and PayPal's id.
    async fn dispute_opened(
        &self,
        payment: &serde_json::Value,
        claim: serde_json::Value,
    ) -> (serde_json::Value, String) {
        let capture = payment["provider_refs"]["capture_id"].as_str().unwrap();
        let opened =
            self.sandbox_control(Method::POST, &format!("/sandbox/paypal/captures/{capture}/dispute"), claim).await;
        let path = format!("/v1/payments/{}/disputes", payment["id"].as_str().unwrap());
        self.eventually("the hub has the dispute", || async { !self.get_json(&path).await["data"][0].is_null() }).await;
        (self.get_json(&path).await["data"][0].clone(), opened["dispute_id"].as_str().unwrap().to_owned())
    }

    /// Every event of `event_type` about a resource, oldest first.
    async fn event_ids(&self, resource_id: &str, event_type: &str) -> Vec<String> {
        let events = self.get_json(&format!("/v1/events?resource_id={resource_id}&type={event_type}")).await;
        let mut ids: Vec<String> =
            events["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    }

    /// Sends evidence through the API, which puts a chargeback under PayPal's review.
    async fn answer_with_evidence(&self, dispute_id: &str) {
        let answered = self
            .http
            .post(format!("{}/v1/disputes/{dispute_id}/evidence", self.url))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", format!("evidence-{dispute_id}"))
            .multipart(reqwest::multipart::Form::new().text("note", "Delivered"))
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 200);
    }
}

impl SmtpServer {
    /// The mails about one event (their Message-ID starts with the event's id).
    fn about(&self, event_id: &str) -> Vec<ReceivedMail> {
        let prefix = format!("<{event_id}.");
        self.received().into_iter().filter(|m| m.header("Message-ID").unwrap().starts_with(&prefix)).collect()
    }

    /// The mail about one event to support@shop.example.
    fn to_support(&self, event_id: &str) -> ReceivedMail {
        let mails: Vec<_> = self.about(event_id).into_iter().filter(|m| m.to == ["support@shop.example"]).collect();
        assert_eq!(mails.len(), 1, "one mail to support about {event_id}: {mails:?}");
        mails[0].clone()
    }
}

fn due_of(dispute: &serde_json::Value) -> String {
    let due = chrono::DateTime::parse_from_rfc3339(dispute["response_due_at"].as_str().unwrap()).unwrap();
    due.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Runs a mail scenario once per store, with an SMTP server port chosen for it.
macro_rules! with_mail_on_both_stores {
    ($(async fn $name:ident($app:ident, $listener:ident) $body:block)*) => {$(
        mod $name {
            use super::*;
            async fn run($app: TestApp, $listener: TcpListener) $body
            async fn on(backend: Backend) {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let port = listener.local_addr().unwrap().port();
                let Some(app) = TestApp::spawn_with(backend, mail_to(port)).await else { return };
                run(app, listener).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { on(Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { on(Backend::Postgres).await }
        }
    )*};
}

with_mail_on_both_stores! {
    async fn a_succeeded_payment_is_mailed_once_to_each_recipient_with_its_facts(app, listener) {
        let smtp = SmtpServer::start_on(listener).await;
        let payment = app.paid_payment(1250).await;
        let id = payment["id"].as_str().unwrap();
        app.eventually("a mail for each recipient", || async { smtp.received().len() >= 2 }).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut mails = smtp.received();
        assert_eq!(mails.len(), 2, "payment.created is not mailed, payment.succeeded once per recipient");
        mails.sort_by(|a, b| a.to.cmp(&b.to));
        assert_eq!(mails[0].to, ["ops@shop.example"]);
        assert_eq!(mails[1].to, ["support@shop.example"]);
        let (event_id, states) = app.mails_about(id, "payment.succeeded").await;
        for mail in &mails {
            assert_eq!(mail.header("Subject").unwrap(), format!("[payhub (test mode)] Payment {id} succeeded: 12.50 USD"));
            assert_eq!(mail.header("From").unwrap(), "payhub@shop.example");
            let message_id = mail.header("Message-ID").unwrap();
            assert!(message_id.starts_with(&format!("<{event_id}.")) && message_id.ends_with("@shop.example>"), "{message_id}");
            let text = mail.text();
            assert!(text.contains("Amount            12.50 USD"), "{text}");
            assert!(text.contains(&format!("See it in payhub: {}/v1/payments/{id}", app.url)), "{text}");
        }
        assert_ne!(mails[0].header("Message-ID"), mails[1].header("Message-ID"));
        assert!(states.iter().all(|m| m.status == "sent" && m.attempts == 1), "{states:?}");
    }

    async fn mail_waits_for_a_mail_server_that_is_down_and_arrives_exactly_once(app, listener) {
        // The server is down: its port refuses connections.
        let address = listener.local_addr().unwrap();
        drop(listener);
        let payment = app.paid_payment(1250).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        app.eventually("several failed attempts", || async {
            let (_, states) = app.mails_about(&id, "payment.succeeded").await;
            states.len() == 2 && states.iter().all(|m| m.status == "pending" && m.attempts >= 2 && m.last_error.is_some())
        }).await;
        let smtp = SmtpServer::start_on(TcpListener::bind(address).await.unwrap()).await;
        app.eventually("the mails once the server is back", || async { smtp.received().len() >= 2 }).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mut recipients: Vec<_> = smtp.received().into_iter().flat_map(|m| m.to).collect();
        recipients.sort();
        assert_eq!(recipients, ["ops@shop.example", "support@shop.example"], "each recipient mailed exactly once");
        let (_, states) = app.mails_about(&id, "payment.succeeded").await;
        assert!(states.iter().all(|m| m.status == "sent" && m.attempts >= 2), "failed attempts, then one sent: {states:?}");
    }

    async fn a_dispute_opened_at_paypal_is_mailed_once_with_its_amount_and_due_date(app, listener) {
        let smtp = SmtpServer::start_on(listener).await;
        let payment = app.paid_payment(4000).await;
        let capture = payment["provider_refs"]["capture_id"].as_str().unwrap();
        let claim = json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
            "amount": { "currency_code": "USD", "value": "25.00" }, "message": "The box was empty." });
        app.sandbox_control(Method::POST, &format!("/sandbox/paypal/captures/{capture}/dispute"), claim).await;
        let path = format!("/v1/payments/{}/disputes", payment["id"].as_str().unwrap());
        app.eventually("the hub has the dispute", || async { !app.get_json(&path).await["data"][0].is_null() }).await;
        let dispute = app.get_json(&path).await["data"][0].clone();
        let id = dispute["id"].as_str().unwrap();
        let (created, _) = app.mails_about(id, "dispute.created").await;
        app.eventually("the dispute.created mails", || async {
            smtp.received().iter().filter(|m| m.header("Message-ID").unwrap().starts_with(&format!("<{created}."))).count() >= 2
        }).await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        let about_created: Vec<_> = smtp.received().into_iter().filter(|m| m.header("Message-ID").unwrap().starts_with(&format!("<{created}."))).collect();
        let to_support: Vec<_> = about_created.iter().filter(|m| m.to == ["support@shop.example"]).collect();
        assert_eq!((about_created.len(), to_support.len()), (2, 1), "one mail per recipient: {about_created:?}");
        let due = chrono::DateTime::parse_from_rfc3339(dispute["response_due_at"].as_str().unwrap()).unwrap();
        let due = due.format("%Y-%m-%d %H:%M UTC").to_string();
        let mail = to_support[0];
        assert_eq!(mail.header("Subject").unwrap(), format!("[payhub (test mode)] Dispute {id} opened: 25.00 USD, not as described, answer by {due}"));
        let text = mail.text();
        for line in ["Amount            25.00 USD", "Buyer's message   The box was empty.", &format!("Answer by         {due} ("), &format!("See it in payhub: {}/v1/disputes/{id}", app.url)] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        let (_, states) = app.mails_about(id, "dispute.created").await;
        assert!(states.iter().all(|m| m.status == "sent" && m.attempts == 1), "{states:?}");
    }

    async fn an_unanswered_dispute_is_mailed_again_the_day_before_it_is_due_and_an_answered_one_is_not(app, listener) {
        let smtp = SmtpServer::start_on(listener).await;
        let (unanswered, _) = app.dispute_opened(&app.paid_payment(2000).await, json!({})).await;
        let (answered, _) = app.dispute_opened(&app.paid_payment(3000).await, json!({})).await;
        let (unanswered_id, answered_id) = (unanswered["id"].as_str().unwrap(), answered["id"].as_str().unwrap());
        let written = app.post(&format!("/v1/disputes/{answered_id}/messages"), json!({ "text": "Shipped on Monday" })).await;
        assert_eq!(written.status(), 200);
        let first = app.event_ids(unanswered_id, "dispute.action_required").await;
        assert_eq!(first.len(), 1);
        app.eventually("the first request for an answer is mailed", || async { smtp.about(&first[0]).len() == 2 }).await;

        app.advance(chrono::Duration::days(9) + chrono::Duration::hours(1)).await;
        app.eventually("asked again a day before the due date", || async {
            app.event_ids(unanswered_id, "dispute.action_required").await.len() == 2
        })
        .await;
        let reminder = app.event_ids(unanswered_id, "dispute.action_required").await.pop().unwrap();
        app.eventually("the reminder is mailed", || async { smtp.about(&reminder).len() == 2 }).await;
        let due = due_of(&unanswered);
        let mail = smtp.to_support(&reminder);
        assert_eq!(mail.header("Subject").unwrap(), format!("[payhub (test mode)] Dispute {unanswered_id} needs an answer by {due}: 20.00 USD, not received"));
        let text = mail.text();
        // A day before: less than 24 hours left (the clock has moved on a little since).
        let line = text.lines().find(|line| line.starts_with("Answer by")).unwrap();
        let left = line.strip_prefix(&format!("Answer by         {due} (")).and_then(|rest| rest.strip_suffix(" h left)"));
        assert!(left.and_then(|hours| hours.parse::<u32>().ok()).is_some_and(|hours| hours < 24), "{line}");
        assert!(text.contains(&format!("See it in payhub: {}/v1/disputes/{unanswered_id}", app.url)), "{text}");

        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.event_ids(answered_id, "dispute.action_required").await.len(), 1, "the answered case is not asked again");
        let about_answered: usize = {
            let mut count = 0;
            for event in app.event_ids(answered_id, "dispute.action_required").await {
                count += smtp.about(&event).len();
            }
            count
        };
        assert_eq!(about_answered, 2, "only the first request for an answer was mailed about the answered case");
    }

    async fn a_won_and_a_lost_dispute_are_mailed_with_their_outcome(app, listener) {
        let smtp = SmtpServer::start_on(listener).await;
        let (won, won_at_paypal) = app.dispute_opened(&app.paid_payment(3000).await, json!({ "stage": "CHARGEBACK" })).await;
        let (lost, lost_at_paypal) = app.dispute_opened(&app.paid_payment(2000).await, json!({ "stage": "CHARGEBACK" })).await;
        let (won_id, lost_id) = (won["id"].as_str().unwrap(), lost["id"].as_str().unwrap());
        app.answer_with_evidence(won_id).await;
        app.answer_with_evidence(lost_id).await;
        let paypal = app.paypal();
        paypal.adjudicate_dispute("decide-won", &won_at_paypal, payhub_paypal::AdjudicationOutcome::SellerFavor).await.unwrap();
        paypal.adjudicate_dispute("decide-lost", &lost_at_paypal, payhub_paypal::AdjudicationOutcome::BuyerFavor).await.unwrap();

        for (id, result, subject, outcome) in [
            (won_id, "won", "30.00 USD, not received", "Outcome           won, 0.00 USD back to the buyer"),
            (lost_id, "lost", "20.00 USD, not received", "Outcome           lost, 20.00 USD back to the buyer"),
        ] {
            app.eventually(&format!("dispute {id} is resolved"), || async {
                app.event_ids(id, "dispute.resolved").await.len() == 1
            })
            .await;
            let resolved = app.event_ids(id, "dispute.resolved").await.remove(0);
            app.eventually("the resolution is mailed", || async { smtp.about(&resolved).len() == 2 }).await;
            let mail = smtp.to_support(&resolved);
            assert_eq!(mail.header("Subject").unwrap(), format!("[payhub (test mode)] Dispute {id} {result}: {subject}"));
            let text = mail.text();
            assert!(text.contains(outcome), "{outcome:?} in {text}");
        }
    }

    async fn a_dispute_mail_waits_for_a_mail_server_that_is_down_and_arrives_exactly_once(app, listener) {
        let address = listener.local_addr().unwrap();
        drop(listener);
        let (dispute, _) = app.dispute_opened(&app.paid_payment(4000).await, json!({})).await;
        let id = dispute["id"].as_str().unwrap().to_owned();
        app.eventually("several failed attempts", || async {
            let (_, states) = app.mails_about(&id, "dispute.created").await;
            states.len() == 2 && states.iter().all(|m| m.status == "pending" && m.attempts >= 2 && m.last_error.is_some())
        })
        .await;
        let smtp = SmtpServer::start_on(TcpListener::bind(address).await.unwrap()).await;
        let (created, _) = app.mails_about(&id, "dispute.created").await;
        let created = created.to_string();
        app.eventually("the mails once the server is back", || async { smtp.about(&created).len() >= 2 }).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mut recipients: Vec<_> = smtp.about(&created).into_iter().flat_map(|m| m.to).collect();
        recipients.sort();
        assert_eq!(recipients, ["ops@shop.example", "support@shop.example"], "each recipient mailed exactly once");
        assert!(smtp.to_support(&created).header("Subject").unwrap().contains(&format!("Dispute {id} opened: 40.00 USD")));
        let (_, states) = app.mails_about(&id, "dispute.created").await;
        assert!(states.iter().all(|m| m.status == "sent" && m.attempts >= 2), "failed attempts, then one sent: {states:?}");
    }
}
