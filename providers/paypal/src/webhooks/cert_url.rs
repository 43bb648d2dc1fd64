//! Which certificate URLs may be fetched. The cert URL arrives in a header anyone can forge, so
//! it is checked before any network access: otherwise a forger could point it at a certificate
//! of their own (forgery) or at an internal address (server-side request forgery).

use url::Url;

use crate::error::VerifyError;

/// The host PayPal's live notifications name in `PAYPAL-CERT-URL`.
pub const LIVE_CERT_HOST: &str = "api.paypal.com";
/// The host PayPal's sandbox notifications name in `PAYPAL-CERT-URL`.
pub const SANDBOX_CERT_HOST: &str = "api.sandbox.paypal.com";

/// Longest URL quoted back in an error.
const QUOTED_URL_CHARS: usize = 200;

#[derive(Debug, Clone)]
pub(crate) struct CertUrlPolicy {
    /// Lower-case `host` or `host:port`.
    allowed_hosts: Vec<String>,
    allow_plain_http: bool,
}

impl CertUrlPolicy {
    pub(crate) fn new(allowed_hosts: &[String], allow_plain_http: bool) -> Result<Self, VerifyError> {
        let allowed_hosts: Vec<String> =
            allowed_hosts.iter().map(|host| host.trim().to_ascii_lowercase()).filter(|host| !host.is_empty()).collect();
        if allowed_hosts.is_empty() {
            return Err(VerifyError::CertUrlNotAllowed(
                "no certificate host is configured in allowed_cert_hosts".into(),
            ));
        }
        Ok(Self { allowed_hosts, allow_plain_http })
    }

    /// The parsed URL when it may be fetched. The caller fetches this `Url`, never the raw
    /// string, so what was checked is what is fetched.
    pub(crate) fn check(&self, raw: &str) -> Result<Url, VerifyError> {
        let refuse = |why: &str| VerifyError::CertUrlNotAllowed(format!("{} ({why})", quote(raw)));
        let url = Url::parse(raw).map_err(|_| refuse("not a URL"))?;
        self.check_parsed(&url).map_err(refuse)?;
        Ok(url)
    }

    /// Re-checks a URL the HTTP client ended up at, should it follow redirects.
    pub(crate) fn check_parsed(&self, url: &Url) -> Result<(), &'static str> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_plain_http => {}
            "http" => return Err("plain http is not allowed"),
            _ => return Err("scheme is not https"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL are not allowed");
        }
        let Some(host) = url.host_str() else {
            return Err("no host");
        };
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        if self.allowed_hosts.contains(&authority.to_ascii_lowercase()) {
            Ok(())
        } else {
            Err("host is not in allowed_cert_hosts")
        }
    }
}

fn quote(raw: &str) -> String {
    let mut quoted: String = raw.chars().filter(|c| !c.is_control()).take(QUOTED_URL_CHARS).collect();
    if raw.chars().count() > QUOTED_URL_CHARS {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], allow_plain_http: bool) -> CertUrlPolicy {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        CertUrlPolicy::new(&hosts, allow_plain_http).expect("policy")
    }

    const CERT: &str = "/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77";

    #[test]
    fn https_urls_on_an_allowed_host_pass() {
        let policy = policy(&["api.paypal.com", "127.0.0.1:8081"], false);
        assert!(policy.check(&format!("https://api.paypal.com{CERT}")).is_ok());
        assert!(policy.check(&format!("https://API.PayPal.com{CERT}")).is_ok());
        assert!(policy.check(&format!("https://api.paypal.com:443{CERT}")).is_ok());
        assert!(policy.check(&format!("https://127.0.0.1:8081{CERT}")).is_ok());
    }

    #[test]
    fn look_alike_hosts_and_other_ports_are_refused() {
        let policy = policy(&["api.paypal.com", "127.0.0.1:8081"], true);
        for url in [
            format!("https://api.paypal.com.evil.example{CERT}"),
            format!("https://evil-api.paypal.com{CERT}"),
            format!("https://api.paypal.com:8443{CERT}"),
            format!("http://127.0.0.1:8082{CERT}"),
            format!("http://127.0.0.1{CERT}"),
        ] {
            assert!(matches!(policy.check(&url), Err(VerifyError::CertUrlNotAllowed(_))), "{url}");
        }
    }

    #[test]
    fn plain_http_passes_only_when_allowed() {
        let url = format!("http://127.0.0.1:8081{CERT}");
        assert!(policy(&["127.0.0.1:8081"], false).check(&url).is_err());
        assert!(policy(&["127.0.0.1:8081"], true).check(&url).is_ok());
    }

    #[test]
    fn other_schemes_and_userinfo_are_refused() {
        let policy = policy(&["api.paypal.com"], true);
        for url in [
            format!("ftp://api.paypal.com{CERT}"),
            "file:///etc/passwd".to_owned(),
            format!("https://user@api.paypal.com{CERT}"),
            format!("https://api.paypal.com@evil.example{CERT}"),
            format!("https://evil.example\\@api.paypal.com{CERT}"),
        ] {
            assert!(policy.check(&url).is_err(), "{url}");
        }
    }

    #[test]
    fn refusals_quote_a_bounded_url() {
        let long = format!("https://evil.example/{}", "a".repeat(5000));
        let Err(VerifyError::CertUrlNotAllowed(message)) = policy(&["api.paypal.com"], false).check(&long) else {
            panic!("expected a refusal");
        };
        assert!(message.len() < 400, "{}", message.len());
    }

    #[test]
    fn an_empty_allow_list_is_a_configuration_error() {
        assert!(CertUrlPolicy::new(&[" ".to_owned()], false).is_err());
    }

    proptest::proptest! {
        /// Whatever a forger puts in the header, the policy answers without panicking, and
        /// what it lets through is an https URL on the allowed host, without credentials.
        #[test]
        fn any_cert_url_is_refused_unless_it_is_https_on_an_allowed_host(
            raw in proptest::prop_oneof![
                ".{0,120}",
                "(https?|ftp|file)://([a-z@:.]{0,12}@)?(api\\.paypal\\.com|10\\.0\\.0\\.1|169\\.254\\.169\\.254|\\[::1\\])(:[0-9]{1,5})?[ -~]{0,40}",
            ],
        ) {
            if let Ok(url) = policy(&["api.paypal.com"], false).check(&raw) {
                proptest::prop_assert_eq!(url.scheme(), "https");
                proptest::prop_assert_eq!(url.host_str(), Some("api.paypal.com"));
                proptest::prop_assert!(url.username().is_empty() && url.password().is_none());
            }
        }
    }
}
