//! EFI GUIDs as they are stored in firmware: mixed-endian (the first three fields little-endian).

use std::fmt;

/// A GUID in its on-disk (EFI_GUID, mixed-endian) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

const fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("invalid hex digit in GUID literal"),
    }
}

impl Guid {
    /// Parses the canonical text form at compile time, e.g. `guid!("96b582de-1fb2-45f7-baea-a366c55a082d")`.
    pub const fn parse(s: &str) -> Guid {
        let b = s.as_bytes();
        assert!(b.len() == 36, "GUID literal must be 36 characters");
        let mut text = [0u8; 16];
        let (mut i, mut j) = (0, 0);
        while i < 36 {
            if b[i] == b'-' {
                i += 1;
                continue;
            }
            text[j] = (hex_val(b[i]) << 4) | hex_val(b[i + 1]);
            i += 2;
            j += 1;
        }
        assert!(j == 16);
        // Text order is big-endian per field; EFI stores the first three fields little-endian.
        let mut out = text;
        out[0] = text[3];
        out[1] = text[2];
        out[2] = text[1];
        out[3] = text[0];
        out[4] = text[5];
        out[5] = text[4];
        out[6] = text[7];
        out[7] = text[6];
        Guid(out)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// GUIDs this crate knows by name.
pub mod known {
    use super::Guid;

    pub const FOOTER_TABLE: Guid = Guid::parse("96b582de-1fb2-45f7-baea-a366c55a082d");
    pub const SEV_ES_RESET_BLOCK: Guid = Guid::parse("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
    pub const SEV_HASH_TABLE_RV: Guid = Guid::parse("7255371f-3a3b-4b04-927b-1da6efa8d454");
    pub const SEV_METADATA: Guid = Guid::parse("dc886566-984a-4798-a75e-5585a7bf67cc");
    pub const SEV_SECRET_BLOCK: Guid = Guid::parse("4c2eb361-7d9b-4cc3-8081-127c90d3d294");
    pub const TDX_METADATA: Guid = Guid::parse("e47a6535-984a-4798-865e-4685a7bf8ec2");
    pub const TDX_METADATA_DESCRIPTOR: Guid = Guid::parse("e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae");
    pub const SVSM_INFO: Guid = Guid::parse("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd");

    pub const SEV_HASH_TABLE_HEADER: Guid = Guid::parse("9438d606-4f22-4cc9-b479-a793d411fd21");
    pub const SEV_CMDLINE_ENTRY: Guid = Guid::parse("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");
    pub const SEV_INITRD_ENTRY: Guid = Guid::parse("44baf731-3a2f-4bd7-9af1-41e29169781d");
    pub const SEV_KERNEL_ENTRY: Guid = Guid::parse("4de79437-abd2-427f-b835-d5b172d2045b");

    /// Short names for footer-table entries, as `inspect` prints them.
    pub fn footer_entry_name(g: &Guid) -> Option<&'static str> {
        Some(match *g {
            SEV_ES_RESET_BLOCK => "sev_es_reset_block",
            SEV_HASH_TABLE_RV => "sev_hash_table",
            SEV_METADATA => "sev_metadata",
            SEV_SECRET_BLOCK => "sev_secret_block",
            TDX_METADATA => "tdx_metadata",
            SVSM_INFO => "svsm_info",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_endian_round_trip() {
        let g = known::FOOTER_TABLE;
        assert_eq!(g.0[..4], [0xde, 0x82, 0xb5, 0x96]);
        assert_eq!(g.0[4..8], [0xb2, 0x1f, 0xf7, 0x45]);
        assert_eq!(g.0[8..], [0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d]);
        assert_eq!(g.to_string(), "96b582de-1fb2-45f7-baea-a366c55a082d");
    }
}
