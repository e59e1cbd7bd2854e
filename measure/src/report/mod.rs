//! Attestation evidence: parsing SEV-SNP reports, TDX quotes (v4, v5) and TDREPORTs, and checking
//! an SNP report's signature offline with its VCEK certificate.
//!
//! - [`Evidence::detect`]: which format a file is, parsed.
//! - [`SnpReport`], [`verify_snp_signature`] / [`Vcek`]: SNP reports (versions 2 to 5).
//! - [`TdxQuote`], [`TdReport`]: TDX measurements (MRTD, RTMRs, attributes, XFAM, ...).
//!
//! Parsers read every field through bounds-checked reads: malformed input is an error naming the
//! field, its offset and what was expected, never a panic.

pub mod evidence;
pub(crate) mod read;
pub mod sgx_report;
pub mod snp_cert_table;
pub mod snp_report;
pub mod snp_signature;
pub mod td_body;
pub mod tdreport;
pub mod tdx_quote;
pub mod tdx_signature;

/// The guest policy decoder is the one the launch plan checks policies with.
pub use crate::snp::policy::SnpPolicy;
pub use evidence::{Evidence, EvidenceFile, TdFields};
pub use read::Truncated;
pub use sgx_report::SgxReport;
pub use snp_cert_table::{CertTable, CertTableEntry, CertTableError};
pub use snp_report::{FirmwareVersion, SNP_REPORT_LEN, SigningKey, SnpCpuid, SnpReport, SnpReportError, SnpTcb, TcbLayout, TcbParts};
pub use snp_signature::{SnpSignatureError, Vcek, verify_snp_signature};
pub use td_body::{TdBodyEx, TdBodyKind, TdQuoteBody};
pub use tdreport::{ReportType, TDREPORT_LEN, TdInfo, TdReport, TdReportError, TeeTcbInfo};
pub use tdx_quote::{TdxQuote, TdxQuoteError, TrailingBytes};
pub use tdx_signature::{CertificationData, QeReportCertData, QuoteSignature, TdxSignatureError};

/// Any error from this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Snp(#[from] SnpReportError),
    #[error(transparent)]
    SnpSignature(#[from] SnpSignatureError),
    #[error(transparent)]
    TdxQuote(#[from] TdxQuoteError),
    #[error(transparent)]
    TdReport(#[from] TdReportError),
    #[error(transparent)]
    CertTable(#[from] CertTableError),
    #[error(
        "{len} bytes: not an SNP report ({SNP_REPORT_LEN}), TDREPORT ({TDREPORT_LEN}) or TDX quote (header version 4/5, TEE type 0x81)"
    )]
    Unrecognised { len: usize },
}
