//! `prelaunch reference-values` (alias `refvals`): every launch shape of a firmware release, written
//! in the format a verifier reads, or `--check FILE`: a file made by anyone, recomputed entry by
//! entry. The logic lives in `prelaunch_measure::reference`; this module maps arguments to shapes,
//! files to bytes and results to output.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use prelaunch_files::{Input, Kind};
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::hash::{Sha256, Sha384};
use prelaunch_measure::idblock::IdKey;
use prelaunch_measure::plan::sev::{AmdConfig, DEFAULT_POLICY, Svsm};
use prelaunch_measure::plan::{self, CheckedPlan, Mode, TdxPolicy};
use prelaunch_measure::reference::matrix::{self, Group, MatrixError};
use prelaunch_measure::reference::{self, Entry, Platform, ReferenceSet, Shape, check, corim, cose, gce, json, trustee};
use prelaunch_measure::snp::{KernelHashes, Vmm, cpu};

use crate::error::{CliError, Context, usage};
use crate::launch::{PageAugArg, PageOrderArg, VcpuList, parse_int, parse_vcpus};
use crate::outln;
use crate::output::{Out, Style, write_output};

/// Reference-value files: a 4096-vCPU matrix over several types in JSON stays far below this.
pub const REFERENCE_FILE: Kind = Kind { what: "reference-value file", max: 256 << 20, map: false };

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformArg {
    Snp,
    Tdx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// prelaunch's canonical JSON (schema/reference-values.v1.schema.json).
    Json,
    /// CoRIM (CBOR), launch-measurement profile; `--sign KEY` wraps it in COSE_Sign1.
    Corim,
    /// GCE VMGoldenMeasurement, binary protobuf.
    Gce,
    /// GCE VMGoldenMeasurement, protobuf text format.
    GceText,
    /// Trustee reference value provider JSON.
    Trustee,
}

#[derive(Args, Debug)]
pub struct ReferenceValuesArgs {
    /// Platform: snp (launch digest) or tdx (MRTD; RTMRs once computed).
    #[arg(long, value_enum, default_value = "snp")]
    pub mode: PlatformArg,
    /// Firmware image (OVMF).
    #[arg(long, value_name = "PATH")]
    pub ovmf: PathBuf,
    /// vCPU counts: ranges and lists (`1-512`, `1,2,4,8`).
    #[arg(long, value_name = "LIST", value_parser = parse_vcpus)]
    pub vcpus: Option<VcpuList>,
    /// QEMU vCPU models, comma-separated (EPYC-Milan,EPYC-Genoa,EPYC-Turin).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub vcpu_type: Vec<String>,
    /// vCPU signatures (CPUID 1 EAX), comma-separated, instead of --vcpu-type.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_u32, conflicts_with = "vcpu_type")]
    pub vcpu_sig: Vec<u32>,
    /// VMMs, comma-separated: QEMU, ec2, gce.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "QEMU")]
    pub vmm_type: Vec<String>,
    /// SEV features in the VMSAs, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_int, default_value = "0x1")]
    pub guest_features: Vec<u64>,
    /// SNP guest policy.
    #[arg(long, value_name = "HEX", value_parser = parse_int, default_value = "0x30000")]
    pub policy: u64,
    /// Kernel for measured direct boot.
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Initrd for measured direct boot (with --kernel).
    #[arg(long, value_name = "PATH", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line for measured direct boot (with --kernel).
    #[arg(long, value_name = "CMDLINE", requires = "kernel", allow_hyphen_values = true)]
    pub append: Option<String>,
    /// SVSM binary below the firmware (SNP).
    #[arg(long, value_name = "PATH", requires = "vars_size")]
    pub svsm: Option<PathBuf>,
    /// Size of the OVMF variable store between the SVSM and the firmware.
    #[arg(long, value_name = "SIZE", value_parser = parse_int)]
    pub vars_size: Option<u64>,
    /// TDX guest memory sizes, comma-separated (`2G,4G,16G`; K, M, G, T suffixes).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_size)]
    pub memory: Vec<u64>,
    /// (TDX) The order the VMM adds and measures pages in.
    #[arg(long, value_enum, default_value = "single")]
    pub tdx_page_order: PageOrderArg,
    /// (TDX) Whether the VMM adds the TDVF's PAGE_AUG sections at launch or leaves them to the guest.
    #[arg(long, value_enum, default_value = "add")]
    pub tdx_page_aug: PageAugArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: FormatArg,
    /// Write to this file (atomically; never through a symlink) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// For gce formats with several documents (one per vCPU type, VMM, ...): write each here.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Sign the CoRIM (COSE_Sign1, ES384) with this P-384 private key (PEM).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// The issuer named in a signed CoRIM's CWT claims.
    #[arg(long, value_name = "NAME", default_value = "prelaunch")]
    pub signer: String,
    /// Security version number endorsed (CoRIM CES triple, GCE svn).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub svn: u32,
    /// CoRIM without the per-entry shapes (for one entry: exactly the igvm crate's CoRIM).
    #[arg(long)]
    pub no_shapes: bool,
    /// GCE family ID (a UUID or 32 hex digits; zero by default).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub family_id: Option<[u8; 16]>,
    /// GCE image ID (a UUID or 32 hex digits; zero by default).
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub image_id: Option<[u8; 16]>,
    /// Trustee expiration, days from now.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub expire_days: u32,
    /// Recompute the entries of this reference file (any format) and report every one that
    /// disagrees; the launch arguments fill in what the file does not record.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "out_dir", "sign"])]
    pub check: Option<PathBuf>,
    /// With --check: the key a signed CoRIM must verify with (public key, certificate or private key).
    #[arg(long, value_name = "PEM", requires = "check")]
    pub reference_key: Option<PathBuf>,
}

fn parse_u32(s: &str) -> Result<u32, String> {
    parse_int(s).and_then(|v| u32::try_from(v).map_err(|_| format!("{s:?} does not fit in 32 bits")))
}

/// `2G`, `512M`, `1T`, or bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n = parse_int(num)?;
    n.checked_mul(1u64 << shift).filter(|&v| v > 0).ok_or_else(|| format!("{s:?} is not a memory size above zero that fits in 64 bits"))
}

fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    let b = hex::decode(&h).map_err(|e| format!("{s:?}: not a UUID ({e})"))?;
    b.try_into().map_err(|_| format!("{s:?}: a UUID is 16 bytes"))
}

/// The files a matrix reads, mapped once.
struct Material {
    firmware: Input,
    svsm: Option<Input>,
    kernel: Option<KernelHashes>,
    /// SHA-256 of every input, by name, as entries record them.
    inputs: BTreeMap<String, String>,
}

impl Material {
    fn open(a: &ReferenceValuesArgs) -> Result<Material, CliError> {
        let firmware = Input::open(&a.ovmf, Kind::FIRMWARE)?;
        let svsm = a.svsm.as_ref().map(|p| Input::open(p, Kind::FIRMWARE)).transpose()?;
        let kernel_file = a.kernel.as_ref().map(|p| Input::open(p, Kind::KERNEL)).transpose()?;
        let initrd_file = a.initrd.as_ref().map(|p| Input::open(p, Kind::INITRD)).transpose()?;
        let kernel = kernel_file.as_ref().map(|k| KernelHashes::new(k, initrd_file.as_deref(), a.append.as_deref().map(str::as_bytes)));
        // The firmware's SHA-256 is filled in by `with_firmware_digest`, beside the walk.
        let mut inputs = BTreeMap::from([("firmware".to_owned(), String::new())]);
        if let Some(s) = &svsm {
            inputs.insert("svsm".into(), hex::encode(Sha256::digest(s)));
        }
        if let Some(k) = &kernel {
            inputs.insert("kernel".into(), hex::encode(k.kernel));
            inputs.insert("initrd".into(), hex::encode(k.initrd));
            inputs.insert("cmdline".into(), hex::encode(k.cmdline));
        }
        Ok(Material { firmware, svsm, kernel, inputs })
    }

    /// Runs `work` while another thread takes the firmware's SHA-256 (one serial stream that costs
    /// more than hashing the pages for the digest), then records the digest in the inputs and in
    /// every entry `work` made.
    fn with_firmware_digest(&mut self, work: impl FnOnce(&Material) -> Result<Vec<Entry>, CliError>) -> Result<Vec<Entry>, CliError> {
        let (sha, entries) = std::thread::scope(|s| {
            let h = s.spawn(|| Sha256::digest(&self.firmware));
            let entries = work(self);
            (h.join(), entries)
        });
        let sha = hex::encode(sha.map_err(|_| CliError::Failed("the SHA-256 thread panicked".into()))?);
        self.inputs.insert("firmware".into(), sha.clone());
        let mut entries = entries?;
        for e in &mut entries {
            e.inputs.insert("firmware".into(), sha.clone());
        }
        Ok(entries)
    }
}

/// The groups (walks) the arguments span: vCPU type x VMM x features (SNP), one policy (TDX).
fn groups(a: &ReferenceValuesArgs, m: &Material) -> Result<Vec<Group>, CliError> {
    let mut out = Vec::new();
    match a.mode {
        PlatformArg::Tdx => out.push(Group { shape: tdx_shape(a), inputs: m.inputs.clone() }),
        PlatformArg::Snp => {
            let vmms = a
                .vmm_type
                .iter()
                .map(|v| Vmm::from_name(v).ok_or_else(|| CliError::Usage(format!("unknown VMM type {v:?} (expected QEMU, ec2 or gce)"))))
                .collect::<Result<Vec<_>, _>>()?;
            for c in &a.vcpu_type {
                if cpu::by_name(c).is_none() {
                    return usage(format!(
                        "unknown vCPU type {c:?}; known: {}",
                        cpu::CPU_TYPES.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            for &vmm in &vmms {
                // EC2 and GCE put a fixed value in RDX: the vCPU type does not enter their VMSAs.
                let cpus: Vec<(Option<String>, Option<u32>)> = if vmm != Vmm::Qemu {
                    vec![(None, None)]
                } else if !a.vcpu_type.is_empty() {
                    a.vcpu_type.iter().map(|t| (Some(t.clone()), cpu::by_name(t))).collect()
                } else if !a.vcpu_sig.is_empty() {
                    a.vcpu_sig.iter().map(|&s| (None, Some(s))).collect()
                } else {
                    return usage("missing --vcpu-type or --vcpu-sig (the QEMU VMM measures the vCPU signature)");
                };
                for (vcpu_type, vcpu_sig) in cpus {
                    for &f in &a.guest_features {
                        let shape = Shape {
                            vcpu_type: vcpu_type.clone(),
                            vcpu_sig,
                            vmm_type: Some(vmm),
                            guest_features: Some(f),
                            policy: Some(a.policy),
                            vars_size: a.svsm.as_ref().and(a.vars_size),
                            append: a.append.clone(),
                            ..Shape::default()
                        };
                        out.push(Group { shape, inputs: m.inputs.clone() });
                    }
                }
            }
        }
    }
    Ok(out)
}

fn tdx_shape(a: &ReferenceValuesArgs) -> Shape {
    Shape { tdx_page_order: Some(a.tdx_page_order.0), tdx_page_aug: Some(a.tdx_page_aug.0), ..Shape::default() }
}

/// Plans for groups' shapes: the OVMF builders (an IGVM builder slots in the same way).
struct OvmfPlans<'a> {
    fw: FirmwareImage<'a>,
    svsm: Option<FirmwareImage<'a>>,
    kernel: Option<KernelHashes>,
}

impl matrix::PlanBuilder for OvmfPlans<'_> {
    fn build(&self, g: &Group, vcpus: u32) -> Result<CheckedPlan<'_>, MatrixError> {
        let s = &g.shape;
        let err = |source| MatrixError::Plan { shape: s.describe(), source };
        if s.tdx_page_order.is_some() || s.tdx_page_aug.is_some() {
            let policy = TdxPolicy { page_order: s.tdx_page_order.unwrap_or_default(), page_aug: s.tdx_page_aug.unwrap_or_default() };
            return plan::tdx::build(&self.fw, policy).map_err(err);
        }
        let shape_err = |msg: String| MatrixError::Shape { shape: s.describe(), msg };
        let mut cfg = AmdConfig::new(Mode::Snp);
        cfg.vcpus = vcpus;
        cfg.vmm = s.vmm_type.unwrap_or(Vmm::Qemu);
        cfg.vcpu_sig = match (s.vcpu_sig, &s.vcpu_type) {
            (Some(sig), _) => sig,
            (None, Some(t)) => cpu::by_name(t).ok_or_else(|| shape_err(format!("unknown vCPU type {t:?}")))?,
            (None, None) if cfg.vmm != Vmm::Qemu => 0,
            (None, None) => return Err(shape_err("no vCPU type or signature for a QEMU launch (give --vcpu-type)".into())),
        };
        cfg.guest_features = s.guest_features.unwrap_or(1);
        cfg.policy = s.policy.unwrap_or(DEFAULT_POLICY);
        cfg.kernel = self.kernel;
        cfg.svsm = match (&self.svsm, s.vars_size) {
            (Some(img), Some(vars_size)) => Some(Svsm { image: img.clone(), vars_size }),
            _ => None,
        };
        plan::sev::build(&self.fw, &cfg).map_err(err)
    }
}

/// A progress bar on stderr, shown only on a terminal and only once the work has taken a second.
struct Bar {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    enabled: bool,
}

impl Bar {
    fn new(out: &Out) -> Bar {
        Bar { bar: None, started: Instant::now(), enabled: !out.quiet && std::io::stderr().is_terminal() }
    }

    fn update(&mut self, done: usize, total: usize) {
        if !self.enabled || (self.bar.is_none() && self.started.elapsed() < Duration::from_secs(1)) {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template("reference values {bar:40} {pos}/{len} entries ({elapsed})") {
                b.set_style(style);
            }
            b
        });
        bar.set_position(done as u64);
    }

    fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// Computes the entries of `groups` (SNP: x counts; TDX: x memory sizes).
fn compute(a: &ReferenceValuesArgs, m: &Material, groups: &[Group], counts: &[u32], out: &Out) -> Result<Vec<Entry>, CliError> {
    let fw = FirmwareImage::parse(&m.firmware).in_file(&a.ovmf)?;
    let svsm = match (&m.svsm, &a.svsm) {
        (Some(f), Some(p)) => Some(FirmwareImage::parse(f).in_file(p)?),
        _ => None,
    };
    let builder = OvmfPlans { fw, svsm, kernel: m.kernel };
    let mut bar = Bar::new(out);
    let entries = match groups.first().map(|g| g.shape.tdx_page_order.is_some()) {
        Some(true) => {
            let memories: Vec<Option<u64>> = a.memory.iter().copied().map(Some).collect();
            let vcpus: Vec<Option<u32>> = a.vcpus.as_ref().map(|v| v.0.iter().copied().map(Some).collect()).unwrap_or_default();
            matrix::tdx(groups, &memories, &vcpus, &builder, None, &mut |d, t| bar.update(d, t))
        }
        _ => matrix::snp(groups, counts, &builder, &mut |d, t| bar.update(d, t)),
    };
    bar.finish();
    entries.in_file(&a.ovmf)
}

fn now() -> i64 {
    // SOURCE_DATE_EPOCH makes outputs reproducible (the reproducible-builds convention).
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse().ok()) {
        return t;
    }
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

pub fn run(a: &ReferenceValuesArgs, out: &Out) -> Result<(), CliError> {
    if a.mode == PlatformArg::Tdx && (a.svsm.is_some() || a.kernel.is_some()) {
        return usage("--svsm and --kernel apply to SNP: a TDX kernel is measured into RTMRs, not MRTD");
    }
    if a.mode == PlatformArg::Snp && !a.memory.is_empty() {
        return usage("--memory applies to TDX (it enters the TD HOB); the SNP launch digest does not depend on it");
    }
    if let Some(f) = &a.check {
        return run_check(a, f, out);
    }
    let counts: Vec<u32> = match (a.mode, &a.vcpus) {
        (PlatformArg::Snp, None) => return usage("--vcpus is required for SNP (a range or list, e.g. 1-512)"),
        (_, v) => v.as_ref().map(|v| v.0.clone()).unwrap_or_default(),
    };
    if a.sign.is_some() && a.format != FormatArg::Corim {
        return usage("--sign applies to --format corim");
    }
    let mut m = Material::open(a)?;
    let groups = groups(a, &m)?;
    let entries = m.with_firmware_digest(|m| compute(a, m, &groups, &counts, out))?;
    let mut set = ReferenceSet { entries, ..ReferenceSet::default() };
    set.metadata.svn = Some(u64::from(a.svn));
    match a.format {
        FormatArg::Json => {
            write_output(a.out.as_deref(), &json::encode(&set, &format!("prelaunch {}", env!("CARGO_PKG_VERSION"))).in_file(&a.ovmf)?)
        }
        FormatArg::Trustee => {
            write_output(a.out.as_deref(), &trustee::encode(&set, now() + i64::from(a.expire_days) * 86_400).in_file(&a.ovmf)?)
        }
        FormatArg::Corim => {
            let mut bytes = corim::encode(&set, corim::CorimOptions { svn: u64::from(a.svn), shapes: !a.no_shapes }).in_file(&a.ovmf)?;
            if let Some(k) = &a.sign {
                let key = IdKey::from_pem_bytes(&Input::open(k, Kind::KEY)?).in_file(k)?;
                bytes = cose::sign(&bytes, &key, &a.signer).in_file(k)?;
            }
            refuse_terminal(a.out.as_deref())?;
            write_output(a.out.as_deref(), &bytes)
        }
        FormatArg::Gce | FormatArg::GceText => {
            set.metadata.firmware_sha384 = Some(Sha384::digest(&m.firmware));
            let opts = gce::GceOptions {
                svn: a.svn,
                family_id: a.family_id.unwrap_or_default(),
                image_id: a.image_id.unwrap_or_default(),
                timestamp: Some(now()),
            };
            let docs = gce::encode(&set, &opts).in_file(&a.ovmf)?;
            let render = |d: &gce::GceDocument| -> Result<Vec<u8>, CliError> {
                match a.format {
                    FormatArg::GceText => gce::to_text(&d.to_bytes()).map(String::into_bytes).in_file(&a.ovmf),
                    _ => Ok(d.to_bytes()),
                }
            };
            match (&a.out_dir, docs.as_slice()) {
                (None, [one]) => {
                    if a.format == FormatArg::Gce {
                        refuse_terminal(a.out.as_deref())?;
                    }
                    write_output(a.out.as_deref(), &render(one)?)
                }
                (None, many) => usage(format!(
                    "the matrix spans {} GCE documents (one per vCPU type, VMM, features...): give --out-dir DIR",
                    many.len()
                )),
                (Some(dir), docs) => {
                    let ext = if a.format == FormatArg::Gce { "binpb" } else { "txtpb" };
                    for d in docs {
                        let p = dir.join(format!("{}.{ext}", file_stem(&d.shape)));
                        write_output(Some(&p), &render(d)?)?;
                        out.note(&format!("wrote {}", p.display()));
                    }
                    Ok(())
                }
            }
        }
    }
}

/// `gce-QEMU-EPYC-Genoa-0x1` and the like.
fn file_stem(s: &Shape) -> String {
    let mut parts = vec!["gce".to_owned()];
    if let Some(v) = s.vmm_type {
        parts.push(v.name().to_owned());
    }
    match (&s.vcpu_type, s.vcpu_sig) {
        (Some(t), _) => parts.push(t.clone()),
        (None, Some(sig)) => parts.push(format!("sig{sig:#x}")),
        _ => {}
    }
    if let Some(f) = s.guest_features {
        parts.push(format!("{f:#x}"));
    }
    parts.join("-").chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// Binary output never goes to a terminal.
fn refuse_terminal(out: Option<&Path>) -> Result<(), CliError> {
    if out.is_none() && std::io::stdout().is_terminal() {
        return usage("binary output: give --out FILE or redirect stdout");
    }
    Ok(())
}

fn run_check(a: &ReferenceValuesArgs, file: &Path, out: &Out) -> Result<(), CliError> {
    let bytes = Input::open(file, REFERENCE_FILE)?;
    let key = a
        .reference_key
        .as_ref()
        .map(|k| Input::open(k, Kind::CERTIFICATE).map_err(CliError::from).and_then(|b| cose::verifying_key(&b).in_file(k)))
        .transpose()?;
    let (format, sig, set) = reference::decode(&bytes, key.as_ref()).in_file(file)?;
    let platform = set.platform().ok_or_else(|| CliError::Failed(format!("{}: mixes SNP and TDX entries", file.display())))?;
    if (platform == Platform::Tdx) != (a.mode == PlatformArg::Tdx) {
        return usage(format!("{} holds {} entries; give --mode {}", file.display(), platform.name(), platform.name()));
    }
    let mut m = Material::open(a)?;
    m.with_firmware_digest(|_| Ok(Vec::new()))?;
    let defaults = match a.mode {
        PlatformArg::Tdx => tdx_shape(a),
        PlatformArg::Snp => {
            let mut g = groups(a, &m).unwrap_or_default();
            if g.is_empty() { Shape { policy: Some(a.policy), ..Shape::default() } } else { g.swap_remove(0).shape }
        }
    };
    // Entries without a vCPU count (a Trustee list records values only) are checked for
    // membership: their value must come out of the matrix the command line spans.
    let (counted, uncounted): (Vec<usize>, Vec<usize>) =
        (0..set.entries.len()).partition(|&i| platform == Platform::Tdx || set.entries[i].shape.vcpus.is_some());
    let mut disagreements = Vec::new();
    if !uncounted.is_empty() {
        let counts = a.vcpus.as_ref().map(|v| v.0.clone()).ok_or_else(|| {
            CliError::Usage(format!(
                "{}: its entries record no vCPU count; give the --vcpus (and --vcpu-type ...) to check them against",
                file.display()
            ))
        })?;
        let all = compute(a, &m, &groups(a, &m)?, &counts, out)?;
        let known: std::collections::HashSet<[u8; 48]> = all.iter().filter_map(|e| e.values.measurement).collect();
        for &i in &uncounted {
            let e = &set.entries[i];
            if let Some(v) = e.values.measurement
                && !known.contains(&v)
            {
                disagreements.push(check::Disagreement {
                    index: i,
                    shape: e.shape.describe(),
                    field: "MEASUREMENT".into(),
                    in_file: hex::encode(v),
                    computed: format!("(not among the {} values of the given launch arguments)", known.len()),
                });
            }
        }
    }
    let counted_set = ReferenceSet { metadata: set.metadata.clone(), entries: counted.iter().map(|&i| set.entries[i].clone()).collect() };
    let walks = check::walks(&counted_set, &defaults, &m.inputs);
    for w in &walks {
        let computed = match w.platform {
            Platform::Snp => {
                if w.counts.is_empty() {
                    return Err(CliError::Failed(format!(
                        "{}: an entry without a vCPU count ({}); SNP digests depend on it",
                        file.display(),
                        w.group.shape.describe()
                    )));
                }
                compute(a, &m, std::slice::from_ref(&w.group), &w.counts, out)?
            }
            Platform::Tdx => compute(a, &m, std::slice::from_ref(&w.group), &[], out)?,
        };
        for &j in &w.entries {
            let i = counted[j];
            let want = &set.entries[i];
            let c = computed.iter().find(|c| w.platform == Platform::Tdx || c.shape.vcpus == check::complete(&want.shape, &defaults).vcpus);
            match c {
                Some(c) => disagreements.extend(check::compare(i, want, c)),
                None => return Err(CliError::Failed(format!("{}: entry {i} was not recomputed", file.display()))),
            }
        }
    }
    outln!(
        "{}: {} ({}), {} entries in {} walks",
        file.display(),
        format.name(),
        signature_note(sig),
        set.entries.len(),
        walks.len() + usize::from(!uncounted.is_empty())
    );
    if disagreements.is_empty() {
        outln!("{} every entry agrees with its recomputation", out.paint(Style::Good, "ok:"));
        return Ok(());
    }
    for d in &disagreements {
        outln!("{} entry {} ({}): {}", out.paint(Style::Bad, "DISAGREES:"), d.index, d.shape, d.field);
        outln!("    in file   {}", d.in_file);
        outln!("    computed  {}", d.computed);
    }
    Err(CliError::Mismatch(format!(
        "{}: {} of {} entries disagree",
        file.display(),
        disagreements.iter().map(|d| d.index).collect::<std::collections::BTreeSet<_>>().len(),
        set.entries.len()
    )))
}

fn signature_note(s: reference::Signature) -> &'static str {
    match s {
        reference::Signature::None => "unsigned",
        reference::Signature::Verified => "signature verified",
        reference::Signature::Unchecked => "signed, signature NOT checked (give --reference-key)",
    }
}
