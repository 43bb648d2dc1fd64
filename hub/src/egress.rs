//! Where payhub may connect on a merchant's behalf. A webhook endpoint URL is the merchant's
//! to choose, so without a rule anyone holding an API key could make payhub call its own
//! database, a cloud metadata service or any host of the internal network, and read the answer
//! back from the delivery record (server-side request forgery).
//!
//! The rule holds twice: when an endpoint is registered (a clear refusal) and when a delivery
//! connects. At connect time every address a name resolves to is checked and the connection goes
//! to the checked addresses only, so a name that resolves elsewhere the second time (DNS
//! rebinding) gains nothing; redirects are never followed and no proxy is used.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use payhub_core::Mode;

/// Addresses no merchant endpoint may have, unless the operator allows their network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Unspecified,
    /// Broadcast and the reserved 240.0.0.0/4.
    Reserved,
    /// Cloud instance metadata services, which hand out credentials: never reachable.
    Metadata,
}

impl AddressClass {
    /// The class of an address payhub does not deliver to by default; `None` for a public one.
    pub fn of(ip: IpAddr) -> Option<Self> {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    fn of_v4(ip: Ipv4Addr) -> Option<Self> {
        let [a, b, ..] = ip.octets();
        Some(match ip {
            // AWS, GCP, Azure (169.254.169.254) and Alibaba Cloud (100.100.100.200).
            _ if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) => Self::Metadata,
            _ if a == 0 => Self::Unspecified,
            _ if ip.is_loopback() => Self::Loopback,
            _ if ip.is_link_local() => Self::LinkLocal,
            // RFC 1918 and the carrier-grade NAT range (RFC 6598), both internal networks.
            _ if ip.is_private() || (a == 100 && (64..128).contains(&b)) => Self::Private,
            _ if ip.is_multicast() => Self::Multicast,
            _ if ip.is_broadcast() || a >= 240 => Self::Reserved,
            _ => return None,
        })
    }

    fn of_v6(ip: Ipv6Addr) -> Option<Self> {
        let first = ip.segments()[0];
        Some(match ip {
            // AWS's metadata service over IPv6.
            _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => Self::Metadata,
            _ if ip.is_unspecified() => Self::Unspecified,
            _ if ip.is_loopback() => Self::Loopback,
            _ if first & 0xffc0 == 0xfe80 => Self::LinkLocal,
            // Deprecated site-local addresses are private networks too.
            _ if first & 0xffc0 == 0xfec0 => Self::Private,
            _ if first & 0xfe00 == 0xfc00 => Self::UniqueLocal,
            _ if ip.is_multicast() => Self::Multicast,
            _ => return None,
        })
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private network address",
            Self::LinkLocal => "a link-local address",
            Self::UniqueLocal => "a unique-local address",
            Self::Multicast => "a multicast address",
            Self::Unspecified => "an unspecified address",
            Self::Reserved => "a reserved address",
            Self::Metadata => "a cloud metadata service",
        }
    }
}

/// Why payhub will not connect to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{host} is {}, which payhub does not deliver to{}", class.describe(), remedy(*class))]
    Address { host: String, address: IpAddr, class: AddressClass },
    #[error("the URL has no host")]
    NoHost,
}

fn remedy(class: AddressClass) -> &'static str {
    match class {
        AddressClass::Metadata => "",
        _ => "; use a public address, or have the operator allow the network in [webhooks] allow_private_networks",
    }
}

/// Which addresses merchant endpoints may have: public ones, those in networks the operator
/// allows, and in test mode loopback when the hub runs beside local receivers (`serve
/// --sandbox`). Live mode reaches internal addresses only through the operator's list.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allowed_networks: Vec<IpNet>,
    loopback_in_test_mode: bool,
}

impl EgressPolicy {
    pub fn new(allowed_networks: Vec<IpNet>) -> Self {
        Self { allowed_networks, loopback_in_test_mode: false }
    }

    /// Test-mode endpoints may also be on this machine (receivers running beside the sandbox).
    pub fn with_loopback_in_test_mode(mut self) -> Self {
        self.loopback_in_test_mode = true;
        self
    }

    /// Whether an endpoint of `mode` may be at `address`; `host` names it in the refusal.
    pub fn check(&self, mode: Mode, host: &str, address: IpAddr) -> Result<(), Refused> {
        let Some(class) = AddressClass::of(address) else { return Ok(()) };
        let canonical = address.to_canonical();
        let allowed = match class {
            AddressClass::Metadata => false,
            AddressClass::Loopback if mode == Mode::Test && self.loopback_in_test_mode => true,
            _ => self.allowed_networks.iter().any(|network| network.contains(&canonical)),
        };
        if allowed { Ok(()) } else { Err(Refused::Address { host: host.to_owned(), address, class }) }
    }

    /// Checks an endpoint URL as a merchant registers it: an address written in the URL, or
    /// every address its name resolves to now. A name that does not resolve yet is accepted;
    /// each delivery checks again when it connects.
    pub async fn check_url(&self, mode: Mode, url: &url::Url) -> Result<(), Refused> {
        match url.host() {
            None => Err(Refused::NoHost),
            Some(url::Host::Ipv4(ip)) => self.check(mode, &ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(mode, &ip.to_string(), IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let Ok(addresses) = tokio::net::lookup_host((name, 0)).await else { return Ok(()) };
                addresses.into_iter().try_for_each(|a| self.check(mode, name, a.ip()))
            }
        }
    }

    /// Checks the address a URL names directly, if it names one: an HTTP client connects to
    /// such an address without asking its resolver.
    pub fn check_literal(&self, mode: Mode, url: &url::Url) -> Result<(), Refused> {
        match url.host() {
            None => Err(Refused::NoHost),
            Some(url::Host::Ipv4(ip)) => self.check(mode, &ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(mode, &ip.to_string(), IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
        }
    }

    /// A resolver for the HTTP client delivering to endpoints of `mode`: it resolves a name and
    /// hands the client only addresses this policy allows, refusing the name if any of its
    /// addresses is refused.
    pub fn resolver(&self, mode: Mode) -> Arc<CheckedResolver> {
        Arc::new(CheckedResolver { policy: self.clone(), mode })
    }
}

pub struct CheckedResolver {
    policy: EgressPolicy,
    mode: Mode,
}

impl fmt::Debug for CheckedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedResolver").field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let mode = self.mode;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for address in &addresses {
                policy.check(mode, &host, address.ip())?;
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn every_internal_class_is_recognised_and_public_addresses_pass() {
        let cases = [
            ("127.0.0.1", AddressClass::Loopback),
            ("127.8.9.10", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("10.0.0.1", AddressClass::Private),
            ("172.16.5.4", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("::ffff:10.1.2.3", AddressClass::Private),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fd12:3456::1", AddressClass::UniqueLocal),
            ("224.0.0.1", AddressClass::Multicast),
            ("ff02::1", AddressClass::Multicast),
            ("0.0.0.0", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("255.255.255.255", AddressClass::Reserved),
            ("169.254.169.254", AddressClass::Metadata),
            ("100.100.100.200", AddressClass::Metadata),
            ("fd00:ec2::254", AddressClass::Metadata),
        ];
        for (address, class) in cases {
            assert_eq!(AddressClass::of(ip(address)), Some(class), "{address}");
        }
        for public in ["93.184.215.14", "8.8.8.8", "100.128.0.1", "2606:4700::1111", "::ffff:93.184.215.14"] {
            assert_eq!(AddressClass::of(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn the_default_policy_refuses_internal_addresses_in_both_modes() {
        let policy = EgressPolicy::default();
        for mode in [Mode::Test, Mode::Live] {
            for address in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "0.0.0.0"] {
                let address = ip(address.trim_matches(['[', ']']));
                let refused = policy.check(mode, "h", address).unwrap_err();
                assert!(matches!(refused, Refused::Address { .. }), "{address}");
            }
            assert_eq!(policy.check(mode, "h", ip("93.184.215.14")), Ok(()));
        }
    }

    #[test]
    fn the_allowlist_admits_its_networks_only_and_never_metadata() {
        let policy = EgressPolicy::new(vec!["10.1.0.0/16".parse().unwrap(), "169.254.0.0/16".parse().unwrap()]);
        assert_eq!(policy.check(Mode::Live, "h", ip("10.1.2.3")), Ok(()));
        assert_eq!(policy.check(Mode::Live, "h", ip("::ffff:10.1.2.3")), Ok(()));
        assert!(policy.check(Mode::Live, "h", ip("10.2.0.1")).is_err());
        assert_eq!(policy.check(Mode::Live, "h", ip("169.254.1.1")), Ok(()));
        let metadata = policy.check(Mode::Live, "h", ip("169.254.169.254")).unwrap_err();
        assert_eq!(metadata.to_string(), "h is a cloud metadata service, which payhub does not deliver to");
    }

    #[test]
    fn loopback_for_local_receivers_is_for_test_mode_only() {
        let policy = EgressPolicy::default().with_loopback_in_test_mode();
        assert_eq!(policy.check(Mode::Test, "localhost", ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check(Mode::Test, "localhost", ip("::1")), Ok(()));
        let live = policy.check(Mode::Live, "localhost", ip("127.0.0.1")).unwrap_err();
        assert!(live.to_string().starts_with("localhost is a loopback address"), "{live}");
        assert!(policy.check(Mode::Test, "h", ip("10.0.0.1")).is_err(), "only loopback");
    }

    #[tokio::test]
    async fn a_registered_name_is_checked_through_every_address_it_resolves_to() {
        let policy = EgressPolicy::default();
        let url = url::Url::parse("http://localhost:8080/hook").unwrap();
        let refused = policy.check_url(Mode::Test, &url).await.unwrap_err();
        assert!(matches!(refused, Refused::Address { class: AddressClass::Loopback, .. }), "{refused}");
        let literal = url::Url::parse("http://[::ffff:169.254.169.254]/latest/meta-data/").unwrap();
        assert!(policy.check_literal(Mode::Live, &literal).is_err());
    }
}
