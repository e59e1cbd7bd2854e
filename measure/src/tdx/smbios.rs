//! The SMBIOS measurement of edk2-stable202505+ TDVF (MdeModulePkg/Universal/SmbiosMeasurementDxe):
//! the structure table up to and including the end-of-table structure, with per-machine fields
//! blanked (serial numbers and asset tags overwritten with spaces, UUIDs and counters zeroed, some
//! structure types zeroed whole), then hashed. The table is what the guest sees at
//! /sys/firmware/dmi/tables/DMI.

use crate::hash::{Sha384, Sha384Digest};

const END_OF_TABLE: u8 = 127;
const OEM_BEGIN: u8 = 128;

/// (type, offset, size, is a string index)
const FIELDS: &[(u8, usize, usize, bool)] = &[
    (1, 0x07, 1, true),
    (1, 0x08, 16, false),
    (1, 0x18, 1, false),
    (2, 0x07, 1, true),
    (2, 0x0a, 1, true),
    (3, 0x07, 1, true),
    (3, 0x08, 1, true),
    (4, 0x20, 1, true),
    (4, 0x21, 1, true),
    (4, 0x22, 1, true),
    (4, 0x23, 1, false),
    (4, 0x24, 1, false),
    (4, 0x25, 1, false),
    (4, 0x2a, 2, false),
    (4, 0x2c, 2, false),
    (4, 0x2e, 2, false),
    (4, 0x11, 1, false),
    (4, 0x16, 2, false),
    (17, 0x18, 1, true),
    (17, 0x19, 1, true),
    (17, 0x1a, 1, true),
    (22, 0x07, 1, true),
    (22, 0x10, 2, false),
    (22, 0x12, 2, false),
    (23, 0x05, 2, false),
    (27, 0x0c, 2, false),
    (39, 0x08, 1, true),
    (39, 0x09, 1, true),
    (39, 0x0a, 1, true),
];
/// Types measured as their header only (everything after it zeroed).
const WHOLE: &[u8] = &[0x0b, 0x0f, 0x12, 0x1f, 0x21];

/// Why bytes are not an SMBIOS structure table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmbiosError {
    #[error("SMBIOS structure at offset {at:#x}: {what}")]
    Structure { at: usize, what: String },
    #[error("SMBIOS table: no end-of-table structure (type 127) within its {len} bytes")]
    NoEnd { len: usize },
}

/// The size of the structure at `at`: formatted area plus strings plus the double NUL.
fn structure_size(t: &[u8], at: usize) -> Result<usize, SmbiosError> {
    let err = |what: String| SmbiosError::Structure { at, what };
    let len = *t.get(at + 1).ok_or_else(|| err("truncated header".into()))? as usize;
    if len < 4 {
        return Err(err(format!("Length {len}, expected at least 4")));
    }
    let strings = at + len;
    let rest = t.get(strings..).filter(|r| r.len() >= 2).ok_or_else(|| err(format!("Length {len} runs past the table")))?;
    let end = rest.windows(2).position(|w| w == [0, 0]).ok_or_else(|| err("strings are not ended by a double NUL".into()))?;
    Ok(len + end + 2)
}

/// The bytes of string `id` (1-based) of a structure, as edk2's GetSmbiosStringById finds them:
/// an id past the last string yields the last one.
fn string_range(s: &[u8], len: usize, id: u8) -> Option<(usize, usize)> {
    let mut p = len;
    let mut found = None;
    let mut n = 0u8;
    while p + 1 < s.len() && !(s[p] == 0 && s[p + 1] == 0) {
        if s[p] == 0 {
            p += 1;
        }
        let l = s[p..].iter().position(|&c| c == 0)?;
        found = Some((p, l));
        p += l;
        n = n.wrapping_add(1);
        if n == id {
            break;
        }
    }
    found
}

/// The filtered table TDVF hashes.
pub fn filtered(table: &[u8]) -> Result<Vec<u8>, SmbiosError> {
    let mut out = Vec::with_capacity(table.len());
    let mut at = 0;
    loop {
        if at + 4 > table.len() {
            return Err(SmbiosError::NoEnd { len: table.len() });
        }
        let size = structure_size(table, at)?;
        let mut s = table[at..at + size].to_vec();
        let kind = s[0];
        let len = s[1] as usize;
        if kind >= OEM_BEGIN || WHOLE.contains(&kind) {
            s[4..].fill(0);
        } else {
            for &(_, off, n, is_string) in FIELDS.iter().filter(|f| f.0 == kind) {
                if len < off + n {
                    continue;
                }
                if is_string
                    && s[off] != 0
                    && let Some((p, l)) = string_range(&s, len, s[off])
                {
                    s[p..p + l].fill(b' ');
                }
                s[off..off + n].fill(0);
            }
        }
        out.extend_from_slice(&s);
        at += size;
        if kind == END_OF_TABLE {
            return Ok(out);
        }
    }
}

/// The digest of the SMBIOS event.
pub fn digest(table: &[u8]) -> Result<Sha384Digest, SmbiosError> {
    Ok(Sha384::digest(&filtered(table)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_blanked_and_uuids_zeroed() {
        // Type 1 with manufacturer "QEMU", serial "S123", a UUID; then the end structure.
        let mut t = vec![1u8, 27, 0, 1, 1, 0, 0, 2];
        t.extend_from_slice(&[0xaa; 16]);
        t.extend_from_slice(&[6, 0, 0]);
        t.extend_from_slice(b"QEMU\0S123\0\0");
        t.extend_from_slice(&[127, 4, 0xff, 0xff, 0, 0]);
        let f = filtered(&t).unwrap();
        assert_eq!(f.len(), t.len());
        assert_eq!(&f[27..38], b"QEMU\0    \0\0");
        assert_eq!(f[7], 0);
        assert!(f[8..24].iter().all(|&b| b == 0));
        assert_eq!(f[24], 0);
        assert!(filtered(&t[..t.len() - 6]).is_err());
        assert!(filtered(&[1, 2, 0, 0, 0, 0]).is_err());
    }
}
