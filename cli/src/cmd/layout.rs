//! `prelaunch layout`: the launch plan as the loader will execute it.

use clap::Args;
use prelaunch_measure::digest;
use prelaunch_measure::plan::{PAGE_SIZE, Source, stats};
use serde_json::json;

use crate::error::{CliError, usage};
use crate::launch::{Files, LaunchArgs};
use crate::outln;
use crate::output::{Doc, Out, Style, hex, print_doc};

#[derive(Args, Debug)]
pub struct LayoutArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Print the plan as JSON (the document `prelaunch load --plan` reads).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &LayoutArgs, out: &Out) -> Result<(), CliError> {
    // A plan holds one vCPU count; a list would silently lay out its largest.
    if a.launch.vcpus.as_ref().is_some_and(|v| !v.is_single()) {
        return usage("layout shows one plan: give --vcpus a single count (`measure --vcpus 1,8` gives a digest per count)");
    }
    let files = Files::default();
    let launch = a.launch.build(out, &files)?;
    let d = digest::fold_observed(&launch.plan, launch.resume, None)
        .map_err(|e| CliError::Failed(format!("{}: {e}", launch.firmware_path().display())))?;
    // The plan as it leaves the process: every input identified by its SHA-256.
    let mut plan = launch.plan.portable();
    plan.digest = Some(d.hex());
    let st = stats::stats(&plan);
    if a.json {
        let mut doc = serde_json::to_value(&plan).map_err(|e| CliError::Failed(e.to_string()))?;
        doc["stats"] = json!(st);
        return print_doc(Doc::PLAN, &doc);
    }
    let b = |s: &str| out.paint(Style::Bold, s);
    outln!("{} {} ({})", b("Launch plan"), plan.mode.name(), launch.firmware_path().display());
    outln!("{}", b("Regions (2 MiB aligned; one guest_memfd each)"));
    for (r, s) in plan.regions.iter().zip(&st.regions) {
        outln!(
            "  {:<18} [{:>12}, {:>12})  {:>6} KiB  gmem+{}  {} of {} 2 MiB frames hold only file bytes",
            r.name,
            hex(r.gpa),
            hex(r.end()),
            r.size / 1024,
            hex(r.gmem_offset),
            s.frames_file_only,
            s.frames_2m
        );
    }
    outln!("{}", b("Populate runs"));
    for (i, op) in plan.operations.iter().enumerate() {
        if op.is_vmsa() {
            continue;
        }
        let src = match &op.source {
            Source::None => "-".into(),
            Source::File { file, offset } => format!("{file}+{}", hex(*offset)),
            Source::Page { page } => format!("generated {page}"),
        };
        outln!(
            "  {i:<3} [{:>12}, {:>12})  {:<15} {:>5} pages  {src}",
            hex(op.gpa),
            hex(op.end()),
            op.kind.name(),
            op.len.div_ceil(PAGE_SIZE)
        );
    }
    if st.vmsas > 0 {
        outln!("  + {} VMSA(s), measured at launch finish", st.vmsas);
    }
    outln!("{}", b("Statistics"));
    outln!("  populate calls     {} in 4 KiB steps, {} as merged runs", st.calls_4k, st.calls_merged);
    outln!("  file bytes         {} KiB, {:.0}% of them in whole 2 MiB frames", st.file_bytes / 1024, st.whole_frame_share * 100.0);
    outln!("  digest             {}", plan.digest.as_deref().unwrap_or("-"));
    Ok(())
}
