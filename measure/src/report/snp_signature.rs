//! Offline check of an SNP report's signature with its VCEK (or VLEK) certificate.
//!
//! Only the report-to-certificate link is checked here: that the certificate chains to AMD's ARK
//! (RSA-PSS via the ASK) is the caller's concern, since it needs AMD's roots and the product line.

use der::{Decode, DecodePem, Encode};
use p384::ecdsa::VerifyingKey;
use p384::ecdsa::signature::Verifier;
use p384::pkcs8::DecodePublicKey;
use x509_cert::Certificate;
use x509_cert::der;

use super::snp_report::{SNP_SIGNATURE_OFFSET, SNP_SIGNED_LEN, SnpReport, SnpReportError, offset};
use crate::idblock::AmdSignatureError;
use crate::idblock::oid;
use crate::idblock::pem::{self, Found};

/// SIGNATURE_ALGO for ECDSA P-384 with SHA-384, the only one defined.
pub const SNP_SIGNATURE_ALGO_P384: u32 = 1;

/// Why a report's signature does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnpSignatureError {
    #[error(transparent)]
    Report(#[from] SnpReportError),
    #[error("SNP report: SIGNATURE_ALGO at offset {off:#x} is {0}, expected 1 (ECDSA P-384 with SHA-384)", off = offset::SIGNATURE_ALGO)]
    Algorithm(u32),
    #[error("SNP report: SIGNATURE at offset {SNP_SIGNATURE_OFFSET:#x}: {0}")]
    Format(AmdSignatureError),
    #[error("VCEK certificate ({encoding}): {reason}")]
    Certificate { encoding: &'static str, reason: String },
    #[error("VCEK certificate: the subject public key is {0}; a VCEK or VLEK key is id-ecPublicKey on secp384r1 (P-384)")]
    PublicKey(String),
    #[error(
        "SNP report: SIGNATURE at offset {SNP_SIGNATURE_OFFSET:#x} does not verify over bytes 0..{SNP_SIGNED_LEN:#x} with the certificate's key (wrong VCEK, or a modified report)"
    )]
    Mismatch,
}

/// The public key of a VCEK or VLEK certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcek {
    key: VerifyingKey,
}

impl Vcek {
    /// Reads an X.509 certificate, PEM (as snpguest writes `vcek.pem`) or DER (as AMD's KDS serves
    /// it), and takes its P-384 public key. PEM text may hold other text and several certificates
    /// (a VCEK with its RSA ASK/ARK chain): the one P-384 certificate among them is used.
    pub fn from_pem_or_der(cert: &[u8]) -> Result<Vcek, SnpSignatureError> {
        // DER never holds this ASCII run in practice; anything else is read as text.
        if !cert.windows(11).any(|w| w == b"-----BEGIN ") {
            return Vcek::from_der(cert);
        }
        let text = std::str::from_utf8(cert).map_err(|_| cert_error("PEM", "not UTF-8 text"))?;
        let mut keys = Vec::new();
        let mut first_error = None;
        for found in pem::blocks(text) {
            match found {
                Found::Block(b) if b.label == "CERTIFICATE" => {
                    match Certificate::from_pem(b.text).map_err(|e| cert_error("PEM", e)).and_then(|c| Vcek::from_certificate(&c)) {
                        Ok(v) => keys.push(v),
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Found::Block(_) => {}
                Found::Unterminated { offset, .. } => {
                    return Err(cert_error("PEM", format!("BEGIN line at offset {offset:#x} has no matching END line")));
                }
            }
        }
        match (keys.len(), first_error) {
            (1, _) => Ok(keys.swap_remove(0)),
            (0, Some(e)) => Err(e),
            (0, None) => Err(cert_error("PEM", "no \"-----BEGIN CERTIFICATE-----\" block")),
            (n, _) => Err(cert_error("PEM", format!("{n} P-384 certificates; pass the VCEK alone"))),
        }
    }

    fn from_der(der: &[u8]) -> Result<Vcek, SnpSignatureError> {
        Vcek::from_certificate(&Certificate::from_der(der).map_err(|e| cert_error("DER", e))?)
    }

    pub(crate) fn from_certificate(cert: &Certificate) -> Result<Vcek, SnpSignatureError> {
        let info = &cert.tbs_certificate.subject_public_key_info;
        if !oid::spki_is_ec_on(info, oid::SECP384R1) {
            return Err(SnpSignatureError::PublicKey(oid::describe_spki(info)));
        }
        let spki = info.to_der().map_err(|e| SnpSignatureError::PublicKey(e.to_string()))?;
        let key = VerifyingKey::from_public_key_der(&spki).map_err(|e| SnpSignatureError::PublicKey(e.to_string()))?;
        Ok(Vcek { key })
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Parses `report` and checks its signature over bytes 0..0x2A0 with this key.
    pub fn verify(&self, report: &[u8]) -> Result<SnpReport, SnpSignatureError> {
        let parsed = SnpReport::parse(report)?;
        if parsed.signature_algo != SNP_SIGNATURE_ALGO_P384 {
            return Err(SnpSignatureError::Algorithm(parsed.signature_algo));
        }
        let sig = parsed.signature.to_p384().map_err(SnpSignatureError::Format)?;
        let signed = report.get(..SNP_SIGNED_LEN).ok_or(SnpReportError::Length { len: report.len() })?;
        self.key.verify(signed, &sig).map_err(|_| SnpSignatureError::Mismatch)?;
        Ok(parsed)
    }
}

fn cert_error(encoding: &'static str, e: impl std::fmt::Display) -> SnpSignatureError {
    SnpSignatureError::Certificate { encoding, reason: e.to_string() }
}

/// Checks `report`'s signature with the VCEK certificate `vcek_pem_or_der`; returns the parsed report.
pub fn verify_snp_signature(report: &[u8], vcek_pem_or_der: &[u8]) -> Result<SnpReport, SnpSignatureError> {
    Vcek::from_pem_or_der(vcek_pem_or_der)?.verify(report)
}
