//! prelaunch-measure: the launch-measurement model for confidential-VM firmware.
//!
//! - [`image`]: the firmware image model (footer GUID table, SEV metadata, TDVF metadata).
//! - [`plan`]: the launch plan, built once from an image and parameters as a [`plan::CheckedPlan`]
//!   (the only thing the folds and `prelaunch-loader` accept), folded into digests here.
//! - [`snp`], [`sev`], [`tdx`]: the digest folds (SNP launch digest, SEV/SEV-ES SHA-256, TDX MRTD).
//! - [`report`], [`idblock`]: attestation reports/quotes and SNP ID blocks.
//! - [`eventlog`]: TDX CC event logs (CCEL): parsing, decoding, replay into RTMRs.
//!
//! Pure: no unsafe, no I/O beyond what callers hand in as byte slices.
#![forbid(unsafe_code)]

pub mod appraise;
pub mod authenticode;
pub mod digest;
pub mod error;
pub mod eventlog;
pub mod guid;
pub mod hash;
pub mod idblock;
pub mod igvm;
pub mod image;
pub mod plan;
pub mod qemu;
pub mod reference;
pub mod report;
pub mod sev;
pub mod snp;
pub mod tdx;

/// The page: the unit every platform populates and measures (4 KiB), defined once.
pub const PAGE_SIZE: u64 = 4096;

pub use digest::Measurement;
pub use error::Error;
pub use image::FirmwareImage;
pub use plan::{LaunchPlan, Mode};
