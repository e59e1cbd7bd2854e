//! The CLI's number and range parsers (`--vcpus 1-64,128`, `--policy 0x30000`, `--guest-features`):
//! any string is refused with a message or parsed; a vCPU list never holds a 0, a count above
//! MAX_VCPUS, or more than MAX_VCPUS entries (an attacker-sized list would be one digest each), and an
//! integer written back in hex parses to itself.
#![no_main]

#[allow(dead_code)]
#[path = "../../cli/src/numbers.rs"]
mod numbers;

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::plan::MAX_VCPUS;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(list) = numbers::parse_vcpus(s) {
        assert!(!list.0.is_empty() && list.0.len() <= MAX_VCPUS as usize, "{s:?}: {} counts", list.0.len());
        assert!(list.0.iter().all(|&n| (1..=MAX_VCPUS).contains(&n)), "{s:?}: a count out of range");
    }
    if let Ok(v) = numbers::parse_int(s) {
        assert_eq!(numbers::parse_int(&format!("{v:#x}")), Ok(v));
    }
});
