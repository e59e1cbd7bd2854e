//! Read-only memory-mapped input files. Firmware, kernels and initrds are hashed and copied straight
//! from the page cache; nothing reads them into a heap buffer first.

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

/// Why an input file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path}: is a directory; expected a file")]
    Directory { path: PathBuf },
    #[error("{path}: not a regular file")]
    NotRegular { path: PathBuf },
    #[error("{path}: cannot map: {source}")]
    Map { path: PathBuf, source: std::io::Error },
}

/// A file mapped read-only (empty files are an empty slice: mmap cannot map zero bytes).
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    map: Option<Mmap>,
}

impl MappedFile {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FileError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| FileError::Open { path: path.clone(), source })?;
        let meta = file.metadata().map_err(|source| FileError::Open { path: path.clone(), source })?;
        if meta.is_dir() {
            return Err(FileError::Directory { path });
        }
        if !meta.is_file() {
            return Err(FileError::NotRegular { path });
        }
        if meta.len() == 0 {
            return Ok(MappedFile { path, map: None });
        }
        // SAFETY: the mapping is read-only and private to this process. If another process truncates
        // or rewrites the file while it is mapped, reads may see the new bytes or fault (SIGBUS); the
        // tool's inputs are firmware images and payloads that are not modified during a run, as with
        // every other tool that maps its inputs.
        // Not MAP_POPULATE: populating walks every page on this thread before any work starts, while
        // demand faults (16 pages each with the kernel's fault-around) land on whichever hashing
        // thread first reads a page, in parallel.
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|source| FileError::Map { path: path.clone(), source })?;
        Ok(MappedFile { path, map: Some(map) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
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
        assert_eq!(&*MappedFile::open(&f).unwrap(), b"abc");
        let e = dir.path().join("empty");
        std::fs::write(&e, b"").unwrap();
        assert!(MappedFile::open(&e).unwrap().is_empty());
        let msg = MappedFile::open(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("is a directory"), "{msg}");
        let msg = MappedFile::open(dir.path().join("missing")).unwrap_err().to_string();
        assert!(msg.contains("missing") && msg.contains("No such file"), "{msg}");
    }
}
