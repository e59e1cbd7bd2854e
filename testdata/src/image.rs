//! The image builder: filler bytes from a seed, the footer GUID table at the end, and the SEV and TDVF
//! metadata blocks it points at.

use std::fmt;
use std::ops::Range;

use crate::guid::{self, Guid};
use crate::rng::Rng;
use crate::sev::{self, SevItem, SevKind};
use crate::tdvf::{self, MR_EXTEND, TdvfSection, TdvfType};

pub const PAGE: usize = 4096;
/// The footer entry ends this many bytes before the end of the image.
pub const FOOTER_GAP: usize = 32;
/// An entry's trailer: `u16 length` then the GUID.
pub const ENTRY_TRAILER: usize = 18;
pub const FOUR_GIB: u64 = 1 << 32;
/// Space left between the table and the blocks placed below it (OVMF has reset-vector code there).
const BLOCK_GAP: usize = 0x80;

/// A `u32 gpa, u32 size` pair as the hashes-table and secret-block entries hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpaRange {
    pub gpa: u32,
    pub size: u32,
}

/// A footer entry the builder writes verbatim (unknown GUIDs, or known ones with odd data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraEntry {
    pub guid: Guid,
    pub data: Vec<u8>,
}

/// What to build. Every field is public: start from a preset and change what a test needs.
///
/// Footer entries are written in OVMF's order, walking back from the footer: reset block, secret block,
/// hashes table, SVSM info, SEV metadata, TDX metadata, then `extra_entries` in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuilder {
    /// Bytes; a multiple of 4 KiB.
    pub size: usize,
    /// Seeds the filler, so that digests depend on content.
    pub seed: u64,
    /// Write the footer GUID table at all (false: a plain blob, or a td-shim image with only the legacy pointer).
    pub footer: bool,
    /// SEV-ES reset block: the AP reset EIP.
    pub reset_eip: Option<u32>,
    pub hashes_table: Option<GpaRange>,
    pub secret_block: Option<GpaRange>,
    /// SVSM info: the SVSM entry point's offset from the binary's base GPA.
    pub svsm_entry_offset: Option<u32>,
    pub sev_metadata: Option<Vec<SevItem>>,
    pub tdvf: Option<Vec<TdvfSection>>,
    pub extra_entries: Vec<ExtraEntry>,
    /// File offset of the "ASEV" header; `None` lets the builder place it below the table.
    pub sev_metadata_at: Option<usize>,
    /// File offset of the "TDVF" signature (its GUID goes in the 16 bytes before); `None`: auto.
    pub tdvf_at: Option<usize>,
    /// Also write td-shim's legacy pointer: the descriptor's file offset as a u32 at end - 0x20.
    pub tdvf_legacy_pointer: bool,
}

/// Where one footer entry landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryLayout {
    pub guid: Guid,
    pub name: &'static str,
    pub data_offset: usize,
    pub data_len: usize,
    /// File offset of the entry's `u16 length` (the GUID follows it).
    pub len_offset: usize,
}

impl EntryLayout {
    /// The value of the length field: data + 18.
    pub fn entry_len(&self) -> usize {
        self.data_len + ENTRY_TRAILER
    }
}

/// An image and the layout the builder gave it.
///
/// Corruptions (`crate::corrupt`) that patch bytes keep these fields as the builder's declared layout;
/// the ones that drop bytes from the front shift them so that they still point at the same structures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub bytes: Vec<u8>,
    /// What was built (after a spec-level corruption, the corrupted spec).
    pub spec: ImageBuilder,
    /// File offset of the footer entry (`u16 size; guid`), 50 bytes before the end.
    pub footer_offset: Option<usize>,
    /// File offset of the first byte of the table (the data of the entry furthest from the footer).
    pub footer_table_start: Option<usize>,
    /// The footer's `size` field: the whole table including the footer entry.
    pub footer_table_size: usize,
    /// Entries in walk order: nearest the footer first.
    pub entries: Vec<EntryLayout>,
    /// File offset of the "ASEV" header.
    pub sev_metadata_offset: Option<usize>,
    /// File offset of the "TDVF" signature.
    pub tdvf_offset: Option<usize>,
    /// Names of the corruptions applied, in order.
    pub corruptions: Vec<String>,
}

/// Why a spec cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

fn err<T>(msg: impl Into<String>) -> Result<T, BuildError> {
    Err(BuildError(msg.into()))
}

/// Size of the CFV in the presets: an eighth of the image (OVMF_VARS is 528 KiB of a 4 MiB build), at
/// least a page.
pub fn preset_cfv_size(size: usize) -> usize {
    (size / 8 / PAGE * PAGE).max(PAGE)
}

/// OVMF's TDVF sections: BFV (measured) at the end of the file, CFV at its start, then the early
/// memory regions, in stock order.
fn stock_tdvf(size: usize, first_temp: (u64, u64)) -> Vec<TdvfSection> {
    let cfv = preset_cfv_size(size);
    let base = FOUR_GIB.wrapping_sub(size as u64);
    vec![
        TdvfSection::data(TdvfType::BFV, cfv as u32, size.saturating_sub(cfv) as u32, base.wrapping_add(cfv as u64), MR_EXTEND),
        TdvfSection::data(TdvfType::CFV, 0, cfv as u32, base, 0),
        TdvfSection::memory(TdvfType::TEMP_MEM, first_temp.0, first_temp.1, 0),
        TdvfSection::memory(TdvfType::TEMP_MEM, 0x80b000, 0x2000, 0),
        TdvfSection::memory(TdvfType::TD_HOB, 0x809000, 0x2000, 0),
        TdvfSection::memory(TdvfType::TEMP_MEM, 0x800000, 0x6000, 0),
    ]
}

impl ImageBuilder {
    /// An image of `size` bytes with an empty footer table and nothing else.
    pub fn new(size: usize) -> ImageBuilder {
        ImageBuilder {
            size,
            seed: 0,
            footer: true,
            reset_eip: None,
            hashes_table: None,
            secret_block: None,
            svsm_entry_offset: None,
            sev_metadata: None,
            tdvf: None,
            extra_entries: Vec::new(),
            sev_metadata_at: None,
            tdvf_at: None,
            tdvf_legacy_pointer: false,
        }
    }

    /// Like a stock OvmfPkgX64 OVMF.fd (edk2 2024-2025): reset EIP 0x80b004, zero secret block and
    /// hashes table (no measured direct boot), SEV metadata SEC_MEM, SEC_MEM, SECRETS, CPUID,
    /// SVSM_CAA, SEC_MEM, and TDVF BFV (MR_EXTEND, the end of the file), CFV (the start of the file),
    /// TempMem, TempMem, TD_HOB, TempMem. `size` must be at least 8 KiB.
    pub fn ovmf_like(size: usize) -> ImageBuilder {
        ImageBuilder {
            reset_eip: Some(0x80b004),
            secret_block: Some(GpaRange { gpa: 0, size: 0 }),
            hashes_table: Some(GpaRange { gpa: 0, size: 0 }),
            sev_metadata: Some(vec![
                SevItem::new(0x800000, 0x9000, SevKind::SEC_MEM),
                SevItem::new(0x80a000, 0x3000, SevKind::SEC_MEM),
                SevItem::new(0x80d000, 0x1000, SevKind::SECRETS),
                SevItem::new(0x80e000, 0x1000, SevKind::CPUID),
                SevItem::new(0x80f000, 0x1000, SevKind::SVSM_CAA),
                SevItem::new(0x810000, 0x10000, SevKind::SEC_MEM),
            ]),
            tdvf: Some(stock_tdvf(size, (0x811000, 0xf000))),
            ..ImageBuilder::new(size)
        }
    }

    /// Like OvmfPkg/AmdSev: a SNP_KERNEL_HASHES page at 0x810000 holding the secret block (0xc00 bytes)
    /// and the hashes table at 0x810c00, so measured direct boot works.
    pub fn amdsev_like(size: usize) -> ImageBuilder {
        ImageBuilder {
            reset_eip: Some(0x80b004),
            secret_block: Some(GpaRange { gpa: 0x810000, size: 0xc00 }),
            hashes_table: Some(GpaRange { gpa: 0x810c00, size: 0x400 }),
            sev_metadata: Some(vec![
                SevItem::new(0x800000, 0x9000, SevKind::SEC_MEM),
                SevItem::new(0x80a000, 0x3000, SevKind::SEC_MEM),
                SevItem::new(0x80d000, 0x1000, SevKind::SECRETS),
                SevItem::new(0x80e000, 0x1000, SevKind::CPUID),
                SevItem::new(0x80f000, 0x1000, SevKind::SVSM_CAA),
                SevItem::new(0x810000, 0x1000, SevKind::KERNEL_HASHES),
                SevItem::new(0x811000, 0xf000, SevKind::SEC_MEM),
            ]),
            tdvf: Some(stock_tdvf(size, (0x812000, 0xe000))),
            ..ImageBuilder::new(size)
        }
    }

    /// Like [`ImageBuilder::ovmf_like`], but the first SEV metadata item and the first TDVF TempMem
    /// section each end exactly at the 2 MiB boundary 0x800000 where the next one starts: a valid
    /// image whose consecutive zero runs touch across two 2 MiB regions of the layout.
    pub fn touching_2m(size: usize) -> ImageBuilder {
        let mut b = ImageBuilder::ovmf_like(size);
        if let Some(items) = &mut b.sev_metadata {
            items.insert(0, SevItem::new(0x7ff000, 0x1000, SevKind::SEC_MEM));
        }
        if let Some(secs) = &mut b.tdvf {
            let at = secs.iter().position(|s| s.gpa == 0x800000).unwrap_or(secs.len());
            secs.insert(at, TdvfSection::memory(TdvfType::TEMP_MEM, 0x7fe000, 0x2000, 0));
        }
        b
    }

    /// A TDVF image with nothing SEV: the footer table holds only the TDX entry. Sections as in
    /// [`ImageBuilder::ovmf_like`].
    pub fn tdvf_only(size: usize) -> ImageBuilder {
        ImageBuilder { tdvf: Some(stock_tdvf(size, (0x811000, 0xf000))), ..ImageBuilder::new(size) }
    }

    /// Like a COCONUT-SVSM binary: reset EIP 0xfffffff0, SVSM info (entry offset 0), SEV metadata
    /// SEC_MEM [0, 0x9e000), SECRETS 0x9e000, CPUID 0x9f000. No TDVF.
    pub fn svsm_like(size: usize) -> ImageBuilder {
        ImageBuilder {
            reset_eip: Some(0xffff_fff0),
            svsm_entry_offset: Some(0),
            sev_metadata: Some(vec![
                SevItem::new(0, 0x9e000, SevKind::SEC_MEM),
                SevItem::new(0x9e000, 0x1000, SevKind::SECRETS),
                SevItem::new(0x9f000, 0x1000, SevKind::CPUID),
            ]),
            ..ImageBuilder::new(size)
        }
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The footer entries in walk order (nearest the footer first), with their data.
    pub(crate) fn footer_entries(&self, sev_from_end: u32, tdvf_from_end: u32) -> Vec<ExtraEntry> {
        let mut out = Vec::new();
        let mut push = |guid: Guid, data: Vec<u8>| out.push(ExtraEntry { guid, data });
        let range = |r: GpaRange| [r.gpa.to_le_bytes(), r.size.to_le_bytes()].concat();
        if let Some(eip) = self.reset_eip {
            push(guid::SEV_ES_RESET_BLOCK, eip.to_le_bytes().to_vec());
        }
        if let Some(r) = self.secret_block {
            push(guid::SEV_SECRET_BLOCK, range(r));
        }
        if let Some(r) = self.hashes_table {
            push(guid::SEV_HASH_TABLE, range(r));
        }
        if let Some(off) = self.svsm_entry_offset {
            push(guid::SVSM_INFO, off.to_le_bytes().to_vec());
        }
        if self.sev_metadata.is_some() {
            push(guid::SEV_METADATA, sev_from_end.to_le_bytes().to_vec());
        }
        if self.tdvf.is_some() {
            push(guid::TDX_METADATA, tdvf_from_end.to_le_bytes().to_vec());
        }
        out.extend(self.extra_entries.iter().cloned());
        out
    }

    /// The image bytes. Panics where [`ImageBuilder::try_build`] fails.
    pub fn build(&self) -> Vec<u8> {
        self.built().bytes
    }

    /// The image and its layout. Panics where [`ImageBuilder::try_build`] fails.
    pub fn built(&self) -> Built {
        self.try_build().unwrap_or_else(|e| panic!("cannot build image: {e}"))
    }

    /// Lays out and writes the image: fails when the size is not a whole number of pages or the table
    /// and blocks do not fit without overlapping.
    pub fn try_build(&self) -> Result<Built, BuildError> {
        let size = self.size;
        if size == 0 || !size.is_multiple_of(PAGE) {
            return err(format!("size {size:#x} is not a non-zero multiple of 4 KiB (use a corruption for that)"));
        }
        if size as u64 > FOUR_GIB {
            return err(format!("size {size:#x} is over 4 GiB"));
        }
        let mut bytes = vec![0u8; size];
        Rng::new(self.seed).fill(&mut bytes);
        // Reset-vector-like tail; its u32 at end - 0x20 (td-shim's legacy pointer slot) is 0x90909090,
        // past any image here, so it is never mistaken for a pointer.
        bytes[size - FOOTER_GAP..].fill(0x90);
        bytes[size - 16..size - 13].copy_from_slice(&[0xeb, 0xfe, 0xf4]);

        // Sizes first: entry data lengths do not depend on where the blocks go.
        let entries = self.footer_entries(0, 0);
        let table_len: usize = entries.iter().map(|e| e.data.len() + ENTRY_TRAILER).sum::<usize>() + ENTRY_TRAILER;
        if let Some(e) = entries.iter().find(|e| e.data.len() + ENTRY_TRAILER > u16::MAX as usize) {
            return err(format!("footer entry {} has {} data bytes, over a u16 length", e.guid, e.data.len()));
        }
        if self.footer && table_len > u16::MAX as usize {
            return err(format!("footer table of {table_len} bytes is over a u16 size"));
        }
        let footer_offset = size - FOOTER_GAP - ENTRY_TRAILER;
        let tail_start = if self.footer {
            size.checked_sub(FOOTER_GAP + table_len).ok_or_else(|| BuildError(format!("footer table of {table_len} bytes does not fit")))?
        } else {
            size - FOOTER_GAP
        };

        let mut used: Vec<Range<usize>> = Vec::new();
        used.push(tail_start..size);
        let sev_block = self.sev_metadata.as_deref().filter(|_| self.footer).map(sev::encode);
        let tdvf_block = self.tdvf.as_deref().filter(|_| self.footer || self.tdvf_legacy_pointer).map(tdvf::encode);
        // Pinned blocks claim their space before auto-placed ones look for room.
        let mut sev_at = pin(&sev_block, self.sev_metadata_at, 0, "SEV metadata", size, &mut used)?;
        let mut tdvf_at = pin(&tdvf_block, self.tdvf_at, 16, "TDVF descriptor", size, &mut used)?;
        let mut cursor = tail_start.saturating_sub(BLOCK_GAP);
        if let (Some(b), None) = (&sev_block, sev_at) {
            let at = alloc_below(&used, cursor, b.len()).ok_or_else(|| BuildError("no room for the SEV metadata".into()))?;
            used.push(at..at + b.len());
            sev_at = Some(at);
            cursor = at.saturating_sub(BLOCK_GAP);
        }
        if let (Some(b), None) = (&tdvf_block, tdvf_at) {
            let start = alloc_below(&used, cursor, b.len()).ok_or_else(|| BuildError("no room for the TDVF descriptor".into()))?;
            used.push(start..start + b.len());
            tdvf_at = Some(start + 16);
        }

        if let (Some(b), Some(at)) = (&sev_block, sev_at) {
            bytes[at..at + b.len()].copy_from_slice(b);
        }
        if let (Some(b), Some(at)) = (&tdvf_block, tdvf_at) {
            bytes[at - 16..at - 16 + b.len()].copy_from_slice(b);
        }
        if self.tdvf_legacy_pointer {
            let at = tdvf_at.ok_or_else(|| BuildError("tdvf_legacy_pointer without TDVF metadata".into()))?;
            bytes[size - 0x20..size - 0x1c].copy_from_slice(&(at as u32).to_le_bytes());
        }

        let (mut footer_at, mut table_start, mut table_size, mut layout) = (None, None, 0, Vec::new());
        if self.footer {
            let from_end = |at: Option<usize>| at.map_or(0, |a| (size - a) as u32);
            let (start, len, entries) = write_table(&mut bytes, footer_offset, &self.footer_entries(from_end(sev_at), from_end(tdvf_at)));
            debug_assert_eq!((start, len), (tail_start, table_len));
            footer_at = Some(footer_offset);
            table_start = Some(start);
            table_size = len;
            layout = entries;
        }
        Ok(Built {
            bytes,
            spec: self.clone(),
            footer_offset: footer_at,
            footer_table_start: table_start,
            footer_table_size: table_size,
            entries: layout,
            sev_metadata_offset: sev_at,
            tdvf_offset: tdvf_at,
            corruptions: Vec::new(),
        })
    }
}

/// Claims `[at - lead, at + len)` for a block the spec pins at `at`.
fn pin(
    block: &Option<Vec<u8>>,
    at: Option<usize>,
    lead: usize,
    what: &str,
    size: usize,
    used: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, BuildError> {
    let (Some(b), Some(at)) = (block, at) else {
        return Ok(None);
    };
    let start = at.checked_sub(lead).ok_or_else(|| BuildError(format!("{what} at {at:#x}: no room for its GUID")))?;
    let r = start..start + b.len();
    if r.end > size {
        return err(format!("{what} at {at:#x} runs past the end of the image"));
    }
    if let Some(o) = used.iter().find(|o| o.start < r.end && r.start < o.end) {
        return err(format!("{what} [{:#x}, {:#x}) overlaps [{:#x}, {:#x})", r.start, r.end, o.start, o.end));
    }
    used.push(r);
    Ok(Some(at))
}

/// Writes `entries` (walk order) backwards from the footer entry at `footer_offset`, then the footer
/// itself. Returns the table's start, its size field and where each entry went.
pub(crate) fn write_table(bytes: &mut [u8], footer_offset: usize, entries: &[ExtraEntry]) -> (usize, usize, Vec<EntryLayout>) {
    let mut end = footer_offset;
    let mut layout = Vec::new();
    for e in entries {
        let len = e.data.len() + ENTRY_TRAILER;
        let start = end - len;
        bytes[start..end - ENTRY_TRAILER].copy_from_slice(&e.data);
        write_trailer(bytes, end - ENTRY_TRAILER, len as u16, &e.guid);
        layout.push(EntryLayout {
            guid: e.guid,
            name: guid::entry_name(&e.guid),
            data_offset: start,
            data_len: e.data.len(),
            len_offset: end - ENTRY_TRAILER,
        });
        end = start;
    }
    let size = footer_offset - end + ENTRY_TRAILER;
    write_trailer(bytes, footer_offset, size as u16, &guid::FOOTER_TABLE);
    (end, size, layout)
}

fn write_trailer(bytes: &mut [u8], at: usize, len: u16, g: &Guid) {
    bytes[at..at + 2].copy_from_slice(&len.to_le_bytes());
    bytes[at + 2..at + ENTRY_TRAILER].copy_from_slice(&g.0);
}

/// The highest 16-byte-aligned start for `len` bytes ending at or below `below` that overlaps nothing used.
fn alloc_below(used: &[Range<usize>], mut below: usize, len: usize) -> Option<usize> {
    loop {
        let start = below.checked_sub(len)? & !0xf;
        match used.iter().find(|o| o.start < start + len && start < o.end) {
            Some(o) => below = o.start,
            None => return Some(start),
        }
    }
}

impl Built {
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// GPA of the first byte when the image ends at 4 GiB.
    pub fn gpa_base(&self) -> u64 {
        FOUR_GIB - self.bytes.len() as u64
    }

    pub fn entry(&self, g: &Guid) -> Option<&EntryLayout> {
        self.entries.iter().find(|e| e.guid == *g)
    }

    /// Length of the SEV metadata block as built (header + items).
    pub fn sev_metadata_len(&self) -> Option<usize> {
        self.spec.sev_metadata.as_ref().map(|v| sev::HEADER_LEN + sev::ITEM_LEN * v.len())
    }

    /// Length of the TDVF descriptor as built, from the signature on (excluding the GUID before it).
    pub fn tdvf_len(&self) -> Option<usize> {
        self.spec.tdvf.as_ref().map(|v| tdvf::DESCRIPTOR_LEN + tdvf::SECTION_LEN * v.len())
    }

    /// File ranges holding the structures parsers read: the footer table with the tail, and each block.
    pub fn hot_ranges(&self) -> Vec<Range<usize>> {
        let len = self.bytes.len();
        let mut out = Vec::new();
        if let Some(s) = self.footer_table_start {
            out.push(s..len);
        }
        if let (Some(at), Some(n)) = (self.sev_metadata_offset, self.sev_metadata_len()) {
            out.push(at..at + n);
        }
        if let (Some(at), Some(n)) = (self.tdvf_offset, self.tdvf_len()) {
            out.push(at.saturating_sub(16)..at + n);
        }
        out.retain(|r| r.start < r.end && r.end <= len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> usize {
        u16::from_le_bytes([b[at], b[at + 1]]) as usize
    }

    /// Walks the table the way the notes describe, returning (guid, data) nearest the footer first.
    fn walk(b: &[u8]) -> Vec<(Guid, Vec<u8>)> {
        let f = b.len() - 50;
        assert_eq!(b[f + 2..f + 18], guid::FOOTER_TABLE.0);
        let start = f + 18 - u16_at(b, f);
        let mut end = f;
        let mut out = Vec::new();
        while end > start {
            let len = u16_at(b, end - 18);
            out.push((Guid::from_slice(&b[end - 16..end]).unwrap(), b[end - len..end - 18].to_vec()));
            end -= len;
        }
        assert_eq!(end, start);
        out
    }

    #[test]
    fn empty_table_is_just_the_footer() {
        let b = ImageBuilder::new(PAGE).built();
        assert_eq!(b.footer_table_size, 18);
        assert_eq!(b.footer_table_start, Some(PAGE - 50));
        assert!(walk(&b.bytes).is_empty());
        assert_eq!(b.bytes[PAGE - 32..PAGE - 16], [0x90; 16]);
    }

    #[test]
    fn extra_entries_follow_known_ones() {
        let mut spec = ImageBuilder::new(2 * PAGE);
        spec.reset_eip = Some(0x1234_5678);
        spec.extra_entries =
            vec![ExtraEntry { guid: Guid([7; 16]), data: vec![] }, ExtraEntry { guid: Guid([8; 16]), data: vec![1, 2, 3] }];
        let b = spec.built();
        let w = walk(&b.bytes);
        assert_eq!(w[0], (guid::SEV_ES_RESET_BLOCK, 0x1234_5678u32.to_le_bytes().to_vec()));
        assert_eq!(w[1], (Guid([7; 16]), vec![]));
        assert_eq!(w[2], (Guid([8; 16]), vec![1, 2, 3]));
        assert_eq!(b.entries[2].name, "unknown");
        assert_eq!(b.footer_table_size, 18 + 22 + 18 + 21);
    }

    #[test]
    fn pinned_blocks_land_where_asked() {
        let mut spec = ImageBuilder::ovmf_like(0x10000);
        spec.sev_metadata_at = Some(0x1000);
        spec.tdvf_at = Some(0x2010);
        let b = spec.built();
        assert_eq!(b.sev_metadata_offset, Some(0x1000));
        assert_eq!(&b.bytes[0x1000..0x1004], b"ASEV");
        assert_eq!(&b.bytes[0x2010..0x2014], b"TDVF");
        assert_eq!(b.bytes[0x2000..0x2010], guid::TDVF_DESCRIPTOR.0);
        let w = walk(&b.bytes);
        let from_end = |g: Guid| w.iter().find(|e| e.0 == g).map(|e| u32::from_le_bytes(e.1[..4].try_into().unwrap())).unwrap();
        assert_eq!(from_end(guid::SEV_METADATA), 0x10000 - 0x1000);
        assert_eq!(from_end(guid::TDX_METADATA), 0x10000 - 0x2010);
    }

    #[test]
    fn refuses_impossible_specs() {
        assert!(ImageBuilder::new(0).try_build().is_err());
        assert!(ImageBuilder::new(PAGE + 1).try_build().is_err());
        let mut spec = ImageBuilder::ovmf_like(0x10000);
        spec.sev_metadata_at = Some(0x1000);
        spec.tdvf_at = Some(0x1010);
        assert!(spec.try_build().unwrap_err().0.contains("overlaps"));
        spec.tdvf_at = Some(0x10000 - 40);
        assert!(spec.try_build().is_err(), "TDVF over the table");
        let mut spec = ImageBuilder::new(PAGE);
        spec.extra_entries = vec![ExtraEntry { guid: Guid([1; 16]), data: vec![0; 5000] }];
        assert!(spec.try_build().is_err(), "table larger than the image");
        let mut spec = ImageBuilder::new(PAGE);
        spec.tdvf_legacy_pointer = true;
        assert!(spec.try_build().is_err(), "legacy pointer without TDVF");
    }

    #[test]
    fn td_shim_style_legacy_pointer_without_footer() {
        let mut spec = ImageBuilder::tdvf_only(0x8000);
        spec.footer = false;
        spec.tdvf_legacy_pointer = true;
        let b = spec.built();
        assert_eq!(b.footer_offset, None);
        assert_ne!(b.bytes[0x8000 - 48..0x8000 - 32], guid::FOOTER_TABLE.0);
        let ptr = u32::from_le_bytes(b.bytes[0x8000 - 0x20..0x8000 - 0x1c].try_into().unwrap()) as usize;
        assert_eq!(Some(ptr), b.tdvf_offset);
        assert_eq!(&b.bytes[ptr..ptr + 4], b"TDVF");
    }

    #[test]
    fn hot_ranges_cover_the_structures() {
        let b = ImageBuilder::amdsev_like(0x10000).built();
        let hot = b.hot_ranges();
        assert_eq!(hot.len(), 3);
        assert!(hot[0].contains(&(0x10000 - 50)));
        assert_eq!(hot[1].start, b.sev_metadata_offset.unwrap());
        assert_eq!(hot[1].len(), 16 + 12 * 7);
        assert_eq!(hot[2].start, b.tdvf_offset.unwrap() - 16);
    }
}
