//! A tiny reader written from the format notes alone (it shares no code with the builder), so that the
//! builder's layout and every corruption's claimed verdict are checked by something independent.
#![allow(dead_code)]

use prelaunch_testdata::{Expect, Part, Platform};

pub const FOOTER: [u8; 16] = [0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d];
pub const RESET: [u8; 16] = [0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f, 0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e];
pub const HASHES: [u8; 16] = [0x1f, 0x37, 0x55, 0x72, 0x3b, 0x3a, 0x04, 0x4b, 0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54];
pub const SECRET: [u8; 16] = [0x61, 0xb3, 0x2e, 0x4c, 0x9b, 0x7d, 0xc3, 0x4c, 0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94];
pub const SEV_MD: [u8; 16] = [0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47, 0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc];
pub const TDX_MD: [u8; 16] = [0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47, 0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2];
pub const SVSM: [u8; 16] = [0x12, 0xa6, 0x89, 0xa7, 0x97, 0x05, 0x4b, 0x4c, 0xa4, 0x9f, 0xcb, 0xb1, 0xfe, 0x9d, 0x1d, 0xdd];
pub const TDVF_GUID: [u8; 16] = [0xf3, 0xf9, 0xea, 0xe9, 0x8e, 0x16, 0xd5, 0x44, 0xa8, 0xeb, 0x7f, 0x4d, 0x87, 0x38, 0xf6, 0xae];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub guid: [u8; 16],
    pub offset: usize,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sec {
    pub data_offset: u32,
    pub raw: u32,
    pub gpa: u64,
    pub mem: u64,
    pub kind: u32,
    pub attrs: u32,
}

/// (gpa, size, kind) per SEV metadata item.
pub type SevItems = Vec<(u32, u32, u32)>;

#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub table_start: usize,
    pub entries: Vec<Entry>,
    pub sev: Option<(usize, SevItems)>,
    pub tdvf: Option<(usize, Vec<Sec>)>,
}

impl Parsed {
    pub fn data(&self, g: &[u8; 16]) -> Option<&[u8]> {
        self.entries.iter().find(|e| e.guid == *g).map(|e| &e.data[..])
    }
    pub fn u32_of(&self, g: &[u8; 16], i: usize) -> Option<u32> {
        self.data(g).map(|d| u32le(d, 4 * i))
    }
}

pub fn u16le(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}
pub fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
pub fn u64le(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

type R<T> = Result<T, (Part, String)>;

fn bad<T>(p: Part, m: impl Into<String>) -> R<T> {
    Err((p, m.into()))
}

/// Reads everything; `Ok(None)` when there is no footer table.
pub fn read(b: &[u8]) -> R<Option<Parsed>> {
    let n = b.len();
    if n == 0 || !n.is_multiple_of(4096) {
        return bad(Part::File, format!("size {n}"));
    }
    let f = n - 50;
    if b[f + 2..f + 18] != FOOTER {
        return Ok(None);
    }
    let size = u16le(b, f);
    if size < 18 {
        return bad(Part::FooterTable, "size < 18");
    }
    if size - 18 > f {
        return bad(Part::FooterTable, "before start");
    }
    let start = f - (size - 18);
    let mut p = Parsed { table_start: start, ..Parsed::default() };
    let mut end = f;
    while end - start >= 18 {
        let len = u16le(b, end - 18);
        if len < 18 {
            return bad(Part::FooterTable, "entry < 18");
        }
        if len > end - start {
            return bad(Part::FooterTable, "entry overlaps");
        }
        let guid: [u8; 16] = b[end - 16..end].try_into().unwrap();
        if p.entries.iter().any(|e| e.guid == guid) {
            return bad(Part::FooterTable, "duplicate");
        }
        p.entries.push(Entry { guid, offset: end - len, data: b[end - len..end - 18].to_vec() });
        end -= len;
    }
    if end != start {
        return bad(Part::FooterTable, "stray bytes");
    }
    for (g, need) in [(RESET, 4), (HASHES, 8), (SECRET, 8), (SEV_MD, 4), (TDX_MD, 4), (SVSM, 4)] {
        if p.data(&g).is_some_and(|d| d.len() < need) {
            return bad(Part::FooterEntry, "short data");
        }
    }
    if let Some(fe) = p.u32_of(&SEV_MD, 0) {
        let fe = fe as usize;
        if !(16..=n).contains(&fe) {
            return bad(Part::SevMetadata, "offset outside");
        }
        let at = n - fe;
        if &b[at..at + 4] != b"ASEV" {
            return bad(Part::SevMetadata, "signature");
        }
        let (size, ver, cnt) = (u32le(b, at + 4) as u64, u32le(b, at + 8), u32le(b, at + 12) as u64);
        if ver != 1 {
            return bad(Part::SevMetadata, "version");
        }
        if size < 16 + 12 * cnt {
            return bad(Part::SevMetadata, "count");
        }
        if size > fe as u64 {
            return bad(Part::SevMetadata, "past end");
        }
        let mut items = Vec::new();
        for i in 0..cnt as usize {
            let it = at + 16 + 12 * i;
            let kind = u32le(b, it + 8);
            if ![1, 2, 3, 4, 0x10].contains(&kind) {
                return bad(Part::SevMetadata, format!("kind {kind}"));
            }
            items.push((u32le(b, it), u32le(b, it + 4), kind));
        }
        p.sev = Some((at, items));
    }
    if let Some(fe) = p.u32_of(&TDX_MD, 0) {
        let fe = fe as usize;
        if !(16..=n).contains(&fe) {
            return bad(Part::TdvfMetadata, "offset outside");
        }
        let at = n - fe;
        if &b[at..at + 4] != b"TDVF" {
            return bad(Part::TdvfMetadata, "signature");
        }
        let (len, ver, cnt) = (u32le(b, at + 4) as u64, u32le(b, at + 8), u32le(b, at + 12) as u64);
        if ver != 1 {
            return bad(Part::TdvfMetadata, "version");
        }
        if len != 16 + 32 * cnt {
            return bad(Part::TdvfMetadata, "length");
        }
        if len > fe as u64 {
            return bad(Part::TdvfMetadata, "past end");
        }
        let mut secs = Vec::new();
        for i in 0..cnt as usize {
            let s = at + 16 + 32 * i;
            let sec = Sec {
                data_offset: u32le(b, s),
                raw: u32le(b, s + 4),
                gpa: u64le(b, s + 8),
                mem: u64le(b, s + 16),
                kind: u32le(b, s + 24),
                attrs: u32le(b, s + 28),
            };
            if sec.kind > 8 {
                return bad(Part::TdvfMetadata, "type");
            }
            if sec.gpa.checked_add(sec.mem).is_none() {
                return bad(Part::TdvfMetadata, "gpa overflow");
            }
            secs.push(sec);
        }
        p.tdvf = Some((at, secs));
    }
    Ok(Some(p))
}

/// QEMU's TDVF rules plus data-inside-file and known attribute bits.
pub fn tdx_problems(secs: &[Sec], file_len: usize) -> Vec<String> {
    let mut out = Vec::new();
    if secs.len() < 2 {
        out.push("n < 2".to_string());
    }
    for (i, s) in secs.iter().enumerate() {
        let mut p = |m: &str| out.push(format!("section {i}: {m}"));
        if s.gpa % 4096 != 0 || s.mem % 4096 != 0 || s.mem == 0 {
            p("alignment");
        }
        if s.mem < s.raw as u64 {
            p("mem < raw");
        }
        match s.kind {
            0 | 1 if s.raw == 0 => p("fv without data"),
            2 | 3 if s.raw != 0 => p("memory section with data"),
            0..=3 => {}
            _ => p("type not accepted by QEMU"),
        }
        if s.data_offset as u64 + s.raw as u64 > file_len as u64 {
            p("data past end of file");
        }
        if s.attrs & !3 != 0 {
            p("unknown attributes");
        }
    }
    out
}

/// SNP layout rules the random generator promises.
pub fn snp_problems(p: &Parsed, file_len: usize) -> Vec<String> {
    let mut out = Vec::new();
    let Some((_, items)) = &p.sev else {
        return vec!["no SEV metadata".into()];
    };
    let fw = (1u64 << 32) - file_len as u64;
    for kind in [2, 3] {
        if items.iter().filter(|i| i.2 == kind && i.1 == 4096).count() != 1 {
            out.push(format!("kind {kind}: not exactly one single-page item"));
        }
    }
    for (i, a) in items.iter().enumerate() {
        if a.0 % 4096 != 0 || a.1 % 4096 != 0 || a.1 == 0 {
            out.push(format!("item {i}: alignment"));
        }
        if a.0 as u64 + a.1 as u64 > fw {
            out.push(format!("item {i}: not below the firmware"));
        }
        for (j, c) in items.iter().enumerate().skip(i + 1) {
            if (a.0 as u64) < c.0 as u64 + c.1 as u64 && (c.0 as u64) < a.0 as u64 + a.1 as u64 {
                out.push(format!("item {i} overlaps {j}"));
            }
        }
    }
    if p.u32_of(&RESET, 0).is_none() {
        out.push("no reset block".into());
    }
    if let Some(kh) = items.iter().find(|i| i.2 == 0x10) {
        match p.u32_of(&HASHES, 0) {
            Some(gpa) if gpa >= kh.0 && gpa % 16 == 0 && gpa - kh.0 + 176 <= 4096 => {}
            other => out.push(format!("hashes table {other:?} not inside the kernel-hashes page {:#x}", kh.0)),
        }
    }
    out
}

/// The verdict a correct parser reaches, by this reader.
pub fn verdict(b: &[u8]) -> Option<Expect> {
    match read(b) {
        Err((part, _)) => Some(Expect::Reject(part)),
        Ok(None) => Some(Expect::NoFooter),
        Ok(Some(p)) => match &p.tdvf {
            Some((_, secs)) if !tdx_problems(secs, b.len()).is_empty() => Some(Expect::Unsupported(Platform::Tdx)),
            _ => None,
        },
    }
}
