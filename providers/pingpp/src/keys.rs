//! Reading RSA keys from PEM: the merchant's private key for request signing and Ping++'s
//! public key for webhooks. ring wants the bare PKCS#1 `RSAPublicKey`, while Ping++ hands out
//! SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`), so the few DER steps to unwrap it live here.

/// The private key sections a merchant key may come in.
pub(crate) enum PrivateKeyDer {
    /// `BEGIN RSA PRIVATE KEY`
    Pkcs1(Vec<u8>),
    /// `BEGIN PRIVATE KEY`
    Pkcs8(Vec<u8>),
}

/// The first private key in `pem_text`.
pub(crate) fn private_key_from_pem(pem_text: &[u8]) -> Result<PrivateKeyDer, String> {
    let sections = parse_sections(pem_text)?;
    for section in &sections {
        match section.tag() {
            "RSA PRIVATE KEY" => return Ok(PrivateKeyDer::Pkcs1(section.contents().to_vec())),
            "PRIVATE KEY" => return Ok(PrivateKeyDer::Pkcs8(section.contents().to_vec())),
            "ENCRYPTED PRIVATE KEY" => {
                return Err("the private key is encrypted; store it unencrypted \
                     (openssl pkcs8 -topk8 -nocrypt) in a secret store instead"
                    .into());
            }
            _ => {}
        }
    }
    Err(format!("no RSA PRIVATE KEY or PRIVATE KEY section found (sections: {})", tags(&sections)))
}

/// Every RSA public key in `pem_text`, each as a PKCS#1 `RSAPublicKey` DER, with its size in bits.
pub(crate) fn public_keys_from_pem(pem_text: &[u8]) -> Result<Vec<(Vec<u8>, usize)>, String> {
    let sections = parse_sections(pem_text)?;
    let mut keys = Vec::new();
    for section in &sections {
        let rsa_public_key = match section.tag() {
            "PUBLIC KEY" => rsa_public_key_from_spki(section.contents())?,
            "RSA PUBLIC KEY" => section.contents().to_vec(),
            _ => continue,
        };
        let bits = rsa_modulus_bits(&rsa_public_key)?;
        keys.push((rsa_public_key, bits));
    }
    if keys.is_empty() {
        return Err(format!("no PUBLIC KEY or RSA PUBLIC KEY section found (sections: {})", tags(&sections)));
    }
    Ok(keys)
}

fn parse_sections(pem_text: &[u8]) -> Result<Vec<pem::Pem>, String> {
    let sections = pem::parse_many(pem_text).map_err(|e| format!("not valid PEM: {e}"))?;
    if sections.is_empty() {
        return Err("no PEM section found (expected -----BEGIN …-----)".into());
    }
    Ok(sections)
}

fn tags(sections: &[pem::Pem]) -> String {
    sections.iter().map(pem::Pem::tag).collect::<Vec<_>>().join(", ")
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OBJECT_IDENTIFIER: u8 = 0x06;
/// 1.2.840.113549.1.1.1, rsaEncryption.
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`;
/// for RSA the bit string holds the PKCS#1 `RSAPublicKey`.
fn rsa_public_key_from_spki(spki: &[u8]) -> Result<Vec<u8>, String> {
    let malformed = || "malformed SubjectPublicKeyInfo".to_owned();
    let (info, rest) = expect_element(spki, SEQUENCE).ok_or_else(malformed)?;
    if !rest.is_empty() {
        return Err(malformed());
    }
    let (algorithm, info) = expect_element(info, SEQUENCE).ok_or_else(malformed)?;
    let (oid, _parameters) = expect_element(algorithm, OBJECT_IDENTIFIER).ok_or_else(malformed)?;
    if oid != RSA_ENCRYPTION_OID {
        return Err("the public key is not an RSA key".into());
    }
    let (bits, rest) = expect_element(info, BIT_STRING).ok_or_else(malformed)?;
    match bits.split_first() {
        Some((0, key)) if rest.is_empty() => Ok(key.to_vec()),
        _ => Err(malformed()),
    }
}

/// The size of the modulus of a PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Result<usize, String> {
    let malformed = || "malformed RSA public key".to_owned();
    let (key, _) = expect_element(rsa_public_key, SEQUENCE).ok_or_else(malformed)?;
    let (modulus, _) = expect_element(key, INTEGER).ok_or_else(malformed)?;
    let significant: &[u8] = match modulus.iter().position(|byte| *byte != 0) {
        Some(first) => &modulus[first..],
        None => return Err(malformed()),
    };
    let leading_zero_bits = significant[0].leading_zeros() as usize;
    Ok(significant.len() * 8 - leading_zero_bits)
}

/// One DER element of type `tag` at the start of `input`: its contents and what follows it.
fn expect_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count].iter().fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return None;
    }
    Some(rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPKI_PEM: &[u8] = include_bytes!("../tests/keys/merchant_rsa_public.pem");
    const PKCS1_PUBLIC_PEM: &[u8] = include_bytes!("../tests/keys/merchant_rsa_public_pkcs1.pem");

    #[test]
    fn spki_and_pkcs1_forms_of_one_public_key_yield_the_same_rsa_key() {
        let from_spki = public_keys_from_pem(SPKI_PEM).expect("spki");
        let from_pkcs1 = public_keys_from_pem(PKCS1_PUBLIC_PEM).expect("pkcs1");
        assert_eq!(from_spki, from_pkcs1);
        assert_eq!(from_spki[0].1, 2048);
    }

    #[test]
    fn every_public_key_of_a_bundle_is_read() {
        let mut bundle = SPKI_PEM.to_vec();
        bundle.extend_from_slice(b"\n");
        bundle.extend_from_slice(PKCS1_PUBLIC_PEM);
        assert_eq!(public_keys_from_pem(&bundle).expect("bundle").len(), 2);
    }

    #[test]
    fn pem_without_a_public_key_names_the_sections_it_found() {
        let private = include_bytes!("../tests/keys/merchant_rsa_private_pkcs8.pem");
        let error = public_keys_from_pem(private).expect_err("no public key");
        assert!(error.contains("PRIVATE KEY"), "{error}");
        assert!(public_keys_from_pem(b"not pem at all").is_err());
    }

    #[test]
    fn truncated_der_is_refused_not_panicked_on() {
        let (der, _) = &public_keys_from_pem(PKCS1_PUBLIC_PEM).expect("key")[0];
        for cut in [0, 1, 2, 5, der.len() / 2, der.len() - 1] {
            assert!(rsa_modulus_bits(&der[..cut]).is_err(), "cut at {cut}");
        }
        assert!(rsa_public_key_from_spki(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn encrypted_private_keys_are_refused_with_a_hint() {
        let pem = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let error = private_key_from_pem(pem).err().expect("refused");
        assert!(error.contains("encrypted"), "{error}");
    }
}
