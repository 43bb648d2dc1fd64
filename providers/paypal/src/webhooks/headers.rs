//! The `PAYPAL-*` headers of a webhook notification.

use serde::{Deserialize, Serialize};

use crate::error::VerifyError;

pub const TRANSMISSION_ID: &str = "PAYPAL-TRANSMISSION-ID";
pub const TRANSMISSION_TIME: &str = "PAYPAL-TRANSMISSION-TIME";
pub const TRANSMISSION_SIG: &str = "PAYPAL-TRANSMISSION-SIG";
pub const CERT_URL: &str = "PAYPAL-CERT-URL";
pub const AUTH_ALGO: &str = "PAYPAL-AUTH-ALGO";

/// What PayPal sends alongside a notification body to let the receiver check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookHeaders {
    pub transmission_id: String,
    pub transmission_time: String,
    /// Base64 signature over the signed string (see [`crate::signed_string`]).
    pub transmission_sig: String,
    /// Where the signing certificate chain is published. Attacker-controlled until checked.
    pub cert_url: String,
    /// `SHA256withRSA`.
    pub auth_algo: String,
}

impl WebhookHeaders {
    /// Reads the five headers; names match case-insensitively, as HTTP header names do.
    pub fn from_headers(headers: &::http::HeaderMap) -> Result<Self, VerifyError> {
        let read = |name: &'static str| -> Result<String, VerifyError> {
            let value = headers
                .get(name)
                .ok_or(VerifyError::MissingHeader(name))?
                .to_str()
                .map_err(|_| VerifyError::Malformed(format!("{name} is not printable ASCII")))?
                .trim();
            if value.is_empty() {
                return Err(VerifyError::MissingHeader(name));
            }
            Ok(value.to_owned())
        };
        Ok(Self {
            transmission_id: read(TRANSMISSION_ID)?,
            transmission_time: read(TRANSMISSION_TIME)?,
            transmission_sig: read(TRANSMISSION_SIG)?,
            cert_url: read(CERT_URL)?,
            auth_algo: read(AUTH_ALGO)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::{HeaderMap, HeaderName, HeaderValue};

    fn map(pairs: &[(&str, &[u8])]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                    HeaderValue::from_bytes(value).expect("header value"),
                )
            })
            .collect()
    }

    const ALL: [(&str, &[u8]); 5] = [
        ("Paypal-Transmission-Id", b"b2384410-f8d2-11e4-8bf3-77339302725b"),
        ("paypal-transmission-time", b"2015-05-12T18:14:14Z"),
        ("PAYPAL-TRANSMISSION-SIG", b"c2ln"),
        ("PayPal-Cert-Url", b"https://api.paypal.com/v1/notifications/certs/CERT-1"),
        ("paypal-auth-algo", b"SHA256withRSA"),
    ];

    #[test]
    fn headers_are_read_whatever_their_case() {
        let headers = WebhookHeaders::from_headers(&map(&ALL)).expect("all headers present");
        assert_eq!(headers.transmission_id, "b2384410-f8d2-11e4-8bf3-77339302725b");
        assert_eq!(headers.transmission_time, "2015-05-12T18:14:14Z");
        assert_eq!(headers.transmission_sig, "c2ln");
        assert_eq!(headers.cert_url, "https://api.paypal.com/v1/notifications/certs/CERT-1");
        assert_eq!(headers.auth_algo, "SHA256withRSA");
    }

    #[test]
    fn a_missing_or_empty_header_is_named_in_the_error() {
        let without_sig: Vec<_> = ALL.iter().copied().filter(|(n, _)| *n != "PAYPAL-TRANSMISSION-SIG").collect();
        assert_eq!(WebhookHeaders::from_headers(&map(&without_sig)), Err(VerifyError::MissingHeader(TRANSMISSION_SIG)));
        let mut empty_cert_url = ALL;
        empty_cert_url[3].1 = b"";
        assert_eq!(WebhookHeaders::from_headers(&map(&empty_cert_url)), Err(VerifyError::MissingHeader(CERT_URL)));
    }

    #[test]
    fn a_header_that_is_not_ascii_is_malformed() {
        let mut odd = ALL;
        odd[0].1 = b"id-\xff";
        assert!(matches!(WebhookHeaders::from_headers(&map(&odd)), Err(VerifyError::Malformed(_))));
    }
}
