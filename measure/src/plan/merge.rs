//! Merging consecutive operations into runs: one populate call per run.

use std::collections::HashSet;

use super::{OpKind, Operation, PAGE_SIZE, Region, Source};

/// Whether `b` continues `a`: same kind, contiguous GPAs and contiguous bytes of the same source.
/// VMSA, SECRETS and CPUID pages are never merged: the firmware takes them one page per call.
pub fn continues(a: &Operation, b: &Operation) -> bool {
    if a.kind != b.kind || matches!(a.kind, OpKind::Vmsa | OpKind::Secrets | OpKind::Cpuid) || a.end() != b.gpa {
        return false;
    }
    match (&a.source, &b.source) {
        (Source::None, Source::None) => true,
        (Source::File { file: fa, offset: oa }, Source::File { file: fb, offset: ob }) => fa == fb && oa + a.len == *ob,
        _ => false,
    }
}

/// Merges runs, never across the end of one of `regions` (each region is its own memslot and
/// guest_memfd, so a run crossing one would lie inside none).
pub fn merge(ops: Vec<Operation>, regions: &[Region]) -> Vec<Operation> {
    let ends: HashSet<u64> = regions.iter().map(Region::end).collect();
    let mut out: Vec<Operation> = Vec::with_capacity(ops.len());
    for op in ops {
        match out.last_mut() {
            Some(last) if continues(last, &op) && !ends.contains(&last.end()) => last.len += op.len,
            _ => out.push(op),
        }
    }
    out
}

/// Splits every run into 4 KiB operations (what a populate loop does page by page).
pub fn split_pages(ops: &[Operation]) -> Vec<Operation> {
    let mut out = Vec::new();
    for op in ops {
        if op.is_vmsa() || op.len <= PAGE_SIZE || !op.len.is_multiple_of(PAGE_SIZE) {
            out.push(op.clone());
            continue;
        }
        for i in 0..op.len / PAGE_SIZE {
            let mut p = op.clone();
            p.gpa += i * PAGE_SIZE;
            p.len = PAGE_SIZE;
            if let Source::File { offset, .. } = &mut p.source {
                *offset += i * PAGE_SIZE;
            }
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::RegionPurpose;

    fn zero(gpa: u64, len: u64) -> Operation {
        Operation::new(gpa, len, OpKind::Zero, Source::None)
    }

    fn region(gpa: u64, size: u64) -> Region {
        Region { name: format!("ram@{gpa:#x}"), purpose: RegionPurpose::Ram, gpa, size, gmem_offset: 0 }
    }

    #[test]
    fn runs_stop_at_region_boundaries() {
        let regions = [region(0x60_0000, 0x20_0000), region(0x80_0000, 0x20_0000)];
        let merged = merge(vec![zero(0x7f_f000, 0x1000), zero(0x80_0000, 0x1000), zero(0x80_1000, 0x1000)], &regions);
        assert_eq!(merged.iter().map(|o| (o.gpa, o.len)).collect::<Vec<_>>(), [(0x7f_f000, 0x1000), (0x80_0000, 0x2000)]);
    }

    #[test]
    fn single_page_kinds_stay_single() {
        let regions = [region(0x80_0000, 0x20_0000)];
        for kind in [OpKind::Secrets, OpKind::Cpuid] {
            let ops = vec![Operation::new(0x80_0000, 0x1000, kind, Source::None), Operation::new(0x80_1000, 0x1000, kind, Source::None)];
            assert_eq!(merge(ops, &regions).len(), 2, "{kind:?}");
        }
    }
}
