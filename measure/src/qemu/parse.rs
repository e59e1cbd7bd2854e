//! Reading a QEMU command line back into a [`QemuLaunch`]. Every option is either modelled (it can
//! change what is launched or measured), known to be neutral for the launch measurement (devices,
//! displays, monitors, logging), or refused by name: an option that is not understood is never
//! silently ignored.

use super::QemuError;
use super::model::{CpuModel, Firmware, Guest, QemuLaunch, SevGuest, SnpGuest, TdxGuest};
use super::opts::{Opts, parse_bool, parse_size_mib, parse_u64};

/// Options that take a value and never change what is measured: devices and their backends,
/// displays, monitors, logging, naming, boot order (the firmware decides what runs, the launch
/// digest covers only the initial image).
const NEUTRAL_WITH_VALUE: &[&str] = &[
    "-device",
    "-netdev",
    "-nic",
    "-chardev",
    "-serial",
    "-monitor",
    "-qmp",
    "-mon",
    "-display",
    "-vga",
    "-name",
    "-pidfile",
    "-boot",
    "-rtc",
    "-uuid",
    "-k",
    "-D",
    "-d",
    "-trace",
    "-msg",
    "-blockdev",
    "-fsdev",
    "-virtfs",
    "-audiodev",
    "-parallel",
    "-overcommit",
    "-run-with",
];

/// Value-less options that never change what is measured.
const NEUTRAL_FLAGS: &[&str] =
    &["-nodefaults", "-nographic", "-no-reboot", "-no-shutdown", "-S", "-daemonize", "-usb", "-no-user-config", "-enable-kvm"];

/// Options that change the launch in ways this model does not cover: refused with the reason.
const REFUSED: &[(&str, &str)] = &[
    ("-global", "it can change any property (the guest object's included)"),
    ("-readconfig", "the configuration file is not read"),
    ("-set", "it can change any property"),
    ("-fw_cfg", "fw_cfg files are not modelled"),
    ("-L", "the firmware search path is not modelled"),
    ("-incoming", "an incoming migration is not a launch"),
    ("-loadvm", "a snapshot is not a launch"),
    ("-numa", "NUMA layouts are not modelled"),
];

/// machine properties that do not change what is measured.
const NEUTRAL_MACHINE_KEYS: &[&str] =
    &["accel", "kernel-irqchip", "smm", "vmport", "hpet", "usb", "dump-guest-core", "mem-merge", "graphics", "pit", "sata", "i8042"];

/// -object types that do not change what is measured (RAM backends are checked separately).
const NEUTRAL_OBJECTS: &[&str] = &["rng-random", "rng-builtin", "rng-egd", "iothread", "secret", "throttle-group"];

#[derive(Default)]
struct Seen {
    machine: Option<Opts>,
    cpu: Option<Opts>,
    smp: Option<Opts>,
    memory: Option<u64>,
    bios: Option<String>,
    pflash: Vec<(u32, String)>,
    kernel: Option<String>,
    initrd: Option<String>,
    append: Option<String>,
    objects: Vec<Opts>,
    accel: Option<String>,
}

fn once<T>(slot: &mut Option<T>, opt: &str, v: T) -> Result<(), QemuError> {
    if slot.is_some() {
        return Err(QemuError::Unsupported(format!("{opt} is given twice")));
    }
    *slot = Some(v);
    Ok(())
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, opt: &str) -> Result<&'a String, QemuError> {
    it.next().ok_or_else(|| QemuError::Syntax(format!("{opt} needs a value")))
}

/// Refuses keys of `o` outside `allowed`.
fn only(opt: &str, o: &Opts, allowed: &[&str]) -> Result<(), QemuError> {
    match o.keys().find(|k| !allowed.contains(k)) {
        Some(k) => Err(QemuError::Unsupported(format!("{opt}: {k}= is not modelled (known: {})", allowed.join(", ")))),
        None => Ok(()),
    }
}

/// Parses QEMU's arguments; a leading binary name (`qemu-system-x86_64`, `/usr/bin/qemu-kvm`) is skipped.
pub fn parse(argv: &[String]) -> Result<QemuLaunch, QemuError> {
    let mut seen = Seen::default();
    let skip = usize::from(argv.first().is_some_and(|a| !a.starts_with('-')));
    let mut it = argv[skip..].iter();
    while let Some(raw) = it.next() {
        // QEMU accepts --opt as -opt, and -opt=value.
        let norm = raw.strip_prefix("--").map(|r| format!("-{r}")).unwrap_or_else(|| raw.clone());
        let (opt, inline) = match norm.split_once('=') {
            Some((o, v)) if o.starts_with('-') => (o.to_owned(), Some(v.to_owned())),
            _ => (norm.clone(), None),
        };
        if !opt.starts_with('-') {
            return Err(QemuError::Syntax(format!("{raw:?}: expected an option")));
        }
        let val = |it: &mut std::slice::Iter<'_, String>| -> Result<String, QemuError> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => value(it, &opt).cloned(),
            }
        };
        match opt.as_str() {
            "-machine" | "-M" => once(&mut seen.machine, "-machine", Opts::parse("-machine", &val(&mut it)?, Some("type"))?)?,
            "-cpu" => once(&mut seen.cpu, "-cpu", Opts::parse("-cpu", &val(&mut it)?, Some("model"))?)?,
            "-smp" => once(&mut seen.smp, "-smp", Opts::parse("-smp", &val(&mut it)?, Some("cpus"))?)?,
            "-m" => {
                let o = Opts::parse("-m", &val(&mut it)?, Some("size"))?;
                only("-m", &o, &["size", "slots", "maxmem"])?;
                let size = o.implied.as_deref().or(o.get("size")).ok_or_else(|| QemuError::Syntax("-m needs a size".into()))?;
                once(&mut seen.memory, "-m", parse_size_mib("-m", size, true)?)?
            }
            "-bios" => once(&mut seen.bios, "-bios", val(&mut it)?)?,
            "-kernel" => once(&mut seen.kernel, "-kernel", val(&mut it)?)?,
            "-initrd" => once(&mut seen.initrd, "-initrd", val(&mut it)?)?,
            "-append" => once(&mut seen.append, "-append", val(&mut it)?)?,
            "-object" => seen.objects.push(Opts::parse("-object", &val(&mut it)?, Some("qom-type"))?),
            "-accel" => {
                let o = Opts::parse("-accel", &val(&mut it)?, Some("accel"))?;
                once(&mut seen.accel, "-accel", o.implied.unwrap_or_default())?
            }
            "-drive" => {
                let o = Opts::parse("-drive", &val(&mut it)?, None)?;
                if o.get("if") == Some("pflash") {
                    only("-drive", &o, &["if", "format", "unit", "file", "readonly"])?;
                    let unit = o.get("unit").map(|u| parse_u64("-drive", "unit", u)).transpose()?.unwrap_or(seen.pflash.len() as u64);
                    let file = o.get("file").ok_or_else(|| QemuError::Syntax("-drive if=pflash needs file=".into()))?;
                    seen.pflash.push((unit as u32, file.to_owned()));
                }
            }
            o if NEUTRAL_FLAGS.contains(&o) => {}
            o if NEUTRAL_WITH_VALUE.contains(&o) => {
                val(&mut it)?;
            }
            o => {
                let why = REFUSED.iter().find(|r| r.0 == o).map_or("it is not modelled: it may change what is launched", |r| r.1);
                return Err(QemuError::Unsupported(format!("{raw}: refused, {why}")));
            }
        }
    }
    build(seen)
}

fn build(seen: Seen) -> Result<QemuLaunch, QemuError> {
    if let Some(a) = seen.accel.as_deref().filter(|a| *a != "kvm") {
        return Err(QemuError::Unsupported(format!("-accel {a}: confidential guests need -accel kvm")));
    }
    let machine = seen
        .machine
        .ok_or_else(|| QemuError::Unsupported("no -machine: a confidential guest needs -machine …,confidential-guest-support=ID".into()))?;
    let mut keys = vec!["confidential-guest-support", "memory-backend"];
    keys.extend_from_slice(NEUTRAL_MACHINE_KEYS);
    only("-machine", &machine, &keys)?;
    if machine.get("accel").is_some_and(|a| a != "kvm") {
        return Err(QemuError::Unsupported("-machine accel=: confidential guests need kvm".into()));
    }
    let cgs = machine
        .get("confidential-guest-support")
        .ok_or_else(|| QemuError::Unsupported("-machine has no confidential-guest-support=: this is not a confidential guest".into()))?;
    let mut guest = None;
    let mut memory_backend_ok = machine.get("memory-backend").is_none();
    for o in &seen.objects {
        let ty = o.implied.as_deref().unwrap_or("");
        let id = o.get("id").unwrap_or("");
        match ty {
            "sev-snp-guest" | "sev-guest" | "tdx-guest" if id == cgs => {
                once(&mut guest, "the confidential guest object", guest_object(ty, o)?)?
            }
            "sev-snp-guest" | "sev-guest" | "tdx-guest" => {
                return Err(QemuError::Unsupported(format!("-object {ty},id={id}: not the machine's confidential-guest-support ({cgs})")));
            }
            t if t.starts_with("memory-backend-") => {
                only(
                    &format!("-object {t}"),
                    o,
                    &[
                        "id",
                        "size",
                        "share",
                        "prealloc",
                        "merge",
                        "dump",
                        "reserve",
                        "policy",
                        "host-nodes",
                        "seal",
                        "hugetlb",
                        "hugetlbsize",
                    ],
                )?;
                memory_backend_ok |= machine.get("memory-backend") == Some(id);
            }
            t if NEUTRAL_OBJECTS.contains(&t) => {}
            t => return Err(QemuError::Unsupported(format!("-object {t}: refused, it is not modelled"))),
        }
    }
    if !memory_backend_ok {
        return Err(QemuError::Unsupported(format!(
            "-machine memory-backend={}: no such -object",
            machine.get("memory-backend").unwrap_or("")
        )));
    }
    let guest =
        guest.ok_or_else(|| QemuError::Unsupported(format!("no -object with id={cgs} (the machine's confidential-guest-support)")))?;
    let firmware = match (seen.bios, &seen.pflash[..]) {
        (Some(b), []) => Firmware::Bios(b),
        (None, []) => {
            return Err(QemuError::Unsupported(
                "no firmware: give -bios or -drive if=pflash (QEMU's built-in SeaBIOS cannot launch a confidential guest)".into(),
            ));
        }
        (Some(_), _) => return Err(QemuError::Unsupported("both -bios and pflash drives: QEMU refuses that".into())),
        (None, p) => {
            let code =
                p.iter().find(|d| d.0 == 0).ok_or_else(|| QemuError::Unsupported("pflash drives without unit 0 (the code)".into()))?;
            if p.iter().any(|d| d.0 > 1) {
                return Err(QemuError::Unsupported("pflash units beyond 1 are not modelled".into()));
            }
            Firmware::Pflash { code: code.1.clone(), vars: p.iter().find(|d| d.0 == 1).map(|d| d.1.clone()) }
        }
    };
    let cpu = match seen.cpu {
        None => CpuModel::named("qemu64"),
        Some(c) => {
            let model = c.implied.clone().ok_or_else(|| QemuError::Syntax("-cpu needs a model".into()))?;
            let num = |k: &str| {
                c.get(k)
                    .map(|v| {
                        parse_u64("-cpu", k, v)
                            .and_then(|n| u32::try_from(n).map_err(|_| QemuError::Syntax(format!("-cpu {k}={v}: too large"))))
                    })
                    .transpose()
            };
            CpuModel { model, family: num("family")?, model_number: num("model")?, stepping: num("stepping")? }
        }
    };
    let vcpus = match seen.smp {
        None => 1,
        Some(s) => {
            only("-smp", &s, &["cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus", "books", "drawers", "modules"])?;
            let n = |v: Option<&str>, k: &str| v.map(|v| parse_u64("-smp", k, v)).transpose();
            match n(s.implied.as_deref().or(s.get("cpus")), "cpus")? {
                Some(c) => c,
                None => ["sockets", "dies", "clusters", "cores", "threads"]
                    .iter()
                    .try_fold(1u64, |acc, k| Ok::<u64, QemuError>(acc.saturating_mul(n(s.get(k), k)?.unwrap_or(1))))?,
            }
        }
    };
    let vcpus = u32::try_from(vcpus)
        .ok()
        .filter(|&v| (1..=crate::plan::MAX_VCPUS).contains(&v))
        .ok_or_else(|| QemuError::Unsupported(format!("-smp: {vcpus} vCPUs")))?;
    Ok(QemuLaunch {
        machine: machine.implied.clone().unwrap_or_else(|| "pc".into()),
        cpu,
        vcpus,
        memory_mib: seen.memory.unwrap_or(128),
        firmware,
        kernel: seen.kernel,
        initrd: seen.initrd,
        append: seen.append,
        guest,
    })
}

fn guest_object(ty: &str, o: &Opts) -> Result<Guest, QemuError> {
    let opt = format!("-object {ty}");
    let b = |k: &str| o.get(k).map(|v| parse_bool(&opt, k, v)).transpose();
    let n = |k: &str| o.get(k).map(|v| parse_u64(&opt, k, v)).transpose();
    let n32 = |k: &str| n(k)?.map(|v| u32::try_from(v).map_err(|_| QemuError::Syntax(format!("{opt}: {k}={v}: too large")))).transpose();
    let s = |k: &str| o.get(k).map(str::to_owned);
    match ty {
        "sev-snp-guest" => {
            only(
                &opt,
                o,
                &[
                    "id",
                    "policy",
                    "cbitpos",
                    "reduced-phys-bits",
                    "kernel-hashes",
                    "id-block",
                    "id-auth",
                    "host-data",
                    "author-key-enabled",
                    "debug-swap",
                    "sev-device",
                    "vcek-disabled",
                    "guest-visible-workarounds",
                ],
            )?;
            Ok(Guest::Snp(SnpGuest {
                // QEMU's default SNP policy (target/i386/sev.c DEFAULT_SEV_SNP_POLICY).
                policy: n("policy")?.unwrap_or(0x30000),
                cbitpos: n32("cbitpos")?.unwrap_or(0),
                reduced_phys_bits: n32("reduced-phys-bits")?.unwrap_or(0),
                kernel_hashes: b("kernel-hashes")?.unwrap_or(false),
                id_block: s("id-block"),
                id_auth: s("id-auth"),
                host_data: s("host-data"),
                author_key_enabled: b("author-key-enabled")?.unwrap_or(false),
                debug_swap: b("debug-swap")?.unwrap_or(false),
            }))
        }
        "sev-guest" => {
            only(
                &opt,
                o,
                &[
                    "id",
                    "policy",
                    "cbitpos",
                    "reduced-phys-bits",
                    "kernel-hashes",
                    "legacy-vm-type",
                    "sev-device",
                    "dh-cert-file",
                    "session-file",
                    "handle",
                ],
            )?;
            // QEMU's default SEV policy is 0x1 (NODBG); bit 2 (ES) makes it SEV-ES.
            let policy = n32("policy")?.unwrap_or(1);
            let legacy = match o.get("legacy-vm-type") {
                Some("auto") | None => None,
                Some(v) => Some(parse_bool(&opt, "legacy-vm-type", v)?),
            };
            let g = SevGuest {
                policy,
                cbitpos: n32("cbitpos")?.unwrap_or(0),
                reduced_phys_bits: n32("reduced-phys-bits")?.unwrap_or(0),
                kernel_hashes: b("kernel-hashes")?.unwrap_or(false),
                legacy_vm_type: legacy,
            };
            Ok(if policy & 0x4 != 0 { Guest::SevEs(g) } else { Guest::Sev(g) })
        }
        _ => {
            only(&opt, o, &["id", "attributes", "sept-ve-disable", "mrconfigid", "mrowner", "mrownerconfig"])?;
            Ok(Guest::Tdx(TdxGuest {
                attributes: n("attributes")?,
                sept_ve_disable: b("sept-ve-disable")?,
                mrconfigid: s("mrconfigid"),
                mrowner: s("mrowner"),
                mrownerconfig: s("mrownerconfig"),
            }))
        }
    }
}
