//! The initial VMSA (SEV-ES save area) of each vCPU as KVM and the VMMs set it up. The launch digest
//! covers every vCPU's VMSA, so each register the VMM initialises differently changes the digest.

use super::vmm::ResetRdx;
pub use super::vmm::Vmm;
use crate::plan::PAGE_SIZE;

pub const VMSA_SIZE: usize = PAGE_SIZE as usize;
/// The GPA the PSP uses in PAGE_INFO for VMSA pages.
pub const VMSA_GPA: u64 = 0xFFFF_FFFF_F000;
/// Where the BSP starts.
pub const BSP_EIP: u32 = 0xffff_fff0;

/// A segment register in VMCB layout.
#[derive(Clone, Copy)]
struct Seg {
    selector: u16,
    attrib: u16,
    limit: u32,
    base: u64,
}

const fn seg(selector: u16, attrib: u16, limit: u32, base: u64) -> Seg {
    Seg { selector, attrib, limit, base }
}

/// Offsets in the save area (AMD APM vol. 2, table B-4); the loader reads VMSAs back into vCPU registers.
pub mod off {
    pub const ES: usize = 0x00;
    pub const CS: usize = 0x10;
    pub const SS: usize = 0x20;
    pub const DS: usize = 0x30;
    pub const FS: usize = 0x40;
    pub const GS: usize = 0x50;
    pub const GDTR: usize = 0x60;
    pub const LDTR: usize = 0x70;
    pub const IDTR: usize = 0x80;
    pub const TR: usize = 0x90;
    pub const EFER: usize = 0xd0;
    pub const CR4: usize = 0x148;
    pub const CR0: usize = 0x158;
    pub const DR7: usize = 0x160;
    pub const DR6: usize = 0x168;
    pub const RFLAGS: usize = 0x170;
    pub const RIP: usize = 0x178;
    pub const G_PAT: usize = 0x268;
    pub const RDX: usize = 0x310;
    pub const SEV_FEATURES: usize = 0x3b0;
    pub const XCR0: usize = 0x3e8;
    pub const MXCSR: usize = 0x408;
    pub const X87_FCW: usize = 0x410;
}

/// Registers that differ between the modelled VMMs and modes.
struct State {
    segs: [(usize, Seg); 10],
    cr0: u64,
    rip: u64,
    g_pat: u64,
    rdx: u64,
    sev_features: u64,
    mxcsr: u32,
    fcw: u16,
}

fn render(s: &State) -> Box<[u8; VMSA_SIZE]> {
    let mut p = Box::new([0u8; VMSA_SIZE]);
    let mut put = |at: usize, bytes: &[u8]| p[at..at + bytes.len()].copy_from_slice(bytes);
    for (at, sg) in s.segs {
        put(at, &sg.selector.to_le_bytes());
        put(at + 2, &sg.attrib.to_le_bytes());
        put(at + 4, &sg.limit.to_le_bytes());
        put(at + 8, &sg.base.to_le_bytes());
    }
    // KVM sets EFER.SVME and CR4.MCE for every SEV-ES vCPU.
    put(off::EFER, &0x1000u64.to_le_bytes());
    put(off::CR4, &0x40u64.to_le_bytes());
    put(off::CR0, &s.cr0.to_le_bytes());
    put(off::DR7, &0x400u64.to_le_bytes());
    put(off::DR6, &0xffff0ff0u64.to_le_bytes());
    put(off::RFLAGS, &2u64.to_le_bytes());
    put(off::RIP, &s.rip.to_le_bytes());
    put(off::G_PAT, &s.g_pat.to_le_bytes());
    put(off::RDX, &s.rdx.to_le_bytes());
    put(off::SEV_FEATURES, &s.sev_features.to_le_bytes());
    put(off::XCR0, &1u64.to_le_bytes());
    put(off::MXCSR, &s.mxcsr.to_le_bytes());
    put(off::X87_FCW, &s.fcw.to_le_bytes());
    p
}

/// The VMSA of a vCPU starting at `eip` in real mode (the OVMF reset path), as `vmm` sets it up.
pub fn reset_vmsa(eip: u32, sev_features: u64, vcpu_sig: u32, vmm: Vmm) -> Box<[u8; VMSA_SIZE]> {
    let r = vmm.profile().reset;
    let cs_attr = if eip == BSP_EIP { r.bsp_cs_attr } else { r.ap_cs_attr };
    let rdx = match r.rdx {
        ResetRdx::VcpuSig => vcpu_sig as u64,
        ResetRdx::Fixed(v) => v,
    };
    let (ss_attr, tr_attr, g_pat, mxcsr, fcw) = (r.ss_attr, r.tr_attr, r.g_pat, r.mxcsr, r.x87_fcw);
    let data = seg(0, 0x93, 0xffff, 0);
    render(&State {
        segs: [
            (off::ES, data),
            (off::CS, seg(0xf000, cs_attr, 0xffff, (eip & 0xffff_0000) as u64)),
            (off::SS, seg(0, ss_attr, 0xffff, 0)),
            (off::DS, data),
            (off::FS, data),
            (off::GS, data),
            (off::GDTR, seg(0, 0, 0xffff, 0)),
            (off::LDTR, seg(0, 0x82, 0xffff, 0)),
            (off::IDTR, seg(0, 0, 0xffff, 0)),
            (off::TR, seg(0, tr_attr, 0xffff, 0)),
        ],
        cr0: 0x10,
        rip: (eip & 0xffff) as u64,
        g_pat,
        rdx,
        sev_features,
        mxcsr,
        fcw,
    })
}

/// The VMSA every vCPU gets when a COCONUT SVSM is launched first (QEMU only): 32-bit protected mode
/// at the SVSM entry point.
pub fn svsm_vmsa(eip: u32, vcpu_sig: u32) -> Box<[u8; VMSA_SIZE]> {
    let flat = seg(16, 0xc93, 0xffff_ffff, 0);
    render(&State {
        segs: [
            (off::ES, flat),
            (off::CS, seg(8, 0xc9b, 0xffff_ffff, 0)),
            (off::SS, flat),
            (off::DS, flat),
            (off::FS, flat),
            (off::GS, seg(0, 0x93, 0xffff, 0)),
            (off::GDTR, seg(0, 0, 0xffff, 0)),
            (off::LDTR, seg(0, 0x82, 0xffff, 0)),
            (off::IDTR, seg(0, 0, 0xffff, 0)),
            (off::TR, seg(0, 0x8b, 0xffff, 0)),
        ],
        cr0: 0x11,
        rip: eip as u64,
        g_pat: Vmm::Qemu.profile().reset.g_pat,
        rdx: vcpu_sig as u64,
        sev_features: 1,
        mxcsr: 0x1f80,
        // sev-snp-measure passes the FPU control word under a name its save area does not have, so it
        // stays 0; the reference digests (and QEMU-with-SVSM users' reports) follow that.
        fcw: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u64_at(p: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(p[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn qemu_bsp_fields_land_at_their_offsets() {
        let p = reset_vmsa(BSP_EIP, 0x21, 0xa10f10, Vmm::Qemu);
        assert_eq!(&p[off::CS..off::CS + 4], &[0x00, 0xf0, 0x9b, 0x00]);
        assert_eq!(u64_at(&p[..], off::CS + 8), 0xffff_0000);
        assert_eq!(u64_at(&p[..], off::RIP), 0xfff0);
        assert_eq!(u64_at(&p[..], off::RDX), 0xa10f10);
        assert_eq!(u64_at(&p[..], off::SEV_FEATURES), 0x21);
        assert_eq!(u64_at(&p[..], off::G_PAT), 0x0007_0406_0007_0406);
        assert_eq!(&p[off::MXCSR..off::MXCSR + 4], &0x1f80u32.to_le_bytes());
        assert_eq!(&p[off::X87_FCW..off::X87_FCW + 2], &0x37fu16.to_le_bytes());
    }

    #[test]
    fn vmms_differ_where_documented() {
        let q = reset_vmsa(0x80b004, 1, 0x800f12, Vmm::Qemu);
        let e = reset_vmsa(0x80b004, 1, 0x800f12, Vmm::Ec2);
        let g = reset_vmsa(0x80b004, 1, 0x800f12, Vmm::Gce);
        assert_eq!(u64_at(&e[..], off::RDX), 0x600);
        assert_eq!(u64_at(&g[..], off::G_PAT), 0x70106);
        assert_eq!(e[off::SS + 2], 0x92);
        assert_eq!(e[off::CS + 2], 0x9b, "EC2 APs keep an accessed code segment");
        assert_eq!(reset_vmsa(BSP_EIP, 1, 0, Vmm::Ec2)[off::CS + 2], 0x9a);
        let diff = |a: &[u8], b: &[u8]| a.iter().zip(b).filter(|(x, y)| x != y).count();
        assert!(diff(&q[..], &e[..]) > 0 && diff(&q[..], &g[..]) > 0);
    }
}
