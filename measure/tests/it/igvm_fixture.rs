//! IGVM files for the tests, written with the igvm crate's own builder and serializer (the peer), and
//! 2 MiB pages patched in afterwards (the crate cannot write them).

use igvm::snp_defs::{SevFeatures, SevVmsa};
use igvm::{IgvmDirectiveHeader, IgvmFile, IgvmInitializationHeader, IgvmPlatformHeader, IgvmRevision};
use igvm_defs::{IGVM_VHS_PARAMETER_INSERT, IGVM_VHS_SUPPORTED_PLATFORM, IgvmPageDataFlags, IgvmPageDataType, IgvmPlatformType};
use zerocopy::FromZeros;

pub const SNP: u32 = 1;
pub const TDX: u32 = 2;
pub const VMSA_GPA: u64 = 0xFFFF_FFFF_F000;

pub fn platform(mask: u32, t: IgvmPlatformType) -> IgvmPlatformHeader {
    IgvmPlatformHeader::SupportedPlatform(IGVM_VHS_SUPPORTED_PLATFORM {
        compatibility_mask: mask,
        highest_vtl: 0,
        platform_type: t,
        platform_version: 1,
        shared_gpa_boundary: 0,
    })
}

pub fn page(gpa: u64, mask: u32, data: Vec<u8>) -> IgvmDirectiveHeader {
    page_with(gpa, mask, data, IgvmPageDataFlags::new(), IgvmPageDataType::NORMAL)
}

pub fn page_with(gpa: u64, mask: u32, data: Vec<u8>, flags: IgvmPageDataFlags, t: IgvmPageDataType) -> IgvmDirectiveHeader {
    IgvmDirectiveHeader::PageData { gpa, compatibility_mask: mask, flags, data_type: t, data }
}

pub fn area(index: u32, bytes: u64) -> IgvmDirectiveHeader {
    IgvmDirectiveHeader::ParameterArea { number_of_bytes: bytes, parameter_area_index: index, initial_data: Vec::new() }
}

pub fn insert(index: u32, gpa: u64, mask: u32) -> IgvmDirectiveHeader {
    IgvmDirectiveHeader::ParameterInsert(IGVM_VHS_PARAMETER_INSERT { gpa, compatibility_mask: mask, parameter_area_index: index })
}

pub fn vmsa(seed: u64) -> Box<SevVmsa> {
    let mut v = SevVmsa::new_box_zeroed().unwrap();
    v.rip = 0xfff0 ^ seed;
    v.rdx = seed.wrapping_mul(0x9e37_79b9);
    v.cr0 = 0x10;
    v.efer = 0x1000;
    v.sev_features = SevFeatures::new().with_snp(true);
    v
}

pub fn context(gpa: u64, mask: u32, vp: u16, v: Box<SevVmsa>) -> IgvmDirectiveHeader {
    IgvmDirectiveHeader::SnpVpContext { gpa, compatibility_mask: mask, vp_index: vp, vmsa: v }
}

pub fn policy(mask: u32) -> IgvmInitializationHeader {
    IgvmInitializationHeader::GuestPolicy { policy: 0x30000, compatibility_mask: mask }
}

/// Serialises with the crate.
pub fn write(platforms: Vec<IgvmPlatformHeader>, inits: Vec<IgvmInitializationHeader>, dirs: Vec<IgvmDirectiveHeader>) -> Vec<u8> {
    let f = IgvmFile::new(IgvmRevision::V1, platforms, inits, dirs).expect("the igvm crate accepts the fixture");
    let mut out = Vec::new();
    f.serialize(&mut out).expect("the igvm crate serialises the fixture");
    out
}

/// Bytes that differ per page and per seed.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Appends the rest of a 2 MiB page whose first 4 KiB are the last file data of `file`, and fixes the
/// fixed header (total size, CRC32 over the fixed and variable headers with the checksum field zero).
pub fn extend_last_page_to_2m(mut file: Vec<u8>, rest: &[u8]) -> Vec<u8> {
    assert_eq!(rest.len(), (2 << 20) - 4096);
    file.extend_from_slice(rest);
    let total = file.len() as u32;
    file[16..20].copy_from_slice(&total.to_le_bytes());
    file[20..24].copy_from_slice(&[0; 4]);
    let vh_off = u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize;
    let vh_len = u32::from_le_bytes(file[12..16].try_into().unwrap()) as usize;
    let mut h = crc32fast::Hasher::new();
    h.update(&file[..24]);
    h.update(&file[vh_off..vh_off + vh_len]);
    let crc = h.finalize();
    file[20..24].copy_from_slice(&crc.to_le_bytes());
    file
}

/// The directives `file` holds, as the crate reads them.
pub fn directives(file: &[u8]) -> (Vec<IgvmInitializationHeader>, Vec<IgvmDirectiveHeader>) {
    let f = IgvmFile::new_from_binary(file, None).expect("the igvm crate reads the fixture");
    (f.initializations().to_vec(), f.directives().to_vec())
}
