//! SEV and SEV-ES launch digests: SHA-256 over the bytes of every LAUNCH_UPDATE_DATA and
//! LAUNCH_UPDATE_VMSA in order (the SEV firmware's MEASURE, before the nonce is mixed in).

use crate::hash::{Sha256, Sha256Digest};
use crate::plan::{Inputs, LaunchPlan, Mode, OpKind, PlanError};

/// The launch digest, calling `observe(op_index, digest_so_far)` after each operation.
pub fn fold(plan: &LaunchPlan, inputs: &Inputs<'_>, mut observe: impl FnMut(usize, &Sha256Digest)) -> Result<Sha256Digest, PlanError> {
    if !matches!(plan.mode, Mode::Sev | Mode::SevEs) {
        return Err(PlanError::Invalid(format!("the SEV digest needs a sev or seves plan, not {}", plan.mode.name())));
    }
    let mut h = Sha256::new();
    for (i, op) in plan.operations.iter().enumerate() {
        if !matches!(op.kind, OpKind::Normal | OpKind::Vmsa) {
            return Err(PlanError::Invalid(format!("operation {i}: {} in a {} plan", op.kind.name(), plan.mode.name())));
        }
        let bytes =
            plan.source_bytes(op, inputs).ok_or_else(|| PlanError::Invalid(format!("operation {i}: its source bytes are missing")))?;
        h.update(bytes);
        observe(i, &h.clone().finish());
    }
    Ok(h.finish())
}
