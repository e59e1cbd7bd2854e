//! Why a file cannot be read or written. Every message starts with the file's name (escaped).

use std::path::PathBuf;

use crate::name::show;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", show(path))]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{}: is a directory; expected a {what}", show(path))]
    Directory { path: PathBuf, what: &'static str },
    #[error("{}: {source}", show(path))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: cannot map: {source}", show(path))]
    Map { path: PathBuf, source: std::io::Error },
    #[error("{}: {found} bytes; a {what} is at most {max} bytes", show(path))]
    TooLarge { path: PathBuf, what: &'static str, found: u64, max: u64 },
    #[error("{}: more than {max} bytes from a pipe or device; a {what} is at most {max} bytes", show(path))]
    StreamTooLarge { path: PathBuf, what: &'static str, max: u64 },
    #[error("{}: a FIFO with no writer: nothing to read (start the writer first, or use a pipe: `<(cat FILE)` or `-`)", show(path))]
    NoWriter { path: PathBuf },
    #[error(
        "{}: the same pipe as {}, which was already read: standard input or a pipe can be read once per invocation",
        show(path),
        show(first)
    )]
    ReadTwice { path: PathBuf, first: PathBuf },
    #[error("{}: is a symbolic link; refusing to write through it (remove it or choose another name)", show(path))]
    OutputSymlink { path: PathBuf },
    #[error("{}: exists and is not a regular file; refusing to replace it", show(path))]
    OutputNotRegular { path: PathBuf },
    #[error("{}: cannot write: {source}", show(path))]
    Write { path: PathBuf, source: std::io::Error },
}
