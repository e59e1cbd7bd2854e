//! The `hw` platform: real SEV-SNP and TDX launches through KVM.
//!
//! Each platform talks to KVM through a small trait ([`snp_ioctls::SnpIoctls`],
//! [`tdx_ioctls::TdxIoctls`]): the real implementations issue the ioctls (kvm-ioctls where it has
//! them, [`crate::sys::ioctl_ptr`] where it does not), and the tests substitute a fake that records
//! the calls and injects EINTR, EAGAIN and partial progress. On a host without SEV-SNP or TDX the
//! platforms are never constructed: creating the VM type already fails with a message naming what
//! is missing.

pub mod snp;
pub mod snp_cpuid;
pub mod snp_ioctls;
pub mod tdx;
pub mod tdx_ioctls;
pub mod vcpu_state;
pub mod vmsa_fidelity;

#[cfg(test)]
mod fake;
#[cfg(test)]
pub(crate) mod kernel;

use prelaunch_measure::PAGE_SIZE;

use crate::memory::mapping::AlignedMapping;
use crate::platform::PlatformError;
use crate::sys::errno_name;

/// A failed ioctl: the errno and, where the command has one, the firmware's or TDX module's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlError {
    pub errno: i32,
    /// `kvm_sev_cmd.error` (SEV firmware status) or `kvm_tdx_cmd.hw_error` (TDX SEAMCALL status).
    pub fw_error: u64,
}

impl IoctlError {
    pub fn errno(errno: i32) -> Self {
        IoctlError { errno, fw_error: 0 }
    }

    /// EINTR and EAGAIN become retryable platform errors; anything else names the call and status.
    pub(crate) fn into_platform(self, call: &'static str, status: impl Fn(u64) -> String) -> PlatformError {
        match self.errno {
            libc::EINTR => PlatformError::Interrupted,
            libc::EAGAIN => PlatformError::Busy,
            errno => PlatformError::Ioctl {
                call,
                errno: errno_name(errno),
                detail: if self.fw_error != 0 { format!(" ({})", status(self.fw_error)) } else { String::new() },
            },
        }
    }
}

/// A page-aligned source for a populate call that does not work in place: the input bytes where
/// they are page aligned already (the input file mappings), else a copy (generated pages), or zeros
/// for operations without source bytes.
pub(crate) struct SourceBuffer {
    _owned: Option<AlignedMapping>,
    addr: u64,
}

impl SourceBuffer {
    pub(crate) fn new(bytes: Option<&[u8]>, len: u64) -> Result<Self, PlatformError> {
        if let Some(b) = bytes.filter(|b| (b.as_ptr() as usize).is_multiple_of(PAGE_SIZE as usize) && b.len() as u64 >= len) {
            return Ok(SourceBuffer { _owned: None, addr: b.as_ptr() as u64 });
        }
        let size =
            usize::try_from(len.div_ceil(PAGE_SIZE) * PAGE_SIZE).map_err(|_| PlatformError::Unsupported("source too large".into()))?;
        let mut m = AlignedMapping::anonymous(size.max(PAGE_SIZE as usize), PAGE_SIZE as usize)
            .map_err(|e| PlatformError::Unsupported(format!("cannot allocate a source buffer: {e}")))?;
        if let Some(b) = bytes {
            let n = b.len().min(size);
            if let Some(dst) = m.bytes_mut(0, n) {
                dst.copy_from_slice(&b[..n]);
            }
        }
        Ok(SourceBuffer { addr: m.addr(), _owned: Some(m) })
    }

    pub(crate) fn addr(&self) -> u64 {
        self.addr
    }

    /// The buffer's first `len` bytes (what the kernel wrote back, for a CPUID page).
    pub(crate) fn bytes(&self, len: usize) -> Option<&[u8]> {
        match &self._owned {
            Some(m) => m.bytes(0, len),
            // SAFETY: a borrowed buffer is an input mapping of at least `len` bytes that outlives `self`.
            None => Some(unsafe { std::slice::from_raw_parts(self.addr as *const u8, len) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_buffers_are_page_aligned_and_hold_the_bytes() {
        let unaligned = vec![7u8; 5000];
        let b = SourceBuffer::new(Some(&unaligned[1..]), 4999).unwrap();
        assert_eq!(b.addr() % 4096, 0);
        assert!(b._owned.as_ref().unwrap().bytes(0, 4999).unwrap().iter().all(|&x| x == 7));
        let z = SourceBuffer::new(None, 8192).unwrap();
        assert!(z._owned.as_ref().unwrap().bytes(0, 8192).unwrap().iter().all(|&x| x == 0));
    }

    #[test]
    fn ioctl_errors_map_to_retryable_or_named() {
        assert_eq!(IoctlError::errno(libc::EINTR).into_platform("X", |_| String::new()), PlatformError::Interrupted);
        assert_eq!(IoctlError::errno(libc::EAGAIN).into_platform("X", |_| String::new()), PlatformError::Busy);
        let e = IoctlError { errno: libc::EIO, fw_error: 0xb }.into_platform("SNP_LAUNCH_FINISH", |c| format!("status {c:#x}"));
        assert_eq!(e.to_string(), "SNP_LAUNCH_FINISH: EIO (status 0xb)");
    }
}
