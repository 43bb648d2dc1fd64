//! `WebhookVerifier` end to end: real PayPal-signed samples, their certificate served from a
//! local cert URL. The cert URL is not part of the signed string, so pointing it at the local
//! server leaves the signatures valid.

use chrono::{DateTime, Utc};
use payhub_paypal::{TrustConfig, VerifierConfig, VerifyError, WebhookHeaders, WebhookVerifier, default_http_client};

use crate::cert_server::CertServer;
use crate::fixtures::{Fixtures, Sample};

pub const CERT_PATH: &str = "/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77";

pub fn verifier(fixtures: &Fixtures, webhook_id: &str, server: &CertServer) -> WebhookVerifier {
    verifier_trusting(fixtures.trust(webhook_id), server)
}

pub fn verifier_trusting(trust: TrustConfig, server: &CertServer) -> WebhookVerifier {
    let config =
        VerifierConfig { trust, allowed_cert_hosts: vec![server.authority()], allow_plain_http_cert_urls: true };
    WebhookVerifier::new(config, default_http_client().expect("http client")).expect("verifier")
}

pub fn pointed_at(sample: &Sample, url: String) -> WebhookHeaders {
    WebhookHeaders { cert_url: url, ..sample.headers.clone() }
}

/// Sample 01, a verifier trusting `server`, and the sample's headers pointing at `server`.
pub struct Notification<'a> {
    pub sample: &'a Sample,
    pub headers: WebhookHeaders,
    pub verifier: WebhookVerifier,
    pub server: CertServer,
}

impl<'a> Notification<'a> {
    /// `server` serves `documents` (path, body); any other path answers 404.
    pub async fn served(fixtures: &'a Fixtures, documents: Vec<(&str, Vec<u8>)>) -> Self {
        let sample = &fixtures.samples[0];
        let server = CertServer::start(documents).await;
        let verifier = verifier(fixtures, &sample.webhook_id, &server);
        Self { sample, headers: pointed_at(sample, server.url(CERT_PATH)), verifier, server }
    }

    /// `server` serves `chain_pem` at the sample's cert URL.
    pub async fn served_with(fixtures: &'a Fixtures, chain_pem: Vec<u8>) -> Self {
        Self::served(fixtures, vec![(CERT_PATH, chain_pem)]).await
    }

    pub async fn verify_at(&self, at: DateTime<Utc>) -> Result<(), VerifyError> {
        self.verifier.verify(&self.headers, &self.sample.body, at).await
    }
}

/// The samples signed with the certificate the node SDK served at `CERT_PATH`.
fn samples_signed_by_a5cafa77(fixtures: &Fixtures) -> Vec<&Sample> {
    let samples: Vec<&Sample> =
        fixtures.samples.iter().filter(|s| s.headers.cert_url.ends_with("CERT-360caa42-fca2a594-a5cafa77")).collect();
    assert_eq!(samples.len(), 4, "samples 01 to 04 share one certificate");
    samples
}

#[tokio::test]
async fn the_certificate_is_fetched_once_and_later_notifications_verify_from_the_cache() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let samples = samples_signed_by_a5cafa77(&fixtures);
    let server = CertServer::start(vec![(CERT_PATH, samples[0].cert_pem.clone())]).await;
    for sample in samples {
        let verifier = verifier(&fixtures, &sample.webhook_id, &server);
        let headers = pointed_at(sample, server.url(CERT_PATH));
        let first = verifier.verify(&headers, &sample.body, sample.transmission_time).await;
        assert_eq!(first, Ok(()), "{}", sample.name);
        let again = verifier.verify(&headers, &sample.body, sample.transmission_time).await;
        assert_eq!(again, Ok(()), "{}", sample.name);
    }
    // Four verifiers, each fetching once: the second verification of each came from its cache.
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn clones_of_a_verifier_share_its_certificate_cache() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    let transmitted = notification.sample.transmission_time;
    let clone = notification.verifier.clone();
    assert_eq!(notification.verify_at(transmitted).await, Ok(()));
    assert_eq!(clone.verify(&notification.headers, &notification.sample.body, transmitted).await, Ok(()));
    assert_eq!(notification.server.hits(), 1);
}

#[tokio::test]
async fn a_cached_certificate_is_refused_once_it_has_expired() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    assert_eq!(notification.verify_at(notification.sample.transmission_time).await, Ok(()));
    let today = notification.verify_at(Utc::now()).await;
    assert!(matches!(&today, Err(VerifyError::CertRejected(why)) if why.contains("Expired")), "{today:?}");
    assert_eq!(notification.server.hits(), 1);
}

#[tokio::test]
async fn a_tampered_body_is_a_bad_signature_through_the_verifier_too() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    let mut body = notification.sample.body.clone();
    body.push(b' ');
    let result =
        notification.verifier.verify(&notification.headers, &body, notification.sample.transmission_time).await;
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[tokio::test]
async fn a_cert_url_that_answers_404_is_a_fetch_failure_and_is_not_cached() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served(&fixtures, vec![]).await;
    for _ in 0..2 {
        let result = notification.verify_at(notification.sample.transmission_time).await;
        assert!(matches!(&result, Err(VerifyError::CertFetch(why)) if why.contains("404")), "{result:?}");
    }
    assert_eq!(notification.server.hits(), 2);
}

#[tokio::test]
async fn a_certificate_document_over_64_kib_is_refused() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let mut oversized = fixtures.samples[0].cert_pem.clone();
    oversized.resize(65 * 1024, b'\n');
    let notification = Notification::served_with(&fixtures, oversized).await;
    let result = notification.verify_at(notification.sample.transmission_time).await;
    assert!(matches!(&result, Err(VerifyError::CertFetch(why)) if why.contains("larger")), "{result:?}");
}

#[tokio::test]
async fn a_served_document_that_holds_no_certificate_is_rejected() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, b"<html>maintenance</html>".to_vec()).await;
    let result = notification.verify_at(notification.sample.transmission_time).await;
    assert!(matches!(result, Err(VerifyError::CertRejected(_))), "{result:?}");
}

#[tokio::test]
async fn a_certificate_from_an_unreachable_host_is_a_fetch_failure() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let sample = &fixtures.samples[0];
    // Bind and release a port so that nothing listens on it.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr");
    let config = VerifierConfig {
        trust: fixtures.trust(&sample.webhook_id),
        allowed_cert_hosts: vec![closed.to_string()],
        allow_plain_http_cert_urls: true,
    };
    let verifier = WebhookVerifier::new(config, default_http_client().expect("http")).expect("verifier");
    let headers = pointed_at(sample, format!("http://{closed}{CERT_PATH}"));
    let result = verifier.verify(&headers, &sample.body, sample.transmission_time).await;
    assert!(matches!(result, Err(VerifyError::CertFetch(_))), "{result:?}");
}
