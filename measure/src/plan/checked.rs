//! [`CheckedPlan`]: a plan bound to the bytes it reads, having passed every rule of [`super::check`].
//! The folds and the loader take nothing else, so none of them re-checks anything.

use std::ops::Deref;

use super::{InputKind, InputProblem, Inputs, LaunchPlan, Operation, PlanError, Source, check};
use crate::hash::Sha256;

/// A launch plan that passed [`check::check`] together with the input bytes it was checked against.
///
/// Made in two ways only:
/// - by a builder ([`super::sev::build`], [`super::tdx::build`], ...), from the image it parsed:
///   the inputs are the very bytes the plan was built from (the borrow `'a` says so), so no hash is
///   needed to bind them;
/// - by [`CheckedPlan::new`], for a plan from anywhere else (a file): every input must be given,
///   have the recorded size and the recorded SHA-256.
///
/// What it guarantees (each a rule in [`check`]): regions 2 MiB aligned, disjoint and bounded;
/// operations non-empty, of the mode's kinds, page aligned where the platform is page-granular,
/// inside one region, disjoint, reading inside their inputs or generated pages, with `measured`
/// agreeing with the kind; SECRETS/CPUID/VMSA single pages; the VMSAs last, at the PSP's VMSA GPA, for
/// vCPUs 0..n in order, matching the launch parameters; the mode's launch block present (and no
/// other). A plan that passes folds and loads to the same digest.
#[derive(Debug, Clone)]
pub struct CheckedPlan<'a> {
    plan: LaunchPlan,
    inputs: Inputs<'a>,
}

impl<'a> CheckedPlan<'a> {
    /// Checks a plan from elsewhere against the files given for it: the rules, then each input's
    /// presence, size and SHA-256 (which every input must carry).
    pub fn new(plan: LaunchPlan, inputs: Inputs<'a>) -> Result<Self, PlanError> {
        check::check(&plan)?;
        check_sizes(&plan, &inputs)?;
        for f in &plan.inputs {
            let expected = f.sha256.ok_or(PlanError::Input { kind: f.kind, problem: InputProblem::Unidentified })?;
            let bytes = inputs.get(f.kind).unwrap_or_default();
            let found = Sha256::digest(bytes);
            if found != expected {
                return Err(PlanError::Input {
                    kind: f.kind,
                    problem: InputProblem::Sha256 { found: hex::encode(found), expected: hex::encode(expected) },
                });
            }
        }
        Ok(CheckedPlan { plan, inputs })
    }

    /// A plan a builder just made from `inputs` (the bytes it parsed): the rules and the sizes; the
    /// SHA-256s are left for [`CheckedPlan::portable`], since nothing outside this process sees the
    /// plan before that.
    pub(crate) fn built(plan: LaunchPlan, inputs: Inputs<'a>) -> Result<Self, PlanError> {
        check::check(&plan)?;
        check_sizes(&plan, &inputs)?;
        Ok(CheckedPlan { plan, inputs })
    }

    /// The same inputs with an edited plan (a test splitting runs, a caller adding a field): checked
    /// again in full; the edited plan must list the same inputs, so they stay bound without hashing.
    pub fn with_plan(&self, plan: LaunchPlan) -> Result<CheckedPlan<'a>, PlanError> {
        if plan.inputs != self.plan.inputs {
            return CheckedPlan::new(plan, self.inputs.clone());
        }
        CheckedPlan::built(plan, self.inputs.clone())
    }

    pub fn plan(&self) -> &LaunchPlan {
        &self.plan
    }

    pub fn inputs(&self) -> &Inputs<'a> {
        &self.inputs
    }

    pub fn into_plan(self) -> LaunchPlan {
        self.plan
    }

    /// The plan as it may leave the process: every input's SHA-256 filled in (hashed now where the
    /// builder left it to this point).
    pub fn portable(&self) -> LaunchPlan {
        let mut p = self.plan.clone();
        for f in &mut p.inputs {
            if f.sha256.is_none() {
                f.sha256 = Some(Sha256::digest(self.inputs.get(f.kind).unwrap_or_default()));
            }
        }
        p
    }

    /// The bytes an operation reads: `None` only for [`Source::None`] (the check guarantees every
    /// file range and generated page exists).
    pub fn source_bytes(&self, op: &Operation) -> Option<&[u8]> {
        match &op.source {
            Source::None => None,
            Source::File { file, offset } => {
                let b = self.inputs.get(*file)?;
                b.get(usize::try_from(*offset).ok()?..usize::try_from(offset + op.len).ok()?)
            }
            Source::Page { page } => self.plan.pages.get(page).map(|p| &p.0[..]),
        }
    }

    /// The bytes of one input.
    pub fn input_bytes(&self, kind: InputKind) -> Option<&'a [u8]> {
        self.inputs.get(kind)
    }
}

impl Deref for CheckedPlan<'_> {
    type Target = LaunchPlan;

    fn deref(&self) -> &LaunchPlan {
        &self.plan
    }
}

/// Every listed input is given (once), with the recorded size; nothing else is needed.
fn check_sizes(plan: &LaunchPlan, inputs: &Inputs<'_>) -> Result<(), PlanError> {
    for (i, f) in plan.inputs.iter().enumerate() {
        if plan.inputs[..i].iter().any(|g| g.kind == f.kind) {
            return Err(PlanError::Input { kind: f.kind, problem: InputProblem::Duplicate });
        }
        let bytes = inputs.get(f.kind).ok_or(PlanError::Input { kind: f.kind, problem: InputProblem::Missing })?;
        if bytes.len() as u64 != f.size {
            return Err(PlanError::Input { kind: f.kind, problem: InputProblem::Size { found: bytes.len() as u64, expected: f.size } });
        }
    }
    Ok(())
}
