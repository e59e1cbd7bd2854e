//! `prelaunch event-log`: replays a TDX CC event log (CCEL) into RTMR0..3, prints every event
//! decoded, and with `--report` checks the replay against the RTMRs of a quote or TDREPORT.

use std::path::{Path, PathBuf};

use prelaunch_files::{Input, Kind};

use clap::Args;
use prelaunch_measure::eventlog::{self, EventLog, RegisterCheck, Replay, raw};
use prelaunch_measure::report::Evidence;
use serde_json::{Value, json};

use crate::error::{CliError, Context, usage};
use crate::outln;
use crate::output::{Doc, Out, Style, print_doc};

#[derive(Args, Debug)]
pub struct EventLogArgs {
    /// The event log: the CCEL log area, e.g. /sys/firmware/acpi/tables/data/CCEL.
    pub log: PathBuf,
    /// A TDX quote (v4/v5) or TDREPORT whose RTMR0..3 the replay must reproduce.
    #[arg(long, value_name = "QUOTE")]
    pub report: Option<PathBuf>,
    /// Print JSON: every event decoded, the registers, and the comparison.
    #[arg(long)]
    pub json: bool,
}

/// CC event logs: TDVF reserves 64 KiB to 1 MiB; anything near 64 MiB is not one. Read, not
/// mapped: sysfs ACPI data files cannot be mapped.
pub const EVENT_LOG: Kind = Kind { what: "CC event log", max: 64 << 20, map: false };

/// Reads, parses and replays a log, naming the file in errors.
pub fn load(path: &Path) -> Result<(Input, usize), CliError> {
    let input = Input::open(path, EVENT_LOG)?;
    let n = EventLog::parse(&input).in_file(path)?.events.len();
    Ok((input, n))
}

pub fn run(a: &EventLogArgs, out: &Out) -> Result<(), CliError> {
    let (bytes, _) = load(&a.log)?;
    let log = EventLog::parse(&bytes).in_file(&a.log)?;
    let replay = eventlog::replay(&log).in_file(&a.log)?;
    let checks = match &a.report {
        None => None,
        Some(p) => {
            let ev_bytes = Input::open(p, Kind::EVIDENCE)?;
            let ev = Evidence::detect(&ev_bytes).in_file(p)?;
            let Some(td) = ev.td_fields() else {
                return usage(format!("{}: an {}; --report needs a TDX quote or TDREPORT", p.display(), ev.kind()));
            };
            Some((ev.kind(), replay.check(td.rtmr)))
        }
    };
    if a.json {
        print_doc(Doc::EVENT_LOG, &document(&log, &replay, checks.as_ref().map(|c| &c.1)))?;
    } else {
        print_text(&log, &replay, out);
    }
    for p in &replay.problems {
        out.warn(p);
    }
    let Some((kind, checks)) = checks else { return Ok(()) };
    if !a.json {
        print_checks(kind, &checks, out);
    }
    if checks.iter().all(RegisterCheck::is_match) { Ok(()) } else { Err(CliError::Mismatch(String::new())) }
}

fn rtmr_label(mr: u32) -> String {
    match mr {
        0 => "MRTD".into(),
        1..=4 => format!("RTMR{}", mr - 1),
        n => format!("MR{n}?"),
    }
}

fn print_text(log: &EventLog<'_>, replay: &Replay, out: &Out) {
    let s = &log.spec_id;
    let algs: Vec<String> = s.algorithms.iter().map(|a| raw::alg_name(a.alg).to_owned()).collect();
    outln!(
        "{} events; Spec ID {}.{} errata {}, digests {}",
        log.events.len(),
        s.spec_version.0,
        s.spec_version.1,
        s.spec_version.2,
        algs.join(", ")
    );
    for e in &log.events {
        let d = e.digest(raw::ALG_SHA384).map(hex::encode).unwrap_or_else(|| "-".into());
        let data = eventlog::decode(e.event_type, e.data).summary();
        outln!("{:>4} {:<6} {:<34} {}  {}", e.index, rtmr_label(e.mr_index), e.type_name(), out.paint(Style::Dim, &d), data);
    }
    for (i, r) in replay.rtmrs.0.iter().enumerate() {
        outln!("RTMR{i} {}", r.hex());
    }
}

fn print_checks(kind: &str, checks: &[RegisterCheck], out: &Out) {
    for c in checks {
        match c {
            RegisterCheck::Match { rtmr } => outln!("RTMR{rtmr} {}", out.paint(Style::Good, &format!("matches the {kind}"))),
            RegisterCheck::MatchesPrefix { rtmr, after_event, later_events } => outln!(
                "RTMR{rtmr} {}: the {kind} holds the value after event {after_event}; events {later_events:?} are in the log but not in the {kind}",
                out.paint(Style::Bad, "differs")
            ),
            RegisterCheck::Mismatch { rtmr, replayed, quoted } => outln!(
                "RTMR{rtmr} {}: the log replays to {}, the {kind} has {} (no prefix of the log's RTMR{rtmr} events reaches it)",
                out.paint(Style::Bad, "differs"),
                replayed.hex(),
                quoted.hex()
            ),
        }
    }
    outln!("(the {kind}'s signature is not checked here; `prelaunch verify` appraises it)");
}

fn document(log: &EventLog<'_>, replay: &Replay, checks: Option<&Vec<RegisterCheck>>) -> Value {
    let events: Vec<Value> = log
        .events
        .iter()
        .zip(&replay.steps)
        .map(|(e, s)| {
            let digests: serde_json::Map<String, Value> =
                e.digests.iter().map(|(a, d)| (raw::alg_name(*a).to_owned(), json!(hex::encode(d)))).collect();
            json!({
                "index": e.index, "offset": e.offset, "mr_index": e.mr_index, "rtmr": s.rtmr,
                "event_type": e.event_type, "type_name": e.type_name(), "digests": digests,
                "data": eventlog::decode(e.event_type, e.data), "data_hex": hex::encode(e.data),
                "rtmr_after": s.after.map(|r| r.hex()),
            })
        })
        .collect();
    let mut doc = json!({
        "spec_id": {"version": format!("{}.{}", log.spec_id.spec_version.0, log.spec_id.spec_version.1), "errata": log.spec_id.spec_version.2,
            "algorithms": log.spec_id.algorithms.iter().map(|a| raw::alg_name(a.alg)).collect::<Vec<_>>()},
        "events": events,
        "rtmr0": replay.rtmrs.0[0].hex(), "rtmr1": replay.rtmrs.0[1].hex(), "rtmr2": replay.rtmrs.0[2].hex(), "rtmr3": replay.rtmrs.0[3].hex(),
        "problems": replay.problems,
    });
    if let Some(c) = checks {
        doc["report"] = json!({"checks": c, "matches": c.iter().all(RegisterCheck::is_match), "signature_checked": false});
    }
    doc
}
