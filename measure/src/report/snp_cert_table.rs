//! The certificate table SNP_GET_EXT_REPORT returns (SEV-SNP firmware ABI, GHCB spec "SNP Extended
//! Guest Request"; Linux configfs-tsm `auxblob`): entries of a 16-byte GUID, a u32 offset and a u32
//! length, ended by an all-zero entry, offsets counted from the start of the table.
//!
//! Hand-written because the `sev` crate's parser walks raw pointers with no bounds (it is meant for
//! buffers the kernel filled): here every entry and every range is checked against the input.

use serde::Serialize;

use super::read::Fields;

/// Size of one table entry.
pub const ENTRY_LEN: usize = 24;
/// Most entries accepted: AMD defines five kinds, hosts add a few of their own.
pub const MAX_ENTRIES: usize = 64;

/// The certificate kinds AMD assigns GUIDs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CertKind {
    Ark,
    Ask,
    Vcek,
    Vlek,
    Crl,
    Other,
}

/// GUIDs as the virtee tools and hosts write them (RFC 4122 byte order).
const KNOWN: [(CertKind, &str); 5] = [
    (CertKind::Ark, "c0b406a4-a803-4952-9743-3fb6014cd0ae"),
    (CertKind::Ask, "4ab7b379-bbac-4fe4-a02f-05aef327c782"),
    (CertKind::Vcek, "63da758d-e664-4564-adc5-f4b93be8accd"),
    (CertKind::Vlek, "a8074bc2-a25a-483e-aae6-39c045a0b8a1"),
    (CertKind::Crl, "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"),
];

/// Why bytes are not a certificate table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertTableError {
    #[error("SNP certificate table: no terminating all-zero entry within {0} bytes")]
    Unterminated(usize),
    #[error("SNP certificate table: more than {MAX_ENTRIES} entries")]
    TooMany,
    #[error(
        "SNP certificate table: entry {index} ({guid}) at offset {at:#x} gives data at {offset:#x}+{len:#x}, outside the {size}-byte table"
    )]
    Range { index: usize, guid: String, at: usize, offset: u32, len: u32, size: usize },
    #[error("SNP certificate table: entry {index} at offset {at:#x} has an all-zero GUID but a non-zero offset or length")]
    ZeroGuid { index: usize, at: usize },
}

/// One certificate of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertTableEntry {
    pub guid: String,
    pub kind: CertKind,
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// A parsed certificate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertTable {
    pub entries: Vec<CertTableEntry>,
}

impl CertTable {
    pub fn parse(bytes: &[u8]) -> Result<CertTable, CertTableError> {
        let f = Fields::new("SNP certificate table", bytes);
        let mut entries = Vec::new();
        for index in 0.. {
            let at = index * ENTRY_LEN;
            let Ok(raw) = f.array::<ENTRY_LEN>("entry", at) else {
                return Err(CertTableError::Unterminated(bytes.len()));
            };
            let (guid, rest) = raw.split_at(16);
            let offset = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
            if guid.iter().all(|&b| b == 0) {
                if offset != 0 || len != 0 {
                    return Err(CertTableError::ZeroGuid { index, at });
                }
                break;
            }
            if index == MAX_ENTRIES {
                return Err(CertTableError::TooMany);
            }
            let guid = guid_string(guid);
            let data = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(len).ok())
                .and_then(|(o, l)| bytes.get(o..o.checked_add(l)?))
                .ok_or_else(|| CertTableError::Range { index, guid: guid.clone(), at, offset, len, size: bytes.len() })?;
            let kind = kind_of(&guid);
            entries.push(CertTableEntry { guid, kind, data: data.to_vec() });
        }
        Ok(CertTable { entries })
    }

    /// Whether `bytes` start with an entry whose GUID AMD defines: what tells a table from a
    /// certificate file when both may be given.
    pub fn looks_like(bytes: &[u8]) -> bool {
        bytes.get(..16).is_some_and(|g| kind_of(&guid_string(g)) != CertKind::Other)
    }
}

fn kind_of(guid: &str) -> CertKind {
    KNOWN.iter().find(|(_, g)| *g == guid || *g == mixed_endian(guid)).map_or(CertKind::Other, |(k, _)| *k)
}

/// The RFC 4122 text of 16 bytes.
fn guid_string(b: &[u8]) -> String {
    let h = hex::encode(b);
    let p = |r: std::ops::Range<usize>| h.get(r).unwrap_or("");
    format!("{}-{}-{}-{}-{}", p(0..8), p(8..12), p(12..16), p(16..20), p(20..32))
}

/// The same GUID written in the EFI (mixed-endian) byte order, as some hosts do.
fn mixed_endian(guid: &str) -> String {
    let parts: Vec<&str> = guid.split('-').collect();
    let swap = |s: &str| -> String {
        let b = hex::decode(s).unwrap_or_default();
        hex::encode(b.iter().rev().copied().collect::<Vec<u8>>())
    };
    match parts.as_slice() {
        [a, b, c, d, e] => format!("{}-{}-{}-{d}-{e}", swap(a), swap(b), swap(c)),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(guid: &str, offset: u32, len: u32) -> Vec<u8> {
        let mut e = hex::decode(guid.replace('-', "")).unwrap();
        e.extend(offset.to_le_bytes());
        e.extend(len.to_le_bytes());
        e
    }

    #[test]
    fn reads_entries_and_refuses_ranges_outside() {
        let vcek = KNOWN[2].1;
        let mut t = [entry(vcek, 48, 3), vec![0; 24], b"abc".to_vec()].concat();
        let table = CertTable::parse(&t).unwrap();
        assert_eq!(table.entries.len(), 1);
        assert_eq!((table.entries[0].kind, table.entries[0].data.as_slice()), (CertKind::Vcek, &b"abc"[..]));
        assert!(CertTable::looks_like(&t));
        t[16] = 49;
        assert!(matches!(CertTable::parse(&t), Err(CertTableError::Range { index: 0, .. })));
        assert_eq!(CertTable::parse(&entry(vcek, 0, 0)), Err(CertTableError::Unterminated(24)));
        assert!(matches!(CertTable::parse(&[vec![0; 16], vec![1; 8]].concat()), Err(CertTableError::ZeroGuid { .. })));
        // The EFI byte order of the same GUID is recognised too.
        let efi = "8d75da63-64e6-6445-adc5-f4b93be8accd";
        assert_eq!(CertTable::parse(&[entry(efi, 48, 0), vec![0; 24]].concat()).unwrap().entries[0].kind, CertKind::Vcek);
    }
}
