//! SEV and SEV-ES launch digests: SHA-256 over the bytes of every LAUNCH_UPDATE_DATA and
//! LAUNCH_UPDATE_VMSA in order (the SEV firmware's MEASURE, before the nonce is mixed in).

use crate::digest::Observer;
use crate::hash::{Sha256, Sha256Digest};
use crate::plan::CheckedPlan;

/// The launch digest of a sev or seves plan, calling `observe(op_index, digest_so_far)` after each
/// operation when given. The check guarantees every operation is LAUNCH_UPDATE_DATA or
/// LAUNCH_UPDATE_VMSA with its bytes present.
pub fn fold(plan: &CheckedPlan<'_>, mut observe: Option<Observer<'_, Sha256Digest>>) -> Sha256Digest {
    let mut h = Sha256::new();
    for (i, op) in plan.operations.iter().enumerate() {
        h.update(plan.source_bytes(op).unwrap_or_default());
        if let Some(o) = observe.as_deref_mut() {
            o(i, &h.clone().finish());
        }
    }
    h.finish()
}
