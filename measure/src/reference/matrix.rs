//! The matrix of launch shapes: one walk per group (everything but the vCPU count and the memory
//! size), the firmware pages hashed once for all groups.
//!
//! The firmware prefix of every SNP plan is the same populate run over the same bytes, so its digest
//! is computed by the first walk and every later walk resumes the PAGE_INFO chain after it. Each walk
//! then appends the metadata pages and one VMSA per vCPU, and yields the digest for every vCPU count
//! on the way ([`crate::digest::fold_observed`] observes the chain after each VMSA).

use std::collections::BTreeMap;

use super::model::{Entry, Platform, Shape, Values};
use crate::digest::{self, Measurement};
use crate::plan::{CheckedPlan, Mode, Operation, PlanError};
use crate::snp::digest::{Resume, firmware_prefix};

/// One walk: the shape of its entries without the vCPU count, and the SHA-256 of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub shape: Shape,
    pub inputs: BTreeMap<String, String>,
}

/// Builds the checked plan of a group for a vCPU count: any image format's plan builder (OVMF,
/// IGVM, ...), holding the input bytes the plans read.
pub trait PlanBuilder: Sync {
    fn build(&self, group: &Group, vcpus: u32) -> Result<CheckedPlan<'_>, MatrixError>;
}

/// Why a matrix could not be computed; names the group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    #[error("no vCPU count given")]
    NoCounts,
    #[error("vCPU count 0: every SNP launch has at least one VMSA")]
    ZeroVcpus,
    #[error("{shape}: {source}")]
    Plan { shape: String, source: PlanError },
    #[error("{shape}: the plan is a {mode} plan, expected {expected}")]
    WrongMode { shape: String, mode: &'static str, expected: &'static str },
    #[error("{shape}: the plan holds no VMSA for {count} vCPUs")]
    NoVmsa { shape: String, count: u32 },
    #[error("{shape}: {msg}")]
    Shape { shape: String, msg: String },
}

/// Computes RTMR0-2 for a complete TDX shape (the `rtmr` module's job; `None` until it exists).
pub type RtmrFn<'a> = dyn Fn(&Shape) -> Result<[[u8; 48]; 3], PlanError> + 'a;

/// Progress: called with (entries done, entries in total) after each walk.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// The SNP entries of every group x every count in `counts`, in group order then count order.
pub fn snp(groups: &[Group], counts: &[u32], builder: &dyn PlanBuilder, progress: Progress<'_>) -> Result<Vec<Entry>, MatrixError> {
    if counts.is_empty() {
        return Err(MatrixError::NoCounts);
    }
    if counts.contains(&0) {
        return Err(MatrixError::ZeroVcpus);
    }
    let max = counts.iter().copied().max().unwrap_or(1);
    let total = groups.len() * counts.len();
    let mut entries = Vec::with_capacity(total);
    // The firmware prefix as the first walk found it: its operations and the digest after them.
    let mut prefix: Option<(Vec<Operation>, Resume)> = None;
    for group in groups {
        let err = |source| MatrixError::Plan { shape: group.shape.describe(), source };
        let plan = builder.build(group, max)?;
        if plan.mode != Mode::Snp {
            return Err(MatrixError::WrongMode { shape: group.shape.describe(), mode: plan.mode.name(), expected: "snp" });
        }
        let n = firmware_prefix(&plan);
        let resume = prefix.as_ref().and_then(|(ops, r)| (n > 0 && plan.operations.get(..n) == Some(&ops[..])).then_some(*r));
        let mut by_count: BTreeMap<u32, Measurement> = BTreeMap::new();
        let mut after_prefix = None;
        let ops = &plan.operations;
        digest::fold_observed(
            &plan,
            resume,
            Some(&mut |i, m: &Measurement| {
                if i + 1 == n {
                    after_prefix = Some(*m);
                }
                if let Some(v) = ops[i].vcpu {
                    by_count.insert(v + 1, *m);
                }
            }),
        )
        .map_err(err)?;
        if prefix.is_none()
            && let Some(Measurement::Sha384(ld)) = after_prefix
        {
            prefix = Some((plan.operations[..n].to_vec(), Resume { ld, after_ops: n }));
        }
        for &c in counts {
            let m = by_count.get(&c).ok_or_else(|| MatrixError::NoVmsa { shape: group.shape.describe(), count: c })?;
            let mut shape = group.shape.clone();
            shape.vcpus = Some(c);
            entries.push(Entry {
                platform: Platform::Snp,
                shape,
                values: Values { measurement: Some(sha384(m, &group.shape)?), ..Values::default() },
                inputs: group.inputs.clone(),
            });
        }
        progress(entries.len(), total);
    }
    Ok(entries)
}

/// The TDX entries of every group x every memory size x every vCPU count. MRTD covers the firmware
/// sections only, so each group is folded once; the RTMRs, where `rtmrs` computes them, depend on
/// the whole shape.
pub fn tdx(
    groups: &[Group],
    memories: &[Option<u64>],
    counts: &[Option<u32>],
    builder: &dyn PlanBuilder,
    rtmrs: Option<&RtmrFn<'_>>,
    progress: Progress<'_>,
) -> Result<Vec<Entry>, MatrixError> {
    let memories = if memories.is_empty() { &[None][..] } else { memories };
    let counts = if counts.is_empty() { &[None][..] } else { counts };
    let total = groups.len() * memories.len() * counts.len();
    let mut entries = Vec::with_capacity(total);
    for group in groups {
        let plan = builder.build(group, counts.iter().flatten().copied().max().unwrap_or(1))?;
        if plan.mode != Mode::Tdx {
            return Err(MatrixError::WrongMode { shape: group.shape.describe(), mode: plan.mode.name(), expected: "tdx" });
        }
        let mrtd = sha384(&digest::fold(&plan), &group.shape)?;
        for &memory in memories {
            for &vcpus in counts {
                let mut shape = group.shape.clone();
                shape.memory = memory.or(shape.memory);
                shape.vcpus = vcpus.or(shape.vcpus);
                let mut values = Values { mrtd: Some(mrtd), ..Values::default() };
                if let Some(f) = rtmrs {
                    let [r0, r1, r2] = f(&shape).map_err(|source| MatrixError::Plan { shape: shape.describe(), source })?;
                    (values.rtmr0, values.rtmr1, values.rtmr2) = (Some(r0), Some(r1), Some(r2));
                }
                entries.push(Entry { platform: Platform::Tdx, shape, values, inputs: group.inputs.clone() });
            }
        }
        progress(entries.len(), total);
    }
    Ok(entries)
}

/// SNP and TDX folds yield SHA-384; the mode checks above keep SEV's SHA-256 out.
fn sha384(m: &Measurement, shape: &Shape) -> Result<[u8; 48], MatrixError> {
    match m {
        Measurement::Sha384(d) => Ok(*d),
        Measurement::Sha256(_) => {
            Err(MatrixError::Shape { shape: shape.describe(), msg: "a SHA-256 measurement where SHA-384 was expected".into() })
        }
    }
}
