//! EFI GUIDs in their on-disk byte order (mixed-endian: the first three fields little-endian).

use std::fmt;

/// A GUID as firmware stores it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub [u8; 16]);

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("GUID text: not a hex digit"),
    }
}

impl Guid {
    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (usable in constants).
    pub const fn parse(s: &str) -> Guid {
        let t = s.as_bytes();
        assert!(t.len() == 36, "GUID text must be 36 characters");
        assert!(t[8] == b'-' && t[13] == b'-' && t[18] == b'-' && t[23] == b'-', "GUID text: dashes misplaced");
        let mut be = [0u8; 16];
        let mut i = 0;
        let mut j = 0;
        while j < 16 {
            if t[i] == b'-' {
                i += 1;
            }
            be[j] = nibble(t[i]) << 4 | nibble(t[i + 1]);
            i += 2;
            j += 1;
        }
        // The text reads each field big-endian; EFI_GUID keeps Data1..Data3 as little-endian integers.
        let mut b = be;
        b[0] = be[3];
        b[1] = be[2];
        b[2] = be[1];
        b[3] = be[0];
        b[4] = be[5];
        b[5] = be[4];
        b[6] = be[7];
        b[7] = be[6];
        Guid(b)
    }

    pub fn from_slice(b: &[u8]) -> Option<Guid> {
        Some(Guid(b.try_into().ok()?))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        let d1 = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let d2 = u16::from_le_bytes([b[4], b[5]]);
        let d3 = u16::from_le_bytes([b[6], b[7]]);
        write!(f, "{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-", b[8], b[9])?;
        b[10..].iter().try_for_each(|x| write!(f, "{x:02x}"))
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// The footer-table entry (ends 32 bytes before the end of the image).
pub const FOOTER_TABLE: Guid = Guid::parse("96b582de-1fb2-45f7-baea-a366c55a082d");
pub const SEV_ES_RESET_BLOCK: Guid = Guid::parse("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
pub const SEV_HASH_TABLE: Guid = Guid::parse("7255371f-3a3b-4b04-927b-1da6efa8d454");
pub const SEV_SECRET_BLOCK: Guid = Guid::parse("4c2eb361-7d9b-4cc3-8081-127c90d3d294");
pub const SEV_METADATA: Guid = Guid::parse("dc886566-984a-4798-a75e-5585a7bf67cc");
pub const TDX_METADATA: Guid = Guid::parse("e47a6535-984a-4798-865e-4685a7bf8ec2");
pub const SVSM_INFO: Guid = Guid::parse("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd");
/// The 16 bytes just before a "TDVF" descriptor.
pub const TDVF_DESCRIPTOR: Guid = Guid::parse("e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");

/// Short names for the known footer entries (as `--describe` prints them).
pub fn entry_name(g: &Guid) -> &'static str {
    match *g {
        SEV_ES_RESET_BLOCK => "sev_es_reset_block",
        SEV_HASH_TABLE => "sev_hash_table",
        SEV_SECRET_BLOCK => "sev_secret_block",
        SEV_METADATA => "sev_metadata",
        TDX_METADATA => "tdx_metadata",
        SVSM_INFO => "svsm_info",
        FOOTER_TABLE => "footer",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_mixed_endian() {
        // 96b582de-1fb2-45f7-... as it appears in a hex dump of OVMF.fd.
        let want = [0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d];
        assert_eq!(FOOTER_TABLE.0, want);
        assert_eq!(FOOTER_TABLE.to_string(), "96b582de-1fb2-45f7-baea-a366c55a082d");
        assert_eq!(TDVF_DESCRIPTOR.to_string(), "e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");
    }

    #[test]
    fn names() {
        assert_eq!(entry_name(&SVSM_INFO), "svsm_info");
        assert_eq!(entry_name(&Guid([0; 16])), "unknown");
    }
}
