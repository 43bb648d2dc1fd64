//! Instant Payment Notification: a form-encoded message per sale, refund, reversal and canceled
//! reversal, encoded in the account's charset, POSTed to the notify URL and resent until it is
//! answered 200. Every message's exact bytes are kept so the postback can tell a genuine one.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use encoding_rs::Encoding;
use serde::Serialize;

use super::super::PaypalSimulator;
use super::super::subscriptions::{Sale, SaleOrigin, SaleState};
use super::V1Payment;
use crate::delivery::{OutgoingWebhook, SignedTransmission, WebhookTarget};
use crate::ids;

const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// PayPal: an IPN not answered with HTTP 200 "is resent up to 15 times over 4 days", at growing
/// intervals it does not publish. These 15 waits add up to exactly 96 hours.
pub const RESEND_DELAYS: [Duration; 15] = [
    minutes(1),
    minutes(4),
    minutes(25),
    minutes(30),
    minutes(60),
    minutes(120),
    minutes(240),
    minutes(480),
    minutes(480),
    minutes(480),
    minutes(480),
    minutes(720),
    minutes(720),
    minutes(960),
    minutes(960),
];

/// PayPal's default charset for a business account's IPN and PDT.
pub const DEFAULT_CHARSET: &str = "windows-1252";

/// The account's IPN settings and every message sent.
pub struct IpnBook {
    pub notify_url: Option<String>,
    /// The label the account chose (`UTF-8`, `gb2312`, …); it is also the `charset` field's value.
    pub charset: String,
    pub history: Vec<IpnRecord>,
    /// When false, the postback and PDT answer 503, as during a PayPal outage.
    pub postback_available: bool,
}

impl Default for IpnBook {
    fn default() -> Self {
        Self { notify_url: None, charset: DEFAULT_CHARSET.to_owned(), history: Vec::new(), postback_available: true }
    }
}

/// One message as sent, byte for byte.
#[derive(Clone, Serialize)]
pub struct IpnRecord {
    pub ipn_track_id: String,
    pub txn_id: String,
    pub payment_status: String,
    pub charset: String,
    pub notify_url: Option<String>,
    #[serde(serialize_with = "as_latin_text")]
    pub body: Bytes,
    pub create_time: DateTime<Utc>,
}

/// The body as the text a person reads in the history: percent-encoded form data is ASCII, so
/// each byte is one character.
fn as_latin_text<S: serde::Serializer>(body: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&body.iter().map(|&byte| char::from(byte)).collect::<String>())
}

/// A message about to be sent: its fields in order, before encoding, and the payment's own
/// notify URL when it named one.
pub(crate) struct IpnNotice {
    pub notify_url: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// What happened to a sale that the message reports.
pub(crate) enum SaleFact<'a> {
    /// The sale as it is now: `Completed`, `Pending` or `Denied`.
    Status,
    /// A pending sale's funding failed (an eCheck bounced): the sale is denied, IPN says `Failed`.
    Failed,
    Refunded {
        refund_id: &'a str,
        minor: i64,
        fee_minor: i64,
    },
    Reversed {
        txn_id: &'a str,
        minor: i64,
        fee_minor: i64,
        reason_code: &'a str,
    },
    ReversalCanceled {
        txn_id: &'a str,
        minor: i64,
        fee_minor: i64,
    },
}

/// The label encoding_rs knows `label` by, when it knows it at all.
pub fn known_charset(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// `fields` form-encoded in `charset`, with the `charset` field after `payment_status`, as PayPal
/// orders it. Characters the charset cannot hold become numeric character references, as PayPal
/// writes them.
pub fn encode(fields: &[(String, String)], charset: &str) -> Bytes {
    let encoding = known_charset(charset).unwrap_or(encoding_rs::WINDOWS_1252);
    let mut body = String::new();
    let mut put = |name: &str, value: &str| {
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(name);
        body.push('=');
        let (bytes, _, _) = encoding.encode(value);
        body.extend(url::form_urlencoded::byte_serialize(&bytes));
    };
    for (name, value) in fields {
        put(name, value);
        if name == "payment_status" {
            put("charset", charset);
        }
    }
    Bytes::from(body)
}

/// PayPal's `payment_date`: Pacific time, `HH:MM:SS Mon DD, YYYY PST` (PayPal writes PDT in
/// summer; the sandbox keeps PST all year).
fn payment_date(at: DateTime<Utc>) -> String {
    (at - chrono::Duration::hours(8)).format("%H:%M:%S %b %d, %Y PST").to_string()
}

impl PaypalSimulator {
    /// The message PayPal sends about `sale` (of `payment`, when a v1 payment made it).
    pub(crate) fn sale_notice(&self, sale: &Sale, payment: Option<&V1Payment>, fact: SaleFact<'_>) -> IpnNotice {
        let parties = self.parties();
        let money = |minor: i64| sale.total.with_minor(minor).value();
        let (status, txn_id, gross, fee) = match &fact {
            SaleFact::Status => {
                let status = match sale.state {
                    SaleState::Pending => "Pending",
                    SaleState::Denied => "Denied",
                    _ => "Completed",
                };
                (status, sale.id.as_str(), sale.total.minor, sale.fee_minor)
            }
            SaleFact::Failed => ("Failed", sale.id.as_str(), sale.total.minor, sale.fee_minor),
            SaleFact::Refunded { refund_id, minor, fee_minor } => ("Refunded", *refund_id, -minor, -fee_minor),
            SaleFact::Reversed { txn_id, minor, fee_minor, .. } => ("Reversed", *txn_id, -minor, -fee_minor),
            SaleFact::ReversalCanceled { txn_id, minor, fee_minor } => {
                ("Canceled_Reversal", *txn_id, *minor, *fee_minor)
            }
        };
        let mut fields: Vec<(String, String)> = vec![
            ("mc_gross".to_owned(), money(gross)),
            ("protection_eligibility".to_owned(), "Eligible".to_owned()),
            ("payer_id".to_owned(), parties.payer_id.clone()),
            ("payment_date".to_owned(), payment_date(self.now())),
            ("payment_status".to_owned(), status.to_owned()),
            ("first_name".to_owned(), parties.payer_given_name.clone()),
            ("mc_fee".to_owned(), money(fee)),
            ("notify_version".to_owned(), "3.9".to_owned()),
            ("custom".to_owned(), sale.custom.clone().unwrap_or_default()),
            ("payer_status".to_owned(), "verified".to_owned()),
            ("business".to_owned(), parties.merchant_email.clone()),
            ("verify_sign".to_owned(), ids::token(56)),
            ("payer_email".to_owned(), parties.payer_email.clone()),
            ("txn_id".to_owned(), txn_id.to_owned()),
            ("payment_type".to_owned(), "instant".to_owned()),
            ("last_name".to_owned(), parties.payer_surname.clone()),
            ("receiver_email".to_owned(), parties.merchant_email.clone()),
            ("receiver_id".to_owned(), parties.merchant_id.clone()),
        ];
        match fact {
            SaleFact::Status | SaleFact::Failed => {
                let txn_type = match sale.origin {
                    SaleOrigin::Subscription(_) => "recurring_payment",
                    SaleOrigin::Payment { .. } => "express_checkout",
                };
                fields.push(("txn_type".to_owned(), txn_type.to_owned()));
                if let Some(reason) = sale.pending_reason.filter(|_| sale.state == SaleState::Pending) {
                    fields.push(("pending_reason".to_owned(), reason.as_str().to_owned()));
                }
            }
            SaleFact::Refunded { .. } => {
                fields.push(("parent_txn_id".to_owned(), sale.id.clone()));
                fields.push(("reason_code".to_owned(), "refund".to_owned()));
            }
            SaleFact::Reversed { reason_code, .. } => {
                fields.push(("parent_txn_id".to_owned(), sale.id.clone()));
                fields.push(("reason_code".to_owned(), reason_code.to_owned()));
            }
            SaleFact::ReversalCanceled { .. } => {
                fields.push(("parent_txn_id".to_owned(), sale.id.clone()));
                fields.push(("reason_code".to_owned(), "other".to_owned()));
            }
        }
        match &sale.origin {
            SaleOrigin::Subscription(subscription_id) => {
                fields.push(("recurring_payment_id".to_owned(), subscription_id.clone()))
            }
            SaleOrigin::Payment { invoice_number, .. } => {
                if let Some(invoice) = invoice_number {
                    fields.push(("invoice".to_owned(), invoice.clone()));
                }
            }
        }
        let items = payment.map(|payment| payment.details.items.as_slice()).unwrap_or_default();
        for (index, item) in items.iter().enumerate() {
            let n = index + 1;
            fields.push((item_key("item_name", n), item.name.clone()));
            fields.push((item_key("item_number", n), item.sku.clone().unwrap_or_default()));
            fields.push((item_key("quantity", n), item.quantity.to_string()));
            fields.push((
                item_key("mc_gross_", n),
                item.price.with_minor(item.price.minor * i64::from(item.quantity)).value(),
            ));
        }
        if !items.is_empty() {
            fields.push(("num_cart_items".to_owned(), items.len().to_string()));
        }
        fields.push(("mc_currency".to_owned(), sale.total.currency.to_owned()));
        fields.push(("residence_country".to_owned(), "US".to_owned()));
        fields.push(("test_ipn".to_owned(), "1".to_owned()));
        fields.push((
            "transaction_subject".to_owned(),
            payment.and_then(|p| p.details.description.clone()).unwrap_or_default(),
        ));
        if sale.total.currency == "USD" {
            fields.push(("payment_gross".to_owned(), money(gross)));
        }
        fields.push(("ipn_track_id".to_owned(), ids::hex(13)));
        IpnNotice { notify_url: payment.and_then(|payment| payment.details.notify_url.clone()), fields }
    }

    /// Encodes the message in the account's charset, records it, and queues its delivery; without
    /// a notify URL it is recorded only, as PayPal's history shows messages it could not send.
    pub(crate) fn send_ipn(&self, notice: IpnNotice) {
        let field = |name: &str| {
            notice.fields.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone()).unwrap_or_default()
        };
        let record = {
            let mut state = self.state();
            let book = &mut state.legacy.ipn;
            let record = IpnRecord {
                ipn_track_id: field("ipn_track_id"),
                txn_id: field("txn_id"),
                payment_status: field("payment_status"),
                charset: book.charset.clone(),
                notify_url: notice.notify_url.clone().or_else(|| book.notify_url.clone()),
                body: encode(&notice.fields, &book.charset),
                create_time: self.now(),
            };
            book.history.push(record.clone());
            record
        };
        if record.notify_url.is_none() {
            return;
        }
        let target = IpnTarget {
            simulator: self.me.clone(),
            ipn_track_id: record.ipn_track_id.clone(),
            own_url: notice.notify_url,
        };
        self.sandbox().dispatcher().enqueue(OutgoingWebhook {
            event_id: record.ipn_track_id,
            event_type: format!("IPN {}", record.payment_status),
            body: record.body,
            target: Arc::new(target),
            retry_delays: &RESEND_DELAYS,
        });
    }
}

/// `item_name1`, `quantity2`, `mc_gross_3`: PayPal's cart fields, numbered from 1.
fn item_key(prefix: &str, n: usize) -> String {
    format!("{prefix}{n}")
}

struct IpnTarget {
    simulator: Weak<PaypalSimulator>,
    ipn_track_id: String,
    own_url: Option<String>,
}

impl WebhookTarget for IpnTarget {
    fn provider(&self) -> &'static str {
        "paypal-ipn"
    }

    fn subscription_id(&self) -> &str {
        &self.ipn_track_id
    }

    /// The payment's own notify URL, else the account's as it is now (the merchant may fix it
    /// between resends).
    fn url(&self) -> Option<String> {
        if let Some(url) = &self.own_url {
            return Some(url.clone());
        }
        let simulator = self.simulator.upgrade()?;
        let state = simulator.state();
        state.legacy.ipn.notify_url.clone()
    }

    fn sign(&self, _body: &[u8], _at: DateTime<Utc>) -> SignedTransmission {
        SignedTransmission {
            transmission_id: self.ipn_track_id.clone(),
            headers: vec![("user-agent".to_owned(), "PayPal IPN ( https://www.paypal.com/ipn )".to_owned())],
        }
    }

    fn content_type(&self) -> &'static str {
        "application/x-www-form-urlencoded"
    }

    /// PayPal resends until it is answered exactly 200, not any 2xx.
    fn accepted(&self, status: u16) -> bool {
        status == 200
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_resends_span_four_days() {
        assert_eq!(RESEND_DELAYS.len(), 15);
        assert_eq!(RESEND_DELAYS.iter().sum::<Duration>(), Duration::from_secs(96 * 3600));
        assert!(RESEND_DELAYS.windows(2).all(|pair| pair[0] <= pair[1]), "waits never shrink");
    }

    #[test]
    fn values_are_encoded_in_the_charset_and_the_charset_follows_payment_status() {
        let fields =
            [("payment_status".to_owned(), "Completed".to_owned()), ("item_name1".to_owned(), "咖啡 beans".to_owned())];
        let body = encode(&fields, "gb2312");
        assert_eq!(&body[..], b"payment_status=Completed&charset=gb2312&item_name1=%BF%A7%B7%C8+beans");
        let utf8 = encode(&fields, "UTF-8");
        assert_eq!(&utf8[..], b"payment_status=Completed&charset=UTF-8&item_name1=%E5%92%96%E5%95%A1+beans");
    }

    #[test]
    fn characters_outside_the_charset_become_numeric_references() {
        let body = encode(&[("item_name1".to_owned(), "咖".to_owned())], "windows-1252");
        assert_eq!(&body[..], b"item_name1=%26%2321654%3B");
    }

    #[test]
    fn payment_dates_are_written_in_pacific_time() {
        let at = DateTime::parse_from_rfc3339("2014-12-08T05:04:35Z").unwrap().with_timezone(&Utc);
        assert_eq!(payment_date(at), "21:04:35 Dec 07, 2014 PST");
    }
}
