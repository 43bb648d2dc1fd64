//! The real Ping++-signed webhooks in `shared/fixtures/pingpp-webhook/` (see its README):
//! each verifies with its key, each tampered copy is refused, and each body parses.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use payhub_pingpp::{VerifyError, WebhookVerifier, parse_event};

pub struct Sample {
    pub name: String,
    pub body: Vec<u8>,
    pub signature: String,
    pub key_pem: Vec<u8>,
}

impl Sample {
    /// `NN-<event id>-<event type>`.
    fn event_id_and_type(&self) -> (&str, &str) {
        let mut parts = self.name.splitn(3, '-').skip(1);
        (parts.next().expect("event id in the folder name"), parts.next().expect("event type in the folder name"))
    }

    pub fn verifier(&self) -> WebhookVerifier {
        WebhookVerifier::from_pem(&self.key_pem).unwrap_or_else(|e| panic!("{}: key: {e}", self.name))
    }
}

/// The samples, or `None` (after saying so) where the shared folder is not checked out.
pub fn samples() -> Option<Vec<Sample>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/pingpp-webhook");
    if !dir.is_dir() {
        eprintln!("skipping: Ping++ webhook fixtures not found at {}", dir.display());
        return None;
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("read fixtures dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.join("body.json").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no samples in {}", dir.display());
    Some(
        dirs.iter()
            .map(|dir| Sample {
                name: dir.file_name().expect("name").to_string_lossy().into_owned(),
                body: read(&dir.join("body.json")),
                signature: String::from_utf8(read(&dir.join("signature.txt"))).expect("ascii"),
                key_pem: read(&dir.join("pingpp_public_key.pem")),
            })
            .collect(),
    )
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// What arrives: the raw body and its `X-Pingplusplus-Signature`.
struct Delivery {
    body: Vec<u8>,
    signature: String,
}

/// One small change to a genuine delivery; every one must break the signature.
struct Tamper {
    what: &'static str,
    apply: fn(&mut Delivery),
}

const TAMPERS: [Tamper; 3] = [
    Tamper {
        what: "a body with one byte changed",
        apply: |delivery| {
            let middle = delivery.body.len() / 2;
            delivery.body[middle] ^= 0x01;
        },
    },
    Tamper { what: "a body with a newline appended", apply: |delivery| delivery.body.push(b'\n') },
    Tamper {
        what: "a signature with one byte flipped",
        apply: |delivery| {
            let mut signature = BASE64.decode(&delivery.signature).expect("fixture signature");
            signature[17] ^= 0x80;
            delivery.signature = BASE64.encode(&signature);
        },
    },
];

#[test]
fn every_real_ping_plus_plus_webhook_verifies_with_its_public_key() {
    let Some(samples) = samples() else { return };
    assert_eq!(samples.len(), 3);
    for sample in &samples {
        assert_eq!(sample.verifier().verify(&sample.body, &sample.signature), Ok(()), "{}", sample.name);
    }
}

#[test]
fn every_tampered_delivery_of_every_webhook_is_refused() {
    let Some(samples) = samples() else { return };
    assert_eq!(samples.len(), 3);
    for sample in &samples {
        for tamper in &TAMPERS {
            let mut delivery = Delivery { body: sample.body.clone(), signature: sample.signature.clone() };
            (tamper.apply)(&mut delivery);
            assert_eq!(
                sample.verifier().verify(&delivery.body, &delivery.signature),
                Err(VerifyError::BadSignature),
                "{}: {}",
                sample.name,
                tamper.what
            );
        }
    }
}

#[test]
fn a_signature_is_refused_under_another_samples_key_and_accepted_under_a_bundle() {
    let Some(samples) = samples() else { return };
    let (first, second) = (&samples[0], &samples[1]);
    assert_eq!(second.verifier().verify(&first.body, &first.signature), Err(VerifyError::BadSignature));
    let bundle: Vec<u8> = samples.iter().flat_map(|s| s.key_pem.iter().copied().chain(*b"\n")).collect();
    let rotating = WebhookVerifier::from_pem(&bundle).expect("three keys");
    for sample in &samples {
        assert_eq!(rotating.verify(&sample.body, &sample.signature), Ok(()), "{}", sample.name);
    }
}

#[test]
fn every_webhook_body_parses_as_an_event_of_its_type() {
    let Some(samples) = samples() else { return };
    for sample in &samples {
        let event = parse_event(&sample.body).unwrap_or_else(|e| panic!("{}: {e}", sample.name));
        let (id, event_type) = sample.event_id_and_type();
        assert_eq!(event.id, id);
        assert_eq!(event.event_type, event_type);
        assert_eq!(event.object, "event");
        if event_type == "charge.succeeded" {
            let charge = event.charge().expect("a charge event").expect("charge decodes");
            assert!(charge.paid);
            assert_eq!((charge.amount, charge.currency.as_str()), (100, "cny"));
            assert!(charge.transaction_no.is_some());
        }
    }
}

#[test]
fn the_non_ascii_summary_webhook_keeps_its_chinese_text_and_verifies_byte_for_byte() {
    let Some(samples) = samples() else { return };
    let summary = samples.iter().find(|s| s.name.ends_with("account.summary.available")).expect("sample 02");
    assert!(!summary.body.is_ascii(), "the raw body carries UTF-8 text");
    let event = parse_event(&summary.body).expect("event");
    assert_eq!(event.data.object_kind(), Some("account_daily_summary"));
    assert_eq!(event.data.object["acct_display_name"], "xx公司");
    assert_eq!(event.request, None);
    assert_eq!(event.pending_webhooks, 2);

    // Re-encoding the parsed JSON with escaped non-ASCII changes the bytes and breaks the
    // signature: verification must see the body exactly as it arrived.
    let escaped: String = String::from_utf8(summary.body.clone())
        .expect("utf-8")
        .chars()
        .map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) })
        .collect();
    assert_eq!(parse_event(escaped.as_bytes()).expect("same event").data, event.data);
    assert_eq!(summary.verifier().verify(escaped.as_bytes(), &summary.signature), Err(VerifyError::BadSignature));
}
