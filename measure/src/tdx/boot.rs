//! RTMR0..2 of a QEMU direct boot with TDVF: the inputs, the event sequence each profile produces,
//! and the registers folded from it. Large inputs are hashed in parallel (the initrd on its own
//! thread, the kernel's Authenticode walk on the caller's), each straight from the caller's bytes.

use serde::Serialize;

use super::events::{self, ExpectedEvent};
use super::kernel_setup::{self, BzImage, SetupPatch};
use super::profiles::{QemuProfile, TdvfProfile, changes as c, kernel_is_patched};
use super::rtmr::{Rtmr, fold};
use super::td_hob::{self, RamLayout};
use super::varstore::{EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE, EFI_SECURE_BOOT_ENABLE_DISABLE, VarStore};
use crate::authenticode::{AuthenticodeError, PeLayout};
use crate::hash::{Sha384, Sha384Digest};
use crate::image::tdvf::{TdvfMetadata, TdvfSectionKind};

/// QEMU pc machines reserve this much ACPI data below the top of low memory (pcmc->acpi_data_size).
pub const ACPI_DATA_SIZE: u64 = 0x28000;
/// What QEMU's fw_cfg `bootorder` holds for -kernel on q35 (the linuxboot_dma.bin option ROM QEMU
/// adds with bootindex 0; verified by dstack against a live QEMU).
pub const DIRECT_BOOT_BOOTORDER: &[u8] = b"/rom@genroms/linuxboot_dma.bin\0";
/// The fw_cfg items TDVF 202505+ measures when present, in its order (QemuFwCfgCacheInit.c).
pub const MEASURED_FW_CFG: &[&str] =
    &["etc/extra-pci-roots", "BootMenu", "etc/boot-menu-wait", "etc/reserved-memory-end", "opt/ovmf/X-PciMmio64Mb", "bootorder"];

/// QEMU's ACPI blobs as served over fw_cfg.
#[derive(Debug, Clone, Copy)]
pub struct AcpiBlobs<'a> {
    pub loader: &'a [u8],
    /// Blobs by fw_cfg name ("etc/acpi/rsdp", "etc/acpi/tables", ...).
    pub blobs: &'a [(String, &'a [u8])],
}

/// Whether the kernel's EFI stub measures into RTMR2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StubMeasures {
    /// From the kernel's version string: Linux 6.9 and later.
    #[default]
    Auto,
    Yes,
    No,
}

/// Everything RTMR0..2 depend on.
#[derive(Debug, Clone)]
pub struct BootInputs<'a> {
    pub tdvf: &'static TdvfProfile,
    pub qemu: &'static QemuProfile,
    pub metadata: &'a TdvfMetadata,
    /// The CFV bytes TDVF measures: the image's CFV section, or a variable-store file.
    pub cfv: Option<&'a [u8]>,
    /// Guest RAM (QEMU -m); without it the TD HOB, and a patched kernel's initrd address, are unknown.
    pub memory: Option<u64>,
    /// The firmware enforces Secure Boot (SECURE_BOOT_ENABLE): then a SecureBoot variable exists.
    pub secure_boot_support: bool,
    pub acpi: Option<AcpiBlobs<'a>>,
    /// fw_cfg items by name; `None` means absent. Unlisted items take QEMU's direct-boot defaults.
    pub fw_cfg: &'a [(String, Option<Vec<u8>>)],
    /// BootOrder and Boot####, replacing the defaults when given.
    pub boot_vars: Option<&'a [(String, Vec<u8>)]>,
    /// The SMBIOS table as the guest sees it (/sys/firmware/dmi/tables/DMI), for 202505+.
    pub smbios_digest: Option<Sha384Digest>,
    pub kernel: Option<&'a [u8]>,
    pub initrd: Option<&'a [u8]>,
    pub cmdline: &'a [u8],
    pub stub: StubMeasures,
    /// Overrides the profiles' decision on QEMU's setup-header patch.
    pub setup_patch: Option<bool>,
}

/// Why RTMRs cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Hob(#[from] td_hob::HobError),
    #[error("kernel: {0}")]
    Authenticode(#[from] AuthenticodeError),
    #[error(transparent)]
    Setup(#[from] kernel_setup::SetupError),
    #[error(transparent)]
    Acpi(#[from] super::acpi::AcpiError),
    #[error("ACPI: the table loader allocates {name:?}, but no such blob was given (give it with --acpi-blob {name}=FILE)")]
    AcpiBlobMissing { name: String },
    #[error("ACPI: blob {name:?} was given but the table loader never allocates it; OVMF would not measure it")]
    AcpiBlobUnused { name: String },
    #[error("boot variables: BootOrder lists Boot{option:04X}, which was not given")]
    BootOptionMissing { option: u16 },
    #[error("boot variables: BootOrder is {len} bytes, not a list of 16-bit option numbers")]
    BootOrderLength { len: usize },
    #[error("boot variables: no BootOrder given")]
    NoBootOrder,
}

/// The expected events and registers; a register is `None` when an input it needs was not given.
#[derive(Debug, Clone, Serialize)]
pub struct Expected {
    pub events: Vec<ExpectedEvent>,
    pub rtmrs: [Option<Rtmr>; 3],
    /// Per register, why it could not be computed.
    pub missing: [Vec<String>; 3],
    /// Facts the user should know (decisions taken, inputs that look off).
    pub notes: Vec<String>,
    /// Whether the kernel OVMF measures carries QEMU's setup-header patch.
    pub kernel_patched: Option<bool>,
}

fn initrd_digest(initrd: &[u8]) -> Sha384Digest {
    Sha384::digest(initrd)
}

/// Computes the expected events and RTMR0..2.
pub fn expected(i: &BootInputs<'_>) -> Result<Expected, BootError> {
    let mut out =
        Expected { events: Vec::new(), rtmrs: [None, None, None], missing: Default::default(), notes: Vec::new(), kernel_patched: None };
    if !i.tdvf.cc_measurement {
        out.notes.push(format!("{}: {}", c::NO_CC_MEASUREMENT.id, c::NO_CC_MEASUREMENT.effect));
        out.rtmrs = [Some(Rtmr::default()); 3];
        return Ok(out);
    }
    // The initrd is the largest input: hash it on its own thread while the rest is built here.
    let initrd = i.initrd.filter(|b| !b.is_empty());
    std::thread::scope(|s| {
        let initrd_job = initrd.filter(|b| b.len() > (1 << 20)).map(|b| s.spawn(move || initrd_digest(b)));
        rtmr0(i, &mut out)?;
        rtmr1(i, &mut out)?;
        let initrd_hash = match (initrd, initrd_job) {
            (_, Some(j)) => Some(j.join().expect("hashing does not panic")),
            (Some(b), None) => Some(initrd_digest(b)),
            (None, _) => None,
        };
        rtmr2(i, initrd_hash, &mut out);
        Ok::<(), BootError>(())
    })?;
    for r in 0..3 {
        if out.missing[r].is_empty() {
            out.rtmrs[r] = Some(fold(out.events.iter().filter(|e| e.rtmr == r).map(|e| &e.digest)));
        }
    }
    Ok(out)
}

fn rtmr0(i: &BootInputs<'_>, out: &mut Expected) -> Result<(), BootError> {
    let ev = &mut out.events;
    match i.memory {
        Some(m) => {
            let hob = td_hob::build(i.metadata, &RamLayout::q35(m))?;
            ev.push(events::td_hob(&hob.measured, hob.gpa, m, c::CC_MEASUREMENT));
        }
        None => out.missing[0].push("the guest RAM size (--memory): QEMU describes it in the TD HOB".into()),
    }
    let cfv_gpa = i.metadata.sections.iter().find(|s| s.kind == TdvfSectionKind::Cfv).map(|s| s.gpa);
    let store = match (i.cfv, cfv_gpa) {
        (Some(cfv), Some(gpa)) => {
            ev.push(events::cfv(cfv, gpa, c::CC_MEASUREMENT));
            match VarStore::parse(cfv) {
                Ok(s) => Some(s),
                Err(e) => {
                    out.notes.push(format!("CFV: {e}; TDVF finds no variables in it"));
                    None
                }
            }
        }
        _ => {
            out.missing[0].push("the firmware has no CFV section and no --vars-file was given".into());
            None
        }
    };
    let store = store.unwrap_or_default();
    if i.tdvf.fw_cfg_events {
        for name in MEASURED_FW_CFG {
            let value = match i.fw_cfg.iter().find(|(n, _)| n == name) {
                Some((_, v)) => v.clone(),
                None => match *name {
                    "BootMenu" => Some(vec![0, 0]),
                    "bootorder" => Some(DIRECT_BOOT_BOOTORDER.to_vec()),
                    _ => None,
                },
            };
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                ev.push(events::fw_cfg(name, &v, c::FW_CFG_CACHE));
            }
        }
    }
    let pk = store.get(&EFI_GLOBAL_VARIABLE, "PK");
    let secure_boot = i.secure_boot_support.then(|| {
        let enabled = store.get(&EFI_SECURE_BOOT_ENABLE_DISABLE, "SecureBootEnable").is_none_or(|v| v.data.first() == Some(&1));
        vec![u8::from(pk.is_some() && enabled)]
    });
    ev.push(events::secure_boot_variable(&EFI_GLOBAL_VARIABLE, "SecureBoot", secure_boot.as_deref(), c::SPEC_EVENTS));
    for (g, n) in [
        (EFI_GLOBAL_VARIABLE, "PK"),
        (EFI_GLOBAL_VARIABLE, "KEK"),
        (EFI_IMAGE_SECURITY_DATABASE, "db"),
        (EFI_IMAGE_SECURITY_DATABASE, "dbx"),
    ] {
        let v = store.get(&g, n).map(|v| v.data.as_slice());
        ev.push(events::secure_boot_variable(&g, n, v, c::SPEC_EVENTS));
    }
    ev.push(events::separator(0, c::SPEC_EVENTS));
    match &i.acpi {
        None => {
            out.missing[0].push("QEMU's ACPI blobs (--acpi-loader, --acpi-rsdp, --acpi-tables or --acpi-dir): QEMU generates them".into())
        }
        Some(a) => {
            ev.push(events::acpi("etc/table-loader", a.loader, true, c::SPEC_EVENTS));
            let order = super::acpi::allocations(a.loader)?;
            for name in &order {
                let blob = a.blobs.iter().find(|(n, _)| n == name).ok_or_else(|| BootError::AcpiBlobMissing { name: name.clone() })?;
                ev.push(events::acpi(name, blob.1, false, c::SPEC_EVENTS));
            }
            if let Some((n, _)) = a.blobs.iter().find(|(n, _)| !order.contains(n)) {
                return Err(BootError::AcpiBlobUnused { name: n.clone() });
            }
        }
    }
    if i.tdvf.smbios_event {
        match i.smbios_digest {
            Some(d) => ev.push(ExpectedEvent {
                rtmr: 0,
                event_type: crate::eventlog::raw::event_type::EV_EFI_HANDOFF_TABLES,
                description: "SMBIOS table (filtered)".into(),
                digest: d,
                data: None,
                input: events::EventInput::Smbios,
                change: c::SMBIOS,
            }),
            None => out.missing[0].push(format!("the SMBIOS table (--smbios): {} measures it, and QEMU generates it", i.tdvf.name)),
        }
    }
    if i.tdvf.boot_vars_rtmr0 {
        boot_variables(i, &store, 0, out)?;
    }
    if !i.tdvf.separator_rtmr1 {
        out.events.push(events::separator(0, c::SEPARATOR_RTMR0_TWICE));
    }
    Ok(())
}

fn boot_variables(i: &BootInputs<'_>, store: &VarStore, rtmr: usize, out: &mut Expected) -> Result<(), BootError> {
    let defaults;
    let (vars, change) = match i.boot_vars {
        Some(v) => (v, c::SPEC_EVENTS),
        None => {
            if store.variables.iter().any(|v| v.vendor == EFI_GLOBAL_VARIABLE && (v.name == "BootOrder" || v.name.starts_with("Boot0"))) {
                out.notes.push(
                    "the variable store already holds boot options; the default boot variables assume a store without them (give them with --boot-var)"
                        .into(),
                );
            }
            defaults = super::boot_options::direct_boot_defaults(i.tdvf.boot_menu_app);
            (&defaults[..], if i.tdvf.boot_menu_app { c::BOOT_MENU_APP } else { c::UIAPP_ONLY })
        }
    };
    let order = vars.iter().find(|(n, _)| n == "BootOrder").ok_or(BootError::NoBootOrder)?;
    if !order.1.len().is_multiple_of(2) {
        return Err(BootError::BootOrderLength { len: order.1.len() });
    }
    out.events.push(events::boot_variable(rtmr, "BootOrder", &order.1, change));
    for o in order.1.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])) {
        let name = format!("Boot{o:04X}");
        let v = vars.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)).ok_or(BootError::BootOptionMissing { option: o })?;
        out.events.push(events::boot_variable(rtmr, &name, &v.1, change));
    }
    Ok(())
}

fn rtmr1(i: &BootInputs<'_>, out: &mut Expected) -> Result<(), BootError> {
    let Some(kernel) = i.kernel else {
        out.missing[1].push("a kernel (--kernel): without one TDVF boots from disk, which prelaunch does not model".into());
        return Ok(());
    };
    let (profile_patch, why) = kernel_is_patched(i.qemu, i.tdvf);
    let patched = i.setup_patch.unwrap_or(profile_patch);
    let layout = PeLayout::of(kernel)?;
    let digest = if patched {
        let below_4g = match (i.memory, i.initrd) {
            (Some(m), _) => RamLayout::q35(m).below_4g,
            // Without an initrd the patch does not depend on the RAM size.
            (None, None) => 0xb000_0000,
            (None, Some(_)) => {
                out.missing[1].push("the guest RAM size (--memory): QEMU's setup-header patch places the initrd by it".into());
                return Ok(());
            }
        };
        let head = kernel_setup::qemu_patched_head(
            kernel,
            &SetupPatch { cmdline: i.cmdline, initrd_size: i.initrd.map(|b| b.len() as u64), below_4g, acpi_data_size: ACPI_DATA_SIZE },
        )?;
        layout.digest(kernel, Some(&head))
    } else {
        layout.digest(kernel, None)
    };
    out.kernel_patched = Some(patched);
    let change = if i.setup_patch.is_some() { c::SPEC_EVENTS } else { why };
    out.events.push(events::kernel(digest, patched, change));
    out.events.push(events::action("Calling EFI Application from Boot Option", c::SPEC_EVENTS));
    if i.tdvf.separator_rtmr1 {
        out.events.push(events::separator(1, c::SEPARATOR_RTMR1));
    }
    out.events.push(events::action("Exit Boot Services Invocation", c::SPEC_EVENTS));
    out.events.push(events::action("Exit Boot Services Returned with Success", c::SPEC_EVENTS));
    Ok(())
}

/// Whether the stub measures, and the reason.
pub fn stub_measures(kernel: &[u8], choice: StubMeasures) -> (bool, String) {
    match choice {
        StubMeasures::Yes => (true, "given: the kernel's EFI stub measures into RTMR2".into()),
        StubMeasures::No => (false, "given: the kernel's EFI stub does not measure".into()),
        StubMeasures::Auto => match BzImage::parse(kernel).ok().and_then(|b| b.version.clone().zip(b.release())) {
            Some((v, r)) if r >= (6, 9) => {
                (true, format!("kernel {v:?}: Linux 6.9 or later, its EFI stub measures the command line and initrd"))
            }
            Some((v, _)) => (false, format!("kernel {v:?}: before Linux 6.9, its EFI stub has no CC measurement support")),
            None => (
                true,
                "kernel version unknown: assuming a Linux 6.9+ EFI stub that measures (say otherwise with --kernel-stub-measures no)"
                    .into(),
            ),
        },
    }
}

fn rtmr2(i: &BootInputs<'_>, initrd_hash: Option<Sha384Digest>, out: &mut Expected) {
    let Some(kernel) = i.kernel else {
        out.missing[2].push("a kernel (--kernel)".into());
        return;
    };
    let (measures, why) = stub_measures(kernel, i.stub);
    out.notes.push(why);
    if !measures {
        return;
    }
    let (stub, initrd_change) = (c::LINUX_STUB_CC, if i.tdvf.initrd_prefix { c::INITRD_PREFIX } else { c::INITRD_SUFFIX });
    let options = events::ovmf_load_options(i.cmdline, initrd_hash.is_some(), i.tdvf.initrd_prefix);
    if !options.is_empty() {
        out.events.push(events::load_options(&options, if initrd_hash.is_some() { initrd_change } else { stub }));
    }
    if let (Some(d), Some(b)) = (initrd_hash, i.initrd) {
        out.events.push(events::initrd(d, b.len(), stub));
    }
}
