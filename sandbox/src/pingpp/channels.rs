//! Payment channels as Ping++ names them, what each requires in `extra`, how long its `order_no`
//! may be, and the `credential` a charge carries for the client to pay with.
//!
//! Credentials have the shape each channel's client expects (Ping++'s client SDKs read them):
//! app channels an object for the native SDK (`alipay.orderInfo`, `wx.prepayId`…, `upacp.tn`),
//! WeChat JSAPI channels the `getBrandWCPayRequest` fields, Alipay web channels the form fields
//! to send to `channel_url`, UnionPay web channels the form posted to UnionPay's gateway, and the
//! QR channels a bare link the merchant renders as a QR code itself (seed 001). Every value is
//! made up: nothing here can move money.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::ids;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Alipay,
    AlipayWap,
    AlipayPcDirect,
    AlipayQr,
    Wx,
    WxPub,
    WxPubQr,
    WxLite,
    WxWap,
    Upacp,
    UpacpWap,
    UpacpPc,
    Balance,
}

const ALL: [Channel; 13] = [
    Channel::Alipay,
    Channel::AlipayWap,
    Channel::AlipayPcDirect,
    Channel::AlipayQr,
    Channel::Wx,
    Channel::WxPub,
    Channel::WxPubQr,
    Channel::WxLite,
    Channel::WxWap,
    Channel::Upacp,
    Channel::UpacpWap,
    Channel::UpacpPc,
    Channel::Balance,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Alipay,
    Wechat,
    UnionPay,
    Balance,
}

impl Channel {
    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|channel| channel.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alipay => "alipay",
            Self::AlipayWap => "alipay_wap",
            Self::AlipayPcDirect => "alipay_pc_direct",
            Self::AlipayQr => "alipay_qr",
            Self::Wx => "wx",
            Self::WxPub => "wx_pub",
            Self::WxPubQr => "wx_pub_qr",
            Self::WxLite => "wx_lite",
            Self::WxWap => "wx_wap",
            Self::Upacp => "upacp",
            Self::UpacpWap => "upacp_wap",
            Self::UpacpPc => "upacp_pc",
            Self::Balance => "balance",
        }
    }

    fn family(self) -> Family {
        match self {
            Self::Alipay | Self::AlipayWap | Self::AlipayPcDirect | Self::AlipayQr => Family::Alipay,
            Self::Wx | Self::WxPub | Self::WxPubQr | Self::WxLite | Self::WxWap => Family::Wechat,
            Self::Upacp | Self::UpacpWap | Self::UpacpPc => Family::UnionPay,
            Self::Balance => Family::Balance,
        }
    }

    /// `funding_source` on refunds applies to the WeChat channels only.
    pub fn is_wechat(self) -> bool {
        self.family() == Family::Wechat
    }

    /// The balance channel debits the user's Ping++ balance on the spot: the charge is paid
    /// when created, with no client step.
    pub fn pays_on_creation(self) -> bool {
        self == Self::Balance
    }

    /// `extra` fields Ping++ requires for this channel (per its server SDKs' examples).
    fn required_extra(self) -> &'static [&'static str] {
        match self {
            Self::AlipayWap | Self::AlipayPcDirect => &["success_url"],
            Self::WxPub | Self::WxLite => &["open_id"],
            Self::WxPubQr => &["product_id"],
            Self::UpacpWap | Self::UpacpPc => &["result_url"],
            Self::Balance => &["user"],
            Self::Alipay | Self::AlipayQr | Self::Wx | Self::WxWap | Self::Upacp => &[],
        }
    }

    /// The channels' own limits on the merchant's order number, which Ping++ passes through.
    fn order_no_length(self) -> (usize, usize) {
        match self.family() {
            Family::Wechat => (1, 32),
            Family::UnionPay => (8, 40),
            Family::Alipay | Family::Balance => (1, 64),
        }
    }

    pub fn check_order_no(self, order_no: &str) -> Result<(), ApiError> {
        let (min, max) = self.order_no_length();
        let length_ok = (min..=max).contains(&order_no.len());
        if !length_ok || !order_no.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ApiError::invalid_param(
                "order_no",
                format!("参数 order_no 不正确：{} 渠道要求 {min}-{max} 位数字或字母。", self.as_str()),
            ));
        }
        Ok(())
    }

    pub fn check_extra(self, extra: &Map<String, Value>) -> Result<(), ApiError> {
        for field in self.required_extra() {
            let present = extra.get(*field).and_then(Value::as_str).is_some_and(|value| !value.trim().is_empty());
            if !present {
                return Err(ApiError::invalid_param(
                    &format!("extra[{field}]"),
                    format!("{} 渠道缺少参数 extra[{field}]。", self.as_str()),
                ));
            }
        }
        Ok(())
    }

    /// The channel's serial number for a payment, as `transaction_no` shows it.
    pub fn transaction_no(self, at: DateTime<Utc>) -> String {
        match self.family() {
            Family::Alipay => format!("{}2100100{}", at.format("%Y%m%d"), ids::digits(13)),
            Family::Wechat => format!("42000{}{}", at.format("%Y%m%d"), ids::digits(15)),
            Family::UnionPay => format!("{}{}", at.format("%m%d%H%M%S"), ids::digits(11)),
            Family::Balance => ids::digits(20),
        }
    }

    /// The channel's serial number for a refund.
    pub fn refund_transaction_no(self, at: DateTime<Utc>) -> String {
        match self.family() {
            Family::Wechat => format!("50000{}{}", at.format("%Y%m%d"), ids::digits(15)),
            _ => self.transaction_no(at),
        }
    }
}

/// What a credential is built from.
pub struct CredentialInput<'a> {
    pub charge_id: &'a str,
    pub order_no: &'a str,
    pub amount: i64,
    pub subject: &'a str,
    pub extra: &'a Map<String, Value>,
    pub created: DateTime<Utc>,
}

/// `{"object": "credential", "<channel>": …}`.
pub fn credential(channel: Channel, input: &CredentialInput<'_>) -> Value {
    let mut credential = Map::new();
    credential.insert("object".to_owned(), json!("credential"));
    credential.insert(channel.as_str().to_owned(), channel_credential(channel, input));
    Value::Object(credential)
}

fn channel_credential(channel: Channel, input: &CredentialInput<'_>) -> Value {
    let extra = |name: &str| input.extra.get(name).and_then(Value::as_str).unwrap_or("");
    let notify_url = format!("https://notify.pingxx.com/notify/charges/{}", input.charge_id);
    let prepay_id = format!("wx{}{}", input.created.format("%d%H%M%S"), ids::digits(20));
    let nonce = ids::digits(16);
    let timestamp = input.created.timestamp().to_string();
    match channel {
        Channel::Alipay => json!({
            "orderInfo": format!(
                "app_id=2016000000000000&biz_content={{\"out_trade_no\":\"{}\",\"subject\":\"{}\",\"total_amount\":\"{}\"}}&charset=utf-8&method=alipay.trade.app.pay&notify_url={notify_url}&sign_type=RSA2&sign={}",
                input.order_no,
                input.subject.replace('"', "'"),
                yuan(input.amount),
                ids::digits(32)
            ),
        }),
        Channel::AlipayWap | Channel::AlipayPcDirect => {
            let service = if channel == Channel::AlipayWap {
                "alipay.wap.create.direct.pay.by.user"
            } else {
                "create_direct_pay_by_user"
            };
            json!({
                "channel_url": "https://mapi.alipay.com/gateway.do",
                "service": service,
                "_input_charset": "utf-8",
                "partner": "2088000000000000",
                "seller_id": "2088000000000000",
                "payment_type": "1",
                "out_trade_no": input.order_no,
                "subject": input.subject,
                "total_fee": yuan(input.amount),
                "return_url": extra("success_url"),
                "notify_url": notify_url,
                "sign_type": "RSA",
                "sign": ids::digits(32),
            })
        }
        Channel::AlipayQr => json!(format!("https://qr.alipay.com/bax0{}", ids::digits(16))),
        Channel::Wx => json!({
            "appId": "wx0000000000000000",
            "partnerId": "1000000000",
            "prepayId": prepay_id,
            "nonceStr": nonce,
            "timeStamp": input.created.timestamp(),
            "packageValue": "Sign=WXPay",
            "sign": ids::digits(32),
        }),
        Channel::WxPub | Channel::WxLite => json!({
            "appId": "wx0000000000000000",
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": format!("prepay_id={prepay_id}"),
            "signType": "MD5",
            "paySign": ids::digits(32),
        }),
        Channel::WxPubQr => json!(format!("weixin://wxpay/bizpayurl?pr={}", ids::digits(7))),
        Channel::WxWap => {
            let mut url = format!(
                "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}&package={}",
                ids::digits(10)
            );
            let result_url = extra("result_url");
            if !result_url.is_empty() {
                url.push_str("&redirect_url=");
                url.extend(url::form_urlencoded::byte_serialize(result_url.as_bytes()));
            }
            json!(url)
        }
        Channel::Upacp => json!({ "tn": ids::digits(21), "mode": "01" }),
        Channel::UpacpWap | Channel::UpacpPc => json!({
            "version": "5.1.0",
            "encoding": "UTF-8",
            "txnType": "01",
            "txnSubType": "01",
            "bizType": "000201",
            "channelType": if channel == Channel::UpacpWap { "08" } else { "07" },
            "accessType": "0",
            "merId": "777290058110048",
            "orderId": input.order_no,
            "txnTime": input.created.format("%Y%m%d%H%M%S").to_string(),
            "txnAmt": input.amount.to_string(),
            "currencyCode": "156",
            "frontUrl": extra("result_url"),
            "backUrl": notify_url,
            "signMethod": "01",
            "certId": ids::digits(11),
            "signature": ids::digits(32),
        }),
        Channel::Balance => json!({}),
    }
}

/// Fen as a yuan decimal string (`1` → `"0.01"`), for the channels that speak yuan.
fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_name_round_trips_and_unknown_names_do_not_parse() {
        for channel in ALL {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(Channel::parse("paypal"), None);
        assert_eq!(Channel::parse("ALIPAY"), None);
    }

    #[test]
    fn fen_become_yuan_strings() {
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(100), "1.00");
        assert_eq!(yuan(123_456), "1234.56");
    }

    #[test]
    fn order_numbers_follow_the_channels_rules() {
        assert!(Channel::Wx.check_order_no("A1").is_ok());
        assert!(Channel::Wx.check_order_no(&"1".repeat(33)).is_err());
        assert!(Channel::Upacp.check_order_no("1234567").is_err());
        assert!(Channel::Alipay.check_order_no("order-1").is_err());
        assert_eq!(Channel::Alipay.check_order_no("").unwrap_err().param.as_deref(), Some("order_no"));
    }
}
