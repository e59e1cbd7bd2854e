//! KVM_TDX_CAPABILITIES: the TD attributes, XFAM bits and configurable CPUID leaves the TDX module
//! and KVM let a TD have (arch/x86/kvm/vmx/tdx.c `tdx_get_capabilities`, `init_kvm_tdx_caps`).

use kvm_ioctls::{Kvm, VmFd};

use super::probe::TdxCapsFacts;
use super::uapi::{KVM_MAX_CPUID_ENTRIES, KVM_TDX_CAPABILITIES, KVM_X86_TDX_VM, KvmTdxCapabilities, KvmTdxCmd};
use crate::sys::errno_name;

/// KVM_TDX_CAPABILITIES on a TDX VM's fd; the errno and TDX status on failure.
pub fn query_vm(vm: &VmFd) -> Result<Box<KvmTdxCapabilities>, (i32, u64)> {
    let mut caps = Box::<KvmTdxCapabilities>::default();
    caps.cpuid.nent = KVM_MAX_CPUID_ENTRIES as u32;
    let mut cmd = KvmTdxCmd { id: KVM_TDX_CAPABILITIES, flags: 0, data: &mut *caps as *mut KvmTdxCapabilities as u64, hw_error: 0 };
    // SAFETY: `cmd` is a live kvm_tdx_cmd whose `data` points to a live kvm_tdx_capabilities with room
    // for KVM_MAX_CPUID_ENTRIES entries, as `nent` tells KVM.
    unsafe { vm.encrypt_op(&mut cmd) }.map_err(|e| (e.errno(), cmd.hw_error))?;
    Ok(caps)
}

/// The facts the probe reports: creates a throw-away TDX VM to ask.
pub fn query(kvm: &Kvm) -> Result<TdxCapsFacts, String> {
    let vm = kvm.create_vm_with_type(KVM_X86_TDX_VM).map_err(|e| format!("KVM_CREATE_VM (tdx): {}", errno_name(e.errno())))?;
    let caps = query_vm(&vm).map_err(|(e, hw)| format!("KVM_TDX_CAPABILITIES: {} (TDX status {hw:#x})", errno_name(e)))?;
    Ok(facts(&caps))
}

/// The summary of a capabilities struct (bounded by its own `nent`).
pub fn facts(caps: &KvmTdxCapabilities) -> TdxCapsFacts {
    let n = (caps.cpuid.nent as usize).min(KVM_MAX_CPUID_ENTRIES);
    TdxCapsFacts {
        supported_attrs: caps.supported_attrs,
        supported_xfam: caps.supported_xfam,
        cpuid_leaves: caps.cpuid.entries[..n].iter().map(|e| (e.function, e.index)).collect(),
    }
}
