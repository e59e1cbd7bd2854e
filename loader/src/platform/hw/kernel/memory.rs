//! The fake kernels' guest memory as the loader sees it: a [`MemoryBackend`] whose guest_memfds,
//! host mappings and attribute ioctls follow [`KernelState`]'s rules. In place, the host maps the
//! guest_memfd and a private page is not accessible (a real access would SIGBUS); in mainline the
//! guest_memfd is private-only and the host's mapping is separate shared memory.

use prelaunch_measure::plan::Region;

use super::{Generation, PAGE, Shared};
use crate::kvm::uapi::{GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_MEMORY_ATTRIBUTE_PRIVATE, KvmMemoryAttributes2};
use crate::memory::convert::{ConvertError, HostConversion, Offer};
use crate::memory::{MappedRegion, MemoryBackend, MemoryError, MemoryKind};
use crate::sys::errno_name;

/// guest_memfd memory on a fake kernel.
pub(crate) struct FakeMemory {
    state: Shared,
    host: HostConversion,
}

impl FakeMemory {
    /// One guest_memfd per region: MMAP | INIT_SHARED where the kernel offers it (in place), else
    /// private-only with separate shared memory (mainline), as `GuestMemfdBackend` chooses.
    pub(crate) fn create(state: Shared, regions: &[Region]) -> Result<Self, MemoryError> {
        let generation = state.borrow().generation;
        let want = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
        let flags = if state.borrow().supported_gmem_flags() & want == want { want } else { 0 };
        for r in regions {
            let i = state.borrow_mut().create_guest_memfd(r.gpa, r.size, flags).map_err(|e| MemoryError::Ioctl {
                region: r.name.clone(),
                gpa: r.gpa,
                what: "KVM_CREATE_GUEST_MEMFD",
                errno: errno_name(e),
            })?;
            if flags != 0 {
                state.borrow().mmap_allowed(i).map_err(|e| MemoryError::Ioctl {
                    region: r.name.clone(),
                    gpa: r.gpa,
                    what: "mmap",
                    errno: errno_name(e),
                })?;
            }
        }
        let host = match generation {
            Generation::InPlace => HostConversion {
                attributes2: Offer::Yes,
                vm_attributes: Offer::No("KVM_CAP_MEMORY_ATTRIBUTES is 0x0: PRIVATE is tracked by guest_memfd".into()),
            },
            Generation::Mainline => HostConversion { attributes2: Offer::No("ENOTTY".into()), vm_attributes: Offer::Yes },
        };
        Ok(FakeMemory { state, host })
    }

    fn slice(&self, gpa: u64, len: u64, write: bool) -> Option<*mut u8> {
        let mut s = self.state.borrow_mut();
        let i = s.find(gpa, len)?;
        let in_place = s.generation == Generation::InPlace;
        let g = &mut s.gmems[i];
        let off = (gpa - g.gpa) as usize;
        let first = off / PAGE as usize;
        let last = (off + len as usize).div_ceil(PAGE as usize);
        if in_place {
            // A private page is not mappable by the host: a real access would SIGBUS.
            if g.pages[first..last].iter().any(|p| p.private) {
                return None;
            }
            if write {
                g.pages[first..last].iter_mut().for_each(|p| p.uptodate = true);
            }
            Some(g.mem.bytes_mut(off, len as usize)?.as_mut_ptr())
        } else {
            Some(g.shared.as_mut()?.bytes_mut(off, len as usize)?.as_mut_ptr())
        }
    }
}

impl MemoryBackend for FakeMemory {
    fn kind(&self) -> MemoryKind {
        MemoryKind::GuestMemfd
    }

    fn regions(&self) -> Vec<MappedRegion> {
        let s = self.state.borrow();
        s.gmems
            .iter()
            .enumerate()
            .map(|(i, g)| MappedRegion {
                name: format!("gmem{i}"),
                gpa: g.gpa,
                size: g.size,
                host_addr: g.shared.as_ref().unwrap_or(&g.mem).addr(),
                gmem_offset: 0,
                slot: Some(i as u32),
            })
            .collect()
    }

    fn host_accessible(&self) -> bool {
        self.state.borrow().generation == Generation::InPlace
    }

    fn bytes(&self, gpa: u64, len: u64) -> Option<&[u8]> {
        let p = self.slice(gpa, len, false)?;
        // SAFETY: `p` points to `len` bytes inside a mapping the shared state owns for as long as
        // `self` holds it; the borrow of `self` bounds the slice's life.
        Some(unsafe { std::slice::from_raw_parts(p, len as usize) })
    }

    fn bytes_mut(&mut self, gpa: u64, len: u64) -> Option<&mut [u8]> {
        let p = self.slice(gpa, len, true)?;
        // SAFETY: as in `bytes`; `&mut self` makes this the only borrow handed out.
        Some(unsafe { std::slice::from_raw_parts_mut(p, len as usize) })
    }

    fn host_conversion(&self) -> &HostConversion {
        &self.host
    }

    fn convert_once(&mut self, gpa: u64, len: u64) -> Result<(), ConvertError> {
        let mut s = self.state.borrow_mut();
        if self.host.attributes2.offered() {
            let i = s.find(gpa, len).ok_or_else(|| ConvertError::Unsupported(format!("no guest_memfd holds [{gpa:#x}, +{len:#x})")))?;
            let base = s.gmems[i].gpa;
            let mut a =
                KvmMemoryAttributes2 { offset: gpa - base, size: len, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
            return match s.set_attributes2(i, &mut a) {
                Ok(()) => Ok(()),
                Err(libc::EAGAIN) => Err(ConvertError::Again { at_gpa: base + a.error_offset }),
                Err(e) => Err(ConvertError::Failed { call: "KVM_SET_MEMORY_ATTRIBUTES2", errno: errno_name(e) }),
            };
        }
        match s.set_memory_attributes(gpa, len, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0) {
            Ok(()) => Ok(()),
            Err(libc::EAGAIN) => Err(ConvertError::Again { at_gpa: gpa }),
            Err(e) => Err(ConvertError::Failed { call: "KVM_SET_MEMORY_ATTRIBUTES", errno: errno_name(e) }),
        }
    }
}
