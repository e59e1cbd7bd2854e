//! Output files: written whole or not at all, and never through a symbolic link.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::FileError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: into a new file beside it (`O_CREAT | O_EXCL |
/// O_NOFOLLOW`, so no existing file or link is opened), synced, then renamed over `path`. A
/// destination that is a symbolic link, a directory or anything but a regular file is refused;
/// rename(2) replaces a name, never a link's target, so a link created in between is not followed
/// either. Readers see the old file or the new one, never a part.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), FileError> {
    let path = path.as_ref();
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => return Err(FileError::OutputSymlink { path: path.to_path_buf() }),
        Ok(m) if !m.is_file() => return Err(FileError::OutputNotRegular { path: path.to_path_buf() }),
        _ => {}
    }
    let write_err = |source| FileError::Write { path: path.to_path_buf(), source };
    let (tmp, mut file) = create_temp(path).map_err(write_err)?;
    let done = file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(e));
    }
    Ok(())
}

/// A new file `.NAME.PID.N.tmp` in the destination's directory.
fn create_temp(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new().write(true).create_new(true).mode(0o666).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_refuses_links() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("id_block.bin");
        write_atomic(&out, b"one").unwrap();
        write_atomic(&out, b"two").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"two");

        let target = dir.path().join("precious");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("vmsa0.bin");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let msg = write_atomic(&link, b"overwrite").unwrap_err().to_string();
        assert!(msg.contains("vmsa0.bin: is a symbolic link"), "{msg}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        // A dangling link is refused too (O_CREAT through it would create its target).
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(write_atomic(&dangling, b"x").is_err());
        assert!(!dir.path().join("nowhere").exists());

        assert!(write_atomic(dir.path(), b"x").unwrap_err().to_string().contains("not a regular file"));
        let left: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_the_file() {
        let e = write_atomic("/proc/version-copy", b"x").unwrap_err().to_string();
        assert!(e.starts_with("/proc/version-copy: cannot write"), "{e}");
    }
}
