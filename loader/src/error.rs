//! The loader's one top-level error, wrapping each module's own.

use prelaunch_measure::plan::{OpKind, PlanError};

use crate::guest_check::GuestCheckError;
use crate::kvm::KvmError;
use crate::memory::MemoryError;
use crate::platform::PlatformError;

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan (or its inputs) failed the strict check; nothing was created.
    #[error("refused: {0}")]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Kvm(#[from] KvmError),
    #[error("memory: {0}")]
    Memory(#[from] MemoryError),
    #[error("{phase}: {source}")]
    Platform { phase: &'static str, source: PlatformError },
    #[error("populating operation {op} ({} at {gpa:#x}): {source}", kind.name())]
    Populate { op: usize, kind: OpKind, gpa: u64, source: PlatformError },
    #[error("populating operation {op} ({} at {gpa:#x}): gave up after {tries} attempts without progress (last: {last})", kind.name())]
    Stalled { op: usize, kind: OpKind, gpa: u64, tries: u32, last: String },
    #[error("guest check: {0}")]
    GuestCheck(#[from] GuestCheckError),
    #[error("{0}")]
    Unsupported(String),
}
