//! The TD quote body (Intel TDX DCAP Quoting Library API, "TD Quote Body"): TD report 1.0 (584 bytes,
//! quote v4 and v5 type 2), TD report 1.5 (648 bytes, quote v5 type 3, adding TEE_TCB_SVN_2 and
//! MRSERVICETD) or TD report 1.5 "ex" (885 bytes, quote v5 type 4: `sgx_report2_body_v1_5_ex_t` in
//! Intel's `sgx_quote_5.h`, the 1.5 body followed by the TD partitioning and service TD fields).

use serde::Serialize;

use super::read::{Fields, Truncated, hex_serde};

/// Size of a TD report 1.0 body.
pub const TD_BODY_10_LEN: usize = 584;
/// Size of a TD report 1.5 body.
pub const TD_BODY_15_LEN: usize = 648;
/// Size of a TD report 1.5 "ex" body.
pub const TD_BODY_15_EX_LEN: usize = 885;

/// Which body a quote carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TdBodyKind {
    /// TD report 1.0 (v5 body type 2, and every v4 quote).
    TdReport10,
    /// TD report 1.5 (v5 body type 3).
    TdReport15,
    /// TD report 1.5 "ex" (v5 body type 4): a 1.5 body and [`TdBodyEx`].
    TdReport15Ex,
}

impl TdBodyKind {
    pub fn body_len(self) -> usize {
        match self {
            TdBodyKind::TdReport10 => TD_BODY_10_LEN,
            TdBodyKind::TdReport15 => TD_BODY_15_LEN,
            TdBodyKind::TdReport15Ex => TD_BODY_15_EX_LEN,
        }
    }

    /// The kind for a v5 body descriptor TYPE, if it is a TD body.
    pub fn from_body_type(body_type: u16) -> Option<TdBodyKind> {
        match body_type {
            2 => Some(TdBodyKind::TdReport10),
            3 => Some(TdBodyKind::TdReport15),
            4 => Some(TdBodyKind::TdReport15Ex),
            _ => None,
        }
    }

    /// The v5 body descriptor TYPE.
    pub fn body_type(self) -> u16 {
        match self {
            TdBodyKind::TdReport10 => 2,
            TdBodyKind::TdReport15 => 3,
            TdBodyKind::TdReport15Ex => 4,
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
    /// TD report 1.5 "ex" only.
    pub ex: Option<TdBodyEx>,
}

/// The fields a type 4 body adds after the 1.5 body (offsets from the body start, 648 on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdBodyEx {
    /// 0 for an unpartitioned TD or the L1 VMM, 1 to 3 for TD partitions.
    pub vm_index: u8,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub td_id: [u8; 32],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub dev_info_hash: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub init_servtd_hash: [u8; 48],
    pub init_servtd_attributes: u64,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub init_cpu_svn: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub init_tee_tcb_svn: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub init_tee_fmspc: [u8; 12],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub cur_servtd_hash: [u8; 48],
    pub cur_servtd_attributes: u64,
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
            TdBodyKind::TdReport15 | TdBodyKind::TdReport15Ex => {
                (Some(f.array("TEE_TCB_SVN_2", at(584))?), Some(f.array("MRSERVICETD", at(600))?))
            }
        };
        let ex = match kind {
            TdBodyKind::TdReport15Ex => Some(TdBodyEx {
                vm_index: f.u8("VM_INDEX", at(648))?,
                td_id: f.array("TD_ID", at(649))?,
                dev_info_hash: f.array("DEV_INFO_HASH", at(681))?,
                init_servtd_hash: f.array("INIT_SERVTD_HASH", at(729))?,
                init_servtd_attributes: f.u64("INIT_SERVTD_ATTRIBUTES", at(777))?,
                init_cpu_svn: f.array("INIT_CPUSVN", at(785))?,
                init_tee_tcb_svn: f.array("INIT_TEE_TCB_SVN", at(801))?,
                init_tee_fmspc: f.array("INIT_TEE_FMSPC", at(817))?,
                cur_servtd_hash: f.array("CUR_SERVTD_HASH", at(829))?,
                cur_servtd_attributes: f.u64("CUR_SERVTD_ATTRIBUTES", at(877))?,
            }),
            _ => None,
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
            ex,
        })
    }

    pub fn debug(&self) -> bool {
        self.td_attributes & 1 != 0
    }

    /// TD_ATTRIBUTES.SEPT_VE_DISABLE (bit 28): EPT violations are not reflected to the TD as #VE.
    pub fn sept_ve_disable(&self) -> bool {
        self.td_attributes & (1 << 28) != 0
    }
}
