//! IGVM files: read with the `igvm` crate, turned into launch plans by declarative loader profiles.
//!
//! - [`layout`]: where each header and page lies in the file (framing only, `igvm_defs` structures).
//! - [`image`]: the file as the `igvm` crate reads it, joined with those offsets.
//! - [`profile`]: how each VMM loads a file (QEMU, cloud-hypervisor, openvmm, the IGVM spec), as data.
//! - [`build`]: the launch plan a profile makes of a file, for SNP or TDX.
//! - [`kvm_vmsa`]: the VMSA KVM measures for registers QEMU loaded from a VP context.

pub mod build;
pub mod compare;
pub mod image;
pub mod kvm_vmsa;
pub mod layout;
pub mod profile;
pub mod write;

pub use build::{IgvmConfig, IgvmPlan, Note, build};
pub use image::{IgvmImage, looks_like_igvm};
pub use profile::LoaderProfile;

use crate::plan::PlanError;

/// Why an IGVM file cannot be read or launched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgvmError {
    #[error("not an IGVM file (no \"IGVM\" magic at offset 0)")]
    NotIgvm,
    #[error("at offset {offset:#x}: {msg}")]
    Structure { offset: usize, msg: String },
    #[error("the igvm crate refuses the file: {0}")]
    Crate(String),
    #[error("the igvm crate panicked reading the file (a malformed file the header walk did not catch)")]
    CratePanic,
    #[error("the igvm crate and the header walk disagree: {0}")]
    Disagree(String),
    #[error("the file declares no {mode} platform (it declares: {declared})")]
    NoPlatform { mode: &'static str, declared: String },
    #[error(transparent)]
    Plan(#[from] PlanError),
}
