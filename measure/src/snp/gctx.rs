//! The SNP guest context's launch digest: a chain of SHA-384 over PAGE_INFO structures, one per 4 KiB
//! page the firmware measures (SEV-SNP ABI, SNP_LAUNCH_UPDATE; AMD-ASPFW `snp_mcmd_launch_update`).

use serde::{Deserialize, Serialize};

use crate::hash::{Sha384, Sha384Digest};

/// PAGE_INFO is 0x70 bytes.
const PAGE_INFO_LEN: usize = 0x70;

/// SNP page types (SEV-SNP ABI table "PAGE_TYPE").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageType {
    Normal = 1,
    Vmsa = 2,
    Zero = 3,
    Unmeasured = 4,
    Secrets = 5,
    Cpuid = 6,
}

impl PageType {
    /// Whether the page's contents enter the digest (only NORMAL and VMSA pages).
    pub fn measures_contents(self) -> bool {
        matches!(self, PageType::Normal | PageType::Vmsa)
    }
}

/// The running launch digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gctx {
    ld: Sha384Digest,
}

impl Default for Gctx {
    fn default() -> Self {
        Self::new()
    }
}

impl Gctx {
    /// A fresh context: LD is 48 zero bytes.
    pub fn new() -> Self {
        Gctx { ld: [0; 48] }
    }

    /// Resumes from a known LD (sev-snp-measure's `--snp-ovmf-hash`).
    pub fn resume(ld: Sha384Digest) -> Self {
        Gctx { ld }
    }

    pub fn ld(&self) -> Sha384Digest {
        self.ld
    }

    /// One page update: `LD = SHA-384(PAGE_INFO)`. `contents` is the page's SHA-384 for NORMAL and VMSA
    /// pages and zero for every other type.
    pub fn update(&mut self, page_type: PageType, gpa: u64, contents: &Sha384Digest) {
        let mut info = [0u8; PAGE_INFO_LEN];
        info[..48].copy_from_slice(&self.ld);
        info[48..96].copy_from_slice(contents);
        info[0x60..0x62].copy_from_slice(&(PAGE_INFO_LEN as u16).to_le_bytes());
        info[0x62] = page_type as u8;
        // 0x63 IMI_PAGE and 0x64..0x68 VMPL permissions stay zero at launch.
        info[0x68..0x70].copy_from_slice(&gpa.to_le_bytes());
        self.ld = Sha384::digest(&info);
    }

    /// A page whose contents are not measured.
    pub fn update_unmeasured(&mut self, page_type: PageType, gpa: u64) {
        self.update(page_type, gpa, &[0; 48]);
    }
}
