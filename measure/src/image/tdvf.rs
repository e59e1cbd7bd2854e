//! TDVF metadata: the descriptor QEMU and the TDX module read to add the firmware's sections to a TD
//! (edk2 OvmfPkg/ResetVector/X64/TdxMetadata.asm, QEMU hw/i386/tdvf.c, td-shim metadata.rs).

use serde::Serialize;

use super::overlap::Problems;
use super::{le32, le64};
use crate::guid::known;

const DESCRIPTOR: usize = 16;
const SECTION: usize = 32;
use crate::PAGE_SIZE as PAGE;
/// No firmware section comes near this; larger values are lies that would cost memory and time.
const MAX_SECTION: u64 = 1 << 30;
/// Most bytes the MR_EXTEND sections may cover together: OVMF extends its 2-4 MiB BFV, td-shim a
/// payload of tens of MiB. MRTD is one serial SHA-384 stream (about 200 MB/s here, and `load`
/// computes it twice), so this bounds the folds at well under a second.
pub const MAX_MEASURED: u64 = 64 << 20;
/// Most sections a descriptor may declare: edk2 declares 6, td-shim about 10. Each section becomes a
/// plan operation and possibly a region, so a count far beyond any firmware only costs time.
pub const MAX_SECTIONS: u32 = 512;

/// Attribute bit: the section's pages are measured with TDH.MR.EXTEND.
pub const ATTR_MR_EXTEND: u32 = 1 << 0;
/// Attribute bit: the section is meant to be accepted later with TDH.MEM.PAGE.AUG.
pub const ATTR_PAGE_AUG: u32 = 1 << 1;

/// Section types (td-shim adds the last two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TdvfSectionKind {
    Bfv,
    Cfv,
    TdHob,
    TempMem,
    PermMem,
    Payload,
    PayloadParam,
    TdInfo,
    TdParams,
}

impl TdvfSectionKind {
    pub fn from_raw(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Bfv,
            1 => Self::Cfv,
            2 => Self::TdHob,
            3 => Self::TempMem,
            4 => Self::PermMem,
            5 => Self::Payload,
            6 => Self::PayloadParam,
            7 => Self::TdInfo,
            8 => Self::TdParams,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Bfv => "bfv",
            Self::Cfv => "cfv",
            Self::TdHob => "td_hob",
            Self::TempMem => "temp_mem",
            Self::PermMem => "perm_mem",
            Self::Payload => "payload",
            Self::PayloadParam => "payload_param",
            Self::TdInfo => "td_info",
            Self::TdParams => "td_params",
        }
    }

    pub fn purpose(self) -> &'static str {
        match self {
            Self::Bfv => "boot firmware volume (code)",
            Self::Cfv => "configuration firmware volume (variables)",
            Self::TdHob => "TD hand-off block, built by the VMM",
            Self::TempMem => "temporary memory for the early firmware",
            Self::PermMem => "permanent memory (td-shim)",
            Self::Payload => "payload image (td-shim)",
            Self::PayloadParam => "payload parameters (td-shim)",
            Self::TdInfo => "TD info (td-shim)",
            Self::TdParams => "TD params (td-shim)",
        }
    }

    /// Types QEMU accepts (`tdvf_parse_and_check_section_entry`).
    pub fn qemu_accepts(self) -> bool {
        matches!(self, Self::Bfv | Self::Cfv | Self::TdHob | Self::TempMem)
    }
}

/// One section entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdvfSection {
    pub data_offset: u32,
    pub raw_size: u32,
    pub gpa: u64,
    pub memory_size: u64,
    pub kind: TdvfSectionKind,
    pub attributes: u32,
    /// File offset of the entry, for messages.
    pub offset: usize,
}

impl TdvfSection {
    pub fn mr_extend(&self) -> bool {
        self.attributes & ATTR_MR_EXTEND != 0
    }
    pub fn page_aug(&self) -> bool {
        self.attributes & ATTR_PAGE_AUG != 0
    }
}

/// The descriptor and its sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdvfMetadata {
    /// File offset of the "TDVF" descriptor.
    pub offset: usize,
    /// Whether the descriptor GUID precedes it (td-shim checks it, QEMU does not).
    pub has_descriptor_guid: bool,
    /// Found through td-shim's legacy pointer at end-0x20 rather than the footer GUID table.
    pub legacy_pointer: bool,
    pub sections: Vec<TdvfSection>,
}

/// Why the TDVF metadata cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TdvfError {
    #[error("TDX metadata: footer entry holds offset {offset:#x} from the end, outside the {size:#x}-byte image (expected 16..={size:#x})")]
    OffsetOutside { offset: u64, size: usize },
    #[error("TDX metadata at offset {offset:#x}: signature {found:?}, expected \"TDVF\"")]
    Signature { offset: usize, found: String },
    #[error("TDX metadata at offset {offset:#x}: version {version}, expected 1")]
    Version { offset: usize, version: u32 },
    #[error("TDX metadata at offset {offset:#x}: Length {length} for {count} sections, expected 16 + 32 * {count} = {expected}")]
    Length { offset: usize, length: u32, count: u32, expected: u64 },
    #[error("TDX metadata at offset {offset:#x}: Length {length} runs past the end of the image ({available} bytes available)")]
    PastEnd { offset: usize, length: u32, available: usize },
    #[error(
        "TDX metadata at offset {offset:#x}: {count} sections; at most {MAX_SECTIONS} are supported (edk2 declares 6, td-shim about 10)"
    )]
    TooManySections { offset: usize, count: u32 },
    #[error("TDX metadata section {index} at offset {offset:#x}: unknown section type {kind} (known: 0 BFV .. 8 TD_PARAMS)")]
    UnknownType { index: usize, offset: usize, kind: u32 },
    #[error("TDX metadata section {index} at offset {offset:#x}: GPA {gpa:#x} + size {size:#x} overflows 64 bits")]
    GpaOverflow { index: usize, offset: usize, gpa: u64, size: u64 },
}

impl TdvfMetadata {
    /// Parses the descriptor the footer entry points at (`from_end` counted back from the end).
    pub fn parse(image: &[u8], from_end: u32) -> Result<Self, TdvfError> {
        let fe = from_end as usize;
        if fe < DESCRIPTOR || fe > image.len() {
            return Err(TdvfError::OffsetOutside { offset: from_end as u64, size: image.len() });
        }
        Self::parse_at(image, image.len() - fe, false)
    }

    /// td-shim's fallback: a u32 at end-0x20 holding the descriptor's file offset. Only trusted when
    /// it lands on a "TDVF" signature, since in OVMF builds those bytes are reset-vector code.
    pub fn find_legacy(image: &[u8]) -> Option<Result<Self, TdvfError>> {
        let at = image.len().checked_sub(0x20)?;
        let off = le32(image, at) as usize;
        if off.checked_add(DESCRIPTOR)? > image.len() || &image[off..off + 4] != b"TDVF" {
            return None;
        }
        Some(Self::parse_at(image, off, true))
    }

    fn parse_at(image: &[u8], offset: usize, legacy_pointer: bool) -> Result<Self, TdvfError> {
        let sig = &image[offset..offset + 4];
        if sig != b"TDVF" {
            return Err(TdvfError::Signature { offset, found: String::from_utf8_lossy(sig).into_owned() });
        }
        let length = le32(image, offset + 4);
        let version = le32(image, offset + 8);
        let count = le32(image, offset + 12);
        if version != 1 {
            return Err(TdvfError::Version { offset, version });
        }
        let expected = DESCRIPTOR as u64 + SECTION as u64 * count as u64;
        if length as u64 != expected {
            return Err(TdvfError::Length { offset, length, count, expected });
        }
        let available = image.len() - offset;
        if length as usize > available {
            return Err(TdvfError::PastEnd { offset, length, available });
        }
        if count > MAX_SECTIONS {
            return Err(TdvfError::TooManySections { offset, count });
        }
        let sections = (0..count as usize)
            .map(|index| {
                let at = offset + DESCRIPTOR + index * SECTION;
                let raw_kind = le32(image, at + 24);
                let kind = TdvfSectionKind::from_raw(raw_kind).ok_or(TdvfError::UnknownType { index, offset: at, kind: raw_kind })?;
                let s = TdvfSection {
                    data_offset: le32(image, at),
                    raw_size: le32(image, at + 4),
                    gpa: le64(image, at + 8),
                    memory_size: le64(image, at + 16),
                    kind,
                    attributes: le32(image, at + 28),
                    offset: at,
                };
                if s.gpa.checked_add(s.memory_size).is_none() {
                    return Err(TdvfError::GpaOverflow { index, offset: at, gpa: s.gpa, size: s.memory_size });
                }
                Ok(s)
            })
            .collect::<Result<_, _>>()?;
        let has_descriptor_guid = offset >= 16 && image[offset - 16..offset] == known::TDX_METADATA_DESCRIPTOR.0;
        Ok(TdvfMetadata { offset, has_descriptor_guid, legacy_pointer, sections })
    }

    /// QEMU's validity rules and the image-level facts that make a TD launch impossible; each string
    /// names the section and what QEMU or the TDX module would expect. At most a few messages per
    /// rule, then a count (see [`Problems`]); O(n log n) in the number of sections.
    pub fn problems(&self, image_len: usize) -> Vec<String> {
        let mut p = Problems::default();
        if self.sections.len() < 2 {
            p.push("too few sections", || format!("{} section(s); QEMU requires at least 2", self.sections.len()));
        }
        let name = |i: usize| {
            let s = &self.sections[i];
            format!("section {i} ({}, GPA {:#x})", s.kind.name().to_uppercase(), s.gpa)
        };
        let (mut measured, mut total) = (0u64, 0u64);
        for (i, s) in self.sections.iter().enumerate() {
            total = total.saturating_add(s.memory_size);
            if s.memory_size < s.raw_size as u64 {
                p.push("sections with MemoryDataSize < RawDataSize", || {
                    format!("{}: MemoryDataSize {:#x} < RawDataSize {:#x}", name(i), s.memory_size, s.raw_size)
                });
            }
            if s.gpa % PAGE != 0 {
                p.push("sections whose MemoryAddress is not 4 KiB aligned", || format!("{}: MemoryAddress is not 4 KiB aligned", name(i)));
            }
            if s.memory_size % PAGE != 0 {
                p.push("sections whose MemoryDataSize is not 4 KiB aligned", || {
                    format!("{}: MemoryDataSize {:#x} is not 4 KiB aligned", name(i), s.memory_size)
                });
            }
            if s.memory_size == 0 {
                p.push("sections with MemoryDataSize 0", || format!("{}: MemoryDataSize is 0", name(i)));
            }
            if s.memory_size > MAX_SECTION {
                p.push("implausibly large sections", || {
                    format!("{}: MemoryDataSize {:#x} is implausibly large (over 1 GiB)", name(i), s.memory_size)
                });
            }
            match s.kind {
                TdvfSectionKind::Bfv | TdvfSectionKind::Cfv if s.raw_size == 0 => {
                    p.push("firmware volumes without data", || format!("{}: RawDataSize is 0; firmware volumes must carry data", name(i)))
                }
                TdvfSectionKind::TdHob | TdvfSectionKind::TempMem if s.raw_size != 0 => p.push("memory-only sections with data", || {
                    format!("{}: RawDataSize {:#x}, expected 0 for a memory-only section", name(i), s.raw_size)
                }),
                k if !k.qemu_accepts() => p.push("sections of a type QEMU rejects", || {
                    format!("{}: type not accepted by QEMU (only BFV, CFV, TD_HOB, TempMem)", name(i))
                }),
                _ => {}
            }
            let end = s.data_offset as u64 + s.raw_size as u64;
            if s.raw_size != 0 && end > image_len as u64 {
                p.push("sections whose data lies past the end of the file", || {
                    format!(
                        "{}: data [{:#x}, {end:#x}) extends past the end of this {image_len:#x}-byte file; \
                         it looks like a split OVMF_CODE image whose metadata describes the combined image: pass the combined OVMF.fd",
                        name(i),
                        s.data_offset
                    )
                });
            }
            let unknown = s.attributes & !(ATTR_MR_EXTEND | ATTR_PAGE_AUG);
            if unknown != 0 {
                p.push("sections with unknown attribute bits", || {
                    format!("{}: unknown attribute bits {unknown:#x}; their measurement meaning is not defined", name(i))
                });
            }
            if s.mr_extend() {
                measured = measured.saturating_add(s.memory_size);
            }
        }
        if total > MAX_SECTION {
            p.push("total size", || {
                format!("the sections cover {total:#x} bytes in all; more than {MAX_SECTION:#x} (1 GiB) is implausible for firmware")
            });
        }
        if measured > MAX_MEASURED {
            p.push("measured bytes", || {
                format!(
                    "the MR_EXTEND sections total {measured:#x} bytes; more than {MAX_MEASURED:#x} is implausible \
                     (OVMF measures its 2-4 MiB firmware volume) and would take seconds per GiB to measure"
                )
            });
        }
        let ranges: Vec<(u64, u64)> = self.sections.iter().map(|s| (s.gpa, s.gpa.saturating_add(s.memory_size))).collect();
        p.overlaps("overlapping section pairs", &ranges, |a, b| {
            format!("{} [{:#x}, {:#x}) overlaps section {b} [{:#x}, {:#x})", name(a), ranges[a].0, ranges[a].1, ranges[b].0, ranges[b].1)
        });
        p.finish()
    }
}
