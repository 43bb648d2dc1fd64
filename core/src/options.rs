//! Options only one provider understands, kept with the payment or refund they shaped (so the
//! reconciler can repeat a provider call exactly).
//!
//! They stay in core, not in the provider's folder, because they are part of the stored payment
//! and of the API's schema (`provider_options.pingpp.*`). Each field is named after its
//! provider, which is how [`PaymentOptions::providers`] knows whom options are for.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::mode::ProviderName;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paypal: Option<PaypalPaymentOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pingpp: Option<PingppPaymentOptions>,
}

impl PaymentOptions {
    /// The providers these options are meant for, so options for another provider than the
    /// payment's are refused by one check instead of one per provider.
    pub fn providers(&self) -> Vec<ProviderName> {
        // Destructured so that options for a new provider cannot be forgotten here.
        let Self { paypal, pingpp } = self;
        let paypal = paypal.as_ref().map(|_| ProviderName::Paypal);
        paypal.into_iter().chain(pingpp.as_ref().map(|_| ProviderName::Pingpp)).collect()
    }
}

/// The provider a merchant chose for a payment and the options meant for it: options for any
/// other provider are refused when the request is read, so no provider is handed options it
/// does not understand.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderChoice {
    provider: ProviderName,
    options: PaymentOptions,
}

/// Options for `options_for`, on a payment through `provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("applies to {} payments, not {provider}", options_for.title())]
pub struct OptionsForAnotherProvider {
    pub provider: ProviderName,
    pub options_for: ProviderName,
}

impl ProviderChoice {
    pub fn parse(provider: ProviderName, options: PaymentOptions) -> Result<Self, OptionsForAnotherProvider> {
        match options.providers().into_iter().find(|p| *p != provider) {
            Some(options_for) => Err(OptionsForAnotherProvider { provider, options_for }),
            None => Ok(Self { provider, options }),
        }
    }

    pub fn provider(&self) -> ProviderName {
        self.provider
    }

    pub fn options(&self) -> &PaymentOptions {
        &self.options
    }

    pub fn into_options(self) -> PaymentOptions {
        self.options
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaypalPaymentOptions {
    /// `v2` (Orders, the default) or `v1` (REST v1 payments: approve, then execute), for
    /// accounts set up for PayPal's legacy API and IPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<PaypalApi>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaypalApi {
    V1,
    V2,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingppPaymentOptions {
    /// Pay through a Ping++ order instead of a single charge: needed for order refunds (refund
    /// mode, royalty users) and for paying one order through several channels.
    #[serde(default)]
    pub use_order: bool,
    /// The buyer's user id at the merchant (the Ping++ order's `uid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Channel parameters, passed as the charge's `extra` (`open_id` for `wx_pub`,
    /// `success_url` for `alipay_wap`, `product_id` for `wx_pub_qr`, …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
    /// The buyer's IP address, which Ping++ requires; defaults to 127.0.0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pingpp: Option<PingppRefundOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingppRefundOptions {
    /// `to_source` (back the way it came, the default) or `to_balance` (to the buyer's Ping++
    /// balance). Order payments only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_mode: Option<String>,
    /// Royalty (profit-sharing) users whose shares are refunded too. Order payments only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub royalty_users: Vec<RoyaltyRefund>,
    /// `unsettled_funds` or `recharge_funds` (WeChat channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding_source: Option<String>,
    /// Which charge of an order payment to refund; defaults to the latest paid charge that
    /// covers the amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoyaltyRefund {
    pub user: String,
    /// Minor units (fen).
    pub amount_refunded: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_the_providers_they_are_for() {
        assert!(PaymentOptions::default().providers().is_empty());
        let pingpp = PaymentOptions { pingpp: Some(PingppPaymentOptions::default()), ..PaymentOptions::default() };
        assert_eq!(pingpp.providers(), vec![ProviderName::Pingpp]);
    }

    #[test]
    fn options_for_another_provider_than_the_payments_are_refused() {
        let pingpp = PaymentOptions { pingpp: Some(PingppPaymentOptions::default()), ..PaymentOptions::default() };
        let chosen = ProviderChoice::parse(ProviderName::Pingpp, pingpp.clone()).unwrap();
        assert_eq!((chosen.provider(), chosen.into_options()), (ProviderName::Pingpp, pingpp.clone()));
        assert!(ProviderChoice::parse(ProviderName::Paypal, PaymentOptions::default()).is_ok());
        let refused = ProviderChoice::parse(ProviderName::Paypal, pingpp).unwrap_err();
        assert_eq!(refused.options_for, ProviderName::Pingpp);
        assert_eq!(refused.to_string(), "applies to Ping++ payments, not paypal");
    }
}
