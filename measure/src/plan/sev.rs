//! Plans for the AMD family: SEV, SEV-ES and SEV-SNP (optionally with a COCONUT SVSM), following
//! QEMU's populate order (target/i386/sev.c) as sev-snp-measure models it.

use super::{InputFile, LaunchPlan, Mode, OpKind, Operation, PageBytes, PlanError, SnpLaunch, Source, layout, merge};
use crate::image::{FirmwareImage, SevSectionKind};
use crate::snp::kernel_hashes::PADDED_LEN;
use crate::snp::vmsa::{self, BSP_EIP, VMSA_GPA, Vmm};
use crate::snp::{KernelHashes, PageType};

/// The default SNP guest policy (SMT allowed, reserved bit 17 set), as QEMU and sev-snp-measure use.
pub const DEFAULT_POLICY: u64 = 0x30000;

/// An SVSM launched below the firmware (`--mode snp:svsm`).
#[derive(Debug, Clone)]
pub struct Svsm<'a> {
    pub image: FirmwareImage<'a>,
    /// Size of the OVMF variable store mapped between the SVSM and the firmware.
    pub vars_size: u64,
}

/// Launch parameters for the AMD modes.
#[derive(Debug, Clone)]
pub struct AmdConfig<'a> {
    pub mode: Mode,
    pub vmm: Vmm,
    pub vcpus: u32,
    pub vcpu_sig: u32,
    /// SEV features in the VMSAs (SNP only; SEV-ES measures 0).
    pub guest_features: u64,
    pub kernel: Option<KernelHashes>,
    pub svsm: Option<Svsm<'a>>,
    pub policy: u64,
}

impl AmdConfig<'_> {
    pub fn new(mode: Mode) -> Self {
        AmdConfig { mode, vmm: Vmm::Qemu, vcpus: 1, vcpu_sig: 0, guest_features: 1, kernel: None, svsm: None, policy: DEFAULT_POLICY }
    }
}

fn unsupported(msg: String) -> PlanError {
    PlanError::Unsupported(msg)
}

/// Collects operations with labels for overlap messages.
#[derive(Default)]
struct Builder {
    ops: Vec<Operation>,
    spans: Vec<layout::Span>,
}

impl Builder {
    fn push(&mut self, op: Operation, label: String) {
        if op.len == 0 {
            return;
        }
        if !op.is_vmsa() {
            self.spans.push(layout::Span { gpa: op.gpa, len: op.len, label });
        }
        self.ops.push(op);
    }
}

/// The SNP plan of the firmware pages alone: what sev-snp-measure's `snp:ovmf-hash` digests, and the
/// prefix `--snp-ovmf-hash` resumes after.
pub fn firmware_only(fw: &FirmwareImage<'_>) -> LaunchPlan {
    let mut plan = LaunchPlan::empty(Mode::Snp);
    plan.inputs.push(InputFile { name: "firmware".into(), size: fw.len(), sha256: String::new() });
    let op = Operation::new(fw.gpa_base(), fw.len(), OpKind::Normal, Source::File { file: "firmware".into(), offset: 0 });
    let span = layout::Span { gpa: op.gpa, len: op.len, label: "firmware".into() };
    // A single span below 4 GiB always lays out.
    plan.regions = layout::regions(&[span]).unwrap_or_default();
    plan.operations.push(op);
    plan
}

/// Builds the plan for `cfg.mode` (SEV, SEV-ES or SNP).
pub fn build(fw: &FirmwareImage<'_>, cfg: &AmdConfig<'_>) -> Result<LaunchPlan, PlanError> {
    let mut plan = LaunchPlan::empty(cfg.mode);
    plan.inputs.push(InputFile { name: "firmware".into(), size: fw.len(), sha256: String::new() });
    let mut b = Builder::default();
    b.push(
        Operation::new(fw.gpa_base(), fw.len(), OpKind::Normal, Source::File { file: "firmware".into(), offset: 0 }),
        "firmware (whole image)".into(),
    );
    match cfg.mode {
        Mode::Snp => snp(fw, cfg, &mut plan, &mut b)?,
        Mode::Sev | Mode::SevEs => {
            if cfg.svsm.is_some() {
                return Err(unsupported("an SVSM can only be launched with SEV-SNP".into()));
            }
            if let Some(k) = &cfg.kernel {
                let table = fw.usable_hashes_table().ok_or_else(|| {
                    unsupported("a kernel was given, but the firmware has no usable SEV hashes table (its footer entry is missing or its GPA is 0): this build cannot measure a kernel; use an AmdSev OVMF build".into())
                })?;
                plan.pages.insert("kernel-hashes".into(), PageBytes(k.table().to_vec()));
                b.push(
                    Operation::new(table.gpa, PADDED_LEN as u64, OpKind::Normal, Source::Page { page: "kernel-hashes".into() }),
                    "kernel hashes table".into(),
                );
            }
            if cfg.mode == Mode::SevEs {
                // SEV-ES VMSAs carry no SEV features: KVM sets them only for SNP.
                vmsas(fw.sev_es_reset_eip, cfg, 0, &mut plan, &mut b, false)?;
            }
        }
        Mode::Tdx => return Err(unsupported("TDX plans are built by plan::tdx".into())),
    }
    layout::check_disjoint(&b.spans)?;
    plan.regions = layout::regions(&b.spans)?;
    plan.operations = merge::merge(b.ops);
    if cfg.mode == Mode::Snp {
        plan.snp = Some(SnpLaunch {
            vmm: cfg.vmm,
            vcpus: cfg.vcpus,
            vcpu_sig: cfg.vcpu_sig,
            guest_features: cfg.guest_features,
            policy: cfg.policy,
        });
    }
    super::check::check(&plan)?;
    Ok(plan)
}

fn snp(fw: &FirmwareImage<'_>, cfg: &AmdConfig<'_>, plan: &mut LaunchPlan, b: &mut Builder) -> Result<(), PlanError> {
    // With an SVSM, its binary sits below the variable store and its metadata replaces the firmware's.
    let (meta_img, eip) = match &cfg.svsm {
        Some(svsm) => {
            if cfg.vmm != Vmm::Qemu {
                return Err(unsupported(format!("an SVSM launch is only modelled for QEMU, not {}", cfg.vmm.name())));
            }
            if cfg.kernel.is_some() {
                return Err(unsupported(
                    "a kernel cannot be measured in an SVSM launch (the SVSM's metadata has no kernel hashes page)".into(),
                ));
            }
            let end = fw.gpa_base().checked_sub(svsm.vars_size).filter(|&e| e >= svsm.image.len()).ok_or_else(|| {
                unsupported(format!(
                    "the variable store ({:#x} bytes) and SVSM do not fit below the firmware at {:#x}",
                    svsm.vars_size,
                    fw.gpa_base()
                ))
            })?;
            let gpa = end - svsm.image.len();
            plan.inputs.push(InputFile { name: "svsm".into(), size: svsm.image.len(), sha256: String::new() });
            b.push(
                Operation::new(gpa, svsm.image.len(), OpKind::Normal, Source::File { file: "svsm".into(), offset: 0 }),
                "svsm binary".into(),
            );
            let off = svsm.image.svsm_entry_offset.ok_or_else(|| {
                unsupported("the SVSM binary has no SVSM info entry (a789a612-...) in its footer table: its entry point is unknown".into())
            })?;
            let eip = u32::try_from(gpa + off as u64)
                .map_err(|_| unsupported(format!("the SVSM entry point (base {gpa:#x} + offset {off:#x}) lies above 4 GiB")))?;
            (&svsm.image, Some(eip))
        }
        None => (fw, fw.sev_es_reset_eip),
    };
    let md = meta_img.sev_metadata.as_ref();
    let sections = md.map(|m| m.sections.as_slice()).unwrap_or(&[]);
    let mut cpuid_last = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let label = format!("SEV metadata item {i} ({})", s.kind.name().to_uppercase());
        let zero = |t: PageType| Operation::new(s.gpa, s.size, OpKind::from_page_type(t), Source::None);
        match s.kind {
            SevSectionKind::SnpSecMem => b.push(zero(if cfg.vmm == Vmm::Gce { PageType::Unmeasured } else { PageType::Zero }), label),
            SevSectionKind::SnpSecrets => b.push(Operation::new(s.gpa, 4096, OpKind::Secrets, Source::None), label),
            SevSectionKind::Cpuid => {
                let op = Operation::new(s.gpa, 4096, OpKind::Cpuid, Source::None);
                // EC2 populates the CPUID page after every other section.
                if cfg.vmm == Vmm::Ec2 { cpuid_last.push((op, label)) } else { b.push(op, label) }
            }
            SevSectionKind::SvsmCaa => b.push(zero(PageType::Zero), label),
            SevSectionKind::SnpKernelHashes => {
                match &cfg.kernel {
                    None => b.push(zero(PageType::Zero), label),
                    Some(k) => {
                        let table = fw.sev_hashes_table.ok_or_else(|| {
                        unsupported("a kernel was given, but the firmware's footer table has no SEV hashes-table entry (7255371f-...) to place it".into())
                    })?;
                        if s.size != 4096 {
                            return Err(unsupported(format!("{label}: size {:#x}; the kernel hashes page must be exactly 4 KiB", s.size)));
                        }
                        let page = k
                            .page((table.gpa & 0xfff) as usize)
                            .ok_or_else(|| unsupported(format!("the hashes table at {:#x} would cross its page boundary", table.gpa)))?;
                        plan.pages.insert("kernel-hashes".into(), PageBytes(page.to_vec()));
                        b.push(Operation::new(s.gpa, 4096, OpKind::Normal, Source::Page { page: "kernel-hashes".into() }), label);
                    }
                }
            }
        }
    }
    for (op, label) in cpuid_last {
        b.push(op, label);
    }
    if cfg.kernel.is_some() && !md.is_some_and(|m| m.has(SevSectionKind::SnpKernelHashes)) {
        return Err(unsupported(
            "a kernel was given, but the firmware's SEV metadata has no SNP_KERNEL_HASHES section: this build cannot measure a kernel under SNP; use an AmdSev OVMF build".into(),
        ));
    }
    vmsas(eip, cfg, cfg.guest_features, plan, b, cfg.svsm.is_some())
}

/// One VMSA per vCPU: the BSP starts at the reset vector, APs at the firmware's AP reset EIP.
fn vmsas(
    ap_eip: Option<u32>,
    cfg: &AmdConfig<'_>,
    features: u64,
    plan: &mut LaunchPlan,
    b: &mut Builder,
    svsm: bool,
) -> Result<(), PlanError> {
    if cfg.vcpus == 0 {
        return Ok(());
    }
    let ap_eip = ap_eip.ok_or_else(|| {
        unsupported("the firmware has no SEV-ES reset block (00f771de-...) in its footer table: the vCPUs' reset state is unknown".into())
    })?;
    let pages = if svsm {
        vec![("vmsa", vmsa::svsm_vmsa(ap_eip, cfg.vcpu_sig))]
    } else {
        let mut v = vec![("vmsa-bsp", vmsa::reset_vmsa(BSP_EIP, features, cfg.vcpu_sig, cfg.vmm))];
        if cfg.vcpus > 1 {
            if ap_eip == 0 {
                return Err(unsupported("the SEV-ES reset block holds AP reset EIP 0: APs cannot start".into()));
            }
            v.push(("vmsa-ap", vmsa::reset_vmsa(ap_eip, features, cfg.vcpu_sig, cfg.vmm)));
        }
        v
    };
    for i in 0..cfg.vcpus {
        let name = if svsm {
            "vmsa"
        } else if i == 0 {
            "vmsa-bsp"
        } else {
            "vmsa-ap"
        };
        let mut op = Operation::new(VMSA_GPA, 4096, OpKind::Vmsa, Source::Page { page: name.into() });
        op.vcpu = Some(i);
        b.push(op, String::new());
    }
    for (name, page) in pages {
        plan.pages.insert(name.into(), PageBytes(page.to_vec()));
    }
    Ok(())
}
