//! The 2 MiB-aligned memory layout: regions that cover what a plan populates (and what it reserves),
//! grown outward to hugepage boundaries so guest_memfd can back the firmware with whole 2 MiB folios.
//! The padding this adds is never populated.

use super::{PlanError, REGION_ALIGN, Region};

/// A guest-physical range the layout must cover, with a label naming what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub gpa: u64,
    pub len: u64,
    pub label: String,
}

pub fn align_down(v: u64) -> u64 {
    v & !(REGION_ALIGN - 1)
}

pub fn align_up(v: u64) -> Option<u64> {
    v.checked_add(REGION_ALIGN - 1).map(align_down)
}

/// Refuses spans that overlap, naming both.
pub fn check_disjoint(spans: &[Span]) -> Result<(), PlanError> {
    let mut sorted: Vec<&Span> = spans.iter().filter(|s| s.len > 0).collect();
    sorted.sort_by_key(|s| (s.gpa, s.len));
    for w in sorted.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.gpa < a.gpa + a.len {
            return Err(PlanError::Overlap {
                what: b.label.clone(),
                start: b.gpa,
                end: b.gpa + b.len,
                other: a.label.clone(),
                other_start: a.gpa,
                other_end: a.gpa + a.len,
            });
        }
    }
    Ok(())
}

/// Regions covering `spans`: each span grown to 2 MiB boundaries, overlapping ones merged. Spans
/// that merely touch stay separate so that separate files keep separate guest_memfds.
pub fn regions(spans: &[Span]) -> Result<Vec<Region>, PlanError> {
    let mut grown: Vec<(u64, u64, Vec<String>)> = Vec::new();
    for s in spans.iter().filter(|s| s.len > 0) {
        let end = s.gpa.checked_add(s.len).and_then(align_up).ok_or_else(|| {
            PlanError::Invalid(format!("{} at {:#x} + {:#x} overflows the guest-physical address space", s.label, s.gpa, s.len))
        })?;
        grown.push((align_down(s.gpa), end, vec![area(&s.label).to_owned()]));
    }
    grown.sort_by_key(|g| g.0);
    let mut merged: Vec<(u64, u64, Vec<String>)> = Vec::new();
    for g in grown {
        match merged.last_mut() {
            Some(last) if g.0 < last.1 => {
                last.1 = last.1.max(g.1);
                for l in g.2 {
                    if !last.2.contains(&l) {
                        last.2.push(l);
                    }
                }
            }
            _ => merged.push(g),
        }
    }
    let mut out: Vec<Region> = Vec::new();
    for (gpa, end, labels) in merged {
        let base = labels.join("+");
        let n = out.iter().filter(|r| r.name == base || r.name.starts_with(&format!("{base}@"))).count();
        let name = if n == 0 { base } else { format!("{base}@{gpa:#x}") };
        out.push(Region { name, gpa, size: end - gpa, gmem_offset: 0 });
    }
    Ok(out)
}

/// The coarse area a span label belongs to: the file it comes from, or guest RAM.
fn area(label: &str) -> &str {
    match label.split_whitespace().next() {
        Some("firmware") => "firmware",
        Some("svsm") => "svsm",
        _ => "ram",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(gpa: u64, len: u64, label: &str) -> Span {
        Span { gpa, len, label: label.into() }
    }

    #[test]
    fn firmware_keeps_ending_at_4g_and_grows_down() {
        let r = regions(&[span(0x1_0000_0000 - 0x37c000, 0x37c000, "firmware"), span(0x800000, 0x9000, "ram sec")]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].name.as_str(), r[0].gpa, r[0].size), ("ram", 0x800000, 0x200000));
        assert_eq!((r[1].name.as_str(), r[1].gpa, r[1].size), ("firmware", 0xffc0_0000, 0x40_0000));
    }

    #[test]
    fn overlapping_after_growth_merge_and_touching_do_not() {
        let r = regions(&[span(0x800000, 0x1000, "ram a"), span(0x9ff000, 0x1000, "ram b"), span(0xa00000, 0x1000, "ram c")]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].name, "ram@0xa00000");
    }

    #[test]
    fn overlap_names_both() {
        let e = check_disjoint(&[span(0x1000, 0x2000, "A"), span(0x2000, 0x1000, "B")]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("B [0x2000, 0x3000)") && msg.contains("A [0x1000, 0x3000)"), "{msg}");
    }
}
