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
use prelaunch_measure::plan::{self, Inputs, Mode, PageAugPolicy, PageOrder, TdxPolicy};
use prelaunch_measure::report::Evidence;
use prelaunch_measure::snp::digest::{Resume, firmware_prefix};
use prelaunch_measure::snp::{KernelHashes, Vmm, cpu};
use rayon::prelude::*;
use serde_json::json;

use crate::error::{CliError, Context};
use crate::launch::parse_int;
use crate::output::{Out, Style, print_json};
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
    /// Kernel for measured direct boot (tried with and without).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    #[arg(long, value_name = "PATH", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    #[arg(long, value_name = "CMDLINE", requires = "kernel", allow_hyphen_values = true)]
    pub append: Option<std::ffi::OsString>,
    /// Largest vCPU count searched.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_vcpus: u32,
    /// Further guest feature values to try (besides the common ones).
    #[arg(long, value_name = "VALUE", value_parser = parse_int, num_args = 1..)]
    pub guest_features: Vec<u64>,
    #[arg(long)]
    pub json: bool,
}

/// One candidate (all but the vCPU count, which each walk covers).
#[derive(Debug, Clone)]
struct Candidate {
    vmm: Vmm,
    sig: u32,
    features: u64,
    kernel: bool,
}

pub fn run(a: &DiagnoseArgs, out: &Out) -> Result<(), CliError> {
    let (_, ev) = crate::cmd::verify::read_evidence(&a.report)?;
    let target = *ev.launch_measurement();
    let fw_file = Input::open(&a.ovmf, Kind::FIRMWARE)?;
    let img = FirmwareImage::parse(&fw_file).in_file(&a.ovmf)?;
    let started = Instant::now();
    let (found, searched, space) = match ev {
        Evidence::SnpReport(_) => search_snp(a, &img, &fw_file, &target, out)?,
        _ => search_tdx(&img, &fw_file, &target)?,
    };
    let elapsed = started.elapsed();
    if a.json {
        print_json(&json!({"kind": ev.kind(), "measurement": hex::encode(target), "match": !found.is_empty(),
            "configurations": found, "searched": searched, "search_space": space, "elapsed_ms": elapsed.as_millis() as u64}))?;
    } else {
        outln!("{} {}", out.paint(Style::Bold, ev.kind()), hex::encode(target));
        outln!("searched {searched} configurations ({space}) in {:.2} s", elapsed.as_secs_f64());
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

type Found = (Vec<serde_json::Value>, usize, String);

fn search_snp(a: &DiagnoseArgs, img: &FirmwareImage<'_>, fw: &[u8], target: &[u8; 48], out: &Out) -> Result<Found, CliError> {
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
    let inputs = Inputs::new().with("firmware", fw);
    let prefix = firmware_only(img);
    let fw_ld = prelaunch_measure::snp::digest::launch_digest(&prefix, &inputs).in_file(&a.ovmf)?;
    let mut features: Vec<u64> = COMMON_FEATURES.to_vec();
    for f in &a.guest_features {
        if !features.contains(f) {
            features.push(*f);
        }
    }
    let mut cands = Vec::new();
    for vmm in Vmm::ALL {
        // EC2 and GCE put a fixed value in RDX: the vCPU type does not enter their VMSAs.
        let sigs: Vec<u32> = if vmm == Vmm::Qemu { cpu::distinct().iter().map(|c| c.1).collect() } else { vec![0] };
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
    let results: Vec<Vec<serde_json::Value>> = cands
        .par_iter()
        .map(|c| {
            let mut cfg = AmdConfig::new(Mode::Snp);
            cfg.vmm = c.vmm;
            cfg.vcpu_sig = c.sig;
            cfg.guest_features = c.features;
            cfg.vcpus = a.max_vcpus;
            cfg.kernel = if c.kernel { payload } else { None };
            let mut hits = Vec::new();
            if let Ok(plan) = build(img, &cfg) {
                let resume = Resume { ld: fw_ld, after_ops: firmware_prefix(&plan) };
                if let Ok(table) = digest::vcpu_table(&plan, &inputs, Some(resume), &counts) {
                    for (n, d) in table {
                        if d.as_bytes() == target {
                            hits.push(describe(a, c, n));
                        }
                    }
                }
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if progress && (n.is_multiple_of(8) || n == total) {
                err!("\rdiagnose: {n}/{total} walks ({} configurations)", n * a.max_vcpus as usize);
            }
            hits
        })
        .collect();
    if progress {
        errln!();
    }
    let space = format!(
        "vCPUs 1-{}, VMMs QEMU/ec2/gce, {} vCPU signatures, {} guest feature values, kernel hashes {}",
        a.max_vcpus,
        cpu::distinct().len(),
        features.len(),
        if payload.is_some() { "with and without" } else { "without" }
    );
    Ok((results.into_iter().flatten().collect(), total * a.max_vcpus as usize, space))
}

fn describe(a: &DiagnoseArgs, c: &Candidate, vcpus: u32) -> serde_json::Value {
    let names: Vec<&str> = cpu::CPU_TYPES.iter().filter(|t| cpu::signature(t.1, t.2, t.3) == c.sig).map(|t| t.0).collect();
    let mut cmd = format!("--mode snp --vcpus {vcpus} --vmm-type {}", c.vmm.name());
    if c.vmm == Vmm::Qemu {
        cmd += &format!(" --vcpu-type {}", names.first().copied().unwrap_or("?"));
    }
    cmd += &format!(" --guest-features {:#x} --ovmf {}", c.features, a.ovmf.display());
    if c.kernel {
        cmd += " --kernel …";
    }
    json!({"vcpus": vcpus, "vmm_type": c.vmm.name(), "vcpu_sig": c.sig, "vcpu_types": if c.vmm == Vmm::Qemu { names } else { vec![] },
           "guest_features": c.features, "kernel_hashes": c.kernel, "command": cmd})
}

fn search_tdx(img: &FirmwareImage<'_>, fw: &[u8], target: &[u8; 48]) -> Result<Found, CliError> {
    let inputs = Inputs::new().with("firmware", fw);
    let mut found = Vec::new();
    let mut searched = 0;
    for page_order in [PageOrder::Single, PageOrder::TwoPass] {
        for page_aug in [PageAugPolicy::Add, PageAugPolicy::Skip] {
            let Ok(plan) = plan::tdx::build(img, TdxPolicy { page_order, page_aug }) else { continue };
            searched += 1;
            if digest::fold(&plan, &inputs).is_ok_and(|d| d.as_bytes() == target) {
                let o = if page_order == PageOrder::Single { "single" } else { "two-pass" };
                let g = if page_aug == PageAugPolicy::Add { "add" } else { "skip" };
                found.push(json!({"tdx_page_order": o, "tdx_page_aug": g, "command": format!("--mode tdx --tdx-page-order {o} --tdx-page-aug {g}")}));
            }
        }
    }
    Ok((found, searched, "TDX page orders single/two-pass, PAGE_AUG add/skip".into()))
}
