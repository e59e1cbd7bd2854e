//! Evidence against a reference set: which entries it matches, and when none does, which come
//! nearest.

use super::model::{Entry, Platform, ReferenceSet};
use crate::hash::Sha384Digest;

/// What the evidence reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub platform: Platform,
    /// MEASUREMENT (SNP) or MRTD (TDX).
    pub launch: Sha384Digest,
    /// RTMR0-2 (TDX).
    pub rtmrs: Option<[Sha384Digest; 3]>,
    /// The guest policy (SNP).
    pub policy: Option<u64>,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Indices of the matching entries.
    pub matched: Vec<usize>,
    /// For TDX: whether every matched entry also fixed (and matched) all three RTMRs. `false`
    /// means the RTMRs were not compared for at least one match: a check that did not run.
    pub rtmrs_compared: bool,
    /// When nothing matched: the entries agreeing with the most reported fields, best first.
    pub nearest: Vec<Near>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Near {
    pub index: usize,
    /// The fields that agree (`MEASUREMENT`, `MRTD`, `RTMR1`, `policy`, ...).
    pub agree: Vec<&'static str>,
    /// The fields that differ.
    pub differ: Vec<&'static str>,
}

const RTMR_NAMES: [&str; 3] = ["RTMR0", "RTMR1", "RTMR2"];

fn compare(e: &Entry, o: &Observed) -> Near {
    let mut near = Near { index: 0, agree: Vec::new(), differ: Vec::new() };
    let launch_name = if o.platform == Platform::Snp { "MEASUREMENT" } else { "MRTD" };
    match e.values.launch(o.platform) {
        Some(d) if *d == o.launch => near.agree.push(launch_name),
        _ => near.differ.push(launch_name),
    }
    if let Some(rs) = &o.rtmrs {
        for ((name, want), got) in RTMR_NAMES.iter().zip(e.values.rtmrs()).zip(rs) {
            match want {
                Some(w) if w == got => near.agree.push(name),
                Some(_) => near.differ.push(name),
                None => {}
            }
        }
    }
    if let (Some(p), Some(q)) = (o.policy, e.shape.policy) {
        if p == q { near.agree.push("policy") } else { near.differ.push("policy") }
    }
    near
}

/// Looks `o` up in `set`; `nearest` holds at most `max_nearest` entries.
pub fn lookup(set: &ReferenceSet, o: &Observed, max_nearest: usize) -> Lookup {
    let mut matched = Vec::new();
    let mut rtmrs_compared = true;
    let mut scored: Vec<Near> = Vec::new();
    for (i, e) in set.entries.iter().enumerate().filter(|(_, e)| e.platform == o.platform) {
        let mut n = compare(e, o);
        n.index = i;
        // The policy is reported beside the match, not part of it: the set fixes the measurement.
        let value_mismatch = n.differ.iter().any(|f| *f != "policy");
        if !value_mismatch {
            matched.push(i);
            if o.platform == Platform::Tdx && e.values.rtmrs().iter().any(Option::is_none) {
                rtmrs_compared = false;
            }
        } else {
            scored.push(n);
        }
    }
    let mut nearest = Vec::new();
    if matched.is_empty() {
        // Stable sort: among equals, the file's order.
        scored.sort_by_key(|n| std::cmp::Reverse(n.agree.len()));
        nearest = scored.into_iter().take(max_nearest).collect();
    }
    if matched.is_empty() {
        rtmrs_compared = false;
    }
    Lookup { matched, rtmrs_compared, nearest }
}
