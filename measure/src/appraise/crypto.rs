//! The signature primitives appraisal needs, on AWS-LC (`aws-lc-rs`).
//!
//! Why not the RustCrypto crates the project uses elsewhere: a report check is one P-384 ECDSA
//! verification plus two RSA-4096 PSS verifications, and at the p384 crate's ~1.5 ms and the rsa
//! crate's ~1.4 ms per operation here a single verify cannot stay under 2 ms nor a batch above
//! 1,000 reports per second per core; AWS-LC takes ~0.3 ms and ~0.1 ms.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

/// The signature schemes attestation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// ECDSA P-256 with SHA-256, signature DER-encoded (X.509 certificates and CRLs).
    EcdsaP256Sha256Der,
    /// ECDSA P-256 with SHA-256, signature r || s big-endian (quotes, QE reports, collateral).
    EcdsaP256Sha256Fixed,
    /// ECDSA P-384 with SHA-384, signature DER-encoded.
    EcdsaP384Sha384Der,
    /// ECDSA P-384 with SHA-384, signature r || s big-endian (SNP reports, after byte reversal).
    EcdsaP384Sha384Fixed,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-byte salt (AMD's ARK, ASK and ASVK).
    RsaPssSha384,
}

impl Scheme {
    fn algorithm(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Scheme::EcdsaP256Sha256Der => &signature::ECDSA_P256_SHA256_ASN1,
            Scheme::EcdsaP256Sha256Fixed => &signature::ECDSA_P256_SHA256_FIXED,
            Scheme::EcdsaP384Sha384Der => &signature::ECDSA_P384_SHA384_ASN1,
            Scheme::EcdsaP384Sha384Fixed => &signature::ECDSA_P384_SHA384_FIXED,
            Scheme::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scheme::EcdsaP256Sha256Der | Scheme::EcdsaP256Sha256Fixed => "ECDSA P-256/SHA-256",
            Scheme::EcdsaP384Sha384Der | Scheme::EcdsaP384Sha384Fixed => "ECDSA P-384/SHA-384",
            Scheme::RsaPssSha384 => "RSASSA-PSS/SHA-384",
        }
    }
}

/// Whether `sig` is a valid `scheme` signature of `msg` by `key`: an EC point (SEC1 uncompressed)
/// or a PKCS#1 RSAPublicKey, as a certificate's subjectPublicKey carries them.
pub fn verify(scheme: Scheme, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(scheme.algorithm(), key).verify(msg, sig).is_ok()
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
