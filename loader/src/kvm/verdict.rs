//! From [`HostFacts`] to what can be launched here and how: per platform, either the launch path or
//! every reason it cannot launch, each naming what is missing and what would provide it.
//!
//! The two paths (see `loader/DESIGN.md`):
//! - **in place**: guest_memfd with MMAP | INIT_SHARED, the image written while shared, converted with
//!   KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, populated with a NULL source (the guest_memfd
//!   in-place conversion series, v8 and the linux-next merge);
//! - **mainline**: private-only guest_memfd, VM-level KVM_SET_MEMORY_ATTRIBUTES to private, populated
//!   from a page-aligned source buffer (released kernels).

use serde::Serialize;

use super::VmType;
use super::probe::HostFacts;

/// How guest memory is loaded and converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchPath {
    InPlace,
    Mainline,
}

impl LaunchPath {
    pub fn describe(self) -> &'static str {
        match self {
            LaunchPath::InPlace => {
                "in place: guest_memfd MMAP|INIT_SHARED written while shared, KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, NULL populate source"
            }
            LaunchPath::Mainline => {
                "mainline: private-only guest_memfd, VM-level KVM_SET_MEMORY_ATTRIBUTES, populate from page-aligned source buffers"
            }
        }
    }
}

/// Whether one platform can launch here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub platform: &'static str,
    /// The path, when nothing is missing.
    pub path: Option<LaunchPath>,
    /// Everything missing, most fundamental first.
    pub missing: Vec<String>,
}

impl Verdict {
    pub fn can_launch(&self) -> bool {
        self.path.is_some() && self.missing.is_empty()
    }

    /// One line: "SEV-SNP: can launch (in place: …)" or "SEV-SNP: cannot launch: a; b; c".
    pub fn line(&self) -> String {
        match (self.path, self.missing.is_empty()) {
            (Some(p), true) => format!("{}: can launch ({})", self.platform, p.describe()),
            _ => format!("{}: cannot launch: {}", self.platform, self.missing.join("; ")),
        }
    }
}

/// The path a VM of `t` would take, or why neither works.
pub fn path_for(f: &HostFacts, t: VmType) -> Result<LaunchPath, String> {
    let Some(vm) = f.vm(t).filter(|v| v.create.offered()) else {
        return Err(format!("no {} VM to probe guest_memfd on", t.name()));
    };
    if !vm.guest_memfd || !vm.user_memory2 {
        return Err("this KVM lacks KVM_CAP_GUEST_MEMFD or KVM_CAP_USER_MEMORY2".into());
    }
    if f.in_place.enabled() && vm.in_place_flags() {
        return Ok(LaunchPath::InPlace);
    }
    if vm.vm_private_attribute() {
        return Ok(LaunchPath::Mainline);
    }
    let mut why = format!(
        "guest_memfd flags {:#x} on a {} VM (in place needs MMAP|INIT_SHARED = 0x3) and {}",
        vm.guest_memfd_flags,
        t.name(),
        f.in_place.attributes2_ioctl.reason().unwrap_or("KVM_SET_MEMORY_ATTRIBUTES2 answers")
    );
    why.push_str(&format!("; KVM_CAP_MEMORY_ATTRIBUTES is {:#x} (mainline needs the PRIVATE attribute, 0x8)", vm.memory_attributes));
    Err(why)
}

fn kvm_missing(f: &HostFacts, out: &mut Vec<String>) -> bool {
    if let Some(why) = f.kvm.reason() {
        out.push(why.to_owned());
        return true;
    }
    false
}

fn offers(f: &HostFacts, t: VmType) -> bool {
    f.vm_types & (1 << t.raw()) != 0
}

fn param_line(f: &HostFacts, module: &str, name: &str) -> Option<String> {
    let p = f.param(module, name)?;
    match p.flag() {
        Some(true) => None,
        Some(false) => Some(format!("{module}.{name}=N")),
        None if p.value.is_none() => Some(format!("{module} is not loaded")),
        None => Some(format!("{module}.{name}={}", p.value.as_deref().unwrap_or(""))),
    }
}

fn path_missing(f: &HostFacts, t: VmType, missing: &mut Vec<String>) -> Option<LaunchPath> {
    if !offers(f, t) || !missing.is_empty() {
        return None;
    }
    match path_for(f, t) {
        Ok(p) => Some(p),
        Err(why) => {
            missing.push(why);
            None
        }
    }
}

/// SEV-SNP: an AMD CPU with SNP, kvm_amd with sev_snp=Y, the SNP VM type, /dev/sev, and a path.
pub fn snp(f: &HostFacts) -> Verdict {
    let mut missing = Vec::new();
    let amd = f.cpu.vendor == "AuthenticAMD";
    if !amd {
        missing.push(format!(
            "the CPU is {} ({}), SEV-SNP needs an AMD EPYC (Milan or later)",
            f.cpu.vendor,
            f.cpu.model_name.as_deref().unwrap_or("?")
        ));
    } else if !f.cpu.sev.as_ref().is_some_and(|s| s.snp) {
        let why = if f.cpu.hypervisor { " (this host is itself a guest: nested SEV-SNP is not offered)" } else { "" };
        missing.push(format!("CPUID Fn8000_001F reports no SEV-SNP{why}"));
    }
    if !kvm_missing(f, &mut missing) {
        if amd {
            if let Some(p) = param_line(f, "kvm_amd", "sev_snp") {
                missing.push(format!("{p} (SEV-SNP must be enabled in the firmware and in kvm_amd)"));
            }
        } else if !f.kvm_modules.iter().any(|m| m == "kvm_amd") {
            missing.push(format!("kvm_amd is not loaded (KVM here: {})", f.kvm_modules.join(", ")));
        }
        if !offers(f, VmType::Snp) {
            missing.push(format!("KVM_CAP_VM_TYPES offers {}, not snp (4)", super::vm_type_names(f.vm_types)));
        }
    }
    if let Some(why) = f.dev_sev.reason() {
        missing.push(format!("/dev/sev {why}"));
    }
    let path = path_missing(f, VmType::Snp, &mut missing);
    Verdict { platform: "SEV-SNP", path, missing }
}

/// TDX: an Intel CPU, kvm_intel with tdx=Y, the TDX VM type, KVM_TDX_CAPABILITIES, and a path.
pub fn tdx(f: &HostFacts) -> Verdict {
    let mut missing = Vec::new();
    let intel = f.cpu.vendor == "GenuineIntel";
    if !intel {
        missing.push(format!(
            "the CPU is {} ({}), TDX needs an Intel Xeon with TDX (Sapphire Rapids or later)",
            f.cpu.vendor,
            f.cpu.model_name.as_deref().unwrap_or("?")
        ));
    } else if f.cpu.hypervisor {
        missing.push("this host is itself a guest (CPUID.1:ECX.hypervisor): TDX is not offered to nested hypervisors".into());
    }
    if !kvm_missing(f, &mut missing) {
        if intel && f.kvm_modules.iter().any(|m| m == "kvm_intel") {
            if let Some(p) = param_line(f, "kvm_intel", "tdx") {
                missing.push(format!("{p} (TDX must be enabled in the BIOS and with kvm_intel.tdx=1)"));
            }
        } else {
            missing.push(format!("kvm_intel is not loaded (KVM here: {})", f.kvm_modules.join(", ")));
        }
        if !offers(f, VmType::Tdx) {
            missing.push(format!("KVM_CAP_VM_TYPES offers {}, not tdx (5)", super::vm_type_names(f.vm_types)));
        }
    }
    if let Some(Err(why)) = &f.tdx_caps {
        missing.push(why.clone());
    }
    let path = path_missing(f, VmType::Tdx, &mut missing);
    Verdict { platform: "TDX", path, missing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvm::probe::{CpuFacts, InPlaceFacts, ModuleParam, Offer, SevCpuid, VmFacts};

    fn vm(t: VmType, flags: u64, attrs: u64) -> VmFacts {
        VmFacts {
            vm_type: t.name(),
            number: t.raw(),
            create: Offer::Yes,
            guest_memfd: true,
            user_memory2: true,
            guest_memfd_flags: flags,
            memory_attributes: attrs,
        }
    }

    /// An SNP host: `in_place` selects the v8 kernel (INIT_SHARED and the gmem ioctl), else mainline.
    fn snp_host(in_place: bool) -> HostFacts {
        HostFacts {
            kernel: Some("test".into()),
            kvm: Offer::Yes,
            cpu: CpuFacts {
                vendor: "AuthenticAMD".into(),
                model_name: Some("AMD EPYC 9654".into()),
                hypervisor: false,
                sev: Some(SevCpuid { sev: true, sev_es: true, snp: true, cbitpos: 51, reduced_phys_bits: 1 }),
            },
            vm_types: 0b1_1101,
            kvm_modules: vec!["kvm".into(), "kvm_amd".into()],
            params: vec![ModuleParam { module: "kvm_amd", name: "sev_snp", value: Some("Y".into()) }],
            dev_sev: Offer::Yes,
            sev_vmsa_features: Some(0x3e),
            in_place: InPlaceFacts {
                attributes2_ioctl: if in_place { Offer::Yes } else { Offer::No("ENOTTY".into()) },
                gmem_in_place_conversion: ModuleParam {
                    module: "kvm",
                    name: "gmem_in_place_conversion",
                    value: in_place.then(|| "Y".into()),
                },
                vm_memory_attributes: ModuleParam { module: "kvm", name: "vm_memory_attributes", value: None },
            },
            vms: vec![vm(VmType::Default, 3, 0), if in_place { vm(VmType::Snp, 3, 0) } else { vm(VmType::Snp, 1, 8) }],
            tdx_caps: None,
        }
    }

    #[test]
    fn the_probe_chooses_in_place_or_mainline() {
        assert_eq!(snp(&snp_host(true)).path, Some(LaunchPath::InPlace));
        assert_eq!(snp(&snp_host(false)).path, Some(LaunchPath::Mainline));
        assert!(snp(&snp_host(true)).line().starts_with("SEV-SNP: can launch (in place"));
    }

    #[test]
    fn the_module_parameter_alone_does_not_choose_in_place() {
        let mut h = snp_host(true);
        h.in_place.attributes2_ioctl = Offer::No("ENOTTY".into());
        h.vms[1].memory_attributes = 0;
        let v = snp(&h);
        assert_eq!(v.path, None);
        assert!(v.line().contains("ENOTTY") && v.line().contains("KVM_CAP_MEMORY_ATTRIBUTES is 0x0"), "{}", v.line());
    }

    #[test]
    fn an_intel_guest_host_names_every_missing_piece_on_one_line() {
        let mut h = snp_host(false);
        h.cpu = CpuFacts { vendor: "GenuineIntel".into(), model_name: Some("Intel(R) Xeon(R)".into()), hypervisor: true, sev: None };
        h.vm_types = 1;
        h.kvm_modules = vec!["kvm".into(), "kvm_pvm".into()];
        h.params = vec![ModuleParam { module: "kvm_intel", name: "tdx", value: None }];
        h.dev_sev = Offer::No("absent (no AMD SEV firmware driver: ccp)".into());
        h.vms.truncate(1);
        let s = snp(&h).line();
        assert!(s.starts_with("SEV-SNP: cannot launch: the CPU is GenuineIntel"), "{s}");
        assert!(s.contains("kvm_amd is not loaded") && s.contains("not snp (4)") && s.contains("/dev/sev absent"), "{s}");
        let t = tdx(&h).line();
        assert!(t.starts_with("TDX: cannot launch: this host is itself a guest"), "{t}");
        assert!(t.contains("kvm_intel is not loaded (KVM here: kvm, kvm_pvm)") && t.contains("not tdx (5)"), "{t}");
        assert!(!s.contains('\n') && !t.contains('\n'));
    }
}
