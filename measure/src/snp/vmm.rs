//! What each modelled VMM does differently in an SEV-ES/SNP launch, in one table: how it populates
//! the firmware's SNP_SEC_MEM sections, when it populates the CPUID page, and the vCPU reset state it
//! gives KVM (which ends up in every VMSA, so in the digest). Everything VMM-specific reads this
//! table; a new VMM is one new [`Vmm`] variant and one [`VmmProfile`].

use serde::{Deserialize, Serialize};

use super::PageType;

/// The VMM whose launch is modelled. The serde and CLI names are sev-snp-measure's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Vmm {
    #[serde(rename = "QEMU")]
    Qemu,
    #[serde(rename = "ec2")]
    Ec2,
    #[serde(rename = "gce")]
    Gce,
}

/// Where a VMM's vCPUs get RDX (CPUID 1 EAX at reset on real hardware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRdx {
    /// The vCPU signature the user gives (`--vcpu-type`, `--vcpu-sig`, family/model/stepping).
    VcpuSig,
    /// A fixed value, whatever the vCPU type.
    Fixed(u64),
}

/// The registers a VMM initialises differently in the real-mode reset VMSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetState {
    /// CS attributes of the BSP and of the APs.
    pub bsp_cs_attr: u16,
    pub ap_cs_attr: u16,
    pub ss_attr: u16,
    pub tr_attr: u16,
    pub g_pat: u64,
    pub rdx: ResetRdx,
    pub mxcsr: u32,
    pub x87_fcw: u16,
}

/// One VMM's launch behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmmProfile {
    pub vmm: Vmm,
    /// The page type SNP_SEC_MEM sections are populated with (GCE: UNMEASURED; others ZERO).
    pub sec_mem: PageType,
    /// The CPUID page is populated after every other metadata section (EC2), not in metadata order.
    pub cpuid_last: bool,
    /// An SVSM launch (`snp:svsm`) is modelled for this VMM.
    pub svsm: bool,
    pub reset: ResetState,
}

const DEFAULT_PAT: u64 = 0x0007_0406_0007_0406;

const QEMU: VmmProfile = VmmProfile {
    vmm: Vmm::Qemu,
    sec_mem: PageType::Zero,
    cpuid_last: false,
    svsm: true,
    reset: ResetState {
        bsp_cs_attr: 0x9b,
        ap_cs_attr: 0x9b,
        ss_attr: 0x93,
        tr_attr: 0x8b,
        g_pat: DEFAULT_PAT,
        rdx: ResetRdx::VcpuSig,
        mxcsr: 0x1f80,
        x87_fcw: 0x37f,
    },
};

/// EC2 starts the BSP with a non-accessed code segment and uses a busy 16-bit TSS and a
/// non-accessed SS; RDX is fixed and the FPU state is zero.
const EC2: VmmProfile = VmmProfile {
    vmm: Vmm::Ec2,
    sec_mem: PageType::Zero,
    cpuid_last: true,
    svsm: false,
    reset: ResetState {
        bsp_cs_attr: 0x9a,
        ap_cs_attr: 0x9b,
        ss_attr: 0x92,
        tr_attr: 0x83,
        g_pat: DEFAULT_PAT,
        rdx: ResetRdx::Fixed(0x600),
        mxcsr: 0,
        x87_fcw: 0,
    },
};

const GCE: VmmProfile = VmmProfile {
    vmm: Vmm::Gce,
    sec_mem: PageType::Unmeasured,
    cpuid_last: false,
    svsm: false,
    reset: ResetState {
        bsp_cs_attr: 0x9b,
        ap_cs_attr: 0x9b,
        ss_attr: 0x93,
        tr_attr: 0x8b,
        g_pat: 0x0007_0106,
        rdx: ResetRdx::Fixed(0x600),
        mxcsr: 0,
        x87_fcw: 0,
    },
};

impl Vmm {
    pub const ALL: [Vmm; 3] = [Vmm::Qemu, Vmm::Ec2, Vmm::Gce];

    /// Parses the names sev-snp-measure accepts (exact case).
    pub fn from_name(s: &str) -> Option<Vmm> {
        Vmm::ALL.into_iter().find(|v| v.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Vmm::Qemu => "QEMU",
            Vmm::Ec2 => "ec2",
            Vmm::Gce => "gce",
        }
    }

    /// What this VMM does differently.
    pub fn profile(self) -> &'static VmmProfile {
        match self {
            Vmm::Qemu => &QEMU,
            Vmm::Ec2 => &EC2,
            Vmm::Gce => &GCE,
        }
    }

    /// Whether the vCPU signature enters this VMM's VMSAs (so a vCPU type must be given).
    pub fn measures_vcpu_sig(self) -> bool {
        self.profile().reset.rdx == ResetRdx::VcpuSig
    }
}

impl std::fmt::Display for Vmm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_profiles_are_their_own() {
        for v in Vmm::ALL {
            assert_eq!(Vmm::from_name(v.name()), Some(v));
            assert_eq!(v.profile().vmm, v);
        }
        assert_eq!(Vmm::from_name("qemu"), None, "exact case, as sev-snp-measure");
        assert!(Vmm::Qemu.measures_vcpu_sig() && !Vmm::Ec2.measures_vcpu_sig() && !Vmm::Gce.measures_vcpu_sig());
    }
}
