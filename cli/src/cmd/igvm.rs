//! IGVM files in `measure --igvm`: the launch digest a VMM's IGVM loader produces (`--igvm-loader`),
//! and with `--explain` every place where the loaders, or the firmware the file wraps launched
//! natively, would measure it differently.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use prelaunch_files::{Input, Kind, show};
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::digest::{self, Measurement};
use prelaunch_measure::hash::Sha256;
use prelaunch_measure::igvm::profile::{self, LoaderProfile};
use prelaunch_measure::igvm::{IgvmConfig, IgvmImage, IgvmPlan, build, compare};
use prelaunch_measure::plan::sev::AmdConfig;
use prelaunch_measure::plan::{self, CheckedPlan, Mode, PAGE_SIZE, Source, TdxPolicy};
use serde_json::{Value, json};

use crate::cmd::measure::{MeasureArgs, OutputFormat};
use crate::error::{CliError, Context, usage};
use crate::launch::ModeArg;
use crate::outln;
use crate::output::{Out, hex, print_json};

/// `--igvm-loader`: the loader profiles, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderArg(pub &'static LoaderProfile);

const LOADERS: [LoaderArg; 4] =
    [LoaderArg(&profile::QEMU), LoaderArg(&profile::CLOUD_HYPERVISOR), LoaderArg(&profile::OPENVMM), LoaderArg(&profile::IGVM_SPEC)];

impl ValueEnum for LoaderArg {
    fn value_variants<'a>() -> &'a [Self] {
        &LOADERS
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let short = self.0.follows.split(" (").next().unwrap_or(self.0.follows);
        Some(clap::builder::PossibleValue::new(self.0.name).help(short.to_string()))
    }
}

/// The IGVM input of `measure`.
#[derive(Args, Debug, Clone, Default)]
pub struct IgvmSource {
    /// Measure an IGVM file (instead of --ovmf): the platform is --mode (snp or tdx) among those the
    /// file declares, the populate calls those of the VMM named by --igvm-loader.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ovmf", "qemu_cmdline", "kernel", "kernel_hash", "svsm"])]
    pub igvm: Option<PathBuf>,
    /// The VMM whose IGVM loader is modelled (not in the file: how zero pages, parameter inserts,
    /// shared and 2 MiB pages, page order and VMSAs are populated). Default: qemu for snp,
    /// igvm-spec for tdx.
    #[arg(long, value_enum, value_name = "LOADER", requires = "igvm")]
    pub igvm_loader: Option<LoaderArg>,
}

/// The loader profile `--igvm-loader` names, or the default for `mode`.
pub fn loader(arg: Option<LoaderArg>, mode: Mode) -> &'static LoaderProfile {
    match arg {
        Some(l) => l.0,
        None if mode == Mode::Tdx => &profile::IGVM_SPEC,
        None => &profile::QEMU,
    }
}

/// Reads an IGVM file (bounded, type-checked before it is opened, as every firmware input).
pub fn open(path: &Path) -> Result<Input, CliError> {
    Ok(Input::open(path, Kind::FIRMWARE)?)
}

fn config<'p>(a: &MeasureArgs, mode: Mode, p: &'p LoaderProfile, vcpus: u32) -> IgvmConfig<'p> {
    let mut cfg = IgvmConfig::new(mode, p);
    cfg.vcpus = vcpus;
    cfg.vcpu_sig = a.launch.vcpu_sig();
    cfg.tdx = TdxPolicy { page_order: a.launch.tdx_page_order.0, page_aug: a.launch.tdx_page_aug.0 };
    cfg
}

fn plan_mode(m: ModeArg) -> Result<Mode, CliError> {
    match m {
        ModeArg::Snp => Ok(Mode::Snp),
        ModeArg::Tdx => Ok(Mode::Tdx),
        other => usage(format!("--igvm measures --mode snp or --mode tdx, not {:?}", other.mode().name())),
    }
}

/// `measure --igvm FILE`.
pub fn measure(a: &MeasureArgs, path: &Path, out: &Out) -> Result<(), CliError> {
    if a.dump_vmsa || a.launch.snp_ovmf_hash.is_some() {
        return usage("--dump-vmsa and --snp-ovmf-hash do not apply to --igvm");
    }
    let mode = plan_mode(a.launch.mode)?;
    let profile = loader(a.igvm.igvm_loader, mode);
    let file = open(path)?;
    let img = IgvmImage::parse(&file).in_file(path)?;
    let counts = a.launch.vcpus.clone().map_or(vec![1], |v| v.0);
    let mut rows = Vec::new();
    for &n in &counts {
        let built = build(&img, &config(a, mode, profile, n)).in_file(path)?;
        if a.explain && counts.len() == 1 {
            explain(a, path, &img, &built, mode, n)?;
        }
        rows.push((n, digest::fold(&built.plan), built));
    }
    match a.output_format {
        OutputFormat::Json => {
            let file_doc = json!({"path": show(path).to_string(), "size": file.len(), "sha256": hex::encode(Sha256::digest(&file))});
            let table: Vec<Value> = rows
                .iter()
                .map(|(n, m, b)| {
                    json!({"vcpus": n, "digest": m.hex(), "notes": b.notes.iter().map(|x| json!({"property": x.property, "detail": x.detail})).collect::<Vec<_>>()})
                })
                .collect();
            let digest = if rows.len() == 1 { Value::String(rows[0].1.hex()) } else { Value::Null };
            print_json(&json!({
                "mode": mode.name(),
                "igvm_loader": profile.name,
                "igvm_loader_follows": profile.follows,
                "digest": digest,
                "vcpu_table": table,
                "inputs": {"igvm": file_doc},
            }))
        }
        f => {
            let show_m = |m: &Measurement| if f == OutputFormat::Base64 { m.base64() } else { m.hex() };
            if rows.len() == 1 && out.verbose > 0 {
                outln!("Calculated {} guest measurement (IGVM, loader {}): {}", mode.name(), profile.name, show_m(&rows[0].1));
            } else if rows.len() == 1 {
                outln!("{}", show_m(&rows[0].1));
            } else {
                for (n, m, _) in &rows {
                    outln!("{n}\t{}", show_m(m));
                }
            }
            Ok(())
        }
    }
}

/// `--explain` with `--igvm`: the profile, what it decided for this file, the populate runs, where
/// each other profile differs, and where `measure --ovmf` of the firmware the file wraps differs.
fn explain(a: &MeasureArgs, path: &Path, img: &IgvmImage<'_>, built: &IgvmPlan<'_>, mode: Mode, vcpus: u32) -> Result<(), CliError> {
    let p = loader(a.igvm.igvm_loader, mode);
    outln!("IGVM loader profile {} (follows {})", p.name, p.follows);
    for (k, v) in p.properties() {
        outln!("  {k:<20} {v}");
    }
    outln!("  {:<20} {}", "adds", p.adds);
    if !built.notes.is_empty() {
        outln!("what the profile did with this file:");
        for n in &built.notes {
            outln!("  {}: {}", n.property, n.detail);
        }
    }
    runs(&built.plan);
    let ours = digest::fold(&built.plan);
    for other in profile::ALL.into_iter().filter(|o| o.name != p.name && o.loads(mode)) {
        let Ok(b) = build(img, &config(a, mode, other, vcpus)) else {
            outln!("loader {}: refuses this file", other.name);
            continue;
        };
        let m = digest::fold(&b.plan);
        if m == ours {
            outln!("loader {}: same digest", other.name);
            continue;
        }
        outln!("loader {}: {}; differences from {}:", other.name, m.hex(), p.name);
        for d in compare::compare((&built.plan, p.name), (&b.plan, other.name)) {
            outln!("  {}: {}", d.what, d.detail);
        }
    }
    native(a, path, img, built, mode, vcpus, ours)
}

/// The firmware the file wraps (its pages ending at 4 GiB), measured as `measure --ovmf` would.
fn native(
    a: &MeasureArgs,
    path: &Path,
    img: &IgvmImage<'_>,
    built: &IgvmPlan<'_>,
    mode: Mode,
    vcpus: u32,
    ours: Measurement,
) -> Result<(), CliError> {
    let Some(platform) = img.platforms().into_iter().find(|p| p.mode() == Some(mode)) else { return Ok(()) };
    let Some(bytes) = img.embedded_firmware(platform.compatibility_mask) else {
        outln!("the file carries no firmware image ending at 4 GiB: no `measure --ovmf` comparison");
        return Ok(());
    };
    let fw = match FirmwareImage::parse(&bytes) {
        Ok(fw) => fw,
        Err(e) => {
            outln!(
                "the {:#x} bytes below 4 GiB are not a firmware image prelaunch reads ({e}): no `measure --ovmf` comparison",
                bytes.len()
            );
            return Ok(());
        }
    };
    let native = match mode {
        Mode::Tdx => plan::tdx::build(&fw, TdxPolicy { page_order: a.launch.tdx_page_order.0, page_aug: a.launch.tdx_page_aug.0 }),
        _ => {
            let mut cfg = AmdConfig::new(Mode::Snp);
            (cfg.vcpus, cfg.vcpu_sig, cfg.guest_features) = (vcpus, a.launch.vcpu_sig(), a.launch.guest_features);
            plan::sev::build(&fw, &cfg)
        }
    };
    let native = match native {
        Ok(n) => n,
        Err(e) => {
            outln!("the firmware the file wraps ({:#x} bytes) cannot be measured natively: {e}", bytes.len());
            return Ok(());
        }
    };
    let m = digest::fold(&native);
    let name = "measure --ovmf";
    if m == ours {
        outln!("{name} of the firmware the file wraps ({:#x} bytes, {}): same digest", bytes.len(), show(path));
        return Ok(());
    }
    outln!("{name} of the firmware the file wraps ({:#x} bytes): {}; differences:", bytes.len(), m.hex());
    let pn = loader(a.igvm.igvm_loader, mode).name;
    for d in compare::compare((&built.plan, pn), (&native, name)) {
        outln!("  {}: {}", d.what, d.detail);
    }
    Ok(())
}

/// The plan's populate runs, one line each.
pub fn runs(plan: &CheckedPlan<'_>) {
    outln!("{:<4} {:<33} {:<15} {:>6}  source", "#", "GPA range", "kind", "pages");
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
        outln!("{i:<4} {range:<33} {:<15} {:>6}  {src}", op.kind.name(), op.len.div_ceil(PAGE_SIZE));
    }
}
