//! Random but valid layouts for differential tests: every image these return is one a correct tool
//! (and the peer tools) must accept and measure.

use crate::guid::{self, Guid};
use crate::image::{ExtraEntry, FOUR_GIB, GpaRange, ImageBuilder, PAGE};
use crate::rng::Rng;
use crate::sev::{SevItem, SevKind};
use crate::tdvf::{MR_EXTEND, PAGE_AUG, TdvfSection, TdvfType};

/// The kernel hashes table is 176 bytes and must not cross its page.
pub const HASHES_TABLE_LEN: u32 = 176;

// Distinct streams, so that seed N gives unrelated SNP and TDX layouts.
const SNP_STREAM: u64 = 0x534e_5000_0000_0000;
const TDX_STREAM: u64 = 0x5444_5800_0000_0000;

/// 16 KiB .. 4 MiB in whole pages, mostly small so that thousands of images stay cheap.
fn random_size(r: &mut Rng) -> usize {
    let pages = match r.below(100) {
        0..50 => r.range(4, 64),
        50..85 => r.range(65, 512),
        _ => r.range(513, 1024),
    };
    pages as usize * PAGE
}

/// Page-aligned GPAs for `sizes`, below 64 MiB + a few MiB (far below any firmware), assigned in a random
/// order with random gaps so that file order and GPA order differ.
fn place_below_firmware(r: &mut Rng, sizes: &[u64]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    r.shuffle(&mut order);
    let mut cursor = r.range(0, 0x4000) * PAGE as u64;
    let mut gpas = vec![0; sizes.len()];
    for i in order {
        cursor += r.range(0, 3) * PAGE as u64;
        gpas[i] = cursor;
        cursor += sizes[i];
    }
    gpas
}

fn random_extras(r: &mut Rng) -> Vec<ExtraEntry> {
    let known = [
        guid::FOOTER_TABLE,
        guid::SEV_ES_RESET_BLOCK,
        guid::SEV_HASH_TABLE,
        guid::SEV_SECRET_BLOCK,
        guid::SEV_METADATA,
        guid::TDX_METADATA,
        guid::SVSM_INFO,
    ];
    let mut out = Vec::new();
    if r.chance(30) {
        for _ in 0..r.range(1, 2) {
            let mut g = [0u8; 16];
            r.fill(&mut g);
            if known.contains(&Guid(g)) || out.iter().any(|e: &ExtraEntry| e.guid == Guid(g)) {
                continue;
            }
            let mut data = vec![0u8; r.below(25)];
            r.fill(&mut data);
            out.push(ExtraEntry { guid: Guid(g), data });
        }
    }
    out
}

/// SEV-SNP parts: reset EIP, metadata (SECRETS and CPUID of one page, 0-3 SEC_MEM, maybe SVSM_CAA, maybe
/// SNP_KERNEL_HASHES with the hashes table at a 16-byte-aligned offset in its page), secret block.
fn add_snp(b: &mut ImageBuilder, r: &mut Rng) {
    b.reset_eip = Some(r.range(1, u32::MAX as u64) as u32);
    let mut kinds = vec![SevKind::SECRETS, SevKind::CPUID];
    kinds.extend((0..r.range(0, 3)).map(|_| SevKind::SEC_MEM));
    if r.chance(40) {
        kinds.push(SevKind::SVSM_CAA);
    }
    if r.chance(50) {
        kinds.push(SevKind::KERNEL_HASHES);
    }
    r.shuffle(&mut kinds);
    let sizes: Vec<u64> = kinds.iter().map(|k| if *k == SevKind::SEC_MEM { r.range(1, 16) * PAGE as u64 } else { PAGE as u64 }).collect();
    let gpas = place_below_firmware(r, &sizes);
    let items: Vec<SevItem> = kinds.iter().zip(&sizes).zip(&gpas).map(|((k, s), g)| SevItem::new(*g as u32, *s as u32, *k)).collect();

    b.hashes_table = match items.iter().find(|i| i.kind == SevKind::KERNEL_HASHES) {
        Some(page) => {
            let off = r.range(0, ((PAGE as u32 - HASHES_TABLE_LEN) / 16) as u64) as u32 * 16;
            Some(GpaRange { gpa: page.gpa + off, size: (PAGE as u32 - off).min(0x400) })
        }
        None if r.chance(50) => Some(GpaRange { gpa: 0, size: 0 }),
        None => None,
    };
    if r.chance(50) {
        b.secret_block = Some(GpaRange { gpa: 0, size: 0 });
    }
    if r.chance(25) {
        // Somewhere in the body rather than the last page: parsers must follow the offset, not guess.
        let len = 16 + 12 * items.len();
        b.sev_metadata_at = Some(r.range(0, ((b.size - PAGE - len) / 16) as u64) as usize * 16);
    }
    b.sev_metadata = Some(items);
}

/// Picks a page range `[start, end)` (in pages) inside `lo..hi`, at least one page long.
fn page_span(r: &mut Rng, lo: u64, hi: u64) -> (u64, u64) {
    let start = r.range(lo, hi - 1);
    (start, r.range(start + 1, hi))
}

/// TDVF sections valid under QEMU's rules: BFV (MR_EXTEND) and maybe CFV (sometimes MR_EXTEND) with data
/// inside the file, one TD_HOB and 0-3 TempMem with RawDataSize 0 (sometimes one PAGE_AUG), everything
/// 4 KiB aligned, in random order.
fn random_tdvf(size: usize, r: &mut Rng) -> Vec<TdvfSection> {
    let pages = (size / PAGE) as u64;
    let base = FOUR_GIB - size as u64;
    let with_cfv = r.chance(80);
    let (bfv, cfv) = if r.chance(70) {
        // OVMF.fd: CFV first, BFV up to the end of the file.
        let split = r.range(1, pages / 2);
        (((if with_cfv { split } else { r.range(0, pages - 1) }), pages), (0, split))
    } else {
        let split = r.range(1, pages - 1);
        let (lo, hi) = (page_span(r, 0, split), page_span(r, split, pages));
        if r.chance(50) { (lo, hi) } else { (hi, lo) }
    };
    let data = |kind, (s, e): (u64, u64), attrs| {
        TdvfSection::data(kind, (s * PAGE as u64) as u32, ((e - s) * PAGE as u64) as u32, base + s * PAGE as u64, attrs)
    };
    let mut sections = vec![data(TdvfType::BFV, bfv, MR_EXTEND)];
    if with_cfv {
        sections.push(data(TdvfType::CFV, cfv, if r.chance(25) { MR_EXTEND } else { 0 }));
    }
    let mut kinds = vec![TdvfType::TD_HOB];
    kinds.extend((0..r.range(0, 3)).map(|_| TdvfType::TEMP_MEM));
    let sizes: Vec<u64> = kinds.iter().map(|_| r.range(1, 16) * PAGE as u64).collect();
    let gpas = place_below_firmware(r, &sizes);
    let aug = if kinds.len() > 1 && r.chance(30) { Some(r.range(1, kinds.len() as u64 - 1) as usize) } else { None };
    for (i, k) in kinds.iter().enumerate() {
        sections.push(TdvfSection::memory(*k, gpas[i], sizes[i], if aug == Some(i) { PAGE_AUG } else { 0 }));
    }
    r.shuffle(&mut sections);
    sections
}

/// A random valid SEV-SNP layout: random size, reset EIP, SEV metadata and footer entries; half of
/// them also carry TDVF metadata, some carry unknown footer entries.
pub fn random_snp_layout(seed: u64) -> ImageBuilder {
    let mut r = Rng::new(seed ^ SNP_STREAM);
    let size = random_size(&mut r);
    let mut b = ImageBuilder::new(size).seed(r.next_u64());
    add_snp(&mut b, &mut r);
    if r.chance(50) {
        b.tdvf = Some(random_tdvf(size, &mut r));
    }
    b.extra_entries = random_extras(&mut r);
    b
}

/// A random TDVF layout valid under QEMU's rules; some also carry SEV parts, td-shim's legacy pointer,
/// or unknown footer entries.
pub fn random_tdx_layout(seed: u64) -> ImageBuilder {
    let mut r = Rng::new(seed ^ TDX_STREAM);
    let size = random_size(&mut r);
    let mut b = ImageBuilder::new(size).seed(r.next_u64());
    b.tdvf = Some(random_tdvf(size, &mut r));
    if r.chance(30) {
        add_snp(&mut b, &mut r);
    }
    b.tdvf_legacy_pointer = r.chance(15);
    b.extra_entries = random_extras(&mut r);
    b
}
