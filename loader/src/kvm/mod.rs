//! The KVM VM: opening /dev/kvm, probing what this KVM offers (VM types, guest_memfd flags) and
//! creating the VM with the type the platform needs. Messages name what is missing, never an errno alone.

pub mod probe;
pub mod tdx_caps;
pub mod uapi;
pub mod verdict;

use kvm_ioctls::{Kvm, VmFd};

use crate::sys::errno_name;
use uapi::{KVM_CAP_GUEST_MEMFD, KVM_CAP_GUEST_MEMFD_FLAGS, KVM_CAP_USER_MEMORY2, KVM_CAP_VM_TYPES};

/// The VM types the loader creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmType {
    /// `KVM_X86_DEFAULT_VM` (0): the sim platform, and the guest probe.
    Default,
    /// `KVM_X86_SNP_VM` (4).
    Snp,
    /// `KVM_X86_TDX_VM` (5).
    Tdx,
}

impl VmType {
    pub fn raw(self) -> u64 {
        match self {
            VmType::Default => uapi::KVM_X86_DEFAULT_VM,
            VmType::Snp => uapi::KVM_X86_SNP_VM,
            VmType::Tdx => uapi::KVM_X86_TDX_VM,
        }
    }

    /// "default", "snp" or "tdx" (the KVM_CAP_VM_TYPES names).
    pub fn name(self) -> &'static str {
        match self {
            VmType::Default => "default",
            VmType::Snp => "snp",
            VmType::Tdx => "tdx",
        }
    }

    fn requirement(self) -> &'static str {
        match self {
            VmType::Default => "",
            VmType::Snp => "an AMD EPYC host with SEV-SNP enabled in its firmware, the ccp driver and kvm_amd.sev_snp=1",
            VmType::Tdx => "an Intel host with TDX enabled in its firmware and kvm_intel.tdx=1",
        }
    }

    fn platform_name(self) -> &'static str {
        match self {
            VmType::Default => "default",
            VmType::Snp => "SEV-SNP",
            VmType::Tdx => "TDX",
        }
    }
}

/// Names of the x86 VM types, by number.
const VM_TYPE_NAMES: [&str; 6] = ["default", "sw_protected", "sev", "sev_es", "snp", "tdx"];

/// "default (0), snp (4)" for a KVM_CAP_VM_TYPES mask.
pub fn vm_type_names(mask: u64) -> String {
    let names: Vec<String> = (0..64)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| format!("{} ({b})", VM_TYPE_NAMES.get(b as usize).copied().unwrap_or("unknown")))
        .collect();
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// Why KVM cannot be used as asked.
#[derive(Debug, thiserror::Error)]
pub enum KvmError {
    #[error("/dev/kvm: {0}")]
    Open(String),
    #[error(
        "this KVM cannot create {platform} VMs: KVM_CAP_VM_TYPES offers {offered}; {platform} needs {name} ({number}), which takes {requirement}"
    )]
    VmType { platform: &'static str, offered: String, name: &'static str, number: u64, requirement: &'static str },
    #[error("KVM_CREATE_VM (type {vm_type}): {errno}")]
    CreateVm { vm_type: u64, errno: String },
    #[error("this KVM lacks {cap}, which loading into guest_memfd needs")]
    MissingCap { cap: &'static str },
    #[error(
        "this KVM's guest_memfd cannot be mapped by the host: KVM_CAP_GUEST_MEMFD_FLAGS is {flags:#x}, in-place loading needs MMAP (1) | INIT_SHARED (2)"
    )]
    NotMappable { flags: u64 },
}

/// A VM and the /dev/kvm handle it came from.
pub struct Vm {
    kvm: Kvm,
    fd: VmFd,
    vm_type: VmType,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").field("vm_type", &self.vm_type).finish_non_exhaustive()
    }
}

/// Opens /dev/kvm with a message that says what the errno means here.
pub fn open_kvm() -> Result<Kvm, KvmError> {
    Kvm::new().map_err(|e| {
        let why = match e.errno() {
            libc::ENOENT => "not present: this host has no KVM (load kvm_amd or kvm_intel, or run on a host with virtualisation)".into(),
            libc::EACCES | libc::EPERM => "permission denied: run as root or join the kvm group".into(),
            n => format!("cannot open: {}", errno_name(n)),
        };
        KvmError::Open(why)
    })
}

/// The VM types this KVM offers (KVM_CAP_VM_TYPES); a KVM without the capability offers the default only.
pub fn offered_vm_types(kvm: &Kvm) -> u64 {
    match kvm.check_extension_raw(KVM_CAP_VM_TYPES) {
        n if n > 0 => n as u64,
        _ => 1,
    }
}

impl Vm {
    /// Creates a VM of `vm_type`, first checking that this KVM offers the type.
    pub fn create(vm_type: VmType) -> Result<Vm, KvmError> {
        let kvm = open_kvm()?;
        let offered = offered_vm_types(&kvm);
        if offered & (1 << vm_type.raw()) == 0 {
            return Err(KvmError::VmType {
                platform: vm_type.platform_name(),
                offered: vm_type_names(offered),
                name: match vm_type {
                    VmType::Default => "KVM_X86_DEFAULT_VM",
                    VmType::Snp => "KVM_X86_SNP_VM",
                    VmType::Tdx => "KVM_X86_TDX_VM",
                },
                number: vm_type.raw(),
                requirement: vm_type.requirement(),
            });
        }
        let fd = kvm
            .create_vm_with_type(vm_type.raw())
            .map_err(|e| KvmError::CreateVm { vm_type: vm_type.raw(), errno: errno_name(e.errno()) })?;
        Ok(Vm { kvm, fd, vm_type })
    }

    pub fn fd(&self) -> &VmFd {
        &self.fd
    }

    pub fn kvm(&self) -> &Kvm {
        &self.kvm
    }

    pub fn vm_type(&self) -> VmType {
        self.vm_type
    }

    /// KVM_CHECK_EXTENSION on the VM fd (answers for this VM's type).
    pub fn check(&self, cap: u64) -> i32 {
        self.fd.check_extension_raw(cap)
    }

    /// Checks guest_memfd and USER_MEMORY2 support; the guest_memfd flags this VM accepts.
    pub fn guest_memfd_flags(&self) -> Result<u64, KvmError> {
        if self.check(KVM_CAP_GUEST_MEMFD) <= 0 {
            return Err(KvmError::MissingCap { cap: "KVM_CAP_GUEST_MEMFD (234)" });
        }
        if self.check(KVM_CAP_USER_MEMORY2) <= 0 {
            return Err(KvmError::MissingCap { cap: "KVM_CAP_USER_MEMORY2 (231)" });
        }
        Ok(self.check(KVM_CAP_GUEST_MEMFD_FLAGS).max(0) as u64)
    }
}

/// Whether this host can run the guest_memfd memory path (a default VM with mappable, initially
/// shared guest_memfd); the reason when it cannot. Tests use it to decide between running and
/// skipping loudly.
pub fn guest_memfd_usable() -> Result<(), String> {
    let vm = Vm::create(VmType::Default).map_err(|e| e.to_string())?;
    let flags = vm.guest_memfd_flags().map_err(|e| e.to_string())?;
    let want = uapi::GUEST_MEMFD_FLAG_MMAP | uapi::GUEST_MEMFD_FLAG_INIT_SHARED;
    if flags & want != want {
        return Err(KvmError::NotMappable { flags }.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_type_masks_read_as_names() {
        assert_eq!(vm_type_names(1), "default (0)");
        assert_eq!(vm_type_names(0b11_0001), "default (0), snp (4), tdx (5)");
        assert_eq!(vm_type_names(1 << 9), "unknown (9)");
        assert_eq!(vm_type_names(0), "none");
    }

    #[test]
    fn missing_vm_type_message_names_what_is_offered_and_needed() {
        let e = KvmError::VmType {
            platform: "SEV-SNP",
            offered: vm_type_names(1),
            name: "KVM_X86_SNP_VM",
            number: 4,
            requirement: VmType::Snp.requirement(),
        };
        let msg = e.to_string();
        assert!(msg.contains("offers default (0)") && msg.contains("KVM_X86_SNP_VM (4)") && msg.contains("sev_snp"), "{msg}");
    }
}
