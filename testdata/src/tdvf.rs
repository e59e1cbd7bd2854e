//! TDVF metadata: the 16-byte descriptor GUID, then `"TDVF", u32 Length, u32 Version, u32 n` and `n`
//! sections of `u32 DataOffset, u32 RawDataSize, u64 MemoryAddress, u64 MemoryDataSize, u32 Type,
//! u32 Attributes`.

/// Descriptor bytes before the first section.
pub const DESCRIPTOR_LEN: usize = 16;
/// Bytes per section.
pub const SECTION_LEN: usize = 32;

/// Attribute bit 0: the section's pages are measured (TDH.MR.EXTEND).
pub const MR_EXTEND: u32 = 1 << 0;
/// Attribute bit 1: the pages are accepted later (TDH.MEM.PAGE.AUG).
pub const PAGE_AUG: u32 = 1 << 1;

/// A section type. Raw so that unknown types can be built too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdvfType(pub u32);

impl TdvfType {
    pub const BFV: TdvfType = TdvfType(0);
    pub const CFV: TdvfType = TdvfType(1);
    pub const TD_HOB: TdvfType = TdvfType(2);
    pub const TEMP_MEM: TdvfType = TdvfType(3);
    pub const PERM_MEM: TdvfType = TdvfType(4);
    pub const PAYLOAD: TdvfType = TdvfType(5);
    pub const PAYLOAD_PARAM: TdvfType = TdvfType(6);
    pub const TD_INFO: TdvfType = TdvfType(7);
    pub const TD_PARAMS: TdvfType = TdvfType(8);

    pub fn name(self) -> &'static str {
        const NAMES: [&str; 9] = ["bfv", "cfv", "td_hob", "temp_mem", "perm_mem", "payload", "payload_param", "td_info", "td_params"];
        NAMES.get(self.0 as usize).copied().unwrap_or("unknown")
    }
}

/// One section entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdvfSection {
    pub data_offset: u32,
    pub raw_size: u32,
    pub gpa: u64,
    pub mem_size: u64,
    pub kind: TdvfType,
    pub attributes: u32,
}

impl TdvfSection {
    /// A section whose bytes come from the file (BFV, CFV): `raw_size` bytes at `data_offset`, mapped
    /// at `gpa` with the same memory size.
    pub const fn data(kind: TdvfType, data_offset: u32, raw_size: u32, gpa: u64, attributes: u32) -> TdvfSection {
        TdvfSection { data_offset, raw_size, gpa, mem_size: raw_size as u64, kind, attributes }
    }

    /// A memory-only section (TD_HOB, TempMem): no file data.
    pub const fn memory(kind: TdvfType, gpa: u64, mem_size: u64, attributes: u32) -> TdvfSection {
        TdvfSection { data_offset: 0, raw_size: 0, gpa, mem_size, kind, attributes }
    }
}

/// Encodes the descriptor GUID followed by a well-formed descriptor (Version 1, Length 16 + 32 n).
pub fn encode(sections: &[TdvfSection]) -> Vec<u8> {
    let len = DESCRIPTOR_LEN + SECTION_LEN * sections.len();
    let mut out = Vec::with_capacity(16 + len);
    out.extend_from_slice(&crate::guid::TDVF_DESCRIPTOR.0);
    out.extend_from_slice(b"TDVF");
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for s in sections {
        out.extend_from_slice(&s.data_offset.to_le_bytes());
        out.extend_from_slice(&s.raw_size.to_le_bytes());
        out.extend_from_slice(&s.gpa.to_le_bytes());
        out.extend_from_slice(&s.mem_size.to_le_bytes());
        out.extend_from_slice(&s.kind.0.to_le_bytes());
        out.extend_from_slice(&s.attributes.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_guid_descriptor_and_sections() {
        let s = [
            TdvfSection::data(TdvfType::BFV, 0x1000, 0x3000, 0xffff_d000, MR_EXTEND),
            TdvfSection::memory(TdvfType::TD_HOB, 0x809000, 0x2000, 0),
        ];
        let b = encode(&s);
        assert_eq!(b.len(), 16 + 16 + 64);
        assert_eq!(b[..16], crate::guid::TDVF_DESCRIPTOR.0);
        assert_eq!(&b[16..20], b"TDVF");
        assert_eq!(b[20..24], 80u32.to_le_bytes());
        assert_eq!(b[28..32], 2u32.to_le_bytes());
        let first = &b[32..64];
        assert_eq!(first[8..16], 0xffff_d000u64.to_le_bytes());
        assert_eq!(first[28..32], 1u32.to_le_bytes());
        let second = &b[64..96];
        assert_eq!(second[24..28], 2u32.to_le_bytes());
        assert_eq!(second[16..24], 0x2000u64.to_le_bytes());
    }

    #[test]
    fn type_names() {
        assert_eq!(TdvfType::TD_PARAMS.name(), "td_params");
        assert_eq!(TdvfType(9).name(), "unknown");
    }
}
