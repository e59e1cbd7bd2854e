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
use crate::output::{Out, hex, print_json};

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

    if a.explain {
        explain(&launch).map_err(fail)?;
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
        return print_table(&launch, a.output_format, table);
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
        OutputFormat::Json => print_json(&document(&launch, &m, firmware_digest))?,
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

fn print_table(launch: &Launch<'_>, format: OutputFormat, rows: Vec<(u32, Measurement)>) -> Result<(), CliError> {
    match format {
        OutputFormat::Json => {
            let mut doc = document(launch, &rows[0].1, None);
            doc["digest"] = Value::Null;
            doc["vcpu_table"] = rows.iter().map(|(n, m)| json!({"vcpus": n, "digest": m.hex()})).collect();
            print_json(&doc)
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

/// Everything a pipeline needs to record what was measured.
fn document(launch: &Launch<'_>, m: &Measurement, firmware_digest: Option<Measurement>) -> Value {
    let a = &launch.args;
    let file = |p: &std::path::Path, bytes: &[u8]| json!({"path": p.display().to_string(), "size": bytes.len(), "sha256": hex::encode(Sha256::digest(bytes))});
    let mut inputs = serde_json::Map::new();
    inputs.insert("ovmf".into(), file(launch.firmware_path(), launch.firmware));
    if let Some(s) = launch.svsm {
        inputs.insert("svsm".into(), file(s.path(), s));
    }
    if let Some(p) = &launch.payload {
        inputs.insert(
            "kernel".into(),
            json!({"path": p.kernel.as_ref().map(|k| k.display().to_string()), "sha256": hex::encode(p.hashes.kernel)}),
        );
        inputs.insert(
            "initrd".into(),
            json!({"path": p.initrd.as_ref().map(|k| k.display().to_string()), "sha256": hex::encode(p.hashes.initrd)}),
        );
        inputs.insert(
            "append".into(),
            json!({"value": p.append.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()), "sha256_with_nul": hex::encode(p.hashes.cmdline)}),
        );
    }
    let mut params = json!({});
    match launch.plan.mode {
        Mode::Tdx => {
            let t = launch.plan.tdx.unwrap_or_default();
            params = json!({"tdx_page_order": t.page_order, "tdx_page_aug": t.page_aug, "td_hob_gpa": t.td_hob_gpa,
                "sections_measured": launch.plan.operations.iter().map(|o| json!({"gpa": o.gpa, "len": o.len, "kind": o.kind.name()})).collect::<Vec<_>>()});
        }
        Mode::Sev => {}
        _ => {
            params = json!({"vcpus": launch.vcpus.max(), "vcpu_sig": launch.vcpu_sig, "vcpu_type": a.vcpu_type, "vmm_type": launch.vmm.name(),
                "guest_features": if launch.plan.mode == Mode::Snp { a.guest_features } else { 0 }, "snp_ovmf_hash": a.snp_ovmf_hash});
        }
    }
    if let (Some(vs), ModeArg::SnpSvsm) = (launch.vars_size, a.mode) {
        params["vars_size"] = json!(vs);
    }
    json!({
        "mode": a.mode_name(),
        "digest": m.hex(),
        "firmware_digest": firmware_digest.map(|d| d.hex()),
        "parameters": params,
        "inputs": inputs,
    })
}

/// `--explain`: one line per run: GPA range, kind, pages, source, digest after the run.
fn explain(launch: &Launch<'_>) -> Result<(), prelaunch_measure::plan::PlanError> {
    let plan = &launch.plan;
    let mut after: Vec<String> = vec![String::new(); plan.operations.len()];
    digest::fold_observed(plan, launch.resume, Some(&mut |i, m: &Measurement| after[i] = m.hex()))?;
    let skip = launch.resume.map_or(0, |r| r.after_ops);
    outln!("{:<4} {:<33} {:<15} {:>6}  {:<24} digest after", "#", "GPA range", "kind", "pages", "source");
    for (i, op) in plan.operations.iter().enumerate() {
        let range = if op.is_vmsa() {
            format!("VMSA vCPU {} (at {})", op.vcpu.unwrap_or(0), hex(op.gpa))
        } else {
            format!("[{}, {})", hex(op.gpa), hex(op.end()))
        };
        let src = match &op.source {
            Source::None => "-".to_string(),
            Source::File { file, offset } => format!("{file}+{}", hex(*offset)),
            Source::Page { page } => format!("generated {page}"),
        };
        let d = if i < skip { "(from --snp-ovmf-hash)".into() } else { after[i].clone() };
        outln!("{i:<4} {range:<33} {:<15} {:>6}  {src:<24} {d}", op.kind.name(), op.len.div_ceil(PAGE_SIZE));
    }
    Ok(())
}
