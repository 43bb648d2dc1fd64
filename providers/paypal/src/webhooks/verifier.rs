//! [`WebhookVerifier`]: local verification with the certificate fetched from the cert URL.
//!
//! A PayPal cert URL names one immutable certificate, so the parsed chain is cached per URL and
//! fetched once. Validating the chain costs an RSA check per certificate on its path, on top of
//! the notification's own, so a chain that validated is not validated again while the
//! notification's time stays inside every offered certificate's validity. Outside that window it
//! is validated again at the time given, which makes a cached certificate stop working the moment
//! it, or an intermediate it depends on, expires.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::CONTENT_LENGTH;
use rustls_pki_types::CertificateDer;
use url::Url;

use crate::error::VerifyError;
use crate::webhooks::cert_url::CertUrlPolicy;
use crate::webhooks::headers::WebhookHeaders;
use crate::webhooks::validity::ValidityWindow;
use crate::webhooks::verify::{TrustConfig, TrustStore, check_algorithm, parse_chain};

/// Cached certificate chains; PayPal rotates its signing certificate every year or two, so a
/// handful of URLs is the steady state and the bound only stops forged-but-allowed URLs from
/// growing memory.
const CACHED_CHAINS: usize = 64;
/// A certificate chain is a few KiB; anything much larger is not one.
const MAX_CERT_DOCUMENT_BYTES: usize = 64 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct VerifierConfig {
    pub trust: TrustConfig,
    /// `host` or `host:port` the cert URL may point at: [`crate::LIVE_CERT_HOST`],
    /// [`crate::SANDBOX_CERT_HOST`], or e.g. `127.0.0.1:8081` for a local simulator.
    pub allowed_cert_hosts: Vec<String>,
    /// Accept `http://` cert URLs. Only for a local simulator.
    pub allow_plain_http_cert_urls: bool,
}

/// Verifies notifications locally. Clones share the certificate cache.
#[derive(Clone)]
pub struct WebhookVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    trust: TrustStore,
    policy: CertUrlPolicy,
    http: reqwest::Client,
    chains: Mutex<ChainCache>,
    chain_validations: AtomicU64,
}

type Chain = Arc<[CertificateDer<'static>]>;

/// A fetched chain and, once it has validated, the window in which that validation holds.
#[derive(Clone)]
struct CachedChain {
    certificates: Chain,
    validated_for: Option<ValidityWindow>,
}

impl WebhookVerifier {
    /// Parses the trust configuration once. `http` should not follow redirects (as
    /// [`crate::default_http_client`] does not); a redirect off the allowed hosts is refused
    /// either way.
    pub fn new(config: VerifierConfig, http: reqwest::Client) -> Result<Self, VerifyError> {
        Ok(Self {
            inner: Arc::new(Inner {
                trust: TrustStore::from_config(&config.trust)?,
                policy: CertUrlPolicy::new(&config.allowed_cert_hosts, config.allow_plain_http_cert_urls)?,
                http,
                chains: Mutex::new(ChainCache::default()),
                chain_validations: AtomicU64::new(0),
            }),
        })
    }

    /// Verifies a notification's raw `body` against its headers, with certificate validity
    /// checked at `at` (the hub's clock). Nothing is fetched for a refused cert URL or algorithm.
    pub async fn verify(&self, headers: &WebhookHeaders, body: &[u8], at: DateTime<Utc>) -> Result<(), VerifyError> {
        check_algorithm(headers)?;
        let url = self.inner.policy.check(&headers.cert_url)?;
        let chain = self.chain_for(&url).await?;
        if !chain.validated_for.is_some_and(|window| window.contains(at)) {
            self.validate(&url, &chain.certificates, at)?;
        }
        self.inner.trust.check_notification(&chain.certificates, headers, body)
    }

    /// How many times a certificate chain has been validated (the RSA checks of the chain, not
    /// of notifications) since the verifier was made, counted across clones. With a warm cache
    /// it stays flat while notifications verify; one that climbs with traffic means chains are
    /// validated per notification, e.g. for times outside a certificate's validity.
    pub fn chain_validations(&self) -> u64 {
        self.inner.chain_validations.load(Ordering::Relaxed)
    }

    async fn chain_for(&self, url: &Url) -> Result<CachedChain, VerifyError> {
        let cached = self.inner.cache().get(url.as_str());
        if let Some(chain) = cached {
            return Ok(chain);
        }
        let chain: Chain = parse_chain(&self.fetch(url).await?)?.into();
        Ok(self.inner.cache().insert(url.as_str(), chain))
    }

    /// Validates `chain` at `at` and, on success, lets its cache entry skip validation inside
    /// the chain's validity window. A chain that fails stays cached, but not as validated.
    fn validate(&self, url: &Url, chain: &Chain, at: DateTime<Utc>) -> Result<(), VerifyError> {
        self.inner.chain_validations.fetch_add(1, Ordering::Relaxed);
        self.inner.trust.validate_chain(chain, at)?;
        let Some(window) = self.inner.trust.validity_window(chain) else {
            tracing::debug!(cert_url = %url, "certificate validity unreadable; validating the chain per notification");
            return Ok(());
        };
        self.inner.cache().mark_validated(url.as_str(), chain, window);
        Ok(())
    }

    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, VerifyError> {
        let failed = |why: String| VerifyError::CertFetch(format!("{url}: {why}"));
        tracing::debug!(cert_url = %url, "fetching PayPal signing certificate");
        let mut response =
            self.inner.http.get(url.clone()).timeout(FETCH_TIMEOUT).send().await.map_err(|e| failed(e.to_string()))?;
        if response.url() != url {
            self.inner
                .policy
                .check_parsed(response.url())
                .map_err(|why| failed(format!("redirected to a refused URL ({why})")))?;
        }
        if !response.status().is_success() {
            return Err(failed(format!("answered {}", response.status())));
        }
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if announced.is_some_and(|length| length > MAX_CERT_DOCUMENT_BYTES as u64) {
            return Err(failed(format!("document is larger than {MAX_CERT_DOCUMENT_BYTES} bytes")));
        }
        let mut document = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
            if document.len() + chunk.len() > MAX_CERT_DOCUMENT_BYTES {
                return Err(failed(format!("document is larger than {MAX_CERT_DOCUMENT_BYTES} bytes")));
            }
            document.extend_from_slice(&chunk);
        }
        Ok(document)
    }
}

impl Inner {
    fn cache(&self) -> MutexGuard<'_, ChainCache> {
        // The cache holds no invariant a panicking holder could break; keep using it.
        self.chains.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("policy", &self.inner.policy)
            .field("cached_chains", &self.inner.cache().len())
            .field("chain_validations", &self.chain_validations())
            .finish_non_exhaustive()
    }
}

/// Chains by URL, the oldest dropped first when full.
#[derive(Default)]
struct ChainCache {
    chains: HashMap<String, CachedChain>,
    insertion_order: VecDeque<String>,
}

impl ChainCache {
    fn get(&self, url: &str) -> Option<CachedChain> {
        self.chains.get(url).cloned()
    }

    /// Caches a freshly fetched chain, not yet validated, and returns the URL's entry. Where a
    /// concurrent fetch of the same URL got there first, its entry (perhaps validated) is kept.
    fn insert(&mut self, url: &str, certificates: Chain) -> CachedChain {
        if let Some(existing) = self.chains.get(url) {
            return existing.clone();
        }
        let entry = CachedChain { certificates, validated_for: None };
        self.chains.insert(url.to_owned(), entry.clone());
        self.insertion_order.push_back(url.to_owned());
        while self.insertion_order.len() > CACHED_CHAINS {
            if let Some(oldest) = self.insertion_order.pop_front() {
                self.chains.remove(&oldest);
            }
        }
        entry
    }

    /// Records that the URL's chain validated and holds within `window`, if the entry still
    /// holds that very chain (it may have been evicted and fetched again meanwhile).
    fn mark_validated(&mut self, url: &str, certificates: &Chain, window: ValidityWindow) {
        if let Some(entry) = self.chains.get_mut(url)
            && Arc::ptr_eq(&entry.certificates, certificates)
        {
            entry.validated_for = Some(window);
        }
    }

    fn len(&self) -> usize {
        self.chains.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_cache_is_bounded_and_drops_the_oldest_entry() {
        let mut cache = ChainCache::default();
        let chain: Chain = Vec::new().into();
        for n in 0..=CACHED_CHAINS {
            cache.insert(&format!("https://api.paypal.com/certs/{n}"), chain.clone());
        }
        assert_eq!(cache.len(), CACHED_CHAINS);
        assert!(cache.get("https://api.paypal.com/certs/0").is_none());
        assert!(cache.get(&format!("https://api.paypal.com/certs/{CACHED_CHAINS}")).is_some());
    }

    #[test]
    fn inserting_a_cached_url_again_does_not_grow_the_cache() {
        let mut cache = ChainCache::default();
        let chain: Chain = Vec::new().into();
        cache.insert("https://api.paypal.com/certs/1", chain.clone());
        cache.insert("https://api.paypal.com/certs/1", chain);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.insertion_order.len(), 1);
    }

    fn any_window() -> ValidityWindow {
        ValidityWindow::of(&[]).expect("an empty chain bounds nothing")
    }

    #[test]
    fn a_chain_fetched_again_concurrently_leaves_the_validated_entry_in_place() {
        let mut cache = ChainCache::default();
        let url = "https://api.paypal.com/certs/1";
        let first: Chain = Vec::new().into();
        cache.insert(url, first.clone());
        cache.mark_validated(url, &first, any_window());
        let entry = cache.insert(url, Vec::new().into());
        assert!(Arc::ptr_eq(&entry.certificates, &first));
        assert_eq!(entry.validated_for, Some(any_window()));
    }

    #[test]
    fn a_validation_is_not_recorded_on_an_entry_that_holds_another_chain() {
        let mut cache = ChainCache::default();
        let url = "https://api.paypal.com/certs/1";
        cache.insert(url, Vec::new().into());
        let other: Chain = Vec::new().into();
        cache.mark_validated(url, &other, any_window());
        assert_eq!(cache.get(url).map(|entry| entry.validated_for), Some(None));
    }
}
