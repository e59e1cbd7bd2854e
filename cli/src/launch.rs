//! The launch arguments shared by `measure`, `layout`, `load`, `verify` and `diagnose`: sev-snp-measure's
//! argument model (accepted verbatim) plus TDX and prelaunch's extensions, turned into a launch plan.

use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use prelaunch_files::{Input, Kind};
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::hash::{Sha256, Sha256Digest};
use prelaunch_measure::plan::sev::{AmdConfig, Svsm};
use prelaunch_measure::plan::{self, CheckedPlan, Mode, PageAugPolicy, PageOrder, TdxPolicy};
use prelaunch_measure::qemu::{QemuProfile, profile as qemu_profile};
use prelaunch_measure::snp::policy::DEFAULT_POLICY;
use prelaunch_measure::snp::{KernelHashes, Vmm, cpu};

use crate::error::{CliError, Context, usage};
pub use crate::numbers::{VcpuList, parse_int, parse_vcpus};
use crate::output::Out;

/// `--mode` values: sev-snp-measure's five and `tdx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Sev,
    Seves,
    Snp,
    #[value(name = "snp:ovmf-hash")]
    SnpOvmfHash,
    #[value(name = "snp:svsm")]
    SnpSvsm,
    Tdx,
}

impl ModeArg {
    pub fn mode(self) -> Mode {
        match self {
            ModeArg::Sev => Mode::Sev,
            ModeArg::Seves => Mode::SevEs,
            ModeArg::Snp | ModeArg::SnpOvmfHash | ModeArg::SnpSvsm => Mode::Snp,
            ModeArg::Tdx => Mode::Tdx,
        }
    }

    /// The name sev-snp-measure prints with `-v`.
    pub fn peer_name(self) -> &'static str {
        match self {
            ModeArg::Sev => "SEV",
            ModeArg::Seves => "SEV_ES",
            ModeArg::Snp | ModeArg::SnpOvmfHash => "SEV_SNP",
            ModeArg::SnpSvsm => "SEV_SNP_SVSM",
            ModeArg::Tdx => "TDX",
        }
    }
}

/// `--tdx-page-order`: the plan's page orders, by the plan's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOrderArg(pub PageOrder);

impl ValueEnum for PageOrderArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[PageOrderArg(PageOrder::Single), PageOrderArg(PageOrder::TwoPass)]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name()))
    }
}

/// `--tdx-page-aug`: the plan's PAGE_AUG policies, by the plan's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageAugArg(pub PageAugPolicy);

impl ValueEnum for PageAugArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[PageAugArg(PageAugPolicy::Add), PageAugArg(PageAugPolicy::Skip)]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name()))
    }
}

fn parse_u32(s: &str) -> Result<u32, String> {
    parse_int(s).and_then(|v| u32::try_from(v).map_err(|_| format!("{s:?} does not fit in 32 bits")))
}

fn parse_cpu_type(s: &str) -> Result<String, String> {
    match cpu::by_name(s) {
        Some(_) => Ok(s.to_owned()),
        None => Err(format!("unknown vCPU type {s:?}; known: {}", cpu::CPU_TYPES.iter().map(|t| t.0).collect::<Vec<_>>().join(", "))),
    }
}

fn parse_qemu_version(s: &str) -> Result<&'static QemuProfile, String> {
    qemu_profile::by_version(s).ok_or_else(|| format!("unknown QEMU release {s:?}; profiles: {}", qemu_profile::known()))
}

fn parse_sha256(s: &str) -> Result<Sha256Digest, String> {
    let b = hex::decode(s.trim()).map_err(|e| format!("not hex: {e}"))?;
    b.try_into().map_err(|b: Vec<u8>| format!("{} bytes, expected a 32-byte SHA-256", b.len()))
}

/// The launch arguments.
#[derive(Args, Debug, Clone)]
pub struct LaunchArgs {
    /// Guest mode.
    #[arg(long, value_enum)]
    pub mode: ModeArg,
    /// Number of guest vCPUs; also a list or ranges (`1-64`, `1,2,4,8`) for one digest per count.
    #[arg(long, value_name = "N", value_parser = parse_vcpus)]
    pub vcpus: Option<VcpuList>,
    /// QEMU vCPU model (EPYC, EPYC-v4, EPYC-Rome, EPYC-Milan, EPYC-Genoa, EPYC-Turin, …).
    #[arg(long, value_name = "CPUTYPE", value_parser = parse_cpu_type)]
    pub vcpu_type: Option<String>,
    /// vCPU signature (CPUID 1 EAX) value.
    #[arg(long, value_name = "VALUE", value_parser = parse_u32)]
    pub vcpu_sig: Option<u32>,
    /// vCPU family (with --vcpu-model and --vcpu-stepping).
    #[arg(long, value_name = "FAMILY", requires_all = ["vcpu_model", "vcpu_stepping"])]
    pub vcpu_family: Option<u32>,
    /// vCPU model (with --vcpu-family and --vcpu-stepping).
    #[arg(long, value_name = "MODEL", requires = "vcpu_family")]
    pub vcpu_model: Option<u32>,
    /// vCPU stepping (with --vcpu-family and --vcpu-model).
    #[arg(long, value_name = "STEPPING", requires = "vcpu_family")]
    pub vcpu_stepping: Option<u32>,
    /// VMM whose vCPU reset state is measured: QEMU, ec2 or gce.
    #[arg(long, value_name = "VMMTYPE", default_value = "QEMU")]
    pub vmm_type: String,
    /// Firmware image (OVMF). Without it, the best matching firmware descriptor of the system is used.
    #[arg(long, value_name = "PATH")]
    pub ovmf: Option<PathBuf>,
    /// Kernel for measured direct boot.
    #[arg(long, value_name = "PATH", conflicts_with = "kernel_hash")]
    pub kernel: Option<PathBuf>,
    /// Initrd (with --kernel).
    #[arg(long, value_name = "PATH", conflicts_with = "initrd_hash")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line (with --kernel); hashed with its NUL, never trimmed.
    #[arg(long, value_name = "CMDLINE", allow_hyphen_values = true)]
    pub append: Option<OsString>,
    /// SHA-256 of the kernel, instead of --kernel.
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub kernel_hash: Option<Sha256Digest>,
    /// SHA-256 of the initrd, instead of --initrd.
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub initrd_hash: Option<Sha256Digest>,
    /// SEV features in the VMSAs (0x1: SNPActive alone).
    #[arg(long, value_name = "VALUE", value_parser = parse_int, default_value = "0x1")]
    pub guest_features: u64,
    /// Precalculated digest of the firmware pages (from --mode snp:ovmf-hash), hex.
    #[arg(long, value_name = "HASH")]
    pub snp_ovmf_hash: Option<String>,
    /// SVSM binary (snp:svsm).
    #[arg(long, value_name = "PATH")]
    pub svsm: Option<PathBuf>,
    /// Size of the OVMF_VARS file in bytes (snp:svsm).
    #[arg(long, value_name = "SIZE", conflicts_with = "vars_file")]
    pub vars_size: Option<u64>,
    /// OVMF_VARS file; only its size matters (snp:svsm).
    #[arg(long, value_name = "PATH")]
    pub vars_file: Option<PathBuf>,
    /// TDX page order: single (per page ADD then EXTENDs; upstream KVM) or two-pass (QEMU 8.2-era).
    #[arg(long, value_enum, default_value = "single")]
    pub tdx_page_order: PageOrderArg,
    /// TDX sections with the PAGE_AUG attribute: add (QEMU) or skip (td-shim).
    #[arg(long, value_enum, default_value = "add")]
    pub tdx_page_aug: PageAugArg,
    /// The QEMU release whose launch semantics apply (SEV-ES through KVM_SEV_INIT2 or the legacy VM
    /// type, the SEV features and CPU models it can set); default: the newest profile.
    #[arg(long, value_name = "VERSION", value_parser = parse_qemu_version)]
    pub qemu_version: Option<&'static QemuProfile>,
    /// SEV-ES through the legacy VM type whatever the release (a command line's legacy-vm-type=on).
    #[arg(skip)]
    pub legacy_sev_es: bool,
    /// SNP guest policy for the launch (SNP_LAUNCH_START).
    #[arg(long, value_name = "HEX", value_parser = parse_int, default_value_t = DEFAULT_POLICY, hide_short_help = true)]
    pub policy: u64,
}

/// The files a launch reads, kept open for as long as its plan (which borrows their bytes).
#[derive(Default)]
pub struct Files {
    firmware: OnceCell<Input>,
    svsm: OnceCell<Input>,
}

impl Files {
    /// Opens `path` into `slot` (once) and lends it for the plan's lifetime.
    fn open<'f>(slot: &'f OnceCell<Input>, path: &std::path::Path, kind: Kind) -> Result<&'f Input, CliError> {
        let f = Input::open(path, kind)?;
        Ok(slot.get_or_init(|| f))
    }

    pub fn firmware(&self, path: &std::path::Path) -> Result<&Input, CliError> {
        Self::open(&self.firmware, path, Kind::FIRMWARE)
    }

    pub fn svsm(&self, path: &std::path::Path) -> Result<&Input, CliError> {
        Self::open(&self.svsm, path, Kind::FIRMWARE)
    }

    /// The firmware, once opened.
    pub fn opened_firmware(&self) -> Option<&Input> {
        self.firmware.get()
    }
}

/// A built launch: the plan, bound to the mapped files its operations read.
pub struct Launch<'f> {
    pub args: LaunchArgs,
    pub plan: CheckedPlan<'f>,
    pub firmware: &'f Input,
    pub svsm: Option<&'f Input>,
    /// The OVMF_VARS size (snp:svsm), from --vars-size or the length of --vars-file.
    pub vars_size: Option<u64>,
    /// Kernel, initrd (hashes and paths), when given.
    pub payload: Option<Payload>,
    pub vcpus: VcpuList,
    pub vcpu_sig: u32,
    pub vmm: Vmm,
    pub resume: Option<prelaunch_measure::snp::digest::Resume>,
}

/// The direct-boot payload as measured.
#[derive(Debug, Clone)]
pub struct Payload {
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub append: Option<Vec<u8>>,
    pub hashes: KernelHashes,
}

impl Launch<'_> {
    pub fn firmware_path(&self) -> &std::path::Path {
        self.firmware.path()
    }
}

fn os_bytes(s: &OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_os_str().as_bytes().to_vec()
}

impl LaunchArgs {
    /// The checks sev-snp-measure makes before reading files (usage errors, exit 2).
    pub fn validate(&self) -> Result<(), CliError> {
        let kernel_given = self.kernel.is_some() || self.kernel_hash.is_some();
        if (self.initrd.is_some() || self.initrd_hash.is_some()) && !kernel_given {
            return usage("--kernel required when using --initrd");
        }
        if self.append.as_ref().is_some_and(|a| !a.is_empty()) && !kernel_given {
            return usage("--kernel required when using --append");
        }
        let needs_vcpus = !matches!(self.mode, ModeArg::Sev | ModeArg::SnpOvmfHash | ModeArg::Tdx);
        if needs_vcpus && self.vcpus.is_none() {
            return usage(format!("missing --vcpus N in guest mode '{}'", self.mode_name()));
        }
        let vmm = self.vmm()?;
        if needs_vcpus && vmm.measures_vcpu_sig() && self.vcpu_family.is_none() && self.vcpu_sig.is_none() && self.vcpu_type.is_none() {
            return usage(format!("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '{}'", self.mode_name()));
        }
        if self.mode == ModeArg::SnpSvsm {
            if self.svsm.is_none() {
                return usage("snp:svsm mode requires --svsm");
            }
            if self.vars_file.is_none() && self.vars_size.unwrap_or(0) == 0 {
                return usage("snp:svsm mode requires --vars-size or --vars-file");
            }
        }
        if self.snp_ovmf_hash.is_some() && self.mode != ModeArg::Snp {
            return usage("--snp-ovmf-hash only works with --mode snp");
        }
        Ok(())
    }

    /// The QEMU release profile (`--qemu-version`, else the newest).
    pub fn qemu_profile(&self) -> &'static QemuProfile {
        self.qemu_version.unwrap_or_else(qemu_profile::latest)
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            ModeArg::Sev => "sev",
            ModeArg::Seves => "seves",
            ModeArg::Snp => "snp",
            ModeArg::SnpOvmfHash => "snp:ovmf-hash",
            ModeArg::SnpSvsm => "snp:svsm",
            ModeArg::Tdx => "tdx",
        }
    }

    pub fn vmm(&self) -> Result<Vmm, CliError> {
        Vmm::from_name(&self.vmm_type)
            .ok_or_else(|| CliError::Usage(format!("unknown VMM type '{}' (expected QEMU, ec2 or gce)", self.vmm_type)))
    }

    /// The vCPU signature, in sev-snp-measure's precedence: family/model/stepping, signature, type.
    pub fn vcpu_sig(&self) -> u32 {
        if self.mode == ModeArg::Sev {
            return 0;
        }
        if let (Some(f), Some(m), Some(s)) = (self.vcpu_family, self.vcpu_model, self.vcpu_stepping) {
            return cpu::signature(f, m, s);
        }
        if let Some(sig) = self.vcpu_sig {
            return sig;
        }
        self.vcpu_type.as_deref().and_then(cpu::by_name).unwrap_or(0)
    }

    /// Resolves the firmware path: `--ovmf`, or the best matching system firmware descriptor.
    pub fn firmware_path(&self, out: &Out) -> Result<PathBuf, CliError> {
        if let Some(p) = &self.ovmf {
            return Ok(p.clone());
        }
        let want = match self.mode.mode() {
            Mode::Tdx => "intel-tdx",
            Mode::Snp => "amd-sev-snp",
            Mode::SevEs => "amd-sev-es",
            Mode::Sev => "amd-sev",
        };
        let (best, considered) = crate::descriptors::best_for(want);
        for c in &considered {
            out.detail(1, || format!("firmware descriptor {c}"));
        }
        match best {
            Some(d) => {
                out.warn(&format!(
                    "no --ovmf given; using {} from firmware descriptor {}",
                    prelaunch_files::show(&d.executable),
                    prelaunch_files::show(&d.source)
                ));
                Ok(d.executable)
            }
            None if considered.is_empty() => usage(format!(
                "--ovmf is required: no QEMU firmware descriptor found in {} (set {} or see `prelaunch firmware list`)",
                crate::descriptors::dirs().iter().map(|d| prelaunch_files::show(d).to_string()).collect::<Vec<_>>().join(", "),
                crate::descriptors::DIRS_ENV
            )),
            None => usage(format!(
                "--ovmf is required: no QEMU firmware descriptor on this system fits {want}; considered:\n  {}",
                considered.join("\n  ")
            )),
        }
    }

    /// Maps the files (into `files`, which the plan then borrows) and builds the plan.
    pub fn build<'f>(&self, out: &Out, files: &'f Files) -> Result<Launch<'f>, CliError> {
        self.validate()?;
        let vmm = self.vmm()?;
        let fw_path = self.firmware_path(out)?;
        let firmware = files.firmware(&fw_path)?;
        crate::detail::input(out, "firmware", firmware, None);
        let started = std::time::Instant::now();
        let fw = FirmwareImage::parse(firmware).in_file(&fw_path)?;
        let vcpus = self.vcpus.clone().unwrap_or(VcpuList(vec![1]));
        let vcpu_sig = self.vcpu_sig();
        // TDX measures the payload into RTMRs (SHA-384, Authenticode), not as SEV kernel hashes.
        let payload = if self.mode == ModeArg::Tdx { None } else { self.payload(out)? };
        let mut svsm_file = None;
        let mut vars = None;
        let mut plan = match self.mode {
            ModeArg::Tdx => {
                let policy = TdxPolicy { page_order: self.tdx_page_order.0, page_aug: self.tdx_page_aug.0 };
                plan::tdx::build(&fw, policy).in_file(&fw_path)?
            }
            ModeArg::SnpOvmfHash => plan::sev::firmware_only(&fw).in_file(&fw_path)?,
            _ => {
                let svsm = match (&self.svsm, self.mode) {
                    (Some(p), ModeArg::SnpSvsm) => {
                        let vars_size = match &self.vars_file {
                            Some(v) => prelaunch_files::byte_size(v, Kind::VARS)?,
                            None => self.vars_size.unwrap_or(0),
                        };
                        let f = files.svsm(p)?;
                        crate::detail::input(out, "SVSM", f, None);
                        svsm_file = Some(f);
                        vars = Some(vars_size);
                        Some((p.clone(), vars_size))
                    }
                    _ => None,
                };
                let svsm_image = match (&svsm, svsm_file) {
                    (Some((p, vars_size)), Some(f)) => Some(Svsm { image: FirmwareImage::parse(f).in_file(p)?, vars_size: *vars_size }),
                    _ => None,
                };
                let cfg = AmdConfig {
                    mode: self.mode.mode(),
                    vmm,
                    vcpus: vcpus.max(),
                    vcpu_sig,
                    guest_features: self.guest_features,
                    kernel: payload.as_ref().map(|p| p.hashes),
                    svsm: svsm_image,
                    policy: self.policy,
                };
                plan::sev::build(&fw, &cfg).in_file(&fw_path)?
            }
        };
        // A legacy KVM_SEV_ES_INIT VM (any QEMU before 9.1, or legacy-vm-type=on): no FPU state is
        // synced into its VMSAs.
        if self.mode == ModeArg::Seves && (self.legacy_sev_es || self.qemu_version.is_some_and(|p| !p.sev_init2)) {
            let mut legacy = plan.plan().clone();
            prelaunch_measure::qemu::model::apply_legacy_sev_es(&mut legacy);
            plan = plan.with_plan(legacy).in_file(&fw_path)?;
        }
        crate::detail::plan(out, &plan, started);
        let resume = match &self.snp_ovmf_hash {
            None => None,
            Some(h) => {
                let ld: [u8; 48] = hex::decode(h.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| CliError::Usage(format!("--snp-ovmf-hash {h:?}: expected 96 hex digits (a SHA-384)")))?;
                Some(prelaunch_measure::snp::digest::Resume { ld, after_ops: prelaunch_measure::snp::digest::firmware_prefix(&plan) })
            }
        };
        Ok(Launch { args: self.clone(), plan, firmware, svsm: svsm_file, vars_size: vars, payload, vcpus, vcpu_sig, vmm, resume })
    }

    /// Hashes the direct-boot payload (kernel and initrd in parallel, each read once from its mapping).
    fn payload(&self, out: &Out) -> Result<Option<Payload>, CliError> {
        if self.kernel.is_none() && self.kernel_hash.is_none() {
            return Ok(None);
        }
        let append = self.append.as_ref().map(os_bytes);
        let hash_file = |p: &PathBuf, kind: Kind| -> Result<(Sha256Digest, bool), CliError> {
            let f = Input::open(p, kind)?;
            let sha = Sha256::digest(&f);
            crate::detail::input(out, kind.what, &f, Some(&sha));
            Ok((sha, crate::kernel_kind::looks_bootable(&f)))
        };
        let (k, i) = rayon::join(
            || self.kernel.as_ref().map(|p| hash_file(p, Kind::KERNEL)).transpose(),
            || self.initrd.as_ref().map(|p| hash_file(p, Kind::INITRD)).transpose(),
        );
        let (k, i) = (k?, i?);
        if let (Some((_, false)), Some(p)) = (&k, &self.kernel) {
            out.warn(&format!(
                "{}: not a bootable kernel (no PE/EFI or bzImage header found); measuring its bytes as given",
                prelaunch_files::show(p)
            ));
        }
        let kernel = k.map(|k| k.0).or(self.kernel_hash).unwrap_or_default();
        let initrd = i.map(|i| i.0).or(self.initrd_hash).unwrap_or_else(|| Sha256::digest(&[]));
        Ok(Some(Payload {
            kernel: self.kernel.clone(),
            initrd: self.initrd.clone(),
            append: append.clone(),
            hashes: KernelHashes::from_digests(kernel, initrd, append.as_deref()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcpu_lists() {
        assert_eq!(parse_vcpus("4").unwrap().0, vec![4]);
        assert_eq!(parse_vcpus("1-3,8").unwrap().0, vec![1, 2, 3, 8]);
        assert!(parse_vcpus("3-1").is_err());
        assert!(parse_vcpus("x").is_err());
        assert!(parse_vcpus("1-99999").is_err());
        assert_eq!(parse_vcpus("0").unwrap_err(), "0 vCPUs: a guest has at least one");
        assert!(parse_vcpus("0-4").is_err());
        assert_eq!(parse_vcpus("1-4096").unwrap().0.len(), 4096);
        assert!(parse_vcpus("1-4096,1").unwrap_err().contains("more than 4096"), "the list is bounded, not only each count");
        assert!(parse_vcpus(&"1-4096,".repeat(1000)).is_err());
        assert!(parse_vcpus("").is_err());
    }

    #[test]
    fn python_style_ints() {
        assert_eq!(parse_int("0x21").unwrap(), 0x21);
        assert_eq!(parse_int("33").unwrap(), 33);
        assert_eq!(parse_int("0b101").unwrap(), 5);
        assert!(parse_int("-1").is_err());
        assert!(parse_int("0xZZ").is_err());
    }
}
