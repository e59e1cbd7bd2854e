//! prelaunch-loader: executes a launch plan against guest memory and has a platform measure it.
//!
//! - [`load()`]: the phases (create, map, copy, convert, populate, finish) and the guest check.
//! - [`memory`]: guest memory behind [`memory::MemoryBackend`]: KVM guest_memfd, or memfd where
//!   /dev/kvm is unusable; conversion to private.
//! - [`platform`]: behind [`platform::Platform`]: `sim` (a software model of the AMD firmware and
//!   the TDX module) and `hw` (the SNP and TDX KVM ioctls).
//! - [`record`]: the platform's per-page record and where it first differs from the plan.
//! - [`guest_check`]: a vCPU reads the loaded bytes back through guest-physical addresses.
//! - [`kvm`]: the VM, capability probes, and the uAPI kvm-bindings lacks. Input files are opened
//!   by `prelaunch-files`, so that the pure commands need nothing of this crate.
//!
//! Every ioctl of the project, and all `unsafe` but the SIMD dispatch (`mbhash`) and the file
//! mappings (`prelaunch-files`), live in this crate.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod error;
pub mod guest_check;
pub mod kvm;
pub mod load;
pub mod memory;
pub mod platform;
pub mod record;
mod sys;
#[doc(hidden)]
pub mod testing;

pub use error::LoadError;
pub use load::{HwOptions, LoadOptions, LoadReport, PlatformChoice, Timings, load};
pub use memory::{MemoryChoice, MemoryKind};
pub use platform::sim::faults::SimFaults;
/// The only thing [`load()`] accepts; it lives in `measure::plan`, where the folds take it too.
pub use prelaunch_measure::plan::CheckedPlan;
