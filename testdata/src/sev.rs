//! OVMF's SEV metadata block ("ASEV"): header `"ASEV", u32 size, u32 version, u32 num_items`, then
//! `num_items` items of `u32 gpa, u32 size, u32 kind`.

/// Header bytes before the first item.
pub const HEADER_LEN: usize = 16;
/// Bytes per item.
pub const ITEM_LEN: usize = 12;

/// A section kind. Raw so that unknown kinds can be built too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SevKind(pub u32);

impl SevKind {
    pub const SEC_MEM: SevKind = SevKind(1);
    pub const SECRETS: SevKind = SevKind(2);
    pub const CPUID: SevKind = SevKind(3);
    pub const SVSM_CAA: SevKind = SevKind(4);
    pub const KERNEL_HASHES: SevKind = SevKind(0x10);

    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "snp_sec_mem",
            2 => "snp_secrets",
            3 => "cpuid",
            4 => "svsm_caa",
            0x10 => "snp_kernel_hashes",
            _ => "unknown",
        }
    }
}

/// One metadata item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SevItem {
    pub gpa: u32,
    pub size: u32,
    pub kind: SevKind,
}

impl SevItem {
    pub const fn new(gpa: u32, size: u32, kind: SevKind) -> SevItem {
        SevItem { gpa, size, kind }
    }
}

/// Encodes a well-formed block (version 1, size = header + items).
pub fn encode(items: &[SevItem]) -> Vec<u8> {
    let size = HEADER_LEN + ITEM_LEN * items.len();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"ASEV");
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for it in items {
        out.extend_from_slice(&it.gpa.to_le_bytes());
        out.extend_from_slice(&it.size.to_le_bytes());
        out.extend_from_slice(&it.kind.0.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_header_and_items() {
        let b = encode(&[SevItem::new(0x80d000, 0x1000, SevKind::SECRETS), SevItem::new(0x80e000, 0x1000, SevKind::CPUID)]);
        assert_eq!(b.len(), 40);
        assert_eq!(&b[..4], b"ASEV");
        assert_eq!(b[4..8], 40u32.to_le_bytes());
        assert_eq!(b[8..12], 1u32.to_le_bytes());
        assert_eq!(b[12..16], 2u32.to_le_bytes());
        assert_eq!(b[16..20], 0x80d000u32.to_le_bytes());
        assert_eq!(b[36..40], 3u32.to_le_bytes());
    }
}
