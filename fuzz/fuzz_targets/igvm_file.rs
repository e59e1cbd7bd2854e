//! The IGVM reader (header walk, then the igvm crate) and everything downstream of it: plans for
//! every loader profile and mode, their fold, and the plan comparison. Any input may be refused;
//! none may panic (a panic of the igvm crate itself is caught and refused as an error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::digest;
use prelaunch_measure::igvm::{IgvmConfig, IgvmImage, build, compare, profile};
use prelaunch_measure::plan::Mode;

fuzz_target!(|data: &[u8]| {
    let Ok(img) = IgvmImage::parse(data) else { return };
    for p in img.platforms() {
        let _ = img.page_summary(p.compatibility_mask);
        let _ = img.embedded_firmware(p.compatibility_mask);
    }
    let mut plans = Vec::new();
    for mode in [Mode::Snp, Mode::Tdx] {
        for p in profile::ALL {
            let mut cfg = IgvmConfig::new(mode, p);
            cfg.vcpus = 2;
            if let Ok(b) = build(&img, &cfg) {
                let _ = digest::fold(&b.plan);
                plans.push(b.plan);
            }
        }
    }
    if let [a, b, ..] = &plans[..] {
        let _ = compare::compare((a, "a"), (b, "b"));
    }
});
