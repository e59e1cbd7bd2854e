//! What a QEMU command line launches, as far as the launch measurement and QEMU's acceptance go:
//! machine, CPU model, vCPU count, memory, firmware, direct-boot payload and the confidential guest
//! object. [`super::emit`] writes it, [`super::parse`] reads it back, and [`QemuLaunch::spec`] says
//! what `measure` must measure for it.

use crate::plan::{Mode, PageOrder};
use crate::snp::cpu;

use super::QemuError;
use super::profile::QemuProfile;

/// SEV feature bits QEMU can set in the VMSAs.
pub const SEV_FEATURE_SNP_ACTIVE: u64 = 1 << 0;
pub const SEV_FEATURE_DEBUG_SWAP: u64 = 1 << 5;

/// How the firmware is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firmware {
    /// `-bios FILE` (the only way for SEV-SNP and TDX).
    Bios(String),
    /// `-drive if=pflash,unit=0,readonly=on` code and, optionally, `unit=1` variables.
    Pflash { code: String, vars: Option<String> },
}

impl Firmware {
    /// The measured image.
    pub fn code(&self) -> &str {
        match self {
            Firmware::Bios(p) | Firmware::Pflash { code: p, .. } => p,
        }
    }
}

/// `sev-snp-guest`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnpGuest {
    pub policy: u64,
    pub cbitpos: u32,
    pub reduced_phys_bits: u32,
    pub kernel_hashes: bool,
    /// base64 of the 96-byte ID block.
    pub id_block: Option<String>,
    /// base64 of the 4096-byte ID auth info.
    pub id_auth: Option<String>,
    /// base64 of the 32-byte HOST_DATA.
    pub host_data: Option<String>,
    pub author_key_enabled: bool,
    pub debug_swap: bool,
}

/// `sev-guest` (SEV and SEV-ES).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SevGuest {
    pub policy: u32,
    pub cbitpos: u32,
    pub reduced_phys_bits: u32,
    pub kernel_hashes: bool,
    /// `legacy-vm-type`: `None` leaves QEMU's default.
    pub legacy_vm_type: Option<bool>,
}

/// `tdx-guest`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TdxGuest {
    pub attributes: Option<u64>,
    pub sept_ve_disable: Option<bool>,
    pub mrconfigid: Option<String>,
    pub mrowner: Option<String>,
    pub mrownerconfig: Option<String>,
}

/// The confidential guest object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guest {
    Snp(SnpGuest),
    /// SEV-ES: `sev-guest` with policy bit 2 (ES) set.
    SevEs(SevGuest),
    Sev(SevGuest),
    Tdx(TdxGuest),
}

/// `-cpu` as far as the vCPU signature goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuModel {
    pub model: String,
    /// `family=`, `model=`, `stepping=` overrides.
    pub family: Option<u32>,
    pub model_number: Option<u32>,
    pub stepping: Option<u32>,
}

impl CpuModel {
    pub fn named(model: &str) -> Self {
        CpuModel { model: model.to_owned(), family: None, model_number: None, stepping: None }
    }
}

/// A launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuLaunch {
    /// `q35`, `pc-q35-10.0`, …
    pub machine: String,
    pub cpu: CpuModel,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub firmware: Firmware,
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    pub append: Option<String>,
    pub guest: Guest,
}

/// What `measure` measures for a launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureSpec {
    pub mode: Mode,
    pub vcpus: u32,
    /// The vCPU signature (`-cpu` and its family/model/stepping overrides).
    pub vcpu_sig: u32,
    /// The `-cpu` model, when the signature is the model's own.
    pub vcpu_type: Option<String>,
    pub firmware: String,
    /// Kernel, initrd and command line enter the digest (SEV kernel hashes) only with
    /// `kernel-hashes=on`; otherwise they are loaded unmeasured.
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    pub append: Option<String>,
    pub guest_features: u64,
    pub policy: u64,
    /// SEV-ES launched through the legacy KVM_SEV_ES_INIT VM type (no synced FPU state in the VMSA).
    pub legacy_sev_es: bool,
    pub tdx_page_order: PageOrder,
}

/// The signature of a CPU model with overrides, refusing models the release does not have.
pub fn cpu_signature(c: &CpuModel, profile: &QemuProfile) -> Result<u32, QemuError> {
    if c.model == "host" || c.model == "max" {
        return Err(QemuError::Unsupported(format!(
            "-cpu {}: the vCPU signature (in every VMSA) is the host's, unknown offline; name the model",
            c.model
        )));
    }
    if !profile.knows_cpu(&c.model) {
        let hint = match QemuProfile::first_with(|p| p.knows_cpu(&c.model)) {
            Some(v) => format!("it arrived in QEMU {v}"),
            None => "prelaunch knows no signature for it (EPYC models only: the SEV-SNP VMSA carries the signature)".to_owned(),
        };
        return Err(QemuError::Unsupported(format!("-cpu {}: QEMU {} has no such CPU model; {hint}", c.model, profile.version)));
    }
    let (f, m, s) = cpu::CPU_TYPES
        .iter()
        .find(|t| t.0 == c.model)
        .map(|t| (t.1, t.2, t.3))
        .ok_or_else(|| QemuError::Unsupported(format!("-cpu {}: no signature known for this model", c.model)))?;
    Ok(cpu::signature(c.family.unwrap_or(f), c.model_number.unwrap_or(m), c.stepping.unwrap_or(s)))
}

impl QemuLaunch {
    /// What this launch measures with QEMU `profile`, refusing what that release would not launch.
    pub fn spec(&self, profile: &QemuProfile) -> Result<MeasureSpec, QemuError> {
        let unsupported = |m: String| Err(QemuError::Unsupported(m));
        let (mode, guest_features, policy, kernel_hashes, legacy) = match &self.guest {
            Guest::Snp(g) => {
                if !profile.snp {
                    return unsupported(format!("QEMU {} has no sev-snp-guest (SEV-SNP arrived in QEMU 9.1)", profile.version));
                }
                if g.debug_swap && !profile.debug_swap {
                    return unsupported(format!("sev-snp-guest debug-swap needs QEMU 10.2, not {}", profile.version));
                }
                let features = SEV_FEATURE_SNP_ACTIVE | if g.debug_swap { SEV_FEATURE_DEBUG_SWAP } else { 0 };
                (Mode::Snp, features, g.policy, g.kernel_hashes, false)
            }
            Guest::SevEs(g) | Guest::Sev(g) => {
                let es = matches!(self.guest, Guest::SevEs(_));
                if g.legacy_vm_type.is_some() && !profile.sev_init2 {
                    return unsupported(format!("sev-guest has no legacy-vm-type property before QEMU 9.1 (this is {})", profile.version));
                }
                let legacy = !profile.sev_init2 || g.legacy_vm_type == Some(true);
                (if es { Mode::SevEs } else { Mode::Sev }, 0, u64::from(g.policy), g.kernel_hashes, es && legacy)
            }
            Guest::Tdx(_) => {
                if !profile.tdx {
                    return unsupported(format!("QEMU {} has no tdx-guest (TDX arrived in QEMU 10.1)", profile.version));
                }
                (Mode::Tdx, 0, 0, false, false)
            }
        };
        if matches!(mode, Mode::Snp | Mode::Tdx) && !matches!(self.firmware, Firmware::Bios(_)) {
            return unsupported(format!("{} guests load their firmware with -bios; pflash is not measured for them by QEMU", mode.name()));
        }
        let (vcpu_sig, vcpu_type) = if mode == Mode::Sev {
            (0, None)
        } else if mode == Mode::Tdx {
            (0, Some(self.cpu.model.clone()))
        } else {
            let sig = cpu_signature(&self.cpu, profile)?;
            let own = self.cpu.family.is_none() && self.cpu.model_number.is_none() && self.cpu.stepping.is_none();
            (sig, own.then(|| self.cpu.model.clone()))
        };
        let measured = |v: &Option<String>| if kernel_hashes { v.clone() } else { None };
        Ok(MeasureSpec {
            mode,
            vcpus: self.vcpus,
            vcpu_sig,
            vcpu_type,
            firmware: self.firmware.code().to_owned(),
            kernel: measured(&self.kernel),
            initrd: measured(&self.initrd),
            append: if kernel_hashes && self.kernel.is_some() { self.append.clone() } else { None },
            guest_features,
            policy,
            legacy_sev_es: legacy,
            tdx_page_order: profile.tdx_page_order,
        })
    }
}

/// SEV-ES through the legacy KVM_SEV_ES_INIT VM type: KVM does not sync the vCPU's FPU state into
/// the VMSA (arch/x86/kvm/svm/sev.c `sev_es_sync_vmsa` syncs x87/SSE state only for VMs created with
/// KVM_SEV_INIT2's VM types), so the measured VMSAs carry x87 FCW and MXCSR as zero instead of
/// QEMU's reset values 0x37f and 0x1f80.
pub fn apply_legacy_sev_es(plan: &mut crate::plan::LaunchPlan) {
    use crate::snp::vmsa::off;
    let vmsa_pages: Vec<String> = plan
        .operations
        .iter()
        .filter(|o| o.is_vmsa())
        .filter_map(|o| match &o.source {
            crate::plan::Source::Page { page } => Some(page.clone()),
            _ => None,
        })
        .collect();
    for name in vmsa_pages {
        if let Some(p) = plan.pages.get_mut(&name) {
            for (at, len) in [(off::MXCSR, 4), (off::X87_FCW, 2)] {
                if let Some(b) = p.0.get_mut(at..at + len) {
                    b.fill(0);
                }
            }
        }
    }
}
