//! The CC event-log parser, its decoder and the replay: any input may be refused, none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::eventlog::{EventLog, decode, replay};

fuzz_target!(|data: &[u8]| {
    let Ok(log) = EventLog::parse(data) else { return };
    assert!(log.end <= data.len());
    for e in &log.events {
        let _ = serde_json::to_string(&decode(e.event_type, e.data)).expect("decoded data serialises");
        let _ = decode(e.event_type, e.data).summary();
    }
    if let Ok(r) = replay(&log) {
        let _ = r.check(&[[0u8; 48]; 4]);
    }
});
