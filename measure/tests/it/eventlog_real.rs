//! The event-log reader on real CC event logs published by TDX verifier projects
//! (`PRELAUNCH_EVIDENCE_DIR`, see ../shared/evidence/README.md): a replay must reproduce the RTMRs of
//! the quote the log came with, and the decoding must agree with trustee's own decoding of its logs.

use std::path::PathBuf;

use prelaunch_measure::eventlog::{EventData, EventLog, VariableValue, decode, raw::ALG_SHA384, replay};
use prelaunch_measure::report::TdxQuote;

fn evidence_dir() -> PathBuf {
    let dir = std::env::var_os("PRELAUNCH_EVIDENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/evidence"));
    assert!(dir.join("ccel").is_dir(), "{}/ccel not found: set PRELAUNCH_EVIDENCE_DIR to the real evidence directory", dir.display());
    dir
}

fn read(name: &str) -> Vec<u8> {
    let p = evidence_dir().join("ccel").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn gotdx_log_replays_to_the_rtmrs_of_its_quote() {
    let log_bytes = read("gotdx_ccel_data.dat");
    let log = EventLog::parse(&log_bytes).unwrap();
    assert_eq!(log.events.len(), 43, "go-tdx-guest's log has 43 events after the Spec ID event");
    let r = replay(&log).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let quote = TdxQuote::parse(&read("gotdx_cos-113-tdx-quote.dat")).unwrap();
    for i in 0..4 {
        assert_eq!(r.rtmrs.0[i].0, quote.body.rtmr[i], "RTMR{i}");
    }
    // The values after each event end at the final registers.
    let last_rtmr1 = r.steps.iter().rev().find(|s| s.rtmr == Some(1)).unwrap().after.unwrap();
    assert_eq!(last_rtmr1, r.rtmrs.0[1]);
    // Changing one digest changes the replay: the test can fail.
    let mut bad = log_bytes.clone();
    let first = &log.events[0];
    let at = first.offset + 12 + 2;
    bad[at] ^= 1;
    let r2 = replay(&EventLog::parse(&bad).unwrap()).unwrap();
    assert_ne!(r2.rtmrs.0[0], r.rtmrs.0[0]);
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// trustee's decoder output for the same logs: every event's type, index, digest and raw data agree,
/// and where trustee decodes variables and strings, so does this reader.
#[test]
fn decoding_agrees_with_trustee() {
    let mut checked = 0;
    for name in [
        "trustee_CCEL_data_ovmf",
        "trustee_CCEL_data_grub",
        "trustee_CCEL_data_grub_gke",
        "trustee_CCEL_data_csv",
        "trustee_CCEL_data",
        "trustee_CCEL_AAEL_alibabacloud",
    ] {
        let bytes = read(name);
        let log = EventLog::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json: serde_json::Value = serde_json::from_str(&String::from_utf8(read(&format!("{name}_out.json"))).unwrap()).unwrap();
        let theirs = json["uefi_event_logs"].as_array().unwrap();
        // trustee lists the Spec ID event too when the log carries it as a TCG_PCR_EVENT2-less header;
        // align on the records both list.
        let ours: Vec<_> = log.events.iter().collect();
        let skip = theirs
            .len()
            .checked_sub(ours.len())
            .unwrap_or_else(|| panic!("{name}: trustee lists {} events, we {}", theirs.len(), ours.len()));
        for (t, e) in theirs[skip..].iter().zip(&ours) {
            let ctx = format!("{name} event {}", e.index);
            assert_eq!(t["index"].as_u64().unwrap() as u32, e.mr_index, "{ctx}");
            assert_eq!(t["type_name"].as_str().unwrap(), e.type_name(), "{ctx}");
            assert_eq!(b64(t["event"].as_str().unwrap()), e.data, "{ctx}");
            let theirs =
                t["digests"].as_array().unwrap().iter().find(|d| d["alg"] == "SHA-384").map(|d| d["digest"].as_str().unwrap().to_owned());
            assert_eq!(theirs, e.digest(ALG_SHA384).map(hex::encode), "{ctx}");
            let det = &t["details"];
            match decode(e.event_type, e.data) {
                EventData::Variable { name: n, data_len, value, .. } => {
                    assert_eq!(det["unicode_name"].as_str().unwrap(), n, "{ctx}");
                    assert_eq!(det["variable_data_length"].as_u64().unwrap() as usize, data_len, "{ctx}");
                    if let Some(VariableValue::LoadOption { device_path, .. }) = value {
                        assert!(!device_path.is_empty(), "{ctx}");
                    }
                }
                EventData::Text { text } => {
                    if let Some(s) = det["string"].as_str() {
                        // trustee drops the first character of UTF-16 EV_IPL strings (".linux" is "linux"
                        // there); the bytes themselves are compared above.
                        let s = s.trim_end_matches('\0');
                        assert!(text == s || (text.len() == s.len() + 1 && text.ends_with(s)), "{ctx}: {s:?} vs {text:?}");
                    }
                }
                EventData::Image { device_path, .. } => {
                    let Some(paths) = det["device_paths"].as_array() else { continue };
                    let theirs: Vec<String> = paths.iter().map(|v| v.as_str().unwrap().to_owned()).collect();
                    assert_eq!(theirs.len(), device_path.len(), "{ctx}: {theirs:?} vs {device_path:?}");
                    for (a, b) in theirs.iter().zip(&device_path) {
                        if a.starts_with("File(") {
                            assert_eq!(a, b, "{ctx}");
                        }
                    }
                }
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} events compared");
}
