//! TDVF metadata: the descriptor QEMU and the TDX module read to add the firmware's sections to a TD
//! (edk2 OvmfPkg/ResetVector/X64/TdxMetadata.asm, QEMU hw/i386/tdvf.c, td-shim metadata.rs).

use serde::Serialize;

use super::{le32, le64};
use crate::guid::known;

const DESCRIPTOR: usize = 16;
const SECTION: usize = 32;
use crate::PAGE_SIZE as PAGE;
/// No firmware section comes near this; larger values are lies that would cost memory and time.
const MAX_SECTION: u64 = 1 << 30;

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
    /// names the section and what QEMU or the TDX module would expect.
    pub fn problems(&self, image_len: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.sections.len() < 2 {
            out.push(format!("{} section(s); QEMU requires at least 2", self.sections.len()));
        }
        for (i, s) in self.sections.iter().enumerate() {
            let name = format!("section {i} ({}, GPA {:#x})", s.kind.name().to_uppercase(), s.gpa);
            if s.memory_size < s.raw_size as u64 {
                out.push(format!("{name}: MemoryDataSize {:#x} < RawDataSize {:#x}", s.memory_size, s.raw_size));
            }
            if s.gpa % PAGE != 0 {
                out.push(format!("{name}: MemoryAddress is not 4 KiB aligned"));
            }
            if s.memory_size % PAGE != 0 {
                out.push(format!("{name}: MemoryDataSize {:#x} is not 4 KiB aligned", s.memory_size));
            }
            if s.memory_size == 0 {
                out.push(format!("{name}: MemoryDataSize is 0"));
            }
            if s.memory_size > MAX_SECTION {
                out.push(format!("{name}: MemoryDataSize {:#x} is implausibly large (over 1 GiB)", s.memory_size));
            }
            match s.kind {
                TdvfSectionKind::Bfv | TdvfSectionKind::Cfv if s.raw_size == 0 => {
                    out.push(format!("{name}: RawDataSize is 0; firmware volumes must carry data"))
                }
                TdvfSectionKind::TdHob | TdvfSectionKind::TempMem if s.raw_size != 0 => {
                    out.push(format!("{name}: RawDataSize {:#x}, expected 0 for a memory-only section", s.raw_size))
                }
                k if !k.qemu_accepts() => out.push(format!("{name}: type not accepted by QEMU (only BFV, CFV, TD_HOB, TempMem)")),
                _ => {}
            }
            let end = s.data_offset as u64 + s.raw_size as u64;
            if s.raw_size != 0 && end > image_len as u64 {
                out.push(format!(
                    "{name}: data [{:#x}, {end:#x}) extends past the end of this {image_len:#x}-byte file; \
                     it looks like a split OVMF_CODE image whose metadata describes the combined image: pass the combined OVMF.fd",
                    s.data_offset
                ));
            }
            let unknown = s.attributes & !(ATTR_MR_EXTEND | ATTR_PAGE_AUG);
            if unknown != 0 {
                out.push(format!("{name}: unknown attribute bits {unknown:#x}; their measurement meaning is not defined"));
            }
            for (j, t) in self.sections.iter().enumerate().skip(i + 1) {
                if s.gpa < t.gpa.saturating_add(t.memory_size) && t.gpa < s.gpa.saturating_add(s.memory_size) {
                    out.push(format!(
                        "{name} [{:#x}, {:#x}) overlaps section {j} [{:#x}, {:#x})",
                        s.gpa,
                        s.gpa + s.memory_size,
                        t.gpa,
                        t.gpa + t.memory_size
                    ));
                }
            }
        }
        out
    }
}
