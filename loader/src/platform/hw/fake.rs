//! Recording fakes of the SNP and TDX ioctl layers: every call is logged with the fields that matter,
//! and queued faults make a call fail with an errno (EINTR, EAGAIN, EIO with a firmware status) or
//! stop after some pages, advancing the struct as KVM does.

use std::collections::VecDeque;

use kvm_bindings::{kvm_sev_init, kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start, kvm_sev_snp_launch_update};
use prelaunch_measure::idblock::{ID_BLOCK_LEN, IdBlock};

use super::IoctlError;
use super::snp_ioctls::SnpIoctls;
use super::tdx_ioctls::{TdCaps, TdParams, TdxIoctls};
use super::vcpu_state::VcpuState;
use crate::kvm::uapi::KvmTdxInitMemRegion;

use prelaunch_measure::PAGE_SIZE as PAGE;

/// What a queued fault does to the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inject {
    /// Fail with this errno and firmware status, nothing done.
    Fail(i32, u64),
    /// Do this many pages, then return success (SNP) or fail with the errno (TDX, when non-zero).
    Partial(u64, i32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SnpCall {
    Init2 { vmsa_features: u64, ghcb_version: u16 },
    Start { policy: u64 },
    Update { gfn: u64, uaddr_zero: bool, len: u64, page_type: u8 },
    Vcpu { id: u32, rip: u64 },
    Finish { id_block: Option<IdBlock>, auth_key_en: u8 },
}

#[derive(Debug, Default)]
pub(crate) struct FakeSnp {
    pub(crate) calls: Vec<SnpCall>,
    pub(crate) update_faults: VecDeque<Inject>,
    pub(crate) finish_fault: Option<IoctlError>,
}

fn fail(errno: i32, fw_error: u64) -> Result<(), IoctlError> {
    Err(IoctlError { errno, fw_error })
}

impl SnpIoctls for FakeSnp {
    fn sev_init2(&mut self, init: &mut kvm_sev_init) -> Result<(), IoctlError> {
        self.calls.push(SnpCall::Init2 { vmsa_features: init.vmsa_features, ghcb_version: init.ghcb_version });
        Ok(())
    }

    fn launch_start(&mut self, start: &mut kvm_sev_snp_launch_start) -> Result<(), IoctlError> {
        self.calls.push(SnpCall::Start { policy: start.policy });
        Ok(())
    }

    fn launch_update(&mut self, u: &mut kvm_sev_snp_launch_update) -> Result<(), IoctlError> {
        self.calls.push(SnpCall::Update { gfn: u.gfn_start, uaddr_zero: u.uaddr == 0, len: u.len, page_type: u.type_ });
        let pages = match self.update_faults.pop_front() {
            Some(Inject::Fail(errno, fw)) => return fail(errno, fw),
            Some(Inject::Partial(n, _)) => n.min(u.len / PAGE),
            None => u.len / PAGE,
        };
        u.gfn_start += pages;
        if u.uaddr != 0 {
            u.uaddr += pages * PAGE;
        }
        u.len -= pages * PAGE;
        Ok(())
    }

    fn create_vcpu(&mut self, id: u32, state: &VcpuState) -> Result<(), IoctlError> {
        self.calls.push(SnpCall::Vcpu { id, rip: state.rip });
        Ok(())
    }

    fn supported_cpuid(&mut self) -> Result<Vec<kvm_bindings::kvm_cpuid_entry2>, IoctlError> {
        Ok(Vec::new())
    }

    fn launch_finish(&mut self, f: &mut kvm_sev_snp_launch_finish) -> Result<(), IoctlError> {
        let id_block = (f.id_block_en == 1 && f.id_block_uaddr != 0).then(|| {
            // SAFETY: HwSnp passes the address of its live 96-byte ID block for the duration of the call.
            let bytes = unsafe { std::slice::from_raw_parts(f.id_block_uaddr as *const u8, ID_BLOCK_LEN) };
            IdBlock::from_bytes(bytes).ok()
        });
        self.calls.push(SnpCall::Finish { id_block: id_block.flatten(), auth_key_en: f.auth_key_en });
        match self.finish_fault {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TdxCall {
    InitVm,
    InitVcpu { id: u32, rcx: u64 },
    MemRegion { gpa: u64, nr_pages: u64, measure: bool, source_zero: bool },
    Finalize,
}

#[derive(Debug, Default)]
pub(crate) struct FakeTdx {
    pub(crate) calls: Vec<TdxCall>,
    pub(crate) region_faults: VecDeque<Inject>,
}

impl TdxIoctls for FakeTdx {
    fn capabilities(&mut self) -> Result<TdCaps, IoctlError> {
        Ok(TdCaps { supported_attrs: u64::MAX, supported_xfam: u64::MAX })
    }

    fn init_vm(&mut self, _params: &TdParams) -> Result<(), IoctlError> {
        self.calls.push(TdxCall::InitVm);
        Ok(())
    }

    fn init_vcpu(&mut self, id: u32, rcx: u64) -> Result<(), IoctlError> {
        self.calls.push(TdxCall::InitVcpu { id, rcx });
        Ok(())
    }

    fn init_mem_region(&mut self, _vcpu: u32, flags: u32, r: &mut KvmTdxInitMemRegion) -> Result<(), IoctlError> {
        self.calls.push(TdxCall::MemRegion { gpa: r.gpa, nr_pages: r.nr_pages, measure: flags & 1 != 0, source_zero: r.source_addr == 0 });
        let (pages, errno) = match self.region_faults.pop_front() {
            Some(Inject::Fail(errno, fw)) => return fail(errno, fw),
            Some(Inject::Partial(n, errno)) => (n.min(r.nr_pages), errno),
            None => (r.nr_pages, 0),
        };
        r.gpa += pages * PAGE;
        if r.source_addr != 0 {
            r.source_addr += pages * PAGE;
        }
        r.nr_pages -= pages;
        if errno != 0 { fail(errno, 0) } else { Ok(()) }
    }

    fn finalize_vm(&mut self) -> Result<(), IoctlError> {
        self.calls.push(TdxCall::Finalize);
        Ok(())
    }
}
