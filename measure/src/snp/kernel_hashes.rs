//! The SEV hashes table QEMU writes for measured direct boot (`-kernel` with `kernel-hashes=on`).

use crate::guid::known;
use crate::hash::{Sha256, Sha256Digest};

const PAGE: usize = crate::PAGE_SIZE as usize;

/// The table's length without padding: header (GUID + u16) and three entries (GUID + u16 + SHA-256).
pub const TABLE_LEN: usize = 16 + 2 + 3 * ENTRY_LEN;
const ENTRY_LEN: usize = 16 + 2 + 32;
/// What QEMU measures: the table padded to a 16-byte multiple.
pub const PADDED_LEN: usize = TABLE_LEN.div_ceil(16) * 16;

/// The three hashes of a direct-boot payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelHashes {
    pub kernel: Sha256Digest,
    pub initrd: Sha256Digest,
    pub cmdline: Sha256Digest,
}

impl KernelHashes {
    /// From the payload bytes. `append` is the command line without its terminating NUL; QEMU hashes it
    /// with the NUL and never trims it. No initrd hashes as the empty string.
    pub fn new(kernel: &[u8], initrd: Option<&[u8]>, append: Option<&[u8]>) -> Self {
        Self::from_digests(Sha256::digest(kernel), Sha256::digest(initrd.unwrap_or(&[])), append)
    }

    /// From precomputed kernel and initrd digests, so large files need not be read again.
    pub fn from_digests(kernel: Sha256Digest, initrd: Sha256Digest, append: Option<&[u8]>) -> Self {
        let mut h = Sha256::new();
        h.update(append.unwrap_or(&[]));
        h.update(&[0]);
        KernelHashes { kernel, initrd, cmdline: h.finish() }
    }

    /// The padded table, as QEMU measures it for SEV and SEV-ES.
    pub fn table(&self) -> [u8; PADDED_LEN] {
        let mut t = [0u8; PADDED_LEN];
        t[..16].copy_from_slice(&known::SEV_HASH_TABLE_HEADER.0);
        t[16..18].copy_from_slice(&(TABLE_LEN as u16).to_le_bytes());
        let entries =
            [(known::SEV_CMDLINE_ENTRY, &self.cmdline), (known::SEV_INITRD_ENTRY, &self.initrd), (known::SEV_KERNEL_ENTRY, &self.kernel)];
        for (i, (guid, digest)) in entries.iter().enumerate() {
            let at = 18 + i * ENTRY_LEN;
            t[at..at + 16].copy_from_slice(&guid.0);
            t[at + 16..at + 18].copy_from_slice(&(ENTRY_LEN as u16).to_le_bytes());
            t[at + 18..at + ENTRY_LEN].copy_from_slice(&digest[..]);
        }
        t
    }

    /// The 4 KiB page SNP measures: zero except the table at `offset` (the table GPA's page offset).
    /// `None` when the table would cross the page.
    pub fn page(&self, offset: usize) -> Option<Box<[u8; PAGE]>> {
        let end = offset.checked_add(PADDED_LEN).filter(|&e| e <= PAGE)?;
        let mut p = Box::new([0u8; PAGE]);
        p[offset..end].copy_from_slice(&self.table());
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(TABLE_LEN, 168);
        assert_eq!(PADDED_LEN, 176);
        let h = KernelHashes::new(b"k", None, None);
        let t = h.table();
        assert_eq!(&t[16..18], &[168, 0]);
        assert_eq!(&t[18 + 16..18 + 18], &[50, 0]);
        assert_eq!(&t[18 + 18..18 + 50], &Sha256::digest(b"\0"));
        assert_eq!(&t[168..], &[0u8; 8]);
        assert_eq!(h.initrd, Sha256::digest(b""));
        assert_eq!(KernelHashes::new(b"k", None, Some(b"")), h, "empty append hashes like no append");
        assert_ne!(KernelHashes::new(b"k", None, Some(b" ")), h, "never trimmed");
        assert!(h.page(4096 - 175).is_none());
        assert_eq!(&h.page(0xc00).unwrap()[0xc00..0xc00 + 176], &t[..]);
    }
}
