//! `POST /webhooks/paypal/ipn`: an IPN is read far enough to know its mode and its inbox key,
//! stored whole and acknowledged; the processor confirms it with PayPal's postback before it
//! changes anything.

use payhub_core::Mode;
use payhub_paypal::IpnMessage;

use super::legacy::IPN_EVENT_PREFIX;
use crate::providers::{NotificationRejected, RejectionReason, VerifiedNotification};

/// Fields of which every IPN has at least one: what the message is about.
const NAMING_FIELDS: [&str; 5] = ["txn_id", "txn_type", "transaction_type", "ipn_track_id", "pay_key"];

/// The IPN's mode (`test_ipn=1` is PayPal's sandbox) and its inbox entry's key and type.
///
/// The key is the transaction and its status (what PayPal resends until answered) plus a digest
/// of the exact bytes: PayPal's resends are the same bytes and count once, while a forged copy
/// that names a genuine transaction gets a row of its own, is disowned by the postback, and
/// cannot take the genuine message's place.
///
/// A form without `verify_sign` or without any field that names what it is about is refused
/// before it costs an inbox row: PayPal puts `verify_sign` in every IPN and names a
/// transaction (`txn_id`), a kind (`txn_type`, Adaptive Payments' `transaction_type`) or the
/// message itself (`ipn_track_id`, Adaptive Payments' `pay_key`) — a message with none of them
/// is not PayPal's.
pub fn read(body: &[u8]) -> Result<(Mode, VerifiedNotification), NotificationRejected> {
    let message = IpnMessage::parse(body)
        .map_err(|e| NotificationRejected::new(RejectionReason::MalformedBody, format!("not an IPN message: {e}")))?;
    if message.get("verify_sign").is_none() {
        return Err(NotificationRejected::new(RejectionReason::MalformedBody, "not an IPN message: no verify_sign"));
    }
    if !NAMING_FIELDS.iter().any(|name| message.get(name).is_some()) {
        let detail = format!("not an IPN message: none of {}", NAMING_FIELDS.join(", "));
        return Err(NotificationRejected::new(RejectionReason::MalformedBody, detail));
    }
    let mode = if message.is_test() { Mode::Test } else { Mode::Live };
    let status = message.get("payment_status").or(message.get("txn_type")).unwrap_or("notification");
    let subject = message.txn_id().or(message.ipn_track_id()).or(message.get("verify_sign")).unwrap_or("unnamed");
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    let short: String = digest.as_ref().iter().take(8).map(|byte| format!("{byte:02x}")).collect();
    Ok((
        mode,
        VerifiedNotification {
            provider_event_id: format!("IPN-{subject}-{status}-{short}"),
            event_type: format!("{IPN_EVENT_PREFIX}{status}"),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_make_the_same_key_and_a_forged_copy_another() {
        let genuine = b"txn_id=5CS19517SJ894934R&payment_status=Completed&mc_gross=20.00&verify_sign=A1&test_ipn=1";
        let forged = b"txn_id=5CS19517SJ894934R&payment_status=Completed&mc_gross=0.01&verify_sign=A1&test_ipn=1";
        let (mode, first) = read(genuine).unwrap();
        assert_eq!(mode, Mode::Test);
        assert_eq!(first.event_type, "IPN Completed");
        assert!(first.provider_event_id.starts_with("IPN-5CS19517SJ894934R-Completed-"));
        assert_eq!(read(genuine).unwrap().1.provider_event_id, first.provider_event_id);
        assert_ne!(read(forged).unwrap().1.provider_event_id, first.provider_event_id);
        assert_eq!(read(b"txn_id=1&payment_status=Completed&verify_sign=A1").unwrap().0, Mode::Live);
    }

    #[test]
    fn a_body_that_is_no_ipn_is_refused() {
        assert!(read(b"charset=klingon&txn_id=1&verify_sign=A1").is_err());
        assert!(read(b"").is_err());
        let unsigned = read(b"txn_id=1&payment_status=Completed").unwrap_err();
        assert!(unsigned.detail.contains("verify_sign"), "{}", unsigned.detail);
        let about_nothing = read(b"payment_status=Completed&verify_sign=A1&test_ipn=1").unwrap_err();
        assert!(about_nothing.detail.contains("txn_id"), "{}", about_nothing.detail);
    }

    /// The real IPN in the shared fixtures (Adaptive Payments: no `txn_id`, no `txn_type`)
    /// passes the pre-check; skipped with a message where the fixtures are absent.
    #[test]
    fn the_real_fixture_ipn_is_read() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/paypal-ipn/01-sdk-core-java-adaptive-payments-pay.txt"
        );
        let Ok(body) = std::fs::read(path) else {
            eprintln!("skipped: no fixture at {path}");
            return;
        };
        let (mode, read) = read(&body).expect("a genuine IPN passes the pre-check");
        assert_eq!(mode, Mode::Test);
        assert!(read.provider_event_id.starts_with("IPN-"), "{}", read.provider_event_id);
    }
}
