//! Reference-value files in every format (detected from the bytes), and each decoder on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::reference::{self, corim, gce, json, trustee};

fuzz_target!(|data: &[u8]| {
    let _ = reference::decode(data, None);
    let _ = corim::decode(data);
    let _ = gce::decode(data);
    let _ = json::decode(data);
    let _ = trustee::decode(data);
    if let Ok(t) = std::str::from_utf8(data) {
        let _ = gce::from_text(t);
    }
});
