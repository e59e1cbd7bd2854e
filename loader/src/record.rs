//! The per-page record of what a platform measured, the plan's expectation of it, and the first
//! place they differ: how a digest mismatch is located to one page.

use std::fmt;

use prelaunch_measure::hash::{Sha384, Sha384Digest};
use prelaunch_measure::plan::{CheckedPlan, OpKind, PAGE_SIZE};
use serde::{Serialize, Serializer};

fn hex_opt<S: Serializer>(v: &Option<Sha384Digest>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_str(&hex::encode(d)),
        None => s.serialize_none(),
    }
}

/// One measured step: a 4 KiB page (or the tail of a SEV run), or a VMSA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageRecord {
    pub gpa: u64,
    pub len: u32,
    pub kind: OpKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    /// SHA-384 of the bytes measured, for kinds whose contents enter the digest.
    #[serde(serialize_with = "hex_opt")]
    pub contents: Option<Sha384Digest>,
}

impl PageRecord {
    /// A record of `bytes` as `kind` measures them.
    pub fn of(gpa: u64, kind: OpKind, vcpu: Option<u32>, bytes: &[u8]) -> Self {
        let contents = kind.measures_contents().then(|| Sha384::digest(bytes));
        PageRecord { gpa, len: bytes.len() as u32, kind, vcpu, contents }
    }
}

impl fmt::Display for PageRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.vcpu {
            Some(v) => write!(f, "{} page of vCPU {v}", self.kind.name())?,
            None => write!(f, "{} page at GPA {:#x}", self.kind.name(), self.gpa)?,
        }
        if self.len as u64 != PAGE_SIZE {
            write!(f, " ({} bytes)", self.len)?;
        }
        match &self.contents {
            Some(d) => write!(f, " with SHA-384 {}…", &hex::encode(d)[..16]),
            None => write!(f, " (contents not measured)"),
        }
    }
}

/// What the plan says the platform should measure, step by step, from the input bytes. Used only
/// to locate a mismatch; the digest itself is never derived from it.
pub fn expected(plan: &CheckedPlan<'_>) -> Vec<PageRecord> {
    let zero = [0u8; PAGE_SIZE as usize];
    let mut out = Vec::new();
    for op in &plan.operations {
        let src = plan.source_bytes(op);
        if op.is_vmsa() {
            out.push(PageRecord::of(op.gpa, op.kind, op.vcpu, src.unwrap_or(&zero)));
            continue;
        }
        let mut at = 0;
        while at < op.len {
            let n = (op.len - at).min(PAGE_SIZE);
            let bytes = src.and_then(|s| s.get(at as usize..(at + n) as usize)).unwrap_or(&zero[..n as usize]);
            out.push(PageRecord::of(op.gpa + at, op.kind, None, bytes));
            at += n;
        }
    }
    out
}

/// The first step where a platform's record and the plan's expectation differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub index: usize,
    pub expected: Option<PageRecord>,
    pub found: Option<PageRecord>,
}

impl Difference {
    /// The GPA of the page that differs.
    pub fn gpa(&self) -> u64 {
        self.found.as_ref().or(self.expected.as_ref()).map_or(0, |r| r.gpa)
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.expected, &self.found) {
            (Some(e), Some(g)) if e.gpa == g.gpa && e.kind == g.kind => {
                write!(f, "step {}: {e}, but the platform measured SHA-384 ", self.index)?;
                match &g.contents {
                    Some(d) => write!(f, "{}…", &hex::encode(d)[..16]),
                    None => write!(f, "nothing"),
                }
            }
            (Some(e), Some(g)) => write!(f, "step {}: expected {e}; the platform measured {g}", self.index),
            (Some(e), None) => write!(f, "step {}: expected {e}; the platform measured nothing more", self.index),
            (None, Some(g)) => write!(f, "step {}: the platform measured {g}, which the plan does not hold", self.index),
            (None, None) => write!(f, "no difference"),
        }
    }
}

/// The first difference between `record` and the plan's expectation, if any.
pub fn first_difference(plan: &CheckedPlan<'_>, record: &[PageRecord]) -> Option<Difference> {
    let want = expected(plan);
    let n = want.len().max(record.len());
    (0..n).find(|&i| want.get(i) != record.get(i)).map(|i| Difference {
        index: i,
        expected: want.get(i).cloned(),
        found: record.get(i).cloned(),
    })
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::hash::Sha256;
    use prelaunch_measure::plan::{InputKind, Inputs, LaunchPlan, Operation, Source};

    use super::*;

    fn plan_with(ops: Vec<Operation>, fw: &[u8]) -> CheckedPlan<'_> {
        let mut p: LaunchPlan = serde_json::from_value(serde_json::json!({
            "version": 2, "mode": "snp", "inputs": [{"kind": "firmware", "size": 8192, "sha256": hex::encode(Sha256::digest(fw))}],
            "regions": [{"name": "firmware", "purpose": "firmware", "gpa": 0xffe00000u64, "size": 0x200000, "gmem_offset": 0}],
            "operations": [],
            "snp": {"vmm": "QEMU", "vcpus": 0, "vcpu_sig": 0, "guest_features": 1, "policy": 0x30000}
        }))
        .unwrap();
        p.operations = ops;
        CheckedPlan::new(p, Inputs::new().with(InputKind::Firmware, fw)).unwrap()
    }

    #[test]
    fn locates_the_page_whose_bytes_differ() {
        let fw: Vec<u8> = (0..8192u32).map(|i| i as u8).collect();
        let plan = plan_with(
            vec![
                Operation::new(0xffff_e000, 0x2000, OpKind::Normal, Source::File { file: InputKind::Firmware, offset: 0 }),
                Operation::new(0xffe0_0000, 0x1000, OpKind::Zero, Source::None),
            ],
            &fw,
        );
        let mut rec = expected(&plan);
        assert_eq!(rec.len(), 3);
        assert_eq!(rec[2].contents, None, "ZERO pages are not measured");
        assert!(first_difference(&plan, &rec).is_none());
        let mut changed = fw.clone();
        changed[0x1234] ^= 1;
        rec[1] = PageRecord::of(0xffff_f000, OpKind::Normal, None, &changed[0x1000..0x2000]);
        let d = first_difference(&plan, &rec).unwrap();
        assert_eq!((d.index, d.gpa()), (1, 0xffff_f000));
        assert!(d.to_string().contains("normal page at GPA 0xfffff000"), "{d}");
        rec.pop();
        let d = first_difference(&plan, &rec[..1]).unwrap();
        assert_eq!(d.index, 1);
        assert!(d.to_string().contains("measured nothing more"), "{d}");
    }
}
