//! The raw TDREPORT_STRUCT (TDX module ABI; Linux `TDX_CMD_GET_REPORT0`): 1024 bytes of
//! REPORTMACSTRUCT (256), TEE_TCB_INFO (239) and reserved (17), then TDINFO_STRUCT (512).
//! Its MAC is only checkable on the same platform, so it is kept, not verified.

use serde::Serialize;

use super::read::{Fields, Truncated, hex_serde};

/// Size of a TDREPORT.
pub const TDREPORT_LEN: usize = 1024;
/// REPORTTYPE.TYPE of a TDX report.
pub const REPORT_TYPE_TDX: u8 = 0x81;
const TEE_TCB_INFO: usize = 256;
const TDINFO: usize = 512;

/// Why bytes are not a TDREPORT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TdReportError {
    #[error("TDREPORT: {len} bytes, expected exactly {TDREPORT_LEN}")]
    Length { len: usize },
    #[error("TDREPORT: REPORTTYPE.TYPE at offset 0x0 is {0:#x}, expected 0x81 (TDX){hint}", hint = if *.0 == 0 { "; 0x0 is an SGX report" } else { "" })]
    Type(u8),
    #[error("TDREPORT: REPORTTYPE.SUBTYPE at offset 0x1 is {0}, expected 0")]
    Subtype(u8),
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// REPORTTYPE: VERSION 0 leaves SERVTD_HASH out of TDINFO (TDX 1.0), 1 includes it (TDX 1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReportType {
    pub tee_type: u8,
    pub subtype: u8,
    pub version: u8,
}

/// TEE_TCB_INFO: the TDX module's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeeTcbInfo {
    #[serde(serialize_with = "hex_serde::bytes")]
    pub valid: [u8; 8],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub tee_tcb_svn: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_seam: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_signer_seam: [u8; 48],
    pub attributes: u64,
    /// TDX 1.5; zero before.
    #[serde(serialize_with = "hex_serde::bytes")]
    pub tee_tcb_svn2: [u8; 16],
}

/// TDINFO_STRUCT: the TD's measurements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdInfo {
    pub attributes: u64,
    pub xfam: u64,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_td: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_config_id: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_owner: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_owner_config: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes_list")]
    pub rtmr: [[u8; 48]; 4],
    /// Present when REPORTTYPE.VERSION >= 1.
    #[serde(serialize_with = "hex_serde::opt_bytes")]
    pub servtd_hash: Option<[u8; 48]>,
}

/// A parsed TDREPORT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdReport {
    pub report_type: ReportType,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub cpu_svn: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub tee_tcb_info_hash: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub tee_info_hash: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub report_data: [u8; 64],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mac: [u8; 32],
    pub tee_tcb_info: TeeTcbInfo,
    pub td_info: TdInfo,
}

impl TdReport {
    pub fn parse(bytes: &[u8]) -> Result<TdReport, TdReportError> {
        if bytes.len() != TDREPORT_LEN {
            return Err(TdReportError::Length { len: bytes.len() });
        }
        let f = Fields::new("TDREPORT", bytes);
        let report_type = ReportType {
            tee_type: f.u8("REPORTTYPE.TYPE", 0)?,
            subtype: f.u8("REPORTTYPE.SUBTYPE", 1)?,
            version: f.u8("REPORTTYPE.VERSION", 2)?,
        };
        if report_type.tee_type != REPORT_TYPE_TDX {
            return Err(TdReportError::Type(report_type.tee_type));
        }
        if report_type.subtype != 0 {
            return Err(TdReportError::Subtype(report_type.subtype));
        }
        let t = |off: usize| TEE_TCB_INFO + off;
        let d = |off: usize| TDINFO + off;
        let tee_tcb_info = TeeTcbInfo {
            valid: f.array("TEE_TCB_INFO.VALID", t(0))?,
            tee_tcb_svn: f.array("TEE_TCB_INFO.TEE_TCB_SVN", t(8))?,
            mr_seam: f.array("TEE_TCB_INFO.MRSEAM", t(24))?,
            mr_signer_seam: f.array("TEE_TCB_INFO.MRSIGNERSEAM", t(72))?,
            attributes: f.u64("TEE_TCB_INFO.ATTRIBUTES", t(120))?,
            tee_tcb_svn2: f.array("TEE_TCB_INFO.TEE_TCB_SVN2", t(128))?,
        };
        let servtd_hash = match report_type.version {
            0 => None,
            _ => Some(f.array("TDINFO.SERVTD_HASH", d(400))?),
        };
        let td_info = TdInfo {
            attributes: f.u64("TDINFO.ATTRIBUTES", d(0))?,
            xfam: f.u64("TDINFO.XFAM", d(8))?,
            mr_td: f.array("TDINFO.MRTD", d(16))?,
            mr_config_id: f.array("TDINFO.MRCONFIGID", d(64))?,
            mr_owner: f.array("TDINFO.MROWNER", d(112))?,
            mr_owner_config: f.array("TDINFO.MROWNERCONFIG", d(160))?,
            rtmr: [
                f.array("TDINFO.RTMR0", d(208))?,
                f.array("TDINFO.RTMR1", d(256))?,
                f.array("TDINFO.RTMR2", d(304))?,
                f.array("TDINFO.RTMR3", d(352))?,
            ],
            servtd_hash,
        };
        Ok(TdReport {
            report_type,
            cpu_svn: f.array("CPUSVN", 16)?,
            tee_tcb_info_hash: f.array("TEE_TCB_INFO_HASH", 32)?,
            tee_info_hash: f.array("TEE_INFO_HASH", 80)?,
            report_data: f.array("REPORTDATA", 128)?,
            mac: f.array("MAC", 224)?,
            tee_tcb_info,
            td_info,
        })
    }

    pub fn debug(&self) -> bool {
        self.td_info.attributes & 1 != 0
    }
}
