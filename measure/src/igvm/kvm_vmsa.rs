//! The VMSA KVM measures for a vCPU whose registers QEMU loaded from an IGVM VP context.
//!
//! QEMU cannot hand KVM a VMSA: target/i386/sev.c `check_vmsa_supported` refuses any VMSA with a
//! field it cannot synchronise, `sev_apply_cpu_context` loads the rest into the vCPU, and KVM builds
//! the measured VMSA from its own vCPU state at SNP_LAUNCH_FINISH (`sev_es_sync_vmsa`), adding the
//! bits it always sets. The result is what this module renders.

use igvm::snp_defs::{SevSelector, SevVmsa};
use zerocopy::{FromZeros, IntoBytes};

use crate::snp::vmsa::VMSA_GPA;

const EFER_SVME: u64 = 1 << 12;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR4_MCE: u64 = 1 << 6;
const RFLAGS_FIXED: u64 = 1 << 1;
/// Segment attribute "present" (VMCB attribute layout).
const ATTR_P: u16 = 1 << 7;

/// Why QEMU refuses a VP context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmsaRefusal {
    #[error("the VMSA GPA is {0:#x}; QEMU requires KVM's fixed 0xFFFFFFFFF000 (target/i386/sev.c check_vmsa_supported)")]
    Gpa(u64),
    #[error(
        "the VMSA sets fields KVM does not synchronise (first at byte {0:#x}); QEMU refuses it (target/i386/sev.c check_vmsa_supported)"
    )]
    Unsynchronised(usize),
    #[error("the VMSA's SEV features {0:#x} lack SNP_ACTIVE; QEMU refuses it for an SNP guest (check_sev_features)")]
    NoSnpActive(u64),
}

/// The fields QEMU loads into the vCPU (and therefore allows to be non-zero).
fn synchronised(v: &SevVmsa) -> SevVmsa {
    let mut s = SevVmsa::new_zeroed();
    (s.es, s.cs, s.ss, s.ds, s.fs, s.gs) = (v.es, v.cs, v.ss, v.ds, v.fs, v.gs);
    (s.gdtr, s.idtr, s.ldtr, s.tr) = (v.gdtr, v.idtr, v.ldtr, v.tr);
    (s.efer, s.cr0, s.cr3, s.cr4, s.xcr0, s.dr6, s.dr7) = (v.efer, v.cr0, v.cr3, v.cr4, v.xcr0, v.dr6, v.dr7);
    (s.rax, s.rcx, s.rdx, s.rbx, s.rsp, s.rbp, s.rsi, s.rdi) = (v.rax, v.rcx, v.rdx, v.rbx, v.rsp, v.rbp, v.rsi, v.rdi);
    (s.r8, s.r9, s.r10, s.r11, s.r12, s.r13, s.r14, s.r15) = (v.r8, v.r9, v.r10, v.r11, v.r12, v.r13, v.r14, v.r15);
    (s.rip, s.rflags, s.pat, s.x87_fcw, s.mxcsr, s.sev_features) = (v.rip, v.rflags, v.pat, v.x87_fcw, v.mxcsr, v.sev_features);
    s
}

/// Checks a VP context as QEMU does for an SNP guest.
pub fn check(gpa: u64, v: &SevVmsa) -> Result<(), VmsaRefusal> {
    if gpa != VMSA_GPA {
        return Err(VmsaRefusal::Gpa(gpa));
    }
    if !v.sev_features.snp() {
        return Err(VmsaRefusal::NoSnpActive(v.sev_features.into_bits()));
    }
    let kept = synchronised(v);
    if let Some(at) = v.as_bytes().iter().zip(kept.as_bytes()).position(|(a, b)| a != b) {
        return Err(VmsaRefusal::Unsynchronised(at));
    }
    Ok(())
}

/// A segment as it survives QEMU's SegmentCache and KVM_SET_SREGS: a segment that is not present is
/// unusable, and KVM stores an unusable segment's attributes as 0.
fn through_kvm(s: SevSelector) -> SevSelector {
    SevSelector { attrib: if s.attrib & ATTR_P == 0 { 0 } else { s.attrib & 0x0fff }, ..s }
}

/// The VMSA KVM measures for a vCPU loaded from `v`, with the VM's SEV features `features` (KVM
/// applies one set, taken from vCPU 0's context, to every vCPU).
pub fn render(v: &SevVmsa, features: u64) -> Box<[u8; 4096]> {
    let mut s = synchronised(v);
    (s.es, s.cs, s.ss, s.ds, s.fs, s.gs) =
        (through_kvm(v.es), through_kvm(v.cs), through_kvm(v.ss), through_kvm(v.ds), through_kvm(v.fs), through_kvm(v.gs));
    (s.ldtr, s.tr) = (through_kvm(v.ldtr), through_kvm(v.tr));
    // KVM keeps only base and limit of the descriptor-table registers.
    s.gdtr = SevSelector { selector: 0, attrib: 0, ..v.gdtr };
    s.idtr = SevSelector { selector: 0, attrib: 0, ..v.idtr };
    s.efer |= EFER_SVME;
    // KVM_X86_QUIRK_CD_NW_CLEARED (on by default) clears CD and NW; CR4.MCE follows the host's, which
    // is set on every SNP host.
    s.cr0 &= !(CR0_CD | CR0_NW);
    s.cr4 |= CR4_MCE;
    s.rflags |= RFLAGS_FIXED;
    s.cpl = ((v.ss.attrib >> 5) & 3) as u8;
    s.sev_features = igvm::snp_defs::SevFeatures::from_bits(features);
    let mut page = Box::new([0u8; 4096]);
    page[..size_of::<SevVmsa>()].copy_from_slice(s.as_bytes());
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snp::vmsa::{BSP_EIP, Vmm, reset_vmsa};
    use zerocopy::FromBytes;

    #[test]
    fn kvm_rendering_of_its_own_reset_state_is_a_fixed_point() {
        // The reset VMSA prelaunch models for QEMU is KVM's output; loading it back must not change it.
        let reset = reset_vmsa(BSP_EIP, 1, 0xa00f11, Vmm::Qemu);
        let v = SevVmsa::read_from_bytes(&reset[..]).unwrap();
        check(VMSA_GPA, &v).unwrap();
        assert_eq!(&render(&v, 1)[..], &reset[..]);
    }

    #[test]
    fn refusals_name_the_field() {
        let mut v = SevVmsa::new_zeroed();
        v.sev_features = igvm::snp_defs::SevFeatures::new().with_snp(true);
        assert_eq!(check(0x1000, &v), Err(VmsaRefusal::Gpa(0x1000)));
        v.cr2 = 5;
        assert_eq!(check(VMSA_GPA, &v), Err(VmsaRefusal::Unsynchronised(std::mem::offset_of!(SevVmsa, cr2))));
        v.cr2 = 0;
        v.sev_features = igvm::snp_defs::SevFeatures::new();
        assert_eq!(check(VMSA_GPA, &v), Err(VmsaRefusal::NoSnpActive(0)));
    }

    #[test]
    fn kvm_forces_its_bits() {
        let mut v = SevVmsa::new_zeroed();
        v.cr0 = 0x6000_0010;
        v.tr = SevSelector { selector: 0, attrib: 0x0003, limit: 0xffff, base: 0 };
        let r = SevVmsa::read_from_bytes(&render(&v, 1)[..]).unwrap();
        assert_eq!((r.efer, r.cr0, r.cr4, r.rflags), (EFER_SVME, 0x10, CR4_MCE, 2));
        assert_eq!(r.tr.attrib, 0, "a segment that is not present is unusable, attributes 0");
        assert_eq!(r.tr.limit, 0xffff);
    }
}
