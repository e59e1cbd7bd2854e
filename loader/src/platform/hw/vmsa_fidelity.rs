//! VMSA fidelity: on SNP hardware KVM builds each vCPU's VMSA itself, from the registers userspace
//! set (KVM_SET_SREGS/REGS/FPU/XCRS/MSRS) and from KVM_SEV_INIT2's `vmsa_features`
//! (arch/x86/kvm/svm/sev.c `sev_es_sync_vmsa`, arch/x86/kvm/svm/svm.c `svm_set_segment`). A plan's
//! VMSA page can only be launched if that reconstruction reproduces it byte for byte: any field KVM
//! does not take from userspace, or takes in another form, would make the launch digest differ
//! (BAD_MEASUREMENT at SNP_LAUNCH_FINISH). [`kvm_vmsa`] is that reconstruction;
//! [`VcpuState::from_vmsa_checked`] refuses a page it does not reproduce, naming each field.

use kvm_bindings::{kvm_dtable, kvm_segment};
use prelaunch_measure::snp::vmsa::{VMSA_SIZE, off};

use super::vcpu_state::VcpuState;

/// CPL (the VMCB save area's byte at 0xcb): KVM derives it from SS.DPL (`svm_set_segment`).
const CPL: usize = 0xcb;
/// EFER.SVME and CR4.MCE: KVM sets them for every SEV-ES vCPU; userspace cannot choose others.
const KVM_EFER: u64 = 0x1000;
const KVM_CR4: u64 = 0x40;
/// DR6/DR7 at reset (KVM's `kvm_vcpu_reset`).
const RESET_DR6: u64 = 0xffff_0ff0;
const RESET_DR7: u64 = 0x400;

/// Named fields of the save area (AMD APM vol. 2, table B-4), for messages.
const FIELDS: &[(&str, usize, usize)] = &[
    ("es", off::ES, 16),
    ("cs", off::CS, 16),
    ("ss", off::SS, 16),
    ("ds", off::DS, 16),
    ("fs", off::FS, 16),
    ("gs", off::GS, 16),
    ("gdtr", off::GDTR, 16),
    ("ldtr", off::LDTR, 16),
    ("idtr", off::IDTR, 16),
    ("tr", off::TR, 16),
    ("cpl", CPL, 1),
    ("efer", off::EFER, 8),
    ("cr4", off::CR4, 8),
    ("cr3", 0x150, 8),
    ("cr0", off::CR0, 8),
    ("dr7", off::DR7, 8),
    ("dr6", off::DR6, 8),
    ("rflags", off::RFLAGS, 8),
    ("rip", off::RIP, 8),
    ("rsp", 0x1d8, 8),
    ("rax", 0x1f8, 8),
    ("g_pat", off::G_PAT, 8),
    ("rcx", 0x308, 8),
    ("rdx", off::RDX, 8),
    ("rbx", 0x318, 8),
    ("sev_features", off::SEV_FEATURES, 8),
    ("xcr0", off::XCR0, 8),
    ("mxcsr", off::MXCSR, 4),
    ("x87_fcw", off::X87_FCW, 2),
];

/// The attribute word `svm_set_segment` writes for a `kvm_segment`.
fn attrib(s: &kvm_segment) -> u16 {
    let present = s.present & 1 != 0 && s.unusable == 0;
    u16::from(s.type_ & 0xf)
        | (u16::from(s.s & 1) << 4)
        | (u16::from(s.dpl & 3) << 5)
        | (u16::from(present) << 7)
        | (u16::from(s.avl & 1) << 8)
        | (u16::from(s.l & 1) << 9)
        | (u16::from(s.db & 1) << 10)
        | (u16::from(s.g & 1) << 11)
}

fn put(p: &mut [u8], at: usize, bytes: &[u8]) {
    p[at..at + bytes.len()].copy_from_slice(bytes);
}

fn segment(p: &mut [u8], at: usize, s: &kvm_segment) {
    put(p, at, &s.selector.to_le_bytes());
    put(p, at + 2, &attrib(s).to_le_bytes());
    put(p, at + 4, &s.limit.to_le_bytes());
    put(p, at + 8, &s.base.to_le_bytes());
}

fn dtable(p: &mut [u8], at: usize, d: &kvm_dtable) {
    put(p, at + 4, &u32::from(d.limit).to_le_bytes());
    put(p, at + 8, &d.base.to_le_bytes());
}

/// The VMSA KVM builds for a vCPU with these registers in a VM whose VMSA features are `sev_features`.
pub fn kvm_vmsa(s: &VcpuState, sev_features: u64) -> Box<[u8; VMSA_SIZE]> {
    let mut p = Box::new([0u8; VMSA_SIZE]);
    for (at, seg) in [(off::ES, &s.es), (off::CS, &s.cs), (off::SS, &s.ss), (off::DS, &s.ds), (off::FS, &s.fs), (off::GS, &s.gs)] {
        segment(&mut p[..], at, seg);
    }
    segment(&mut p[..], off::LDTR, &s.ldt);
    segment(&mut p[..], off::TR, &s.tr);
    dtable(&mut p[..], off::GDTR, &s.gdt);
    dtable(&mut p[..], off::IDTR, &s.idt);
    p[CPL] = s.ss.dpl & 3;
    put(&mut p[..], off::EFER, &KVM_EFER.to_le_bytes());
    put(&mut p[..], off::CR4, &KVM_CR4.to_le_bytes());
    put(&mut p[..], off::CR0, &s.cr0.to_le_bytes());
    put(&mut p[..], off::DR7, &RESET_DR7.to_le_bytes());
    put(&mut p[..], off::DR6, &RESET_DR6.to_le_bytes());
    put(&mut p[..], off::RFLAGS, &s.rflags.to_le_bytes());
    put(&mut p[..], off::RIP, &s.rip.to_le_bytes());
    put(&mut p[..], off::G_PAT, &s.g_pat.to_le_bytes());
    put(&mut p[..], off::RDX, &s.rdx.to_le_bytes());
    put(&mut p[..], off::SEV_FEATURES, &sev_features.to_le_bytes());
    put(&mut p[..], off::XCR0, &s.xcr0.to_le_bytes());
    put(&mut p[..], off::MXCSR, &s.mxcsr.to_le_bytes());
    put(&mut p[..], off::X87_FCW, &s.fcw.to_le_bytes());
    p
}

/// "rip at 0x178 (plan 0x…, KVM would write 0x…)" for every differing field.
pub fn differences(plan: &[u8], kvm: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut covered = vec![false; VMSA_SIZE];
    for &(name, at, len) in FIELDS {
        covered[at..at + len].iter_mut().for_each(|c| *c = true);
        if plan[at..at + len] != kvm[at..at + len] {
            out.push(format!(
                "{name} at {at:#x} (plan {}, KVM would write {})",
                hex::encode(&plan[at..at + len]),
                hex::encode(&kvm[at..at + len])
            ));
        }
    }
    for at in (0..VMSA_SIZE).filter(|&i| !covered[i] && plan[i] != kvm[i]) {
        out.push(format!("byte at {at:#x} (plan {:#04x}; KVM writes no such field from userspace)", plan[at]));
        if out.len() > 16 {
            out.push("…".into());
            break;
        }
    }
    out
}

impl VcpuState {
    /// Reads a VMSA and refuses it unless KVM, given the registers read and `sev_features`
    /// (KVM_SEV_INIT2's `vmsa_features` with SNPActive), rebuilds the very same page.
    pub fn from_vmsa_checked(page: &[u8], sev_features: u64) -> Result<Self, String> {
        let s = Self::from_vmsa(page)?;
        let diff = differences(page, &kvm_vmsa(&s, sev_features)[..]);
        if !diff.is_empty() {
            return Err(format!("KVM cannot reproduce this VMSA from vCPU registers: {}", diff.join("; ")));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::snp::Vmm;
    use prelaunch_measure::snp::vmsa::{BSP_EIP, reset_vmsa, svsm_vmsa};

    use super::*;

    #[test]
    fn every_vmsa_the_plans_make_round_trips_through_kvm() {
        for vmm in Vmm::ALL {
            for eip in [BSP_EIP, 0x80b004] {
                for features in [1, 0x21] {
                    let page = reset_vmsa(eip, features, 0xa00f11, vmm);
                    VcpuState::from_vmsa_checked(&page[..], features).unwrap_or_else(|e| panic!("{vmm:?} {eip:#x}: {e}"));
                }
            }
        }
        VcpuState::from_vmsa_checked(&svsm_vmsa(0x80_1234, 0)[..], 1).unwrap();
    }

    #[test]
    fn fields_kvm_cannot_set_are_refused_by_name() {
        let page = reset_vmsa(BSP_EIP, 1, 0x800f12, Vmm::Qemu);
        let mut p = page.to_vec();
        p[0x1f8] = 1; // RAX: KVM's reset value is 0, and the launch path sets no RAX.
        let e = VcpuState::from_vmsa_checked(&p, 1).unwrap_err();
        assert!(e.contains("rax at 0x1f8"), "{e}");
        let mut p = page.to_vec();
        p[off::CS + 3] = 0x10; // An attribute bit above the 12 a kvm_segment carries.
        assert!(VcpuState::from_vmsa_checked(&p, 1).unwrap_err().contains("cs at 0x10"));
        let mut p = page.to_vec();
        p[off::EFER + 1] = 0x05; // EFER.LME|SVME: KVM sets EFER.SVME only.
        assert!(VcpuState::from_vmsa_checked(&p, 1).unwrap_err().contains("efer"));
        let mut p = page.to_vec();
        p[0x7f0] = 0xaa;
        assert!(VcpuState::from_vmsa_checked(&p, 1).unwrap_err().contains("byte at 0x7f0"));
        // SEV features come from KVM_SEV_INIT2, not from the page.
        assert!(VcpuState::from_vmsa_checked(&page[..], 0x21).unwrap_err().contains("sev_features"));
    }
}
