//! Plans read from JSON (`prelaunch load --plan`): any document is either refused by the strict check
//! or folds without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::plan::{Inputs, LaunchPlan, check};
use prelaunch_measure::digest;

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = serde_json::from_slice::<LaunchPlan>(data) else { return };
    let firmware = vec![0x5au8; 64 << 10];
    let inputs = Inputs::new().with("firmware", &firmware);
    if check::check_inputs(&plan, &inputs).is_ok() {
        let _ = digest::fold(&plan, &inputs);
    }
});
