//! Merging consecutive operations into runs: one populate call per run.

use super::{Operation, Source};

/// Whether `b` continues `a`: same kind, contiguous GPAs and contiguous bytes of the same source.
pub fn continues(a: &Operation, b: &Operation) -> bool {
    if a.kind != b.kind || a.is_vmsa() || a.end() != b.gpa {
        return false;
    }
    match (&a.source, &b.source) {
        (Source::None, Source::None) => true,
        (Source::File { file: fa, offset: oa }, Source::File { file: fb, offset: ob }) => fa == fb && oa + a.len == *ob,
        _ => false,
    }
}

/// Merges runs in place.
pub fn merge(ops: Vec<Operation>) -> Vec<Operation> {
    let mut out: Vec<Operation> = Vec::with_capacity(ops.len());
    for op in ops {
        match out.last_mut() {
            Some(last) if continues(last, &op) => last.len += op.len,
            _ => out.push(op),
        }
    }
    out
}

/// Splits every run into 4 KiB operations (what a populate loop does page by page).
pub fn split_pages(ops: &[Operation]) -> Vec<Operation> {
    let mut out = Vec::new();
    for op in ops {
        if op.is_vmsa() || op.len <= 4096 || op.len % 4096 != 0 {
            out.push(op.clone());
            continue;
        }
        for i in 0..op.len / 4096 {
            let mut p = op.clone();
            p.gpa += i * 4096;
            p.len = 4096;
            if let Source::File { offset, .. } = &mut p.source {
                *offset += i * 4096;
            }
            out.push(p);
        }
    }
    out
}
