//! The TD quote body (Intel TDX DCAP Quoting Library API, "TD Quote Body"): TD report 1.0 (584 bytes,
//! quote v4 and v5 type 2) or TD report 1.5 (648 bytes, quote v5 type 3, adding TEE_TCB_SVN_2 and
//! MRSERVICETD).

use serde::Serialize;

use super::read::{Fields, Truncated, hex_serde};

/// Size of a TD report 1.0 body.
pub const TD_BODY_10_LEN: usize = 584;
/// Size of a TD report 1.5 body.
pub const TD_BODY_15_LEN: usize = 648;

/// Which body a quote carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TdBodyKind {
    /// TD report 1.0 (v5 body type 2, and every v4 quote).
    TdReport10,
    /// TD report 1.5 (v5 body type 3).
    TdReport15,
}

impl TdBodyKind {
    pub fn body_len(self) -> usize {
        match self {
            TdBodyKind::TdReport10 => TD_BODY_10_LEN,
            TdBodyKind::TdReport15 => TD_BODY_15_LEN,
        }
    }

    /// The v5 body descriptor TYPE.
    pub fn body_type(self) -> u16 {
        match self {
            TdBodyKind::TdReport10 => 2,
            TdBodyKind::TdReport15 => 3,
        }
    }
}

/// The measured state of a TD as a quote reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdQuoteBody {
    #[serde(serialize_with = "hex_serde::bytes")]
    pub tee_tcb_svn: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_seam: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub mr_signer_seam: [u8; 48],
    pub seam_attributes: u64,
    /// TD_ATTRIBUTES: bit 0 DEBUG, bit 28 SEPT_VE_DISABLE, bit 30 PKS, bit 31 KL, bit 63 PERFMON.
    pub td_attributes: u64,
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
    #[serde(serialize_with = "hex_serde::bytes")]
    pub report_data: [u8; 64],
    /// TD report 1.5 only.
    #[serde(serialize_with = "hex_serde::opt_bytes")]
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// TD report 1.5 only.
    #[serde(serialize_with = "hex_serde::opt_bytes")]
    pub mr_servicetd: Option<[u8; 48]>,
}

impl TdQuoteBody {
    /// Reads a body of `kind` from `f` starting at `base` (the quote offset, so errors name it).
    pub(crate) fn read(f: &Fields<'_>, base: usize, kind: TdBodyKind) -> Result<TdQuoteBody, Truncated> {
        let at = |off: usize| base + off;
        // Fields are read in layout order so a cut-off body reports its first missing field.
        let tee_tcb_svn = f.array("TEE_TCB_SVN", at(0))?;
        let mr_seam = f.array("MRSEAM", at(16))?;
        let mr_signer_seam = f.array("MRSIGNERSEAM", at(64))?;
        let seam_attributes = f.u64("SEAMATTRIBUTES", at(112))?;
        let td_attributes = f.u64("TDATTRIBUTES", at(120))?;
        let xfam = f.u64("XFAM", at(128))?;
        let mr_td = f.array("MRTD", at(136))?;
        let mr_config_id = f.array("MRCONFIGID", at(184))?;
        let mr_owner = f.array("MROWNER", at(232))?;
        let mr_owner_config = f.array("MROWNERCONFIG", at(280))?;
        let rtmr = [f.array("RTMR0", at(328))?, f.array("RTMR1", at(376))?, f.array("RTMR2", at(424))?, f.array("RTMR3", at(472))?];
        let report_data = f.array("REPORTDATA", at(520))?;
        let (tee_tcb_svn2, mr_servicetd) = match kind {
            TdBodyKind::TdReport10 => (None, None),
            TdBodyKind::TdReport15 => (Some(f.array("TEE_TCB_SVN_2", at(584))?), Some(f.array("MRSERVICETD", at(600))?)),
        };
        Ok(TdQuoteBody {
            tee_tcb_svn,
            mr_seam,
            mr_signer_seam,
            seam_attributes,
            td_attributes,
            xfam,
            mr_td,
            mr_config_id,
            mr_owner,
            mr_owner_config,
            rtmr,
            report_data,
            tee_tcb_svn2,
            mr_servicetd,
        })
    }

    pub fn debug(&self) -> bool {
        self.td_attributes & 1 != 0
    }
}
