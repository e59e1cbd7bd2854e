//! SIGBUS on a mapped input: reading a page of a mapping past the end of a file that was truncated
//! after it was mapped raises SIGBUS, whose default action kills the process with no message (exit
//! 135). Each mapped input registers its address range and a message prepared in advance; the
//! handler finds the range holding the faulting address, writes that message and exits 1.
//!
//! The handler may only make async-signal-safe calls: it reads atomics, calls `write(2)` and
//! `_exit(2)`. Faults outside every registered range (guest memory in the loader, say) restore the
//! previous disposition and return, so the access faults again and is handled as before.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// How many inputs can be mapped at once; further ones are copied (see `input::map`).
const SLOTS: usize = 64;

struct Slot {
    /// Start address; 0 while the slot is free.
    start: AtomicUsize,
    len: AtomicUsize,
    /// The message for this file (leaked, never freed: the handler may read it at any time).
    msg: AtomicPtr<u8>,
    msg_len: AtomicUsize,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot { start: AtomicUsize::new(0), len: AtomicUsize::new(0), msg: AtomicPtr::new(std::ptr::null_mut()), msg_len: AtomicUsize::new(0) }
}; SLOTS];

/// A slot claimed but not yet filled; keeps two registrations from taking the same slot.
const CLAIMING: usize = usize::MAX;

/// The disposition SIGBUS had before ours, restored for faults that are not ours.
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

/// A registered mapping; unregisters on drop (before the mapping is unmapped).
#[derive(Debug)]
pub struct Guard {
    slot: usize,
}

impl Guard {
    /// Registers `[start, start + len)` as the mapping of `path`. `None` when the handler cannot be
    /// installed or every slot is taken (the caller then copies the file instead).
    pub fn new(start: *const u8, len: usize, path: &Path) -> Option<Guard> {
        if !install() || len == 0 {
            return None;
        }
        let slot = TABLE.iter().position(|s| s.start.compare_exchange(0, CLAIMING, Ordering::AcqRel, Ordering::Relaxed).is_ok())?;
        let msg = format!(
            "prelaunch: error: {}: the file shrank while it was being read (it had {len} bytes when opened); no result was produced\n",
            crate::show(path)
        );
        let msg: &'static mut [u8] = Box::leak(msg.into_bytes().into_boxed_slice());
        let s = &TABLE[slot];
        s.msg_len.store(msg.len(), Ordering::Relaxed);
        s.msg.store(msg.as_mut_ptr(), Ordering::Relaxed);
        s.len.store(len, Ordering::Relaxed);
        s.start.store(start as usize, Ordering::Release);
        Some(Guard { slot })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let s = &TABLE[self.slot];
        s.len.store(0, Ordering::Release);
        s.start.store(0, Ordering::Release);
    }
}

/// Installs the handler once; false if `sigaction` failed.
fn install() -> bool {
    PREVIOUS
        .get_or_init(|| {
            // SAFETY: zeroed is a valid `sigaction` (no handler, empty mask, no flags); every field
            // that matters is set below.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = on_sigbus as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO;
            // SAFETY: `act.sa_mask` is a valid sigset_t owned by this frame.
            unsafe { libc::sigemptyset(&mut act.sa_mask) };
            // SAFETY: as above; zeroed is a valid value for the previous disposition to be written to.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: both pointers are to valid `sigaction` values in this frame; the handler is an
            // `extern "C"` function with the SA_SIGINFO signature, which only makes
            // async-signal-safe calls.
            let r = unsafe { libc::sigaction(libc::SIGBUS, &act, &mut old) };
            (r == 0).then_some(old)
        })
        .is_some()
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for a SA_SIGINFO handler; si_addr is the faulting
    // address for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    for s in &TABLE {
        let start = s.start.load(Ordering::Acquire);
        let len = s.len.load(Ordering::Relaxed);
        if start == 0 || start == CLAIMING || addr < start || addr - start >= len {
            continue;
        }
        let (msg, msg_len) = (s.msg.load(Ordering::Relaxed), s.msg_len.load(Ordering::Relaxed));
        // SAFETY: write(2) and _exit(2) are async-signal-safe; `msg` points at `msg_len` bytes that
        // are never freed (leaked at registration, stored before `start` was published).
        unsafe {
            libc::write(2, msg as *const libc::c_void, msg_len);
            libc::_exit(1);
        }
    }
    // Not a mapped input: restore the previous disposition; returning re-runs the faulting access,
    // which the previous handler (by default: the kernel's SIGBUS action) then handles.
    if let Some(Some(prev)) = PREVIOUS.get() {
        // SAFETY: sigaction(2) is async-signal-safe; `prev` is a valid disposition saved at install.
        unsafe { libc::sigaction(libc::SIGBUS, prev, std::ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::{Input, Kind};

    /// Truncates a mapped file and reads it in a forked child: the child must exit 1 with the
    /// file's name on stderr, not die of SIGBUS. Forking in a threaded test process is sound here
    /// because the child only reads memory, takes the signal, and calls write and _exit.
    #[test]
    fn a_file_that_shrinks_while_mapped_is_named_and_exits_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrinks\x1b.fd");
        std::fs::write(&path, vec![7u8; 64 * 4096]).unwrap();
        let input = Input::open(&path, Kind::FIRMWARE).unwrap();
        assert!(input.is_mapped());
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(4096).unwrap();
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two descriptors for pipe(2) to fill.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the child only calls async-signal-safe functions (dup2, a volatile read, _exit)
        // and the SIGBUS handler, which does the same.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child: stderr becomes the pipe's write end; the read is of a page of a
            // live mapping (past the file's new end); _exit never returns.
            unsafe {
                libc::dup2(fds[1], 2);
                let v = std::ptr::read_volatile(input.as_ptr().add(10 * 4096));
                libc::_exit(if v == 7 { 0 } else { 2 });
            }
        }
        // SAFETY: closing the parent's copy of the write end, which it owns.
        unsafe { libc::close(fds[1]) };
        let mut status = 0;
        // SAFETY: waiting for the child just forked, with a valid status pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        let mut msg = String::new();
        // SAFETY: the read end is owned by this test and handed to the File once.
        let mut r = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
        std::io::Read::read_to_string(&mut r, &mut msg).unwrap();
        assert!(libc::WIFEXITED(status), "child died of signal {}", libc::WTERMSIG(status));
        assert_eq!(libc::WEXITSTATUS(status), 1, "{msg}");
        assert!(msg.contains("shrinks\\x1b.fd: the file shrank while it was being read"), "{msg}");
        // Reading the part that is still there works in the parent.
        assert_eq!(input[0], 7);
        std::io::stderr().flush().unwrap();
    }
}
