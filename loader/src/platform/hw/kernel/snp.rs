//! KVM's SEV-SNP launch ioctls and the AMD firmware behind them, on a fake kernel: the launch
//! digest is computed from the pages as populated (PAGE_INFO chain) and from the VMSAs KVM builds
//! from the vCPU registers, and SNP_LAUNCH_FINISH refuses an ID block whose digest differs
//! (BAD_MEASUREMENT), as the firmware does.

use std::collections::{BTreeMap, VecDeque};

use kvm_bindings::{kvm_cpuid_entry2, kvm_sev_init, kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start, kvm_sev_snp_launch_update};
use prelaunch_measure::hash::{Sha384, Sha384Digest};
use prelaunch_measure::idblock::{ID_BLOCK_LEN, IdBlock};
use prelaunch_measure::snp::vmsa::VMSA_GPA;
use prelaunch_measure::snp::{Gctx, PageType};

use super::{Generation, PAGE, Shared};
use crate::platform::hw::IoctlError;
use crate::platform::hw::snp_cpuid;
use crate::platform::hw::snp_ioctls::SnpIoctls;
use crate::platform::hw::vcpu_state::VcpuState;
use crate::platform::hw::vmsa_fidelity::kvm_vmsa;

/// SEV firmware statuses the fake returns.
pub(crate) const INVALID_PARAM: u64 = 0x16;
pub(crate) const BAD_MEASUREMENT: u64 = 0x0b;
/// sev.c `SNP_POLICY_MASK_VALID`: API minor/major, SMT, RSVD_MBO (bit 17), DEBUG, SINGLE_SOCKET.
const POLICY_VALID: u64 = 0xff | 0xff00 | (1 << 16) | (1 << 17) | (1 << 19) | (1 << 20);
const POLICY_RSVD_MBO: u64 = 1 << 17;
const SNP_ACTIVE: u64 = 1;

/// A fault the fake injects into the next SNP_LAUNCH_UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateFault {
    /// A signal arrives after this many pages (guest_memfd.c `kvm_gmem_populate`: EINTR).
    SignalAfter(u64),
}

/// The fake.
pub(crate) struct FakeSnpKernel {
    pub state: Shared,
    /// KVM_X86_SEV_VMSA_FEATURES of this host.
    pub supported_vmsa_features: u64,
    pub vmsa_features: Option<u64>,
    pub started: bool,
    gctx: Gctx,
    vcpus: BTreeMap<u32, VcpuState>,
    pub faults: VecDeque<UpdateFault>,
    /// The firmware's CPUID policy: per (function, index), the EBX bits it allows.
    pub cpuid_ebx_allowed: Vec<((u32, u32), u32)>,
    pub cpuid: Vec<kvm_cpuid_entry2>,
    pub finished: Option<Sha384Digest>,
    /// Calls seen, for tests: (gfn, uaddr, len, type).
    pub updates: Vec<(u64, u64, u64, u8)>,
}

impl FakeSnpKernel {
    pub(crate) fn new(state: Shared) -> Self {
        let cpuid = [(0u32, 0u32, 0u32), (1, 0, 0), (7, 0, 1), (0xd, 0, 1), (0xd, 1, 1), (0x8000_0000, 0, 0), (0x8000_001f, 0, 0)]
            .iter()
            .map(|&(function, index, flags)| kvm_cpuid_entry2 {
                function,
                index,
                flags,
                eax: function ^ 0x55,
                ebx: 0xffff,
                ecx: 3,
                edx: 4,
                ..Default::default()
            })
            .collect();
        FakeSnpKernel {
            state,
            supported_vmsa_features: 0x20,
            vmsa_features: None,
            started: false,
            gctx: Gctx::new(),
            vcpus: BTreeMap::new(),
            faults: VecDeque::new(),
            cpuid_ebx_allowed: Vec::new(),
            cpuid,
            finished: None,
            updates: Vec::new(),
        }
    }

    /// The firmware's CPUID check (SEV-SNP ABI "SNP_LAUNCH_UPDATE", PAGE_TYPE_CPUID): each entry
    /// whose values the platform cannot offer is corrected in place; `true` when any was.
    fn check_cpuid(&self, page: &mut [u8]) -> bool {
        let mut table = snp_cpuid::read(page);
        let mut corrected = false;
        for f in &mut table {
            if let Some((_, allowed)) = self.cpuid_ebx_allowed.iter().find(|(k, _)| *k == (f.eax_in, f.ecx_in))
                && f.ebx & !allowed != 0
            {
                f.ebx &= allowed;
                corrected = true;
            }
        }
        if corrected {
            page.copy_from_slice(&snp_cpuid::page(&table));
        }
        corrected
    }

    /// One page of `sev_gmem_post_populate` (v8 22/46): the source page, the private destination,
    /// the firmware's measurement. The error is the errno and the firmware status.
    fn post_populate(&mut self, gfn: u64, src: Option<u64>, t: PageType) -> Result<(), (i32, u64)> {
        let in_place = self.state.borrow().generation == Generation::InPlace;
        // sev.c `sev_gmem_post_populate`: a source page is required unless in-place conversion is
        // enabled (mainline: the WARN_ON_ONCE(type != ZERO && !src) EINVAL).
        if src.is_none() && t != PageType::Zero && !in_place {
            return Err((libc::EINVAL, 0));
        }
        let gpa = gfn * PAGE;
        let dst = self.state.borrow_mut().prepare_for_populate(gpa).map_err(|e| (e, 0))?;
        // SAFETY: `dst` is a live 4 KiB page of the fake's guest_memfd; `src`, when given, is a
        // page-aligned user address the loader owns for the call (a source buffer or an input mapping).
        let page = unsafe { std::slice::from_raw_parts_mut(dst, PAGE as usize) };
        if let (Some(s), true) = (src, t != PageType::Zero) {
            // SAFETY: as above; the caller's buffer holds at least the pages it asked for.
            page.copy_from_slice(unsafe { std::slice::from_raw_parts(s as *const u8, PAGE as usize) });
        }
        if t == PageType::Zero {
            page.fill(0);
        }
        if t == PageType::Cpuid && self.check_cpuid(page) {
            // sev.c: on INVALID_PARAM for a CPUID page the corrected page is copied back into the
            // source page — only when there is one (v8 22/46 added `&& src_page`).
            if let Some(s) = src {
                // SAFETY: `s` is the caller's writable page-aligned source buffer for this page.
                unsafe { std::slice::from_raw_parts_mut(s as *mut u8, PAGE as usize) }.copy_from_slice(page);
            }
            return Err((libc::EIO, INVALID_PARAM));
        }
        let contents = if t.measures_contents() { Sha384::digest(page) } else { [0; 48] };
        self.gctx.update(t, gpa, &contents);
        if let Some((p, _)) = self.state.borrow_mut().page(gpa) {
            p.populated = true;
        }
        Ok(())
    }
}

fn err(errno: i32, fw_error: u64) -> Result<(), IoctlError> {
    Err(IoctlError { errno, fw_error })
}

impl SnpIoctls for FakeSnpKernel {
    /// sev.c `__sev_guest_init`: flags, unsupported VMSA features, GHCB version above 2: EINVAL.
    fn sev_init2(&mut self, init: &mut kvm_sev_init) -> Result<(), IoctlError> {
        if init.flags != 0
            || init.vmsa_features & !self.supported_vmsa_features != 0
            || init.ghcb_version > 2
            || self.vmsa_features.is_some()
        {
            return err(libc::EINVAL, 0);
        }
        self.vmsa_features = Some(init.vmsa_features | SNP_ACTIVE);
        Ok(())
    }

    /// sev.c `snp_launch_start`: flags, invalid policy bits, RSVD_MBO clear, a second start: EINVAL.
    fn launch_start(&mut self, s: &mut kvm_sev_snp_launch_start) -> Result<(), IoctlError> {
        if self.vmsa_features.is_none() || self.started || s.flags != 0 || s.policy & !POLICY_VALID != 0 || s.policy & POLICY_RSVD_MBO == 0
        {
            return err(libc::EINVAL, 0);
        }
        self.started = true;
        Ok(())
    }

    /// sev.c `snp_launch_update` over guest_memfd.c `kvm_gmem_populate`.
    fn launch_update(&mut self, u: &mut kvm_sev_snp_launch_update) -> Result<(), IoctlError> {
        self.updates.push((u.gfn_start, u.uaddr, u.len, u.type_));
        if !self.started {
            return err(libc::EINVAL, 0);
        }
        let t = match u.type_ {
            1 => PageType::Normal,
            3 => PageType::Zero,
            4 => PageType::Unmeasured,
            5 => PageType::Secrets,
            6 => PageType::Cpuid,
            // VMSA (2) and anything else: not a LAUNCH_UPDATE page type for userspace.
            _ => return err(libc::EINVAL, 0),
        };
        if u.len == 0 || !u.len.is_multiple_of(PAGE) || u.flags != 0 {
            return err(libc::EINVAL, 0);
        }
        let in_place = self.state.borrow().generation == Generation::InPlace;
        let src = if t == PageType::Zero { None } else { (u.uaddr != 0).then_some(u.uaddr) };
        if t != PageType::Zero {
            // Mainline (Roedel, 2026-06-23): `!params.uaddr || !PAGE_ALIGNED(params.uaddr)` is EINVAL
            // up front. v8: NULL is allowed; an unaligned source fails kvm_gmem_populate's
            // WARN_ON_ONCE(!PAGE_ALIGNED(src)) with EINVAL, which snp_launch_update returns as EIO.
            match (src, in_place) {
                (None, false) => return err(libc::EINVAL, 0),
                (Some(s), false) if !s.is_multiple_of(PAGE) => return err(libc::EINVAL, 0),
                (Some(s), true) if !s.is_multiple_of(PAGE) => return err(libc::EIO, 0),
                _ => {}
            }
        }
        let gpa = u.gfn_start * PAGE;
        if self.state.borrow().find(gpa, PAGE).is_none() {
            // `kvm_slot_has_gmem(memslot)`: no guest_memfd slot here.
            return err(libc::EINVAL, 0);
        }
        let npages = (u.len / PAGE).min(self.state.borrow().pages_to_slot_end(gpa));
        let signal = self.faults.pop_front().map(|UpdateFault::SignalAfter(n)| n);
        let mut done = 0;
        let mut failure = None;
        for i in 0..npages {
            if signal == Some(i) {
                failure = Some((libc::EINTR, 0));
                break;
            }
            if let Err(e) = self.post_populate(u.gfn_start + i, src.map(|s| s + i * PAGE), t) {
                failure = Some(e);
                break;
            }
            done += 1;
        }
        // `kvm_gmem_populate` returns the pages done, or the error if none was; snp_launch_update
        // turns an error into EIO with the firmware status.
        if let (0, Some((_, fw))) = (done, failure) {
            return err(libc::EIO, fw);
        }
        u.gfn_start += done;
        u.len -= done * PAGE;
        if src.is_some() {
            u.uaddr += done * PAGE;
        }
        Ok(())
    }

    fn create_vcpu(&mut self, id: u32, state: &VcpuState) -> Result<(), IoctlError> {
        if self.vcpus.insert(id, *state).is_some() {
            return err(libc::EEXIST, 0);
        }
        Ok(())
    }

    fn supported_cpuid(&mut self) -> Result<Vec<kvm_cpuid_entry2>, IoctlError> {
        Ok(self.cpuid.clone())
    }

    /// sev.c `snp_launch_finish`: each vCPU's VMSA as KVM builds it (`snp_launch_update_vmsa`), then
    /// the firmware compares the ID block's digest.
    fn launch_finish(&mut self, f: &mut kvm_sev_snp_launch_finish) -> Result<(), IoctlError> {
        if !self.started || f.flags != 0 {
            return err(libc::EINVAL, 0);
        }
        let features = self.vmsa_features.unwrap_or(SNP_ACTIVE);
        for state in self.vcpus.values() {
            self.gctx.update(PageType::Vmsa, VMSA_GPA, &Sha384::digest(&kvm_vmsa(state, features)[..]));
        }
        let ld = self.gctx.ld();
        self.finished = Some(ld);
        if f.id_block_en == 1 {
            // SAFETY: the caller passes the address of its live 96-byte ID block for the call.
            let bytes = unsafe { std::slice::from_raw_parts(f.id_block_uaddr as *const u8, ID_BLOCK_LEN) };
            let block = IdBlock::from_bytes(bytes).map_err(|_| IoctlError { errno: libc::EIO, fw_error: INVALID_PARAM })?;
            if block.ld != ld {
                return err(libc::EIO, BAD_MEASUREMENT);
            }
        }
        Ok(())
    }
}
