//! `WebhookVerifier` refuses forged cert URLs before any network access. The refused URLs point
//! at a local server that counts requests, so a fetch would show up as a hit.

use chrono::Utc;
use payhub_paypal::{
    SANDBOX_SIGNING_SUBJECT, TrustConfig, VerifierConfig, VerifyError, WebhookHeaders, WebhookVerifier,
    default_http_client,
};

use crate::cert_server::CertServer;

/// A self-signed certificate (generated for these tests) that only makes the trust
/// configuration parse: nothing here gets as far as chain validation.
const SOME_ROOT_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----
MIIBjDCCATGgAwIBAgIUYtlto00OuNI5s6T6s90UdVj7z0kwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQcGF5aHViIHRlc3Qgcm9vdDAeFw0yNjExMjUwMTE5MjBaFw0z
NjExMjIwMTE5MjBaMBsxGTAXBgNVBAMMEHBheWh1YiB0ZXN0IHJvb3QwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAATVzef1BINVZh8Vqq09ab5u2gmDlpLeg8FZcirk
Avc7AEvMPSsLwaWfETPnFIn96WGyVM8rIlTW1MkMoQ3t+SHCo1MwUTAdBgNVHQ4E
FgQUagqenaF3VZbeYwK+9BrSYi4wwccwHwYDVR0jBBgwFoAUagqenaF3VZbeYwK+
9BrSYi4wwccwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA9p3j
SAVGPgooPGfXIn2Ps1p77sgi/NN1H73iyvHTyGoCIQDy/QZYeDXC74sjD7WPlsHa
G2/j5KXRqcKuxbXEVkT+BQ==
-----END CERTIFICATE-----
";

fn headers(cert_url: &str) -> WebhookHeaders {
    WebhookHeaders {
        transmission_id: "b2384410-f8d2-11e4-8bf3-77339302725b".into(),
        transmission_time: "2015-05-12T18:14:14Z".into(),
        transmission_sig: "c2lnbmF0dXJl".into(),
        cert_url: cert_url.into(),
        auth_algo: "SHA256withRSA".into(),
    }
}

fn verifier(allowed_cert_hosts: &[&str], allow_plain_http: bool) -> WebhookVerifier {
    let config = VerifierConfig {
        trust: TrustConfig {
            webhook_id: "3RN13029J36659323".into(),
            trust_anchors_pem: SOME_ROOT_PEM.to_vec(),
            intermediates_pem: Vec::new(),
            expected_subject_names: vec![SANDBOX_SIGNING_SUBJECT.into()],
        },
        allowed_cert_hosts: allowed_cert_hosts.iter().map(|h| (*h).to_owned()).collect(),
        allow_plain_http_cert_urls: allow_plain_http,
    };
    WebhookVerifier::new(config, default_http_client().expect("http client")).expect("verifier")
}

async fn assert_refused_without_fetch(verifier: &WebhookVerifier, server: &CertServer, url: &str) {
    let result = verifier.verify(&headers(url), b"{}", Utc::now()).await;
    assert!(matches!(result, Err(VerifyError::CertUrlNotAllowed(_))), "{url}: {result:?}");
    assert_eq!(server.hits(), 0, "{url} was fetched");
}

#[tokio::test]
async fn a_cert_url_on_a_host_that_is_not_allowed_is_refused_without_fetching() {
    let server = CertServer::start(vec![("/cert", b"x".to_vec())]).await;
    let verifier = verifier(&["api.paypal.com"], true);
    assert_refused_without_fetch(&verifier, &server, &server.url("/cert")).await;
    let look_alike = format!("http://api.paypal.com.{}/cert", server.authority());
    assert_refused_without_fetch(&verifier, &server, &look_alike).await;
}

#[tokio::test]
async fn a_plain_http_cert_url_is_refused_unless_allowed() {
    let server = CertServer::start(vec![("/cert", b"x".to_vec())]).await;
    let strict = verifier(&[&server.authority()], false);
    assert_refused_without_fetch(&strict, &server, &server.url("/cert")).await;

    // The same URL once plain http is allowed: now it is fetched (and the junk document refused).
    let lenient = verifier(&[&server.authority()], true);
    let result = lenient.verify(&headers(&server.url("/cert")), b"{}", Utc::now()).await;
    assert!(matches!(result, Err(VerifyError::CertRejected(_))), "{result:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn userinfo_in_front_of_a_host_is_refused_without_fetching() {
    let server = CertServer::start(vec![("/cert", b"x".to_vec())]).await;
    let allowed_name = verifier(&["api.paypal.com"], true);
    let disguised = format!("http://api.paypal.com@{}/cert", server.authority());
    assert_refused_without_fetch(&allowed_name, &server, &disguised).await;
    let disguised_https = format!("https://api.paypal.com@{}/cert", server.authority());
    assert_refused_without_fetch(&allowed_name, &server, &disguised_https).await;

    let allowed_server = verifier(&[&server.authority()], true);
    let with_credentials = format!("http://user:secret@{}/cert", server.authority());
    assert_refused_without_fetch(&allowed_server, &server, &with_credentials).await;
}

#[tokio::test]
async fn a_cert_url_that_is_not_a_url_is_refused() {
    let server = CertServer::start(vec![("/cert", b"x".to_vec())]).await;
    let verifier = verifier(&[&server.authority()], true);
    for junk in ["", "not a url", "/v1/notifications/certs/CERT-1", "api.paypal.com/cert", "http://"] {
        assert_refused_without_fetch(&verifier, &server, junk).await;
    }
}

#[tokio::test]
async fn an_unsupported_algorithm_is_refused_before_the_certificate_is_fetched() {
    let server = CertServer::start(vec![("/cert", b"x".to_vec())]).await;
    let verifier = verifier(&[&server.authority()], true);
    let mut forged = headers(&server.url("/cert"));
    forged.auth_algo = "SHA1withRSA".into();
    let result = verifier.verify(&forged, b"{}", Utc::now()).await;
    assert_eq!(result, Err(VerifyError::UnsupportedAlgorithm("SHA1withRSA".into())));
    assert_eq!(server.hits(), 0);
}
