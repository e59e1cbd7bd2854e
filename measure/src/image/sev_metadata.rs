//! OVMF's SEV metadata ("ASEV"): the guest-physical ranges the VMM must populate for SEV-SNP besides
//! the firmware itself (edk2 OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm).

use serde::Serialize;

use super::le32;

const HEADER: usize = 16;
const ITEM: usize = 12;
/// Most items a block may declare: edk2 declares 6 or 7, COCONUT-SVSM 3. Each item becomes a plan
/// operation and possibly a region, so a count far beyond any firmware only costs time.
pub const MAX_ITEMS: u32 = 512;
/// Most bytes the items may cover together: edk2 declares about 100 KiB, COCONUT-SVSM 640 KiB.
/// Every page is one serial PAGE_INFO update of the SNP digest (about a microsecond), and `diagnose`
/// walks them once per candidate configuration (about 80), so this bounds both well under a second.
pub const MAX_TOTAL: u64 = 16 << 20;

/// Section kinds OVMF declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SevSectionKind {
    /// Memory the SEC phase expects pre-validated: populated as ZERO pages.
    SnpSecMem,
    /// The SNP secrets page.
    SnpSecrets,
    /// The CPUID page.
    Cpuid,
    /// The SVSM calling-area page.
    SvsmCaa,
    /// The page holding the kernel/initrd/cmdline hashes table for measured direct boot.
    SnpKernelHashes,
}

impl SevSectionKind {
    pub fn from_raw(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::SnpSecMem,
            2 => Self::SnpSecrets,
            3 => Self::Cpuid,
            4 => Self::SvsmCaa,
            0x10 => Self::SnpKernelHashes,
            _ => return None,
        })
    }

    pub fn raw(self) -> u32 {
        match self {
            Self::SnpSecMem => 1,
            Self::SnpSecrets => 2,
            Self::Cpuid => 3,
            Self::SvsmCaa => 4,
            Self::SnpKernelHashes => 0x10,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::SnpSecMem => "snp_sec_mem",
            Self::SnpSecrets => "snp_secrets",
            Self::Cpuid => "cpuid",
            Self::SvsmCaa => "svsm_caa",
            Self::SnpKernelHashes => "snp_kernel_hashes",
        }
    }

    /// What the section is for, in a few words.
    pub fn purpose(self) -> &'static str {
        match self {
            Self::SnpSecMem => "pre-validated SEC memory (zero pages)",
            Self::SnpSecrets => "SNP secrets page",
            Self::Cpuid => "CPUID page",
            Self::SvsmCaa => "SVSM calling area (zero page)",
            Self::SnpKernelHashes => "kernel/initrd/cmdline hashes page",
        }
    }
}

/// One metadata item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SevSection {
    pub gpa: u64,
    pub size: u64,
    pub kind: SevSectionKind,
    /// File offset of the item, for messages.
    #[serde(skip)]
    pub offset: usize,
}

/// The metadata block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SevMetadata {
    /// File offset of the "ASEV" header.
    pub offset: usize,
    pub version: u32,
    pub sections: Vec<SevSection>,
}

/// Why the SEV metadata cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SevMetadataError {
    #[error("SEV metadata: footer entry holds offset {offset:#x} from the end, outside the {size:#x}-byte image (expected 16..={size:#x})")]
    OffsetOutside { offset: u64, size: usize },
    #[error("SEV metadata at offset {offset:#x}: signature {found:?}, expected \"ASEV\"")]
    Signature { offset: usize, found: String },
    #[error("SEV metadata at offset {offset:#x}: version {version}, expected 1")]
    Version { offset: usize, version: u32 },
    #[error("SEV metadata at offset {offset:#x}: size field {size} cannot hold the header and {count} items of 12 bytes (needs {needed})")]
    CountOverflow { offset: usize, size: u32, count: u32, needed: u64 },
    #[error("SEV metadata at offset {offset:#x}: size field {size} runs past the end of the image ({available} bytes available)")]
    PastEnd { offset: usize, size: u32, available: usize },
    #[error("SEV metadata at offset {offset:#x}: {count} items; at most {MAX_ITEMS} are supported (edk2 declares 6 or 7)")]
    TooManyItems { offset: usize, count: u32 },
    #[error(
        "SEV metadata at offset {offset:#x}: the items cover {total:#x} bytes in all; at most {MAX_TOTAL:#x} are supported (edk2 declares about 100 KiB)"
    )]
    TooLarge { offset: usize, total: u64 },
    #[error(
        "SEV metadata item {index} at offset {offset:#x}: unknown section kind {kind:#x} (known: 1 SNP_SEC_MEM, 2 SNP_SECRETS, 3 CPUID, 4 SVSM_CAA, 0x10 SNP_KERNEL_HASHES)"
    )]
    UnknownKind { index: usize, offset: usize, kind: u32 },
}

impl SevMetadata {
    /// Parses the block that the footer entry points at (`from_end` counted back from the end of the image).
    pub fn parse(image: &[u8], from_end: u32) -> Result<Self, SevMetadataError> {
        let from_end_u = from_end as usize;
        if from_end_u < HEADER || from_end_u > image.len() {
            return Err(SevMetadataError::OffsetOutside { offset: from_end as u64, size: image.len() });
        }
        let offset = image.len() - from_end_u;
        let sig = &image[offset..offset + 4];
        if sig != b"ASEV" {
            return Err(SevMetadataError::Signature { offset, found: String::from_utf8_lossy(sig).into_owned() });
        }
        let size = le32(image, offset + 4);
        let version = le32(image, offset + 8);
        let count = le32(image, offset + 12);
        if version != 1 {
            return Err(SevMetadataError::Version { offset, version });
        }
        let needed = HEADER as u64 + ITEM as u64 * count as u64;
        if (size as u64) < needed {
            return Err(SevMetadataError::CountOverflow { offset, size, count, needed });
        }
        if size as usize > from_end_u {
            return Err(SevMetadataError::PastEnd { offset, size, available: from_end_u });
        }
        if count > MAX_ITEMS {
            return Err(SevMetadataError::TooManyItems { offset, count });
        }
        let sections = (0..count as usize)
            .map(|index| {
                let at = offset + HEADER + index * ITEM;
                let raw = le32(image, at + 8);
                let kind = SevSectionKind::from_raw(raw).ok_or(SevMetadataError::UnknownKind { index, offset: at, kind: raw })?;
                Ok(SevSection { gpa: le32(image, at) as u64, size: le32(image, at + 4) as u64, kind, offset: at })
            })
            .collect::<Result<Vec<SevSection>, _>>()?;
        let total: u64 = sections.iter().map(|s| s.size).sum();
        if total > MAX_TOTAL {
            return Err(SevMetadataError::TooLarge { offset, total });
        }
        Ok(SevMetadata { offset, version, sections })
    }

    pub fn has(&self, kind: SevSectionKind) -> bool {
        self.sections.iter().any(|s| s.kind == kind)
    }
}
