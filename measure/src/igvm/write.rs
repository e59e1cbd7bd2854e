//! Writing launch plans as an IGVM file, with the `igvm` crate's builder and serializer.
//!
//! Each plan (one per platform) becomes that platform's directives, in plan order, one 4 KiB
//! PAGE_DATA per page: pages with data carry it, ZERO pages carry none (QEMU then populates them as
//! ZERO pages, as it does for the same firmware launched natively), CPUID and SECRETS pages keep
//! their types, every VMSA becomes an SNP VP context at KVM's VMSA GPA. So a VMM that populates
//! IGVM directives in order, as QEMU does, reproduces the plan's digest.

use igvm::snp_defs::SevVmsa;
use igvm::{IgvmDirectiveHeader, IgvmFile, IgvmInitializationHeader, IgvmPlatformHeader, IgvmRevision};
use igvm_defs::{IGVM_VHS_SUPPORTED_PLATFORM, IgvmPageDataFlags, IgvmPageDataType, IgvmPlatformType};
use zerocopy::FromBytes;

use super::IgvmError;
use super::layout::PAGE_4K;
use crate::plan::{CheckedPlan, Mode, OpKind, PlanError, Unsupported};

fn unsupported(msg: String) -> IgvmError {
    IgvmError::Plan(PlanError::Unsupported(Unsupported::Igvm(msg)))
}

/// The IGVM file holding `plans` (at most one per mode), each under its own compatibility mask.
pub fn write(plans: &[&CheckedPlan<'_>]) -> Result<Vec<u8>, IgvmError> {
    let mut platforms = Vec::new();
    let mut inits = Vec::new();
    let mut dirs = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let mask = 1u32 << i;
        let platform_type = match plan.mode {
            Mode::Snp => IgvmPlatformType::SEV_SNP,
            Mode::Tdx => IgvmPlatformType::TDX,
            m => return Err(unsupported(format!("an IGVM file is written for snp and tdx plans, not {}", m.name()))),
        };
        if plans[..i].iter().any(|p| p.mode == plan.mode) {
            return Err(unsupported(format!("two {} plans for one IGVM file", plan.mode.name())));
        }
        platforms.push(IgvmPlatformHeader::SupportedPlatform(IGVM_VHS_SUPPORTED_PLATFORM {
            compatibility_mask: mask,
            highest_vtl: 0,
            platform_type,
            platform_version: 1,
            shared_gpa_boundary: 0,
        }));
        if let Some(snp) = &plan.snp {
            inits.push(IgvmInitializationHeader::GuestPolicy { policy: snp.policy, compatibility_mask: mask });
        }
        directives(plan, mask, &mut dirs)?;
    }
    let file = IgvmFile::new(IgvmRevision::V1, platforms, inits, dirs).map_err(|e| IgvmError::Crate(e.to_string()))?;
    let mut out = Vec::new();
    file.serialize(&mut out).map_err(|e| IgvmError::Crate(e.to_string()))?;
    Ok(out)
}

fn page(gpa: u64, mask: u32, flags: IgvmPageDataFlags, data_type: IgvmPageDataType, data: Vec<u8>) -> IgvmDirectiveHeader {
    IgvmDirectiveHeader::PageData { gpa, compatibility_mask: mask, flags, data_type, data }
}

fn directives(plan: &CheckedPlan<'_>, mask: u32, out: &mut Vec<IgvmDirectiveHeader>) -> Result<(), IgvmError> {
    let none = IgvmPageDataFlags::new();
    for (i, op) in plan.operations.iter().enumerate() {
        let bytes = plan.source_bytes(op);
        if op.kind.needs_source() && bytes.is_none() {
            return Err(unsupported(format!("operation {i}: its source bytes were not provided")));
        }
        let (flags, data_type) = match op.kind {
            OpKind::Vmsa => {
                let b = bytes.unwrap_or_default();
                let vmsa = SevVmsa::read_from_bytes(b)
                    .map_err(|_| unsupported(format!("operation {i}: a VMSA of {} bytes, not 4096", b.len())))?;
                let vp_index = op
                    .vcpu
                    .and_then(|v| u16::try_from(v).ok())
                    .ok_or_else(|| unsupported(format!("operation {i}: VMSA without a vCPU index below 65536")))?;
                out.push(IgvmDirectiveHeader::SnpVpContext { gpa: op.gpa, compatibility_mask: mask, vp_index, vmsa: Box::new(vmsa) });
                continue;
            }
            OpKind::Normal | OpKind::Zero | OpKind::TdxAddExtend => (none, IgvmPageDataType::NORMAL),
            OpKind::Unmeasured | OpKind::TdxAdd => (none.with_unmeasured(true), IgvmPageDataType::NORMAL),
            OpKind::Secrets => (none, IgvmPageDataType::SECRETS),
            OpKind::Cpuid => (none, IgvmPageDataType::CPUID_DATA),
        };
        for p in 0..op.len / PAGE_4K {
            let data = match (op.kind, bytes) {
                // ZERO pages carry no data: that is what makes QEMU populate them as ZERO pages.
                (OpKind::Zero | OpKind::Secrets | OpKind::Cpuid, _) | (_, None) => Vec::new(),
                (_, Some(b)) => b[(p * PAGE_4K) as usize..((p + 1) * PAGE_4K) as usize].to_vec(),
            };
            out.push(page(op.gpa + p * PAGE_4K, mask, flags, data_type, data));
        }
    }
    Ok(())
}
