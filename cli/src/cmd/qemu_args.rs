//! `prelaunch qemu-args`: the QEMU command line that launches exactly what `measure` measures with
//! the same launch arguments: one argument per line (`--format args`, readable back by
//! `measure --qemu-cmdline`), or libvirt domain XML with `<launchSecurity>` (`--format libvirt`).
//! Only properties the chosen QEMU release (`--qemu-version`) has are written; what that release
//! cannot launch as measured (a CPU model it lacks, SEV features it cannot set) is refused.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, ValueEnum};
use prelaunch_measure::qemu::model::{
    CpuModel, Firmware, Guest, QemuLaunch, SEV_FEATURE_DEBUG_SWAP, SEV_FEATURE_SNP_ACTIVE, SevGuest, SnpGuest, TdxGuest,
};
use prelaunch_measure::qemu::{QemuProfile, emit};
use prelaunch_measure::snp::{Vmm, cpu};

use crate::error::{CliError, usage};
use crate::launch::{LaunchArgs, ModeArg, parse_int};
use crate::output::Out;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One QEMU argument per line (the binary first).
    Args,
    /// libvirt domain XML.
    Libvirt,
}

#[derive(Args, Debug)]
pub struct QemuArgsArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Output: QEMU arguments one per line (args), or libvirt domain XML (libvirt).
    #[arg(long, value_enum, default_value = "args")]
    pub format: Format,
    /// Guest RAM, in MiB or with a suffix (512M, 4G).
    #[arg(long, value_name = "SIZE", default_value = "2G")]
    pub memory: String,
    /// QEMU machine type.
    #[arg(long, default_value = "q35")]
    pub machine: String,
    /// SEV: the C-bit position (default: this host's CPUID Fn8000_001F EBX[5:0]).
    #[arg(long, value_name = "N", value_parser = parse_int)]
    pub cbitpos: Option<u64>,
    /// SEV: physical address bits lost to encryption (default: this host's CPUID Fn8000_001F EBX[11:6]).
    #[arg(long, value_name = "N", value_parser = parse_int)]
    pub reduced_phys_bits: Option<u64>,
    /// SNP: the ID block (96 bytes, raw or base64, as `prelaunch id-block` writes it).
    #[arg(long, value_name = "FILE")]
    pub id_block: Option<PathBuf>,
    /// SNP: the ID auth info (4096 bytes, raw or base64).
    #[arg(long, value_name = "FILE")]
    pub id_auth: Option<PathBuf>,
    /// SNP: HOST_DATA, 32 bytes hex.
    #[arg(long, value_name = "HEX")]
    pub host_data: Option<String>,
    /// SNP: the ID auth info carries an author key.
    #[arg(long)]
    pub author_key_enabled: bool,
    /// SEV-ES: launch through the legacy KVM_SEV_ES_INIT VM type (`legacy-vm-type=on`).
    #[arg(long)]
    pub legacy_vm_type: bool,
    /// The QEMU binary named first.
    #[arg(long, default_value = "qemu-system-x86_64")]
    pub qemu_binary: String,
}

/// A file holding `len` bytes, raw or as base64; the base64 QEMU takes.
fn blob(path: &PathBuf, len: usize, what: &'static str) -> Result<String, CliError> {
    // Raw, or base64 with a line break: a few KiB at most.
    let raw = prelaunch_files::Input::open(path, prelaunch_files::Kind { what, max: 64 << 10, map: false })?;
    if raw.len() == len {
        return Ok(STANDARD.encode(&raw));
    }
    let text = String::from_utf8_lossy(&raw);
    match STANDARD.decode(text.trim()) {
        Ok(b) if b.len() == len => Ok(text.trim().to_owned()),
        _ => Err(CliError::Failed(format!("{}: {} bytes; {what} is {len} bytes, raw or base64", path.display(), raw.len()))),
    }
}

/// The `-cpu` for the arguments' vCPU signature: the named model, else a model with that signature
/// in this release, else one overridden with family/model/stepping.
fn cpu_model(l: &LaunchArgs, profile: &QemuProfile) -> CpuModel {
    if let Some(t) = &l.vcpu_type
        && l.vcpu_family.is_none()
        && l.vcpu_sig.is_none()
    {
        return CpuModel::named(t);
    }
    let sig = l.vcpu_sig();
    if let Some(m) = profile.cpu_models().find(|m| cpu::by_name(m) == Some(sig)) {
        return CpuModel::named(m);
    }
    let family = ((sig >> 8) & 0xf) + ((sig >> 20) & 0xff);
    let model = (((sig >> 16) & 0xf) << 4) | ((sig >> 4) & 0xf);
    CpuModel { model: "EPYC-v4".into(), family: Some(family), model_number: Some(model), stepping: Some(sig & 0xf) }
}

/// The launch `measure` measures for these arguments, as QEMU objects.
pub fn launch(a: &QemuArgsArgs, profile: &QemuProfile, out: &Out) -> Result<QemuLaunch, CliError> {
    let l = &a.launch;
    l.validate()?;
    if l.vmm()? != Vmm::Qemu {
        return usage(format!("--vmm-type {}: qemu-args writes QEMU command lines; that VMM's reset state is not QEMU's", l.vmm_type));
    }
    match l.mode {
        ModeArg::SnpOvmfHash => return usage("--mode snp:ovmf-hash measures firmware pages only; it is not a launch"),
        ModeArg::SnpSvsm => {
            return usage("--mode snp:svsm: QEMU launches an SVSM from an IGVM file (-object igvm-cfg), which this command does not write");
        }
        _ => {}
    }
    if l.snp_ovmf_hash.is_some() {
        return usage("--snp-ovmf-hash names the firmware by a digest; QEMU needs the firmware file (--ovmf)");
    }
    if l.kernel_hash.is_some() || l.initrd_hash.is_some() {
        return usage("--kernel-hash/--initrd-hash name files by digest; QEMU needs the files (--kernel, --initrd)");
    }
    let vcpus = match &l.vcpus {
        Some(v) if !v.is_single() => return usage("qemu-args launches one guest: give --vcpus a single count"),
        Some(v) => v.max(),
        None => 1,
    };
    let memory_mib =
        prelaunch_measure::qemu::opts::parse_size_mib("--memory", &a.memory, true).map_err(|e| CliError::Usage(e.to_string()))?;
    let firmware = l.firmware_path(out)?.display().to_string();
    let (cbitpos, reduced_phys_bits) = match (a.cbitpos, a.reduced_phys_bits, l.mode) {
        (_, _, ModeArg::Tdx) => (0, 0),
        (Some(c), Some(r), _) => (c as u32, r as u32),
        (c, r, _) => match prelaunch_loader::kvm::probe::host_sev_cpuid() {
            Some(s) => (c.map_or(u32::from(s.cbitpos), |c| c as u32), r.map_or(u32::from(s.reduced_phys_bits), |r| r as u32)),
            None => {
                return usage("this host has no SEV CPUID leaf (Fn8000_001F): give --cbitpos and --reduced-phys-bits of the launch host");
            }
        },
    };
    let kernel_hashes = l.kernel.is_some();
    let guest = match l.mode {
        ModeArg::Snp => {
            let extra = l.guest_features & !(SEV_FEATURE_SNP_ACTIVE | SEV_FEATURE_DEBUG_SWAP);
            if l.guest_features & SEV_FEATURE_SNP_ACTIVE == 0 || extra != 0 {
                return usage(format!(
                    "--guest-features {:#x}: QEMU sets SNPActive (0x1) and, from 10.2, DebugSwap (0x20, debug-swap=on); no other SEV features",
                    l.guest_features
                ));
            }
            let host_data = a
                .host_data
                .as_ref()
                .map(|h| {
                    hex::decode(h.trim())
                        .ok()
                        .filter(|b| b.len() == 32)
                        .map(|b| STANDARD.encode(b))
                        .ok_or_else(|| CliError::Usage(format!("--host-data {h:?}: expected 64 hex digits")))
                })
                .transpose()?;
            Guest::Snp(SnpGuest {
                policy: l.policy,
                cbitpos,
                reduced_phys_bits,
                kernel_hashes,
                id_block: a.id_block.as_ref().map(|p| blob(p, 96, "an ID block")).transpose()?,
                id_auth: a.id_auth.as_ref().map(|p| blob(p, 4096, "an ID auth info")).transpose()?,
                host_data,
                author_key_enabled: a.author_key_enabled,
                debug_swap: l.guest_features & SEV_FEATURE_DEBUG_SWAP != 0,
            })
        }
        ModeArg::Seves | ModeArg::Sev => {
            // SEV policy: NODBG (bit 0), and ES (bit 2) for SEV-ES.
            let policy = if l.mode == ModeArg::Seves { 0x5 } else { 0x1 };
            let g = SevGuest {
                policy,
                cbitpos,
                reduced_phys_bits,
                kernel_hashes,
                legacy_vm_type: profile.sev_init2.then_some(a.legacy_vm_type),
            };
            if l.mode == ModeArg::Seves { Guest::SevEs(g) } else { Guest::Sev(g) }
        }
        _ => Guest::Tdx(TdxGuest::default()),
    };
    let firmware = match (&l.vars_file, l.mode) {
        (Some(v), ModeArg::Seves | ModeArg::Sev) => Firmware::Pflash { code: firmware, vars: Some(v.display().to_string()) },
        _ => Firmware::Bios(firmware),
    };
    let cpu = if l.mode == ModeArg::Tdx { CpuModel::named("host") } else { cpu_model(l, profile) };
    let launch = QemuLaunch {
        machine: a.machine.clone(),
        cpu,
        vcpus,
        memory_mib,
        firmware,
        kernel: l.kernel.as_ref().map(|p| p.display().to_string()),
        initrd: l.initrd.as_ref().map(|p| p.display().to_string()),
        append: l.append.as_ref().map(|s| s.to_string_lossy().into_owned()),
        guest,
    };
    // What this release would refuse, before anything is printed.
    launch.spec(profile).map_err(|e| CliError::Usage(format!("QEMU {}: {e}", profile.version)))?;
    if launch.append.as_deref().is_some_and(|s| s.contains('\n')) {
        return usage("--append holds a newline, which one-argument-per-line output cannot carry");
    }
    Ok(launch)
}

pub fn run(a: &QemuArgsArgs, out: &Out) -> Result<(), CliError> {
    let profile = a.launch.qemu_profile();
    // Everything measure checks (firmware support, kernel hashes table, …) before a command line exists.
    a.launch.build(out, &crate::launch::Files::default())?;
    let l = launch(a, profile, out)?;
    match a.format {
        Format::Args => {
            crate::outln!("{}", a.qemu_binary);
            for arg in emit::args(&l, profile) {
                crate::outln!("{arg}");
            }
        }
        Format::Libvirt => crate::out!("{}", super::qemu_libvirt::domain(&l)?),
    }
    Ok(())
}
