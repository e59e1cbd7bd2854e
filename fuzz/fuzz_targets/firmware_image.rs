//! The firmware image parser and everything downstream of it: support verdicts, plan building for
//! every mode (TDX with PAGE_AUG sections added or skipped, SNP with an SVSM), and the digest folds.
//! Any input may be refused; none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::plan::sev::{AmdConfig, Svsm, build};
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
        for page_aug in [PageAugPolicy::Add, PageAugPolicy::Skip] {
            if let Ok(p) = plan::tdx::build(&img, TdxPolicy { page_order, page_aug }) {
                let _ = digest::fold(&p);
            }
        }
    }
    // SVSM plans (`--mode snp:svsm`): the input split in two, an SVSM image below a firmware image,
    // at a split point the first byte picks (page aligned, as both images must be).
    let split = (usize::from(data[0]) << 12).min(data.len());
    if let (Ok(svsm), Ok(fw)) = (FirmwareImage::parse(&data[..split]), FirmwareImage::parse(&data[split..])) {
        let mut cfg = AmdConfig::new(Mode::Snp);
        cfg.vcpus = 2;
        cfg.svsm = Some(Svsm { image: svsm, vars_size: u64::from(data[data.len() - 1]) << 12 });
        if let Ok(p) = build(&fw, &cfg) {
            let _ = digest::fold(&p);
        }
    }
});
