//! Identifiers shaped like Ping++'s: `ch_`, `re_`, `evt_` and `iar_` followed by 24 characters
//! (`ch_vD4az5bXXXf5nv9y9G1G080K`), and 19-digit order ids that embed the creation date
//! (`2001708140000017551`: `200`, `170814`, ten digits).

use chrono::{DateTime, Utc};
use rand::Rng;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn alphanumeric(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())])).collect()
}

pub fn digits(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

pub fn charge() -> String {
    format!("ch_{}", alphanumeric(24))
}

pub fn refund() -> String {
    format!("re_{}", alphanumeric(24))
}

pub fn event() -> String {
    format!("evt_{}", digits(24))
}

pub fn api_request() -> String {
    format!("iar_{}", alphanumeric(24))
}

pub fn order(created: DateTime<Utc>) -> String {
    format!("200{}{}", created.format("%y%m%d"), digits(10))
}

pub fn webhook_endpoint() -> String {
    format!("whk_{}", alphanumeric(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_ping_plus_plus_shapes() {
        assert_eq!(charge().len(), "ch_vD4az5bXXXf5nv9y9G1G080K".len());
        assert_eq!(event().len(), "evt_401171222113755187074803".len());
        let at = DateTime::parse_from_rfc3339("2017-08-14T10:00:00Z").unwrap().with_timezone(&Utc);
        let id = order(at);
        assert_eq!(id.len(), 19);
        assert!(id.starts_with("200170814"));
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
    }
}
