//! Telling evidence formats apart: by size for the fixed-size reports, by header for quotes.

use serde::Serialize;

use super::ReportError;
use super::snp_cert_table::CertTable;
use super::snp_report::{SNP_REPORT_LEN, SnpReport};
use super::tdreport::{TDREPORT_LEN, TdReport};
use super::tdx_quote::TdxQuote;

/// The TD fields a quote body and a TDREPORT's TDINFO share, at their different offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdFields<'a> {
    /// TD_ATTRIBUTES (bit 0: DEBUG).
    pub attributes: u64,
    pub xfam: u64,
    pub rtmr: &'a [[u8; 48]; 4],
    pub mr_config_id: &'a [u8; 48],
}

impl TdFields<'_> {
    pub fn debug(&self) -> bool {
        self.attributes & 1 != 0
    }
}

/// Attestation evidence of any supported kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    SnpReport(SnpReport),
    TdxQuote(TdxQuote),
    TdReport(TdReport),
}

impl Evidence {
    /// Recognises and parses `bytes`. Once a format is recognised its parser's error is returned,
    /// so a damaged report says what is wrong with it rather than "unrecognised".
    pub fn detect(bytes: &[u8]) -> Result<Evidence, ReportError> {
        EvidenceFile::parse(bytes).map(|f| f.evidence)
    }

    fn detect_exact(bytes: &[u8]) -> Result<Evidence, ReportError> {
        // An SNP report has a u32 VERSION, so bytes 2..4 are zero where a quote has ATT_KEY_TYPE;
        // that keeps a v4/v5 report whose GUEST_SVN happens to be 0x81 from passing as a quote.
        let snp_shaped = bytes.len() == SNP_REPORT_LEN && bytes.get(2..4) == Some(&[0, 0]);
        if TdxQuote::header_matches(bytes) && !snp_shaped {
            return Ok(Evidence::TdxQuote(TdxQuote::parse(bytes)?));
        }
        match bytes.len() {
            SNP_REPORT_LEN => Ok(Evidence::SnpReport(SnpReport::parse(bytes)?)),
            TDREPORT_LEN => Ok(Evidence::TdReport(TdReport::parse(bytes)?)),
            len => Err(ReportError::Unrecognised { len }),
        }
    }

    /// A short name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Evidence::SnpReport(_) => "SNP attestation report",
            Evidence::TdxQuote(_) => "TDX quote",
            Evidence::TdReport(_) => "TDREPORT",
        }
    }

    /// The 64 bytes of guest-chosen data the evidence binds (REPORT_DATA / REPORTDATA).
    pub fn report_data(&self) -> &[u8; 64] {
        match self {
            Evidence::SnpReport(r) => &r.report_data,
            Evidence::TdxQuote(q) => &q.body.report_data,
            Evidence::TdReport(r) => &r.report_data,
        }
    }

    /// The TD's attributes and runtime registers, whichever TDX format carries them.
    pub fn td_fields(&self) -> Option<TdFields<'_>> {
        match self {
            Evidence::SnpReport(_) => None,
            Evidence::TdxQuote(q) => Some(TdFields {
                attributes: q.body.td_attributes,
                xfam: q.body.xfam,
                rtmr: &q.body.rtmr,
                mr_config_id: &q.body.mr_config_id,
            }),
            Evidence::TdReport(r) => Some(TdFields {
                attributes: r.td_info.attributes,
                xfam: r.td_info.xfam,
                rtmr: &r.td_info.rtmr,
                mr_config_id: &r.td_info.mr_config_id,
            }),
        }
    }

    /// The launch measurement: SNP MEASUREMENT or TDX MRTD.
    pub fn launch_measurement(&self) -> &[u8; 48] {
        match self {
            Evidence::SnpReport(r) => &r.measurement,
            Evidence::TdxQuote(q) => &q.body.mr_td,
            Evidence::TdReport(r) => &r.td_info.mr_td,
        }
    }
}

/// What an evidence file holds: the evidence and, for an SNP report followed by the certificate
/// table SNP_GET_EXT_REPORT returns (configfs-tsm's `outblob` then `auxblob`), that table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    pub evidence: Evidence,
    pub cert_table: Option<CertTable>,
}

impl EvidenceFile {
    pub fn parse(bytes: &[u8]) -> Result<EvidenceFile, ReportError> {
        if let Some((report, table)) = bytes.split_at_checked(SNP_REPORT_LEN)
            && !table.is_empty()
            && !TdxQuote::header_matches(bytes)
            && CertTable::looks_like(table)
        {
            let evidence = Evidence::SnpReport(SnpReport::parse(report)?);
            return Ok(EvidenceFile { evidence, cert_table: Some(CertTable::parse(table)?) });
        }
        Ok(EvidenceFile { evidence: Evidence::detect_exact(bytes)?, cert_table: None })
    }
}
