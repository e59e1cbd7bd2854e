//! KVM's TDX launch ioctls and the TDX module behind them, on a fake kernel: MRTD is computed from
//! the pages as added (TDH.MEM.PAGE.ADD, then TDH.MR.EXTEND per 256-byte chunk when measured).

use std::collections::VecDeque;

use prelaunch_measure::hash::Sha384Digest;
use prelaunch_measure::tdx::mrtd::Mrtd;

use super::{Generation, PAGE, Shared};
use crate::kvm::uapi::{KVM_TDX_MEASURE_MEMORY_REGION, KvmTdxInitMemRegion};
use crate::platform::hw::IoctlError;
use crate::platform::hw::tdx_ioctls::{TdCaps, TdParams, TdxIoctls};

/// The fake.
pub(crate) struct FakeTdxKernel {
    pub state: Shared,
    pub caps: TdCaps,
    pub params: Option<TdParams>,
    vcpu: Option<u32>,
    finalized: bool,
    mrtd: Mrtd,
    pub mrtd_final: Option<Sha384Digest>,
    /// Signals arriving after this many pages of the next INIT_MEM_REGION.
    pub signal_after: VecDeque<u64>,
    pub regions: Vec<(u64, u64, u64, u32)>,
}

impl FakeTdxKernel {
    pub(crate) fn new(state: Shared) -> Self {
        FakeTdxKernel {
            state,
            // TDX_TD_ATTR_SEPT_VE_DISABLE (bit 28) and DEBUG (bit 0); XFAM x87|SSE|AVX|AVX-512.
            caps: TdCaps { supported_attrs: (1 << 28) | 1, supported_xfam: 0xe7 },
            params: None,
            vcpu: None,
            finalized: false,
            mrtd: Mrtd::new(),
            mrtd_final: None,
            signal_after: VecDeque::new(),
            regions: Vec::new(),
        }
    }

    /// One page of tdx.c `tdx_gmem_post_populate` over guest_memfd.c `kvm_gmem_populate`.
    fn add_page(&mut self, gpa: u64, src: u64, measure: bool) -> Result<(), i32> {
        let in_place = self.state.borrow().generation == Generation::InPlace;
        // tdx.c `tdx_gmem_post_populate`: `if (!src_page) return -EOPNOTSUPP;` in mainline; v8 23/46
        // uses the destination page itself when gmem_in_place_conversion is on.
        if src == 0 && !in_place {
            return Err(libc::EOPNOTSUPP);
        }
        // guest_memfd.c `kvm_gmem_populate`: a non-NULL source is pinned with get_user_pages_fast();
        // below mmap_min_addr (64 KiB) nothing is ever mapped, so the pin fails with EFAULT.
        if src != 0 && src < 0x10000 {
            return Err(libc::EFAULT);
        }
        let dst = self.state.borrow_mut().prepare_for_populate(gpa).map_err(|e| if e == libc::EEXIST { libc::EIO } else { e })?;
        // SAFETY: `dst` is a live 4 KiB page of the fake's guest_memfd.
        let page = unsafe { std::slice::from_raw_parts_mut(dst, PAGE as usize) };
        if src != 0 {
            // SAFETY: `src` is the caller's page-aligned source buffer holding this page.
            page.copy_from_slice(unsafe { std::slice::from_raw_parts(src as *const u8, PAGE as usize) });
        }
        self.mrtd.page_add(gpa);
        if measure {
            self.mrtd.extend_page(gpa, page);
        }
        if let Some((p, _)) = self.state.borrow_mut().page(gpa) {
            p.populated = true;
        }
        Ok(())
    }
}

fn err(errno: i32) -> Result<(), IoctlError> {
    Err(IoctlError::errno(errno))
}

impl TdxIoctls for FakeTdxKernel {
    fn capabilities(&mut self) -> Result<TdCaps, IoctlError> {
        Ok(self.caps)
    }

    /// tdx.c `tdx_td_init` (KVM_TDX_INIT_VM): attributes or XFAM outside the capabilities: EINVAL.
    fn init_vm(&mut self, params: &TdParams) -> Result<(), IoctlError> {
        if self.params.is_some() || params.attributes & !self.caps.supported_attrs != 0 || params.xfam & !self.caps.supported_xfam != 0 {
            return err(libc::EINVAL);
        }
        self.params = Some(*params);
        Ok(())
    }

    fn init_vcpu(&mut self, id: u32, _rcx: u64) -> Result<(), IoctlError> {
        if self.params.is_none() || self.vcpu.is_some() {
            return err(libc::EINVAL);
        }
        self.vcpu = Some(id);
        Ok(())
    }

    /// tdx.c `tdx_vcpu_init_mem_region`.
    fn init_mem_region(&mut self, vcpu: u32, flags: u32, r: &mut KvmTdxInitMemRegion) -> Result<(), IoctlError> {
        self.regions.push((r.source_addr, r.gpa, r.nr_pages, flags));
        if self.vcpu != Some(vcpu) || self.finalized || flags & !KVM_TDX_MEASURE_MEMORY_REGION != 0 {
            return err(libc::EINVAL);
        }
        let end = r.nr_pages.checked_mul(PAGE).and_then(|l| r.gpa.checked_add(l));
        if !r.source_addr.is_multiple_of(PAGE) || !r.gpa.is_multiple_of(PAGE) || r.nr_pages == 0 || end.is_none_or(|e| e <= r.gpa) {
            return err(libc::EINVAL);
        }
        let signal = self.signal_after.pop_front();
        let mut ret = Ok(());
        let mut done = 0;
        while r.nr_pages > 0 {
            if signal == Some(done) {
                ret = err(libc::EINTR);
                break;
            }
            if let Err(e) = self.add_page(r.gpa, r.source_addr, flags & KVM_TDX_MEASURE_MEMORY_REGION != 0) {
                ret = err(e);
                break;
            }
            // tdx.c `tdx_vcpu_init_mem_region` advances the source unconditionally, so a NULL (in-place)
            // source becomes 0x1000 for the next page: in place, one page per call.
            r.source_addr += PAGE;
            r.gpa += PAGE;
            r.nr_pages -= 1;
            done += 1;
        }
        ret
    }

    fn finalize_vm(&mut self) -> Result<(), IoctlError> {
        if self.finalized || self.vcpu.is_none() {
            return err(libc::EINVAL);
        }
        self.finalized = true;
        self.mrtd_final = Some(std::mem::take(&mut self.mrtd).finish());
        Ok(())
    }
}
