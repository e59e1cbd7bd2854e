//! Controlled corruptions of a built image, each with what a correct parser must conclude.
//!
//! All of them patch bytes of a [`Built`], so they compose (apply several in turn) and leave everything
//! else byte-identical to the clean image. Offsets in the `Built` keep pointing at the same structures.

use std::fmt;
use std::str::FromStr;

use crate::guid;
use crate::image::{Built, ENTRY_TRAILER, ExtraEntry, PAGE, write_table};
use crate::tdvf::TdvfType;

/// One corruption. Parameterised ones take the value named in their doc; [`Corruption::all`] lists
/// each with its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Corruption {
    /// The file is empty.
    Empty,
    /// Keep only the first N bytes (N below the image size).
    Truncate(usize),
    /// Drop N bytes (not a multiple of 4096) from the front: the tail and every offset counted from the
    /// end stay valid, so only the size check can catch it.
    OddSize(usize),
    /// Footer `size` = 17, under its own 18-byte entry.
    FooterSizeTooSmall,
    /// Footer `size` = 0xffff on an image cut to its last 64 KiB: the table would begin before the file.
    FooterPastStart,
    /// The entry nearest the footer gets length N (< 18; default 17, and 0 must not loop a parser).
    EntryTooShort(u16),
    /// The entry furthest from the footer claims one byte more than the table holds.
    EntryOverlaps,
    /// Footer `size` grows by N (1..=17): N bytes at the start of the table belong to no entry.
    StrayBytes(u16),
    /// A second copy of the entry nearest the footer, added at the far end of the table.
    DuplicateEntry,
    /// The SEV-ES reset block carries 2 data bytes instead of 4 (added if the image had none).
    ShortEntryData,
    /// The SEV metadata entry holds offset 0.
    SevOffsetZero,
    /// The SEV metadata entry holds image size + 1.
    SevOffsetPastEnd,
    /// "ASEV" reads "VESA".
    SevSignature,
    /// SEV metadata version N (default 2).
    SevVersion(u32),
    /// num_items = 0xffffffff: the size field cannot hold that many items.
    SevCountOverflow,
    /// The size field reaches one byte past the end of the file.
    SevSizePastEnd,
    /// The last item's kind becomes N (default 7).
    SevUnknownKind(u32),
    /// The TDX metadata entry holds offset 0.
    TdvfOffsetZero,
    /// The TDX metadata entry holds image size + 1.
    TdvfOffsetPastEnd,
    /// "TDVF" reads "FVDT".
    TdvfSignature,
    /// TDVF version N (default 2).
    TdvfVersion(u32),
    /// Length = 16 + 32 (n + 1).
    TdvfLength,
    /// n = 0x08000000 with Length = 16: 16 + 32 n wraps to 16 in u32 arithmetic.
    TdvfCountOverflow,
    /// The last section's type becomes N (default 9).
    TdvfUnknownType(u32),
    /// A section's GPA becomes 0xffff_ffff_ffff_f000 so that GPA + size overflows u64.
    TdvfGpaOverflow,
    /// n = 1 (Length 48): QEMU requires at least 2 sections.
    TdvfOneSection,
    /// The first memory-only section's GPA moves by 0x800.
    TdvfUnalignedGpa,
    /// The first section with data gets MemoryDataSize = RawDataSize - 4096.
    TdvfMemBelowRaw,
    /// The BFV's RawDataSize becomes 0.
    TdvfBfvNoData,
    /// The TD_HOB's RawDataSize becomes 4096.
    TdvfHobWithData,
    /// The first TempMem (else the TD_HOB) becomes PermMem (type 4).
    TdvfPermMem,
    /// The file loses its CFV part (OVMF_CODE.fd split from OVMF_VARS.fd): the metadata still
    /// describes the combined image, so the BFV's data ends past the end of the file.
    TdvfSplitCode,
    /// Section 0 gets attribute bit 2 (only bits 0 and 1 are defined).
    TdvfUnknownAttributes,
}

/// Which structure a correct parser's error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The file as a whole (empty, size).
    File,
    FooterTable,
    /// A known entry's data.
    FooterEntry,
    SevMetadata,
    TdvfMetadata,
}

/// Which platform a well-formed but unusable image cannot launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Snp,
    Tdx,
}

/// What a correct parser must conclude about a corrupted image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Reading fails, with an error about this structure.
    Reject(Part),
    /// The image reads, but it has no footer table (no SEV/TDX support, said as such).
    NoFooter,
    /// The image reads; the platform is reported unusable, naming the offending section.
    Unsupported(Platform),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::File => "file",
            Part::FooterTable => "footer_table",
            Part::FooterEntry => "footer_entry",
            Part::SevMetadata => "sev_metadata",
            Part::TdvfMetadata => "tdvf_metadata",
        })
    }
}

impl fmt::Display for Expect {
    /// `reject:<part>`, `no_footer` or `unsupported:<snp|tdx>` (what `gen-image --list-corruptions` prints).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Reject(p) => write!(f, "reject:{p}"),
            Expect::NoFooter => f.write_str("no_footer"),
            Expect::Unsupported(Platform::Snp) => f.write_str("unsupported:snp"),
            Expect::Unsupported(Platform::Tdx) => f.write_str("unsupported:tdx"),
        }
    }
}

/// A corruption that does not fit the image it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotApplicable(pub String);

impl fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotApplicable {}

fn na<T>(msg: impl Into<String>) -> Result<T, NotApplicable> {
    Err(NotApplicable(msg.into()))
}

/// (name, has a parameter, default parameter) in declaration order.
const NAMES: [(&str, Option<u64>); 33] = [
    ("empty", None),
    ("truncate", Some(4096)),
    ("odd-size", Some(1)),
    ("footer-size-too-small", None),
    ("footer-past-start", None),
    ("entry-too-short", Some(17)),
    ("entry-overlaps", None),
    ("stray-bytes", Some(4)),
    ("duplicate-entry", None),
    ("short-entry-data", None),
    ("sev-offset-zero", None),
    ("sev-offset-past-end", None),
    ("sev-signature", None),
    ("sev-version", Some(2)),
    ("sev-count-overflow", None),
    ("sev-size-past-end", None),
    ("sev-unknown-kind", Some(7)),
    ("tdvf-offset-zero", None),
    ("tdvf-offset-past-end", None),
    ("tdvf-signature", None),
    ("tdvf-version", Some(2)),
    ("tdvf-length", None),
    ("tdvf-count-overflow", None),
    ("tdvf-unknown-type", Some(9)),
    ("tdvf-gpa-overflow", None),
    ("tdvf-one-section", None),
    ("tdvf-unaligned-gpa", None),
    ("tdvf-mem-below-raw", None),
    ("tdvf-bfv-no-data", None),
    ("tdvf-hob-with-data", None),
    ("tdvf-perm-mem", None),
    ("tdvf-split-code", None),
    ("tdvf-unknown-attributes", None),
];

impl Corruption {
    fn index(&self) -> usize {
        use Corruption::*;
        match self {
            Empty => 0,
            Truncate(_) => 1,
            OddSize(_) => 2,
            FooterSizeTooSmall => 3,
            FooterPastStart => 4,
            EntryTooShort(_) => 5,
            EntryOverlaps => 6,
            StrayBytes(_) => 7,
            DuplicateEntry => 8,
            ShortEntryData => 9,
            SevOffsetZero => 10,
            SevOffsetPastEnd => 11,
            SevSignature => 12,
            SevVersion(_) => 13,
            SevCountOverflow => 14,
            SevSizePastEnd => 15,
            SevUnknownKind(_) => 16,
            TdvfOffsetZero => 17,
            TdvfOffsetPastEnd => 18,
            TdvfSignature => 19,
            TdvfVersion(_) => 20,
            TdvfLength => 21,
            TdvfCountOverflow => 22,
            TdvfUnknownType(_) => 23,
            TdvfGpaOverflow => 24,
            TdvfOneSection => 25,
            TdvfUnalignedGpa => 26,
            TdvfMemBelowRaw => 27,
            TdvfBfvNoData => 28,
            TdvfHobWithData => 29,
            TdvfPermMem => 30,
            TdvfSplitCode => 31,
            TdvfUnknownAttributes => 32,
        }
    }

    fn from_index(i: usize, p: u64) -> Corruption {
        use Corruption::*;
        match i {
            0 => Empty,
            1 => Truncate(p as usize),
            2 => OddSize(p as usize),
            3 => FooterSizeTooSmall,
            4 => FooterPastStart,
            5 => EntryTooShort(p as u16),
            6 => EntryOverlaps,
            7 => StrayBytes(p as u16),
            8 => DuplicateEntry,
            9 => ShortEntryData,
            10 => SevOffsetZero,
            11 => SevOffsetPastEnd,
            12 => SevSignature,
            13 => SevVersion(p as u32),
            14 => SevCountOverflow,
            15 => SevSizePastEnd,
            16 => SevUnknownKind(p as u32),
            17 => TdvfOffsetZero,
            18 => TdvfOffsetPastEnd,
            19 => TdvfSignature,
            20 => TdvfVersion(p as u32),
            21 => TdvfLength,
            22 => TdvfCountOverflow,
            23 => TdvfUnknownType(p as u32),
            24 => TdvfGpaOverflow,
            25 => TdvfOneSection,
            26 => TdvfUnalignedGpa,
            27 => TdvfMemBelowRaw,
            28 => TdvfBfvNoData,
            29 => TdvfHobWithData,
            30 => TdvfPermMem,
            31 => TdvfSplitCode,
            _ => TdvfUnknownAttributes,
        }
    }

    fn param(&self) -> Option<u64> {
        use Corruption::*;
        match *self {
            Truncate(n) | OddSize(n) => Some(n as u64),
            EntryTooShort(n) | StrayBytes(n) => Some(n as u64),
            SevVersion(n) | SevUnknownKind(n) | TdvfVersion(n) | TdvfUnknownType(n) => Some(n as u64),
            _ => None,
        }
    }

    /// Every corruption with its default parameter.
    pub fn all() -> Vec<Corruption> {
        NAMES.iter().enumerate().map(|(i, (_, p))| Corruption::from_index(i, p.unwrap_or(0))).collect()
    }

    /// The kebab-case name without its parameter.
    pub fn name(&self) -> &'static str {
        NAMES[self.index()].0
    }

    /// What a correct parser must conclude.
    pub fn expect(&self) -> Expect {
        use Corruption::*;
        match *self {
            Empty | OddSize(_) => Expect::Reject(Part::File),
            Truncate(n) if n == 0 || n % PAGE != 0 => Expect::Reject(Part::File),
            Truncate(_) => Expect::NoFooter,
            FooterSizeTooSmall | FooterPastStart | EntryTooShort(_) | EntryOverlaps | StrayBytes(_) | DuplicateEntry => {
                Expect::Reject(Part::FooterTable)
            }
            ShortEntryData => Expect::Reject(Part::FooterEntry),
            SevOffsetZero | SevOffsetPastEnd | SevSignature | SevVersion(_) | SevCountOverflow | SevSizePastEnd | SevUnknownKind(_) => {
                Expect::Reject(Part::SevMetadata)
            }
            TdvfOffsetZero | TdvfOffsetPastEnd | TdvfSignature | TdvfVersion(_) | TdvfLength | TdvfCountOverflow | TdvfUnknownType(_)
            | TdvfGpaOverflow => Expect::Reject(Part::TdvfMetadata),
            TdvfOneSection
            | TdvfUnalignedGpa
            | TdvfMemBelowRaw
            | TdvfBfvNoData
            | TdvfHobWithData
            | TdvfPermMem
            | TdvfSplitCode
            | TdvfUnknownAttributes => Expect::Unsupported(Platform::Tdx),
        }
    }

    /// What a correct parser must say, in words (the README's table says the same).
    pub fn doc(&self) -> &'static str {
        use Corruption::*;
        match self {
            Empty => "empty file: say it is empty, not 'no footer'",
            Truncate(_) => "cut to N bytes: not a multiple of 4096 -> size error; else the footer is gone -> no footer table",
            OddSize(_) => "size not a multiple of 4096 (footer intact): size error before anything else",
            FooterSizeTooSmall => "footer size 17 < 18: table size smaller than its own footer entry",
            FooterPastStart => "footer size 0xffff on a 64 KiB image: table would start before the file",
            EntryTooShort(_) => "entry length < 18: entry too short (and never loop on length 0)",
            EntryOverlaps => "last entry's length reaches 1 byte before the table start: entry overlaps its neighbour",
            StrayBytes(_) => "table size N bytes larger than its entries: N stray bytes at the table start",
            DuplicateEntry => "the same GUID twice in the table: duplicate entry, naming both offsets",
            ShortEntryData => "SEV-ES reset block with 2 data bytes: entry too short, needs 4",
            SevOffsetZero => "SEV metadata offset 0: outside the image",
            SevOffsetPastEnd => "SEV metadata offset size + 1: outside the image",
            SevSignature => "signature \"VESA\": bad signature, expected \"ASEV\"",
            SevVersion(_) => "version != 1: unsupported version",
            SevCountOverflow => "num_items 0xffffffff: the size field cannot hold that many items",
            SevSizePastEnd => "size field 1 byte past the end of the file: runs past the end",
            SevUnknownKind(_) => "unknown section kind: name the kind, item index and offset",
            TdvfOffsetZero => "TDX metadata offset 0: outside the image",
            TdvfOffsetPastEnd => "TDX metadata offset size + 1: outside the image",
            TdvfSignature => "signature \"FVDT\": bad signature, expected \"TDVF\"",
            TdvfVersion(_) => "version != 1: unsupported version",
            TdvfLength => "Length = 16 + 32 (n + 1): Length does not match the section count",
            TdvfCountOverflow => "n = 0x08000000, Length 16: Length mismatch computed without u32 wrap-around",
            TdvfUnknownType(_) => "unknown section type: name the type, section index and offset",
            TdvfGpaOverflow => "GPA 0xffff_ffff_ffff_f000 + size: GPA range overflows 64 bits",
            TdvfOneSection => "one section: reads, TDX unusable (QEMU requires at least 2)",
            TdvfUnalignedGpa => "GPA not 4 KiB aligned: reads, TDX unusable",
            TdvfMemBelowRaw => "MemoryDataSize < RawDataSize: reads, TDX unusable",
            TdvfBfvNoData => "BFV with RawDataSize 0: reads, TDX unusable (firmware volumes carry data)",
            TdvfHobWithData => "TD_HOB with RawDataSize 4096: reads, TDX unusable (memory-only section)",
            TdvfPermMem => "PermMem section: reads, TDX unusable under QEMU (type only td-shim knows)",
            TdvfSplitCode => "BFV data past the end of the file: reads, TDX unusable; say to use the combined OVMF.fd",
            TdvfUnknownAttributes => "attribute bit 2: reads, TDX unusable (unknown attribute bits)",
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.param() {
            Some(p) => write!(f, "{}={p}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

impl FromStr for Corruption {
    type Err = String;

    /// `name` or `name=N` (N decimal or 0x-hex); parameterised names without `=N` take their default.
    fn from_str(s: &str) -> Result<Corruption, String> {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        let i = NAMES.iter().position(|(n, _)| *n == name).ok_or_else(|| format!("unknown corruption {name:?}"))?;
        let p = match (NAMES[i].1, value) {
            (None, Some(_)) => return Err(format!("corruption {name} takes no value")),
            (None, None) => 0,
            (Some(d), None) => d,
            (Some(_), Some(v)) => parse_u64(v).ok_or_else(|| format!("corruption {name}: bad value {v:?}"))?,
        };
        Ok(Corruption::from_index(i, p))
    }
}

/// Decimal or 0x-prefixed hex.
pub fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Drops the first `k` bytes, shifting every offset; structures that lay there are forgotten.
fn drop_front(b: &mut Built, k: usize) {
    b.bytes.drain(..k);
    let shift = |o: &mut Option<usize>| *o = o.and_then(|v| v.checked_sub(k));
    shift(&mut b.footer_offset);
    shift(&mut b.footer_table_start);
    shift(&mut b.sev_metadata_offset);
    shift(&mut b.tdvf_offset);
    for e in &mut b.entries {
        e.data_offset -= k;
        e.len_offset -= k;
    }
}

/// Re-lays the footer table with `entries`; the blocks stay where they are.
fn rewrite_table(b: &mut Built, entries: &[ExtraEntry]) -> Result<(), NotApplicable> {
    let (Some(footer), Some(old_start)) = (b.footer_offset, b.footer_table_start) else {
        return na("image has no footer table");
    };
    let new_len: usize = entries.iter().map(|e| e.data.len() + ENTRY_TRAILER).sum();
    let new_start = footer.checked_sub(new_len).ok_or_else(|| NotApplicable("table does not fit".into()))?;
    let blocks = b.hot_ranges().into_iter().filter(|r| r.start < old_start);
    if let Some(r) = blocks.into_iter().find(|r| r.end > new_start) {
        return na(format!("the grown table would overwrite a block at [{:#x}, {:#x})", r.start, r.end));
    }
    let (start, size, layout) = write_table(&mut b.bytes, footer, entries);
    b.footer_table_start = Some(start);
    b.footer_table_size = size;
    b.entries = layout;
    Ok(())
}

fn current_entries(b: &Built) -> Vec<ExtraEntry> {
    b.entries.iter().map(|e| ExtraEntry { guid: e.guid, data: b.bytes[e.data_offset..e.data_offset + e.data_len].to_vec() }).collect()
}

fn footer(b: &Built) -> Result<usize, NotApplicable> {
    b.footer_offset.ok_or_else(|| NotApplicable("image has no footer table".into()))
}

fn entry_data(b: &Built, g: &guid::Guid, what: &str) -> Result<usize, NotApplicable> {
    b.entry(g).map(|e| e.data_offset).ok_or_else(|| NotApplicable(format!("image has no {what} entry")))
}

fn sev(b: &Built) -> Result<usize, NotApplicable> {
    b.sev_metadata_offset.ok_or_else(|| NotApplicable("image has no SEV metadata".into()))
}

fn tdvf(b: &Built) -> Result<usize, NotApplicable> {
    b.tdvf_offset.ok_or_else(|| NotApplicable("image has no TDVF metadata".into()))
}

/// File offset of section `i` and the first section (by spec) matching `pred`.
fn tdvf_section(
    b: &Built,
    what: &str,
    pred: impl Fn(&crate::tdvf::TdvfSection) -> bool,
) -> Result<(usize, crate::tdvf::TdvfSection), NotApplicable> {
    let at = tdvf(b)?;
    let sections = b.spec.tdvf.as_deref().unwrap_or_default();
    let i = sections.iter().position(pred).ok_or_else(|| NotApplicable(format!("no {what} section")))?;
    Ok((at + 16 + 32 * i, sections[i]))
}

/// Applies `c` to `b`, recording its name in `b.corruptions`.
pub fn apply(b: &mut Built, c: Corruption) -> Result<(), NotApplicable> {
    use Corruption::*;
    let len = b.bytes.len();
    match c {
        Empty => {
            b.bytes.clear();
            (b.footer_offset, b.footer_table_start, b.sev_metadata_offset, b.tdvf_offset) = (None, None, None, None);
            b.entries.clear();
        }
        Truncate(n) => {
            if n >= len {
                return na(format!("truncate to {n} bytes: the image has only {len}"));
            }
            b.bytes.truncate(n);
            let gone = |o: &mut Option<usize>| *o = o.filter(|v| *v < n);
            gone(&mut b.sev_metadata_offset);
            gone(&mut b.tdvf_offset);
            b.footer_offset = None;
            b.footer_table_start = None;
            b.entries.clear();
        }
        OddSize(n) => {
            if n % PAGE == 0 || n >= len {
                return na(format!("odd-size={n}: N must be below the image size and not a multiple of 4096"));
            }
            if b.hot_ranges().iter().any(|r| r.start < n) {
                return na("odd-size would cut into a metadata block");
            }
            drop_front(b, n);
        }
        FooterSizeTooSmall => {
            let at = footer(b)?;
            put_u16(&mut b.bytes, at, ENTRY_TRAILER as u16 - 1);
        }
        FooterPastStart => {
            footer(b)?;
            if len > 0x10000 {
                drop_front(b, len - 0x10000);
            }
            let at = footer(b)?;
            put_u16(&mut b.bytes, at, 0xffff);
        }
        EntryTooShort(n) => {
            if n as usize >= ENTRY_TRAILER {
                return na(format!("entry-too-short={n}: must be under 18"));
            }
            let e = b.entries.first().ok_or_else(|| NotApplicable("footer table has no entries".into()))?;
            put_u16(&mut b.bytes, e.len_offset, n);
        }
        EntryOverlaps => {
            let e = b.entries.last().ok_or_else(|| NotApplicable("footer table has no entries".into()))?;
            put_u16(&mut b.bytes, e.len_offset, e.entry_len() as u16 + 1);
        }
        StrayBytes(n) => {
            if n == 0 || n as usize >= ENTRY_TRAILER {
                return na(format!("stray-bytes={n}: must be 1..=17 (18 or more would read a bogus entry)"));
            }
            let f = footer(b)?;
            let size = b.footer_table_size + n as usize;
            put_u16(&mut b.bytes, f, size as u16);
            b.footer_table_size = size;
            b.footer_table_start = b.footer_table_start.map(|s| s - n as usize);
        }
        DuplicateEntry => {
            let mut entries = current_entries(b);
            let first = entries.first().cloned().ok_or_else(|| NotApplicable("footer table has no entries".into()))?;
            entries.push(first);
            rewrite_table(b, &entries)?;
        }
        ShortEntryData => {
            let mut entries = current_entries(b);
            let short = ExtraEntry { guid: guid::SEV_ES_RESET_BLOCK, data: 0x80b004u32.to_le_bytes()[..2].to_vec() };
            match entries.iter_mut().find(|e| e.guid == guid::SEV_ES_RESET_BLOCK) {
                Some(e) => e.data.truncate(2),
                None => entries.push(short),
            }
            rewrite_table(b, &entries)?;
        }
        SevOffsetZero => {
            let at = entry_data(b, &guid::SEV_METADATA, "SEV metadata")?;
            put_u32(&mut b.bytes, at, 0);
        }
        SevOffsetPastEnd => {
            let at = entry_data(b, &guid::SEV_METADATA, "SEV metadata")?;
            put_u32(&mut b.bytes, at, len as u32 + 1);
        }
        SevSignature => {
            let at = sev(b)?;
            b.bytes[at..at + 4].copy_from_slice(b"VESA");
        }
        SevVersion(v) => {
            let at = sev(b)? + 8;
            put_u32(&mut b.bytes, at, v);
        }
        SevCountOverflow => {
            let at = sev(b)? + 12;
            put_u32(&mut b.bytes, at, u32::MAX);
        }
        SevSizePastEnd => {
            let at = sev(b)?;
            put_u32(&mut b.bytes, at + 4, (len - at) as u32 + 1);
        }
        SevUnknownKind(k) => {
            let at = sev(b)?;
            let n = get_u32(&b.bytes, at + 12) as usize;
            if n == 0 {
                return na("SEV metadata has no items");
            }
            put_u32(&mut b.bytes, at + 16 + 12 * (n - 1) + 8, k);
        }
        TdvfOffsetZero => {
            let at = entry_data(b, &guid::TDX_METADATA, "TDX metadata")?;
            put_u32(&mut b.bytes, at, 0);
        }
        TdvfOffsetPastEnd => {
            let at = entry_data(b, &guid::TDX_METADATA, "TDX metadata")?;
            put_u32(&mut b.bytes, at, len as u32 + 1);
        }
        TdvfSignature => {
            let at = tdvf(b)?;
            b.bytes[at..at + 4].copy_from_slice(b"FVDT");
        }
        TdvfVersion(v) => {
            let at = tdvf(b)? + 8;
            put_u32(&mut b.bytes, at, v);
        }
        TdvfLength => {
            let at = tdvf(b)?;
            let n = get_u32(&b.bytes, at + 12);
            put_u32(&mut b.bytes, at + 4, n.wrapping_add(1).wrapping_mul(32).wrapping_add(16));
        }
        TdvfCountOverflow => {
            let at = tdvf(b)?;
            put_u32(&mut b.bytes, at + 4, 16);
            put_u32(&mut b.bytes, at + 12, 0x0800_0000);
        }
        TdvfUnknownType(t) => {
            let at = tdvf(b)?;
            let n = get_u32(&b.bytes, at + 12) as usize;
            if n == 0 {
                return na("TDVF metadata has no sections");
            }
            put_u32(&mut b.bytes, at + 16 + 32 * (n - 1) + 24, t);
        }
        TdvfGpaOverflow => {
            let (at, _) = tdvf_section(b, "non-empty", |s| s.mem_size >= PAGE as u64)?;
            put_u64(&mut b.bytes, at + 8, 0xffff_ffff_ffff_f000);
        }
        TdvfOneSection => {
            let at = tdvf(b)?;
            put_u32(&mut b.bytes, at + 4, 48);
            put_u32(&mut b.bytes, at + 12, 1);
        }
        TdvfUnalignedGpa => {
            let (at, s) = tdvf_section(b, "memory-only", |s| s.raw_size == 0)?;
            put_u64(&mut b.bytes, at + 8, s.gpa + 0x800);
        }
        TdvfMemBelowRaw => {
            let (at, s) = tdvf_section(b, "data", |s| s.raw_size as usize >= PAGE)?;
            put_u64(&mut b.bytes, at + 16, s.raw_size as u64 - PAGE as u64);
        }
        TdvfBfvNoData => {
            let (at, _) = tdvf_section(b, "BFV", |s| s.kind == TdvfType::BFV)?;
            put_u32(&mut b.bytes, at + 4, 0);
        }
        TdvfHobWithData => {
            let (at, _) = tdvf_section(b, "TD_HOB", |s| s.kind == TdvfType::TD_HOB)?;
            put_u32(&mut b.bytes, at + 4, PAGE as u32);
        }
        TdvfPermMem => {
            let (at, _) = tdvf_section(b, "TempMem", |s| s.kind == TdvfType::TEMP_MEM)
                .or_else(|_| tdvf_section(b, "TempMem or TD_HOB", |s| s.kind == TdvfType::TD_HOB))?;
            put_u32(&mut b.bytes, at + 24, TdvfType::PERM_MEM.0);
        }
        TdvfSplitCode => {
            let (_, bfv) = tdvf_section(b, "BFV", |s| s.kind == TdvfType::BFV)?;
            let cut = match tdvf_section(b, "CFV", |s| s.kind == TdvfType::CFV) {
                Ok((_, cfv)) if cfv.data_offset == 0 && cfv.raw_size > 0 => cfv.raw_size as usize,
                _ => PAGE,
            };
            if (bfv.data_offset as usize + bfv.raw_size as usize) <= len - cut {
                return na("the BFV's data would still fit after removing the CFV part");
            }
            if cut >= len || b.hot_ranges().iter().any(|r| r.start < cut) {
                return na("the CFV part holds metadata");
            }
            drop_front(b, cut);
        }
        TdvfUnknownAttributes => {
            let (at, s) = tdvf_section(b, "any", |_| true)?;
            put_u32(&mut b.bytes, at + 28, s.attributes | 1 << 2);
        }
    }
    b.corruptions.push(c.to_string());
    Ok(())
}

impl Built {
    /// [`apply`] as a method.
    pub fn corrupt(&mut self, c: Corruption) -> Result<(), NotApplicable> {
        apply(self, c)
    }
}
