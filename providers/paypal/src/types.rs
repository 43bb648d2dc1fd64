//! Small objects shared by orders, captures and refunds, and the pattern for PayPal's status
//! enums.

use serde::{Deserialize, Serialize};

/// PayPal's money object. `value` stays PayPal's decimal string ("10.00", "1000" for JPY);
/// converting to minor units is the caller's business, done exactly, never through floats.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Amount {
    pub currency_code: String,
    pub value: String,
}

impl Amount {
    pub fn new(currency_code: impl Into<String>, value: impl Into<String>) -> Self {
        Self { currency_code: currency_code.into(), value: value.into() }
    }
}

/// A HATEOAS link (`self`, `payer-action`, `up`, `refund`, …).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
    pub method: Option<String>,
}

/// Why a capture or refund is in its status, e.g. `PENDING_REVIEW` or `ECHECK`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetails {
    pub reason: Option<String>,
}

/// The `href` of the first link with relation `rel` (PayPal's case varies between APIs).
pub(crate) fn link_href<'a>(links: &'a [Link], rel: &str) -> Option<&'a str> {
    links.iter().find(|link| link.rel.eq_ignore_ascii_case(rel)).map(|link| link.href.as_str())
}

// PayPal adds status values over time; the shared pattern keeps an unknown one as `Other`.
pub(crate) use payhub_provider_kit::wire_enum;
