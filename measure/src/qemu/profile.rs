//! QEMU release profiles: one row per release for the launch semantics that changed between
//! releases and change what a command line measures or whether QEMU accepts it. `--qemu-version`
//! picks a row; the TDX RTMR profiles extend the same table (one table per QEMU release).
//!
//! Sources, per field:
//! - `snp`: `sev-snp-guest` arrived in QEMU 9.1 (qapi/qom.json `SevSnpGuestProperties`, "Since: 9.1").
//! - `sev_init2`: QEMU 9.1 creates SEV and SEV-ES VMs with KVM_SEV_INIT2 unless `legacy-vm-type` is on
//!   (qapi/qom.json `SevGuestProperties.legacy-vm-type`: "The newer KVM_SEV_INIT2 interface, from
//!   Linux >= 6.10, syncs additional vCPU state when initializing the VMSA structures, which will
//!   result in a different guest measurement"); machine types up to 9.0 turn it on (hw/i386/pc.c
//!   `pc_compat_9_0`). Before 9.1 every SEV-ES VM was a legacy KVM_SEV_ES_INIT VM.
//! - `debug_swap`: the `debug-swap` property of `sev-common` ("(since 10.2)"); before it QEMU had
//!   no way to set SEV features beyond SNPActive, so `--guest-features` other than 0x1 cannot be
//!   launched.
//! - `tdx`: `tdx-guest` arrived in QEMU 10.1 (`TdxGuestProperties`, "Since: 10.1"), measuring pages
//!   single-pass (TDH.MEM.PAGE.ADD then the page's TDH.MR.EXTENDs, through KVM_TDX_INIT_MEM_REGION).
//! - `tdx_setup_header_patch`: QEMU writes the boot-loader fields of a bzImage's setup header
//!   (hw/i386/x86-common.c `x86_load_linux`) into the bytes TDVF loads and measures into RTMR1, for
//!   TDX guests too, until a7542a38f399 (x86/loader: Don't update kernel header for CoCo VMs, 10.2).
//! - `boot_kernel_file`: from 10.0 QEMU also serves the file as given as fw_cfg `etc/boot/kernel`,
//!   which TDVF with named-blob support (edk2-stable202502) loads in place of the patched blobs.
//! - 8.2 is not an upstream TDX release: it names the QEMU 8.2 TDX trees (Intel tdx-qemu, Ubuntu
//!   24.04's TDX stack) that measured the TDVF sections two-pass (all TDH.MEM.PAGE.ADDs, then the
//!   TDH.MR.EXTENDs; dstack-mr `machine.rs`), with neither sev-snp-guest nor upstream tdx-guest.
//! - `cpu_models`: the EPYC models `-cpu help` lists (QEMU 10.0.2 checked by the CI test; EPYC-Turin
//!   arrived in 10.1).
//! - `snp_properties`, `tdx_properties`: the properties QMP `qom-list-properties` lists for the
//!   object (inherited ones included): the 10.0 list is checked against a real QEMU 10.0 by the CI
//!   test; the tdx-guest list against QEMU 10.1's qapi/qom.json (testdata/qemu/).

use crate::plan::PageOrder;

/// One QEMU release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QemuProfile {
    /// "10.0".
    pub version: &'static str,
    /// (major, minor), for "since" comparisons.
    pub release: (u32, u32),
    pub snp: bool,
    /// SEV/SEV-ES VMs are KVM_SEV_INIT2 VMs by default (and `legacy-vm-type` exists).
    pub sev_init2: bool,
    /// `debug-swap=on` sets SEV feature DebugSwap (bit 5).
    pub debug_swap: bool,
    pub tdx: bool,
    /// The TDX page order KVM_TDX_INIT_MEM_REGION measures with this release.
    pub tdx_page_order: PageOrder,
    /// The kernel's setup header is patched for TDX guests too (RTMR1).
    pub tdx_setup_header_patch: bool,
    /// fw_cfg `etc/boot/kernel` holds the unpatched kernel file.
    pub boot_kernel_file: bool,
}

/// EPYC models and the release that brought each (QEMU 10.0.2's `-cpu help` lists all but Turin).
const CPU_MODELS: &[(&str, (u32, u32))] = &[
    ("EPYC", (0, 0)),
    ("EPYC-v1", (0, 0)),
    ("EPYC-v2", (0, 0)),
    ("EPYC-IBPB", (0, 0)),
    ("EPYC-v3", (0, 0)),
    ("EPYC-v4", (0, 0)),
    ("EPYC-Rome", (0, 0)),
    ("EPYC-Rome-v1", (0, 0)),
    ("EPYC-Rome-v2", (0, 0)),
    ("EPYC-Rome-v3", (0, 0)),
    ("EPYC-Milan", (0, 0)),
    ("EPYC-Milan-v1", (0, 0)),
    ("EPYC-Milan-v2", (0, 0)),
    ("EPYC-Genoa", (0, 0)),
    ("EPYC-Genoa-v1", (0, 0)),
    ("EPYC-Turin", (10, 1)),
];

/// `sev-snp-guest`'s properties (QMP qom-list-properties on QEMU 10.0.2, inherited ones included)
/// and the release that brought each.
const SNP_PROPERTIES: &[(&str, (u32, u32))] = &[
    ("author-key-enabled", (9, 1)),
    ("cbitpos", (9, 1)),
    ("debug-swap", (10, 2)),
    ("guest-visible-workarounds", (9, 1)),
    ("host-data", (9, 1)),
    ("id-auth", (9, 1)),
    ("id-block", (9, 1)),
    ("kernel-hashes", (9, 1)),
    ("policy", (9, 1)),
    ("reduced-phys-bits", (9, 1)),
    ("sev-device", (9, 1)),
    ("type", (9, 1)),
    ("vcek-disabled", (9, 1)),
];

/// `tdx-guest` in QEMU 10.1 (qapi/qom.json `TdxGuestProperties`, plus QOM's own `type`).
pub const TDX_PROPERTIES: &[&str] =
    &["attributes", "mrconfigid", "mrowner", "mrownerconfig", "quote-generation-socket", "sept-ve-disable", "type"];

const fn at_least(release: (u32, u32), r: (u32, u32)) -> bool {
    release.0 > r.0 || (release.0 == r.0 && release.1 >= r.1)
}

const fn row(version: &'static str, release: (u32, u32), snp: bool, sev_init2: bool, debug_swap: bool, tdx: bool) -> QemuProfile {
    QemuProfile {
        version,
        release,
        snp,
        sev_init2,
        debug_swap,
        tdx,
        tdx_page_order: if at_least(release, (9, 0)) { PageOrder::Single } else { PageOrder::TwoPass },
        tdx_setup_header_patch: !at_least(release, (10, 2)),
        boot_kernel_file: at_least(release, (10, 0)),
    }
}

/// The releases, oldest first: version, release, snp, sev_init2, debug_swap, tdx.
pub const PROFILES: &[QemuProfile] = &[
    row("8.2", (8, 2), false, false, false, false),
    row("9.0", (9, 0), false, false, false, false),
    row("9.1", (9, 1), true, true, false, false),
    row("9.2", (9, 2), true, true, false, false),
    row("10.0", (10, 0), true, true, false, false),
    row("10.1", (10, 1), true, true, false, true),
    row("10.2", (10, 2), true, true, true, true),
];

/// The profile used when none is asked for: the newest release in the table.
pub fn latest() -> &'static QemuProfile {
    &PROFILES[PROFILES.len() - 1]
}

/// The profile for "10.0", "10.0.2" or "v10.0" (micro releases share their minor's semantics).
pub fn by_version(v: &str) -> Option<&'static QemuProfile> {
    let v = v.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    if parts.next().is_some_and(|m| m.parse::<u32>().is_err()) {
        return None;
    }
    let key = format!("{}.{}", major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?);
    PROFILES.iter().find(|p| p.version == key)
}

/// "9.0, 9.1, …" for messages.
pub fn known() -> String {
    PROFILES.iter().map(|p| p.version).collect::<Vec<_>>().join(", ")
}

impl QemuProfile {
    /// The oldest release with `pred`, for messages ("debug-swap needs QEMU 10.2").
    pub fn first_with(pred: impl Fn(&QemuProfile) -> bool) -> Option<&'static str> {
        PROFILES.iter().find(|p| pred(p)).map(|p| p.version)
    }

    pub fn knows_cpu(&self, model: &str) -> bool {
        CPU_MODELS.iter().any(|(m, since)| *m == model && self.release >= *since)
    }

    /// The CPU models this release has.
    pub fn cpu_models(&self) -> impl Iterator<Item = &'static str> + '_ {
        CPU_MODELS.iter().filter(|(_, since)| self.release >= *since).map(|(m, _)| *m)
    }

    /// The properties QMP lists for this release's `sev-snp-guest` (none before 9.1).
    pub fn snp_properties(&self) -> Vec<&'static str> {
        if !self.snp {
            return Vec::new();
        }
        SNP_PROPERTIES.iter().filter(|(_, since)| self.release >= *since).map(|(p, _)| *p).collect()
    }

    /// The properties of this release's `tdx-guest` (none before 10.1).
    pub fn tdx_properties(&self) -> &'static [&'static str] {
        if self.tdx { TDX_PROPERTIES } else { &[] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_resolve_to_their_minor_release() {
        assert_eq!(by_version("10.0.2").map(|p| p.version), Some("10.0"));
        assert_eq!(by_version("v10.1").map(|p| p.version), Some("10.1"));
        assert_eq!(by_version("10").map(|p| p.version), None, "10.0 is not 10");
        assert_eq!(by_version("8.2.1").map(|p| p.tdx_page_order), Some(PageOrder::TwoPass));
        assert!(by_version("8.1").is_none() && by_version("ten").is_none() && by_version("10.0.x").is_none());
    }

    #[test]
    fn the_table_is_ordered_and_features_never_disappear() {
        for w in PROFILES.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            for (name, x, y) in [("snp", a.snp, b.snp), ("init2", a.sev_init2, b.sev_init2), ("tdx", a.tdx, b.tdx)] {
                assert!(!x || y, "{name} lost between {} and {}", a.version, b.version);
            }
            assert!(a.release < b.release);
            assert!(a.snp_properties().iter().all(|p| b.snp_properties().contains(p)), "{} -> {}", a.version, b.version);
            assert!(a.cpu_models().all(|m| b.knows_cpu(m)));
        }
        assert_eq!(QemuProfile::first_with(|p| p.debug_swap), Some("10.2"));
        assert_eq!(QemuProfile::first_with(|p| p.tdx), Some("10.1"));
        assert_eq!(QemuProfile::first_with(|p| !p.tdx_setup_header_patch), Some("10.2"));
        assert_eq!(QemuProfile::first_with(|p| p.boot_kernel_file), Some("10.0"));
        assert_eq!(QemuProfile::first_with(|p| p.tdx_page_order == PageOrder::Single), Some("9.0"));
        assert!(!by_version("10.0").unwrap().knows_cpu("EPYC-Turin") && by_version("10.1").unwrap().knows_cpu("EPYC-Turin"));
        assert!(by_version("10.2").unwrap().snp_properties().contains(&"debug-swap"));
        assert!(!by_version("10.0").unwrap().snp_properties().contains(&"debug-swap"));
        assert!(by_version("9.0").unwrap().snp_properties().is_empty() && by_version("10.0").unwrap().tdx_properties().is_empty());
    }

    #[test]
    fn every_modelled_cpu_name_is_a_real_model_of_some_release() {
        for m in latest().cpu_models() {
            assert!(crate::snp::cpu::by_name(m).is_some(), "{m} has no signature");
        }
    }
}
