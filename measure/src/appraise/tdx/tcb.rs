//! TCB appraisal with collateral, following Intel's QVL (as dcap-qvl implements it): the platform
//! TCB level for the PCK's CPUSVN/PCESVN and the TD's TEE_TCB_SVN, the TDX module's level, the QE's
//! level, and how their statuses converge.

use super::collateral::{Collateral, ModuleTcbLevel, TcbInfo, TcbLevel};
use super::pck::PckExtension;
use crate::report::{SgxReport, TdQuoteBody};

/// A TCB status as Intel's collateral names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    UpToDate,
    SwHardeningNeeded,
    ConfigurationNeeded,
    ConfigurationAndSwHardeningNeeded,
    OutOfDate,
    OutOfDateConfigurationNeeded,
    Revoked,
    TdRelaunchAdvised,
    TdRelaunchAdvisedConfigurationNeeded,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "UpToDate" => Status::UpToDate,
            "SWHardeningNeeded" => Status::SwHardeningNeeded,
            "ConfigurationNeeded" => Status::ConfigurationNeeded,
            "ConfigurationAndSWHardeningNeeded" => Status::ConfigurationAndSwHardeningNeeded,
            "OutOfDate" => Status::OutOfDate,
            "OutOfDateConfigurationNeeded" => Status::OutOfDateConfigurationNeeded,
            "Revoked" => Status::Revoked,
            "TDRelaunchAdvised" => Status::TdRelaunchAdvised,
            "TDRelaunchAdvisedConfigurationNeeded" => Status::TdRelaunchAdvisedConfigurationNeeded,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::UpToDate => "UpToDate",
            Status::SwHardeningNeeded => "SWHardeningNeeded",
            Status::ConfigurationNeeded => "ConfigurationNeeded",
            Status::ConfigurationAndSwHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Status::OutOfDate => "OutOfDate",
            Status::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Status::Revoked => "Revoked",
            Status::TdRelaunchAdvised => "TDRelaunchAdvised",
            Status::TdRelaunchAdvisedConfigurationNeeded => "TDRelaunchAdvisedConfigurationNeeded",
        }
    }

    /// QVL's convergeTcbStatuses: only an OutOfDate or Revoked component changes the platform's.
    fn converge(self, component: Status) -> Status {
        use Status::*;
        match (component, self) {
            (Revoked, _) => Revoked,
            (OutOfDate, UpToDate | SwHardeningNeeded) => OutOfDate,
            (OutOfDate, ConfigurationNeeded | ConfigurationAndSwHardeningNeeded) => OutOfDateConfigurationNeeded,
            _ => self,
        }
    }

    /// QVL's checkForRelaunch (TD 1.5: launch TCB out of date, current TCB not).
    fn relaunch(self, current: Status) -> Status {
        use Status::*;
        let config = |s| {
            matches!(
                s,
                ConfigurationNeeded
                    | OutOfDateConfigurationNeeded
                    | ConfigurationAndSwHardeningNeeded
                    | TdRelaunchAdvisedConfigurationNeeded
            )
        };
        match (self, current) {
            (
                OutOfDate | OutOfDateConfigurationNeeded,
                UpToDate | SwHardeningNeeded | ConfigurationNeeded | ConfigurationAndSwHardeningNeeded,
            ) => {
                if config(self) || config(current) {
                    TdRelaunchAdvisedConfigurationNeeded
                } else {
                    TdRelaunchAdvised
                }
            }
            _ => self,
        }
    }
}

/// The result of TCB appraisal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbResult {
    pub status: Status,
    pub advisories: Vec<String>,
    pub detail: String,
}

fn status_of(s: &str, what: &str) -> Result<Status, String> {
    Status::parse(s).ok_or_else(|| format!("{what}: unknown TCB status {s:?}"))
}

fn unhex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let b = hex::decode(s).map_err(|e| format!("{what}: not hex ({e})"))?;
    b.try_into().map_err(|b: Vec<u8>| format!("{what}: {} bytes, expected {N}", b.len()))
}

/// The first level (highest first, as QVL orders them) the platform meets.
fn platform_level<'a>(info: &'a TcbInfo, pck: &PckExtension, tee_tcb_svn: &[u8; 16]) -> Result<&'a TcbLevel, String> {
    let mut levels: Vec<&TcbLevel> = info.tcb_levels.iter().collect();
    let key = |l: &TcbLevel| {
        (
            l.tcb.sgxtcbcomponents.iter().map(|c| c.svn).collect::<Vec<_>>(),
            l.tcb.pcesvn,
            l.tcb.tdxtcbcomponents.iter().map(|c| c.svn).collect::<Vec<_>>(),
        )
    };
    levels.sort_by_key(|l| std::cmp::Reverse(key(l)));
    // A non-zero module version (TEE_TCB_SVN[1]) leaves TDX components 0 and 1 to the module identity.
    let skip = if tee_tcb_svn[1] > 0 { 2 } else { 0 };
    for l in levels {
        if l.tcb.sgxtcbcomponents.len() != 16 || l.tcb.tdxtcbcomponents.len() != 16 {
            return Err(format!(
                "a TCB level has {} SGX and {} TDX components, expected 16 each",
                l.tcb.sgxtcbcomponents.len(),
                l.tcb.tdxtcbcomponents.len()
            ));
        }
        let sgx = l.tcb.sgxtcbcomponents.iter().zip(pck.cpu_svn).all(|(c, have)| have >= c.svn);
        let tdx = l.tcb.tdxtcbcomponents.iter().zip(tee_tcb_svn).skip(skip).all(|(c, have)| *have >= c.svn);
        if sgx && tdx && pck.pce_svn >= l.tcb.pcesvn {
            return Ok(l);
        }
    }
    Err(format!(
        "the platform (CPUSVN {}, PCESVN {}, TEE_TCB_SVN {}) is below every TCB level of the TCB info",
        hex::encode(pck.cpu_svn),
        pck.pce_svn,
        hex::encode(tee_tcb_svn)
    ))
}

/// The TDX module identity for TEE_TCB_SVN's module version, if it has one.
fn module_level<'a>(info: &'a TcbInfo, tee_tcb_svn: &[u8; 16]) -> Result<Option<(&'a str, &'a ModuleTcbLevel)>, String> {
    if tee_tcb_svn[1] == 0 {
        return Ok(None);
    }
    let id = format!("TDX_{:02X}", tee_tcb_svn[1]);
    let m = info
        .tdx_module_identities
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| format!("the TCB info has no TDX module identity {id}"))?;
    let l = m
        .tcb_levels
        .iter()
        .find(|l| u16::from(tee_tcb_svn[0]) >= l.tcb.isvsvn)
        .ok_or_else(|| format!("TDX module {id} ISVSVN {} is below every level of its identity", tee_tcb_svn[0]))?;
    Ok(Some((m.id.as_str(), l)))
}

fn evaluate(info: &TcbInfo, pck: &PckExtension, svn: &[u8; 16], adv: &mut Vec<String>) -> Result<(Status, String), String> {
    let l = platform_level(info, pck, svn)?;
    let mut status = status_of(&l.tcb_status, "TCB info")?;
    let mut why = format!("platform level {} ({})", l.tcb_status, l.tcb_date);
    adv.extend(l.advisory_ids.iter().cloned());
    if let Some((id, m)) = module_level(info, svn)? {
        status = status.converge(status_of(&m.tcb_status, "TDX module identity")?);
        why.push_str(&format!(", module {id} level {}", m.tcb_status));
        adv.extend(m.advisory_ids.iter().cloned());
    }
    Ok((status, why))
}

/// The TD's TCB status: platform and module levels for TEE_TCB_SVN (and TEE_TCB_SVN_2 for TD 1.5),
/// converged with the QE's level.
pub fn status(c: &Collateral, pck: &PckExtension, body: &TdQuoteBody, qe: &SgxReport) -> Result<TcbResult, String> {
    let info = &c.tcb_info;
    let fmspc: [u8; 6] = unhex(&info.fmspc, "TCB info fmspc")?;
    if fmspc != pck.fmspc {
        return Err(format!(
            "the TCB info is for FMSPC {}, the PCK certificate's is {}: collateral for another platform",
            info.fmspc,
            hex::encode_upper(pck.fmspc)
        ));
    }
    let pce_id: [u8; 2] = unhex(&info.pce_id, "TCB info pceId")?;
    if pce_id != pck.pce_id {
        return Err(format!("the TCB info is for PCE ID {}, the PCK certificate's is {}", info.pce_id, hex::encode_upper(pck.pce_id)));
    }
    let mut adv = Vec::new();
    let (mut status, mut why) = evaluate(info, pck, &body.tee_tcb_svn, &mut adv)?;
    let qe_level = qe_level(c, qe)?;
    let qe_status = status_of(&qe_level.tcb_status, "QE identity")?;
    adv.extend(qe_level.advisory_ids.iter().cloned());
    status = status.converge(qe_status);
    why.push_str(&format!(", QE level {}", qe_level.tcb_status));
    if let Some(svn2) = &body.tee_tcb_svn2 {
        let (cur, cur_why) = evaluate(info, pck, svn2, &mut adv)?;
        let cur = cur.converge(qe_status);
        if cur == Status::Revoked {
            status = Status::Revoked;
        } else {
            status = status.relaunch(cur);
        }
        why.push_str(&format!("; current TCB (TEE_TCB_SVN_2): {cur_why}"));
    }
    adv.sort();
    adv.dedup();
    Ok(TcbResult { status, advisories: adv, detail: format!("FMSPC {}: {why}", info.fmspc) })
}

/// The QE identity check: the QE report must be Intel's TD quoting enclave.
pub fn qe_identity(c: &Collateral, qe: &SgxReport) -> Result<String, String> {
    let id = &c.qe_identity;
    let mrsigner: [u8; 32] = unhex(&id.mrsigner, "QE identity mrsigner")?;
    if qe.mr_signer != mrsigner {
        return Err(format!("the QE's MRSIGNER {} is not the QE identity's {}", hex::encode_upper(qe.mr_signer), id.mrsigner));
    }
    if qe.isv_prod_id != id.isvprodid {
        return Err(format!("the QE's ISVPRODID {} is not the QE identity's {}", qe.isv_prod_id, id.isvprodid));
    }
    let misc: [u8; 4] = unhex(&id.miscselect, "QE identity miscselect")?;
    let misc_mask: [u8; 4] = unhex(&id.miscselect_mask, "QE identity miscselectMask")?;
    let (want, mask) = (u32::from_le_bytes(misc), u32::from_le_bytes(misc_mask));
    if qe.misc_select & mask != want & mask {
        return Err(format!("the QE's MISCSELECT {:08x} does not match {:08x} under mask {:08x}", qe.misc_select, want, mask));
    }
    let attr: [u8; 16] = unhex(&id.attributes, "QE identity attributes")?;
    let attr_mask: [u8; 16] = unhex(&id.attributes_mask, "QE identity attributesMask")?;
    if let Some(i) = (0..16).find(|&i| qe.attributes[i] & attr_mask[i] != attr[i] & attr_mask[i]) {
        return Err(format!(
            "the QE's ATTRIBUTES {} differ from the QE identity's at byte {i} (under its mask)",
            hex::encode(qe.attributes)
        ));
    }
    if qe.debug() {
        return Err("the QE runs in debug mode (ATTRIBUTES.DEBUG)".into());
    }
    let l = qe_level(c, qe)?;
    Ok(format!(
        "Intel TD quoting enclave (MRSIGNER {}…, ISVPRODID {}), ISVSVN {} at level {}",
        &id.mrsigner[..16.min(id.mrsigner.len())],
        qe.isv_prod_id,
        qe.isv_svn,
        l.tcb_status
    ))
}

fn qe_level<'a>(c: &'a Collateral, qe: &SgxReport) -> Result<&'a ModuleTcbLevel, String> {
    c.qe_identity
        .tcb_levels
        .iter()
        .find(|l| qe.isv_svn >= l.tcb.isvsvn)
        .ok_or_else(|| format!("the QE's ISVSVN {} is below every level of the QE identity", qe.isv_svn))
}

/// The TDX module identity: MRSIGNERSEAM and SEAMATTRIBUTES as the TCB info requires.
pub fn module_identity(c: &Collateral, body: &TdQuoteBody) -> Result<String, String> {
    let info = &c.tcb_info;
    let base = info.tdx_module.as_ref().ok_or("the TCB info has no tdxModule")?;
    let (mut signer, mut attrs, mut mask, mut name) = (&base.mrsigner, &base.attributes, &base.attributes_mask, "tdxModule".to_string());
    if body.tee_tcb_svn[1] > 0 {
        let id = format!("TDX_{:02X}", body.tee_tcb_svn[1]);
        let m = info
            .tdx_module_identities
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(&id))
            .ok_or_else(|| format!("the TCB info has no TDX module identity {id}"))?;
        (signer, attrs, mask, name) = (&m.mrsigner, &m.attributes, &m.attributes_mask, m.id.clone());
    }
    let signer: [u8; 48] = unhex(signer, "tdxModule mrsigner")?;
    if body.mr_signer_seam != signer {
        return Err(format!("MRSIGNERSEAM {} is not {name}'s {}", hex::encode(body.mr_signer_seam), hex::encode(signer)));
    }
    let attrs = u64::from_le_bytes(unhex(attrs, "tdxModule attributes")?);
    let mask = u64::from_le_bytes(unhex(mask, "tdxModule attributesMask")?);
    if body.seam_attributes & mask != attrs & mask || body.seam_attributes & !mask != 0 {
        return Err(format!("SEAMATTRIBUTES {:#018x} do not match {name}'s {attrs:#018x} under mask {mask:#018x}", body.seam_attributes));
    }
    Ok(format!("MRSIGNERSEAM and SEAMATTRIBUTES match {name}"))
}
