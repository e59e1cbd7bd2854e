//! The few raw system-call helpers the crate needs: ioctl request numbers (`_IOC` as in
//! `include/uapi/asm-generic/ioctl.h`), one ioctl call with errno capture, and errno names for messages.

use std::io;
use std::os::fd::AsRawFd;

const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// The KVM ioctl type byte.
pub const KVMIO: u32 = 0xAE;

/// `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u64 {
    ((dir << IOC_DIRSHIFT) | ((size as u32) << IOC_SIZESHIFT) | (ty << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT)) as u64
}

/// `_IOW(type, nr, size)`.
pub const fn iow(ty: u32, nr: u32, size: usize) -> u64 {
    ioc(IOC_WRITE, ty, nr, size)
}

/// `_IOWR(type, nr, size)`.
pub const fn iowr(ty: u32, nr: u32, size: usize) -> u64 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}

/// Issues `ioctl(fd, request, arg)`; the errno on failure.
///
/// # Safety
/// `arg` must point to a live, writable value of the type and size `request` encodes.
pub unsafe fn ioctl_ptr<T>(fd: &impl AsRawFd, request: u64, arg: *mut T) -> Result<i32, i32> {
    // SAFETY: the caller guarantees `arg` matches `request`; `fd` is a live descriptor for the
    // duration of the borrow of its owner. The request type differs between libc flavours, hence the cast.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if ret < 0 { Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)) } else { Ok(ret) }
}

/// `ENOTTY`, `EINVAL`, … for messages (the number for anything unusual).
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::E2BIG => "E2BIG",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENXIO => "ENXIO",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        _ => return format!("errno {errno}"),
    };
    name.to_owned()
}

/// What to do about the errors a large plan runs into: each populated region holds a file
/// descriptor (guest_memfd or memfd) and its memory.
pub fn errno_hint(errno: i32) -> &'static str {
    match errno {
        libc::EMFILE | libc::ENFILE => {
            " (too many open files: the load holds one file descriptor per populated region; raise the limit, e.g. `ulimit -n`)"
        }
        libc::ENOMEM => " (out of memory: the host cannot back the plan's regions; see --max-guest-memory)",
        _ => "",
    }
}

/// An OS error by its errno name, with [`errno_hint`]; other I/O errors as they are.
pub fn describe_os_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{}{}", errno_name(n), errno_hint(n)),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_match_the_kernel_headers() {
        // Values as the C preprocessor computes them for x86-64.
        assert_eq!(iowr(KVMIO, 0xba, 8), 0xc008_aeba, "KVM_MEMORY_ENCRYPT_OP");
        assert_eq!(iow(KVMIO, 0x49, 160), 0x40a0_ae49, "KVM_SET_USER_MEMORY_REGION2");
        assert_eq!(iow(KVMIO, 0xd2, 32), 0x4020_aed2, "KVM_SET_MEMORY_ATTRIBUTES");
        assert_eq!(iowr(KVMIO, 0xd4, 64), 0xc040_aed4, "KVM_CREATE_GUEST_MEMFD");
        assert_eq!(iowr(KVMIO, 0xd2, 128), 0xc080_aed2, "KVM_SET_MEMORY_ATTRIBUTES2 (RFC)");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::ENOTTY), "ENOTTY");
        assert_eq!(errno_name(9999), "errno 9999");
    }

    #[test]
    fn resource_errors_are_named_with_what_to_do() {
        let emfile = describe_os_error(&std::io::Error::from_raw_os_error(libc::EMFILE));
        assert!(emfile.starts_with("EMFILE (too many open files") && emfile.contains("ulimit -n"), "{emfile}");
        let enomem = describe_os_error(&std::io::Error::from_raw_os_error(libc::ENOMEM));
        assert!(enomem.starts_with("ENOMEM (out of memory") && enomem.contains("--max-guest-memory"), "{enomem}");
        assert_eq!(describe_os_error(&std::io::Error::other("x")), "x");
    }
}
