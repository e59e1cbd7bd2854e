//! Synthetic OVMF/TDVF-like firmware images for prelaunch's tests, written from the format notes and
//! independent of `prelaunch-measure` (it is the other side of those tests).
//!
//! - [`ImageBuilder`]: pseudo-random filler from a seed, the footer GUID table, SEV metadata ("ASEV")
//!   and TDVF metadata; presets [`ImageBuilder::ovmf_like`], [`ImageBuilder::amdsev_like`],
//!   [`ImageBuilder::tdvf_only`], [`ImageBuilder::svsm_like`]. [`Built`] says where everything went.
//! - [`random_snp_layout`], [`random_tdx_layout`]: random valid layouts for differential tests.
//! - [`Corruption`] and [`apply`]: named corruptions, each with the verdict ([`Expect`]) a correct
//!   parser must reach.
//! - [`mutate()`]: random byte mutations biased towards the structures.
//! - [`Stress`]: worst-case shapes (thousands of overlapping or disjoint sections) for the time and
//!   memory bounds.
//!
//! Everything is deterministic: the same inputs give the same bytes on every platform.

pub mod acpi;
pub mod corrupt;
pub mod guid;
pub mod image;
pub mod json;
pub mod mutate;
pub mod pe;
pub mod random;
pub mod rng;
pub mod sev;
pub mod stress;
pub mod tdvf;

pub use corrupt::{Corruption, Expect, NotApplicable, Part, Platform, apply};
pub use guid::Guid;
pub use image::{BuildError, Built, EntryLayout, ExtraEntry, FOUR_GIB, GpaRange, ImageBuilder, PAGE};
pub use mutate::{mutate, mutate_in};
pub use pe::{PeBuilt, PeKernel, PeSection};
pub use random::{random_snp_layout, random_tdx_layout};
pub use rng::Rng;
pub use sev::{SevItem, SevKind};
pub use stress::Stress;
pub use tdvf::{MR_EXTEND, PAGE_AUG, TdvfSection, TdvfType};
