//! Enums that travel in the providers' JSON as fixed strings (PayPal's `"COMPLETED"`, Ping++'s
//! `"succeeded"`), declared once with their wire names so the two directions cannot drift apart.

/// Declares an enum with `as_str`, its wire name; `parsed` also gives it `parse`, for enums read
/// from requests as well as written to responses.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            #[allow(dead_code, reason = "an enum only read from requests never writes its wire name")]
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire),+ }
            }
        }
    };
    (parsed $(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $crate::wire::wire_enum!($(#[$meta])* $name { $($variant => $wire),+ });

        impl $name {
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($wire => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

pub(crate) use wire_enum;
