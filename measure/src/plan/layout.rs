//! The 2 MiB-aligned memory layout: regions that cover what a plan populates (and what it reserves),
//! grown outward to hugepage boundaries so guest_memfd can back the firmware with whole 2 MiB folios.
//! The padding this adds is never populated.

use super::{PlanError, REGION_ALIGN, Region, RegionPurpose};

/// A guest-physical range the layout must cover, with a label naming what it holds (for messages)
/// and the purpose of the region it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub gpa: u64,
    pub len: u64,
    pub label: String,
    pub purpose: RegionPurpose,
}

impl Span {
    /// A span of guest RAM (what overlap checks use when the purpose does not matter).
    pub fn new(gpa: u64, len: u64, label: impl Into<String>) -> Self {
        Span { gpa, len, label: label.into(), purpose: RegionPurpose::Ram }
    }

    pub fn with_purpose(mut self, purpose: RegionPurpose) -> Self {
        self.purpose = purpose;
        self
    }
}

pub fn align_down(v: u64) -> u64 {
    v & !(REGION_ALIGN - 1)
}

pub fn align_up(v: u64) -> Option<u64> {
    v.checked_add(REGION_ALIGN - 1).map(align_down)
}

/// Refuses spans that overlap, naming both (the first pair in GPA order). O(n log n): sorted by start,
/// an overlap exists exactly when some span starts before the furthest end seen so far; the span that
/// reaches furthest is the one named beside it. A span whose end overflows is refused as such.
pub fn check_disjoint(spans: &[Span]) -> Result<(), PlanError> {
    let mut sorted: Vec<&Span> = spans.iter().filter(|s| s.len > 0).collect();
    sorted.sort_by_key(|s| (s.gpa, s.len));
    let end =
        |s: &Span| s.gpa.checked_add(s.len).ok_or_else(|| PlanError::AddressOverflow { label: s.label.clone(), gpa: s.gpa, len: s.len });
    let mut furthest: Option<(&Span, u64)> = None;
    for b in sorted {
        let b_end = end(b)?;
        if let Some((a, a_end)) = furthest
            && b.gpa < a_end
        {
            return Err(PlanError::Overlap {
                what: b.label.clone(),
                start: b.gpa,
                end: b_end,
                other: a.label.clone(),
                other_start: a.gpa,
                other_end: a_end,
            });
        }
        if furthest.is_none_or(|(_, e)| b_end > e) {
            furthest = Some((b, b_end));
        }
    }
    Ok(())
}

/// Regions covering `spans`: each span grown to 2 MiB boundaries, overlapping ones merged. Spans
/// that merely touch stay separate so that separate files keep separate guest_memfds; the runs
/// [`super::merge`] makes never cross a region boundary, so the two agree. A region merged from
/// several purposes takes the file-backed one and names them all.
pub fn regions(spans: &[Span]) -> Result<Vec<Region>, PlanError> {
    let mut grown: Vec<(u64, u64, Vec<RegionPurpose>)> = Vec::new();
    for s in spans.iter().filter(|s| s.len > 0) {
        let end = s.gpa.checked_add(s.len).and_then(align_up).ok_or_else(|| PlanError::AddressOverflow {
            label: s.label.clone(),
            gpa: s.gpa,
            len: s.len,
        })?;
        grown.push((align_down(s.gpa), end, vec![s.purpose]));
    }
    grown.sort_by_key(|g| g.0);
    let mut merged: Vec<(u64, u64, Vec<RegionPurpose>)> = Vec::new();
    for g in grown {
        match merged.last_mut() {
            Some(last) if g.0 < last.1 => {
                last.1 = last.1.max(g.1);
                for p in g.2 {
                    if !last.2.contains(&p) {
                        last.2.push(p);
                    }
                }
            }
            _ => merged.push(g),
        }
    }
    let mut out: Vec<Region> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (gpa, end, purposes) in merged {
        let base = purposes.iter().map(|p| p.name()).collect::<Vec<_>>().join("+");
        let n = seen.entry(base.clone()).or_insert(0);
        let name = if *n == 0 { base } else { format!("{base}@{gpa:#x}") };
        *n += 1;
        let purpose = purposes.iter().copied().find(|p| *p != RegionPurpose::Ram).unwrap_or(RegionPurpose::Ram);
        out.push(Region { name, purpose, gpa, size: end - gpa, gmem_offset: 0 });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(gpa: u64, len: u64, label: &str) -> Span {
        let purpose = if label.starts_with("firmware") { RegionPurpose::Firmware } else { RegionPurpose::Ram };
        Span::new(gpa, len, label).with_purpose(purpose)
    }

    #[test]
    fn firmware_keeps_ending_at_4g_and_grows_down() {
        let r = regions(&[span(0x1_0000_0000 - 0x37c000, 0x37c000, "firmware"), span(0x800000, 0x9000, "ram sec")]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].name.as_str(), r[0].gpa, r[0].size), ("ram", 0x800000, 0x200000));
        assert_eq!((r[1].name.as_str(), r[1].gpa, r[1].size), ("firmware", 0xffc0_0000, 0x40_0000));
        assert_eq!((r[0].purpose, r[1].purpose), (RegionPurpose::Ram, RegionPurpose::Firmware));
    }

    #[test]
    fn a_region_merged_from_ram_and_a_file_is_the_files() {
        let r = regions(&[span(0xffa0_0000, 0x1000, "ram sec"), span(0xffa0_1000, 0x1000, "firmware")]).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].name.as_str(), r[0].purpose), ("ram+firmware", RegionPurpose::Firmware));
    }

    #[test]
    fn overlapping_after_growth_merge_and_touching_do_not() {
        let r = regions(&[span(0x800000, 0x1000, "ram a"), span(0x9ff000, 0x1000, "ram b"), span(0xa00000, 0x1000, "ram c")]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].name, "ram@0xa00000");
    }

    #[test]
    fn overlaps_are_found_in_one_pass_and_overflow_is_an_error() {
        // 20,000 disjoint spans then one overlapping the first: found without comparing pairs.
        let mut v: Vec<Span> = (0..20_000u64).map(|i| span(i * 0x2000, 0x1000, "ram")).collect();
        assert!(check_disjoint(&v).is_ok());
        v.push(span(0x800, 0x10, "late"));
        let msg = check_disjoint(&v).unwrap_err().to_string();
        assert!(msg.contains("late [0x800, 0x810)"), "{msg}");
        // The first overlap in GPA order is named, whatever the input order.
        let e = check_disjoint(&[span(0x2800, 0x10, "c"), span(0, 0x3000, "a"), span(0x1000, 0x1000, "b")]).unwrap_err().to_string();
        assert!(e.contains("b [0x1000, 0x2000)") && e.contains("a [0x0, 0x3000)"), "{e}");
        let e = check_disjoint(&[span(u64::MAX - 0xfff, 0x2000, "wraps")]).unwrap_err();
        assert!(e.to_string().contains("wraps at 0xfffffffffffff000 + 0x2000 overflows"), "{e}");
    }

    #[test]
    fn overlap_names_both() {
        let e = check_disjoint(&[span(0x1000, 0x2000, "A"), span(0x2000, 0x1000, "B")]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("B [0x2000, 0x3000)") && msg.contains("A [0x1000, 0x3000)"), "{msg}");
    }
}
