//! `--sign KEY`: a CoRIM wrapped in COSE_Sign1 (`#6.18`), ES384, as draft-ietf-rats-corim's
//! signed-corim: protected header with `alg`, `content-type: application/rim+cbor` and CWT claims
//! (an issuer), the tagged CoRIM as payload. COSE through `coset`, ECDSA through `p384`.

use coset::cbor::value::Value;
use coset::{CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use p384::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use p384::pkcs8::DecodePublicKey;

use super::corim_defs::CONTENT_TYPE;
use crate::idblock::IdKey;
use crate::idblock::pem::{self, Found};

/// COSE header label of the CWT claims set (RFC 9597).
const CWT_CLAIMS: i64 = 15;
/// CWT claim `iss`.
const CWT_ISS: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoseError {
    #[error("not a COSE_Sign1 message: {0}")]
    Parse(String),
    #[error("COSE encoding failed: {0}")]
    Encode(String),
    #[error("protected header algorithm {0}; expected ES384 (-35)")]
    Algorithm(String),
    #[error("content type {0:?}; expected \"application/rim+cbor\"")]
    ContentType(String),
    #[error("the COSE_Sign1 has no payload (a detached signature)")]
    Detached,
    #[error("the signature does not verify with the given key")]
    BadSignature,
    #[error("verification key: {0}")]
    Key(String),
}

/// Signs a tagged CoRIM with `key`, naming `issuer` in the CWT claims.
pub fn sign(corim: &[u8], key: &IdKey, issuer: &str) -> Result<Vec<u8>, CoseError> {
    let claims = Value::Map(vec![(Value::Integer(CWT_ISS.into()), Value::Text(issuer.to_owned()))]);
    let protected =
        HeaderBuilder::new().algorithm(iana::Algorithm::ES384).content_type(CONTENT_TYPE.to_owned()).value(CWT_CLAIMS, claims).build();
    let msg = CoseSign1Builder::new()
        .protected(protected)
        .payload(corim.to_vec())
        .create_signature(&[], |tbs| key.sign_raw(tbs).to_vec())
        .build();
    msg.to_tagged_vec().map_err(|e| CoseError::Encode(e.to_string()))
}

/// Whether `bytes` start like a COSE_Sign1 (tag 18 or an untagged 4-element array).
pub fn looks_signed(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0xd2) || bytes.first() == Some(&0x84)
}

/// Parses a COSE_Sign1 (tagged or not) without checking anything.
fn parse(bytes: &[u8]) -> Result<CoseSign1, CoseError> {
    CoseSign1::from_tagged_slice(bytes).or_else(|_| CoseSign1::from_slice(bytes)).map_err(|e| CoseError::Parse(e.to_string()))
}

/// Checks the ES384 signature with `key` and returns the payload (the tagged CoRIM).
pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<Vec<u8>, CoseError> {
    let msg = parse(bytes)?;
    let alg = &msg.protected.header.alg;
    if *alg != Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384)) {
        return Err(CoseError::Algorithm(format!("{alg:?}")));
    }
    match &msg.protected.header.content_type {
        Some(coset::ContentType::Text(t)) if t == CONTENT_TYPE => {}
        None => {}
        Some(other) => return Err(CoseError::ContentType(format!("{other:?}"))),
    }
    msg.verify_signature(&[], |sig, tbs| {
        let sig = Signature::from_slice(sig).map_err(|_| CoseError::BadSignature)?;
        key.verify(tbs, &sig).map_err(|_| CoseError::BadSignature)
    })?;
    msg.payload.ok_or(CoseError::Detached)
}

/// The payload of a COSE_Sign1 whose signature is NOT checked (for `--check`, which recomputes the
/// values and says that it did not check the signature).
pub fn payload_unverified(bytes: &[u8]) -> Result<Vec<u8>, CoseError> {
    parse(bytes)?.payload.ok_or(CoseError::Detached)
}

/// A P-384 verification key from PEM or DER: a public key (SPKI), an X.509 certificate, or a
/// private key (its public half).
pub fn verifying_key(bytes: &[u8]) -> Result<VerifyingKey, CoseError> {
    let key_err = |e: &dyn std::fmt::Display| CoseError::Key(e.to_string());
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        if let Ok(k) = VerifyingKey::from_public_key_der(bytes) {
            return Ok(k);
        }
        return from_cert_der(bytes);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| CoseError::Key("PEM that is not UTF-8 text".into()))?;
    for found in pem::blocks(text) {
        match found {
            Found::Block(b) if b.label == "PUBLIC KEY" => return VerifyingKey::from_public_key_pem(b.text).map_err(|e| key_err(&e)),
            Found::Block(b) if b.label == "CERTIFICATE" => {
                use x509_cert::der::DecodePem;
                let c = x509_cert::Certificate::from_pem(b.text).map_err(|e| key_err(&e))?;
                return from_cert(&c);
            }
            Found::Block(b) if b.label == "EC PRIVATE KEY" || b.label == "PRIVATE KEY" => {
                return IdKey::from_pem(text).map(|k| *k.verifying_key()).map_err(|e| key_err(&e));
            }
            Found::Block(_) => {}
            Found::Unterminated { offset, .. } => {
                return Err(CoseError::Key(format!("PEM BEGIN line at offset {offset:#x} has no END line")));
            }
        }
    }
    Err(CoseError::Key("no PUBLIC KEY, CERTIFICATE or private key PEM block".into()))
}

fn from_cert_der(der: &[u8]) -> Result<VerifyingKey, CoseError> {
    use x509_cert::der::Decode;
    let c =
        x509_cert::Certificate::from_der(der).map_err(|e| CoseError::Key(format!("neither a DER public key nor a certificate: {e}")))?;
    from_cert(&c)
}

fn from_cert(c: &x509_cert::Certificate) -> Result<VerifyingKey, CoseError> {
    use x509_cert::der::Encode;
    let spki = c.tbs_certificate.subject_public_key_info.to_der().map_err(|e| CoseError::Key(e.to_string()))?;
    VerifyingKey::from_public_key_der(&spki).map_err(|e| CoseError::Key(format!("the certificate's key is not P-384: {e}")))
}
