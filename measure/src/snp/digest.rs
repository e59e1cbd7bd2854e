//! Folding a plan into the SNP launch digest. Page contents are hashed in parallel; only the PAGE_INFO
//! chain, which is inherently serial, runs on one core. Each distinct generated page (VMSA, kernel
//! hashes page) is hashed once however many vCPUs use it.

use std::collections::HashMap;

use rayon::prelude::*;

use super::{Gctx, PageType};
use crate::hash::{Sha384, Sha384Digest};
use crate::plan::{Inputs, LaunchPlan, Mode, PAGE, PlanError, Source};

/// Pages per parallel task: a multiple of every SIMD lane count, large enough to amortise the task.
const PAGES_PER_TASK: usize = 64;

/// Starts the fold after the first `after_ops` operations with a known digest (sev-snp-measure's
/// `--snp-ovmf-hash`: the firmware pages' digest computed elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub ld: Sha384Digest,
    pub after_ops: usize,
}

/// Where the contents digest of each measured page comes from.
enum Contents {
    /// Index of the operation's first page in the work list; pages follow consecutively.
    Pages(usize),
    /// Index of a shared generated page.
    Shared(usize),
    Unmeasured,
}

/// The launch digest, calling `observe(op_index, ld)` after each operation.
pub fn fold(
    plan: &LaunchPlan,
    inputs: &Inputs<'_>,
    resume: Option<Resume>,
    mut observe: impl FnMut(usize, &Sha384Digest),
) -> Result<Sha384Digest, PlanError> {
    if plan.mode != Mode::Snp {
        return Err(PlanError::Invalid(format!("the SNP launch digest needs an snp plan, not {}", plan.mode.name())));
    }
    let start = resume.map_or(0, |r| r.after_ops);
    let ops = plan.operations.get(start..).unwrap_or(&[]);

    let mut work: Vec<&[u8]> = Vec::new();
    let mut shared: HashMap<&str, usize> = HashMap::new();
    let mut contents = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let t =
            op.kind.page_type().ok_or_else(|| PlanError::Invalid(format!("operation {}: {} in an snp plan", start + i, op.kind.name())))?;
        if op.len % PAGE != 0 {
            return Err(PlanError::Invalid(format!("operation {}: length {:#x} is not a whole number of pages", start + i, op.len)));
        }
        if !t.measures_contents() {
            contents.push(Contents::Unmeasured);
            continue;
        }
        let bytes = plan
            .source_bytes(op, inputs)
            .ok_or_else(|| PlanError::Invalid(format!("operation {}: its source bytes are missing", start + i)))?;
        match &op.source {
            Source::Page { page } if op.len == PAGE => {
                let idx = *shared.entry(page.as_str()).or_insert_with(|| {
                    work.push(bytes);
                    work.len() - 1
                });
                contents.push(Contents::Shared(idx));
            }
            _ => {
                contents.push(Contents::Pages(work.len()));
                work.extend(bytes.chunks(PAGE as usize));
            }
        }
    }
    // Pages are independent and equal-sized: each core hashes its share several pages at a time in
    // SIMD lanes (prelaunch-mbhash); only the chain below is serial.
    let mut digests: Vec<Sha384Digest> = vec![[0; 48]; work.len()];
    digests.par_chunks_mut(PAGES_PER_TASK).zip(work.par_chunks(PAGES_PER_TASK)).for_each(|(out, pages)| {
        prelaunch_mbhash::sha384_many(pages, out, Sha384::digest);
    });

    let mut gctx = resume.map_or_else(Gctx::new, |r| Gctx::resume(r.ld));
    for (i, (op, c)) in ops.iter().zip(&contents).enumerate() {
        let t = op.kind.page_type().unwrap_or(PageType::Normal);
        let pages = op.len / PAGE;
        for p in 0..pages {
            let gpa = if t == PageType::Vmsa { op.gpa } else { op.gpa + p * PAGE };
            match c {
                Contents::Pages(first) => gctx.update(t, gpa, &digests[first + p as usize]),
                Contents::Shared(idx) => gctx.update(t, gpa, &digests[*idx]),
                Contents::Unmeasured => gctx.update_unmeasured(t, gpa),
            }
        }
        observe(start + i, &gctx.ld());
    }
    Ok(gctx.ld())
}

/// The launch digest.
pub fn launch_digest(plan: &LaunchPlan, inputs: &Inputs<'_>) -> Result<Sha384Digest, PlanError> {
    fold(plan, inputs, None, |_, _| {})
}

/// Number of leading operations that read the firmware file: the prefix `--snp-ovmf-hash` replaces.
pub fn firmware_prefix(plan: &LaunchPlan) -> usize {
    plan.operations.iter().take_while(|o| matches!(&o.source, Source::File { file, .. } if file == "firmware")).count()
}
