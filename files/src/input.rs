//! Input files: opened without blocking, type-checked, then mapped (large regular files) or read
//! with a bound (pipes, devices, standard input, small kinds).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::ops::Deref;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use memmap2::Mmap;

use crate::error::FileError;
use crate::sigbus;

/// What an input holds, which decides how it is read and how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// In messages: "a {what} is at most ...".
    pub what: &'static str,
    /// The most bytes read from a pipe or device, or copied from a regular file. Regular files of
    /// mapped kinds are not bounded here: mapping costs no memory, and their parsers bound them.
    pub max: u64,
    /// Regular files are memory-mapped (large inputs hashed in place) rather than copied.
    pub map: bool,
}

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

impl Kind {
    /// OVMF/TDVF/SVSM/IGVM images: 2-16 MiB in practice, an IGVM file with its payload tens of MiB.
    pub const FIRMWARE: Kind = Kind { what: "firmware image", max: 256 * MIB, map: true };
    /// Kernels: a bzImage is 10-30 MiB, a unified kernel image with its initrd inside a few hundred.
    pub const KERNEL: Kind = Kind { what: "kernel", max: 512 * MIB, map: true };
    /// Initrds: dracut images with firmware reach a few hundred MiB.
    pub const INITRD: Kind = Kind { what: "initrd", max: 1024 * MIB, map: true };
    /// SNP reports are 1184 bytes, TDX quotes with their certification data a few KiB.
    pub const EVIDENCE: Kind = Kind { what: "report or quote", max: MIB, map: false };
    /// A VCEK is about 1.4 KiB of DER; PEM with a chain a few KiB.
    pub const CERTIFICATE: Kind = Kind { what: "certificate", max: 64 * KIB, map: false };
    /// A P-384 private key in PEM is under 1 KiB.
    pub const KEY: Kind = Kind { what: "private key", max: 64 * KIB, map: false };
    /// A plan is a few KiB of JSON, plus base64 of its generated pages (TDVF sections of data and
    /// zeros up to 64 MiB).
    pub const PLAN: Kind = Kind { what: "launch plan", max: 128 * MIB, map: false };
    /// QEMU firmware descriptors are about 1 KiB of JSON.
    pub const DESCRIPTOR: Kind = Kind { what: "firmware descriptor", max: MIB, map: false };
    /// OVMF_VARS: only its size is used (528 KiB to 4 MiB in practice).
    pub const VARS: Kind = Kind { what: "OVMF_VARS file", max: 256 * MIB, map: false };
}

/// The bytes of an input. Declaration order matters: the SIGBUS guard is dropped (unregistered)
/// before the mapping it covers is unmapped.
#[derive(Debug)]
enum Data {
    Mapped { _guard: sigbus::Guard, map: Mmap },
    Owned(Vec<u8>),
}

/// An input file: its name as given and its bytes, mapped or read.
#[derive(Debug)]
pub struct Input {
    path: PathBuf,
    data: Data,
}

/// Pipes (and standard input) read so far in this process, by device and inode: each can be read
/// only once, since a second read would see nothing or the rest. Devices (/dev/zero) are not
/// claimed: every read of one starts afresh. Each entry keeps a descriptor of its pipe open, so that
/// its inode cannot be reused by another pipe while the process runs.
static CLAIMED: Mutex<Vec<(u64, u64, PathBuf, File)>> = Mutex::new(Vec::new());

/// Whether `path` names standard input: `-`, or one of the names Linux gives it.
fn is_stdin_name(path: &Path) -> bool {
    path.as_os_str() == "-" || ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"].iter().any(|p| path == Path::new(p))
}

impl Input {
    /// Opens `path` (`-`: standard input) as an input of `kind`.
    pub fn open(path: impl AsRef<Path>, kind: Kind) -> Result<Self, FileError> {
        let path = path.as_ref().to_path_buf();
        let (file, meta) = open_checked(&path, kind)?;
        let data = if meta.is_file() && kind.map {
            map(&path, &file, meta.len())?
        } else if meta.is_file() {
            if meta.len() > kind.max {
                return Err(FileError::TooLarge { path, what: kind.what, found: meta.len(), max: kind.max });
            }
            Data::Owned(read_bounded(&path, file, kind, true)?)
        } else {
            let fifo = meta.file_type().is_fifo();
            if fifo || meta.file_type().is_socket() || is_stdin_name(&path) {
                claim(&path, &file, &meta)?;
            }
            let bytes = read_bounded(&path, file, kind, false)?;
            if bytes.is_empty() && fifo && !is_stdin_name(&path) {
                return Err(FileError::NoWriter { path });
            }
            Data::Owned(bytes)
        };
        Ok(Input { path, data })
    }

    /// The name the input was given by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the bytes are a mapping of the file (a regular file of a mapped kind).
    pub fn is_mapped(&self) -> bool {
        matches!(self.data, Data::Mapped { .. })
    }
}

impl Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.data {
            Data::Mapped { map, .. } => map,
            Data::Owned(v) => v,
        }
    }
}

impl AsRef<[u8]> for Input {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// The size of an input whose bytes do not matter (`--vars-file`): a regular file's length, or the
/// bytes a pipe delivers (read and discarded, up to the kind's bound).
pub fn byte_size(path: impl AsRef<Path>, kind: Kind) -> Result<u64, FileError> {
    let path = path.as_ref().to_path_buf();
    let (file, meta) = open_checked(&path, kind)?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    if meta.file_type().is_fifo() || meta.file_type().is_socket() || is_stdin_name(&path) {
        claim(&path, &file, &meta)?;
    }
    let mut sink = std::io::sink();
    let n = std::io::copy(&mut Nonblocking(file).take(kind.max + 1), &mut sink)
        .map_err(|source| FileError::Read { path: path.clone(), source })?;
    if n > kind.max {
        return Err(FileError::StreamTooLarge { path, what: kind.what, max: kind.max });
    }
    Ok(n)
}

/// Opens without blocking and refuses directories. Standard input is duplicated, not reopened.
fn open_checked(path: &Path, kind: Kind) -> Result<(File, std::fs::Metadata), FileError> {
    let open_err = |source| FileError::Open { path: path.to_path_buf(), source };
    let file = if path.as_os_str() == "-" {
        File::from(std::io::stdin().as_fd().try_clone_to_owned().map_err(open_err)?)
    } else {
        // O_NONBLOCK: opening a FIFO for reading blocks until a writer appears; with it the open
        // returns at once and the type check below decides what to do.
        let f = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path).map_err(open_err)?;
        let meta = f.metadata().map_err(open_err)?;
        if !meta.is_file() && !meta.is_dir() {
            clear_nonblock(&f).map_err(open_err)?;
        }
        f
    };
    let meta = file.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(FileError::Directory { path: path.to_path_buf(), what: kind.what });
    }
    Ok((file, meta))
}

/// Pipes and devices are read blocking once their type is known (a writer that exists will write).
fn clear_nonblock(f: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: F_GETFL on a descriptor this function borrows; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: F_SETFL with an integer argument on the same descriptor; no memory is passed.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Records that a pipe (or standard input) is being read, refusing one already read.
fn claim(path: &Path, file: &File, meta: &std::fs::Metadata) -> Result<(), FileError> {
    let key = (meta.dev(), meta.ino());
    let mut claimed = CLAIMED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, _, first, _)) = claimed.iter().find(|c| (c.0, c.1) == key) {
        return Err(FileError::ReadTwice { path: path.to_path_buf(), first: first.clone() });
    }
    let keep = file.try_clone().map_err(|source| FileError::Open { path: path.to_path_buf(), source })?;
    claimed.push((key.0, key.1, path.to_path_buf(), keep));
    Ok(())
}

/// Reads at most `kind.max` bytes; one more is an error.
fn read_bounded(path: &Path, file: File, kind: Kind, regular: bool) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    Nonblocking(file).take(kind.max + 1).read_to_end(&mut bytes).map_err(|source| FileError::Read { path: path.to_path_buf(), source })?;
    if bytes.len() as u64 > kind.max {
        return Err(if regular {
            FileError::TooLarge { path: path.to_path_buf(), what: kind.what, found: bytes.len() as u64, max: kind.max }
        } else {
            FileError::StreamTooLarge { path: path.to_path_buf(), what: kind.what, max: kind.max }
        });
    }
    Ok(bytes)
}

/// A reader that waits when a descriptor it does not own the flags of (standard input, shared with
/// the parent) is non-blocking, instead of failing with EAGAIN.
struct Nonblocking(File);

impl Read for Nonblocking {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait_readable(&self.0)?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

fn wait_readable(f: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: `p` is one valid pollfd that outlives the call; nfds is 1.
    if unsafe { libc::poll(&mut p, 1, -1) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// Maps a regular file read-only and guards the mapping against the file shrinking; where no guard
/// slot is free the file is copied instead, so that an input is never mapped unguarded.
fn map(path: &Path, file: &File, len: u64) -> Result<Data, FileError> {
    if len == 0 {
        return Ok(Data::Owned(Vec::new()));
    }
    // SAFETY: a read-only private mapping of a file this process opened. Another process may
    // truncate the file while it is mapped: reads past the new end then raise SIGBUS, which the
    // guard registered below turns into a message naming the file and exit 1 (and the guard is
    // unregistered before the mapping goes away: see `Data`). Rewritten bytes may be seen; the
    // inputs are identified by SHA-256 where it matters (plans).
    // Not MAP_POPULATE: populating walks every page on this thread before any work starts, while
    // demand faults (16 pages each with the kernel's fault-around) land on whichever hashing
    // thread first reads a page, in parallel.
    let map = unsafe { memmap2::MmapOptions::new().map(file) }.map_err(|source| FileError::Map { path: path.to_path_buf(), source })?;
    match sigbus::Guard::new(map.as_ptr(), map.len(), path) {
        Some(guard) => Ok(Data::Mapped { _guard: guard, map }),
        None => {
            drop(map);
            let kind = Kind { what: "file", max: len, map: false };
            let f = file.try_clone().map_err(|source| FileError::Read { path: path.to_path_buf(), source })?;
            Ok(Data::Owned(read_bounded(path, f, kind, true)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_regular_files_and_names_bad_paths() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.bin");
        std::fs::write(&f, b"abc").unwrap();
        let m = Input::open(&f, Kind::FIRMWARE).unwrap();
        assert_eq!(&*m, b"abc");
        assert!(m.is_mapped());
        let c = Input::open(&f, Kind::KEY).unwrap();
        assert!(!c.is_mapped());
        assert_eq!(&*c, b"abc");
        let e = dir.path().join("empty");
        std::fs::write(&e, b"").unwrap();
        assert!(Input::open(&e, Kind::FIRMWARE).unwrap().is_empty());
        let msg = Input::open(dir.path(), Kind::FIRMWARE).unwrap_err().to_string();
        assert!(msg.contains("is a directory; expected a firmware image"), "{msg}");
        let msg = Input::open(dir.path().join("missing"), Kind::FIRMWARE).unwrap_err().to_string();
        assert!(msg.contains("missing") && msg.contains("No such file"), "{msg}");
    }

    fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    /// Runs `f` on another thread and fails if it takes longer than 10 s (the bug was a hang).
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("opening the input hung")
    }

    #[test]
    fn a_fifo_without_a_writer_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        for (i, kind) in [Kind::FIRMWARE, Kind::CERTIFICATE, Kind::EVIDENCE, Kind::DESCRIPTOR].into_iter().enumerate() {
            let f = dir.path().join(format!("fifo{i}"));
            mkfifo(&f);
            let msg = within_10s(move || Input::open(&f, kind).unwrap_err().to_string());
            assert!(msg.contains("a FIFO with no writer"), "{msg}");
        }
    }

    #[test]
    fn a_fifo_with_a_writer_is_read_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        // O_RDWR holds a writer end without blocking (Linux), as `<(cmd)` holds one for cmd.
        let mut w = OpenOptions::new().read(true).write(true).open(&fifo).unwrap();
        let writer = std::thread::spawn(move || {
            std::io::Write::write_all(&mut w, &vec![5u8; 300_000]).unwrap();
        });
        let f = fifo.clone();
        let got = within_10s(move || {
            // The reader sees EOF only when every writer is gone: the writer thread keeps the only one.
            Input::open(&f, Kind { what: "test input", max: 300_000, map: true })
        });
        writer.join().unwrap();
        let got = got.unwrap();
        assert_eq!(got.len(), 300_000);
        assert!(!got.is_mapped());
        let msg = Input::open(&fifo, Kind::FIRMWARE).unwrap_err().to_string();
        assert!(msg.contains("the same pipe as") && msg.contains("can be read once"), "{msg}");
    }

    #[test]
    fn devices_are_read_up_to_the_kinds_bound() {
        let msg = within_10s(|| Input::open("/dev/zero", Kind::CERTIFICATE).unwrap_err().to_string());
        assert_eq!(msg, "/dev/zero: more than 65536 bytes from a pipe or device; a certificate is at most 65536 bytes");
        let n = within_10s(|| Input::open("/dev/null", Kind::KEY).unwrap().len());
        assert_eq!(n, 0);
        let msg = within_10s(|| byte_size("/dev/zero", Kind::VARS).unwrap_err().to_string());
        assert!(msg.contains("OVMF_VARS file is at most 268435456 bytes"), "{msg}");
    }

    #[test]
    fn small_kinds_are_bounded_as_regular_files_too() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.pem");
        std::fs::write(&f, vec![b'A'; 65537]).unwrap();
        let msg = Input::open(&f, Kind::KEY).unwrap_err().to_string();
        assert!(msg.ends_with("big.pem: 65537 bytes; a private key is at most 65536 bytes"), "{msg}");
        assert_eq!(byte_size(&f, Kind::VARS).unwrap(), 65537);
    }
}
