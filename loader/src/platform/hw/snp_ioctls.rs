//! The SEV-SNP launch ioctls, one small method each (KVM_MEMORY_ENCRYPT_OP sub-commands on the VM
//! fd, with the /dev/sev fd in `kvm_sev_cmd.sev_fd`), behind [`SnpIoctls`] so the call sequence can
//! be tested against a fake.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use kvm_bindings::{
    Msrs, kvm_cpuid_entry2, kvm_msr_entry, kvm_sev_cmd, kvm_sev_init, kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start,
    kvm_sev_snp_launch_update, kvm_xcr, kvm_xcrs,
};
use kvm_ioctls::VcpuFd;

use super::IoctlError;
use super::vcpu_state::VcpuState;
use crate::kvm::Vm;
use crate::kvm::uapi::{
    KVM_MAX_CPUID_ENTRIES, KVM_SEV_INIT2, KVM_SEV_SNP_LAUNCH_FINISH, KVM_SEV_SNP_LAUNCH_START, KVM_SEV_SNP_LAUNCH_UPDATE,
};
use crate::platform::PlatformError;

/// `IA32_PAT`.
const MSR_IA32_CR_PAT: u32 = 0x277;

/// The SEV-SNP launch as KVM exposes it.
pub trait SnpIoctls {
    /// KVM_SEV_INIT2.
    fn sev_init2(&mut self, init: &mut kvm_sev_init) -> Result<(), IoctlError>;
    /// KVM_SEV_SNP_LAUNCH_START.
    fn launch_start(&mut self, start: &mut kvm_sev_snp_launch_start) -> Result<(), IoctlError>;
    /// KVM_SEV_SNP_LAUNCH_UPDATE; on return `update` has advanced past what was populated.
    fn launch_update(&mut self, update: &mut kvm_sev_snp_launch_update) -> Result<(), IoctlError>;
    /// KVM_CREATE_VCPU, then the registers KVM builds the vCPU's VMSA from.
    fn create_vcpu(&mut self, id: u32, state: &VcpuState) -> Result<(), IoctlError>;
    /// KVM_GET_SUPPORTED_CPUID: what the SNP CPUID page and the vCPUs' CPUID are filled from.
    fn supported_cpuid(&mut self) -> Result<Vec<kvm_cpuid_entry2>, IoctlError>;
    /// KVM_SEV_SNP_LAUNCH_FINISH.
    fn launch_finish(&mut self, finish: &mut kvm_sev_snp_launch_finish) -> Result<(), IoctlError>;
}

/// The real ioctls.
pub struct KvmSnpIoctls {
    vm: Arc<Vm>,
    sev: File,
    vcpus: Vec<VcpuFd>,
}

impl KvmSnpIoctls {
    /// Opens /dev/sev for the launch commands.
    pub fn open(vm: Arc<Vm>) -> Result<Self, PlatformError> {
        let sev = OpenOptions::new().read(true).write(true).open("/dev/sev").map_err(|e| {
            PlatformError::Unsupported(format!("/dev/sev: {e}: the AMD SEV firmware driver (ccp) is not available on this host"))
        })?;
        Ok(KvmSnpIoctls { vm, sev, vcpus: Vec::new() })
    }

    fn cmd<T>(&self, id: u32, data: &mut T) -> Result<(), IoctlError> {
        let mut cmd = kvm_sev_cmd { id, data: data as *mut T as u64, sev_fd: self.sev.as_raw_fd() as u32, ..Default::default() };
        self.vm.fd().encrypt_op_sev(&mut cmd).map_err(|e| IoctlError { errno: e.errno(), fw_error: cmd.error as u64 })
    }
}

impl SnpIoctls for KvmSnpIoctls {
    fn sev_init2(&mut self, init: &mut kvm_sev_init) -> Result<(), IoctlError> {
        self.cmd(KVM_SEV_INIT2, init)
    }

    fn launch_start(&mut self, start: &mut kvm_sev_snp_launch_start) -> Result<(), IoctlError> {
        self.cmd(KVM_SEV_SNP_LAUNCH_START, start)
    }

    fn launch_update(&mut self, update: &mut kvm_sev_snp_launch_update) -> Result<(), IoctlError> {
        self.cmd(KVM_SEV_SNP_LAUNCH_UPDATE, update)
    }

    fn create_vcpu(&mut self, id: u32, state: &VcpuState) -> Result<(), IoctlError> {
        let err = |e: kvm_ioctls::Error| IoctlError::errno(e.errno());
        let vcpu = self.vm.fd().create_vcpu(id as u64).map_err(err)?;
        // The vCPU's CPUID is what the SNP CPUID page was filled from.
        let cpuid = self.vm.kvm().get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(err)?;
        vcpu.set_cpuid2(&cpuid).map_err(err)?;
        let mut sregs = vcpu.get_sregs().map_err(err)?;
        (sregs.es, sregs.cs, sregs.ss, sregs.ds, sregs.fs, sregs.gs) = (state.es, state.cs, state.ss, state.ds, state.fs, state.gs);
        (sregs.ldt, sregs.tr, sregs.gdt, sregs.idt) = (state.ldt, state.tr, state.gdt, state.idt);
        sregs.cr0 = state.cr0;
        vcpu.set_sregs(&sregs).map_err(err)?;
        let mut regs = vcpu.get_regs().map_err(err)?;
        (regs.rip, regs.rflags, regs.rdx) = (state.rip, state.rflags, state.rdx);
        vcpu.set_regs(&regs).map_err(err)?;
        let mut fpu = vcpu.get_fpu().map_err(err)?;
        (fpu.fcw, fpu.mxcsr) = (state.fcw, state.mxcsr);
        vcpu.set_fpu(&fpu).map_err(err)?;
        let mut xcrs = kvm_xcrs { nr_xcrs: 1, ..Default::default() };
        xcrs.xcrs[0] = kvm_xcr { xcr: 0, reserved: 0, value: state.xcr0 };
        vcpu.set_xcrs(&xcrs).map_err(err)?;
        let msrs = Msrs::from_entries(&[kvm_msr_entry { index: MSR_IA32_CR_PAT, data: state.g_pat, ..Default::default() }])
            .map_err(|_| IoctlError::errno(libc::ENOMEM))?;
        vcpu.set_msrs(&msrs).map_err(err)?;
        self.vcpus.push(vcpu);
        Ok(())
    }

    fn supported_cpuid(&mut self) -> Result<Vec<kvm_cpuid_entry2>, IoctlError> {
        let c = self.vm.kvm().get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(|e| IoctlError::errno(e.errno()))?;
        Ok(c.as_slice().to_vec())
    }

    fn launch_finish(&mut self, finish: &mut kvm_sev_snp_launch_finish) -> Result<(), IoctlError> {
        self.cmd(KVM_SEV_SNP_LAUNCH_FINISH, finish)
    }
}
