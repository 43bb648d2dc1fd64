//! Instant Payment Notification (IPN) and Payment Data Transfer (PDT), PayPal's notifications
//! from before webhooks, which many checkouts and buttons still send.
//!
//! An IPN has no signature: the only proof is to post its exact bytes back to PayPal
//! ([`verify_ipn`]), which answers `VERIFIED` or `INVALID`. Its fields are form-encoded in the
//! account's charset (`charset` field: `windows-1252` by default, `UTF-8`, `gb2312`, …), so
//! [`IpnMessage::parse`] decodes the raw bytes by that charset, and refuses bytes the charset
//! cannot decode rather than guessing.

use encoding_rs::Encoding;

use crate::types::wire_enum;

/// Where live IPN messages are posted back.
pub const LIVE_IPN_URL: &str = "https://ipnpb.paypal.com/cgi-bin/webscr";
/// Where PayPal sandbox IPN messages are posted back.
pub const SANDBOX_IPN_URL: &str = "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr";
/// Where live PDT queries go.
pub const LIVE_PDT_URL: &str = "https://www.paypal.com/cgi-bin/webscr";
/// Where PayPal sandbox PDT queries go.
pub const SANDBOX_PDT_URL: &str = "https://www.sandbox.paypal.com/cgi-bin/webscr";

/// The charset PayPal uses when a message names none.
const DEFAULT_CHARSET: &str = "windows-1252";

wire_enum! {
    /// IPN `payment_status`.
    pub enum IpnPaymentStatus {
        Completed => "Completed",
        Pending => "Pending",
        Denied => "Denied",
        Failed => "Failed",
        Refunded => "Refunded",
        Reversed => "Reversed",
        CanceledReversal => "Canceled_Reversal",
        Expired => "Expired",
        Voided => "Voided",
        Processed => "Processed",
        Created => "Created",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpnError {
    #[error("the IPN names charset {0:?}, which is not a known charset")]
    UnknownCharset(String),
    #[error("the IPN is not form-encoded in its charset {charset}: {reason}")]
    Malformed { charset: String, reason: String },
    /// PayPal could not be asked, or answered neither `VERIFIED` nor `INVALID`: ask again later.
    #[error("PayPal's postback is unavailable: {0}")]
    Unavailable(String),
}

/// An IPN as received: the raw bytes (what the postback must send back) and the decoded fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpnMessage {
    raw: Vec<u8>,
    charset: String,
    fields: Vec<(String, String)>,
}

impl IpnMessage {
    /// Decodes a form-encoded IPN body by its own `charset` field.
    pub fn parse(raw: &[u8]) -> Result<Self, IpnError> {
        let pairs = split_form(raw);
        let label = pairs
            .iter()
            .find(|(name, _)| name.as_slice() == b"charset")
            .map(|(_, value)| String::from_utf8(value.clone()).unwrap_or_default())
            .filter(|label| !label.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_CHARSET.to_owned());
        let encoding =
            Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| IpnError::UnknownCharset(label.clone()))?;
        let fields = pairs
            .into_iter()
            .map(|(name, value)| {
                let decode = |bytes: &[u8]| -> Result<String, IpnError> {
                    match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
                        Some(text) => Ok(text.into_owned()),
                        None => Err(IpnError::Malformed {
                            charset: label.clone(),
                            reason: format!(
                                "field {:?} has bytes {} cannot decode",
                                String::from_utf8_lossy(&name),
                                encoding.name()
                            ),
                        }),
                    }
                };
                Ok((decode(&name)?, decode(&value)?))
            })
            .collect::<Result<Vec<_>, IpnError>>()?;
        if fields.is_empty() {
            return Err(IpnError::Malformed { charset: label, reason: "the body has no fields".into() });
        }
        Ok(Self { raw: raw.to_vec(), charset: label, fields })
    }

    /// The bytes as PayPal sent them.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The charset label the message named (or PayPal's default, `windows-1252`).
    pub fn charset(&self) -> &str {
        &self.charset
    }

    /// Every field, decoded, in the order sent.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// A field's value; an empty value reads as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    pub fn txn_id(&self) -> Option<&str> {
        self.get("txn_id")
    }

    pub fn payment_status(&self) -> Option<IpnPaymentStatus> {
        self.get("payment_status").map(|status| IpnPaymentStatus::from(status.to_owned()))
    }

    /// The sale a refund, reversal or canceled reversal is about.
    pub fn parent_txn_id(&self) -> Option<&str> {
        self.get("parent_txn_id")
    }

    pub fn ipn_track_id(&self) -> Option<&str> {
        self.get("ipn_track_id")
    }

    pub fn receiver_email(&self) -> Option<&str> {
        self.get("receiver_email")
    }

    pub fn receiver_id(&self) -> Option<&str> {
        self.get("receiver_id")
    }

    /// The gross amount as PayPal writes it (`"20.00"`, `"-5.00"` for a refund).
    pub fn mc_gross(&self) -> Option<&str> {
        self.get("mc_gross")
    }

    pub fn mc_currency(&self) -> Option<&str> {
        self.get("mc_currency")
    }

    /// Whether the PayPal sandbox sent it (`test_ipn=1`).
    pub fn is_test(&self) -> bool {
        self.get("test_ipn") == Some("1")
    }
}

/// `name=value` pairs with `+` and `%XX` undone, still in the message's charset.
fn split_form(raw: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.split(|&byte| byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&byte| byte == b'=') {
            Some(at) => (percent_decode(&pair[..at]), percent_decode(&pair[at + 1..])),
            None => (percent_decode(pair), Vec::new()),
        })
        .collect()
}

/// Undoes form encoding on bytes: `+` is a space, `%XX` a byte; a stray `%` stays as it is.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex =
        |byte: Option<&u8>| byte.and_then(|byte| char::from(*byte).to_digit(16)).and_then(|d| u8::try_from(d).ok());
    let mut decoded = Vec::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        match (text[index], hex(text.get(index + 1)), hex(text.get(index + 2))) {
            (b'%', Some(high), Some(low)) => {
                decoded.push(high * 16 + low);
                index += 3;
            }
            (b'+', _, _) => {
                decoded.push(b' ');
                index += 1;
            }
            (byte, _, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    decoded
}

/// What PayPal said about a message posted back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpnVerdict {
    Verified,
    Invalid,
}

/// Posts `raw` back to PayPal (`cmd=_notify-validate&` and the exact bytes received, same order
/// and encoding) at `postback_url` ([`LIVE_IPN_URL`], [`SANDBOX_IPN_URL`] or a simulator's).
pub async fn verify_ipn(http: &reqwest::Client, postback_url: &str, raw: &[u8]) -> Result<IpnVerdict, IpnError> {
    let mut body = b"cmd=_notify-validate&".to_vec();
    body.extend_from_slice(raw);
    let answer = post_form(http, postback_url, body).await?;
    match answer.trim() {
        "VERIFIED" => Ok(IpnVerdict::Verified),
        "INVALID" => Ok(IpnVerdict::Invalid),
        other => {
            Err(IpnError::Unavailable(format!("unexpected answer {:?}", other.chars().take(80).collect::<String>())))
        }
    }
}

/// What PDT said about a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdtOutcome {
    /// `SUCCESS` and the transaction's fields, decoded by their `charset`.
    Success(Vec<(String, String)>),
    /// `FAIL` and PayPal's error line (an unknown `tx`, a wrong identity token).
    Fail(String),
}

/// Asks PDT (`cmd=_notify-synch`) about the transaction `tx` from a buyer's return URL, with the
/// account's identity token.
pub async fn payment_data_transfer(
    http: &reqwest::Client,
    pdt_url: &str,
    tx: &str,
    identity_token: &str,
) -> Result<PdtOutcome, IpnError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("cmd", "_notify-synch")
        .append_pair("tx", tx)
        .append_pair("at", identity_token)
        .finish();
    let answer = post_form(http, pdt_url, body.into_bytes()).await?;
    let mut lines = answer.lines();
    match lines.next().map(str::trim) {
        Some("SUCCESS") => {
            let form: Vec<&str> = lines.filter(|line| !line.trim().is_empty()).collect();
            let message = IpnMessage::parse(form.join("&").as_bytes())?;
            Ok(PdtOutcome::Success(message.fields))
        }
        Some("FAIL") => Ok(PdtOutcome::Fail(lines.collect::<Vec<_>>().join("\n"))),
        _ => Err(IpnError::Unavailable("PDT answered neither SUCCESS nor FAIL".into())),
    }
}

async fn post_form(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<String, IpnError> {
    let response = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|error| IpnError::Unavailable(error.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(IpnError::Unavailable(format!("answered HTTP {}", response.status().as_u16())));
    }
    // Both answers are ASCII words followed, for PDT, by percent-encoded fields.
    let bytes = response.bytes().await.map_err(|error| IpnError::Unavailable(error.without_url().to_string()))?;
    Ok(bytes.iter().map(|&byte| char::from(byte)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gb2312_message_is_decoded_by_its_own_charset() {
        let raw = b"payment_status=Completed&charset=gb2312&item_name1=%D1%D0%C4%A5%BF%A7%B7%C8+40+oz&txn_id=5CS19517SJ894934R";
        let message = IpnMessage::parse(raw).unwrap();
        assert_eq!(message.get("item_name1"), Some("研磨咖啡 40 oz"));
        assert_eq!(message.payment_status(), Some(IpnPaymentStatus::Completed));
        assert_eq!(message.raw(), raw);
    }

    #[test]
    fn a_message_without_charset_is_windows_1252() {
        let message = IpnMessage::parse(b"item_name=Caf%E9&payment_status=Canceled_Reversal").unwrap();
        assert_eq!(message.get("item_name"), Some("Café"));
        assert_eq!(message.payment_status(), Some(IpnPaymentStatus::CanceledReversal));
    }

    #[test]
    fn bytes_the_charset_cannot_decode_are_refused_not_replaced() {
        let refused = IpnMessage::parse(b"charset=UTF-8&item_name=%FF%FE");
        assert!(matches!(refused, Err(IpnError::Malformed { .. })), "{refused:?}");
        assert!(matches!(IpnMessage::parse(b"charset=klingon&a=b"), Err(IpnError::UnknownCharset(_))));
    }
}
