//! `prelaunch igvm build`: an IGVM file holding the launch plans of an OVMF (SNP and/or TDX), so
//! that a VMM which populates IGVM directives in order (QEMU's loader) launches it with the digest
//! of the firmware itself, and what it measures under every loader profile.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use prelaunch_files::{Input, Kind, show};
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::digest;
use prelaunch_measure::hash::{Sha256, Sha256Digest};
use prelaunch_measure::igvm::{IgvmConfig, IgvmImage, build, profile, write};
use prelaunch_measure::plan::sev::AmdConfig;
use prelaunch_measure::plan::{self, CheckedPlan, Mode, TdxPolicy};
use prelaunch_measure::snp::{KernelHashes, cpu};
use serde_json::{Value, json};

use crate::error::{CliError, Context, usage};
use crate::outln;
use crate::output::{Out, print_json};

#[derive(Subcommand, Debug)]
pub enum IgvmCommand {
    /// Write an IGVM file from an OVMF (plus kernel, initrd, command line), and say what it measures.
    Build(BuildArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildMode {
    Snp,
    Tdx,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The firmware image to wrap (OVMF with SEV metadata for snp, TDVF metadata for tdx).
    #[arg(long, value_name = "PATH")]
    pub ovmf: PathBuf,
    /// Kernel for measured direct boot (SNP: its hash in the firmware's hashes table).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Initrd (with --kernel).
    #[arg(long, value_name = "PATH", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line (with --kernel), hashed with its NUL.
    #[arg(long, value_name = "CMDLINE", allow_hyphen_values = true, requires = "kernel")]
    pub append: Option<OsString>,
    /// Platforms the file carries, each under its own compatibility mask.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "snp")]
    pub mode: Vec<BuildMode>,
    /// vCPUs of the VM (SNP: one VP context per vCPU).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub vcpus: u32,
    /// QEMU vCPU model, for the vCPU signature in the SNP VMSAs.
    #[arg(long, value_name = "CPUTYPE")]
    pub vcpu_type: Option<String>,
    /// vCPU signature (CPUID 1 EAX), instead of --vcpu-type.
    #[arg(long, value_name = "VALUE", value_parser = crate::launch::parse_int, conflicts_with = "vcpu_type")]
    pub vcpu_sig: Option<u64>,
    /// SEV features in the VMSAs.
    #[arg(long, value_name = "VALUE", value_parser = crate::launch::parse_int, default_value = "0x1")]
    pub guest_features: u64,
    /// The IGVM file to write (atomically, never through a symbolic link).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Print the measurements as a JSON document.
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: &IgvmCommand, out: &Out) -> Result<(), CliError> {
    match c {
        IgvmCommand::Build(a) => build_file(a, out),
    }
}

fn sig(a: &BuildArgs) -> Result<u32, CliError> {
    match (&a.vcpu_type, a.vcpu_sig) {
        (Some(t), _) => cpu::by_name(t).ok_or_else(|| CliError::Usage(format!("unknown vCPU type {t:?}"))),
        (None, Some(s)) => u32::try_from(s).map_err(|_| CliError::Usage(format!("--vcpu-sig {s:#x} does not fit in 32 bits"))),
        (None, None) => usage("--mode snp needs --vcpu-type or --vcpu-sig (the vCPU signature is in every VMSA)"),
    }
}

fn hash_file(p: &PathBuf, kind: Kind) -> Result<Sha256Digest, CliError> {
    Ok(Sha256::digest(&Input::open(p, kind)?))
}

fn build_file(a: &BuildArgs, out: &Out) -> Result<(), CliError> {
    if a.mode.is_empty() || (a.mode.len() == 2 && a.mode[0] == a.mode[1]) {
        return usage("--mode takes snp, tdx or snp,tdx");
    }
    if a.vcpus == 0 || a.vcpus > plan::MAX_VCPUS {
        return usage(format!("--vcpus {}: 1..={} vCPUs", a.vcpus, plan::MAX_VCPUS));
    }
    let firmware = Input::open(&a.ovmf, Kind::FIRMWARE)?;
    let fw = FirmwareImage::parse(&firmware).in_file(&a.ovmf)?;
    let kernel = match &a.kernel {
        None => None,
        Some(k) => {
            let append = a.append.as_ref().map(|s| std::os::unix::ffi::OsStrExt::as_bytes(s.as_os_str()).to_vec());
            let initrd = a.initrd.as_ref().map(|p| hash_file(p, Kind::INITRD)).transpose()?.unwrap_or_else(|| Sha256::digest(&[]));
            Some(KernelHashes::from_digests(hash_file(k, Kind::KERNEL)?, initrd, append.as_deref()))
        }
    };
    let mut plans: Vec<CheckedPlan<'_>> = Vec::new();
    for m in &a.mode {
        let p = match m {
            BuildMode::Snp => {
                let mut cfg = AmdConfig::new(Mode::Snp);
                (cfg.vcpus, cfg.vcpu_sig, cfg.guest_features, cfg.kernel) = (a.vcpus, sig(a)?, a.guest_features, kernel);
                plan::sev::build(&fw, &cfg).in_file(&a.ovmf)?
            }
            BuildMode::Tdx => {
                if kernel.is_some() {
                    out.warn("--kernel, --initrd and --append do not enter MRTD (they are measured into RTMRs at boot)");
                }
                plan::tdx::build(&fw, TdxPolicy::default()).in_file(&a.ovmf)?
            }
        };
        plans.push(p);
    }
    let bytes = write::write(&plans.iter().collect::<Vec<_>>()).in_file(&a.ovmf)?;
    prelaunch_files::write_atomic(&a.out, &bytes)?;
    // What the written file measures, read back from its own bytes.
    let img = IgvmImage::parse(&bytes).in_file(&a.out)?;
    let mut rows: Vec<Value> = Vec::new();
    for native in &plans {
        let mode = native.mode;
        let want = digest::fold(native);
        let mut loaders = serde_json::Map::new();
        for p in profile::ALL.into_iter().filter(|p| p.loads(mode)) {
            let mut cfg = IgvmConfig::new(mode, p);
            (cfg.vcpus, cfg.vcpu_sig) = (a.vcpus, if mode == Mode::Snp { sig(a)? } else { 0 });
            let v = match build(&img, &cfg) {
                Ok(b) => json!({"digest": digest::fold(&b.plan).hex()}),
                Err(e) => json!({"refused": e.to_string()}),
            };
            loaders.insert(p.name.into(), v);
        }
        rows.push(json!({"mode": mode.name(), "native_digest": want.hex(), "vcpus": if mode == Mode::Snp { Some(a.vcpus) } else { None }, "igvm_loaders": loaders}));
    }
    if a.json {
        return print_json(
            &json!({"out": show(&a.out).to_string(), "size": bytes.len(), "sha256": hex::encode(Sha256::digest(&bytes)), "platforms": rows}),
        );
    }
    outln!("wrote {} ({} bytes)", show(&a.out), bytes.len());
    for r in &rows {
        let native = r["native_digest"].as_str().unwrap_or_default();
        let what = if r["mode"] == "tdx" { "MRTD".to_string() } else { format!("digest, {} vCPUs", a.vcpus) };
        outln!("{} {what}: measure --ovmf {native}", r["mode"].as_str().unwrap_or_default());
        if let Some(l) = r["igvm_loaders"].as_object() {
            for (name, v) in l {
                match v["digest"].as_str() {
                    Some(d) if d == native => outln!("  --igvm-loader {name:<17} {d} (the same)"),
                    Some(d) => outln!("  --igvm-loader {name:<17} {d}"),
                    None => outln!("  --igvm-loader {name:<17} refuses: {}", v["refused"].as_str().unwrap_or_default()),
                }
            }
        }
    }
    Ok(())
}
