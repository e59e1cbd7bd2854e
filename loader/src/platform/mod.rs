//! Platforms: what populates and measures guest memory, behind [`Platform`].
//!
//! - [`sim`]: a software model of the AMD firmware (SNP, SEV, SEV-ES) and the TDX module. It reads
//!   the bytes from the guest memory mapping at populate time, tracks each page's state, refuses what
//!   the firmware refuses and computes the digest itself.
//! - [`hw`]: the real KVM paths (SNP: KVM_SEV_INIT2, SNP_LAUNCH_START/UPDATE/FINISH with an ID block;
//!   TDX: KVM_TDX_INIT_VM/INIT_VCPU/INIT_MEM_REGION/FINALIZE_VM) over a small ioctl trait.
//!
//! [`select::select`] decides which one (and which VM and memory) a load uses, refusing what cannot
//! work before anything is created. The loader drives both the same way: one [`Platform::populate`] call per attempt, resuming after
//! partial progress and retrying EINTR/EAGAIN a bounded number of times.

pub mod hw;
pub mod select;
pub mod sim;

use prelaunch_measure::Measurement;
use prelaunch_measure::plan::Operation;
use serde::Serialize;

use crate::memory::MemoryBackend;
use crate::memory::convert::ConvertError;
use crate::record::PageRecord;

/// One populate attempt: the rest of operation `op` from byte `done` on.
#[derive(Debug, Clone, Copy)]
pub struct PopulateCall<'a> {
    pub op: &'a Operation,
    /// Bytes of the operation already populated.
    pub done: u64,
    /// The operation's source bytes (all of them), if it has any.
    pub source: Option<&'a [u8]>,
    /// Populate in place from guest memory (uaddr / source_addr 0) rather than from `source`.
    pub in_place: bool,
}

impl PopulateCall<'_> {
    /// GPA of the first byte still to populate (VMSAs keep their fixed GPA).
    pub fn gpa(&self) -> u64 {
        if self.op.is_vmsa() { self.op.gpa } else { self.op.gpa + self.done }
    }

    pub fn remaining(&self) -> u64 {
        self.op.len - self.done
    }

    /// The source bytes still to populate.
    pub fn remaining_source(&self) -> Option<&[u8]> {
        self.source.and_then(|s| s.get(self.done as usize..))
    }
}

/// Where a load's digest comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum DigestSource {
    /// Computed by the platform model from the bytes in guest memory.
    Computed,
    /// The AMD firmware accepted SNP_LAUNCH_FINISH with an ID block carrying the expected digest, so
    /// the launch digest equals it.
    IdBlockEnforced,
    /// The host cannot read the digest (it is only in an attestation report or TDREPORT).
    NotReadable(String),
}

/// What a platform reports at the end of a launch.
#[derive(Debug, Clone)]
pub struct Finish {
    pub digest: Option<Measurement>,
    pub source: DigestSource,
    /// Every measured step in measurement order (empty where the platform does not say).
    pub record: Vec<PageRecord>,
}

/// Why a platform call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("interrupted (EINTR)")]
    Interrupted,
    #[error("busy (EAGAIN)")]
    Busy,
    /// The firmware or TDX module refuses the request; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("{call}: {errno}{detail}")]
    Ioctl { call: &'static str, errno: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
}

impl PlatformError {
    /// EINTR and EAGAIN: try the same call again.
    pub fn retryable(&self) -> bool {
        matches!(self, PlatformError::Interrupted | PlatformError::Busy)
    }
}

/// A launch platform.
pub trait Platform {
    /// `sim` or `hw`.
    fn name(&self) -> &'static str;
    /// What it is, for the output ("software model of the AMD SEV-SNP firmware").
    fn describe(&self) -> String;
    /// Whether conversion to private is modelled here (sim) rather than done by KVM (hw).
    fn models_conversion(&self) -> bool;
    /// One modelled conversion attempt (only called when [`Platform::models_conversion`]).
    fn convert_private(&mut self, gpa: u64, len: u64) -> Result<(), ConvertError> {
        let _ = (gpa, len);
        Err(ConvertError::Unsupported("this platform does not model conversion".into()))
    }
    /// Called once the image is in guest memory, before conversion (fault injection).
    fn after_copy(&mut self, mem: &mut dyn MemoryBackend) -> Result<(), PlatformError> {
        let _ = mem;
        Ok(())
    }
    /// One populate attempt; the number of bytes it populated (less than asked is partial progress).
    fn populate(&mut self, call: &PopulateCall<'_>, mem: &dyn MemoryBackend) -> Result<u64, PlatformError>;
    /// Ends the launch (SNP_LAUNCH_FINISH, TDH.MR.FINALIZE).
    fn finish(&mut self) -> Result<Finish, PlatformError>;
}
