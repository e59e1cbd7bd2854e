//! The TDX launch ioctls (`KVM_MEMORY_ENCRYPT_OP` with `struct kvm_tdx_cmd`, on the VM fd for
//! CAPABILITIES/INIT_VM/FINALIZE_VM and on a vCPU fd for INIT_VCPU/INIT_MEM_REGION, which kvm-ioctls
//! does not offer) behind [`TdxIoctls`], so the call sequence can be tested against a fake.

use std::sync::Arc;

use kvm_bindings::{KVM_CAP_SPLIT_IRQCHIP, kvm_enable_cap};
use kvm_ioctls::VcpuFd;

use super::IoctlError;
use crate::kvm::Vm;
use crate::kvm::uapi::{
    KVM_MAX_CPUID_ENTRIES, KVM_MEMORY_ENCRYPT_OP, KVM_TDX_CAPABILITIES, KVM_TDX_FINALIZE_VM, KVM_TDX_INIT_MEM_REGION, KVM_TDX_INIT_VCPU,
    KVM_TDX_INIT_VM, KvmTdxCapabilities, KvmTdxCmd, KvmTdxInitMemRegion, KvmTdxInitVm,
};
use crate::sys::ioctl_ptr;

/// IOAPIC pins routed by userspace (QEMU's count).
const IOAPIC_PINS: u64 = 24;

/// XFAM bits x87, SSE and AVX: the minimal set a TD guest firmware uses.
pub const XFAM_BASE: u64 = 0x7;

/// The TD parameters of KVM_TDX_INIT_VM the loader chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TdParams {
    pub attributes: u64,
    pub xfam: u64,
}

/// What KVM_TDX_CAPABILITIES lets a TD have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TdCaps {
    pub supported_attrs: u64,
    pub supported_xfam: u64,
}

/// The TDX launch as KVM exposes it.
pub trait TdxIoctls {
    /// KVM_TDX_CAPABILITIES.
    fn capabilities(&mut self) -> Result<TdCaps, IoctlError>;
    /// The split IRQ chip, then KVM_TDX_INIT_VM (TDH.MNG.INIT: MRTD starts).
    fn init_vm(&mut self, params: &TdParams) -> Result<(), IoctlError>;
    /// KVM_CREATE_VCPU, KVM_SET_CPUID2, then KVM_TDX_INIT_VCPU with `rcx` (the TD HOB's GPA).
    fn init_vcpu(&mut self, id: u32, rcx: u64) -> Result<(), IoctlError>;
    /// KVM_TDX_INIT_MEM_REGION on vCPU `vcpu`; on return `region` has advanced past what was added.
    fn init_mem_region(&mut self, vcpu: u32, flags: u32, region: &mut KvmTdxInitMemRegion) -> Result<(), IoctlError>;
    /// KVM_TDX_FINALIZE_VM (TDH.MR.FINALIZE).
    fn finalize_vm(&mut self) -> Result<(), IoctlError>;
}

/// The real ioctls.
pub struct KvmTdxIoctls {
    vm: Arc<Vm>,
    vcpus: Vec<(u32, VcpuFd)>,
}

impl KvmTdxIoctls {
    pub fn new(vm: Arc<Vm>) -> Self {
        KvmTdxIoctls { vm, vcpus: Vec::new() }
    }

    fn vm_cmd(&self, id: u32, flags: u32, data: u64) -> Result<(), IoctlError> {
        let mut cmd = KvmTdxCmd { id, flags, data, hw_error: 0 };
        // SAFETY: `cmd` is a live kvm_tdx_cmd; `data` points to the struct `id` expects (or is 0), as
        // the typed callers below guarantee.
        unsafe { self.vm.fd().encrypt_op(&mut cmd) }.map_err(|e| IoctlError { errno: e.errno(), fw_error: cmd.hw_error })
    }

    fn vcpu_cmd(&self, vcpu: u32, id: u32, flags: u32, data: u64) -> Result<(), IoctlError> {
        let fd = self.vcpus.iter().find(|v| v.0 == vcpu).map(|v| &v.1).ok_or(IoctlError::errno(libc::ENOENT))?;
        let mut cmd = KvmTdxCmd { id, flags, data, hw_error: 0 };
        // SAFETY: `cmd` is the kvm_tdx_cmd KVM_MEMORY_ENCRYPT_OP reads on a vCPU fd; `data` points to
        // the struct `id` expects (or is an immediate), as the typed callers guarantee.
        unsafe { ioctl_ptr(fd, KVM_MEMORY_ENCRYPT_OP, &mut cmd as *mut KvmTdxCmd) }
            .map(|_| ())
            .map_err(|errno| IoctlError { errno, fw_error: cmd.hw_error })
    }

    /// KVM_TDX_CAPABILITIES, whole.
    fn all_capabilities(&self) -> Result<Box<KvmTdxCapabilities>, IoctlError> {
        let mut caps = Box::<KvmTdxCapabilities>::default();
        caps.cpuid.nent = KVM_MAX_CPUID_ENTRIES as u32;
        self.vm_cmd(KVM_TDX_CAPABILITIES, 0, &mut *caps as *mut KvmTdxCapabilities as u64)?;
        Ok(caps)
    }
}

impl TdxIoctls for KvmTdxIoctls {
    fn capabilities(&mut self) -> Result<TdCaps, IoctlError> {
        let c = self.all_capabilities()?;
        Ok(TdCaps { supported_attrs: c.supported_attrs, supported_xfam: c.supported_xfam })
    }

    fn init_vm(&mut self, params: &TdParams) -> Result<(), IoctlError> {
        // TD vCPUs need the split IRQ chip (the local APIC in KVM, the IOAPIC in userspace).
        let split = kvm_enable_cap { cap: KVM_CAP_SPLIT_IRQCHIP, flags: 0, args: [IOAPIC_PINS, 0, 0, 0], pad: [0; 64] };
        self.vm.fd().enable_cap(&split).map_err(|e| IoctlError::errno(e.errno()))?;
        let caps = self.all_capabilities()?;
        let supported = self.vm.kvm().get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(|e| IoctlError::errno(e.errno()))?;
        let mut init = Box::<KvmTdxInitVm>::default();
        // HwTdx checked both against the capabilities: nothing is silently dropped here.
        init.attributes = params.attributes;
        init.xfam = params.xfam;
        // The configurable CPUID bits: what KVM supports, masked by what the TDX module lets us set.
        let mut n = 0;
        for cfg in caps.cpuid.entries.iter().take((caps.cpuid.nent as usize).min(KVM_MAX_CPUID_ENTRIES)) {
            if let Some(s) = supported.as_slice().iter().find(|s| s.function == cfg.function && s.index == cfg.index) {
                let mut e = *cfg;
                (e.eax, e.ebx, e.ecx, e.edx) = (s.eax & cfg.eax, s.ebx & cfg.ebx, s.ecx & cfg.ecx, s.edx & cfg.edx);
                init.cpuid.entries[n] = e;
                n += 1;
            }
        }
        init.cpuid.nent = n as u32;
        self.vm_cmd(KVM_TDX_INIT_VM, 0, &mut *init as *mut KvmTdxInitVm as u64)
    }

    fn init_vcpu(&mut self, id: u32, rcx: u64) -> Result<(), IoctlError> {
        let err = |e: kvm_ioctls::Error| IoctlError::errno(e.errno());
        let vcpu = self.vm.fd().create_vcpu(id as u64).map_err(err)?;
        // KVM_TDX_INIT_VCPU puts the local APIC in x2APIC mode, which the vCPU's CPUID must offer.
        let cpuid = self.vm.kvm().get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(err)?;
        vcpu.set_cpuid2(&cpuid).map_err(err)?;
        self.vcpus.push((id, vcpu));
        self.vcpu_cmd(id, KVM_TDX_INIT_VCPU, 0, rcx)
    }

    fn init_mem_region(&mut self, vcpu: u32, flags: u32, region: &mut KvmTdxInitMemRegion) -> Result<(), IoctlError> {
        self.vcpu_cmd(vcpu, KVM_TDX_INIT_MEM_REGION, flags, region as *mut KvmTdxInitMemRegion as u64)
    }

    fn finalize_vm(&mut self) -> Result<(), IoctlError> {
        self.vm_cmd(KVM_TDX_FINALIZE_VM, 0, 0)
    }
}
