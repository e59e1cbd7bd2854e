//! The firmware image model: everything a launch needs to know about an OVMF/TDVF image, read from the
//! footer GUID table and the metadata it points at. Works on a borrowed (usually memory-mapped) slice.

pub mod footer;
pub mod overlap;
pub mod sev_metadata;
pub mod support;
pub mod tdvf;

use crate::guid::known;
pub use footer::{FooterEntry, FooterError, FooterTable};
pub use sev_metadata::{SevMetadata, SevMetadataError, SevSection, SevSectionKind};
pub use support::Support;
pub use tdvf::{TdvfError, TdvfMetadata, TdvfSection, TdvfSectionKind};

/// 4 GiB: the firmware is mapped so that it ends here.
pub const FOUR_GIB: u64 = 1 << 32;
pub use crate::PAGE_SIZE;

/// A guest-physical range declared by a footer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GpaRange {
    pub gpa: u64,
    pub size: u64,
}

/// Why an image cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("empty file; expected a firmware image (a multiple of 4096 bytes)")]
    Empty,
    #[error("size {size} ({size:#x}) is not a multiple of 4096 bytes; firmware is loaded and measured in whole pages")]
    NotPageMultiple { size: usize },
    #[error("size {size:#x} is larger than the 4 GiB below which firmware is mapped")]
    TooLarge { size: usize },
    #[error(transparent)]
    Footer(#[from] FooterError),
    #[error("footer entry {name} at offset {offset:#x}: {len} data bytes, expected at least {min}")]
    EntryTooShort { name: &'static str, offset: usize, len: usize, min: usize },
    #[error(transparent)]
    SevMetadata(#[from] SevMetadataError),
    #[error(transparent)]
    Tdvf(#[from] TdvfError),
}

/// A parsed firmware image. Fields are `None` where the image does not carry the structure.
#[derive(Debug, Clone)]
pub struct FirmwareImage<'a> {
    bytes: &'a [u8],
    pub footer: Option<FooterTable<'a>>,
    /// AP reset vector from the SEV-ES reset block.
    pub sev_es_reset_eip: Option<u32>,
    /// Where QEMU places the kernel hashes table for measured direct boot.
    pub sev_hashes_table: Option<GpaRange>,
    pub sev_secret_block: Option<GpaRange>,
    /// SVSM images: offset of the SVSM entry point from the image's base GPA.
    pub svsm_entry_offset: Option<u32>,
    pub sev_metadata: Option<SevMetadata>,
    pub tdvf: Option<TdvfMetadata>,
}

impl<'a> FirmwareImage<'a> {
    /// Parses and validates every structure. Structural lies (lengths, offsets, counts, unknown kinds)
    /// are errors; images that are well-formed but unusable for a platform parse and report
    /// [`Support`] problems instead.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ImageError> {
        if bytes.is_empty() {
            return Err(ImageError::Empty);
        }
        if !bytes.len().is_multiple_of(PAGE_SIZE as usize) {
            return Err(ImageError::NotPageMultiple { size: bytes.len() });
        }
        if bytes.len() as u64 > FOUR_GIB {
            return Err(ImageError::TooLarge { size: bytes.len() });
        }
        let footer = FooterTable::parse(bytes)?;
        let mut img = FirmwareImage {
            bytes,
            footer: None,
            sev_es_reset_eip: None,
            sev_hashes_table: None,
            sev_secret_block: None,
            svsm_entry_offset: None,
            sev_metadata: None,
            tdvf: None,
        };
        if let Some(table) = &footer {
            img.sev_es_reset_eip = entry_u32s::<1>(table, &known::SEV_ES_RESET_BLOCK, "sev_es_reset_block")?.map(|v| v[0]);
            img.sev_hashes_table = entry_u32s::<2>(table, &known::SEV_HASH_TABLE_RV, "sev_hash_table")?.map(range);
            img.sev_secret_block = entry_u32s::<2>(table, &known::SEV_SECRET_BLOCK, "sev_secret_block")?.map(range);
            img.svsm_entry_offset = entry_u32s::<1>(table, &known::SVSM_INFO, "svsm_info")?.map(|v| v[0]);
            if let Some(v) = entry_u32s::<1>(table, &known::SEV_METADATA, "sev_metadata")? {
                img.sev_metadata = Some(SevMetadata::parse(bytes, v[0])?);
            }
            if let Some(v) = entry_u32s::<1>(table, &known::TDX_METADATA, "tdx_metadata")? {
                img.tdvf = Some(TdvfMetadata::parse(bytes, v[0])?);
            }
        }
        if img.tdvf.is_none() {
            img.tdvf = TdvfMetadata::find_legacy(bytes).transpose()?;
        }
        img.footer = footer;
        Ok(img)
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The GPA of the first byte when the image ends at 4 GiB (as QEMU maps `-bios` and pflash).
    pub fn gpa_base(&self) -> u64 {
        FOUR_GIB - self.len()
    }

    /// The SEV hashes table, only where it has a usable (non-zero) GPA.
    pub fn usable_hashes_table(&self) -> Option<GpaRange> {
        self.sev_hashes_table.filter(|r| r.gpa != 0)
    }

    /// What the image supports and why not.
    pub fn support(&self) -> Support {
        Support::of(self)
    }
}

fn range(v: [u32; 2]) -> GpaRange {
    GpaRange { gpa: v[0] as u64, size: v[1] as u64 }
}

/// The first one or two little-endian u32 of a footer entry's data, checking it is long enough.
fn entry_u32s<const N: usize>(
    table: &FooterTable<'_>,
    guid: &crate::guid::Guid,
    name: &'static str,
) -> Result<Option<[u32; N]>, ImageError> {
    let Some(e) = table.get(guid) else { return Ok(None) };
    let min = 4 * N;
    if e.data.len() < min {
        return Err(ImageError::EntryTooShort { name, offset: e.offset, len: e.data.len(), min });
    }
    let mut out = [0u32; N];
    for (i, v) in out.iter_mut().enumerate() {
        *v = le32(e.data, i * 4);
    }
    Ok(Some(out))
}

/// Little-endian u32 at `at`; callers have bounds-checked.
pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Little-endian u64 at `at`; callers have bounds-checked.
pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
