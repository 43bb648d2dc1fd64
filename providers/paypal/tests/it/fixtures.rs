//! The real PayPal-signed notifications in `shared/fixtures/paypal-webhook/` (see its README).

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use payhub_paypal::{SANDBOX_SIGNING_SUBJECT, TrustConfig, WebhookHeaders};

pub struct Sample {
    pub name: String,
    pub headers: WebhookHeaders,
    pub body: Vec<u8>,
    pub webhook_id: String,
    pub cert_pem: Vec<u8>,
    pub signed_string: String,
    pub transmission_time: DateTime<Utc>,
}

pub struct Fixtures {
    pub samples: Vec<Sample>,
    pub root_pem: Vec<u8>,
    pub intermediate_pem: Vec<u8>,
}

impl Fixtures {
    /// The fixtures, or `None` (after saying so) where the shared folder is not checked out.
    pub fn load() -> Option<Self> {
        let dir = webhook_dir();
        if !dir.is_dir() {
            eprintln!("skipping: PayPal webhook fixtures not found at {}", dir.display());
            return None;
        }
        let mut sample_dirs: Vec<PathBuf> = fs::read_dir(&dir)
            .expect("read fixtures dir")
            .map(|entry| entry.expect("dir entry").path())
            .filter(|path| path.join("body.json").is_file())
            .collect();
        sample_dirs.sort();
        Some(Self {
            samples: sample_dirs.iter().map(|dir| Sample::load(dir)).collect(),
            root_pem: read(&dir.join("ca/DigiCertHighAssuranceEVRootCA.pem")),
            intermediate_pem: read(&dir.join("ca/DigiCertSHA2ExtendedValidationServerCA.pem")),
        })
    }

    /// DigiCert's root as the anchor, its EV intermediate, PayPal's sandbox signing name.
    pub fn trust(&self, webhook_id: &str) -> TrustConfig {
        TrustConfig {
            webhook_id: webhook_id.to_owned(),
            trust_anchors_pem: self.root_pem.clone(),
            intermediates_pem: self.intermediate_pem.clone(),
            expected_subject_names: vec![SANDBOX_SIGNING_SUBJECT.to_owned()],
        }
    }
}

impl Sample {
    fn load(dir: &Path) -> Self {
        let headers_json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&read(&dir.join("headers.json"))).expect("headers.json");
        let header_map: HeaderMap = headers_json
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                    HeaderValue::from_str(value.as_str().expect("string header")).expect("value"),
                )
            })
            .collect();
        let headers = WebhookHeaders::from_headers(&header_map).expect("fixture headers");
        let transmission_time =
            DateTime::parse_from_rfc3339(&headers.transmission_time).expect("transmission time").with_timezone(&Utc);
        Self {
            name: dir.file_name().expect("sample dir name").to_string_lossy().into_owned(),
            headers,
            body: read(&dir.join("body.json")),
            webhook_id: read_text(&dir.join("webhook_id.txt")),
            cert_pem: read(&dir.join("cert.pem")),
            signed_string: read_text(&dir.join("signed_string.txt")),
            transmission_time,
        }
    }

    /// The event type the sample's folder is named after, e.g. `PAYMENT.SALE.COMPLETED`.
    pub fn event_type(&self) -> &str {
        self.name.rsplit('-').next().expect("folder ends with the event type")
    }
}

fn webhook_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/paypal-webhook")
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_text(path: &Path) -> String {
    String::from_utf8(read(path)).expect("utf-8 fixture")
}
