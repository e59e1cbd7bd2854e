//! Host mappings placed at an aligned address: reserve a larger anonymous PROT_NONE range, map the
//! file MAP_FIXED at the first aligned address inside it, give back the slack. 2 MiB alignment of the
//! mapping (with the GPA and the guest_memfd offset) is what lets KVM map whole hugepages.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

/// The smallest mapping granule (the page every platform populates).
const PAGE: usize = prelaunch_measure::PAGE_SIZE as usize;

/// A `MAP_SHARED` read-write mapping, unmapped on drop.
#[derive(Debug)]
pub struct AlignedMapping {
    addr: NonNull<u8>,
    len: usize,
}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl AlignedMapping {
    /// Maps `len` bytes of `fd` from `offset` at an address aligned to `align` (a power of two, at
    /// least the page size); `populate` pre-faults every page (MAP_POPULATE).
    pub fn map_shared(fd: BorrowedFd<'_>, offset: u64, len: usize, align: usize, populate: bool) -> io::Result<Self> {
        Self::map(Some(fd), offset, len, align, populate)
    }

    /// Anonymous shared memory at an aligned address.
    pub fn anonymous(len: usize, align: usize) -> io::Result<Self> {
        Self::map(None, 0, len, align, false)
    }

    fn map(fd: Option<BorrowedFd<'_>>, offset: u64, len: usize, align: usize, populate: bool) -> io::Result<Self> {
        if len == 0 || !align.is_power_of_two() || align < PAGE || !len.is_multiple_of(PAGE) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("cannot map {len:#x} bytes aligned to {align:#x}")));
        }
        let reserve_len = len.checked_add(align).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large"))?;
        // SAFETY: a fresh anonymous PROT_NONE reservation at an address of the kernel's choosing; it
        // touches no existing mapping.
        let reserve = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserve_len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if reserve == libc::MAP_FAILED {
            return Err(last_error("reserving address space"));
        }
        let base = reserve as usize;
        let aligned = (base + align - 1) & !(align - 1);
        let mut flags = libc::MAP_SHARED | libc::MAP_FIXED;
        if populate {
            flags |= libc::MAP_POPULATE;
        }
        let (raw_fd, flags) = match fd {
            Some(fd) => (fd.as_raw_fd(), flags),
            None => (-1, flags | libc::MAP_ANONYMOUS),
        };
        // SAFETY: [aligned, aligned + len) lies inside the reservation made above, which this
        // function owns, so MAP_FIXED replaces only our own PROT_NONE pages.
        let got = unsafe {
            libc::mmap(aligned as *mut libc::c_void, len, libc::PROT_READ | libc::PROT_WRITE, flags, raw_fd, offset as libc::off_t)
        };
        if got == libc::MAP_FAILED {
            let err = last_error("mapping guest memory");
            // SAFETY: unmapping exactly the reservation made above, which nothing else uses.
            unsafe { libc::munmap(reserve, reserve_len) };
            return Err(err);
        }
        // Give back the slack before and after the aligned range.
        let head = aligned - base;
        let tail = reserve_len - head - len;
        // SAFETY: both ranges are the unused parts of our own reservation, outside [aligned, +len).
        unsafe {
            if head > 0 {
                libc::munmap(reserve, head);
            }
            if tail > 0 {
                libc::munmap((aligned + len) as *mut libc::c_void, tail);
            }
        }
        let addr = NonNull::new(aligned as *mut u8).ok_or_else(|| io::Error::other("mmap returned address 0"))?;
        Ok(AlignedMapping { addr, len })
    }

    pub fn addr(&self) -> u64 {
        self.addr.as_ptr() as u64
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `len` bytes from `offset`, if inside the mapping.
    pub fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        if offset.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: the range lies inside a live read-write mapping owned by `self`; the returned
        // borrow ends before `self` can be dropped. Other writers (a vCPU, the kernel during a
        // populate call) only run while the loader is not reading.
        Some(unsafe { std::slice::from_raw_parts(self.addr.as_ptr().add(offset), len) })
    }

    /// `len` writable bytes from `offset`, if inside the mapping.
    pub fn bytes_mut(&mut self, offset: usize, len: usize) -> Option<&mut [u8]> {
        if offset.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: as in `bytes`; `&mut self` makes this the only borrow of the mapping.
        Some(unsafe { std::slice::from_raw_parts_mut(self.addr.as_ptr().add(offset), len) })
    }
}

impl Drop for AlignedMapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the range this value mapped and owns; no borrow outlives `self`.
        unsafe { libc::munmap(self.addr.as_ptr() as *mut libc::c_void, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_mappings_are_aligned_writable_and_bounded() {
        let mut m = AlignedMapping::anonymous(3 << 20, 2 << 20).unwrap();
        assert_eq!(m.addr() % (2 << 20), 0);
        m.bytes_mut(4096, 3).unwrap().copy_from_slice(b"abc");
        assert_eq!(m.bytes(4096, 3).unwrap(), b"abc");
        assert!(m.bytes(3 << 20, 1).is_none());
        assert!(m.bytes(usize::MAX, 2).is_none());
    }

    #[test]
    fn refuses_unaligned_requests() {
        assert!(AlignedMapping::anonymous(4097, 4096).is_err());
        assert!(AlignedMapping::anonymous(4096, 3 << 20).is_err());
        assert!(AlignedMapping::anonymous(0, 4096).is_err());
    }
}
