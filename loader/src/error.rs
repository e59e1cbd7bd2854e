//! The loader's one top-level error, wrapping each module's own. Each variant's doc comment is its
//! message.

use prelaunch_measure::plan::{Mode, OpKind, PlanError};

use crate::guest_check::GuestCheckError;
use crate::kvm::KvmError;
use crate::memory::MemoryError;
use crate::platform::PlatformError;

/// Why a load failed.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
pub enum LoadError {
    /// refused: {0}
    Plan(#[from] PlanError),
    /// {0}
    Kvm(#[from] KvmError),
    /// memory: {0}
    Memory(#[from] MemoryError),
    /// {phase}: {source}
    Platform { phase: &'static str, source: PlatformError },
    /// populating operation {op} ({kind} at {gpa:#x}): {source}
    Populate { op: usize, kind: OpKind, gpa: u64, source: PlatformError },
    /// populating operation {op} ({kind} at {gpa:#x}): gave up after {tries} attempts without progress (last: {last})
    Stalled { op: usize, kind: OpKind, gpa: u64, tries: u32, last: String },
    /// guest check: {0}
    GuestCheck(#[from] GuestCheckError),
    /// {0}
    Unsupported(#[from] Unsupported),
}

/// What a load cannot do with these options on this host; refused before anything is created.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum Unsupported {
    /// the hw platform launches SEV-SNP and TDX guests; {mode} launches (KVM_SEV_LAUNCH_UPDATE_DATA) are only modelled, by --platform sim
    HwMode { mode: Mode },
    /// the guest check reads guest memory with a plain vCPU; a SEV-SNP or TDX guest's memory is private to it (use --platform sim)
    HwGuestCheck,
    /// the hw platform needs guest_memfd memory, not memfd
    HwMemfd,
    /// the hw platform needs the expected SNP launch digest (SHA-384) for the ID block
    HwNoExpectedDigest,
    /// the plan has no SNP launch parameters (policy, guest features)
    HwNoSnpParameters,
    /// the TD HOB's GPA is unknown: the firmware's TDVF metadata has no TD_HOB section
    NoTdHob,
    /// the hw platform needs a KVM VM
    HwNoVm,
    /// this host cannot convert guest memory to private: {0}
    NoConversion(String),
    /// the plan asks for {total:#x} bytes of guest memory in {regions} populated regions; this load allows at most {max:#x} (raise it with --max-guest-memory)
    TooMuchMemory { total: u64, regions: usize, max: u64 },
    /// the platform reported {done:#x} bytes done of {asked:#x}
    Overreported { done: u64, asked: u64 },
}
