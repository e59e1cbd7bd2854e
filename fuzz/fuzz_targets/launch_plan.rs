//! Plans read from JSON (`prelaunch load --plan`): any document is either refused by the strict check
//! or folds without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::digest;
use prelaunch_measure::plan::{CheckedPlan, InputKind, Inputs, LaunchPlan};

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = LaunchPlan::from_json(data) else { return };
    let firmware = vec![0x5au8; 64 << 10];
    if let Ok(checked) = CheckedPlan::new(plan, Inputs::new().with(InputKind::Firmware, &firmware)) {
        let _ = digest::fold(&checked);
    }
});
