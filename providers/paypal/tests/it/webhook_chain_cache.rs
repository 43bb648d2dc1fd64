//! A cached certificate chain is validated once and trusted, without new chain validation, only
//! while the notification's time is inside the validity of every certificate offered with it.
//! Real PayPal-signed samples, their certificate served from a local cert URL.

use chrono::{DateTime, Utc};
use payhub_paypal::{VerifyError, WebhookHeaders, WebhookVerifier};

use crate::cert_server::CertServer;
use crate::fixtures::{Fixtures, Sample};
use crate::webhook_verifier::{CERT_PATH, Notification, pointed_at, verifier_trusting};

/// notAfter of the a5cafa77 leaf that signed sample 01 (valid from 2015-03-18T00:00:00Z).
const LEAF_NOT_AFTER: &str = "2017-03-22T12:00:00Z";
/// A time when both the a5cafa77 leaf and the sample 05 leaf (valid 2017-02-18 to 2019-04-26)
/// are valid.
const BOTH_LEAVES_VALID: &str = "2017-03-01T00:00:00Z";

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("test time").with_timezone(&Utc)
}

fn sample_05_leaf(fixtures: &Fixtures) -> Vec<u8> {
    let sample = &fixtures.samples[4];
    assert!(sample.name.starts_with("05-"), "{}", sample.name);
    sample.cert_pem.clone()
}

fn pem_bundle(documents: &[&[u8]]) -> Vec<u8> {
    documents.join(&b"\n"[..])
}

#[tokio::test]
async fn a_cached_chain_verifies_later_notifications_without_validating_the_chain_again() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    let transmitted = notification.sample.transmission_time;
    assert_eq!(notification.verify_at(transmitted).await, Ok(()));
    assert_eq!(notification.verifier.chain_validations(), 1);
    for later in [transmitted, at("2016-06-01T00:00:00Z"), at(LEAF_NOT_AFTER)] {
        assert_eq!(notification.verify_at(later).await, Ok(()), "{later}");
    }
    assert_eq!(notification.verifier.chain_validations(), 1);
    assert_eq!(notification.server.hits(), 1);
}

#[tokio::test]
async fn the_signature_of_each_notification_is_checked_even_when_the_chain_comes_from_the_cache() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    let transmitted = notification.sample.transmission_time;
    assert_eq!(notification.verify_at(transmitted).await, Ok(()));
    let mut tampered_body = notification.sample.body.clone();
    tampered_body.push(b' ');
    let tampered = notification.verifier.verify(&notification.headers, &tampered_body, transmitted).await;
    assert_eq!(tampered, Err(VerifyError::BadSignature));
    let replayed_headers = WebhookHeaders { transmission_id: "another-id".into(), ..notification.headers.clone() };
    let replayed = notification.verifier.verify(&replayed_headers, &notification.sample.body, transmitted).await;
    assert_eq!(replayed, Err(VerifyError::BadSignature));
    assert_eq!(notification.verifier.chain_validations(), 1);
}

#[tokio::test]
async fn a_cached_chain_is_refused_from_the_second_after_the_leaf_expires() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    assert_eq!(notification.verify_at(notification.sample.transmission_time).await, Ok(()));
    let one_second_late = at(LEAF_NOT_AFTER) + chrono::Duration::seconds(1);
    for expired_at in [one_second_late, at("2018-01-01T00:00:00Z")] {
        let result = notification.verify_at(expired_at).await;
        assert!(matches!(&result, Err(VerifyError::CertRejected(why)) if why.contains("Expired")), "{result:?}");
    }
    // Each time outside the leaf's validity went through a full chain validation, which refused it.
    assert_eq!(notification.verifier.chain_validations(), 3);
    assert_eq!(notification.server.hits(), 1);
}

#[tokio::test]
async fn a_cached_chain_is_refused_for_a_time_before_the_leaf_is_valid() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    assert_eq!(notification.verify_at(notification.sample.transmission_time).await, Ok(()));
    let result = notification.verify_at(at("2015-03-17T23:59:59Z")).await;
    assert!(matches!(&result, Err(VerifyError::CertRejected(why)) if why.contains("NotValidYet")), "{result:?}");
}

#[tokio::test]
async fn a_chain_that_failed_validation_is_validated_again_on_the_next_notification() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let notification = Notification::served_with(&fixtures, fixtures.samples[0].cert_pem.clone()).await;
    let today = notification.verify_at(Utc::now()).await;
    assert!(matches!(&today, Err(VerifyError::CertRejected(why)) if why.contains("Expired")), "{today:?}");
    let transmitted = notification.sample.transmission_time;
    assert_eq!(notification.verify_at(transmitted).await, Ok(()));
    assert_eq!(notification.verifier.chain_validations(), 2);
    assert_eq!(notification.verify_at(transmitted).await, Ok(()));
    assert_eq!(notification.verifier.chain_validations(), 2);
    assert_eq!(notification.server.hits(), 1);
}

/// `verifier` verifies sample 01 at its transmission time (2015), when an offered certificate
/// that is not on its path is outside its validity: the chain validates each time, never from
/// the cache. At a time when every offered certificate is valid, the cache is used.
async fn assert_cached_only_while_every_offered_certificate_is_valid(
    verifier: &WebhookVerifier,
    sample: &Sample,
    headers: &WebhookHeaders,
) {
    for expected_validations in [1, 2, 3] {
        assert_eq!(verifier.verify(headers, &sample.body, sample.transmission_time).await, Ok(()));
        assert_eq!(verifier.chain_validations(), expected_validations);
    }
    for _ in 0..2 {
        assert_eq!(verifier.verify(headers, &sample.body, at(BOTH_LEAVES_VALID)).await, Ok(()));
        assert_eq!(verifier.chain_validations(), 3);
    }
}

#[tokio::test]
async fn a_served_certificate_outside_its_validity_keeps_the_chain_from_being_trusted_from_the_cache() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let chain = pem_bundle(&[&fixtures.samples[0].cert_pem, &sample_05_leaf(&fixtures)]);
    let notification = Notification::served_with(&fixtures, chain).await;
    assert_cached_only_while_every_offered_certificate_is_valid(
        &notification.verifier,
        notification.sample,
        &notification.headers,
    )
    .await;
}

#[tokio::test]
async fn a_configured_intermediate_outside_its_validity_keeps_the_chain_from_being_trusted_from_the_cache() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let sample = &fixtures.samples[0];
    let server = CertServer::start(vec![(CERT_PATH, sample.cert_pem.clone())]).await;
    let mut trust = fixtures.trust(&sample.webhook_id);
    trust.intermediates_pem = pem_bundle(&[&fixtures.intermediate_pem, &sample_05_leaf(&fixtures)]);
    let verifier = verifier_trusting(trust, &server);
    let headers = pointed_at(sample, server.url(CERT_PATH));
    assert_cached_only_while_every_offered_certificate_is_valid(&verifier, sample, &headers).await;
}
