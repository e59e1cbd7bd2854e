//! Shared helpers for the loader's integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use prelaunch_files::{Input, Kind};
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::plan::{self, CheckedPlan, Mode};

#[allow(unused_imports)]
pub use prelaunch_loader::testing::kvm_or_skip;

/// The real firmware directory (PRELAUNCH_FIRMWARE_DIR, default /work/shared/firmware); missing is a failure.
pub fn firmware(name: &str) -> Input {
    let dir = std::env::var_os("PRELAUNCH_FIRMWARE_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/firmware"));
    assert!(dir.is_dir(), "{} not found: set PRELAUNCH_FIRMWARE_DIR to the directory holding the real firmware", dir.display());
    Input::open(dir.join(name), Kind::FIRMWARE).unwrap_or_else(|e| panic!("{e}"))
}

/// An AMD plan (`Mode::Snp`, `Sev` or `SevEs`) for `fw` with `vcpus` EPYC-v4 vCPUs.
pub fn amd_plan(fw: &[u8], mode: Mode, vcpus: u32) -> CheckedPlan<'_> {
    let img = FirmwareImage::parse(fw).unwrap();
    let mut cfg = plan::sev::AmdConfig::new(mode);
    cfg.vcpus = if mode == Mode::Sev { 0 } else { vcpus };
    cfg.vcpu_sig = 0x800f12;
    plan::sev::build(&img, &cfg).unwrap()
}

/// A TDX plan for `fw`.
pub fn tdx_plan(fw: &[u8], order: plan::PageOrder) -> CheckedPlan<'_> {
    let img = FirmwareImage::parse(fw).unwrap();
    plan::tdx::build(&img, plan::TdxPolicy { page_order: order, page_aug: plan::PageAugPolicy::Add }).unwrap()
}
