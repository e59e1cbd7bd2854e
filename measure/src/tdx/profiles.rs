//! Which events exist, and their exact bytes, depend on the stack: the TDVF (edk2) release and the
//! QEMU version. Each is a small declarative table here; the newest upstream is the default. Every
//! difference cites the upstream change behind it, and `--explain` prints that citation next to the
//! event it shaped.

use serde::Serialize;

/// An upstream change that decides something about the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Short name used in explanations.
    pub id: &'static str,
    /// What it does to the measurements.
    pub effect: &'static str,
    /// The upstream commit or release behind it.
    pub upstream: &'static str,
}

pub mod changes {
    use super::Change;

    pub const CC_MEASUREMENT: Change = Change {
        id: "tdvf-cc-measurement",
        effect: "OvmfPkgX64 measures into RTMRs (TdTcg2Dxe, TdxHelperLib measuring the TD HOB and CFV in SEC)",
        upstream: "edk2 d09c1d4b88/f41acc651f (OvmfPkg/IntelTdx: SecTdxHelperLib, MeasureHobList; edk2-stable202302); CC_MEASUREMENT_ENABLE default TRUE from 2b6d0eb434 (edk2-stable202408), Debian builds set it",
    };
    pub const NO_CC_MEASUREMENT: Change = Change {
        id: "tdvf-no-cc-measurement",
        effect: "edk2-stable202211 OvmfPkgX64 has no TdTcg2Dxe: a TD boots with RTMR0-2 all zero and no CC event log",
        upstream: "edk2-stable202211 OvmfPkg/OvmfPkgX64.fdf (TdTcg2Dxe only in IntelTdxX64); Debian 12 ovmf 2022.11",
    };
    pub const BOOT_VARS_PCR1: Change = Change {
        id: "boot-vars-rtmr0",
        effect: "BootOrder and Boot#### are measured into PCR[1] (RTMR0) as EV_EFI_VARIABLE_BOOT, digest over the variable data",
        upstream: "edk2 e0dcfb31fb (SecurityPkg/TdTcg2Dxe: Extend EFI boot variable to PCR[1], edk2-stable202302)",
    };
    pub const SEPARATOR_RTMR0_TWICE: Change = Change {
        id: "ready-to-boot-separator-rtmr0",
        effect: "at ReadyToBoot the separator goes to RTMR0 again (two RTMR0 separators, none in RTMR1)",
        upstream: "edk2 TdTcg2Dxe OnReadyToBoot MeasureSeparatorEvent(1) before efaf8931bb (edk2-stable202302..202408)",
    };
    pub const SEPARATOR_RTMR1: Change = Change {
        id: "ready-to-boot-separator-rtmr1",
        effect: "at ReadyToBoot the separator goes to RTMR1 (PCRs 2-6), after \"Calling EFI Application from Boot Option\"",
        upstream: "edk2 efaf8931bb (OvmfPkg/TdTcg2Dxe: Fix the SeparatorEvent issue in RTMRs, edk2-stable202411)",
    };
    pub const NAMED_BLOBS: Change = Change {
        id: "tdvf-named-blobs",
        effect: "QemuKernelLoaderFsDxe loads fw_cfg etc/boot/kernel (the file as given) in place of the setup+kernel blobs when QEMU offers it",
        upstream: "edk2 20df7c42bd/c45051450e (OvmfPkg/QemuKernelLoaderFsDxe: add support for named blobs, edk2-stable202502)",
    };
    pub const FW_CFG_CACHE: Change = Change {
        id: "fw-cfg-measured",
        effect: "PlatformPei caches fw_cfg and measures BootMenu, bootorder (and etc/extra-pci-roots, etc/boot-menu-wait, etc/reserved-memory-end, opt/ovmf/X-PciMmio64Mb when present) into RTMR0 as EV_PLATFORM_CONFIG_FLAGS \"QEMU FW CFG\"",
        upstream: "edk2 fb56dc78ef/81c2c92074 (OvmfPkg: Cache and measure FwCfg items, edk2-stable202505)",
    };
    pub const SMBIOS: Change = Change {
        id: "smbios-measured",
        effect: "SmbiosMeasurementDxe measures the SMBIOS table (serial numbers, UUIDs and other per-machine fields blanked) into RTMR0",
        upstream: "edk2 cd76265f1a (OvmfPkg: Enable Smbios measurement, edk2-stable202505)",
    };
    pub const BOOT_MENU_APP: Change = Change {
        id: "boot-manager-menu-app",
        effect: "Boot0000 is BootManagerMenuApp and UiApp becomes Boot0001 \"EFI Firmware Setup\"; BootOrder is 0000,0001",
        upstream: "edk2 9d9e3a2ba8/d433b4c8e4/dd5cce3e53 (OvmfPkg: use BootManagerMenuApp as BootManagerMenu, register UiApp as a boot option; edk2-stable202505)",
    };
    pub const UIAPP_ONLY: Change = Change {
        id: "uiapp-boot-option",
        effect: "when the kernel runs, the only boot option is Boot0000 \"UiApp\" (BootOrder 0000): BDS refreshes the others after -kernel",
        upstream: "edk2 MdeModulePkg BdsDxe (UiApp as BootManagerMenu) and OvmfPkg PlatformBootManagerAfterConsole (TryRunningQemuKernel before EfiBootManagerRefreshAllBootOption), up to edk2-stable202502",
    };
    pub const INITRD_SUFFIX: Change = Change {
        id: "initrd-suffix",
        effect: "OVMF appends \" initrd=initrd\" to the kernel's load options when an initrd is given",
        upstream: "edk2 OvmfPkg/Library/X86QemuLoadImageLib QemuLoadKernelImage, up to edk2-stable202505",
    };
    pub const INITRD_PREFIX: Change = Change {
        id: "initrd-prefix",
        effect: "OVMF puts \"initrd=initrd \" before the kernel command line (so arguments after \"--\" reach init intact)",
        upstream: "edk2 a2ac0fea49 ([QemuLoadImageLib] Prefix initrd=initrd in cmdline, edk2-stable202508)",
    };
    pub const QEMU_HEADER_PATCH: Change = Change {
        id: "qemu-setup-header-patch",
        effect: "QEMU writes the boot-loader fields of the Linux setup header (type_of_loader, loadflags, heap_end_ptr, cmd_line_ptr, ramdisk_image/size) into the bytes OVMF loads and measures",
        upstream: "QEMU hw/i386/x86-common.c x86_load_linux, up to QEMU 10.1 (only SEV guests were spared)",
    };
    pub const QEMU_NO_HEADER_PATCH: Change = Change {
        id: "qemu-no-header-patch-coco",
        effect: "QEMU leaves the setup header of confidential guests as the file has it",
        upstream: "QEMU a7542a38f399 (x86/loader: Don't update kernel header for CoCo VMs, QEMU 10.2.0)",
    };
    pub const QEMU_BOOT_KERNEL_FILE: Change = Change {
        id: "qemu-etc-boot-kernel",
        effect: "QEMU also serves the unpatched kernel file as fw_cfg etc/boot/kernel",
        upstream: "QEMU 10.0 (x86 direct boot: etc/boot/kernel and etc/boot/shim fw_cfg files; edk2 PR #6211/#10628)",
    };
    pub const QEMU_TWO_PASS: Change = Change {
        id: "qemu-two-pass-mrtd",
        effect: "MRTD: per TDVF section all TDH.MEM.PAGE.ADDs, then all TDH.MR.EXTENDs",
        upstream: "QEMU 8.x TDX trees (KVM_TDX_INIT_MEM_REGION before the upstream single-pass order; dstack-mr machine.rs)",
    };
    pub const QEMU_SINGLE_PASS: Change = Change {
        id: "qemu-single-pass-mrtd",
        effect: "MRTD: per page, TDH.MEM.PAGE.ADD then its 16 TDH.MR.EXTENDs",
        upstream: "upstream KVM KVM_TDX_INIT_MEM_REGION (Linux 6.16) as QEMU 9.x TDX trees and QEMU 10.1 upstream TDX use it",
    };
    pub const SPEC_EVENTS: Change = Change {
        id: "tcg-pfp",
        effect: "the event as the TCG PC Client PFP and UEFI 2.10 section 38 define it for TDVF",
        upstream: "edk2 OvmfPkg/Tcg/TdTcg2Dxe, OvmfPkg/IntelTdx/TdxHelperLib, OvmfPkg/Library/AcpiPlatformLib/QemuFwCfgAcpi.c, MdeModulePkg BDS",
    };
    pub const LINUX_STUB_CC: Change = Change {
        id: "linux-efi-stub-cc-measurement",
        effect: "the kernel's EFI stub measures its load options (the command line) and the initrd into PCR 9 (RTMR2) through the CC measurement protocol",
        upstream: "Linux 6.9 (efi/libstub: measure into the CC measurement protocol when there is no TCG2 protocol); load options tagged event since Linux 6.1",
    };
    pub const LINUX_STUB_NO_CC: Change = Change {
        id: "linux-efi-stub-no-cc",
        effect: "the kernel's EFI stub only knows the TCG2 protocol, which a TD does not have: it measures nothing, RTMR2 stays zero",
        upstream: "Linux before 6.9 (efi_measure_tagged_event: TCG2 only)",
    };
}

use changes::*;

/// What a TDVF (OvmfPkgX64 with TDX) release does, as of its first stable tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TdvfProfile {
    pub name: &'static str,
    /// The first edk2 stable tag it describes, as yyyymm.
    pub since: u32,
    /// Distribution builds known to carry it.
    pub known_as: &'static [&'static str],
    pub cc_measurement: bool,
    pub boot_vars_rtmr0: bool,
    pub separator_rtmr1: bool,
    pub named_blobs: bool,
    pub fw_cfg_events: bool,
    pub smbios_event: bool,
    pub boot_menu_app: bool,
    pub initrd_prefix: bool,
}

/// The TDVF table, oldest first. A release between two rows behaves as the older row.
pub const TDVF_PROFILES: &[TdvfProfile] = &[
    TdvfProfile {
        name: "edk2-202211",
        since: 202211,
        known_as: &["debian-12"],
        cc_measurement: false,
        boot_vars_rtmr0: false,
        separator_rtmr1: false,
        named_blobs: false,
        fw_cfg_events: false,
        smbios_event: false,
        boot_menu_app: false,
        initrd_prefix: false,
    },
    TdvfProfile {
        name: "edk2-202302",
        since: 202302,
        known_as: &["ubuntu-24.04"],
        cc_measurement: true,
        boot_vars_rtmr0: true,
        separator_rtmr1: false,
        named_blobs: false,
        fw_cfg_events: false,
        smbios_event: false,
        boot_menu_app: false,
        initrd_prefix: false,
    },
    TdvfProfile {
        name: "edk2-202411",
        since: 202411,
        known_as: &[],
        cc_measurement: true,
        boot_vars_rtmr0: true,
        separator_rtmr1: true,
        named_blobs: false,
        fw_cfg_events: false,
        smbios_event: false,
        boot_menu_app: false,
        initrd_prefix: false,
    },
    TdvfProfile {
        name: "edk2-202502",
        since: 202502,
        known_as: &["debian-13", "ubuntu-25.04"],
        cc_measurement: true,
        boot_vars_rtmr0: true,
        separator_rtmr1: true,
        named_blobs: true,
        fw_cfg_events: false,
        smbios_event: false,
        boot_menu_app: false,
        initrd_prefix: false,
    },
    TdvfProfile {
        name: "edk2-202505",
        since: 202505,
        known_as: &[],
        cc_measurement: true,
        boot_vars_rtmr0: true,
        separator_rtmr1: true,
        named_blobs: true,
        fw_cfg_events: true,
        smbios_event: true,
        boot_menu_app: true,
        initrd_prefix: false,
    },
    TdvfProfile {
        name: "edk2-202508",
        since: 202508,
        known_as: &["latest"],
        cc_measurement: true,
        boot_vars_rtmr0: true,
        separator_rtmr1: true,
        named_blobs: true,
        fw_cfg_events: true,
        smbios_event: true,
        boot_menu_app: true,
        initrd_prefix: true,
    },
];

/// The QEMU side of a TDX boot is a row of the one QEMU release table (`crate::qemu::profile`):
/// its page order (MRTD), setup-header patch and `etc/boot/kernel` decide the RTMR events here.
pub use crate::qemu::QemuProfile;

/// The QEMU changes that shape TDX events, for `--explain`.
pub fn qemu_changes(q: &QemuProfile) -> Vec<Change> {
    let mut v = vec![if q.tdx_page_order == crate::plan::PageOrder::TwoPass { QEMU_TWO_PASS } else { QEMU_SINGLE_PASS }];
    if q.boot_kernel_file {
        v.push(QEMU_BOOT_KERNEL_FILE);
    }
    v.push(if q.tdx_setup_header_patch { QEMU_HEADER_PATCH } else { QEMU_NO_HEADER_PATCH });
    v
}

/// Why a profile name is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("--tdvf {0:?}: expected edk2-YYYYMM (edk2-202502, edk2-stable202505), YYYY.MM (a Debian/Ubuntu ovmf version) or one of {names}", names = tdvf_names())]
    Tdvf(String),
    #[error("--tdvf {given:?}: edk2 releases before {first} are not modelled (no TDX measurement support in OvmfPkgX64)")]
    TdvfTooOld { given: String, first: u32 },
}

fn tdvf_names() -> String {
    let mut v: Vec<String> = TDVF_PROFILES.iter().map(|p| p.name.to_owned()).collect();
    v.extend(TDVF_PROFILES.iter().flat_map(|p| p.known_as.iter().map(|s| (*s).to_owned())));
    v.join(", ")
}

/// The newest upstream TDVF.
pub fn tdvf_latest() -> &'static TdvfProfile {
    TDVF_PROFILES.last().expect("the table is not empty")
}

/// Resolves `edk2-202502`, `edk2-stable202502`, `2025.02`, `debian-13` or `latest`.
pub fn tdvf(name: &str) -> Result<&'static TdvfProfile, ProfileError> {
    let n = name.trim().to_ascii_lowercase();
    if let Some(p) = TDVF_PROFILES.iter().find(|p| p.name == n || p.known_as.contains(&n.as_str())) {
        return Ok(p);
    }
    let digits: String =
        n.trim_start_matches("edk2-").trim_start_matches("stable").replace('.', "").chars().take_while(|c| c.is_ascii_digit()).collect();
    let release: u32 = match digits.len() {
        6 => digits.parse().map_err(|_| ProfileError::Tdvf(name.into()))?,
        _ => return Err(ProfileError::Tdvf(name.into())),
    };
    TDVF_PROFILES
        .iter()
        .rev()
        .find(|p| p.since <= release)
        .ok_or(ProfileError::TdvfTooOld { given: name.into(), first: TDVF_PROFILES[0].since })
}

/// Whether the kernel OVMF measures carries QEMU's setup-header patch, and why.
pub fn kernel_is_patched(qemu: &QemuProfile, tdvf: &TdvfProfile) -> (bool, Change) {
    if !qemu.tdx_setup_header_patch {
        return (false, QEMU_NO_HEADER_PATCH);
    }
    if qemu.boot_kernel_file && tdvf.named_blobs {
        return (false, NAMED_BLOBS);
    }
    (true, QEMU_HEADER_PATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_the_release_row() {
        assert_eq!(tdvf("debian-13").unwrap().name, "edk2-202502");
        assert_eq!(tdvf("edk2-stable202408").unwrap().name, "edk2-202302");
        assert_eq!(tdvf("2025.02").unwrap().name, "edk2-202502");
        assert_eq!(tdvf("edk2-202605").unwrap().name, "edk2-202508");
        assert_eq!(tdvf("latest").unwrap(), tdvf_latest());
        assert!(tdvf("edk2-202008").is_err() && tdvf("banana").is_err());
    }

    #[test]
    fn kernel_patch_follows_qemu_and_tdvf() {
        let d13 = tdvf("edk2-202502").unwrap();
        let old = tdvf("edk2-202411").unwrap();
        let q = |v| crate::qemu::profile::by_version(v).unwrap();
        assert!(kernel_is_patched(q("8.2"), d13).0);
        assert!(kernel_is_patched(q("10.1"), old).0);
        assert!(kernel_is_patched(q("9.2"), d13).0, "before 10.0 there is no etc/boot/kernel to load");
        assert!(!kernel_is_patched(q("10.1"), d13).0);
        assert!(!kernel_is_patched(q("10.2"), old).0);
    }
}
