//! What the user asked of a TD beyond authenticity: MRTD, TD attributes (DEBUG refused unless
//! allowed), report data and RTMRs. RTMR expectations may come from several sources (`--rtmr`, an
//! event log replay); each is checked and named.

use crate::appraise::expect::{Expectations, compare, measurement};
use crate::appraise::verdict::{Class, Verdict};
use crate::report::TdQuoteBody;

/// TD_ATTRIBUTES bits worth naming (Intel TDX module ABI, "TD_ATTRIBUTES").
const ATTRIBUTE_NAMES: [(u32, &str); 8] = [
    (0, "DEBUG"),
    (16, "ICSSD"),
    (17, "SERVTD_EXT"),
    (27, "LASS"),
    (28, "SEPT_VE_DISABLE"),
    (29, "MIGRATABLE"),
    (30, "PKS"),
    (63, "PERFMON"),
];

pub fn appraise(b: &TdQuoteBody, e: &Expectations, v: &mut Verdict) {
    appraise_fields(&b.mr_td, b.td_attributes, &b.rtmr, &b.report_data, e, v);
}

pub fn appraise_fields(mr_td: &[u8; 48], attributes: u64, rtmr: &[[u8; 48]; 4], report_data: &[u8; 64], e: &Expectations, v: &mut Verdict) {
    let x = Class::Expectation;
    measurement(v, "MRTD", mr_td, e);
    let set: Vec<&str> = ATTRIBUTE_NAMES.iter().filter(|(b, _)| attributes >> b & 1 == 1).map(|(_, n)| *n).collect();
    let summary = format!(
        "TD_ATTRIBUTES {attributes:#018x} ({}); SEPT_VE_DISABLE {}",
        if set.is_empty() { "none set".to_string() } else { set.join(", ") },
        if attributes >> 28 & 1 == 1 {
            "set: EPT violations are not reflected to the TD as #VE"
        } else {
            "clear: the TD handles EPT violations as #VE"
        }
    );
    if attributes & 1 == 1 && !e.allow_debug {
        v.fail(
            "tdx.td-attributes",
            x,
            format!("{summary}: DEBUG is set, the host can read and change this TD (give --allow-debug to accept)"),
        );
    } else {
        v.pass("tdx.td-attributes", x, summary);
    }
    if let Some(want) = &e.report_data {
        v.result("report-data", x, compare("REPORTDATA", report_data, want, "--report-data"));
    }
    for (index, wants) in e.rtmrs_by_index() {
        let Some(got) = rtmr.get(usize::from(index)) else {
            v.fail(format!("tdx.rtmr{index}"), x, format!("RTMR{index} does not exist (0 to 3)"));
            continue;
        };
        for w in wants {
            v.result(format!("tdx.rtmr{index}"), x, compare(&format!("RTMR{index}"), got, &w.value, &w.source));
        }
    }
}
