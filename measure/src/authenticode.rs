//! The Authenticode digest of a PE/COFF image, as edk2 computes it when it measures an image it
//! loads (OvmfPkg/Tcg/TdTcg2Dxe/MeasureBootPeCoff.c, after PE/COFF spec 8.0 appendix A): the headers
//! without the CheckSum field and the certificate-table directory entry, then every section with raw
//! data in file-offset order, then whatever follows them except the certificate table's size.
//!
//! goblin reads the headers; only the digest walk is written here, because no crate computes it
//! with edk2's exact rules (no 8-byte padding of the file, trailing bytes = FileSize - CertSize -
//! SumOfBytesHashed, a stable sort of sections by PointerToRawData, zero-size sections skipped).

use std::ops::Range;

use goblin::pe::header::Header;

use crate::hash::{Sha384, Sha384Digest};

/// Offset of CheckSum in the optional header (PE32 and PE32+ alike).
const CHECKSUM_IN_OPTIONAL: usize = 64;
/// The certificate table is data directory 4 (IMAGE_DIRECTORY_ENTRY_SECURITY).
const SECURITY_DIRECTORY: usize = 4;
const PE32_MAGIC: u16 = 0x10b;
const PE32PLUS_MAGIC: u16 = 0x20b;

/// Why an image has no Authenticode digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticodeError {
    #[error("not a PE/COFF image: {0}")]
    NotPe(String),
    #[error("PE image: no optional header (SizeOfOptionalHeader is 0); edk2 cannot load it")]
    NoOptionalHeader,
    #[error("PE image: optional header magic {0:#06x}, expected 0x10b (PE32) or 0x20b (PE32+)")]
    Magic(u16),
    #[error("PE image: {field} {value:#x} lies outside the {len:#x}-byte file")]
    Outside { field: String, value: u64, len: usize },
    #[error("PE image: SizeOfHeaders {size:#x} ends before the {what} at {at:#x}")]
    Headers { size: usize, what: &'static str, at: usize },
    #[error(
        "PE image: the certificate table ({cert:#x} bytes) and the hashed headers and sections ({hashed:#x} bytes) exceed the {len:#x}-byte file; edk2 refuses to measure it"
    )]
    CertificateSize { cert: usize, hashed: usize, len: usize },
}

/// Where the digest's pieces lie in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeLayout {
    /// The byte ranges hashed, in order.
    pub ranges: Vec<Range<usize>>,
    /// Size of the certificate table (excluded from the trailing data).
    pub certificate_size: usize,
}

impl PeLayout {
    /// Reads the headers of `image` with goblin and lays out the digest.
    pub fn of(image: &[u8]) -> Result<PeLayout, AuthenticodeError> {
        let h = Header::parse(image).map_err(|e| AuthenticodeError::NotPe(e.to_string()))?;
        let oh = h.optional_header.ok_or(AuthenticodeError::NoOptionalHeader)?;
        let magic = oh.standard_fields.magic;
        if magic != PE32_MAGIC && magic != PE32PLUS_MAGIC {
            return Err(AuthenticodeError::Magic(magic));
        }
        let len = image.len();
        let outside = |field: &str, value: u64| AuthenticodeError::Outside { field: field.into(), value, len };
        let pe = h.dos_header.pe_pointer as usize;
        let optional = pe + 4 + 20;
        let checksum = optional + CHECKSUM_IN_OPTIONAL;
        let size_of_headers = oh.windows_fields.size_of_headers as usize;
        if size_of_headers > len {
            return Err(outside("SizeOfHeaders", size_of_headers as u64));
        }
        if size_of_headers < checksum + 4 {
            return Err(AuthenticodeError::Headers { size: size_of_headers, what: "CheckSum field", at: checksum });
        }
        let mut ranges = Vec::with_capacity(8);
        ranges.push(0..checksum);
        // The entry's place follows from the spec (goblin records offsets relative to the optional
        // header and drops all-zero entries, which edk2 still skips); its size comes from goblin.
        let entry = optional + if magic == PE32PLUS_MAGIC { 112 } else { 96 } + 8 * SECURITY_DIRECTORY;
        let certificate_size = if oh.windows_fields.number_of_rva_and_sizes as usize > SECURITY_DIRECTORY {
            if size_of_headers < entry + 8 {
                return Err(AuthenticodeError::Headers { size: size_of_headers, what: "certificate-table entry", at: entry });
            }
            ranges.push(checksum + 4..entry);
            ranges.push(entry + 8..size_of_headers);
            oh.data_directories.get_certificate_table().map_or(0, |d| d.size as usize)
        } else {
            ranges.push(checksum + 4..size_of_headers);
            0
        };
        let mut offset = optional + h.coff_header.size_of_optional_header as usize;
        let sections = h.coff_header.sections(image, &mut offset).map_err(|e| AuthenticodeError::NotPe(e.to_string()))?;
        // A stable sort, as edk2's insertion sort: sections at the same offset keep table order.
        let mut raw: Vec<(usize, usize, String)> = sections
            .iter()
            .map(|s| (s.pointer_to_raw_data as usize, s.size_of_raw_data as usize, s.name().unwrap_or("?").to_owned()))
            .collect();
        raw.sort_by_key(|s| s.0);
        let mut hashed = size_of_headers;
        for (ptr, size, name) in raw {
            if size == 0 {
                continue;
            }
            let end = ptr
                .checked_add(size)
                .filter(|&e| e <= len)
                .ok_or_else(|| outside(&format!("section {name} raw data end"), ptr as u64 + size as u64))?;
            ranges.push(ptr..end);
            hashed += size;
        }
        if len > hashed {
            match len.checked_sub(hashed + certificate_size) {
                Some(0) => {}
                Some(n) => ranges.push(hashed..hashed + n),
                None => return Err(AuthenticodeError::CertificateSize { cert: certificate_size, hashed, len }),
            }
        }
        Ok(PeLayout { ranges, certificate_size })
    }

    /// The digest of `image`, with `head` replacing its first `head.len()` bytes when given (QEMU's
    /// patched setup header), without copying the image.
    pub fn digest(&self, image: &[u8], head: Option<&[u8]>) -> Sha384Digest {
        let mut h = Sha384::new();
        let head = head.unwrap_or(&[]);
        for r in &self.ranges {
            if r.start < head.len() {
                let split = r.end.min(head.len());
                h.update(&head[r.start..split]);
                h.update(&image[split..r.end]);
            } else {
                h.update(&image[r.clone()]);
            }
        }
        h.finish()
    }
}

/// The Authenticode SHA-384 of a PE image.
pub fn sha384(image: &[u8]) -> Result<Sha384Digest, AuthenticodeError> {
    Ok(PeLayout::of(image)?.digest(image, None))
}
