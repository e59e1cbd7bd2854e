//! `prelaunch diagnose`: which launch configuration produced a report's measurement?
//!
//! The firmware pages are hashed once; every candidate configuration resumes the chain after them,
//! and each (VMM, vCPU signature, guest features, kernel) combination is one walk that yields the
//! digest for every vCPU count from 1 to the maximum.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::Args;
use prelaunch_files::{Input, Kind};
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::digest;
use prelaunch_measure::plan::sev::{AmdConfig, build, firmware_only};
use prelaunch_measure::plan::{self, MAX_VCPUS, Mode, PageAugPolicy, PageOrder, PlanError, TdxPolicy};
use prelaunch_measure::report::Evidence;
use prelaunch_measure::snp::digest::{Resume, firmware_prefix};
use prelaunch_measure::snp::{KernelHashes, Vmm, cpu};
use rayon::prelude::*;
use serde_json::json;

use crate::error::{CliError, Context, usage};
use crate::launch::parse_int;
use crate::output::{Doc, Out, Style, print_doc};
use crate::{err, errln, outln};

/// Guest feature values seen in practice: SNPActive alone, with DebugSwap (KVM's default since 6.7),
/// with SecureTSC, with the injection modes and with the IBS/BTB isolation bits.
pub const COMMON_FEATURES: &[u64] = &[0x1, 0x21, 0x221, 0x201, 0x3, 0x23, 0x5, 0x25, 0x9, 0x29, 0x11, 0x31, 0x41, 0x61, 0x81, 0xa1];

#[derive(Args, Debug)]
pub struct DiagnoseArgs {
    /// SNP attestation report, TDX quote or TDREPORT.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// The firmware the guest was launched with.
    #[arg(long, value_name = "PATH")]
    pub ovmf: PathBuf,
    /// Kernel for measured direct boot (SNP: tried with and without).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Initrd measured with --kernel.
    #[arg(long, value_name = "PATH", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line measured with --kernel (hashed with its NUL, never trimmed).
    #[arg(long, value_name = "CMDLINE", requires = "kernel", allow_hyphen_values = true)]
    pub append: Option<std::ffi::OsString>,
    /// Largest vCPU count searched.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=MAX_VCPUS as i64))]
    pub max_vcpus: u32,
    /// Further guest feature values to try (besides the common ones); at most 64.
    #[arg(long, value_name = "VALUE", value_parser = parse_int, num_args = 1..=MAX_EXTRA_FEATURES)]
    pub guest_features: Vec<u64>,
    /// Print a JSON document (schema/diagnose.v1.schema.json) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Each further guest feature value multiplies the search (one walk per VMM, vCPU type and kernel
/// choice): the list is bounded.
pub const MAX_EXTRA_FEATURES: usize = 64;

/// One candidate (all but the vCPU count, which each walk covers).
#[derive(Debug, Clone)]
struct Candidate {
    vmm: Vmm,
    sig: u32,
    features: u64,
    kernel: bool,
}

pub fn run(a: &DiagnoseArgs, out: &Out) -> Result<(), CliError> {
    // num_args bounds one occurrence; the option may be repeated.
    if a.guest_features.len() > MAX_EXTRA_FEATURES {
        return usage(format!("{} --guest-features values; at most {MAX_EXTRA_FEATURES}", a.guest_features.len()));
    }
    let (_, ev) = crate::cmd::verify::read_evidence(&a.report)?;
    let target = *ev.launch_measurement();
    let fw_file = Input::open(&a.ovmf, Kind::FIRMWARE)?;
    let img = FirmwareImage::parse(&fw_file).in_file(&a.ovmf)?;
    let started = Instant::now();
    let (found, searched, space, not_searched) = match ev {
        Evidence::SnpReport(_) => search_snp(a, &img, &target, out)?,
        _ => search_tdx(a, &img, &target)?,
    };
    let elapsed = started.elapsed();
    if a.json {
        let kind = match ev {
            Evidence::SnpReport(_) => "snp_report",
            Evidence::TdxQuote(_) => "tdx_quote",
            Evidence::TdReport(_) => "tdreport",
        };
        print_doc(
            Doc::DIAGNOSE,
            &json!({"kind": kind, "measurement": hex::encode(target), "match": !found.is_empty(),
            "configurations": found, "searched": searched, "search_space": space, "not_searched": not_searched,
            "elapsed_ms": elapsed.as_millis() as u64}),
        )?;
    } else {
        outln!("{} {}", out.paint(Style::Bold, ev.kind()), hex::encode(target));
        outln!("searched {searched} configurations ({space}) in {:.2} s", elapsed.as_secs_f64());
        for n in &not_searched {
            outln!("not searched: {n}");
        }
        for f in &found {
            outln!("{} {}", out.paint(Style::Good, "match:"), f["command"].as_str().unwrap_or_default());
        }
    }
    if found.is_empty() {
        return Err(CliError::Mismatch(format!(
            "no configuration in the search space produces {}: check that {} is the exact firmware the guest booted, and the kernel, initrd and command line",
            hex::encode(target),
            prelaunch_files::show(&a.ovmf)
        )));
    }
    Ok(())
}

/// The matches, how many configurations were computed, the space searched, what was left out and why.
type Found = (Vec<serde_json::Value>, usize, String, Vec<String>);

/// A candidate configuration for `vmm` with `sig` and `features`, `vcpus` VMSAs.
fn config(vmm: Vmm, sig: u32, features: u64, vcpus: u32, kernel: Option<KernelHashes>) -> AmdConfig<'static> {
    let mut cfg = AmdConfig::new(Mode::Snp);
    cfg.vmm = vmm;
    cfg.vcpu_sig = sig;
    cfg.guest_features = features;
    cfg.vcpus = vcpus;
    cfg.kernel = kernel;
    cfg
}

fn search_snp(a: &DiagnoseArgs, img: &FirmwareImage<'_>, target: &[u8; 48], out: &Out) -> Result<Found, CliError> {
    // Firmware that cannot launch as SEV-SNP at all explains no report: say why (exit 1) rather
    // than search a space no candidate of which builds.
    let support = img.support();
    if !support.snp.is_empty() {
        return Err(CliError::Failed(format!("{}: cannot be launched as SEV-SNP: {}", a.ovmf.display(), support.snp.join("; "))));
    }
    let payload = match &a.kernel {
        None => None,
        Some(k) => {
            let kb = Input::open(k, Kind::KERNEL)?;
            let ib = a.initrd.as_ref().map(|p| Input::open(p, Kind::INITRD)).transpose()?;
            use std::os::unix::ffi::OsStrExt;
            Some(KernelHashes::new(&kb, ib.as_deref(), a.append.as_ref().map(|s| s.as_bytes())))
        }
    };
    // The firmware pages are the same for every candidate: hash them once.
    let prefix = firmware_only(img).in_file(&a.ovmf)?;
    let fw_ld = prelaunch_measure::snp::digest::launch_digest(&prefix);
    // What fails to build for one candidate fails for all of its kind (the VMM, vCPU type and
    // features never make a build fail): one probe without and one with the kernel say which.
    build(img, &config(Vmm::Qemu, 0, 1, a.max_vcpus, None)).in_file(&a.ovmf)?;
    let mut not_searched = Vec::new();
    let payload = match payload.map(|p| build(img, &config(Vmm::Qemu, 0, 1, a.max_vcpus, Some(p))).map(|_| p)) {
        Some(Err(e)) => {
            out.warn(&format!("{}: kernel hashes not searched: {e}", a.ovmf.display()));
            not_searched.push(format!("kernel hashes: {e}"));
            None
        }
        p => p.transpose().unwrap_or_default(),
    };
    let mut features: Vec<u64> = COMMON_FEATURES.to_vec();
    for f in &a.guest_features {
        if !features.contains(f) {
            features.push(*f);
        }
    }
    let mut cands = Vec::new();
    for vmm in Vmm::ALL {
        // Where a VMM puts a fixed value in RDX, the vCPU type does not enter its VMSAs.
        let sigs: Vec<u32> = if vmm.measures_vcpu_sig() { cpu::distinct().iter().map(|c| c.1).collect() } else { vec![0] };
        for &sig in &sigs {
            for &f in &features {
                for kernel in [false, true] {
                    if kernel && payload.is_none() {
                        continue;
                    }
                    cands.push(Candidate { vmm, sig, features: f, kernel });
                }
            }
        }
    }
    let counts: Vec<u32> = (1..=a.max_vcpus).collect();
    let done = AtomicUsize::new(0);
    let progress = std::io::stderr().is_terminal() && !out.quiet;
    let total = cands.len();
    let results: Vec<Result<Vec<serde_json::Value>, PlanError>> = cands
        .par_iter()
        .map(|c| {
            let cfg = config(c.vmm, c.sig, c.features, a.max_vcpus, if c.kernel { payload } else { None });
            let plan = build(img, &cfg)?;
            let resume = Resume { ld: fw_ld, after_ops: firmware_prefix(&plan) };
            let hits = digest::vcpu_table(&plan, Some(resume), &counts)?
                .into_iter()
                .filter(|(_, d)| d.as_bytes() == target)
                .map(|(n, _)| describe(a, c, n))
                .collect();
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if progress && (n.is_multiple_of(8) || n == total) {
                err!("\rdiagnose: {n}/{total} walks ({} configurations)", n * a.max_vcpus as usize);
            }
            Ok(hits)
        })
        .collect();
    if progress {
        errln!();
    }
    // A candidate that did not build is an error, never a silent miss.
    let results: Vec<Vec<serde_json::Value>> = results.into_iter().collect::<Result<_, _>>().in_file(&a.ovmf)?;
    let space = format!(
        "vCPUs 1-{}, VMMs QEMU/ec2/gce, {} vCPU signatures, {} guest feature values, kernel hashes {}",
        a.max_vcpus,
        cpu::distinct().len(),
        features.len(),
        if payload.is_some() { "with and without" } else { "without" }
    );
    Ok((results.into_iter().flatten().collect(), total * a.max_vcpus as usize, space, not_searched))
}

fn describe(a: &DiagnoseArgs, c: &Candidate, vcpus: u32) -> serde_json::Value {
    let names: Vec<&str> = cpu::CPU_TYPES.iter().filter(|t| cpu::signature(t.1, t.2, t.3) == c.sig).map(|t| t.0).collect();
    let mut args: Vec<String> = ["--mode", "snp", "--vcpus"].map(String::from).to_vec();
    args.extend([vcpus.to_string(), "--vmm-type".into(), c.vmm.name().into()]);
    if c.vmm.measures_vcpu_sig() {
        match names.first() {
            Some(n) => args.extend(["--vcpu-type".into(), (*n).to_owned()]),
            None => args.extend(["--vcpu-sig".into(), format!("{:#x}", c.sig)]),
        }
    }
    args.extend(["--guest-features".into(), format!("{:#x}", c.features)]);
    if c.kernel {
        args.extend(payload_args(a));
    }
    json!({"vcpus": vcpus, "vmm_type": c.vmm.name(), "vcpu_sig": c.sig, "vcpu_types": if c.vmm.measures_vcpu_sig() { names } else { vec![] },
           "guest_features": c.features, "kernel_hashes": c.kernel, "command": command(a, args)})
}

/// The kernel, initrd and command line as `measure` takes them.
fn payload_args(a: &DiagnoseArgs) -> Vec<String> {
    let mut v = Vec::new();
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    if let Some(k) = &a.kernel {
        v.extend(["--kernel".into(), path(k)]);
    }
    if let Some(i) = &a.initrd {
        v.extend(["--initrd".into(), path(i)]);
    }
    if let Some(c) = &a.append {
        v.push(format!("--append={}", c.to_string_lossy()));
    }
    v
}

/// The complete `prelaunch measure` command line that reproduces a match, quoted for a POSIX shell.
fn command(a: &DiagnoseArgs, mut args: Vec<String>) -> String {
    args.extend(["--ovmf".into(), a.ovmf.to_string_lossy().into_owned()]);
    let quoted: Vec<String> = args.iter().map(|s| shlex::try_quote(s).map_or_else(|_| format!("{s:?}"), |q| q.into_owned())).collect();
    format!("prelaunch measure {}", quoted.join(" "))
}

fn search_tdx(a: &DiagnoseArgs, img: &FirmwareImage<'_>, target: &[u8; 48]) -> Result<Found, CliError> {
    let mut found = Vec::new();
    let mut searched = 0;
    let mut failed: Vec<String> = Vec::new();
    for page_order in PageOrder::ALL {
        for page_aug in PageAugPolicy::ALL {
            let plan = match plan::tdx::build(img, TdxPolicy { page_order, page_aug }) {
                Ok(p) => p,
                Err(e) => {
                    failed.push(format!("--tdx-page-order {} --tdx-page-aug {}: {e}", page_order.name(), page_aug.name()));
                    continue;
                }
            };
            searched += 1;
            if digest::fold(&plan).as_bytes() == target {
                let (o, g) = (page_order.name(), page_aug.name());
                let args = ["--mode", "tdx", "--tdx-page-order", o, "--tdx-page-aug", g].map(String::from).to_vec();
                found.push(json!({"tdx_page_order": o, "tdx_page_aug": g, "command": command(a, args)}));
            }
        }
    }
    // An image no policy can launch explains no quote: that is the answer (exit 1), not a miss.
    if searched == 0 {
        return Err(CliError::Failed(format!("{}: cannot be launched as a TD: {}", a.ovmf.display(), failed.join("; "))));
    }
    if a.kernel.is_some() {
        failed.push("--kernel, --initrd, --append: they do not enter MRTD (TDVF measures them into RTMRs)".into());
    }
    let names = |v: &[&str]| v.join("/");
    let space = format!(
        "TDX page orders {}, PAGE_AUG {}",
        names(&PageOrder::ALL.map(PageOrder::name)),
        names(&PageAugPolicy::ALL.map(PageAugPolicy::name))
    );
    Ok((found, searched, space, failed))
}
