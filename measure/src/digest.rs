//! One entry point for every platform's digest: a fold over a launch plan.

use std::fmt;

use crate::hash::{Sha256Digest, Sha384Digest};
use crate::plan::{Inputs, LaunchPlan, Mode, PlanError};
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

/// Folds `plan` into its platform's digest.
pub fn fold(plan: &LaunchPlan, inputs: &Inputs<'_>) -> Result<Measurement, PlanError> {
    fold_observed(plan, inputs, None, None)
}

/// Folds `plan`, calling `observe(op_index, digest_so_far)` after each operation when given. `resume`
/// (SNP only) starts from a known digest after a prefix of the operations.
pub fn fold_observed(
    plan: &LaunchPlan,
    inputs: &Inputs<'_>,
    resume: Option<Resume>,
    mut observe: Option<&mut dyn FnMut(usize, Measurement)>,
) -> Result<Measurement, PlanError> {
    if resume.is_some() && plan.mode != Mode::Snp {
        return Err(PlanError::Invalid(format!("resuming from a known digest only applies to snp plans, not {}", plan.mode.name())));
    }
    Ok(match plan.mode {
        Mode::Snp => Measurement::Sha384(crate::snp::digest::fold(plan, inputs, resume, |i, d| {
            if let Some(o) = observe.as_deref_mut() {
                o(i, Measurement::Sha384(*d))
            }
        })?),
        Mode::Sev | Mode::SevEs => Measurement::Sha256(crate::sev::fold(plan, inputs, |i, d| {
            if let Some(o) = observe.as_deref_mut() {
                o(i, Measurement::Sha256(*d))
            }
        })?),
        Mode::Tdx => {
            let explain = observe.is_some();
            let mut wrap = |i: usize, d: &Sha384Digest| {
                if let Some(o) = observe.as_deref_mut() {
                    o(i, Measurement::Sha384(*d))
                }
            };
            Measurement::Sha384(crate::tdx::mrtd::fold(plan, inputs, if explain { Some(&mut wrap) } else { None })?)
        }
    })
}

/// Digests for several vCPU counts (each at least 1) in one walk: the plan holds VMSAs for the largest
/// count, and each further vCPU appends one update (SNP) or one VMSA's bytes (SEV-ES).
pub fn vcpu_table(
    plan: &LaunchPlan,
    inputs: &Inputs<'_>,
    resume: Option<Resume>,
    counts: &[u32],
) -> Result<Vec<(u32, Measurement)>, PlanError> {
    let mut found = std::collections::HashMap::new();
    fold_observed(
        plan,
        inputs,
        resume,
        Some(&mut |i, m| {
            if let Some(v) = plan.operations[i].vcpu {
                found.insert(v + 1, m);
            }
        }),
    )?;
    counts
        .iter()
        .map(|&n| found.get(&n).map(|m| (n, *m)).ok_or_else(|| PlanError::Invalid(format!("the plan holds no VMSA for {n} vCPUs"))))
        .collect()
}
