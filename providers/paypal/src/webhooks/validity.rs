//! The span of time in which a validated certificate chain stays valid.
//!
//! With revocation not checked, the only input of chain validation that changes over time is
//! the time itself, tested against each certificate's validity period. A chain that validated
//! once therefore validates again at any time inside every certificate's validity, and a
//! cached chain needs no new RSA work there.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::der::Decode;

/// The intersection of certificates' validity periods, in whole seconds since the epoch, both
/// ends included as webpki includes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidityWindow {
    not_before: u64,
    not_after: u64,
}

impl ValidityWindow {
    /// The window in which every one of `certificates` is within its validity, or `None` when
    /// one of them cannot be read (the caller then validates every time). The window may be
    /// empty; it then contains no time at all.
    pub(crate) fn of<'a, 'der: 'a>(certificates: impl IntoIterator<Item = &'a CertificateDer<'der>>) -> Option<Self> {
        let mut window = Self { not_before: 0, not_after: u64::MAX };
        for der in certificates {
            let certificate = Certificate::from_der(der.as_ref()).ok()?;
            let validity = certificate.tbs_certificate().validity();
            window.not_before = window.not_before.max(validity.not_before.to_unix_duration().as_secs());
            window.not_after = window.not_after.min(validity.not_after.to_unix_duration().as_secs());
        }
        Some(window)
    }

    /// Whether `at`, as the chain validation sees it, falls inside the window.
    pub(crate) fn contains(&self, at: DateTime<Utc>) -> bool {
        let at = unix_time(at).as_secs();
        self.not_before <= at && at <= self.not_after
    }
}

/// `at` in the whole seconds chain validation works in.
pub(crate) fn unix_time(at: DateTime<Utc>) -> UnixTime {
    // Times before 1970 are clamped; every certificate is then "not yet valid", as it should be.
    let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
    UnixTime::since_unix_epoch(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).expect("test time").with_timezone(&Utc)
    }

    fn window(not_before: &str, not_after: &str) -> ValidityWindow {
        ValidityWindow {
            not_before: unix_time(at(not_before)).as_secs(),
            not_after: unix_time(at(not_after)).as_secs(),
        }
    }

    #[test]
    fn a_window_includes_both_of_its_ends_and_nothing_beyond() {
        let window = window("2015-03-18T00:00:00Z", "2017-03-22T12:00:00Z");
        assert!(window.contains(at("2015-03-18T00:00:00Z")));
        assert!(window.contains(at("2017-03-22T12:00:00Z")));
        // Chain validation sees whole seconds, so the last second is valid to its end.
        assert!(window.contains(at("2017-03-22T12:00:00.999Z")));
        assert!(!window.contains(at("2015-03-17T23:59:59Z")));
        assert!(!window.contains(at("2017-03-22T12:00:01Z")));
    }

    #[test]
    fn an_empty_list_of_certificates_bounds_nothing() {
        let window = ValidityWindow::of(&[]).expect("nothing to read");
        assert!(window.contains(at("1970-01-01T00:00:00Z")));
        assert!(window.contains(at("2999-01-01T00:00:00Z")));
    }

    #[test]
    fn a_certificate_that_does_not_parse_gives_no_window() {
        let garbage = CertificateDer::from(b"not a certificate".to_vec());
        assert_eq!(ValidityWindow::of(&[garbage]), None);
    }
}
