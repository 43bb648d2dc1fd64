//! Local verification against real PayPal-signed notifications.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use payhub_paypal::{
    LIVE_SIGNING_SUBJECT, VerifyError, WebhookHeaders, parse_webhook_event, signed_string, verify_with_cert_chain,
};

use crate::fixtures::{Fixtures, Sample};

const SAMPLE_COUNT: usize = 6;

/// What the signature covers besides the certificate: the headers, the body, and the webhook id
/// the receiver is configured with.
struct Transmission {
    headers: WebhookHeaders,
    body: Vec<u8>,
    webhook_id: String,
}

impl Transmission {
    fn of(sample: &Sample) -> Self {
        Self { headers: sample.headers.clone(), body: sample.body.clone(), webhook_id: sample.webhook_id.clone() }
    }
}

fn verify_sample(fixtures: &Fixtures, sample: &Sample, transmission: &Transmission) -> Result<(), VerifyError> {
    let trust = fixtures.trust(&transmission.webhook_id);
    verify_with_cert_chain(
        &sample.cert_pem,
        &transmission.headers,
        &transmission.body,
        &trust,
        sample.transmission_time,
    )
}

/// Replaces the last character with another one.
fn change_last_char(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let last = chars.last_mut().expect("non-empty");
    *last = if *last == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

/// One small change to a genuine transmission; every one must break the signature.
struct Tamper {
    what: &'static str,
    apply: fn(&mut Transmission),
}

const TAMPERS: [Tamper; 5] = [
    Tamper {
        what: "a body with one byte changed",
        apply: |transmission| {
            let middle = transmission.body.len() / 2;
            transmission.body[middle] ^= 0x01;
        },
    },
    Tamper { what: "a body with a newline appended", apply: |transmission| transmission.body.push(b'\n') },
    Tamper {
        what: "a webhook id changed by one character",
        apply: |transmission| transmission.webhook_id = change_last_char(&transmission.webhook_id),
    },
    Tamper {
        what: "a transmission id changed by one character",
        apply: |transmission| {
            transmission.headers.transmission_id = change_last_char(&transmission.headers.transmission_id);
        },
    },
    Tamper {
        what: "a signature with one byte flipped",
        apply: |transmission| {
            let signature = &transmission.headers.transmission_sig;
            let mut signature = BASE64.decode(signature).expect("fixture signature is base64");
            signature[17] ^= 0x80;
            transmission.headers.transmission_sig = BASE64.encode(&signature);
        },
    },
];

#[test]
fn every_sample_verifies_with_its_certificate_at_its_transmission_time() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    assert_eq!(fixtures.samples.len(), SAMPLE_COUNT);
    for sample in &fixtures.samples {
        assert_eq!(verify_sample(&fixtures, sample, &Transmission::of(sample)), Ok(()), "{}", sample.name);
    }
}

#[test]
fn the_signed_string_of_every_sample_matches_its_signed_string_txt() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    assert_eq!(fixtures.samples.len(), SAMPLE_COUNT);
    for sample in &fixtures.samples {
        assert_eq!(
            signed_string(&sample.headers, &sample.webhook_id, &sample.body),
            sample.signed_string,
            "{}",
            sample.name
        );
    }
}

#[test]
fn every_sample_is_refused_today_because_its_certificate_has_expired() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    for sample in &fixtures.samples {
        let result = verify_with_cert_chain(
            &sample.cert_pem,
            &sample.headers,
            &sample.body,
            &fixtures.trust(&sample.webhook_id),
            Utc::now(),
        );
        assert!(
            matches!(&result, Err(VerifyError::CertRejected(why)) if why.contains("Expired")),
            "{}: {result:?}",
            sample.name
        );
    }
}

#[test]
fn every_tampered_transmission_of_every_sample_is_a_bad_signature() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    assert_eq!(fixtures.samples.len(), SAMPLE_COUNT);
    for sample in &fixtures.samples {
        for tamper in &TAMPERS {
            let mut transmission = Transmission::of(sample);
            (tamper.apply)(&mut transmission);
            assert_eq!(
                verify_sample(&fixtures, sample, &transmission),
                Err(VerifyError::BadSignature),
                "{}: {}",
                sample.name,
                tamper.what
            );
        }
    }
}

#[test]
fn a_signature_checked_with_another_certificates_key_is_a_bad_signature() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let first = &fixtures.samples[0];
    let last = &fixtures.samples[SAMPLE_COUNT - 1];
    assert_ne!(first.cert_pem, last.cert_pem);
    let result = verify_with_cert_chain(
        &last.cert_pem,
        &first.headers,
        &first.body,
        &fixtures.trust(&first.webhook_id),
        last.transmission_time,
    );
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn a_certificate_not_issued_to_an_expected_name_is_rejected() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let sample = &fixtures.samples[0];
    let mut trust = fixtures.trust(&sample.webhook_id);
    trust.expected_subject_names = vec![LIVE_SIGNING_SUBJECT.to_owned()];
    let result =
        verify_with_cert_chain(&sample.cert_pem, &sample.headers, &sample.body, &trust, sample.transmission_time);
    assert!(matches!(&result, Err(VerifyError::CertRejected(why)) if why.contains("subject name")), "{result:?}");
}

#[test]
fn a_chain_that_does_not_reach_a_trust_anchor_is_rejected() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let sample = &fixtures.samples[0];
    let mut trust = fixtures.trust(&sample.webhook_id);
    trust.intermediates_pem.clear();
    let result =
        verify_with_cert_chain(&sample.cert_pem, &sample.headers, &sample.body, &trust, sample.transmission_time);
    assert!(matches!(&result, Err(VerifyError::CertRejected(why)) if why.contains("UnknownIssuer")), "{result:?}");
}

#[test]
fn a_served_chain_that_includes_the_intermediate_needs_no_configured_intermediate() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let sample = &fixtures.samples[0];
    let mut chain = sample.cert_pem.clone();
    chain.extend_from_slice(b"\n");
    chain.extend_from_slice(&fixtures.intermediate_pem);
    let mut trust = fixtures.trust(&sample.webhook_id);
    trust.intermediates_pem.clear();
    let result = verify_with_cert_chain(&chain, &sample.headers, &sample.body, &trust, sample.transmission_time);
    assert_eq!(result, Ok(()));
}

#[test]
fn a_genuine_notification_with_another_auth_algo_is_refused() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    let sample = &fixtures.samples[0];
    let mut transmission = Transmission::of(sample);
    transmission.headers.auth_algo = "SHA1withRSA".into();
    assert_eq!(
        verify_sample(&fixtures, sample, &transmission),
        Err(VerifyError::UnsupportedAlgorithm("SHA1withRSA".into()))
    );
}

#[test]
fn every_sample_body_parses_as_an_event_of_its_type() {
    let Some(fixtures) = Fixtures::load() else {
        return;
    };
    for sample in &fixtures.samples {
        let event = parse_webhook_event(&sample.body).expect("fixture body parses");
        assert!(event.id.starts_with("WH-"), "{}", event.id);
        assert_eq!(event.event_type, sample.event_type(), "{}", sample.name);
        assert!(event.resource.is_object(), "{}", sample.name);
    }
}
