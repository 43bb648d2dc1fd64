//! Charges: one payment attempt through one channel (`alipay_qr`, `wx_pub_qr`, …).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::client::PingppClient;
use crate::error::PingppError;
use crate::refund::Refund;
use crate::types::{List, ListParams, Metadata, app_id, null_as_default};

/// A Ping++ charge. Amounts are integer fen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub livemode: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub paid: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub refunded: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub reversed: bool,
    /// The app id.
    #[serde(default, deserialize_with = "app_id")]
    pub app: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub channel: String,
    /// The merchant's order number; unique per app, which is how a repeated create is caught.
    #[serde(default, deserialize_with = "null_as_default")]
    pub order_no: String,
    #[serde(default)]
    pub client_ip: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub amount: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub amount_settle: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub currency: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub subject: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub body: String,
    /// Channel-specific extras (`open_id`, `buyer_account`, …).
    #[serde(default)]
    pub extra: Value,
    #[serde(default)]
    pub time_paid: Option<i64>,
    #[serde(default)]
    pub time_expire: Option<i64>,
    #[serde(default)]
    pub time_settle: Option<i64>,
    /// The channel's own transaction number, once paid.
    #[serde(default)]
    pub transaction_no: Option<String>,
    #[serde(default)]
    pub refunds: Option<List<Refund>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub amount_refunded: i64,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_msg: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    /// What the buyer's side needs to pay, keyed by channel. For `alipay_qr` and `wx_pub_qr`
    /// it holds the link to render as a QR code; Ping++ renders no QR image itself.
    #[serde(default)]
    pub credential: Value,
    #[serde(default)]
    pub description: Option<String>,
}

impl Charge {
    /// The QR payload of a QR channel (`credential.alipay_qr`, `credential.wx_pub_qr`, …): the
    /// string under the charge's own channel.
    pub fn qr_payload(&self) -> Option<&str> {
        self.credential.get(&self.channel)?.as_str()
    }

    /// The amount still refundable, in fen.
    pub fn refundable_amount(&self) -> i64 {
        if self.paid { (self.amount - self.amount_refunded).max(0) } else { 0 }
    }
}

/// The body of `POST /v1/charges`. `app` is filled from the client's configuration when `None`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateCharge {
    pub order_no: String,
    #[serde(serialize_with = "app_object", skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    pub channel: String,
    /// Integer fen.
    pub amount: i64,
    pub client_ip: String,
    /// `cny`.
    pub currency: String,
    pub subject: String,
    pub body: String,
    /// Channel-specific parameters (`open_id` for `wx_pub`, `success_url` for `alipay_wap`, …).
    pub extra: Option<Value>,
    /// Unix seconds after which the charge can no longer be paid.
    pub time_expire: Option<i64>,
    pub metadata: Option<Metadata>,
    pub description: Option<String>,
}

impl CreateCharge {
    /// A charge in `cny` with no extras, in the configured app.
    pub fn new(
        order_no: impl Into<String>,
        channel: impl Into<String>,
        amount: i64,
        client_ip: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            order_no: order_no.into(),
            app: None,
            channel: channel.into(),
            amount,
            client_ip: client_ip.into(),
            currency: "cny".to_owned(),
            subject: subject.into(),
            body: body.into(),
            extra: None,
            time_expire: None,
            metadata: None,
            description: None,
        }
    }
}

/// Ping++ takes the app of a new charge as `{"id": "app_…"}`.
fn app_object<S: Serializer>(app: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct AppRef<'a> {
        id: &'a str,
    }
    match app {
        Some(id) => AppRef { id }.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

impl PingppClient {
    /// `POST /v1/charges`. Never repeated automatically: after a timeout, look for the charge
    /// (`list_charges`, or its webhook) before creating it again; Ping++ refuses a second
    /// charge with the same `order_no` in the app, which is the safety net.
    pub async fn create_charge(&self, req: &CreateCharge) -> Result<Charge, PingppError> {
        let body = CreateCharge { app: Some(self.app_or_configured(&req.app)), ..req.clone() };
        self.api.post(&["charges"], &body).await
    }

    /// `GET /v1/charges/{id}`.
    pub async fn get_charge(&self, id: &str) -> Result<Charge, PingppError> {
        self.api.get(&["charges", id], &[]).await
    }

    /// `GET /v1/charges?app[id]=…`, the app taken from the configuration.
    pub async fn list_charges(&self, params: &ListParams) -> Result<List<Charge>, PingppError> {
        self.api.get(&["charges"], &self.app_scoped_query("app[id]", params)).await
    }

    /// `POST /v1/charges/{id}/reverse`: withdraws an unpaid charge of an offline channel
    /// (`isv_scan`, `isv_wap`, `isv_qr`).
    pub async fn reverse_charge(&self, id: &str) -> Result<Charge, PingppError> {
        self.api.post_empty(&["charges", id, "reverse"]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn app_goes_out_as_an_object_and_unset_options_are_left_out() {
        let mut charge = CreateCharge::new("2026010100000001", "alipay_qr", 100, "127.0.0.1", "S", "B");
        assert_eq!(
            serde_json::to_value(&charge).expect("json"),
            json!({"order_no": "2026010100000001", "channel": "alipay_qr", "amount": 100,
                   "client_ip": "127.0.0.1", "currency": "cny", "subject": "S", "body": "B"})
        );
        charge.app = Some("app_1".into());
        charge.time_expire = Some(1_735_693_200);
        let sent = serde_json::to_value(&charge).expect("json");
        assert_eq!(sent["app"], json!({"id": "app_1"}));
        assert_eq!(sent["time_expire"], json!(1_735_693_200));
    }

    #[test]
    fn qr_payload_is_the_credential_of_the_charges_channel() {
        let charge: Charge = serde_json::from_value(json!({
            "id": "ch_1", "channel": "wx_pub_qr", "amount": 100, "paid": false,
            "credential": {"object": "credential", "wx_pub_qr": "weixin://wxpay/bizpayurl?pr=abc"}
        }))
        .expect("charge");
        assert_eq!(charge.qr_payload(), Some("weixin://wxpay/bizpayurl?pr=abc"));
        assert_eq!(charge.refundable_amount(), 0);
    }
}
