//! The firmware image parser and everything downstream of it: support verdicts, plan building for
//! every mode, and the digest folds. Any input may be refused; none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::plan::sev::{AmdConfig, build};
use prelaunch_measure::plan::{self, Mode, PageAugPolicy, PageOrder, TdxPolicy};
use prelaunch_measure::snp::KernelHashes;
use prelaunch_measure::{FirmwareImage, digest};

fuzz_target!(|data: &[u8]| {
    let Ok(img) = FirmwareImage::parse(data) else { return };
    let _ = img.support().problems();
    for mode in [Mode::Sev, Mode::SevEs, Mode::Snp] {
        let mut cfg = AmdConfig::new(mode);
        cfg.vcpus = 3;
        cfg.kernel = (data.len() % 3 == 0).then(|| KernelHashes::new(b"k", None, None));
        if let Ok(p) = build(&img, &cfg) {
            // A built plan is a checked one: it folds.
            let _ = digest::fold(&p);
        }
    }
    for page_order in [PageOrder::Single, PageOrder::TwoPass] {
        if let Ok(p) = plan::tdx::build(&img, TdxPolicy { page_order, page_aug: PageAugPolicy::Skip }) {
            let _ = digest::fold(&p);
        }
    }
});
