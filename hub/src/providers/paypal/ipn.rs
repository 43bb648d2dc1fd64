//! `POST /webhooks/paypal/ipn`: an IPN is read far enough to know its mode and its inbox key,
//! stored whole and acknowledged; the processor confirms it with PayPal's postback before it
//! changes anything.

use payhub_core::Mode;
use payhub_paypal::IpnMessage;

use super::legacy::IPN_EVENT_PREFIX;
use crate::providers::{NotificationRejected, RejectionReason, VerifiedNotification};

/// The IPN's mode (`test_ipn=1` is PayPal's sandbox) and its inbox entry's key and type.
///
/// The key is the transaction and its status (what PayPal resends until answered) plus a digest
/// of the exact bytes: PayPal's resends are the same bytes and count once, while a forged copy
/// that names a genuine transaction gets a row of its own, is disowned by the postback, and
/// cannot take the genuine message's place.
pub fn read(body: &[u8]) -> Result<(Mode, VerifiedNotification), NotificationRejected> {
    let message = IpnMessage::parse(body)
        .map_err(|e| NotificationRejected::new(RejectionReason::MalformedBody, format!("not an IPN message: {e}")))?;
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
        let genuine = b"txn_id=5CS19517SJ894934R&payment_status=Completed&mc_gross=20.00&test_ipn=1";
        let forged = b"txn_id=5CS19517SJ894934R&payment_status=Completed&mc_gross=0.01&test_ipn=1";
        let (mode, first) = read(genuine).unwrap();
        assert_eq!(mode, Mode::Test);
        assert_eq!(first.event_type, "IPN Completed");
        assert!(first.provider_event_id.starts_with("IPN-5CS19517SJ894934R-Completed-"));
        assert_eq!(read(genuine).unwrap().1.provider_event_id, first.provider_event_id);
        assert_ne!(read(forged).unwrap().1.provider_event_id, first.provider_event_id);
        assert_eq!(read(b"txn_id=1&payment_status=Completed").unwrap().0, Mode::Live);
    }

    #[test]
    fn a_body_that_is_no_ipn_is_refused() {
        assert!(read(b"charset=klingon&txn_id=1").is_err());
        assert!(read(b"").is_err());
    }
}
