//! The signature data of a TDX quote (Intel TDX DCAP Quoting Library API, "Quote Signature Data" and
//! "Certification Data"): the attestation key's ECDSA P-256 signature over header and body, the
//! attestation key, and certification data of type 6 (the QE report, its signature by the PCK, the
//! QE authentication data and nested certification data, normally type 5: the PEM PCK chain).
//!
//! Kept apart from [`super::TdxQuote::parse`] so that a quote whose signature data is damaged still
//! parses for its measurements: the damage then fails authenticity, naming the field.

use serde::Serialize;

use super::read::{Fields, Truncated, hex_serde};
use super::sgx_report::{SGX_REPORT_LEN, SgxReport};

/// Certification data type 5: the PCK leaf, PCK CA and root CA certificates, PEM, concatenated.
pub const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data type 6: the QE report certification data.
pub const CERT_TYPE_QE_REPORT: u16 = 6;
/// Largest nesting followed; type 6 nests once in every quote Intel's QE produces.
const MAX_NESTING: usize = 2;

/// Why the signature data is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TdxSignatureError {
    #[error("TDX quote signature data: certification data type is {found}, expected 6 (QE report certification data)")]
    OuterType { found: u16 },
    #[error("TDX quote signature data: {what} certification data SIZE at offset {offset:#x} is {size}, but only {available} bytes follow")]
    Size { what: &'static str, offset: usize, size: u32, available: usize },
    #[error("TDX quote signature data: QE certification data nests deeper than {MAX_NESTING} levels")]
    Nesting,
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// Certification data: a type and its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificationData {
    pub cert_type: u16,
    #[serde(serialize_with = "hex_serde::vec")]
    pub data: Vec<u8>,
}

/// The QE report certification data (type 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QeReportCertData {
    /// The raw 384-byte report the PCK signs.
    #[serde(serialize_with = "hex_serde::vec")]
    pub qe_report_raw: Vec<u8>,
    pub qe_report: SgxReport,
    /// ECDSA P-256 r || s, big-endian.
    #[serde(serialize_with = "hex_serde::bytes")]
    pub qe_report_signature: [u8; 64],
    #[serde(serialize_with = "hex_serde::vec")]
    pub qe_auth_data: Vec<u8>,
    pub certification: CertificationData,
}

/// A quote's signature data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteSignature {
    /// ECDSA P-256 r || s over the header and body, big-endian.
    #[serde(serialize_with = "hex_serde::bytes")]
    pub signature: [u8; 64],
    /// The attestation public key: x || y, big-endian.
    #[serde(serialize_with = "hex_serde::bytes")]
    pub attestation_key: [u8; 64],
    pub qe: QeReportCertData,
}

impl QuoteSignature {
    /// Parses signature data; `base` is its offset in the quote, so that errors name quote offsets.
    pub fn parse(sig: &[u8], base: usize) -> Result<QuoteSignature, TdxSignatureError> {
        let f = Fields::new("TDX quote signature data", sig);
        let signature = f.array("QUOTE_SIGNATURE", 0)?;
        let attestation_key = f.array("ATTESTATION_KEY", 64)?;
        let outer = read_cert_data(&f, 128, base, "outer")?;
        if outer.cert_type != CERT_TYPE_QE_REPORT {
            return Err(TdxSignatureError::OuterType { found: outer.cert_type });
        }
        let qe = QeReportCertData::parse(&outer.data, base + 134, 1)?;
        Ok(QuoteSignature { signature, attestation_key, qe })
    }

    /// The PCK chain (PEM) when the innermost certification data is type 5.
    pub fn pck_chain_pem(&self) -> Option<&[u8]> {
        (self.qe.certification.cert_type == CERT_TYPE_PCK_CHAIN).then_some(self.qe.certification.data.as_slice())
    }
}

impl QeReportCertData {
    fn parse(b: &[u8], base: usize, depth: usize) -> Result<QeReportCertData, TdxSignatureError> {
        if depth > MAX_NESTING {
            return Err(TdxSignatureError::Nesting);
        }
        let f = Fields::new("QE report certification data", b);
        let qe_report_raw = f.slice("QE_REPORT", 0, SGX_REPORT_LEN)?.to_vec();
        let qe_report = SgxReport::parse(&qe_report_raw)?;
        let qe_report_signature = f.array("QE_REPORT_SIGNATURE", SGX_REPORT_LEN)?;
        let auth_at = SGX_REPORT_LEN + 64;
        let auth_len = usize::from(f.u16("QE_AUTH_DATA_SIZE", auth_at)?);
        let qe_auth_data = f.slice("QE_AUTH_DATA", auth_at + 2, auth_len)?.to_vec();
        let certification = read_cert_data(&f, auth_at + 2 + auth_len, base, "QE")?;
        Ok(QeReportCertData { qe_report_raw, qe_report, qe_report_signature, qe_auth_data, certification })
    }
}

fn read_cert_data(f: &Fields<'_>, at: usize, base: usize, what: &'static str) -> Result<CertificationData, TdxSignatureError> {
    let cert_type = f.u16("CERTIFICATION_DATA_TYPE", at)?;
    let size = f.u32("CERTIFICATION_DATA_SIZE", at + 2)?;
    let available = f.bytes.len().saturating_sub(at + 6);
    let data = usize::try_from(size).ok().and_then(|n| f.bytes.get(at + 6..(at + 6).checked_add(n)?)).ok_or(TdxSignatureError::Size {
        what,
        offset: base + at + 2,
        size,
        available,
    })?;
    Ok(CertificationData { cert_type, data: data.to_vec() })
}
