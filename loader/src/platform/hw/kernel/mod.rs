//! Two kernel generations, modelled for tests: **mainline** (released kernels: private-only
//! guest_memfd for SNP/TDX VMs, VM-level KVM_SET_MEMORY_ATTRIBUTES, populate from a source buffer)
//! and **in place** (the guest_memfd in-place conversion series, v8 of 2026-06-18 as merged into
//! linux-next: INIT_SHARED guest_memfd, KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, a NULL
//! populate source). Each enforces the kernel's rules, and each rule names the source it models
//! (file:function, kernel revision) where it is enforced; `tests.rs` has one test per rule.
//!
//! Revisions cited: mainline = torvalds/linux (virt/kvm/guest_memfd.c at 01f492e1817e,
//! arch/x86/kvm/svm/sev.c at 0097f9df996f) plus J. Roedel's "kvm: sev: Fix user-space triggerable
//! WARN_ON on snp_launch_update path" (2026-06-23); v8 = "[PATCH v8 00/46] guest_memfd: In-place
//! conversion support" (Message-Id 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com,
//! base kvm-x86/next b7fbe9a1bf9e); arch/x86/kvm/vmx/tdx.c as quoted in v8 23/46.
//!
//! The state is shared (`Rc<RefCell<…>>`) between the memory backend, which plays guest_memfd and
//! the attribute ioctls, and the SNP/TDX ioctl fakes, which play KVM and the firmware/TDX module.

pub(crate) mod memory;
pub(crate) mod snp;
pub(crate) mod tdx;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::rc::Rc;

use crate::kvm::uapi::{GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_MEMORY_ATTRIBUTE_PRIVATE, KvmMemoryAttributes2};
use crate::memory::mapping::AlignedMapping;

pub(crate) const PAGE: u64 = prelaunch_measure::PAGE_SIZE;

/// Which kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    Mainline,
    InPlace,
}

/// One 4 KiB page of a guest_memfd.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Page {
    /// PRIVATE attribute (per guest_memfd in place, per VM in mainline).
    pub private: bool,
    /// Up to date: written (or zeroed) since allocation. Never-written pages read as zeros.
    pub uptodate: bool,
    /// Populated by SNP_LAUNCH_UPDATE / TDH.MEM.PAGE.ADD (the RMP entry is assigned).
    pub populated: bool,
}

/// One guest_memfd bound as one memslot.
pub(crate) struct Gmem {
    pub gpa: u64,
    pub size: u64,
    pub flags: u64,
    /// The guest_memfd's memory.
    pub mem: AlignedMapping,
    /// Mainline: the memslot's shared half (`userspace_addr`), separate memory.
    pub shared: Option<AlignedMapping>,
    pub pages: Vec<Page>,
}

impl Gmem {
    pub fn contains(&self, gpa: u64, len: u64) -> bool {
        gpa >= self.gpa && gpa.checked_add(len).is_some_and(|e| e <= self.gpa + self.size)
    }
}

/// The kernel's state.
pub(crate) struct KernelState {
    pub generation: Generation,
    pub vm_is_coco: bool,
    pub gmems: Vec<Gmem>,
    /// GPAs whose pages hold extra references: a conversion reaching one stops with EAGAIN there, as
    /// many times as the count says.
    pub busy: Vec<(u64, u32)>,
}

pub(crate) type Shared = Rc<RefCell<KernelState>>;

impl KernelState {
    pub fn new(generation: Generation) -> Shared {
        Rc::new(RefCell::new(KernelState { generation, vm_is_coco: true, gmems: Vec::new(), busy: Vec::new() }))
    }

    /// The guest_memfd flags this VM accepts: virt/kvm/guest_memfd.c `kvm_gmem_get_supported_flags`
    /// — INIT_SHARED only where `kvm_arch_supports_gmem_init_shared()` (x86: not for SNP/TDX VMs in
    /// mainline; v8 19/46 "KVM: guest_memfd: Enable INIT_SHARED on guest_memfd for x86 Coco VMs").
    pub fn supported_gmem_flags(&self) -> u64 {
        match (self.generation, self.vm_is_coco) {
            (Generation::Mainline, true) => GUEST_MEMFD_FLAG_MMAP,
            _ => GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
        }
    }

    /// KVM_CREATE_GUEST_MEMFD: guest_memfd.c `kvm_gmem_create` (unsupported flags, size not a
    /// positive page multiple: EINVAL). Pages start private unless INIT_SHARED (v8 01/46
    /// `kvm_gmem_init_inode`).
    pub fn create_guest_memfd(&mut self, gpa: u64, size: u64, flags: u64) -> Result<usize, i32> {
        if flags & !self.supported_gmem_flags() != 0 || size == 0 || !size.is_multiple_of(PAGE) {
            return Err(libc::EINVAL);
        }
        let len = usize::try_from(size).map_err(|_| libc::EINVAL)?;
        let mem = AlignedMapping::anonymous(len, 2 << 20).map_err(|_| libc::ENOMEM)?;
        let shared = if flags & GUEST_MEMFD_FLAG_INIT_SHARED == 0 {
            Some(AlignedMapping::anonymous(len, 2 << 20).map_err(|_| libc::ENOMEM)?)
        } else {
            None
        };
        let private = flags & GUEST_MEMFD_FLAG_INIT_SHARED == 0 && self.generation == Generation::InPlace;
        let pages = vec![Page { private, ..Default::default() }; (size / PAGE) as usize];
        self.gmems.push(Gmem { gpa, size, flags, mem, shared, pages });
        Ok(self.gmems.len() - 1)
    }

    /// mmap of a guest_memfd: guest_memfd.c `kvm_gmem_mmap` (no MMAP flag: ENODEV).
    pub fn mmap_allowed(&self, gmem: usize) -> Result<(), i32> {
        if self.gmems[gmem].flags & GUEST_MEMFD_FLAG_MMAP == 0 { Err(libc::ENODEV) } else { Ok(()) }
    }

    pub fn find(&self, gpa: u64, len: u64) -> Option<usize> {
        self.gmems.iter().position(|g| g.contains(gpa, len))
    }

    pub fn page(&mut self, gpa: u64) -> Option<(&mut Page, *mut u8)> {
        let i = self.find(gpa, PAGE)?;
        let g = &mut self.gmems[i];
        let idx = ((gpa - g.gpa) / PAGE) as usize;
        let ptr = g.mem.bytes_mut(idx * PAGE as usize, PAGE as usize)?.as_mut_ptr();
        Some((&mut g.pages[idx], ptr))
    }

    fn mark_private(&mut self, gpa: u64, size: u64, private: bool) {
        for p in (0..size / PAGE).map(|i| gpa + i * PAGE) {
            if let Some((page, _)) = self.page(p) {
                page.private = private;
            }
        }
    }

    /// KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd `gmem` (v8 09/46 `kvm_gmem_ioctl` and
    /// `kvm_gmem_set_attributes`; 10/46 "Ensure pages are not in use before conversion").
    pub fn set_attributes2(&mut self, gmem: usize, a: &mut KvmMemoryAttributes2) -> Result<(), i32> {
        // Mainline guest_memfd has no unlocked_ioctl; v8 answers ENOTTY unless gmem_in_place_conversion.
        if self.generation == Generation::Mainline {
            return Err(libc::ENOTTY);
        }
        let g = &self.gmems[gmem];
        if a.flags != 0 || a.reserved.iter().any(|&r| r != 0) || a.attributes & !KVM_MEMORY_ATTRIBUTE_PRIVATE != 0 {
            return Err(libc::EINVAL);
        }
        let end = a.offset.checked_add(a.size).ok_or(libc::EINVAL)?;
        if a.size == 0 || !a.offset.is_multiple_of(PAGE) || !a.size.is_multiple_of(PAGE) || a.offset >= g.size || end > g.size {
            return Err(libc::EINVAL);
        }
        let base = g.gpa;
        for off in (a.offset..end).step_by(PAGE as usize) {
            if let Some(b) = self.busy.iter_mut().find(|b| b.0 == base + off && b.1 > 0) {
                b.1 -= 1;
                a.error_offset = off;
                return Err(libc::EAGAIN);
            }
        }
        self.mark_private(base + a.offset, a.size, a.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE != 0);
        Ok(())
    }

    /// VM-level KVM_SET_MEMORY_ATTRIBUTES (virt/kvm/kvm_main.c `kvm_vm_ioctl_set_mem_attributes`):
    /// flags, alignment, zero size: EINVAL. In place, PRIVATE is tracked by guest_memfd and the
    /// VM-level PRIVATE attribute is gone (v8 24/46: `kvm_supported_mem_attributes` without PRIVATE).
    pub fn set_memory_attributes(&mut self, address: u64, size: u64, attributes: u64, flags: u64) -> Result<(), i32> {
        let supported = if self.generation == Generation::InPlace { 0 } else { KVM_MEMORY_ATTRIBUTE_PRIVATE };
        if flags != 0 || attributes & !supported != 0 || size == 0 || !address.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) {
            return Err(libc::EINVAL);
        }
        address.checked_add(size).ok_or(libc::EINVAL)?;
        if let Some(b) = self.busy.iter_mut().find(|b| b.0 >= address && b.0 < address + size && b.1 > 0) {
            b.1 -= 1;
            return Err(libc::EAGAIN);
        }
        self.mark_private(address, size, attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE != 0);
        Ok(())
    }

    /// The private check before populate: guest_memfd.c `__kvm_gmem_populate`
    /// (`kvm_range_has_memory_attributes(…PRIVATE…)`, EINVAL; per-gmem in v8 `kvm_gmem_range_is_private`),
    /// and guest_memfd.c `kvm_gmem_get_pfn`: a page never written is cleared on first use.
    pub fn prepare_for_populate(&mut self, gpa: u64) -> Result<*mut u8, i32> {
        let (page, ptr) = self.page(gpa).ok_or(libc::EINVAL)?;
        if !page.private {
            return Err(libc::EINVAL);
        }
        if page.populated {
            // sev.c `sev_gmem_post_populate`: the RMP entry is already assigned.
            return Err(libc::EEXIST);
        }
        if !page.uptodate {
            // SAFETY: `ptr` is the start of a live 4 KiB page of this state's own mapping.
            unsafe { std::ptr::write_bytes(ptr, 0, PAGE as usize) };
            page.uptodate = true;
        }
        Ok(ptr)
    }

    /// Pages of the memslot holding `gpa` from `gpa` to its end: guest_memfd.c `kvm_gmem_populate`
    /// clamps `npages` to the slot.
    pub fn pages_to_slot_end(&self, gpa: u64) -> u64 {
        self.find(gpa, PAGE).map_or(0, |i| (self.gmems[i].gpa + self.gmems[i].size - gpa) / PAGE)
    }
}
