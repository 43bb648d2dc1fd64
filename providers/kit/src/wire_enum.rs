//! The pattern for a provider's string enums (statuses, modes, tenure types).

/// Declares a provider's string enum. Providers add values over time, so every enum carries an
/// `Other(String)` that keeps an unknown value verbatim instead of failing the whole decode.
///
/// The enum derives serde's traits, so the crate that declares it depends on `serde`.
///
/// ```
/// payhub_provider_kit::wire_enum! {
///     /// `Refund.status`.
///     pub enum RefundStatus {
///         Pending => "PENDING",
///         Completed => "COMPLETED",
///     }
/// }
///
/// assert_eq!(RefundStatus::from("COMPLETED"), RefundStatus::Completed);
/// assert_eq!(RefundStatus::from("ON_HOLD").as_str(), "ON_HOLD");
/// ```
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $wire:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A value this crate does not know, kept as the provider sent it.
            Other(String),
        }

        impl $name {
            /// The value as the provider writes it.
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

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::wire_enum! {
        pub enum SaleState {
            Completed => "completed",
            PartiallyRefunded => "partially_refunded",
        }
    }

    #[test]
    fn known_values_decode_to_their_variant_and_encode_back_unchanged() {
        let state: SaleState = serde_json::from_str(r#""partially_refunded""#).expect("known value");
        assert_eq!(state, SaleState::PartiallyRefunded);
        assert_eq!(serde_json::to_string(&state).expect("json"), r#""partially_refunded""#);
        assert_eq!(SaleState::Completed.to_string(), "completed");
    }

    #[test]
    fn an_unknown_value_is_kept_verbatim_through_a_round_trip() {
        let state: SaleState = serde_json::from_str(r#""reversed""#).expect("unknown value still decodes");
        assert_eq!(state, SaleState::Other("reversed".into()));
        assert_eq!(state.as_str(), "reversed");
        assert_eq!(serde_json::to_string(&state).expect("json"), r#""reversed""#);
    }
}
