//! One entry point for every platform's digest: a fold over a launch plan.

use std::fmt;

use crate::hash::{Sha256Digest, Sha384Digest};
use crate::plan::{CheckedPlan, LaunchProblem, Mode, PlanError};
use crate::snp::digest::Resume;

/// A launch measurement: SHA-384 for SNP and TDX, SHA-256 for SEV and SEV-ES.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measurement {
    Sha384(Sha384Digest),
    Sha256(Sha256Digest),
}

impl Measurement {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Measurement::Sha384(d) => d,
            Measurement::Sha256(d) => d,
        }
    }

    pub fn hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    pub fn base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.as_bytes())
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Measurement({})", self.hex())
    }
}

/// How every fold reports progress: called with an operation's index and the digest after it. The
/// folds take it as an `Option` so that a caller who does not watch pays nothing for the digests in
/// between.
pub type Observer<'o, D> = &'o mut dyn FnMut(usize, &D);

/// Folds a checked plan into its platform's digest.
pub fn fold(plan: &CheckedPlan<'_>) -> Measurement {
    fold_with(plan, None, None)
}

/// Folds `plan`, calling `observe(op_index, digest_so_far)` after each operation when given. `resume`
/// (SNP only) starts from a known digest after a prefix of the operations; it is the only thing that
/// can fail here.
pub fn fold_observed(
    plan: &CheckedPlan<'_>,
    resume: Option<Resume>,
    observe: Option<Observer<'_, Measurement>>,
) -> Result<Measurement, PlanError> {
    if let Some(r) = resume {
        if plan.mode != Mode::Snp {
            return Err(LaunchProblem::ResumeMode { mode: plan.mode }.into());
        }
        if r.after_ops > plan.operations.len() {
            return Err(LaunchProblem::ResumePastEnd { after: r.after_ops, ops: plan.operations.len() }.into());
        }
    }
    Ok(fold_with(plan, resume, observe))
}

fn fold_with(plan: &CheckedPlan<'_>, resume: Option<Resume>, mut observe: Option<Observer<'_, Measurement>>) -> Measurement {
    let watch = observe.is_some();
    match plan.mode {
        Mode::Snp => {
            let mut wrap = |i: usize, d: &Sha384Digest| observe.as_deref_mut().into_iter().for_each(|o| o(i, &Measurement::Sha384(*d)));
            Measurement::Sha384(crate::snp::digest::fold(plan, resume, if watch { Some(&mut wrap) } else { None }))
        }
        Mode::Sev | Mode::SevEs => {
            let mut wrap = |i: usize, d: &Sha256Digest| observe.as_deref_mut().into_iter().for_each(|o| o(i, &Measurement::Sha256(*d)));
            Measurement::Sha256(crate::sev::fold(plan, if watch { Some(&mut wrap) } else { None }))
        }
        Mode::Tdx => {
            let mut wrap = |i: usize, d: &Sha384Digest| observe.as_deref_mut().into_iter().for_each(|o| o(i, &Measurement::Sha384(*d)));
            Measurement::Sha384(crate::tdx::mrtd::fold(plan, if watch { Some(&mut wrap) } else { None }))
        }
    }
}

/// Digests for several vCPU counts (each at least 1) in one walk: the plan holds VMSAs for the largest
/// count, and each further vCPU appends one update (SNP) or one VMSA's bytes (SEV-ES).
pub fn vcpu_table(plan: &CheckedPlan<'_>, resume: Option<Resume>, counts: &[u32]) -> Result<Vec<(u32, Measurement)>, PlanError> {
    let mut found = std::collections::HashMap::new();
    fold_observed(
        plan,
        resume,
        Some(&mut |i, m| {
            if let Some(v) = plan.operations[i].vcpu {
                found.insert(v + 1, *m);
            }
        }),
    )?;
    counts.iter().map(|&n| found.get(&n).map(|m| (n, *m)).ok_or(LaunchProblem::NoVmsaFor(n).into())).collect()
}
