//! The SGX enclave REPORT body (Intel SDM, "REPORT"; 384 bytes): how a TDX quote carries the
//! quoting enclave's identity, which the PCK signs.

use serde::Serialize;

use super::read::{Fields, Truncated, hex_serde};

/// Size of an SGX report body.
pub const SGX_REPORT_LEN: usize = 384;

/// The fields a quote verifier appraises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SgxReport {
    #[serde(serialize_with = "hex_serde::bytes")]
    pub cpu_svn: [u8; 16],
    pub misc_select: u32,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub attributes: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_enclave: [u8; 32],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_signer: [u8; 32],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub report_data: [u8; 64],
}

impl SgxReport {
    pub fn parse(b: &[u8]) -> Result<SgxReport, Truncated> {
        let f = Fields::new("QE report", b);
        Ok(SgxReport {
            cpu_svn: f.array("CPUSVN", 0)?,
            misc_select: f.u32("MISCSELECT", 16)?,
            attributes: f.array("ATTRIBUTES", 48)?,
            mr_enclave: f.array("MRENCLAVE", 64)?,
            mr_signer: f.array("MRSIGNER", 128)?,
            isv_prod_id: f.u16("ISVPRODID", 256)?,
            isv_svn: f.u16("ISVSVN", 258)?,
            report_data: f.array("REPORTDATA", 320)?,
        })
    }

    /// ATTRIBUTES.DEBUG (bit 1 of the first byte).
    pub fn debug(&self) -> bool {
        self.attributes[0] & 2 != 0
    }
}
