//! `prelaunch measure --mode tdx` with RTMRs: MRTD from the launch plan, RTMR0..2 from the TDVF and
//! QEMU profiles and the boot inputs (memory, ACPI blobs, variable store, boot variables, kernel,
//! initrd, command line). `--memory` and `--vcpus` lists produce one row per combination.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use prelaunch_files::{Input, Kind};
use prelaunch_measure::digest;
use prelaunch_measure::image::tdvf::TdvfSectionKind;
use prelaunch_measure::tdx::boot::{self, AcpiBlobs, BootInputs, Expected, StubMeasures};
use prelaunch_measure::tdx::profiles::{self, QemuProfile, TdvfProfile};
use prelaunch_measure::tdx::rtmr::Rtmr;
use serde_json::{Value, json};

use crate::error::{CliError, Context, usage};
use crate::launch::Launch;
use crate::outln;
use crate::output::{Doc, Out, Style, print_doc};

/// Small inputs read whole: ACPI blobs (QEMU's tables are 128 KiB), boot variables, fw_cfg items.
const SMALL: Kind = Kind { what: "ACPI blob, variable or fw_cfg item", max: 16 << 20, map: false };
/// A variable store: OVMF_VARS is 128 KiB to 4 MiB.
const VARS: Kind = Kind { what: "OVMF_VARS variable store", max: 64 << 20, map: false };

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Tri {
    #[default]
    Auto,
    Yes,
    No,
}

/// The RTMR inputs of `measure --mode tdx`.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "TDX RTMRs (with --mode tdx)")]
pub struct RtmrArgs {
    /// Guest RAM as QEMU -m: 2G, 4096M, bytes; a list (2G,4G) or a range (1G-8G, by 1 GiB; 1G-8G:512M).
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// TDVF (edk2) release: edk2-202502, debian-13, 2025.02, latest (default).
    #[arg(long, value_name = "PROFILE")]
    pub tdvf: Option<String>,
    /// QEMU's fw_cfg etc/table-loader.
    #[arg(long, value_name = "FILE")]
    pub acpi_loader: Option<PathBuf>,
    /// QEMU's fw_cfg etc/acpi/rsdp.
    #[arg(long, value_name = "FILE")]
    pub acpi_rsdp: Option<PathBuf>,
    /// QEMU's fw_cfg etc/acpi/tables.
    #[arg(long, value_name = "FILE")]
    pub acpi_tables: Option<PathBuf>,
    /// A directory holding table-loader, rsdp and tables (and any other blob under its fw_cfg name with / as _).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["acpi_loader", "acpi_rsdp", "acpi_tables"])]
    pub acpi_dir: Option<PathBuf>,
    /// A further ACPI blob the table loader allocates (etc/tpm/log=FILE).
    #[arg(long = "acpi-blob", value_name = "NAME=FILE")]
    pub acpi_blob: Vec<String>,
    /// BootOrder or Boot#### variable data (replaces the direct-boot defaults; repeat for each).
    #[arg(long = "boot-var", value_name = "NAME=FILE")]
    pub boot_var: Vec<String>,
    /// A fw_cfg item TDVF 202505+ measures (BootMenu, bootorder, etc/boot-menu-wait, ...), or NAME=none.
    #[arg(long = "fw-cfg", value_name = "NAME=FILE")]
    pub fw_cfg: Vec<String>,
    /// The guest's SMBIOS table (/sys/firmware/dmi/tables/DMI), measured by TDVF 202505+.
    #[arg(long, value_name = "FILE")]
    pub smbios: Option<PathBuf>,
    /// The firmware was built with Secure Boot (then a SecureBoot variable is measured with its value).
    #[arg(long)]
    pub secure_boot_support: bool,
    /// Whether the kernel's EFI stub measures into RTMR2 (auto: Linux 6.9+ by its version string).
    #[arg(long, value_enum, default_value = "auto")]
    pub kernel_stub_measures: Tri,
    /// Whether the measured kernel carries QEMU's setup-header patch (auto: from the profiles).
    #[arg(long, value_enum, default_value = "auto")]
    pub kernel_setup_patch: Tri,
    /// The guest's CC event log (/sys/firmware/acpi/tables/data/CCEL): print, per RTMR, the first
    /// event that differs from the expected ones and the input it comes from (exit 3 if any does).
    #[arg(long, value_name = "FILE")]
    pub event_log: Option<PathBuf>,
}

impl RtmrArgs {
    /// Whether any RTMR input was given (otherwise `measure --mode tdx` prints MRTD alone, as before).
    pub fn requested(&self) -> bool {
        self.memory.is_some()
            || self.tdvf.is_some()
            || self.acpi_loader.is_some()
            || self.acpi_dir.is_some()
            || self.acpi_tables.is_some()
            || !self.boot_var.is_empty()
            || self.smbios.is_some()
            || self.event_log.is_some()
    }
}

/// Sizes as QEMU -m takes them: bytes, or K/M/G/T suffixes (binary), MiB when no suffix is given
/// below 64K, as QEMU does.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().trim_end_matches("iB").trim_end_matches('B');
    let (num, mul) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 1 << 30),
        Some('t' | 'T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n = crate::launch::parse_int(num).map_err(|_| format!("{s:?} is not a size (2G, 2048M, 2147483648)"))?;
    let n = if mul == 1 && n < 65536 { n << 20 } else { n };
    n.checked_mul(mul).filter(|&v| v > 0).ok_or_else(|| format!("{s:?} is out of range"))
}

/// `2G`, `2G,4G`, `1G-4G` (step 1 GiB), `1G-4G:512M`; at most 4096 values.
pub fn parse_memory_list(s: &str) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (b, step) = match b.split_once(':') {
                    Some((b, st)) => (b, parse_size(st)?),
                    None => (b, 1 << 30),
                };
                let (a, b) = (parse_size(a)?, parse_size(b)?);
                if a > b {
                    return Err(format!("memory range {part} runs backwards"));
                }
                if (b - a) / step >= 4096 {
                    return Err(format!("memory range {part} has more than 4096 sizes"));
                }
                let mut m = a;
                while m <= b {
                    out.push(m);
                    m += step;
                }
            }
            None => out.push(parse_size(part)?),
        }
    }
    if out.len() > 4096 {
        return Err("more than 4096 memory sizes".into());
    }
    Ok(out)
}

fn name_file(s: &str, flag: &str) -> Result<(String, PathBuf), CliError> {
    match s.split_once('=') {
        Some((n, f)) if !n.is_empty() && !f.is_empty() => Ok((n.to_owned(), PathBuf::from(f))),
        _ => usage(format!("{flag} {s:?}: expected NAME=FILE")),
    }
}

fn read_small(p: &Path, kind: Kind) -> Result<Vec<u8>, CliError> {
    Ok(Input::open(p, kind)?.to_vec())
}

/// The table loader and the named blobs, as read.
type AcpiFiles = (Vec<u8>, Vec<(String, Vec<u8>)>);

/// The files an RTMR computation reads, loaded once for every row of a table.
struct Loaded {
    tdvf: &'static TdvfProfile,
    qemu: &'static QemuProfile,
    cfv: Option<Vec<u8>>,
    acpi: Option<AcpiFiles>,
    boot_vars: Option<Vec<(String, Vec<u8>)>>,
    fw_cfg: Vec<(String, Option<Vec<u8>>)>,
    smbios: Option<[u8; 48]>,
    kernel: Option<Input>,
    initrd: Option<Input>,
    cmdline: Vec<u8>,
}

fn acpi_dir(dir: &Path) -> Result<AcpiFiles, CliError> {
    let loader = dir.join("table-loader");
    let mut blobs = Vec::new();
    for (name, file) in [("etc/acpi/rsdp", "rsdp"), ("etc/acpi/tables", "tables")] {
        let p = dir.join(file);
        if p.exists() {
            blobs.push((name.to_owned(), read_small(&p, SMALL)?));
        }
    }
    Ok((read_small(&loader, SMALL)?, blobs))
}

fn load(a: &RtmrArgs, launch: &Launch) -> Result<Loaded, CliError> {
    let tdvf = match &a.tdvf {
        Some(t) => profiles::tdvf(t).map_err(|e| CliError::Usage(e.to_string()))?,
        None => profiles::tdvf_latest(),
    };
    // The one QEMU release table (`--qemu-version`, shared with SNP and qemu-args).
    let qemu = launch.args.qemu_profile();
    let l = &launch.args;
    let cfv = match &l.vars_file {
        Some(p) => Some(read_small(p, VARS)?),
        None => {
            let md = prelaunch_measure::FirmwareImage::parse(launch.firmware).in_file(launch.firmware_path())?.tdvf;
            md.and_then(|m| m.sections.into_iter().find(|s| s.kind == TdvfSectionKind::Cfv))
                .and_then(|s| launch.firmware.get(s.data_offset as usize..s.data_offset as usize + s.raw_size as usize).map(<[u8]>::to_vec))
        }
    };
    let mut acpi = match (&a.acpi_dir, &a.acpi_loader) {
        (Some(d), _) => Some(acpi_dir(d)?),
        (None, Some(loader)) => {
            let mut blobs = Vec::new();
            if let Some(p) = &a.acpi_rsdp {
                blobs.push(("etc/acpi/rsdp".to_owned(), read_small(p, SMALL)?));
            }
            if let Some(p) = &a.acpi_tables {
                blobs.push(("etc/acpi/tables".to_owned(), read_small(p, SMALL)?));
            }
            Some((read_small(loader, SMALL)?, blobs))
        }
        (None, None) if a.acpi_rsdp.is_some() || a.acpi_tables.is_some() => {
            return usage(
                "--acpi-rsdp and --acpi-tables need --acpi-loader (QEMU's etc/table-loader decides what TDVF measures, in which order)",
            );
        }
        _ => None,
    };
    for b in &a.acpi_blob {
        let (n, p) = name_file(b, "--acpi-blob")?;
        let Some((_, blobs)) = acpi.as_mut() else { return usage("--acpi-blob needs --acpi-loader or --acpi-dir") };
        blobs.push((n, read_small(&p, SMALL)?));
    }
    let boot_vars = if a.boot_var.is_empty() {
        None
    } else {
        Some(
            a.boot_var
                .iter()
                .map(|b| {
                    let (n, p) = name_file(b, "--boot-var")?;
                    Ok((n, read_small(&p, SMALL)?))
                })
                .collect::<Result<Vec<_>, CliError>>()?,
        )
    };
    let fw_cfg = a
        .fw_cfg
        .iter()
        .map(|f| {
            let (n, p) = name_file(f, "--fw-cfg")?;
            if p.as_os_str() == "none" { Ok((n, None)) } else { Ok((n, Some(read_small(&p, SMALL)?))) }
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let smbios = match &a.smbios {
        Some(p) => Some(prelaunch_measure::tdx::smbios::digest(&read_small(p, SMALL)?).in_file(p)?),
        None => None,
    };
    let kernel = l.kernel.as_ref().map(|p| Input::open(p, Kind::KERNEL)).transpose()?;
    let initrd = l.initrd.as_ref().map(|p| Input::open(p, Kind::INITRD)).transpose()?;
    if l.kernel_hash.is_some() || l.initrd_hash.is_some() {
        return usage(
            "--kernel-hash and --initrd-hash are SEV's SHA-256 kernel hashes; TDX measures the files (give --kernel and --initrd)",
        );
    }
    use std::os::unix::ffi::OsStrExt;
    let cmdline = l.append.as_ref().map(|s| s.as_bytes().to_vec()).unwrap_or_default();
    Ok(Loaded { tdvf, qemu, cfv, acpi, boot_vars, fw_cfg, smbios, kernel, initrd, cmdline })
}

fn tri(t: Tri) -> Option<bool> {
    match t {
        Tri::Auto => None,
        Tri::Yes => Some(true),
        Tri::No => Some(false),
    }
}

fn compute(a: &RtmrArgs, launch: &Launch, l: &Loaded, memory: Option<u64>) -> Result<Expected, CliError> {
    let fw = prelaunch_measure::FirmwareImage::parse(launch.firmware).in_file(launch.firmware_path())?;
    let md = fw.tdvf.as_ref().ok_or_else(|| CliError::Failed(format!("{}: no TDX metadata", launch.firmware_path().display())))?;
    let blobs: Vec<(String, &[u8])> =
        l.acpi.as_ref().map(|(_, b)| b.iter().map(|(n, v)| (n.clone(), v.as_slice())).collect()).unwrap_or_default();
    let inputs = BootInputs {
        tdvf: l.tdvf,
        qemu: l.qemu,
        metadata: md,
        cfv: l.cfv.as_deref(),
        memory,
        secure_boot_support: a.secure_boot_support,
        acpi: l.acpi.as_ref().map(|(loader, _)| AcpiBlobs { loader, blobs: &blobs }),
        fw_cfg: &l.fw_cfg,
        boot_vars: l.boot_vars.as_deref(),
        smbios_digest: l.smbios,
        kernel: l.kernel.as_deref(),
        initrd: l.initrd.as_deref(),
        cmdline: &l.cmdline,
        stub: match a.kernel_stub_measures {
            Tri::Auto => StubMeasures::Auto,
            Tri::Yes => StubMeasures::Yes,
            Tri::No => StubMeasures::No,
        },
        setup_patch: tri(a.kernel_setup_patch),
    };
    boot::expected(&inputs).map_err(|e| CliError::Failed(e.to_string()))
}

fn reg(r: &Option<Rtmr>) -> String {
    r.map(|r| r.hex()).unwrap_or_else(|| "unknown".into())
}

/// Runs the TDX measurement with RTMRs and prints it.
pub fn run(a: &RtmrArgs, launch: &Launch, format: super::measure::OutputFormat, explain: bool, out: &Out) -> Result<(), CliError> {
    let memories: Vec<Option<u64>> = match &a.memory {
        Some(m) => parse_memory_list(m).map_err(|e| CliError::Usage(format!("--memory: {e}")))?.into_iter().map(Some).collect(),
        None => vec![None],
    };
    let l = load(a, launch)?;
    // MRTD on its own thread while the first row's RTMRs hash the kernel and initrd here.
    let fold = || digest::fold(&launch.plan);
    let (mrtd, first) = std::thread::scope(|s| {
        let m = s.spawn(fold);
        let first = compute(a, launch, &l, memories[0]);
        (m.join().expect("the fold does not panic"), first)
    });
    let mut rows = vec![(memories[0], first?)];
    for &m in &memories[1..] {
        rows.push((m, compute(a, launch, &l, m)?));
    }
    let vcpus = &launch.vcpus.0;
    if out.verbose > 0 {
        for n in &rows[0].1.notes {
            crate::errln!("prelaunch: note: {n}");
        }
    }
    let json = format == super::measure::OutputFormat::Json;
    if explain {
        // With JSON on stdout the explanation goes to stderr, so stdout stays one document.
        explain_events(&rows[0].1, &l, out, json);
    }
    let table = rows.len() > 1 || vcpus.len() > 1;
    let log = match &a.event_log {
        Some(_) if rows.len() > 1 => return usage("--event-log compares one boot: give one --memory size"),
        Some(p) => Some(super::measure_tdx_log::compare(p, &rows[0].1)?),
        None => None,
    };
    let mismatch = || CliError::Mismatch("the event log differs from the expected events".into());
    if json {
        let mut doc = document(launch, &l, &mrtd.hex(), &rows, vcpus);
        if let Some(c) = &log {
            doc["event_log"] = c.json.clone();
        }
        print_doc(Doc::MEASURE_TDX, &doc)?;
        return if log.is_some_and(|c| !c.agrees) { Err(mismatch()) } else { Ok(()) };
    }
    outln!("MRTD  {}", mrtd.hex());
    if table {
        outln!("memory\tvcpus\tRTMR0\tRTMR1\tRTMR2");
        for (m, e) in &rows {
            for v in vcpus {
                outln!(
                    "{}\t{v}\t{}\t{}\t{}",
                    m.map(|m| m.to_string()).unwrap_or("-".into()),
                    reg(&e.rtmrs[0]),
                    reg(&e.rtmrs[1]),
                    reg(&e.rtmrs[2])
                );
            }
        }
    } else {
        let e = &rows[0].1;
        for r in 0..3 {
            match &e.rtmrs[r] {
                Some(v) => outln!("RTMR{r} {}", v.hex()),
                None => outln!("RTMR{r} unknown: needs {}", e.missing[r].join("; ")),
            }
        }
    }
    if vcpus.len() > 1 {
        out.warn("vCPU counts reach RTMR0 only through the MADT in QEMU's ACPI tables: give the tables of each count to see them differ");
    }
    if let (Some(c), Some(p)) = (&log, &a.event_log) {
        c.print(p, &rows[0].1);
        if !c.agrees {
            return Err(mismatch());
        }
    }
    Ok(())
}

fn explain_events(e: &Expected, l: &Loaded, out: &Out, to_stderr: bool) {
    macro_rules! say {
        ($($t:tt)*) => {
            if to_stderr { crate::errln!($($t)*) } else { outln!($($t)*) }
        };
    }
    say!("profiles: TDVF {} (since edk2-stable{}), {}", l.tdvf.name, l.tdvf.since, format!("qemu-{}", l.qemu.version));
    if let Some(p) = e.kernel_patched {
        say!("kernel as measured: {}", if p { "with QEMU's setup-header patch" } else { "as the file has it" });
    }
    for n in &e.notes {
        say!("note: {n}");
    }
    say!("{:<3} {:<5} {:<33} {:<16} {:<30} description", "#", "RTMR", "type", "digest", "rule");
    let mut used: Vec<&prelaunch_measure::tdx::profiles::Change> = Vec::new();
    for (i, ev) in e.events.iter().enumerate() {
        say!("{i:<3} RTMR{} {:<33} {:<16} {:<30} {}", ev.rtmr, ev.type_name(), &hex::encode(ev.digest)[..16], ev.change.id, ev.description);
        if !used.contains(&&ev.change) {
            used.push(&ev.change);
        }
    }
    for r in 0..3 {
        if !e.missing[r].is_empty() {
            say!("RTMR{r} cannot be computed without: {}", e.missing[r].join("; "));
        }
    }
    say!("rules:");
    for c in used {
        say!("  {:<30} {}", c.id, c.effect);
        say!("  {:<30} {}", "", out.paint(Style::Dim, c.upstream));
    }
}

fn document(launch: &Launch, l: &Loaded, mrtd: &str, rows: &[(Option<u64>, Expected)], vcpus: &[u32]) -> Value {
    let e = &rows[0].1;
    let regs = |e: &Expected| json!({"rtmr0": e.rtmrs[0].map(|r| r.hex()), "rtmr1": e.rtmrs[1].map(|r| r.hex()), "rtmr2": e.rtmrs[2].map(|r| r.hex())});
    let mut doc = json!({
        "mode": "tdx",
        "mrtd": mrtd,
        "digest": mrtd,
        "rtmr0": e.rtmrs[0].map(|r| r.hex()),
        "rtmr1": e.rtmrs[1].map(|r| r.hex()),
        "rtmr2": e.rtmrs[2].map(|r| r.hex()),
        "missing": {"rtmr0": e.missing[0], "rtmr1": e.missing[1], "rtmr2": e.missing[2]},
        "events": e.events.iter().map(|ev| json!({
            "register": format!("RTMR{}", ev.rtmr), "rtmr": ev.rtmr, "event_type": ev.event_type, "type_name": ev.type_name(),
            "description": ev.description, "digest": hex::encode(ev.digest), "data": ev.data.as_ref().map(hex::encode),
            "input": ev.input, "change": ev.change,
        })).collect::<Vec<_>>(),
        "profiles": {"tdvf": l.tdvf.name, "qemu": format!("qemu-{}", l.qemu.version)},
        "kernel_patched": e.kernel_patched,
        "notes": e.notes,
        "parameters": {
            "memory": rows[0].0,
            "tdx_page_order": launch.plan.tdx.unwrap_or_default().page_order,
            "tdx_page_aug": launch.plan.tdx.unwrap_or_default().page_aug,
            "cmdline": String::from_utf8_lossy(&l.cmdline),
        },
    });
    if rows.len() > 1 || vcpus.len() > 1 {
        doc["table"] = rows
            .iter()
            .flat_map(|(m, e)| {
                vcpus.iter().map(move |v| {
                    let mut r = regs(e);
                    r["memory"] = json!(m);
                    r["vcpus"] = json!(v);
                    r
                })
            })
            .collect();
    }
    doc
}
