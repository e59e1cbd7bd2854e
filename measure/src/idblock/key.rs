//! P-384 signing keys for ID blocks (the ID key and the author key).
//!
//! Key material stays inside `p384`'s types, which zeroize on drop; nothing here prints, logs or
//! formats it: `Debug` shows the public key digest, and errors name PEM labels, never contents.

use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey};
use p384::elliptic_curve::zeroize::Zeroizing;
use p384::pkcs8::DecodePrivateKey;
use rand_core::{OsRng, RngCore};

use super::oid;
use super::pem::{self, Found, quote_label};
use super::public_key::AmdPublicKey;
use super::signature::AmdSignature;
use crate::hash::Sha384Digest;

/// Why a key could not be loaded or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdKeyError {
    #[error("not UTF-8 text; expected a PEM private key")]
    NotText,
    #[error("no PEM private key block (\"-----BEGIN EC PRIVATE KEY-----\" or \"-----BEGIN PRIVATE KEY-----\"){found}")]
    NoKeyBlock { found: String },
    #[error("\"-----BEGIN {label}-----\" at offset {offset:#x} has no matching END line")]
    Unterminated { label: String, offset: usize },
    #[error("encrypted {format} key at offset {offset:#x}: decrypt it first (openssl pkey -in KEY -out PLAIN)")]
    Encrypted { format: &'static str, offset: usize },
    #[error("\"{label}\" block at offset {offset:#x} holds a {found} key; SEV-SNP ID and author keys are ECDSA P-384 (secp384r1)")]
    WrongKind { label: &'static str, offset: usize, found: String },
    #[error("\"{label}\" block at offset {offset:#x}: not a P-384 private key ({reason}); SEV-SNP ID and author keys are ECDSA P-384")]
    Invalid { label: &'static str, offset: usize, reason: String },
    #[error("the OS random number generator failed: {0}")]
    Random(String),
}

/// An ECDSA P-384 private key that signs ID blocks or ID keys.
#[derive(Clone)]
pub struct IdKey {
    signing: SigningKey,
    public: AmdPublicKey,
}

impl IdKey {
    /// Loads the first private key in PEM text: SEC1 ("EC PRIVATE KEY", as `openssl ecparam -genkey`
    /// writes, parameter blocks before it are skipped) or unencrypted PKCS#8 ("PRIVATE KEY").
    pub fn from_pem(pem: &str) -> Result<IdKey, IdKeyError> {
        let mut labels = Vec::new();
        for found in pem::blocks(pem) {
            let block = match found {
                Found::Block(b) => b,
                Found::Unterminated { label, offset } => return Err(IdKeyError::Unterminated { label: quote_label(label), offset }),
            };
            let (offset, text) = (block.offset, block.text);
            match block.label {
                "EC PRIVATE KEY" => {
                    // OpenSSL's traditional encryption keeps the label and adds RFC 1421 headers.
                    if text.contains("Proc-Type: 4,ENCRYPTED") || text.contains("DEK-Info:") {
                        return Err(IdKeyError::Encrypted { format: "SEC1 (traditional OpenSSL)", offset });
                    }
                    return p384::SecretKey::from_sec1_pem(text)
                        .map(|k| IdKey::from_signing_key(SigningKey::from(k)))
                        .map_err(|e| wrong_kind(text, "EC PRIVATE KEY", offset).unwrap_or_else(|| invalid("EC PRIVATE KEY", offset, e)));
                }
                "PRIVATE KEY" => {
                    return SigningKey::from_pkcs8_pem(text)
                        .map(IdKey::from_signing_key)
                        .map_err(|e| wrong_kind(text, "PRIVATE KEY", offset).unwrap_or_else(|| invalid("PRIVATE KEY", offset, e)));
                }
                "ENCRYPTED PRIVATE KEY" => return Err(IdKeyError::Encrypted { format: "PKCS#8", offset }),
                other => labels.push(format!("\"{}\"", quote_label(other))),
            }
        }
        let found = if labels.is_empty() { String::new() } else { format!("; found only {}", labels.join(", ")) };
        Err(IdKeyError::NoKeyBlock { found })
    }

    /// [`IdKey::from_pem`] for bytes read from a file.
    pub fn from_pem_bytes(pem: &[u8]) -> Result<IdKey, IdKeyError> {
        std::str::from_utf8(pem).map_err(|_| IdKeyError::NotText).and_then(IdKey::from_pem)
    }

    /// A fresh random key from the OS generator, for launches that sign their own ID block.
    pub fn ephemeral() -> Result<IdKey, IdKeyError> {
        // `SecretKey::random` panics if the OS generator fails; drawing the bytes ourselves turns
        // that into an error. Out-of-range draws (probability ~2^-190) are simply redrawn.
        loop {
            let mut seed = Zeroizing::new([0u8; 48]);
            OsRng.try_fill_bytes(seed.as_mut()).map_err(|e| IdKeyError::Random(e.to_string()))?;
            if let Ok(k) = SigningKey::from_slice(seed.as_ref()) {
                return Ok(IdKey::from_signing_key(k));
            }
        }
    }

    fn from_signing_key(signing: SigningKey) -> IdKey {
        let public = AmdPublicKey::from_verifying_key(signing.verifying_key());
        IdKey { signing, public }
    }

    pub fn public_key(&self) -> &AmdPublicKey {
        &self.public
    }

    /// SHA-384 of the AMD-format public key: the report's ID_KEY_DIGEST or AUTHOR_KEY_DIGEST.
    pub fn digest(&self) -> Sha384Digest {
        self.public.digest()
    }

    /// ECDSA P-384 over SHA-384 of `msg` (RFC 6979 nonces: no RNG needed to sign).
    pub fn sign(&self, msg: &[u8]) -> AmdSignature {
        let sig: Signature = self.signing.sign(msg);
        AmdSignature::from_p384(&sig)
    }

    /// ECDSA P-384 over SHA-384 of `msg` as `r || s`, 48 big-endian bytes each (COSE ES384, JOSE).
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 96] {
        let sig: Signature = self.signing.sign(msg);
        let mut out = [0u8; 96];
        out.copy_from_slice(&sig.to_bytes());
        out
    }

    /// The P-384 verifying key.
    pub fn verifying_key(&self) -> &p384::ecdsa::VerifyingKey {
        self.signing.verifying_key()
    }
}

impl std::fmt::Debug for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdKey").field("public_key_digest", &hex::encode(self.digest())).finish_non_exhaustive()
    }
}

/// What a well-formed key of the wrong algorithm or curve holds, read from its own encoding: the
/// decoders only say which OID they wanted.
fn wrong_kind(text: &str, label: &'static str, offset: usize) -> Option<IdKeyError> {
    use p384::pkcs8::der::{Decode, asn1::ObjectIdentifier};
    let (_, der) = p384::pkcs8::der::pem::decode_vec(text.as_bytes()).ok()?;
    let found = if label == "EC PRIVATE KEY" {
        let curve = sec1::EcPrivateKey::from_der(&der).ok()?.parameters?.named_curve()?;
        format!("EC {}", oid::describe(&curve))
    } else {
        let info = p384::pkcs8::PrivateKeyInfo::from_der(&der).ok()?;
        let curve = info.algorithm.parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        match curve {
            Some(c) if info.algorithm.oid.to_string() == oid::EC_PUBLIC_KEY => format!("EC {}", oid::describe(&c)),
            _ => oid::describe(&info.algorithm.oid),
        }
    };
    (!found.contains(oid::SECP384R1)).then_some(IdKeyError::WrongKind { label, offset, found })
}

fn invalid(label: &'static str, offset: usize, e: impl std::fmt::Display) -> IdKeyError {
    IdKeyError::Invalid { label, offset, reason: e.to_string() }
}
