//! Where things lie in an IGVM file: the framing of its variable headers, walked with `igvm_defs`'
//! on-disk structures, before the `igvm` crate reads the file.
//!
//! Hand-written on purpose, and kept to framing: the `igvm` crate (0.5) is the parser, but it hands
//! back page data without the file offset it came from and only the first 4 KiB of a 2 MiB page, and
//! it panics on some hostile offsets (`file_offset - file_data_start` in u32, unchecked slicing of VBS
//! contexts). This walk records each header's type, length and file offset so that the reader can
//! refuse those inputs before calling the crate, point plan operations at the page bytes in the file
//! (no copy), and read the whole of a 2 MiB page. It interprets nothing the crate does not.

use igvm_defs::{
    IGVM_FIXED_HEADER, IGVM_MAGIC_VALUE, IGVM_VHS_PAGE_DATA, IGVM_VHS_PARAMETER_AREA, IGVM_VHS_SUPPORTED_PLATFORM,
    IGVM_VHS_VARIABLE_HEADER, IGVM_VHS_VP_CONTEXT, IGVM_VHT_RANGE_DIRECTIVE, IgvmPageDataFlags, IgvmPlatformType,
    IgvmVariableHeaderType as Vht,
};
use zerocopy::FromBytes;

use super::IgvmError;

pub const PAGE_4K: u64 = 4096;
pub const PAGE_2M: u64 = 2 << 20;
/// Size of the version 2 fixed header (version 1 plus architecture and page size).
const FIXED_V2_LEN: usize = size_of::<IGVM_FIXED_HEADER>() + 8;

/// One PAGE_DATA header as it lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPage {
    pub gpa: u64,
    pub compatibility_mask: u32,
    /// Offset of the page bytes from the start of the file; 0 means "no data".
    pub file_offset: u32,
    pub flags: IgvmPageDataFlags,
    pub data_type: u16,
}

impl RawPage {
    /// Bytes the page covers in guest memory (and in the file, when it has data).
    pub fn size(&self) -> u64 {
        if self.flags.is_2mb_page() { PAGE_2M } else { PAGE_4K }
    }

    pub fn has_data(&self) -> bool {
        self.file_offset != 0
    }
}

/// One directive header: its index among the directives, type, and for PAGE_DATA the raw header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawDirective {
    /// Offset of the header (its IGVM_VHS_VARIABLE_HEADER) in the file.
    pub header_offset: usize,
    pub typ: u32,
    pub page: Option<RawPage>,
}

/// The framing of a whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub format_version: u32,
    pub variable_header_offset: u32,
    pub variable_header_size: u32,
    pub file_data_start: u32,
    /// (compatibility mask, platform type) of each SUPPORTED_PLATFORM header.
    pub platforms: Vec<(u32, IgvmPlatformType)>,
    pub initialization_headers: usize,
    pub directives: Vec<RawDirective>,
}

fn bad(offset: usize, msg: impl Into<String>) -> IgvmError {
    IgvmError::Structure { offset, msg: msg.into() }
}

fn read<T: FromBytes>(bytes: &[u8], at: usize, what: &str) -> Result<T, IgvmError> {
    bytes
        .get(at..)
        .and_then(|b| T::read_from_prefix(b).ok())
        .map(|(v, _)| v)
        .ok_or_else(|| bad(at, format!("{what}: {} bytes needed, the file ends first", size_of::<T>())))
}

/// Checks that `[file_offset, +len)` lies in the file-data section.
fn check_data(bytes: &[u8], fds: u32, at: usize, what: &str, file_offset: u32, len: u64) -> Result<(), IgvmError> {
    if file_offset == 0 {
        return Ok(());
    }
    if file_offset < fds {
        return Err(bad(at, format!("{what}: file_offset {file_offset:#x} lies before the file data section at {fds:#x}")));
    }
    let end = u64::from(file_offset).checked_add(len).filter(|&e| e <= bytes.len() as u64);
    if end.is_none() {
        return Err(bad(
            at,
            format!("{what}: {len:#x} data bytes at file_offset {file_offset:#x} run past the end of the file ({:#x} bytes)", bytes.len()),
        ));
    }
    Ok(())
}

/// Walks the fixed header and the variable headers. Linear in the header count; every offset and
/// length is checked before it is used.
pub fn walk(bytes: &[u8]) -> Result<Layout, IgvmError> {
    let fixed: IGVM_FIXED_HEADER = read(bytes, 0, "fixed header")?;
    if fixed.magic != IGVM_MAGIC_VALUE {
        return Err(IgvmError::NotIgvm);
    }
    let fixed_len = match fixed.format_version {
        1 => size_of::<IGVM_FIXED_HEADER>(),
        2 => FIXED_V2_LEN,
        v => return Err(bad(4, format!("format_version {v}; versions 1 and 2 are defined"))),
    };
    if fixed.total_file_size as usize != bytes.len() {
        return Err(bad(16, format!("total_file_size {:#x}, but the file has {:#x} bytes", fixed.total_file_size, bytes.len())));
    }
    let vh_start = fixed.variable_header_offset as usize;
    let vh_end = vh_start.checked_add(fixed.variable_header_size as usize).filter(|&e| e <= bytes.len());
    let vh_end = match vh_end {
        Some(e) if vh_start >= fixed_len => e,
        _ => {
            return Err(bad(
                8,
                format!(
                    "variable headers at {vh_start:#x} + {:#x} do not lie between the fixed header ({fixed_len:#x} bytes) and the end of the file ({:#x})",
                    fixed.variable_header_size,
                    bytes.len()
                ),
            ));
        }
    };
    let fds = u32::try_from(vh_end).map_err(|_| bad(8, "variable headers end beyond 4 GiB"))?;
    let mut layout = Layout {
        format_version: fixed.format_version,
        variable_header_offset: fixed.variable_header_offset,
        variable_header_size: fixed.variable_header_size,
        file_data_start: fds,
        platforms: Vec::new(),
        initialization_headers: 0,
        directives: Vec::new(),
    };
    let mut at = vh_start;
    while at < vh_end {
        let vh: IGVM_VHS_VARIABLE_HEADER = read(&bytes[..vh_end], at, "variable header")?;
        let body = at + size_of::<IGVM_VHS_VARIABLE_HEADER>();
        let next = (vh.length as usize).checked_add(7).map(|l| body + (l & !7)).filter(|&n| n <= vh_end);
        let Some(next) = next else {
            return Err(bad(at, format!("header type {:#x}: length {:#x} runs past the variable header section", vh.typ.0, vh.length)));
        };
        let section = &bytes[..body + vh.length as usize];
        match vh.typ {
            Vht::IGVM_VHT_SUPPORTED_PLATFORM if vh.length as usize == size_of::<IGVM_VHS_SUPPORTED_PLATFORM>() => {
                let p: IGVM_VHS_SUPPORTED_PLATFORM = read(section, body, "SUPPORTED_PLATFORM")?;
                layout.platforms.push((p.compatibility_mask, p.platform_type));
            }
            t if (0x101..=0x200).contains(&t.0) => layout.initialization_headers += 1,
            t if IGVM_VHT_RANGE_DIRECTIVE.contains(&t.0) => {
                let mut d = RawDirective { header_offset: at, typ: t.0, page: None };
                match t {
                    Vht::IGVM_VHT_PAGE_DATA if vh.length as usize == size_of::<IGVM_VHS_PAGE_DATA>() => {
                        let p: IGVM_VHS_PAGE_DATA = read(section, body, "PAGE_DATA")?;
                        let page = RawPage {
                            gpa: p.gpa,
                            compatibility_mask: p.compatibility_mask,
                            file_offset: p.file_offset,
                            flags: p.flags,
                            data_type: p.data_type.0,
                        };
                        check_data(bytes, fds, at, "PAGE_DATA", p.file_offset, page.size())?;
                        if !page.gpa.is_multiple_of(page.size()) {
                            return Err(bad(at, format!("PAGE_DATA: gpa {:#x} is not aligned to its page size {:#x}", p.gpa, page.size())));
                        }
                        d.page = Some(page);
                    }
                    Vht::IGVM_VHT_PARAMETER_AREA if vh.length as usize == size_of::<IGVM_VHS_PARAMETER_AREA>() => {
                        let p: IGVM_VHS_PARAMETER_AREA = read(section, body, "PARAMETER_AREA")?;
                        check_data(bytes, fds, at, "PARAMETER_AREA", p.file_offset, p.number_of_bytes)?;
                    }
                    Vht::IGVM_VHT_VP_CONTEXT if vh.length as usize == size_of::<IGVM_VHS_VP_CONTEXT>() => {
                        let p: IGVM_VHS_VP_CONTEXT = read(section, body, "VP_CONTEXT")?;
                        // The crate subtracts the data start from every VP context's offset, even 0.
                        if p.file_offset == 0 {
                            return Err(bad(at, "VP_CONTEXT: file_offset 0; a VP context must carry its state in the file data"));
                        }
                        check_data(bytes, fds, at, "VP_CONTEXT", p.file_offset, PAGE_4K)?;
                        let platform = layout.platforms.iter().find(|q| q.0 == p.compatibility_mask).map(|q| q.1);
                        if platform == Some(IgvmPlatformType::VSM_ISOLATION) {
                            return Err(bad(at, "VP_CONTEXT for a VBS (VSM_ISOLATION) platform; only SEV-SNP contexts are read"));
                        }
                    }
                    _ => {}
                }
                layout.directives.push(d);
            }
            _ => {}
        }
        at = next;
    }
    Ok(layout)
}
