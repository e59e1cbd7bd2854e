//! A VMSA page read back into the vCPU registers KVM builds the measured VMSA from.
//!
//! On SNP hardware the VMSAs are not uploaded: KVM derives each vCPU's VMSA from its register state
//! at SNP_LAUNCH_FINISH. The plan holds the VMSA the measurement expects; setting the registers from
//! it is how the launch reproduces it. EFER.SVME, CR4.MCE and SEV_FEATURES are KVM's own (the latter
//! from KVM_SEV_INIT2's vmsa_features), so they are not set here.

use kvm_bindings::{kvm_dtable, kvm_segment};
use prelaunch_measure::snp::vmsa::{VMSA_SIZE, off};

/// The registers a reset-state VMSA carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VcpuState {
    pub es: kvm_segment,
    pub cs: kvm_segment,
    pub ss: kvm_segment,
    pub ds: kvm_segment,
    pub fs: kvm_segment,
    pub gs: kvm_segment,
    pub ldt: kvm_segment,
    pub tr: kvm_segment,
    pub gdt: kvm_dtable,
    pub idt: kvm_dtable,
    pub cr0: u64,
    pub rip: u64,
    pub rflags: u64,
    pub rdx: u64,
    pub xcr0: u64,
    pub g_pat: u64,
    pub mxcsr: u32,
    pub fcw: u16,
}

fn u64_at(p: &[u8], at: usize) -> u64 {
    p.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
}

fn u32_at(p: &[u8], at: usize) -> u32 {
    p.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes)
}

fn u16_at(p: &[u8], at: usize) -> u16 {
    p.get(at..at + 2).and_then(|b| b.try_into().ok()).map_or(0, u16::from_le_bytes)
}

/// A VMCB segment (`u16 selector, u16 attrib, u32 limit, u64 base`) as KVM's `kvm_segment`; the
/// 12-bit attribute packs type[3:0], S, DPL[1:0], P, AVL, L, D/B, G.
fn segment(p: &[u8], at: usize) -> kvm_segment {
    let attrib = u16_at(p, at + 2);
    let bit = |n: u16| ((attrib >> n) & 1) as u8;
    kvm_segment {
        base: u64_at(p, at + 8),
        limit: u32_at(p, at + 4),
        selector: u16_at(p, at),
        type_: (attrib & 0xf) as u8,
        s: bit(4),
        dpl: ((attrib >> 5) & 3) as u8,
        present: bit(7),
        avl: bit(8),
        l: bit(9),
        db: bit(10),
        g: bit(11),
        unusable: u8::from(bit(7) == 0),
        padding: 0,
    }
}

fn dtable(p: &[u8], at: usize) -> kvm_dtable {
    kvm_dtable { base: u64_at(p, at + 8), limit: u32_at(p, at + 4) as u16, padding: [0; 3] }
}

impl VcpuState {
    /// Reads a 4096-byte VMSA.
    pub fn from_vmsa(page: &[u8]) -> Result<Self, String> {
        if page.len() != VMSA_SIZE {
            return Err(format!("a VMSA is {VMSA_SIZE} bytes, this one {}", page.len()));
        }
        Ok(VcpuState {
            es: segment(page, off::ES),
            cs: segment(page, off::CS),
            ss: segment(page, off::SS),
            ds: segment(page, off::DS),
            fs: segment(page, off::FS),
            gs: segment(page, off::GS),
            ldt: segment(page, off::LDTR),
            tr: segment(page, off::TR),
            gdt: dtable(page, off::GDTR),
            idt: dtable(page, off::IDTR),
            cr0: u64_at(page, off::CR0),
            rip: u64_at(page, off::RIP),
            rflags: u64_at(page, off::RFLAGS),
            rdx: u64_at(page, off::RDX),
            xcr0: u64_at(page, off::XCR0),
            g_pat: u64_at(page, off::G_PAT),
            mxcsr: u32_at(page, off::MXCSR),
            fcw: u16_at(page, off::X87_FCW),
        })
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::snp::Vmm;
    use prelaunch_measure::snp::vmsa::{BSP_EIP, reset_vmsa, svsm_vmsa};

    use super::*;

    #[test]
    fn qemu_reset_vmsa_reads_back_as_the_reset_vector() {
        let s = VcpuState::from_vmsa(&reset_vmsa(BSP_EIP, 1, 0x00a1_0f10, Vmm::Qemu)[..]).unwrap();
        assert_eq!((s.cs.selector, s.cs.base, s.cs.limit, s.rip), (0xf000, 0xffff_0000, 0xffff, 0xfff0));
        assert_eq!((s.cs.type_, s.cs.s, s.cs.present, s.cs.db, s.cs.g), (0xb, 1, 1, 0, 0));
        assert_eq!((s.ss.type_, s.ldt.type_, s.tr.type_), (3, 2, 0xb));
        assert_eq!(s.ldt.unusable, 0);
        assert_eq!((s.gdt.limit, s.idt.limit), (0xffff, 0xffff));
        assert_eq!((s.cr0, s.rflags, s.rdx, s.xcr0), (0x10, 2, 0xa1_0f10, 1));
        assert_eq!((s.mxcsr, s.fcw), (0x1f80, 0x37f));
        assert_eq!(s.g_pat, 0x0007_0406_0007_0406);
    }

    #[test]
    fn svsm_vmsa_is_flat_protected_mode() {
        let s = VcpuState::from_vmsa(&svsm_vmsa(0x80_1234, 0)[..]).unwrap();
        assert_eq!((s.cs.selector, s.cs.limit, s.cs.db, s.cs.g, s.cr0, s.rip), (8, 0xffff_ffff, 1, 1, 0x11, 0x80_1234));
        assert!(VcpuState::from_vmsa(&[0; 100]).is_err());
    }
}
