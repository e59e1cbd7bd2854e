//! Worst-case shapes: well-formed images whose structure counts an attacker controls, built to make
//! a careless parser or checker quadratic (one message per overlapping pair), make it allocate per
//! section, or generate memory per section. Tests run every command on them under a time and memory
//! limit; `gen-image --stress NAME --count N` writes them.
//!
//! Every shape keeps the structures a parser reads first valid (footer table, signatures, lengths),
//! so that a parser gets past them to the expensive part.

use crate::image::{ImageBuilder, PAGE};
use crate::sev::{self, SevItem, SevKind};
use crate::tdvf::{self, MR_EXTEND, TdvfSection, TdvfType};

/// The shapes, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stress {
    /// `count` SEV metadata SEC_MEM items all on the same page, plus SECRETS and CPUID: every pair
    /// overlaps (4,000 items is 48 KB of metadata and 8 million pairs).
    SevOverlap,
    /// `count` disjoint one-page SEC_MEM items, each in its own 2 MiB region where the GPA space
    /// allows: as many plan operations and regions as the metadata can declare.
    SevDisjoint,
    /// `count` TempMem TDVF sections on the same page besides BFV and CFV: every pair overlaps.
    TdvfOverlap,
    /// `count` disjoint one-page TempMem sections 2 MiB apart: one region and one operation each.
    TdvfDisjoint,
    /// No footer table: the descriptor found only through td-shim's legacy pointer at end-0x20,
    /// with `count` overlapping sections (the shape that made a 64 MiB image run past 30 s).
    TdvfLegacy,
    /// `count` sections (not MR_EXTEND) of one data page followed by 64 MiB of zeros, at disjoint
    /// GPAs: a plan that generates each section's memory image allocates 64 MiB per section.
    TdvfZeros,
    /// `count` disjoint SEC_MEM items sharing `total` bytes (default 3.5 GiB) below the firmware:
    /// as many zero pages as a plan may hold (900,000 serial PAGE_INFO updates).
    SevLarge,
    /// `count` disjoint memory-only TempMem sections sharing `total` bytes (default 3.5 GiB) above
    /// 4 GiB (900,000 TDH.MEM.PAGE.ADDs).
    TdvfLarge,
}

impl Stress {
    pub const ALL: [Stress; 8] = [
        Stress::SevOverlap,
        Stress::SevDisjoint,
        Stress::TdvfOverlap,
        Stress::TdvfDisjoint,
        Stress::TdvfLegacy,
        Stress::TdvfZeros,
        Stress::SevLarge,
        Stress::TdvfLarge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stress::SevOverlap => "sev-overlap",
            Stress::SevDisjoint => "sev-disjoint",
            Stress::TdvfOverlap => "tdvf-overlap",
            Stress::TdvfDisjoint => "tdvf-disjoint",
            Stress::TdvfLegacy => "tdvf-legacy",
            Stress::TdvfZeros => "tdvf-zeros",
            Stress::SevLarge => "sev-large",
            Stress::TdvfLarge => "tdvf-large",
        }
    }

    pub fn from_name(s: &str) -> Option<Stress> {
        Stress::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The most items of this shape that fit an image of `size` bytes (the metadata block must fit
    /// between the first page and the footer).
    pub fn max_count(self, size: usize) -> usize {
        let room = size.saturating_sub(2 * PAGE);
        match self {
            Stress::SevOverlap | Stress::SevDisjoint | Stress::SevLarge => {
                (room.saturating_sub(sev::HEADER_LEN) / sev::ITEM_LEN).saturating_sub(2)
            }
            _ => (room.saturating_sub(16 + tdvf::DESCRIPTOR_LEN) / tdvf::SECTION_LEN).saturating_sub(2),
        }
    }

    /// The builder for `count` items in an image of `size` bytes (a multiple of 4 KiB, at least
    /// 16 KiB). The metadata block is pinned at file offset 4 KiB so that it can be as large as the
    /// image allows; `count` is clamped to [`Stress::max_count`].
    pub fn builder(self, size: usize, count: usize) -> ImageBuilder {
        self.builder_total(size, count, Self::DEFAULT_TOTAL)
    }

    /// What `sev-large` and `tdvf-large` share by default: 3.5 GiB.
    pub const DEFAULT_TOTAL: u64 = 0xe000_0000;

    /// As [`Stress::builder`], with the bytes `sev-large` and `tdvf-large` share among their items.
    pub fn builder_total(self, size: usize, count: usize, total: u64) -> ImageBuilder {
        let count = count.min(self.max_count(size));
        // Each large item's size, and a stride that leaves 2 MiB between items so that neither
        // regions nor merged runs join them.
        let each = ((total / count.max(1) as u64) & !0xfff).max(0x1000);
        let stride = (each + 0x20_0000 + 0x1f_ffff) & !0x1f_ffff;
        let base = crate::FOUR_GIB - size as u64;
        // The CFV is the first page; the BFV (MR_EXTEND) the rest of the file, so that TDX folds
        // measure every byte of it, as for real firmware.
        let fv = || {
            vec![
                TdvfSection::data(TdvfType::BFV, PAGE as u32, (size - PAGE) as u32, base + PAGE as u64, MR_EXTEND),
                TdvfSection::data(TdvfType::CFV, 0, PAGE as u32, base, 0),
            ]
        };
        let mut b = ImageBuilder::new(size);
        match self {
            Stress::SevOverlap | Stress::SevDisjoint | Stress::SevLarge => {
                b.reset_eip = Some(0x80b004);
                let mut items = vec![SevItem::new(0x80d000, 0x1000, SevKind::SECRETS), SevItem::new(0x80e000, 0x1000, SevKind::CPUID)];
                items.extend((0..count).map(|i| match self {
                    Stress::SevOverlap => SevItem::new(0x800000, 0x1000, SevKind::SEC_MEM),
                    Stress::SevLarge => {
                        let gpa = (0x100_0000 + i as u64 * stride).min(0xf000_0000u64.saturating_sub(stride));
                        SevItem::new(gpa as u32, each.min(u32::MAX as u64 & !0xfff) as u32, SevKind::SEC_MEM)
                    }
                    // One page per 2 MiB window below the firmware, then the next page of each
                    // window (disjoint up to 256 pages a window, about half a million items).
                    _ => {
                        let windows = (0x1_0000_0000u64 - 0x100_0000 - size as u64) / 0x20_0000;
                        let (w, p) = (i as u64 % windows, (i as u64 / windows) % 256);
                        SevItem::new((0x100_0000 + w * 0x20_0000 + p * 0x2000) as u32, 0x1000, SevKind::SEC_MEM)
                    }
                }));
                b.sev_metadata = Some(items);
                b.sev_metadata_at = Some(PAGE);
            }
            Stress::TdvfOverlap | Stress::TdvfDisjoint | Stress::TdvfLegacy | Stress::TdvfZeros | Stress::TdvfLarge => {
                let mut s = fv();
                s.push(TdvfSection::memory(TdvfType::TD_HOB, 0x809000, 0x2000, 0));
                s.extend((0..count as u64).map(|i| match self {
                    Stress::TdvfDisjoint => TdvfSection::memory(TdvfType::TEMP_MEM, 0x1_0000_0000 + i * 0x20_0000, 0x1000, 0),
                    Stress::TdvfLarge => TdvfSection::memory(TdvfType::TEMP_MEM, 0x1_0000_0000 + i * stride, each, 0),
                    Stress::TdvfZeros => TdvfSection {
                        data_offset: PAGE as u32,
                        raw_size: PAGE as u32,
                        gpa: 0x1_0000_0000 + i * (64 << 20),
                        mem_size: 64 << 20,
                        kind: TdvfType::BFV,
                        attributes: 0,
                    },
                    _ => TdvfSection::memory(TdvfType::TEMP_MEM, 0x800000, 0x1000, 0),
                }));
                b.tdvf = Some(s);
                b.tdvf_at = Some(PAGE + 16);
                if self == Stress::TdvfLegacy {
                    b.footer = false;
                    b.tdvf_legacy_pointer = true;
                }
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_builds_at_its_largest() {
        for k in Stress::ALL {
            for size in [16 * 1024, 2 << 20] {
                let n = k.max_count(size);
                let b = k.builder(size, usize::MAX).built();
                assert_eq!(b.len(), size, "{}", k.name());
                let declared = b.spec.sev_metadata.as_ref().map_or(0, Vec::len) + b.spec.tdvf.as_ref().map_or(0, Vec::len);
                assert!(declared >= n, "{} at {size}: {declared} < {n}", k.name());
            }
            assert_eq!(Stress::from_name(k.name()), Some(k));
        }
    }

    #[test]
    fn the_issue_shape_is_48_kb_of_metadata() {
        let b = Stress::SevOverlap.builder(2 << 20, 4000).built();
        assert_eq!(b.sev_metadata_len(), Some(16 + 12 * 4002));
    }
}
