//! `prelaunch load`: executes a launch plan against KVM guest_memfd memory, has the platform measure
//! what was really loaded, and compares that digest with the expected one (measure's fold of the
//! plan, or `--expect`). Exit 3 on a mismatch, naming the first page that differs.
//!
//! JSON (`--json`): `digest`, `expected`, `expected_from`, `match`, `memory` (`guest_memfd`, or
//! `memfd` where /dev/kvm is unusable, with `memory_fallback` saying why), `platform`, `conversion`,
//! `populate`, `guest_check`, `first_difference` and `timings_us`: the wall-clock time of each phase
//! (create, map, copy, convert, populate, finish, guest_check) in integer microseconds.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use prelaunch_files::{Input, Kind, show};
use prelaunch_loader::guest_check::GuestCheckReport;
use prelaunch_loader::load::DEFAULT_MAX_MEMORY;
use prelaunch_loader::memory::convert::ConversionPath;
use prelaunch_loader::platform::DigestSource;
use prelaunch_loader::record::{Difference, first_difference};
use prelaunch_loader::{CheckedPlan, HwOptions, LoadOptions, LoadReport, MemoryChoice, MemoryKind, PlatformChoice, SimFaults};
use prelaunch_measure::idblock::IdKey;
use prelaunch_measure::plan::{InputKind, Inputs, LaunchPlan};
use prelaunch_measure::{Measurement, PAGE_SIZE, digest};
use serde_json::json;

use crate::error::{CliError, Context, failed, usage};
use crate::launch::{Files, LaunchArgs, parse_int};
use crate::output::{Doc, Out, Style, hex, print_doc};
use crate::{errln, outln};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformArg {
    /// Software model of the AMD firmware and the TDX module (reads the loaded bytes back).
    Sim,
    /// Real SEV-SNP or TDX through KVM.
    Hw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MemoryArg {
    /// guest_memfd; memfd (with a warning) where /dev/kvm is unusable.
    Auto,
    GuestMemfd,
    Memfd,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// A plan from `prelaunch layout --json` instead of one built from the arguments; --ovmf (and
    /// --svsm) name its input files, which must be the ones it was made for.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// sim: software model of the firmware; hw: the real SEV-SNP or TDX launch through KVM.
    #[arg(long, value_enum)]
    pub platform: PlatformArg,
    /// The expected digest (hex) instead of the fold of the plan.
    #[arg(long, value_name = "HEX")]
    pub expect: Option<String>,
    /// Run a vCPU that reads the loaded bytes through guest-physical addresses and compare its
    /// checksum with the host's.
    #[arg(long)]
    pub check_guest: bool,
    /// Print JSON; timings are integer microseconds.
    #[arg(long)]
    pub json: bool,
    /// Guest memory backend.
    #[arg(long, value_enum, default_value = "auto")]
    pub memory: MemoryArg,
    /// hw, SNP: the ID key (PEM, ECDSA P-384) signing the ID block; an ephemeral key otherwise.
    #[arg(long, value_name = "PEM")]
    pub id_key: Option<PathBuf>,
    /// With --platform hw: report what this host offers for SEV-SNP and TDX (VM types, guest_memfd
    /// flags, in-place conversion, VM-level attributes, SEV and TDX capabilities, /dev/sev) and, in
    /// one line each, whether and how each can launch; no launch arguments are needed.
    #[arg(long)]
    pub probe: bool,
    /// The most guest memory (bytes, over the regions the plan populates) the load may map.
    #[arg(long, value_name = "BYTES", value_parser = parse_int, default_value_t = DEFAULT_MAX_MEMORY, hide_short_help = true)]
    pub max_guest_memory: u64,
    /// sim fault injection, for testing: partial=PAGES, eintr=EVERY, eagain=EVERY, corrupt=GPA.
    #[arg(long, value_name = "FAULT", hide = true)]
    pub sim_fault: Vec<String>,
}

/// At most this many `--sim-fault`s (each one a test's deliberate fault, a handful in practice).
pub const MAX_SIM_FAULTS: usize = 64;

/// A plan from `--plan` and the files named for its inputs. The strict check (inputs' sizes and
/// SHA-256 included) runs when it becomes a [`CheckedPlan`](prelaunch_loader::CheckedPlan).
fn read_plan<'f>(a: &LoadArgs, path: &Path, out: &Out, files: &'f Files) -> Result<(LaunchPlan, Inputs<'f>), CliError> {
    let text = Input::open(path, Kind::PLAN)?;
    let plan = LaunchPlan::from_json(&text).in_file(path)?;
    if plan.mode != a.launch.mode.mode() {
        return usage(format!("{}: the plan is for mode {}, not --mode {}", show(path), plan.mode.name(), a.launch.mode_name()));
    }
    let mut inputs = Inputs::new().with(InputKind::Firmware, files.firmware(&a.launch.firmware_path(out)?)?);
    for f in &plan.inputs {
        match (f.kind, &a.launch.svsm) {
            (InputKind::Firmware, _) => {}
            (InputKind::Svsm, Some(p)) => inputs = inputs.with(InputKind::Svsm, files.svsm(p)?),
            (InputKind::Svsm, None) => return usage(format!("{}: the plan reads an SVSM binary: give it with --svsm", show(path))),
            (kind, _) => return usage(format!("{}: the plan reads a {kind} input, which `load` cannot be given yet", show(path))),
        }
    }
    Ok((plan, inputs))
}

fn build<'f>(a: &LoadArgs, out: &Out, files: &'f Files) -> Result<prelaunch_loader::CheckedPlan<'f>, CliError> {
    if a.launch.snp_ovmf_hash.is_some() {
        return usage(
            "--snp-ovmf-hash replaces the firmware pages by a precomputed digest; load measures the bytes it loads, so it cannot take one",
        );
    }
    if a.launch.vcpus.as_ref().is_some_and(|v| !v.is_single()) {
        return usage("load launches one guest: give --vcpus a single count");
    }
    Ok(a.launch.build(out, files)?.plan)
}

fn parse_expect(s: &str, folded: &Measurement) -> Result<Measurement, CliError> {
    let b = super::verify::parse_expected(s)?;
    match folded {
        Measurement::Sha384(_) if b.len() == 48 => {
            let mut d = [0u8; 48];
            d.copy_from_slice(&b);
            Ok(Measurement::Sha384(d))
        }
        Measurement::Sha256(_) if b.len() == 32 => {
            let mut d = [0u8; 32];
            d.copy_from_slice(&b);
            Ok(Measurement::Sha256(d))
        }
        _ => usage(format!("--expect: {} bytes, but this mode's digest has {}", b.len(), folded.as_bytes().len())),
    }
}

/// One `--sim-fault NAME=VALUE`: partial=PAGES, eintr=EVERY, eagain=EVERY, corrupt=GPA.
fn add_fault(faults: &mut SimFaults, spec: &str) -> Result<(), CliError> {
    let bad = |why: String| CliError::Usage(format!("--sim-fault {spec:?}: {why}"));
    let (name, value) = spec.split_once('=').ok_or_else(|| bad("expected NAME=VALUE".into()))?;
    let n = parse_int(value).map_err(bad)?;
    let every = || u32::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| bad("expected a count from 1".into()));
    match name.trim() {
        // Zero pages per call would be no progress at all, not a partial call: refused, not rounded.
        "partial" if n == 0 => return Err(bad("expected a page count from 1".into())),
        "partial" => faults.partial_pages = Some(n),
        "eintr" => faults.eintr_every = Some(every()?),
        "eagain" => faults.eagain_every = Some(every()?),
        "corrupt" => faults.corrupt.push(n),
        other => return Err(bad(format!("unknown fault {other:?}; known: partial=PAGES, eintr=EVERY, eagain=EVERY, corrupt=GPA"))),
    }
    Ok(())
}

/// `--probe` stands alone: the launch arguments become optional (`--mode` takes a placeholder).
pub fn tweak(cmd: clap::Command) -> clap::Command {
    cmd.mut_arg("mode", |a| {
        a.required(false).required_unless_present("probe").default_value_if("probe", clap::builder::ArgPredicate::IsPresent, "snp")
    })
}

pub fn run(a: &LoadArgs, out: &Out) -> Result<(), CliError> {
    if a.probe {
        if a.platform != PlatformArg::Hw {
            return usage("--probe reports what this host offers for --platform hw");
        }
        return super::probe::run(a.json, out);
    }
    if a.sim_fault.len() > MAX_SIM_FAULTS {
        return usage(format!("{} --sim-fault options; at most {MAX_SIM_FAULTS}", a.sim_fault.len()));
    }
    let mut faults = SimFaults::default();
    for f in &a.sim_fault {
        add_fault(&mut faults, f)?;
    }
    if a.platform == PlatformArg::Hw && !faults.is_empty() {
        return usage("--sim-fault only applies to --platform sim");
    }
    if a.platform == PlatformArg::Sim && a.id_key.is_some() {
        return usage("--id-key signs the ID block of a --platform hw SNP launch; the sim platform takes none");
    }
    let files = Files::default();
    let checked = match &a.plan {
        // The strict check (inputs' sizes and SHA-256 included) before anything else.
        Some(p) => {
            let (plan, inputs) = read_plan(a, p, out, &files)?;
            CheckedPlan::new(plan, inputs).in_file(p)?
        }
        None => build(a, out, &files)?,
    };
    let plan = &checked;
    let origin = a.plan.clone().or_else(|| files.opened_firmware().map(|f| f.path().to_owned())).unwrap_or_default();
    let folded = digest::fold(&checked);
    if let Some(recorded) = plan.digest.as_deref().filter(|d| !d.eq_ignore_ascii_case(&folded.hex())) {
        return failed(format!(
            "{}: the plan records digest {recorded}, but its operations fold to {folded}: it was edited",
            show(&origin)
        ));
    }
    let (expected, expected_from) = match &a.expect {
        Some(s) => (parse_expect(s, &folded)?, "--expect"),
        None => (folded, "fold"),
    };

    let platform = match a.platform {
        PlatformArg::Sim => PlatformChoice::Sim(faults),
        PlatformArg::Hw => {
            let id_key = match &a.id_key {
                Some(p) => Some(IdKey::from_pem_bytes(&Input::open(p, Kind::KEY)?).in_file(p)?),
                None => None,
            };
            PlatformChoice::Hw(Box::new(HwOptions { expected: Some(expected), id_key }))
        }
    };
    let memory = match a.memory {
        MemoryArg::Auto => MemoryChoice::Auto,
        MemoryArg::GuestMemfd => MemoryChoice::GuestMemfd,
        MemoryArg::Memfd => MemoryChoice::Memfd,
    };
    let opts = LoadOptions { memory, platform, check_guest: a.check_guest, max_memory: a.max_guest_memory };
    let report = prelaunch_loader::load(&checked, opts)
        .map_err(|e| CliError::Failed(format!("--platform {}: {e}", if a.platform == PlatformArg::Hw { "hw" } else { "sim" })))?;
    if report.memory == MemoryKind::Memfd {
        // Loud on purpose (even with -q): the guest_memfd path was not exercised.
        errln!(
            "prelaunch: warning: memory: memfd, not guest_memfd ({}); the load ran without KVM",
            report.memory_fallback.as_deref().unwrap_or("no KVM")
        );
    }

    let matched = report.digest.map(|d| d == expected);
    let difference = if matched == Some(false) { first_difference(&checked, &report.record) } else { None };
    let guest_bad = report.guest_check.as_ref().is_some_and(|g| !g.ok());
    if a.json {
        print_doc(Doc::LOAD, &json_report(&report, &expected, expected_from, matched, difference.as_ref()))?;
    } else {
        print_human(out, &report, &expected, expected_from, matched, difference.as_ref());
    }
    if matched == Some(false) || guest_bad { Err(CliError::Mismatch(String::new())) } else { Ok(()) }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn json_report(r: &LoadReport, expected: &Measurement, from: &str, matched: Option<bool>, diff: Option<&Difference>) -> serde_json::Value {
    let mut timings = serde_json::Map::new();
    for (name, d) in r.timings.phases() {
        timings.insert(name.into(), json!(micros(d)));
    }
    if let Some(d) = r.timings.guest_check {
        timings.insert("guest_check".into(), json!(micros(d)));
    }
    json!({
        "digest": r.digest.map(|d| d.hex()),
        "expected": expected.hex(),
        "expected_from": from,
        "match": matched,
        "digest_source": r.digest_source,
        "memory": r.memory.name(),
        "memory_fallback": r.memory_fallback,
        "regions": r.regions,
        "unpopulated_regions": r.unpopulated_regions,
        "platform": r.platform,
        "platform_detail": r.platform_detail,
        "copied_bytes": r.copied_bytes,
        "conversion": r.conversion,
        "populate": r.populate,
        "guest_check": r.guest_check.as_ref().map(|g| json!({"ok": g.ok(), "report": g})),
        "first_difference": diff.map(|d| json!({"gpa": d.gpa(), "index": d.index, "detail": d.to_string(), "expected": d.expected, "found": d.found})),
        "timings_us": timings,
    })
}

fn print_human(out: &Out, r: &LoadReport, expected: &Measurement, from: &str, matched: Option<bool>, diff: Option<&Difference>) {
    let b = |s: &str| out.paint(Style::Bold, s);
    let memory = match &r.memory_fallback {
        Some(why) => out.paint(Style::Warn, &format!("memfd (NOT guest_memfd: {why})")),
        None if r.unpopulated_regions > 0 => format!(
            "{} ({} regions, 2 MiB-aligned host mappings; {} regions nothing populates were not mapped)",
            r.memory.name(),
            r.regions.len(),
            r.unpopulated_regions
        ),
        None => format!("{} ({} regions, 2 MiB-aligned host mappings)", r.memory.name(), r.regions.len()),
    };
    outln!("{}     {memory}", b("memory"));
    outln!("{}   {}: {}", b("platform"), r.platform, r.platform_detail);
    let convert = match r.conversion.path {
        ConversionPath::Modelled => format!("modelled by the sim platform (host: {})", r.conversion.host.describe()),
        ConversionPath::NotNeeded => "not needed (SEV and SEV-ES encrypt in place)".into(),
        p => format!("{} over {} ranges ({} EAGAIN retries)", p.name(), r.conversion.ranges, r.conversion.retries),
    };
    outln!("{}    {convert}", b("convert"));
    let p = &r.populate;
    outln!(
        "{}   {}, {} calls ({} partial, {} retried)",
        b("populate"),
        if p.in_place { "in place" } else { "from source buffers" },
        p.calls,
        p.partial,
        p.retries
    );
    match (&r.digest, &r.digest_source) {
        (Some(d), DigestSource::IdBlockEnforced) => outln!("{}     {d} (the firmware accepted the ID block carrying it)", b("digest")),
        (Some(d), _) => outln!("{}     {d}", b("digest")),
        (None, DigestSource::NotReadable(why)) => outln!("{}     not readable by the host: {why}", b("digest")),
        (None, _) => outln!("{}     -", b("digest")),
    }
    let from = if from == "fold" { "measure's fold of the plan" } else { "--expect" };
    outln!("{}   {expected} ({from})", b("expected"));
    let m = match matched {
        Some(true) => out.paint(Style::Good, "yes"),
        Some(false) => out.paint(Style::Bad, "NO"),
        None => "unknown (the platform does not report its digest)".into(),
    };
    outln!("{}      {m}", b("match"));
    if matched == Some(false) {
        match diff {
            Some(d) => outln!("{}      page {}: {d}", b("first"), hex(d.gpa())),
            None if r.record.is_empty() => outln!("{}      the platform keeps no per-page record to locate it", b("first")),
            None => outln!("{}      every page matches the plan: the difference is in the expected value", b("first")),
        }
    }
    if let Some(g) = &r.guest_check {
        print_guest(out, g);
    }
    let mut t: Vec<String> = r.timings.phases().iter().map(|(n, d)| format!("{n} {} us", micros(*d))).collect();
    if let Some(d) = r.timings.guest_check {
        t.push(format!("guest check {} us", micros(d)));
    }
    outln!("{}    {}", b("timings"), t.join(", "));
}

fn print_guest(out: &Out, g: &GuestCheckReport) {
    let b = out.paint(Style::Bold, "guest");
    match g.first_mismatch() {
        None => outln!(
            "{b}      {} pages sampled in {} range{} by a vCPU at GPA {}: guest and host checksums agree",
            g.pages,
            g.ranges.len(),
            if g.ranges.len() == 1 { "" } else { "s" },
            hex(g.probe_gpa)
        ),
        Some(r) => outln!(
            "{b}      {}: the vCPU read checksum {:#018x} in [{}, +{:#x}), the host expects {:#018x}",
            out.paint(Style::Bad, "DIFFERS"),
            r.guest,
            hex(r.gpa),
            r.pages * PAGE_SIZE,
            r.host
        ),
    }
    for s in &g.skipped {
        outln!("           not sampled: {s}");
    }
}
