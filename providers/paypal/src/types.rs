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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// Why a capture or refund is in its status, e.g. `PENDING_REVIEW` or `ECHECK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub(crate) fn find_link<'a>(links: &'a [Link], rel: &str) -> Option<&'a Link> {
    links.iter().find(|link| link.rel.eq_ignore_ascii_case(rel))
}

/// Declares a PayPal status enum. PayPal adds values over time, so every enum carries an
/// `Other(String)` that keeps an unknown value verbatim instead of failing the whole decode.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $wire:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A value this crate does not know, kept as PayPal sent it.
            Other(String),
        }

        impl $name {
            /// The value as PayPal writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(value) => value,
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $($wire => Self::$variant,)+
                    _ => Self::Other(value),
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::from(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                match value {
                    $name::Other(value) => value,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;
