//! `prelaunch measure`: the launch digest, accepting sev-snp-measure's arguments verbatim.

use clap::{Args, ValueEnum};
use prelaunch_measure::digest::{self, Measurement};
use prelaunch_measure::hash::Sha256;
use prelaunch_measure::plan::{LaunchPlan, Mode, PAGE_SIZE, Source};
use prelaunch_measure::snp;
use serde_json::{Value, json};

use crate::error::{CliError, usage};
use crate::launch::{Files, Launch, LaunchArgs, ModeArg};
use crate::outln;
use crate::output::{Doc, Out, hex, print_doc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Hex,
    Base64,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Measurement output format.
    #[arg(long, value_enum, default_value = "hex")]
    pub output_format: OutputFormat,
    /// Write the measured VMSAs to vmsa<N>.bin (seves, snp and snp:svsm).
    #[arg(long)]
    pub dump_vmsa: bool,
    /// List the ordered updates as the platform sees them, merged into runs, with the digest after each.
    #[arg(long)]
    pub explain: bool,
    /// Measure what this QEMU command line launches (FILE, or - for stdin): one argument per line
    /// as `qemu-args` writes it, or a shell command line. Options it does not model are refused;
    /// the launch arguments come from it (--qemu-version still picks the release).
    #[arg(long, value_name = "FILE")]
    pub qemu_cmdline: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub rtmr: super::measure_tdx::RtmrArgs,
    #[command(flatten)]
    pub igvm: super::igvm::IgvmSource,
}

/// `--qemu-cmdline` stands in for the launch arguments: `--mode` takes a placeholder.
pub fn tweak(cmd: clap::Command) -> clap::Command {
    cmd.mut_arg("mode", |a| {
        a.required(false).required_unless_present("qemu_cmdline").default_value_if(
            "qemu_cmdline",
            clap::builder::ArgPredicate::IsPresent,
            "snp",
        )
    })
}

pub fn run(a: &MeasureArgs, out: &Out) -> Result<(), CliError> {
    if let Some(p) = &a.igvm.igvm {
        return super::igvm::measure(a, p, out);
    }
    if a.dump_vmsa && !matches!(a.launch.mode, ModeArg::Seves | ModeArg::Snp | ModeArg::SnpSvsm) {
        return usage("--dump-vmsa is not available in the selected mode (seves, snp and snp:svsm only)");
    }
    let launch_args = match &a.qemu_cmdline {
        Some(p) => super::qemu_cmdline::launch_args(p, &a.launch)?,
        None => a.launch.clone(),
    };
    let a = &MeasureArgs { launch: launch_args, qemu_cmdline: None, ..a.clone() };
    let files = Files::default();
    let launch = a.launch.build(out, &files)?;
    let plan = &launch.plan;
    let fail = |e: prelaunch_measure::plan::PlanError| CliError::Failed(format!("{}: {e}", launch.firmware_path().display()));

    // --explain: the table on stdout, or inside the JSON document (never both on stdout).
    let explained = if a.explain { Some(explain(&launch).map_err(fail)?) } else { None };
    if let (Some(rows), false) = (&explained, a.output_format == OutputFormat::Json) {
        print_explain(rows);
    }
    if plan.mode == Mode::Tdx && (a.rtmr.requested() || launch.args.kernel.is_some() || a.output_format == OutputFormat::Json) {
        return super::measure_tdx::run(&a.rtmr, &launch, a.output_format, a.explain, out);
    }
    if a.dump_vmsa {
        dump_vmsas(plan)?;
    }
    // A table of vCPU counts: one walk of the chain, one update per further vCPU.
    if !launch.vcpus.is_single() && matches!(plan.mode, Mode::Snp | Mode::SevEs) && a.launch.mode != ModeArg::SnpOvmfHash {
        let started = std::time::Instant::now();
        let table = digest::vcpu_table(plan, launch.resume, &launch.vcpus.0).map_err(fail)?;
        crate::detail::timing(out, &format!("{} digests folded", table.len()), started);
        return print_table(&launch, a.output_format, table, explained);
    }

    let started = std::time::Instant::now();
    let mut firmware_digest: Option<Measurement> = None;
    let prefix = snp::digest::firmware_prefix(plan);
    let m = digest::fold_observed(
        plan,
        launch.resume,
        Some(&mut |i, m| {
            if i + 1 == prefix && plan.mode == Mode::Snp {
                firmware_digest = Some(*m);
            }
        }),
    )
    .map_err(fail)?;
    crate::detail::timing(out, "digest folded", started);
    if let Some(r) = launch.resume {
        firmware_digest = Some(Measurement::Sha384(r.ld));
    }
    match a.output_format {
        // sev-snp-measure prints the snp:ovmf-hash result as hex whatever the format.
        _ if a.launch.mode == ModeArg::SnpOvmfHash && a.output_format != OutputFormat::Json => outln!("{}", m.hex()),
        OutputFormat::Json => {
            let mut doc = document(&launch, Some(&m), firmware_digest);
            if let Some(rows) = explained {
                doc["explain"] = Value::Array(rows);
            }
            print_doc(Doc::MEASURE, &doc)?
        }
        f => {
            let s = if f == OutputFormat::Hex { m.hex() } else { m.base64() };
            if out.verbose > 0 {
                outln!("Calculated {} guest measurement: {s}", a.launch.mode.peer_name());
            } else {
                outln!("{s}");
            }
        }
    }
    Ok(())
}

fn print_table(
    launch: &Launch<'_>,
    format: OutputFormat,
    rows: Vec<(u32, Measurement)>,
    explained: Option<Vec<Value>>,
) -> Result<(), CliError> {
    match format {
        OutputFormat::Json => {
            let mut doc = document(launch, None, None);
            doc["vcpu_table"] = rows.iter().map(|(n, m)| json!({"vcpus": n, "digest": m.hex()})).collect();
            if let Some(rows) = explained {
                doc["explain"] = Value::Array(rows);
            }
            print_doc(Doc::MEASURE, &doc)
        }
        f => {
            for (n, m) in rows {
                outln!("{n}\t{}", if f == OutputFormat::Hex { m.hex() } else { m.base64() });
            }
            Ok(())
        }
    }
}

fn dump_vmsas(plan: &LaunchPlan) -> Result<(), CliError> {
    for op in plan.operations.iter().filter(|o| o.is_vmsa()) {
        if let (Source::Page { page }, Some(i)) = (&op.source, op.vcpu) {
            let bytes = &plan.pages[page].0;
            prelaunch_files::write_atomic(format!("vmsa{i}.bin"), bytes)?;
        }
    }
    Ok(())
}

/// Everything a pipeline needs to record what was measured (schema/measure.v1.schema.json): `m` is
/// None for a vCPU table, whose digests and counts the caller adds. Absent values are left out,
/// never null.
fn document(launch: &Launch<'_>, m: Option<&Measurement>, firmware_digest: Option<Measurement>) -> Value {
    let a = &launch.args;
    let file = |p: &std::path::Path, bytes: &[u8]| json!({"path": p.display().to_string(), "size": bytes.len(), "sha256": hex::encode(Sha256::digest(bytes))});
    let mut inputs = serde_json::Map::new();
    inputs.insert("ovmf".into(), file(launch.firmware_path(), launch.firmware));
    if let Some(s) = launch.svsm {
        inputs.insert("svsm".into(), file(s.path(), s));
    }
    if let Some(p) = &launch.payload {
        inputs.insert("kernel".into(), hashed(p.kernel.as_deref(), &p.hashes.kernel));
        inputs.insert("initrd".into(), hashed(p.initrd.as_deref(), &p.hashes.initrd));
        let mut append = json!({"sha256_with_nul": hex::encode(p.hashes.cmdline)});
        if let Some(b) = &p.append {
            append["value"] = String::from_utf8_lossy(b).into_owned().into();
        }
        inputs.insert("append".into(), append);
    }
    let mut params = json!({});
    match launch.plan.mode {
        Mode::Tdx => {
            let t = launch.plan.tdx.unwrap_or_default();
            params = json!({"tdx_page_order": t.page_order, "tdx_page_aug": t.page_aug,
                "sections_measured": launch.plan.operations.iter().map(|o| json!({"gpa": o.gpa, "len": o.len, "kind": o.kind.name()})).collect::<Vec<_>>()});
            if let Some(g) = t.td_hob_gpa {
                params["td_hob_gpa"] = g.into();
            }
        }
        Mode::Sev => {}
        _ => {
            params = json!({"vcpu_sig": launch.vcpu_sig, "vmm_type": launch.vmm.name(),
                "guest_features": if launch.plan.mode == Mode::Snp { a.guest_features } else { 0 }});
            if launch.vcpus.is_single() {
                params["vcpus"] = launch.vcpus.max().into();
            }
            if let Some(t) = &a.vcpu_type {
                params["vcpu_type"] = t.as_str().into();
            }
            if let Some(h) = &a.snp_ovmf_hash {
                params["snp_ovmf_hash"] = h.trim().to_ascii_lowercase().into();
            }
        }
    }
    if let (Some(vs), ModeArg::SnpSvsm) = (launch.vars_size, a.mode) {
        params["vars_size"] = json!(vs);
    }
    let mut doc = json!({"mode": a.mode_name(), "parameters": params, "inputs": inputs});
    if let Some(m) = m {
        doc["digest"] = m.hex().into();
    }
    if let Some(d) = firmware_digest {
        doc["firmware_digest"] = d.hex().into();
    }
    doc
}

/// A payload file by SHA-256, with its path when one was given.
fn hashed(path: Option<&std::path::Path>, sha: &[u8; 32]) -> Value {
    let mut v = json!({"sha256": hex::encode(sha)});
    if let Some(p) = path {
        v["path"] = p.display().to_string().into();
    }
    v
}

/// `--explain`: one row per run: index, GPA range (or the VMSA's vCPU), kind, pages, source and the
/// digest after the run (as in the JSON document's `explain`).
fn explain(launch: &Launch<'_>) -> Result<Vec<Value>, prelaunch_measure::plan::PlanError> {
    let plan = &launch.plan;
    let mut after: Vec<String> = vec![String::new(); plan.operations.len()];
    digest::fold_observed(plan, launch.resume, Some(&mut |i, m: &Measurement| after[i] = m.hex()))?;
    let skip = launch.resume.map_or(0, |r| r.after_ops);
    let rows = plan.operations.iter().enumerate().map(|(i, op)| {
        let source = match &op.source {
            Source::None => "-".to_string(),
            Source::File { file, offset } => format!("{file}+{}", hex(*offset)),
            Source::Page { page } => format!("generated {page}"),
        };
        let d = if i < skip { "from --snp-ovmf-hash".to_string() } else { std::mem::take(&mut after[i]) };
        let mut row = json!({"index": i, "gpa": op.gpa, "end": op.end(), "kind": op.kind.name(), "pages": op.len.div_ceil(PAGE_SIZE),
            "source": source, "digest_after": d});
        if let (true, Some(v)) = (op.is_vmsa(), op.vcpu) {
            row["vcpu"] = v.into();
        }
        row
    });
    Ok(rows.collect())
}

/// The `--explain` table on stdout.
fn print_explain(rows: &[Value]) {
    outln!("{:<4} {:<33} {:<15} {:>6}  {:<24} digest after", "#", "GPA range", "kind", "pages", "source");
    let n = |r: &Value, k: &str| r[k].as_u64().unwrap_or_default();
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or_default().to_owned();
    for r in rows {
        let range = match r.get("vcpu") {
            Some(v) => format!("VMSA vCPU {v} (at {})", hex(n(r, "gpa"))),
            None => format!("[{}, {})", hex(n(r, "gpa")), hex(n(r, "end"))),
        };
        let d = if s(r, "digest_after") == "from --snp-ovmf-hash" { "(from --snp-ovmf-hash)".into() } else { s(r, "digest_after") };
        outln!("{:<4} {range:<33} {:<15} {:>6}  {:<24} {d}", n(r, "index"), s(r, "kind"), n(r, "pages"), s(r, "source"));
    }
}
