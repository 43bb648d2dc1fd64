//! Names shared by every resource: the mode an object lives in and the provider that holds it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Test and live objects never mix: an API key of one mode sees only that mode's objects, and
/// each mode talks to its own provider environment (sandbox or production).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Test, Mode::Live];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

impl FromStr for Mode {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "test" => Ok(Mode::Test),
            "live" => Ok(Mode::Live),
            _ => Err(UnknownName { kind: "mode", value: s.to_owned(), expected: "test, live".into() }),
        }
    }
}

/// Declares [`ProviderName`] from one line per provider: its variant, its name on the wire
/// (API, stored rows, config sections, `/webhooks/{name}`) and the name people know it by.
// The names are `tt`, not `literal`: utoipa's derive does not see through a `literal`
// fragment in `serde(rename)` and would publish `Paypal` instead of `paypal`.
macro_rules! provider_names {
    ($($variant:ident => $name:tt, $title:tt;)+) => {
        /// A payment provider payhub talks to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum ProviderName {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl ProviderName {
            pub const ALL: &[ProviderName] = &[$(ProviderName::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProviderName::$variant => $name,)+
                }
            }

            /// The provider's own spelling, for messages people read (`Ping++`).
            pub fn title(self) -> &'static str {
                match self {
                    $(ProviderName::$variant => $title,)+
                }
            }
        }
    };
}

// A new provider adds its line here; everything else about it lives in its own folders.
provider_names! {
    Paypal => "paypal", "PayPal";
    Pingpp => "pingpp", "Ping++";
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderName {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderName::ALL.iter().copied().find(|p| p.as_str() == s).ok_or_else(|| UnknownName {
            kind: "provider",
            value: s.to_owned(),
            expected: ProviderName::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_read_back_from_their_wire_names() {
        for provider in ProviderName::ALL {
            assert_eq!(provider.as_str().parse::<ProviderName>(), Ok(*provider));
            assert_eq!(serde_json::to_value(provider).unwrap(), provider.as_str());
        }
        let schema = serde_json::to_value(<ProviderName as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(ProviderName::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()));
        let unknown = "stripe".parse::<ProviderName>().unwrap_err();
        assert_eq!(unknown.to_string(), "unknown provider `stripe`; expected one of: paypal, pingpp");
    }
}
