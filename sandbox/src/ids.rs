//! Identifiers shaped like the providers' own.
//!
//! Resource ids come from the operating system's generator, not the chaos seed: a hub that keeps
//! its database across sandbox restarts must never see an id it already stored come back.

use rand::Rng;

const UPPER_ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `len` characters of `[A-Z0-9]`, as PayPal's order, capture, refund and webhook ids.
pub fn upper_alphanumeric(len: usize) -> String {
    upper_alphanumeric_from(&mut rand::rng(), len)
}

pub fn upper_alphanumeric_from(rng: &mut impl Rng, len: usize) -> String {
    (0..len).map(|_| char::from(UPPER_ALPHANUMERIC[rng.random_range(0..UPPER_ALPHANUMERIC.len())])).collect()
}

/// PayPal's account ids (payer and merchant ids) leave out the look-alikes 0, 1, I and O.
const ACCOUNT_ID_CHARS: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// A 13-character account id, `^[2-9A-HJ-NP-Z]{13}$` as PayPal's documents define `payer_id`
/// and `merchant_id`.
pub fn account_id_from(rng: &mut impl Rng) -> String {
    (0..13).map(|_| char::from(ACCOUNT_ID_CHARS[rng.random_range(0..ACCOUNT_ID_CHARS.len())])).collect()
}

/// Lower-case hex, as PayPal's `debug_id` (13 characters).
pub fn hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)])).collect()
}

/// A random version-4 UUID, as PayPal's `PAYPAL-TRANSMISSION-ID`.
pub fn uuid() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// URL-safe token characters, for opaque secrets such as access tokens.
pub fn token(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_provider_shapes() {
        let id = upper_alphanumeric(17);
        assert_eq!(id.len(), 17);
        assert!(id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        let uuid = uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_eq!(hex(13).len(), 13);
    }
}
