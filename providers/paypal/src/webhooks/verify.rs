//! Local verification of a notification's signature against a certificate chain.
//!
//! PayPal signs `transmission_id|transmission_time|webhook_id|crc32(body)` with the key of a
//! certificate issued to `messageverificationcerts[.sandbox].paypal.com` and publishes the chain
//! at the notification's cert URL. A signature proves nothing unless that certificate chains to
//! a trusted root, was valid at the time, and names PayPal's signing host; all three are checked
//! here before the signature itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor};
use webpki::{EndEntityCert, KeyUsage};

use crate::error::VerifyError;
use crate::webhooks::headers::WebhookHeaders;
use crate::webhooks::validity::{ValidityWindow, unix_time};

/// The only `PAYPAL-AUTH-ALGO` PayPal uses.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// Subject name of PayPal's live signing certificate.
pub const LIVE_SIGNING_SUBJECT: &str = "messageverificationcerts.paypal.com";
/// Subject name of PayPal's sandbox signing certificate.
pub const SANDBOX_SIGNING_SUBJECT: &str = "messageverificationcerts.sandbox.paypal.com";

/// What a signing certificate must chain to and be issued for, and the webhook it signs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    /// The id of the webhook registered at PayPal (not the event id): it is part of the
    /// signed string, so a notification signed for another webhook does not verify.
    pub webhook_id: String,
    /// PEM roots; for PayPal, DigiCert's. For a local simulator, its own CA.
    pub trust_anchors_pem: Vec<u8>,
    /// PEM intermediates to add to those served at the cert URL (PayPal's URL may serve the
    /// leaf alone).
    pub intermediates_pem: Vec<u8>,
    /// DNS names the leaf may be issued for, e.g. [`LIVE_SIGNING_SUBJECT`].
    pub expected_subject_names: Vec<String>,
}

/// The signed string for a notification: `transmission_id|transmission_time|webhook_id|crc32`,
/// the CRC-32 of the raw body as an unsigned decimal.
pub fn signed_string(headers: &WebhookHeaders, webhook_id: &str, body: &[u8]) -> String {
    format!("{}|{}|{}|{}", headers.transmission_id, headers.transmission_time, webhook_id, crc32fast::hash(body))
}

/// Verifies a notification against `chain_pem` (the document at its cert URL: the leaf first,
/// then any intermediates), with certificate validity checked at `at`.
pub fn verify_with_cert_chain(
    chain_pem: &[u8],
    headers: &WebhookHeaders,
    body: &[u8],
    trust: &TrustConfig,
    at: DateTime<Utc>,
) -> Result<(), VerifyError> {
    check_algorithm(headers)?;
    let store = TrustStore::from_config(trust)?;
    let chain = parse_chain(chain_pem)?;
    store.verify(&chain, headers, body, at)
}

pub(crate) fn check_algorithm(headers: &WebhookHeaders) -> Result<(), VerifyError> {
    if headers.auth_algo == SIGNATURE_ALGORITHM {
        Ok(())
    } else {
        Err(VerifyError::UnsupportedAlgorithm(headers.auth_algo.clone()))
    }
}

/// The certificates of a served chain, leaf first.
pub(crate) fn parse_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, VerifyError> {
    pem_certificates(pem).map_err(VerifyError::CertRejected)
}

/// Certificates of a PEM document, in order. Sections that are not certificates are skipped.
fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate PEM does not parse: {e}"))?;
    if certificates.is_empty() {
        return Err("no certificate in the PEM document".into());
    }
    Ok(certificates)
}

/// A [`TrustConfig`] parsed once, ready to check chains.
pub(crate) struct TrustStore {
    webhook_id: String,
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    subject_names: Vec<ServerName<'static>>,
}

impl TrustStore {
    pub(crate) fn from_config(trust: &TrustConfig) -> Result<Self, VerifyError> {
        let misconfigured = |why: String| VerifyError::CertRejected(format!("trust configuration: {why}"));
        if trust.webhook_id.is_empty() {
            return Err(misconfigured("webhook_id is empty".into()));
        }
        let anchors = pem_certificates(&trust.trust_anchors_pem)
            .map_err(|e| misconfigured(format!("trust_anchors_pem: {e}")))?
            .iter()
            .map(|der| webpki::anchor_from_trusted_cert(der).map(|anchor| anchor.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| misconfigured(format!("trust anchor is not a usable certificate: {e:?}")))?;
        let intermediates = if trust.intermediates_pem.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            pem_certificates(&trust.intermediates_pem).map_err(|e| misconfigured(format!("intermediates_pem: {e}")))?
        };
        if trust.expected_subject_names.is_empty() {
            return Err(misconfigured("expected_subject_names is empty".into()));
        }
        let subject_names = trust
            .expected_subject_names
            .iter()
            .map(|name| match ServerName::try_from(name.clone()) {
                Ok(name @ ServerName::DnsName(_)) => Ok(name),
                _ => Err(misconfigured(format!("{name:?} is not a DNS name"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { webhook_id: trust.webhook_id.clone(), anchors, intermediates, subject_names })
    }

    /// Checks the chain at `at`, the leaf's name, then the signature with the leaf's key.
    pub(crate) fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        headers: &WebhookHeaders,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        self.validate_chain(chain, at)?;
        self.check_notification(chain, headers, body)
    }

    /// Checks that the leaf chains through the served and configured intermediates to a trust
    /// anchor, every certificate on the way valid at `at`. This is the RSA-heavy part, and the
    /// only one that depends on `at`.
    pub(crate) fn validate_chain(&self, chain: &[CertificateDer<'_>], at: DateTime<Utc>) -> Result<(), VerifyError> {
        let (leaf, served_intermediates) = leaf_of(chain)?;
        let intermediates: Vec<CertificateDer<'_>> = served_intermediates
            .iter()
            .chain(&self.intermediates)
            .map(|der| CertificateDer::from(der.as_ref()))
            .collect();
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &intermediates,
            unix_time(at),
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_path| ())
        .map_err(|e| VerifyError::CertRejected(format!("chain is not valid at {at}: {e:?}")))
    }

    /// The window in which a chain that validated once keeps validating: the intersection of
    /// the validity of the leaf and of every intermediate offered, used on the path or not.
    pub(crate) fn validity_window(&self, chain: &[CertificateDer<'_>]) -> Option<ValidityWindow> {
        ValidityWindow::of(chain.iter().chain(&self.intermediates))
    }

    /// Checks the leaf's name, then the notification's signature with the leaf's key. Assumes
    /// the chain itself was validated for the notification's time.
    pub(crate) fn check_notification(
        &self,
        chain: &[CertificateDer<'_>],
        headers: &WebhookHeaders,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let (leaf, _) = leaf_of(chain)?;
        if !self.subject_names.iter().any(|name| leaf.verify_is_valid_for_subject_name(name).is_ok()) {
            return Err(VerifyError::CertRejected("certificate is not issued for an expected subject name".into()));
        }
        let signature = BASE64
            .decode(headers.transmission_sig.as_bytes())
            .map_err(|_| VerifyError::Malformed("PAYPAL-TRANSMISSION-SIG is not base64".into()))?;
        let message = signed_string(headers, &self.webhook_id, body);
        leaf.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, message.as_bytes(), &signature)
            .map_err(|_| VerifyError::BadSignature)
    }
}

/// The parsed leaf (the first certificate) and the served intermediates after it.
fn leaf_of<'a>(chain: &'a [CertificateDer<'a>]) -> Result<(EndEntityCert<'a>, &'a [CertificateDer<'a>]), VerifyError> {
    let Some((leaf_der, served_intermediates)) = chain.split_first() else {
        return Err(VerifyError::CertRejected("empty certificate chain".into()));
    };
    let leaf = EndEntityCert::try_from(leaf_der)
        .map_err(|e| VerifyError::CertRejected(format!("leaf certificate does not parse: {e:?}")))?;
    Ok((leaf, served_intermediates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth_algo: &str) -> WebhookHeaders {
        WebhookHeaders {
            transmission_id: "b2384410-f8d2-11e4-8bf3-77339302725b".into(),
            transmission_time: "2015-05-12T18:14:14Z".into(),
            transmission_sig: "c2ln".into(),
            cert_url: "https://api.paypal.com/v1/notifications/certs/CERT-1".into(),
            auth_algo: auth_algo.into(),
        }
    }

    #[test]
    fn signed_string_joins_ids_time_and_the_unsigned_crc32_of_the_body() {
        // CRC-32 of "123456789" is the standard check value 0xCBF43926.
        assert_eq!(
            signed_string(&headers(SIGNATURE_ALGORITHM), "3RN13029J36659323", b"123456789"),
            "b2384410-f8d2-11e4-8bf3-77339302725b|2015-05-12T18:14:14Z|3RN13029J36659323|3421780262"
        );
    }

    #[test]
    fn algorithms_other_than_sha256_with_rsa_are_refused() {
        for algo in ["SHA1withRSA", "sha256withrsa ", "", "SHA256withECDSA"] {
            assert_eq!(check_algorithm(&headers(algo)), Err(VerifyError::UnsupportedAlgorithm(algo.into())));
        }
        assert_eq!(check_algorithm(&headers(SIGNATURE_ALGORITHM)), Ok(()));
    }

    #[test]
    fn a_document_without_certificates_is_rejected() {
        assert!(matches!(parse_chain(b"<html>not a certificate</html>"), Err(VerifyError::CertRejected(_))));
    }

    #[test]
    fn a_trust_config_without_anchors_is_refused() {
        let trust = TrustConfig {
            webhook_id: "WH".into(),
            trust_anchors_pem: Vec::new(),
            intermediates_pem: Vec::new(),
            expected_subject_names: vec![SANDBOX_SIGNING_SUBJECT.into()],
        };
        assert!(matches!(
            TrustStore::from_config(&trust),
            Err(VerifyError::CertRejected(message)) if message.contains("trust_anchors_pem")
        ));
    }
}
