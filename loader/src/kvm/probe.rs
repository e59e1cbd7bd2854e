//! What this host offers for a confidential launch, probed at run time (`prelaunch load --platform hw
//! --probe`): the VM types, guest_memfd flags per VM type, whether in-place conversion is enabled (by
//! trying KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd and by reading the kvm module parameter, never
//! by a capability number: it moved four times in the series), VM-level memory attributes, the SEV
//! CPUID leaf and KVM's SEV VMSA features, KVM_TDX_CAPABILITIES and /dev/sev.
//!
//! [`HostFacts`] is only what was read; [`super::verdict`] turns facts into per-platform verdicts
//! and the launch path, so the reasoning is tested on facts from any host (or from the fake kernels).

use std::os::fd::{FromRawFd, OwnedFd};

use kvm_bindings::kvm_create_guest_memfd;
use serde::Serialize;

use super::uapi::{
    GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_CAP_GUEST_MEMFD, KVM_CAP_GUEST_MEMFD_FLAGS, KVM_CAP_MEMORY_ATTRIBUTES,
    KVM_CAP_USER_MEMORY2, KVM_GET_DEVICE_ATTR, KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_X86_GRP_SEV, KVM_X86_SEV_VMSA_FEATURES,
    KvmMemoryAttributes2,
};
use super::{VmType, offered_vm_types, open_kvm};
use crate::sys::{errno_name, ioctl_ptr};

/// Whether one thing is offered, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "offered", content = "reason", rename_all = "snake_case")]
pub enum Offer {
    Yes,
    No(String),
}

impl Offer {
    pub fn offered(&self) -> bool {
        matches!(self, Offer::Yes)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Offer::Yes => None,
            Offer::No(r) => Some(r),
        }
    }
}

/// The SEV leaf of this CPU (CPUID Fn8000_001F), AMD APM vol. 3 "Function 8000_001Fh".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SevCpuid {
    pub sev: bool,
    pub sev_es: bool,
    pub snp: bool,
    /// EBX[5:0]: the C-bit position in a page-table entry.
    pub cbitpos: u8,
    /// EBX[11:6]: physical address bits lost when memory encryption is on.
    pub reduced_phys_bits: u8,
}

/// The host CPU as CPUID describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CpuFacts {
    /// "AuthenticAMD", "GenuineIntel", …
    pub vendor: String,
    pub model_name: Option<String>,
    /// CPUID.1:ECX[31]: this host is itself a guest (nested virtualisation never offers SNP/TDX).
    pub hypervisor: bool,
    /// `None` when the CPU has no Fn8000_001F leaf.
    pub sev: Option<SevCpuid>,
}

/// A kernel module parameter as read from /sys/module/MODULE/parameters/NAME.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleParam {
    pub module: &'static str,
    pub name: &'static str,
    /// `None`: the module is not loaded or has no such parameter (in this kernel revision).
    pub value: Option<String>,
}

impl ModuleParam {
    fn read(module: &'static str, name: &'static str) -> Self {
        let path = format!("/sys/module/{module}/parameters/{name}");
        let value = std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned());
        ModuleParam { module, name, value }
    }

    /// `Some(true)` for Y/1, `Some(false)` for N/0.
    pub fn flag(&self) -> Option<bool> {
        match self.value.as_deref()? {
            "Y" | "y" | "1" => Some(true),
            "N" | "n" | "0" => Some(false),
            _ => None,
        }
    }
}

/// The in-place conversion switch: the ioctl answer and the module parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InPlaceFacts {
    /// KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd: a zero-length request is refused with EINVAL by
    /// a kernel with in-place conversion enabled and ENOTTY by one without (or with it disabled).
    pub attributes2_ioctl: Offer,
    /// `kvm.gmem_in_place_conversion` (series v8: Y means in place).
    pub gmem_in_place_conversion: ModuleParam,
    /// `kvm.vm_memory_attributes` (series v1..v7 and the linux-next merge: N means in place).
    pub vm_memory_attributes: ModuleParam,
}

impl InPlaceFacts {
    /// What the module parameters say, whichever revision this kernel carries.
    pub fn param_says(&self) -> Option<bool> {
        self.gmem_in_place_conversion.flag().or_else(|| self.vm_memory_attributes.flag().map(|v| !v))
    }

    /// In place only when the ioctl answers; a parameter alone is not enough (and is reported).
    pub fn enabled(&self) -> bool {
        self.attributes2_ioctl.offered()
    }
}

/// One VM type as this KVM offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmFacts {
    pub vm_type: &'static str,
    pub number: u64,
    /// KVM_CREATE_VM with this type.
    pub create: Offer,
    pub guest_memfd: bool,
    pub user_memory2: bool,
    /// KVM_CAP_GUEST_MEMFD_FLAGS on this VM.
    pub guest_memfd_flags: u64,
    /// KVM_CAP_MEMORY_ATTRIBUTES on this VM: what the VM-level KVM_SET_MEMORY_ATTRIBUTES takes.
    pub memory_attributes: u64,
}

impl VmFacts {
    pub fn in_place_flags(&self) -> bool {
        let want = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
        self.guest_memfd_flags & want == want
    }

    pub fn vm_private_attribute(&self) -> bool {
        self.memory_attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE != 0
    }
}

/// KVM_TDX_CAPABILITIES, as far as the verdict and TD parameters need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdxCapsFacts {
    pub supported_attrs: u64,
    pub supported_xfam: u64,
    /// Configurable CPUID leaves (function, index).
    pub cpuid_leaves: Vec<(u32, u32)>,
}

/// Everything read about the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    pub kernel: Option<String>,
    /// /dev/kvm: opened, or why not.
    pub kvm: Offer,
    pub cpu: CpuFacts,
    /// KVM_CAP_VM_TYPES (1 = default only).
    pub vm_types: u64,
    /// kvm_amd, kvm_intel, kvm_pvm, … as found in /sys/module.
    pub kvm_modules: Vec<String>,
    pub params: Vec<ModuleParam>,
    /// /dev/sev (the AMD firmware driver, ccp).
    pub dev_sev: Offer,
    /// KVM_GET_DEVICE_ATTR(KVM_X86_GRP_SEV, KVM_X86_SEV_VMSA_FEATURES) on /dev/kvm.
    pub sev_vmsa_features: Option<u64>,
    pub in_place: InPlaceFacts,
    pub vms: Vec<VmFacts>,
    /// `None` when no TDX VM could be created to ask.
    pub tdx_caps: Option<Result<TdxCapsFacts, String>>,
}

impl HostFacts {
    pub fn vm(&self, t: VmType) -> Option<&VmFacts> {
        self.vms.iter().find(|v| v.number == t.raw())
    }

    pub fn param(&self, module: &str, name: &str) -> Option<&ModuleParam> {
        self.params.iter().find(|p| p.module == module && p.name == name)
    }
}

fn cpu_facts() -> CpuFacts {
    use std::arch::x86_64::__cpuid;
    let leaf0 = __cpuid(0);
    let mut vendor = Vec::with_capacity(12);
    for r in [leaf0.ebx, leaf0.edx, leaf0.ecx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    let hypervisor = __cpuid(1).ecx & (1 << 31) != 0;
    let max_ext = __cpuid(0x8000_0000).eax;
    let sev = (max_ext >= 0x8000_001f).then(|| {
        let l = __cpuid(0x8000_001f);
        SevCpuid {
            sev: l.eax & (1 << 1) != 0,
            sev_es: l.eax & (1 << 3) != 0,
            snp: l.eax & (1 << 4) != 0,
            cbitpos: (l.ebx & 0x3f) as u8,
            reduced_phys_bits: ((l.ebx >> 6) & 0x3f) as u8,
        }
    });
    let model_name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_owned()));
    CpuFacts { vendor: String::from_utf8_lossy(&vendor).into_owned(), model_name, hypervisor, sev }
}

/// This host's SEV leaf (C-bit position, reduced physical address bits), if it has one.
pub fn host_sev_cpuid() -> Option<SevCpuid> {
    cpu_facts().sev
}

fn kvm_modules() -> Vec<String> {
    let mut m: Vec<String> = std::fs::read_dir("/sys/module")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with("kvm")).collect())
        .unwrap_or_default();
    m.sort();
    m
}

fn dev_sev() -> Offer {
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/sev") {
        Ok(_) => Offer::Yes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Offer::No("absent (no AMD SEV firmware driver: ccp)".into()),
        Err(e) => Offer::No(format!("cannot open: {e}")),
    }
}

/// KVM_GET_DEVICE_ATTR on the system fd.
fn sev_vmsa_features(kvm: &kvm_ioctls::Kvm) -> Option<u64> {
    let mut value = 0u64;
    let mut attr = kvm_bindings::kvm_device_attr {
        flags: 0,
        group: KVM_X86_GRP_SEV,
        attr: KVM_X86_SEV_VMSA_FEATURES,
        addr: &mut value as *mut u64 as u64,
    };
    // SAFETY: `attr` is a live kvm_device_attr whose `addr` points to a live u64 that KVM writes.
    unsafe { ioctl_ptr(kvm, KVM_GET_DEVICE_ATTR, &mut attr as *mut kvm_bindings::kvm_device_attr) }.ok().map(|_| value)
}

/// Tries KVM_SET_MEMORY_ATTRIBUTES2 with a zero-length request on a guest_memfd of `vm`.
pub(crate) fn try_attributes2(fd: &OwnedFd) -> Offer {
    let mut a = KvmMemoryAttributes2 { attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
    // SAFETY: `a` is a live KvmMemoryAttributes2, the 128-byte struct the request encodes.
    match unsafe { ioctl_ptr(fd, super::uapi::KVM_SET_MEMORY_ATTRIBUTES2, &mut a as *mut KvmMemoryAttributes2) } {
        // A zero-length range is invalid: EINVAL means the ioctl exists and is enabled.
        Ok(_) | Err(libc::EINVAL) => Offer::Yes,
        Err(libc::ENOTTY) => Offer::No("KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd: ENOTTY (no in-place conversion)".into()),
        Err(e) => Offer::No(format!("KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd: {}", errno_name(e))),
    }
}

fn vm_facts(kvm: &kvm_ioctls::Kvm, t: VmType, in_place_probe: &mut Option<Offer>) -> VmFacts {
    let mut f = VmFacts {
        vm_type: t.name(),
        number: t.raw(),
        create: Offer::Yes,
        guest_memfd: false,
        user_memory2: false,
        guest_memfd_flags: 0,
        memory_attributes: 0,
    };
    let vm = match kvm.create_vm_with_type(t.raw()) {
        Ok(vm) => vm,
        Err(e) => {
            f.create = Offer::No(format!("KVM_CREATE_VM: {}", errno_name(e.errno())));
            return f;
        }
    };
    f.guest_memfd = vm.check_extension_raw(KVM_CAP_GUEST_MEMFD) > 0;
    f.user_memory2 = vm.check_extension_raw(KVM_CAP_USER_MEMORY2) > 0;
    f.guest_memfd_flags = vm.check_extension_raw(KVM_CAP_GUEST_MEMFD_FLAGS).max(0) as u64;
    f.memory_attributes = vm.check_extension_raw(KVM_CAP_MEMORY_ATTRIBUTES).max(0) as u64;
    if f.guest_memfd && in_place_probe.is_none() {
        let gmem = kvm_create_guest_memfd { size: 4096, flags: 0, reserved: [0; 6] };
        *in_place_probe = Some(match vm.create_guest_memfd(gmem) {
            // SAFETY: a new descriptor returned by KVM_CREATE_GUEST_MEMFD, owned by nothing else.
            Ok(raw) => try_attributes2(&unsafe { OwnedFd::from_raw_fd(raw) }),
            Err(e) => Offer::No(format!("KVM_CREATE_GUEST_MEMFD: {}", errno_name(e.errno()))),
        });
    }
    f
}

/// Reads every fact; never fails (what cannot be read is recorded as such).
pub fn probe() -> HostFacts {
    let params = vec![
        ModuleParam::read("kvm_amd", "sev"),
        ModuleParam::read("kvm_amd", "sev_es"),
        ModuleParam::read("kvm_amd", "sev_snp"),
        ModuleParam::read("kvm_intel", "tdx"),
    ];
    let in_place_params = (ModuleParam::read("kvm", "gmem_in_place_conversion"), ModuleParam::read("kvm", "vm_memory_attributes"));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned());
    let mut facts = HostFacts {
        kernel,
        kvm: Offer::Yes,
        cpu: cpu_facts(),
        vm_types: 0,
        kvm_modules: kvm_modules(),
        params,
        dev_sev: dev_sev(),
        sev_vmsa_features: None,
        in_place: InPlaceFacts {
            attributes2_ioctl: Offer::No("not probed: no guest_memfd".into()),
            gmem_in_place_conversion: in_place_params.0,
            vm_memory_attributes: in_place_params.1,
        },
        vms: Vec::new(),
        tdx_caps: None,
    };
    let kvm = match open_kvm() {
        Ok(k) => k,
        Err(e) => {
            facts.kvm = Offer::No(e.to_string());
            return facts;
        }
    };
    facts.vm_types = offered_vm_types(&kvm);
    facts.sev_vmsa_features = sev_vmsa_features(&kvm);
    let mut in_place = None;
    for t in [VmType::Default, VmType::Snp, VmType::Tdx] {
        facts.vms.push(vm_facts(&kvm, t, &mut in_place));
    }
    if let Some(o) = in_place {
        facts.in_place.attributes2_ioctl = o;
    }
    if facts.vm(VmType::Tdx).is_some_and(|v| v.create.offered()) {
        facts.tdx_caps = Some(super::tdx_caps::query(&kvm));
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_params_read_as_flags() {
        let p = |v: &str| ModuleParam { module: "kvm", name: "x", value: Some(v.into()) };
        assert_eq!(p("Y").flag(), Some(true));
        assert_eq!(p("N").flag(), Some(false));
        assert_eq!(p("maybe").flag(), None);
        assert_eq!(ModuleParam { module: "kvm", name: "x", value: None }.flag(), None);
    }

    #[test]
    fn in_place_parameter_names_of_both_revisions() {
        let f = |g: Option<&str>, v: Option<&str>| InPlaceFacts {
            attributes2_ioctl: Offer::No("x".into()),
            gmem_in_place_conversion: ModuleParam { module: "kvm", name: "gmem_in_place_conversion", value: g.map(Into::into) },
            vm_memory_attributes: ModuleParam { module: "kvm", name: "vm_memory_attributes", value: v.map(Into::into) },
        };
        assert_eq!(f(Some("Y"), None).param_says(), Some(true));
        assert_eq!(f(None, Some("N")).param_says(), Some(true), "v7: per-VM attributes off means in place");
        assert_eq!(f(None, Some("Y")).param_says(), Some(false));
        assert_eq!(f(None, None).param_says(), None);
        assert!(!f(Some("Y"), None).enabled(), "the parameter alone does not enable the path: the ioctl must answer");
    }

    #[test]
    fn probing_this_host_never_fails() {
        let f = probe();
        assert!(!f.cpu.vendor.is_empty());
        if f.kvm.offered() {
            assert!(f.vm_types & 1 == 1, "the default VM type is always offered: {:#x}", f.vm_types);
            assert_eq!(f.vms.len(), 3);
        }
    }
}
