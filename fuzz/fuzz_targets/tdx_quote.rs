//! Evidence detection and the TDX parsers (quotes v4/v5, TDREPORT) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::report::{Evidence, TdReport, TdxQuote};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Evidence::detect(data) {
        let _ = (e.kind(), e.report_data(), e.launch_measurement());
    }
    if let Ok(q) = TdxQuote::parse(data) {
        // Whatever parses must account for every input byte.
        let body_at = if q.version == 4 { 48 } else { 54 };
        let used = body_at + q.body_kind.body_len() + 4 + q.signature_data.len() + q.trailing.map_or(0, |t| t.len);
        assert_eq!(used, data.len());
        assert_eq!(q.len() + q.trailing.map_or(0, |t| t.len), data.len());
        let _ = q.signature();
    }
    let _ = TdReport::parse(data);
});
